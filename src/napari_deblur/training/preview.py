"""The user's preview: the network being trained, run on one image the user chose, at every validation.

Validation numbers say whether training helps on held-out data; this preview shows it on the user's own image
(in the widget, the layer picked under "preview on"), so they can stop as soon as it looks good enough. Only a
centre crop is deblurred, so a preview costs about a second even on a CPU.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from napari_deblur.training.files import load_planes, normalize

PREVIEW_SIDE = 384  # crop side: large enough to judge sharpness, small enough for a CPU at every validation
ALIGN = 16  # every zoo network accepts sides that are multiples of its total downsampling (at most 16)


@dataclass
class PreviewInput:
    """The crop to deblur, (C, H, W) float32 in [0, 1], and where its top-left corner lies in the image."""

    pixels: torch.Tensor
    offset: tuple[int, int]


def load_preview_input(path: str | Path, side: int = PREVIEW_SIDE) -> PreviewInput:
    """The first 2D plane of the image at ``path``, normalized like training data, centre-cropped.

    The crop sides are multiples of 16 (mirrored out to 16 for tinier images), so every family runs on it.
    """
    planes, low, high = load_planes(Path(path))
    plane = normalize(planes[0], low, high)
    h, w = plane.shape[-2:]
    ch, cw = (max(ALIGN, min(side, n) // ALIGN * ALIGN) for n in (h, w))
    y, x = max(0, (h - ch) // 2), max(0, (w - cw) // 2)
    crop = plane[:, y:y + ch, x:x + cw]
    if crop.shape[-2:] != (ch, cw):  # smaller than 16 pixels: mirrored out
        crop = np.pad(crop, ((0, 0), (0, ch - crop.shape[1]), (0, cw - crop.shape[2])), mode="symmetric")
    return PreviewInput(torch.from_numpy(np.ascontiguousarray(crop)), (y, x))


@torch.no_grad()
def run_preview(net: nn.Module, preview: PreviewInput, in_channels: int) -> np.ndarray:
    """The network's output on the crop: (H, W) for a grey image, (H, W, 3) for a colour one, in [0, 1].

    A one-channel network deblurs colour channel by channel (as the deblurring engine does).
    """
    x = preview.pixels
    colours = x.shape[0]
    if in_channels == 1:
        batch = x[:, None]  # channels as the batch
    else:
        batch = (x.expand(3, -1, -1) if colours == 1 else x[:3])[None]
    param = next(net.parameters())
    out = net(batch.to(param.device, param.dtype)).float().clamp(0, 1).cpu()
    out = out[:, 0] if in_channels == 1 else out[0]
    if colours == 1:
        return out.mean(0).numpy()
    return np.moveaxis(out[:3].numpy(), 0, -1)
