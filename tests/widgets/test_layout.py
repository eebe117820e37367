"""The three docks on a 1366x768 laptop screen: they scroll instead of growing, and messages wrap instead of
widening the dock and shrinking napari's canvas."""

from __future__ import annotations

import pytest

napari = pytest.importorskip("napari")

from qtpy.QtWidgets import QApplication, QScrollArea  # noqa: E402
from superqt import QCollapsible  # noqa: E402

from napari_deblur.widgets._layout import LAPTOP_SCREEN  # noqa: E402
from napari_deblur.widgets.deblur import DeblurWidget  # noqa: E402
from napari_deblur.widgets.synth import SynthesizeBlurWidget  # noqa: E402
from napari_deblur.widgets.train import TrainWidget  # noqa: E402

pytestmark = pytest.mark.gui
MAX_DOCK_WIDTH = 450  # of 1366 px: napari keeps a canvas of at least 600 px beside its own layer list


@pytest.mark.parametrize("widget_class", [DeblurWidget, SynthesizeBlurWidget, TrainWidget])
def test_dock_fits_a_laptop_screen(make_napari_viewer, widget_class):
    viewer = make_napari_viewer(show=True)
    window = viewer.window._qt_window
    window.resize(*LAPTOP_SCREEN)
    widget = widget_class(viewer)
    dock = viewer.window.add_dock_widget(widget, area="right")
    for box in widget.native.findChildren(QCollapsible):
        box.expand(animate=False)  # the Advanced section open: the tallest form
    for _ in range(3):  # the dock settles its width over a few layout passes
        QApplication.processEvents()
    canvas = viewer.window._qt_viewer.canvas.native
    width_before = canvas.width()
    assert isinstance(dock.widget(), QScrollArea)  # napari docked the scroll area, not the bare form
    assert window.height() <= LAPTOP_SCREEN[1] and dock.height() <= LAPTOP_SCREEN[1]
    assert dock.width() <= MAX_DOCK_WIDTH, dock.width()

    widget.status.value = "A long message about what went wrong and how to fix it, " * 8
    for _ in range(3):
        QApplication.processEvents()
    assert dock.width() <= MAX_DOCK_WIDTH, dock.width()
    assert canvas.width() >= width_before - 5 and canvas.width() >= 600  # the canvas keeps its room
