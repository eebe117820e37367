"""``synthesize_blur(image, kind="learned", model=...)``: blur made by a trained blur generator (zoo/bgan.py)
instead of a kernel, so the result looks like the real blurred images the generator learned from. It lives with
the networks and registers itself with blur synthesis (``synth.synthesize.register_image_blur``), which knows no
network.

The image goes through the same axes and intensity handling as every other kind: each plane (each colour
channel, for a one-channel generator) is mapped to [0, 1], blurred with its own noise map (seeded ``seed + i``
for plane ``i``: the same seed gives the same blur), and mapped back to the input's range and dtype.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from napari_deblur.colour import is_colour
from napari_deblur.restore.axes import from_planes, layout, resolve_axes, to_planes
from napari_deblur.restore.checks import check_image
from napari_deblur.restore.intensity import intensity_map, restore_dtype
from napari_deblur.synth.synthesize import register_image_blur
from napari_deblur.zoo.bgan import load_blur_generator

LEARNED = "learned"


def learned_blur(image: Any, model: str = "", *, seed: int | None = None, axes: str | None = None,
                 rgb: bool | None = None, output_dtype: str = "same") -> np.ndarray:
    """``image`` blurred by the trained blur generator ``model`` (name or .safetensors path)."""
    if not model:
        raise ValueError("kind='learned' needs model=: the name or .safetensors path of a trained blur generator "
                         "(napari-deblur train --model bgan ...).")
    generator = load_blur_generator(model)
    arr = check_image(image)
    axes = resolve_axes(arr.shape, axes, rgb, None)
    joint = generator.in_channels == 3 and is_colour(arr.shape, axes=axes)
    source = arr[..., :3] if joint else arr  # a colour generator sees RGB together; alpha passes through
    lay = layout(axes, source.shape, 2)
    planes = to_planes(source, lay)
    imap = intensity_map(planes, None)
    work = imap.forward(planes)
    # (B*3, H, W) -> (B, 3, H, W) for a colour generator, else one channel per plane.
    work = work.reshape(-1, 3, *work.shape[-2:]) if joint else work[:, None]
    with torch.no_grad():
        out = np.stack([generator(torch.from_numpy(x[None]), seed=None if seed is None else int(seed) + i)[0].numpy()
                        for i, x in enumerate(work)])
    blurred = from_planes(imap.inverse(out.reshape(planes.shape)), lay, source.shape)
    if joint:
        result = arr.astype(np.float32).copy()
        result[..., :3] = blurred
    else:
        result = blurred
    return restore_dtype(result, arr.dtype, output_dtype)


register_image_blur(LEARNED, learned_blur)
