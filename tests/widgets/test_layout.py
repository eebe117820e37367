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
    # napari docked the scroll area (with the footer under it), not the bare form
    assert dock.widget() is widget.native and widget.root_native_widget.parentWidget() is widget.native
    assert isinstance(widget.root_native_widget, QScrollArea) and dock.inner_widget() is widget
    assert window.height() <= LAPTOP_SCREEN[1] and dock.height() <= LAPTOP_SCREEN[1]
    assert dock.width() <= MAX_DOCK_WIDTH, dock.width()

    widget.status.value = "A long message about what went wrong and how to fix it, " * 8
    for _ in range(3):
        QApplication.processEvents()
    assert dock.width() <= MAX_DOCK_WIDTH, dock.width()
    assert canvas.width() >= width_before - 5 and canvas.width() >= 600  # the canvas keeps its room


# Per dock: the fields that start, stop and report a run; each must be on screen whatever the form's length.
CONTROLS = {
    DeblurWidget: ("run_button", "cancel_button", "progress", "status"),
    SynthesizeBlurWidget: ("apply_button", "variants_button", "status"),
    TrainWidget: ("start_button", "stop_button", "resume_button", "progress", "status"),
}


@pytest.mark.parametrize("widget_class", list(CONTROLS))
def test_run_cancel_and_progress_stay_in_view(make_napari_viewer, widget_class):
    """On a 768-px-high screen the form scrolls, but Run / Cancel / progress / status sit below it, unclipped,
    also with a long message in the status line."""
    viewer = make_napari_viewer(show=True)
    window = viewer.window._qt_window
    window.resize(*LAPTOP_SCREEN)
    widget = widget_class(viewer)
    viewer.window.add_dock_widget(widget, area="right")
    for box in widget.native.findChildren(QCollapsible):
        box.expand(animate=False)  # the tallest form
    for message in ("Running...", "A long message about what went wrong and how to fix it. " * 4):
        widget.status.value = message
        for _ in range(3):
            QApplication.processEvents()
        assert window.height() <= LAPTOP_SCREEN[1]
        for name in CONTROLS[widget_class]:
            _assert_in_sight(getattr(widget, name).native, name)


def _assert_in_sight(control, name: str) -> None:
    """Walk up to the window: at each step the control's rectangle, in the parent's coordinates, must lie inside
    the parent (a scroll area's viewport, the dock, the window), or part of it is out of sight."""
    assert control.isVisible(), name
    rect, child = control.rect(), control
    while child.parentWidget() is not None:
        parent = child.parentWidget()
        rect = rect.translated(child.pos())
        assert not isinstance(parent, QScrollArea), f"{name} scrolls with the form"
        assert parent.rect().contains(rect), f"{name} at {rect} is cut off by {type(parent).__name__}"
        child = parent
