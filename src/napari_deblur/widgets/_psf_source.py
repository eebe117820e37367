"""Where the Deblur dock's PSF comes from: an image layer, or the microscope's optics at the image's pixel size.

With "widefield" or "confocal" the optics fields are the blur kinds' parameters (one description, as in the
*Synthesize blur* dock), the pixel size and z-step are read from the image layer's scale when napari knows it,
and *Add PSF layer* shows the PSF that Run will use.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from magicgui.widgets import ComboBox, PushButton

from napari_deblur.psfs import OPTICS_KINDS, psf_for_image
from napari_deblur.synth.kinds import get_kind
from napari_deblur.widgets._params import ParamPanel

LAYER = "a layer"
SOURCES = (LAYER, *OPTICS_KINDS)
#: Lengths napari may report for a layer's axes, in micrometres (the optics' unit).
_UM_PER_UNIT = {"nanometer": 1e-3, "micrometer": 1.0, "micron": 1.0, "millimeter": 1e3}


def scale_in_um(layer: Any) -> tuple[float, ...] | None:
    """The layer's pixel sizes in µm, last axes last; ``None`` when napari has no scale for it (all ones) or its
    unit is not a length."""
    scale = tuple(float(s) for s in layer.scale)
    if all(s == 1.0 for s in scale):
        return None
    units = [str(u) for u in (getattr(layer, "units", None) or ())]
    if not units or all(u in ("pixel", "") for u in units):
        return scale  # napari keeps no unit: a microscopy reader's scale is in µm
    factors = [_UM_PER_UNIT.get(u) for u in units]
    if any(f is None for f in factors[-len(scale):]):
        return None
    return tuple(s * f for s, f in zip(scale, factors[-len(scale):]))


class PsfSource:
    """The PSF fields of the Deblur dock: a source choice, the optics panel, and *Add PSF layer*."""

    def __init__(self, viewer: Any, layer_choice: ComboBox, image: Callable[[], tuple[Any, str | None]]) -> None:
        """``layer_choice``: the dock's PSF layer field; ``image()``: the dock's image layer and its axes."""
        self.viewer, self.layer, self.image = viewer, layer_choice, image
        self.source = ComboBox(label="PSF from", choices=SOURCES, value=LAYER,
                               tooltip="An image layer holding the PSF, or a microscope whose PSF is generated "
                                       "from its optics at the image layer's pixel size.")
        self.optics = ParamPanel()
        self.add_button = PushButton(text="Add PSF layer")
        self.add_button.clicked.connect(self.add_layer)
        self.source.changed.connect(self._on_source_changed)

    def set_visible(self, needed: bool) -> None:
        """Show the fields only for methods that need a PSF."""
        from_optics = self.source.value in OPTICS_KINDS
        self.source.visible = needed
        self.layer.visible = needed and not from_optics
        self.optics.basic.visible = self.add_button.visible = needed and from_optics
        if self.optics.box is not None:
            self.optics.box.setVisible(needed and from_optics and len(self.optics.advanced) > 0)

    def _on_source_changed(self, source: str) -> None:
        if source in OPTICS_KINDS:
            values = self.optics.values() if len(self.optics.widgets()) else {}
            self.optics.show(get_kind(source).params, values)
        self.set_visible(True)

    def follow_image(self, layer: Any) -> None:
        """Take pixel size and z-step from the image layer's scale, where napari knows them."""
        scale = scale_in_um(layer) if layer is not None else None
        if scale is None or not len(self.optics.widgets()):
            return
        fields = {w.name: w for w in self.optics.widgets()}
        fields["pixel_size"].value = scale[-1]
        if len(scale) >= 3 and not layer.rgb:
            fields["z_step"].value = scale[-3]

    def psf_for(self, image: Any, axes: str | None) -> np.ndarray:
        """The PSF for deblurring ``image`` (an image layer) with these ``axes``."""
        from napari_deblur.widgets.deblur import layer_psf

        if self.source.value not in OPTICS_KINDS:
            if self.layer.value is None:
                raise ValueError("This method needs a PSF: choose a PSF layer, or 'PSF from' a microscope.")
            return layer_psf(self.layer.value)
        return psf_for_image(self.source.value, image.data.shape, axes, image.rgb or None, self.optics.values())[0]

    def add_layer(self) -> Any:
        """Add the PSF generated for the dock's image as a layer, at the image's pixel size."""
        image, axes = self.image()
        if image is None:
            raise ValueError("Choose an image layer first: the PSF is made for its size and pixel size.")
        psf = self.psf_for(image, axes)
        return self.viewer.add_image(psf, name=f"PSF ({self.source.value})", scale=tuple(image.scale[-psf.ndim:]),
                                     colormap="magma")
