"""Overlapping tiles with feathered blending, so any image fits in memory without visible seams.

Tiles overlap by ``overlap`` pixels. Across each overlap a tile's weight is 0 for its outer ``margin`` pixels
(where it lacks context: set to the method's receptive field), then rises along a raised cosine to 1; image
borders get no ramp. The weighted sum is divided by the summed weights. So a method with a finite receptive
field is reproduced exactly, and others show no seams; uniform averaging would leave them. Tiles of equal shape
are batched, and each batch is reflect-padded to the method's size multiple and cropped back.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import torch

from napari_deblur.restore.padding import reflect_pad

T = TypeVar("T")


@dataclass(frozen=True)
class TilePlan:
    """Tile starts per axis and the common tile shape for one spatial shape."""

    shape: tuple[int, ...]
    tile: tuple[int, ...]
    overlap: tuple[int, ...]
    starts: tuple[tuple[int, ...], ...]
    margin: int = 0

    @property
    def count(self) -> int:
        return math.prod(len(s) for s in self.starts)

    def positions(self) -> list[tuple[int, ...]]:
        return list(itertools.product(*self.starts))


def plan_tiles(shape: Sequence[int], tile_size: int | None, overlap: int, margin: int = 0,
               align: int = 1) -> TilePlan:
    """Cut ``shape`` into tiles of ``tile_size`` (``None``: one tile) overlapping by at least ``overlap``.

    ``margin`` (at most half the overlap) is the part of each overlap a tile does not contribute to.
    ``align`` > 1 puts every tile origin on a multiple of ``align``: a network that downsamples by that factor
    then sees each tile on the same pixel grid as the whole image, so tiles agree where they overlap. Tiled
    axes are then planned on the shape rounded up to ``align`` (``TilePlan.shape``), which the caller pads.
    """
    shape = tuple(int(s) for s in shape)
    if tile_size is None:
        return TilePlan(shape, shape, (0,) * len(shape), tuple((0,) for _ in shape))
    padded, tiles, overlaps, starts = [], [], [], []
    for s in shape:
        t = min(int(tile_size), s)
        if t >= s:  # this axis fits in one tile
            padded.append(s), tiles.append(s), overlaps.append(0), starts.append((0,))
            continue
        if align > 1:
            s, t = -(-s // align) * align, max(align, t // align * align)
        o = min(overlap, t // 2)
        # Rounding origins to ``align`` may move a tile by up to align - 1: plan with that much to spare.
        stride = max(1, t - o - (align - 1))
        n = math.ceil((s - t) / stride) + 1
        # Spread the tiles evenly so every overlap is at least ``o`` and the last tile ends at the border.
        starts.append(tuple(round(i * (s - t) / (n - 1) / align) * align for i in range(n)))
        padded.append(s), tiles.append(t), overlaps.append(o)
    margin = max(0, min([margin] + [o // 2 for o in overlaps if o > 0]))
    return TilePlan(tuple(padded), tuple(tiles), tuple(overlaps), tuple(starts), margin)


def _ramp(length: int, width: int, margin: int, ramp_before: bool, ramp_after: bool) -> np.ndarray:
    w = np.ones(length, dtype=np.float32)
    if width <= 0:
        return w
    # 0 over the margin, raised cosine over the middle of the overlap, 1 after. The neighbour's ramp is the
    # mirror image over the same pixels, so every pixel keeps a positive total weight.
    rise = width - 2 * margin
    ramp = np.zeros(width, dtype=np.float32)
    ramp[margin : margin + rise] = 0.5 - 0.5 * np.cos(np.pi * (np.arange(rise) + 0.5) / max(rise, 1))
    ramp[margin + rise :] = 1
    if ramp_before:
        w[:width] = ramp
    if ramp_after:
        w[length - width :] = np.minimum(w[length - width :], ramp[::-1])
    return w


def tile_weight(plan: TilePlan, start: Sequence[int]) -> np.ndarray:
    """Separable feathering weight of the tile at ``start`` (ramps only toward neighbouring tiles)."""
    weight = np.ones(plan.tile, dtype=np.float32)
    for axis, (st, t, s, o) in enumerate(zip(start, plan.tile, plan.shape, plan.overlap)):
        w = _ramp(t, o, plan.margin, ramp_before=st > 0, ramp_after=st + t < s)
        view = [1] * len(plan.tile)
        view[axis] = t
        weight = weight * w.reshape(view)
    return weight


def pad_for_method(
    batch: torch.Tensor, multiple: int, spatial_ndim: int, context: int
) -> tuple[torch.Tensor, tuple[slice, ...]]:
    """Reflect-pad by ``context`` on every side, then up to ``multiple``; return the crop that undoes it.

    The context padding makes a tile at the image border see the same reflected surroundings as the whole
    image does, so the padding needed for the size multiple never changes what border pixels see.
    """
    sizes = list(batch.shape[-spatial_ndim:])
    pads = [(context, context + (-(s + 2 * context)) % max(multiple, 1)) for s in sizes]
    crop = (slice(None), slice(None), *(slice(context, context + s) for s in sizes))
    if all(b == 0 and a == 0 for b, a in pads):
        return batch, crop
    return reflect_pad(batch, pads), crop


Restore = Callable[[torch.Tensor], torch.Tensor]


def _window(pos: Sequence[int], plan: TilePlan, context: int) -> tuple[tuple[slice, ...], tuple[slice, ...]]:
    """The input window of the tile at ``pos`` (the tile plus ``context`` per side, slid inside the image at
    its borders; the whole axis when the image is not larger), and where the tile lies within it."""
    window, core = [], []
    for p, t, size in zip(pos, plan.tile, plan.shape):
        length = min(t + 2 * context, size)
        start = min(max(p - context, 0), size - length)
        window.append(slice(start, start + length))
        core.append(slice(p - start, p - start + t))
    return tuple(window), tuple(core)


def _in_units(steps: Generator[tuple[int, int], None, T], unit: str) -> Generator[tuple[int, int, str], None, T]:
    """A restorer's ``(done, total)`` steps as ``(done, total, unit)``; returns what they return."""
    while True:
        try:
            done, total = next(steps)
        except StopIteration as stop:
            return stop.value
        yield done, total, unit


def run_tiled(
    planes: np.ndarray,
    restore: Restore,
    *,
    spatial_ndim: int,
    tile_size: int | None,
    overlap: int,
    context: int,
    size_multiple: int,
    batch_size: int,
    device: torch.device,
    align: int = 1,
) -> Generator[tuple[int, int, str], None, np.ndarray]:
    """Restore each of ``planes`` (shape ``(B, *spatial)``, float32) tile by tile.

    ``context`` is the method's receptive field: each tile is cut with that much of the image around it
    (see :func:`_window`; reflect-padded instead for methods with a size multiple), and it is the margin of
    each overlap that a tile does not contribute to. ``align``: see :func:`plan_tiles` (the context is
    rounded up to it too, so a tile's window still starts on the image's grid).

    Yields ``(done, total, unit)``: tiles, first ``(0, total)`` once the tiles are planned, then after each batch;
    or, when one call restores everything and ``restore`` reports its iterations (a ``steps`` generator, as
    Richardson-Lucy's), iterations. Returns the restored float32 array of the same shape. Closing the generator
    stops between batches (between iterations where they are reported).
    """
    spatial = planes.shape[1:]
    assert len(spatial) == spatial_ndim
    context = -(-context // align) * align
    plan = plan_tiles(spatial, tile_size, overlap, margin=context, align=align)
    if plan.shape != tuple(spatial):  # aligned tiling: reflect-pad to the planned shape, crop at the end
        extra = [(0, 0)] + [(0, p - s) for p, s in zip(plan.shape, spatial)]
        planes = np.pad(planes, extra, mode="reflect")
    out = np.zeros(planes.shape, dtype=np.float32)
    weight_sum = np.zeros(plan.shape, dtype=np.float32)
    positions = plan.positions()
    # A tile's weight depends only on which sides have neighbours: at most 3 kinds per axis, shared, rather
    # than one full-size array per tile (hundreds of MB for a 50-megapixel image).
    kinds: dict[tuple[bool, ...], np.ndarray] = {}
    weights = {}
    for pos in positions:
        sides = tuple(flag for p, t, s in zip(pos, plan.tile, plan.shape) for flag in (p > 0, p + t < s))
        if sides not in kinds:
            kinds[sides] = tile_weight(plan, pos)
        weights[pos] = kinds[sides]
        weight_sum[tuple(slice(p, p + t) for p, t in zip(pos, plan.tile))] += weights[pos]
    jobs = [(b, pos) for pos in positions for b in range(planes.shape[0])]
    # Each tile is cut out with ``context`` more pixels on every side, so its core sees what it would see in
    # the whole image. At the image border the window slides inward instead of being padded, so border pixels
    # see the real border exactly as in one whole-image pass (no reflected or zero-padded surroundings that
    # the whole image would not have). One untiled pass needs no extra context at all.
    tile_context = context if plan.count > 1 or size_multiple > 1 else 0
    # A method that needs a size multiple is padded for it; reflected context first keeps that padding away
    # from border pixels (its windows then do not slide: the padding is their border).
    padded_context = tile_context if size_multiple > 1 else 0
    windows = {pos: _window(pos, plan, tile_context - padded_context) for pos in positions}
    # One call for everything: a bar of one tile would jump from 0 to 1, so show the method's iterations instead.
    by_iteration = len(jobs) <= batch_size and hasattr(restore, "steps")
    done = 0
    if not by_iteration:
        yield done, len(jobs), "tile"
    for first in range(0, len(jobs), batch_size):
        chunk = jobs[first : first + batch_size]
        tiles = np.stack([planes[(b, *windows[pos][0])] for b, pos in chunk])
        batch = torch.from_numpy(tiles).unsqueeze(1).to(device)
        padded, crop = pad_for_method(batch, size_multiple, spatial_ndim, padded_context)
        if by_iteration:
            result = yield from _in_units(restore.steps(padded), "iteration")
        else:
            result = restore(padded)
        restored = result[crop][:, 0].float().cpu().numpy()
        for (b, pos), tile in zip(chunk, restored):
            region = (b, *(slice(p, p + t) for p, t in zip(pos, plan.tile)))
            out[region] += tile[windows[pos][1]] * weights[pos]
        done += len(chunk)
        if not by_iteration:
            yield done, len(jobs), "tile"
    out /= weight_sum
    return out[(slice(None), *(slice(0, s) for s in spatial))]
