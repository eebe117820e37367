"""Layers in and out of the docks: which ones they pick by default (what the user is looking at, a layer that looks
like a PSF), the axes a layer's data most likely has, and how a result layer is described.

A widget that opens on a hidden ground truth and no PSF, although a kernel is loaded, fails on its first Run.
These rules choose instead: the selected image layer, else the topmost visible one, never a PSF-like layer as
the image; and as PSF the layer that is named or shaped like one.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from napari_deblur.io import grey_psf

PSF_NAME = re.compile(r"psf|kernel|point.?spread", re.IGNORECASE)
PSF_MAX_SIDE = 128  # a PSF or blur kernel this small beside an image ten times larger


def image_layers(viewer: Any, *, leave_out: str = "") -> list[Any]:
    """The viewer's image layers, bottom to top (without the one named ``leave_out``, e.g. a preview)."""
    from napari.layers import Image

    return [layer for layer in viewer.layers if isinstance(layer, Image) and layer.name != leave_out]


def looks_like_psf(layer: Any, image_layers: list[Any]) -> bool:
    """Named like a PSF/kernel, or small (every side <= 128 px) beside an image at least 4x larger."""
    if PSF_NAME.search(layer.name):
        return True
    if getattr(layer, "rgb", False):
        return False
    shape = layer.data.shape
    largest = max((max(other.data.shape) for other in image_layers if other is not layer), default=0)
    return max(shape) <= PSF_MAX_SIDE and largest >= 4 * max(shape)


def preferred_image(viewer: Any, image_layers: list[Any]) -> Any | None:
    """The selected image layer, else the topmost visible one, else the topmost, skipping PSF-like layers."""
    images = [layer for layer in image_layers if not looks_like_psf(layer, image_layers)] or image_layers
    active = viewer.layers.selection.active
    if active in images:
        return active
    visible = [layer for layer in images if layer.visible]
    return (visible or images or [None])[-1]  # the layer list draws its last layer on top


def preferred_psf(image_layers: list[Any], image: Any | None) -> Any | None:
    """The topmost PSF-like layer other than ``image``, or ``None``."""
    candidates = [layer for layer in image_layers if layer is not image and looks_like_psf(layer, image_layers)]
    return candidates[-1] if candidates else None


def check_image_layer(layer: Any, role: str = "image") -> None:
    from napari.layers import Image

    if not isinstance(layer, Image):
        kind = type(layer).__name__
        raise TypeError(f"The {role} layer {getattr(layer, 'name', layer)!r} is a {kind} layer; "
                        "choose an Image layer.")


def layer_psf(layer: Any) -> np.ndarray:
    """The PSF held by an image layer; an RGB layer's colours are averaged, as for a colour PSF file."""
    check_image_layer(layer, "PSF")
    return grey_psf(layer.data) if layer.rgb else np.asarray(layer.data)


def guess_axes(layer: Any) -> str:
    """Axes for a layer: RGB layers end in C; otherwise the common microscopy orders."""
    if layer.rgb:
        return {3: "YXC", 4: "ZYXC", 5: "TZYXC"}.get(layer.data.ndim, "")
    labels = [str(a).upper() for a in getattr(layer, "axis_labels", ())]
    if len(labels) == layer.data.ndim and all(a in "TCZYX" and len(a) == 1 for a in labels) \
            and len(set(labels)) == len(labels):
        return "".join(labels)
    return {2: "YX", 3: "ZYX", 4: "TZYX", 5: "TCZYX"}.get(layer.data.ndim, "")


def output_layer_kwargs(layer: Any, method: str, params: dict[str, Any], axes: str) -> dict[str, Any]:
    """Name, geometry and provenance of the result layer (pixel size and position kept)."""
    return {
        "name": f"{layer.name} deblurred ({method})",
        "scale": layer.scale,
        "translate": layer.translate,
        "colormap": layer.colormap.name if not layer.rgb else None,
        "rgb": layer.rgb,
        "blending": layer.blending,
        "metadata": {"napari_deblur": {"method": method, "params": params, "source": layer.name,
                                        "axes": axes}},
    }
