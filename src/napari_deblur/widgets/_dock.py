"""What the three docks share: their viewer, a status line that also reports errors, the viewer's image layers as
choices, and a worker that runs one job at a time."""

from __future__ import annotations

from typing import Any

from napari_deblur.widgets._layers import image_layers
from napari_deblur.widgets._layout import DockForm


class Dock(DockForm):
    """A dock of the plugin. Subclasses set ``status`` (a Label) among their fields."""

    #: A layer of the dock's own making that is never offered as an input (the training dock's preview).
    own_layer = ""

    def __init__(self, viewer: Any) -> None:
        super().__init__()
        self.viewer = viewer
        self._worker = None  # the running job, if any

    def _image_layers(self, _widget: Any = None) -> list:
        """The viewer's image layers, for a drop-down's choices."""
        return image_layers(self.viewer, leave_out=self.own_layer)

    def _show_error(self, err: BaseException) -> None:
        """The error in the status line and as a napari notification."""
        from napari.utils.notifications import show_error

        self.status.value = f"Error: {err}"
        show_error(f"napari-deblur: {err}")
