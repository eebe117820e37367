"""Overlapping tiles with feathered blending, so any image fits in memory without visible seams.

Tiles overlap by ``overlap`` pixels; each tile's contribution is weighted by a raised-cosine ramp across the
overlap (never across the image border), and the weighted sum is divided by the summed weights. Uniform
averaging would leave seams where tile-border artefacts meet; the ramp hides them. Tiles of equal shape
are batched, and each batch is reflect-padded to the method's size multiple and cropped back.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from napari_deblur.restore.classical import reflect_pad


@dataclass(frozen=True)
class TilePlan:
    """Tile starts per axis and the common tile shape for one spatial shape."""

    shape: tuple[int, ...]
    tile: tuple[int, ...]
    overlap: tuple[int, ...]
    starts: tuple[tuple[int, ...], ...]

    @property
    def count(self) -> int:
        return math.prod(len(s) for s in self.starts)

    def positions(self) -> list[tuple[int, ...]]:
        return list(itertools.product(*self.starts))


def plan_tiles(shape: Sequence[int], tile_size: int | None, overlap: int) -> TilePlan:
    """Cut ``shape`` into tiles of ``tile_size`` (``None``: one tile) overlapping by at least ``overlap``."""
    shape = tuple(int(s) for s in shape)
    if tile_size is None:
        return TilePlan(shape, shape, (0,) * len(shape), tuple((0,) for _ in shape))
    tile = tuple(min(int(tile_size), s) for s in shape)
    overlaps = tuple(min(overlap, t // 2) if t < s else 0 for t, s in zip(tile, shape))
    starts = []
    for s, t, o in zip(shape, tile, overlaps):
        if t >= s:
            starts.append((0,))
            continue
        stride = t - o
        n = math.ceil((s - t) / stride) + 1
        # Spread the tiles evenly so every overlap is at least ``o`` and the last tile ends at the border.
        starts.append(tuple(round(i * (s - t) / (n - 1)) for i in range(n)))
    return TilePlan(shape, tile, overlaps, tuple(starts))


def _ramp(length: int, width: int, ramp_before: bool, ramp_after: bool) -> np.ndarray:
    w = np.ones(length, dtype=np.float32)
    if width <= 0:
        return w
    # Raised cosine that never reaches 0, so every pixel has positive total weight.
    ramp = (0.5 - 0.5 * np.cos(np.pi * (np.arange(width) + 0.5) / width)).astype(np.float32)
    if ramp_before:
        w[:width] = ramp
    if ramp_after:
        w[length - width :] = np.minimum(w[length - width :], ramp[::-1])
    return w


def tile_weight(plan: TilePlan, start: Sequence[int]) -> np.ndarray:
    """Separable feathering weight of the tile at ``start`` (ramps only toward neighbouring tiles)."""
    weight = np.ones(plan.tile, dtype=np.float32)
    for axis, (st, t, s, o) in enumerate(zip(start, plan.tile, plan.shape, plan.overlap)):
        w = _ramp(t, o, ramp_before=st > 0, ramp_after=st + t < s)
        view = [1] * len(plan.tile)
        view[axis] = t
        weight = weight * w.reshape(view)
    return weight


def pad_to_multiple(batch: torch.Tensor, multiple: int, spatial_ndim: int) -> tuple[torch.Tensor, list[int]]:
    """Reflect-pad the trailing ``spatial_ndim`` axes up to a multiple; return the original sizes."""
    sizes = list(batch.shape[-spatial_ndim:])
    if multiple <= 1:
        return batch, sizes
    pads = [(0, (-s) % multiple) for s in sizes]
    return reflect_pad(batch, pads), sizes


Restore = Callable[[torch.Tensor], torch.Tensor]


def run_tiled(
    planes: np.ndarray,
    restore: Restore,
    *,
    spatial_ndim: int,
    tile_size: int | None,
    overlap: int,
    size_multiple: int,
    batch_size: int,
    device: torch.device,
) -> Generator[int, None, np.ndarray]:
    """Restore each of ``planes`` (shape ``(B, *spatial)``, float32) tile by tile.

    Yields the number of tiles finished after each batch (the total is ``B * plan.count``) and returns the
    restored float32 array of the same shape. Closing the generator stops between batches.
    """
    spatial = planes.shape[1:]
    assert len(spatial) == spatial_ndim
    plan = plan_tiles(spatial, tile_size, overlap)
    out = np.zeros(planes.shape, dtype=np.float32)
    weight_sum = np.zeros(spatial, dtype=np.float32)
    positions = plan.positions()
    weights = {pos: tile_weight(plan, pos) for pos in positions}
    for pos in positions:
        weight_sum[tuple(slice(p, p + t) for p, t in zip(pos, plan.tile))] += weights[pos]
    jobs = [(b, pos) for pos in positions for b in range(planes.shape[0])]
    done = 0
    for first in range(0, len(jobs), batch_size):
        chunk = jobs[first : first + batch_size]
        tiles = np.stack(
            [planes[(b, *(slice(p, p + t) for p, t in zip(pos, plan.tile)))] for b, pos in chunk]
        )
        batch = torch.from_numpy(tiles).unsqueeze(1).to(device)
        padded, sizes = pad_to_multiple(batch, size_multiple, spatial_ndim)
        restored = restore(padded)
        restored = restored[(slice(None), slice(None), *(slice(0, s) for s in sizes))]
        restored = restored[:, 0].float().cpu().numpy()
        for (b, pos), tile in zip(chunk, restored):
            region = (b, *(slice(p, p + t) for p, t in zip(pos, plan.tile)))
            out[region] += tile * weights[pos]
        done += len(chunk)
        yield done
    out /= weight_sum
    return out
