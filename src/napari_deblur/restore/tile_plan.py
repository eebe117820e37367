"""How an image is cut for a method: tile side, overlap, tiles per batch, and what to try when memory runs out.

Every default and fallback about tiles is decided here, for the engine (``deblur_steps``) and for the lazy
path (dask chunks and their halo); ``tiling.py`` then cuts and blends exactly what this plan says.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from napari_deblur.restore.methods import MethodSpec

#: Largest plane/volume (in pixels) run in one piece when the method has no tile size of its own.
WHOLE_IMAGE_LIMIT = 4096 * 4096
#: Pixels per batch: small enough that progress and Cancel respond within a second or two on a CPU.
BATCH_PIXELS = 1 << 20
#: Tiles never shrink below this side for memory; below it a network's context would dominate the work.
MIN_TILE = 64
#: The smallest tile side a user may ask for.
SMALLEST_TILE = 8


@dataclass(frozen=True)
class TileChoice:
    """Tile side (``None``: the whole plane/volume), overlap between tiles, and tiles per batch."""

    tile: int | None
    overlap: int
    batch: int


def default_tile(spec: MethodSpec, spatial_shape: tuple[int, ...], tile_size: int | None) -> int | None:
    """The user's tile side, else the method's; a method without one runs whole planes up to a size limit."""
    tile = tile_size if tile_size is not None else spec.default_tile_size
    if tile is None and int(np.prod(spatial_shape)) > WHOLE_IMAGE_LIMIT:
        tile = int(round((WHOLE_IMAGE_LIMIT / 4) ** (1 / len(spatial_shape))))
    if tile is not None and tile < SMALLEST_TILE:
        raise ValueError(f"tile_size must be at least {SMALLEST_TILE} pixels; got {tile}.")
    return tile


def default_overlap(spec: MethodSpec, receptive_field: int) -> int:
    """Tile overlap when the user gives none.

    Every tile is cut with its receptive field of context around it (tiling.py), so a network's tiles agree
    with the whole image without overlapping: a thin feathered seam of one alignment step is kept only to
    hide rounding differences, and every extra overlapping pixel would be computed twice. Classical FFT
    methods reach further than their PSF (an inverse filter rings), so their tiles overlap generously.
    """
    if spec.kind == "network":
        return max(spec.tile_alignment, 8)
    return 4 * receptive_field


def _tile_usable(tile: int, overlap: int, align: int) -> bool:
    """Whether tiles of this side advance by at least half an alignment step in tiling.plan_tiles' plan (which
    rounds the side down to the alignment, caps the overlap at half a tile and keeps align - 1 to spare)."""
    side = max(align, tile // align * align)
    return side - min(overlap, side // 2) - (align - 1) >= max(1, align // 2)


def check_tiles(spec: MethodSpec, tile_size: int | None, overlap: int, tile_batch: int | None) -> None:
    """Refuse tiles that would barely advance: the plan would degenerate into one-pixel strides (hundreds of
    thousands of tiles, and NaN where no tile contributes); and batches of no tiles."""
    if overlap < 0:
        raise ValueError(f"tile_overlap must be >= 0 pixels; got {overlap}.")
    align = max(1, spec.tile_alignment)
    if tile_size is not None and not _tile_usable(tile_size, overlap, align):
        smallest = next(t for t in range(SMALLEST_TILE, 1 << 16) if _tile_usable(t, overlap, align))
        raise ValueError(f"tile_size={tile_size} is too small for {spec.name} with an overlap of {overlap} pixels: "
                         f"use at least {smallest}, or leave it automatic.")
    if tile_batch is not None and tile_batch < 1:
        raise ValueError(f"tile_batch must be at least 1 tile; got {tile_batch}.")


def _batch_size(tile: int | None, spatial_shape: tuple[int, ...]) -> int:
    tile_pixels = int(np.prod([min(tile, s) if tile else s for s in spatial_shape]))
    return max(1, BATCH_PIXELS // max(tile_pixels, 1))


def memory_budget(device: torch.device) -> int:
    """Bytes one batch of tiles may use: 60 % of the free GPU memory, or 40 % of the available RAM."""
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free * 0.6)
    import psutil

    return int(psutil.virtual_memory().available * 0.4)


def plan_batches(restorer: Any, device: torch.device, spatial_shape: tuple[int, ...], tile: int | None,
                 tile_given: bool, batch_given: int | None) -> tuple[int | None, int]:
    """Tile side and tiles per batch for a method, from what it needs per pixel and the free memory.

    A network says how much working memory a forward pass needs per pixel (``bytes_per_pixel``): its tiles
    shrink (by halves) until one fits the budget, unless the user chose the tile size; on a GPU as many tiles
    as fit run as one batch (up to 16), which keeps it busy. On a CPU batches stay near a megapixel, since more
    tiles per call gain nothing there and progress and Cancel stay responsive. Methods that do not say keep
    the given tile and megapixel batches. ``batch_given`` overrides the batch.
    """
    per_pixel = getattr(restorer, "bytes_per_pixel", None)
    if per_pixel is None or tile is None:
        return tile, batch_given or _batch_size(tile, spatial_shape)
    context = int(restorer.receptive_field)
    budget = memory_budget(device)

    def window_bytes(side: int) -> int:
        return per_pixel * int(np.prod([min(side + 2 * context, s) for s in spatial_shape]))

    if not tile_given:
        while tile // 2 >= MIN_TILE and window_bytes(tile) > budget:
            tile //= 2
    if batch_given:
        return tile, batch_given
    if device.type == "cpu":
        return tile, _batch_size(tile, spatial_shape)
    return tile, int(min(16, max(1, budget // max(window_bytes(tile), 1))))


def choose_tiles(spec: MethodSpec, restorer: Any, device: torch.device, spatial_shape: tuple[int, ...],
                 tile: int | None, *, tile_size: int | None, tile_overlap: int | None, tile_batch: int | None
                 ) -> TileChoice:
    """The whole plan for one run: the user's choices where given, the defaults above everywhere else. ``tile`` is
    :func:`default_tile`'s side for the request (computed once, before the method is built)."""
    overlap = tile_overlap if tile_overlap is not None else default_overlap(spec, int(restorer.receptive_field))
    check_tiles(spec, tile_size, overlap, tile_batch)
    tile, batch = plan_batches(restorer, device, spatial_shape, tile, tile_size is not None, tile_batch)
    return TileChoice(tile, overlap, batch)


def after_out_of_memory(choice: TileChoice, spatial_shape: tuple[int, ...]) -> TileChoice | None:
    """The next, smaller plan after the GPU ran out of memory: half the batch, then half the tile; ``None`` when
    tiles are already as small as they go (the caller falls back to the CPU)."""
    if choice.batch > 1:
        return replace(choice, batch=choice.batch // 2)
    current = min(choice.tile or max(spatial_shape), max(spatial_shape))
    if current // 2 >= MIN_TILE:
        return replace(choice, tile=current // 2)
    return None


def chunk_halo(spec: MethodSpec, receptive_field: int, tile_overlap: int | None) -> int:
    """Pixels a dask chunk borrows from each neighbour, on the method's alignment grid.

    A network's tile gets its receptive field of context in memory; a chunk's halo is the same. Classical FFT
    methods ring further than their PSF, so their halo is twice that. A given ``tile_overlap`` is the halo.
    """
    align = max(1, spec.tile_alignment)
    depth = tile_overlap if tile_overlap is not None else receptive_field * (1 if spec.kind == "network" else 2)
    return -(-int(depth) // align) * align


def chunk_tile(spec: MethodSpec, block_side: int, tile_size: int | None) -> int | None:
    """Tile side inside one dask block (with its halo, ``block_side``): a block not much larger than the
    method's tile runs as one tile, since cutting it into tiles again would compute their context twice."""
    if tile_size is None and spec.default_tile_size and block_side <= 1.5 * spec.default_tile_size:
        return block_side
    return tile_size
