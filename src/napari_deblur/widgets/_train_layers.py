"""Layers in and out of the training widget: layers written as training files, previews shown as a layer.

The training subprocess reads files, not napari layers, so the chosen layers are written to a temporary folder
when Start is pressed; what it writes back (validation pictures, the preview on the user's layer) is shown in
one "training preview" layer that is updated in place.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from napari_deblur.colour import is_colour
from napari_deblur.training.events import Validation
from napari_deblur.widgets._layers import check_image_layer, guess_axes

PREVIEW_LAYER = "training preview"


def layer_planes(layer: Any) -> list[np.ndarray]:
    """A layer's 2D images: the image itself (YX or RGB), or each plane of a stack (e.g. N blur variants)."""
    check_image_layer(layer)
    data = np.asarray(layer.data)
    planes = 3 if layer.rgb else 2
    return [data] if data.ndim == planes else list(data.reshape(-1, *data.shape[-planes:]))


def current_plane(layer: Any, viewer: Any) -> np.ndarray:
    """The 2D image (YX, or YX + colour) of ``layer`` that the viewer shows now (the current z / t / ...)."""
    check_image_layer(layer)
    spatial = layer.ndim - 2  # napari's layer.ndim leaves out an RGB layer's colour axis
    if spatial <= 0:
        return np.asarray(layer.data)
    coords = layer.world_to_data(viewer.dims.point)
    index = tuple(int(np.clip(round(float(c)), 0, n - 1)) for c, n in zip(coords[:spatial], layer.data.shape))
    return np.asarray(layer.data[index])


def write_layer_sources(blurred: Any, sharp: Any, paired: bool) -> Path:
    """Write the chosen layers as training files: a pairs folder (``paired``) or a sharp-images folder."""
    from napari_deblur.io import write_image
    from napari_deblur.training.data import layer_pairs_to_folder

    if sharp is None or (paired and blurred is None):
        raise ValueError("Choose the image layers first (open or make them, e.g. with 'Synthesize blur').")
    folder = Path(tempfile.mkdtemp(prefix="napari-deblur-layers-"))
    if not paired:
        check_image_layer(sharp, "sharp")
        write_image(folder / "sharp.tif", np.asarray(sharp.data), axes=guess_axes(sharp) or None)
        return folder
    blurred_planes, sharp_planes = layer_planes(blurred), layer_planes(sharp)
    # N blurred variants of one sharp image (the Synthesize-blur widget's "Make N variants") pair with it.
    if len(sharp_planes) == 1:
        sharp_planes = sharp_planes * len(blurred_planes)
    return Path(layer_pairs_to_folder(blurred_planes, sharp_planes, folder))


def write_preview_source(layer: Any, viewer: Any) -> Path:
    """The layer's current plane as a TIFF for the training process to deblur at every validation."""
    from napari_deblur.io import write_image

    plane = current_plane(layer, viewer)
    path = Path(tempfile.mkdtemp(prefix="napari-deblur-preview-")) / "preview.tif"
    return write_image(path, plane, "YXC" if layer.rgb else "YX")


def show_preview(viewer: Any, event: Validation, source: Any = None) -> None:
    """Show a validation event's picture in the preview layer.

    With ``source`` (the layer chosen under "preview on") and an output in the event, the model's output on
    that layer is placed over the crop it came from; otherwise the blurred | output | sharp validation strip.
    """
    import imageio.v3 as iio

    output = event.preview_output
    path = output if output and source is not None else event.preview
    if not path or not Path(path).is_file():
        return
    image = np.asarray(iio.imread(path))
    rgb = is_colour(image.shape)
    scale, translate = (1.0, 1.0), (0.0, 0.0)
    if path == output:
        scale = tuple(source.scale[-2:])
        offset = event.preview_offset
        translate = tuple(t + o * s for t, o, s in zip(source.translate[-2:], offset, scale))
    if PREVIEW_LAYER in viewer.layers:
        layer = viewer.layers[PREVIEW_LAYER]
        if layer.rgb == rgb and layer.data.ndim == image.ndim:
            layer.data, layer.scale, layer.translate = image, scale, translate
            if not rgb:
                layer.reset_contrast_limits()  # a uint8 strip and a [0, 1] output need different limits
            return
        viewer.layers.remove(layer)  # switched between grey and colour: a new layer
    viewer.add_image(image, name=PREVIEW_LAYER, rgb=rgb, scale=scale, translate=translate)
