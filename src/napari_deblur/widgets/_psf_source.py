"""Where the Deblur dock's PSF comes from: an image layer, the microscope's optics, a bead image, or the blurred
image itself.

With "widefield" or "confocal" the optics fields are the blur kinds' parameters (one description, as in the
*Synthesize blur* dock), the pixel size and z-step are read from the image layer's scale when napari knows it,
and *Add PSF layer* shows the PSF that Run will use. With "beads" a bead image (and, optionally, points placed on
beads) is measured into a PSF layer, the beads used are marked, and that layer becomes the PSF. With "estimate" the
blur kernel of the image layer's current plane is estimated (experimental) into a kernel layer, which becomes the PSF.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

import numpy as np
from magicgui.widgets import ComboBox, Label, PushButton, SpinBox

from napari_deblur.psfs import ESTIMATE as ESTIMATE_NAME
from napari_deblur.psfs import ESTIMATE_PARAMS, OPTICS_KINDS, BeadPSF, psf_for_image, psf_from_beads
from napari_deblur.psfs.estimate import estimate_kernel_steps
from napari_deblur.psfs.named import plane_for_estimate
from napari_deblur.restore.engine import Progress, drain
from napari_deblur.synth.kinds import get_kind
from napari_deblur.widgets._layers import image_layers, layer_psf
from napari_deblur.widgets._params import ParamPanel

LAYER, BEADS, ESTIMATE = "a layer", "beads (measure)", "estimate (from image)"
SOURCES = (LAYER, *OPTICS_KINDS, BEADS, ESTIMATE)
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
        # The blind default (no PSF at hand): the kernel estimated from the image itself, as in the API and CLI.
        self.source = ComboBox(label="PSF from", choices=SOURCES, value=ESTIMATE,
                               tooltip="An image layer holding the PSF, a microscope whose PSF is generated from "
                                       "its optics at the image layer's pixel size, beads, or the blurred image "
                                       "itself (the kernel is estimated when Run starts).")
        self.optics = ParamPanel()
        # Where the optics' sampling comes from: never a default the user did not see (issue 30).
        self.sampling = Label(value="")
        self.add_button = PushButton(text="Add PSF layer")
        self.bead_image = ComboBox(label="bead image", choices=lambda _w: image_layers(viewer),
                                   tooltip="An image of isolated sub-resolution beads (2D or 3D).")
        self.bead_points = ComboBox(label="bead points", nullable=True, choices=self._points_layers,
                                    tooltip="Optional: a points layer marking the beads to use; blank = find them.")
        self.measure_button = PushButton(text="Measure PSF from beads")
        size = ESTIMATE_PARAMS[0]
        self.kernel_size = SpinBox(label="kernel size", value=size.default, min=size.min, max=size.max, step=2,
                                   tooltip=size.help)
        self.estimate_button = PushButton(text="Estimate kernel from image")
        self.source.changed.connect(self._on_source_changed)

    def fields(self) -> list[Any]:
        """The fields below *PSF from*, in form order (the dock places the layer choice and the optics box)."""
        return [self.optics.basic, self.sampling, self.add_button, self.bead_image, self.bead_points,
                self.measure_button, self.kernel_size, self.estimate_button]

    def _points_layers(self, _widget: Any = None) -> list[Any]:
        from napari.layers import Points

        return [layer for layer in self.viewer.layers if isinstance(layer, Points)]

    def refresh(self) -> None:
        self.bead_image.reset_choices()
        self.bead_points.reset_choices()

    def set_visible(self, needed: bool) -> None:
        """Show the fields of the chosen source, and only for methods that need a PSF."""
        source = self.source.value
        self.source.visible = needed
        self.layer.visible = needed and source == LAYER
        self.optics.basic.visible = self.add_button.visible = self.sampling.visible = needed and source in OPTICS_KINDS
        if self.optics.box is not None:
            self.optics.box.setVisible(needed and source in OPTICS_KINDS and len(self.optics.advanced) > 0)
        for field in (self.bead_image, self.bead_points, self.measure_button):
            field.visible = needed and source == BEADS
        self.kernel_size.visible = self.estimate_button.visible = needed and source == ESTIMATE

    def _on_source_changed(self, source: str) -> None:
        if source in OPTICS_KINDS:
            values = self.optics.values() if len(self.optics.widgets()) else {}
            self.optics.show(get_kind(source).params, values)
            self.follow_image(self.image()[0])
        self.set_visible(True)

    def follow_image(self, layer: Any) -> None:
        """Take pixel size and z-step from the image layer's scale, where napari knows them."""
        scale = scale_in_um(layer) if layer is not None else None
        if not len(self.optics.widgets()):
            return
        if scale is None:
            self.sampling.value = ("The image layer carries no pixel size: set pixel size (and z step) to its "
                                   "sampling in the sample, in µm.")
            return
        fields = {w.name: w for w in self.optics.widgets()}
        fields["pixel_size"].value = scale[-1]
        stack = len(scale) >= 3 and not layer.rgb
        if stack:
            fields["z_step"].value = scale[-3]
        self.sampling.value = "Pixel size" + (" and z step" if stack else "") + " from the image layer's scale."

    def psf_for(self, image: Any, axes: str | None) -> np.ndarray | str:
        """The PSF for deblurring ``image`` (an image layer) with these ``axes``, or ``"estimate"``."""
        if self.source.value == BEADS:
            raise ValueError("Measure the PSF from the beads first (it then becomes the PSF layer).")
        if self.source.value == ESTIMATE:
            return ESTIMATE_NAME  # estimated by the dock's Run, in its worker, from the plane on screen
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

    def measure_beads(self) -> BeadPSF:
        """Measure the PSF from the bead image; add it as the PSF layer (chosen at once) and mark the beads used."""
        beads = self.bead_image.value
        if beads is None:
            raise ValueError("Choose the bead image first.")
        data = np.asarray(beads.data)
        if beads.rgb:
            data = data[..., :3].mean(-1)
        points = None
        marks = self.bead_points.value
        if marks is not None:  # the marks' world positions, in the bead image's pixels
            points = np.asarray([beads.world_to_data(marks.data_to_world(p)) for p in marks.data])
        result = psf_from_beads(data, points=points)
        ndim = result.psf.ndim
        layer = self.viewer.add_image(result.psf, name="PSF (beads)", scale=tuple(beads.scale[-ndim:]),
                                      colormap="magma")
        if len(result.used):
            self.viewer.add_points(result.used, name="beads used", scale=tuple(beads.scale[-ndim:]),
                                   translate=tuple(beads.translate[-ndim:]), face_color="transparent",
                                   border_color="lime", size=max(result.psf.shape[-1] // 2, 3))
        self._use(layer)
        return result

    def plane(self, image: Any, axes: str | None) -> tuple[np.ndarray, str | None]:
        """The plane of ``image`` a kernel is estimated from: the one on screen for stacks (the viewer's position
        in the other axes), with its axes."""
        data = image.data
        leading = image.ndim - 2
        if leading:
            point = image.world_to_data(self.viewer.dims.point[-image.ndim:])
            index = tuple(int(np.clip(round(p), 0, n - 1)) for p, n in zip(point[:leading], image.data.shape))
            data, axes = data[index], None
        return np.asarray(data), axes

    def estimate_steps(self, plane: np.ndarray, axes: str | None, rgb: bool) -> Generator[Progress, None, np.ndarray]:
        """Progress while estimating the kernel of ``plane`` (from :meth:`plane`); returns the kernel. Safe to run
        in a worker thread: it touches no widget."""
        size = int(self.kernel_size.value)
        return (yield from estimate_kernel_steps(plane_for_estimate(plane, axes, rgb), size))

    def estimate(self) -> Any:
        """Estimate the blur kernel of the image layer's current plane; add it as the PSF layer (chosen at once)."""
        image, axes = self.image()
        if image is None:
            raise ValueError("Choose the blurred image layer first.")
        plane, axes = self.plane(image, axes)
        kernel = drain(self.estimate_steps(plane, axes, image.rgb))
        layer = self.add_kernel_layer(kernel, image)
        self._use(layer)
        return layer

    def add_kernel_layer(self, kernel: np.ndarray, image: Any) -> Any:
        """Show an estimated kernel as a layer, at the image's pixel size."""
        return self.viewer.add_image(kernel, name="PSF (estimated)", scale=tuple(image.scale[-2:]), colormap="magma")

    def _use(self, layer: Any) -> None:
        """Make ``layer`` the dock's PSF."""
        self.layer.reset_choices()
        self.layer.value = layer
        self.use_layer()

    def use_layer(self) -> None:
        """Take the PSF from the chosen layer."""
        self.source.value = LAYER
