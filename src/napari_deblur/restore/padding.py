"""Reflective padding of torch tensors by any amount: for FFT borders (classical.py) and tile margins (tiling.py)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def reflect_pad(x: torch.Tensor, pads: list[tuple[int, int]]) -> torch.Tensor:
    """Pad the trailing spatial axes of ``x`` by reflection, any amount (repeats when pad >= size)."""
    for axis_from_end, (before, after) in enumerate(reversed(pads), start=1):
        dim = x.ndim - axis_from_end
        while before > 0 or after > 0:
            size = x.shape[dim]
            b, a = min(before, size - 1), min(after, size - 1)
            if size == 1:  # nothing to reflect: repeat the single pixel
                b, a = before, after
            x = _pad_axis(x, dim, b, a, "replicate" if size == 1 else "reflect")
            before, after = before - b, after - a
    return x


def _pad_axis(x: torch.Tensor, dim: int, before: int, after: int, mode: str) -> torch.Tensor:
    # F.pad's reflect mode works on the last axes of 3-5D tensors; move the axis last and use a 3D view.
    moved = x.movedim(dim, -1)
    shape = moved.shape
    flat = moved.reshape(-1, 1, shape[-1])
    padded = F.pad(flat, (before, after), mode=mode)
    return padded.reshape(*shape[:-1], padded.shape[-1]).movedim(-1, dim)
