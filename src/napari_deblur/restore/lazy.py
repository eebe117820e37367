"""Lazy deblurring: a dask array in, a dask array of the same shape, chunks and dtype out.

Nothing is computed until a slice is asked for (napari showing a plane, ``.compute()``, writing to zarr). Each
chunk is deblurred by the ordinary engine with its neighbours' pixels around it (``map_overlap``), so the
result matches the in-memory path. Three things make chunks agree with each other:

- one intensity map for all chunks (of a channel), estimated up front from a few sampled chunks, or given;
- chunk borders on the networks' downsampling grid (the overlap is a multiple of the tile alignment);
- no padding at the image's own borders (``boundary="none"``): border chunks see the border as the whole
  image does.

The method is built at most once per process and reused for every chunk, on the threaded scheduler as on a
``dask.distributed`` cluster, where only its recipe (name, parameters, PSF) travels with the tasks.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from napari_deblur.hardware import resolve_device
from napari_deblur.restore.checks import check_and_resolve
from napari_deblur.restore.intensity import fixed_intensity_map, fixed_range, policy_range, robust_range
from napari_deblur.restore.methods import get_method
from napari_deblur.restore.tile_plan import chunk_halo, chunk_tile

SAMPLE_CHUNKS = 8  # chunks read up front (per channel) to fix the intensity range
MIN_BLOCK = 512  # spatial chunks smaller than this are merged for computing: halos then cost little
_CACHE_SIZE = 2  # built methods kept per process (a network and a classical method, say)


def is_dask(image: Any) -> bool:
    """Whether ``image`` is a dask array (without importing dask when it is not even loaded)."""
    return type(image).__module__.startswith("dask.") and hasattr(image, "map_overlap")


@dataclass(frozen=True)
class Recipe:
    """What builds the method on a worker: small, picklable, and its own cache key."""

    method: str
    params: tuple[tuple[str, Any], ...]
    device: str
    psf: np.ndarray | None = field(default=None, compare=False, hash=False)
    psf_key: bytes = b""

    def key(self) -> tuple:
        return self.method, self.params, self.device, self.psf_key


_BUILT: OrderedDict[tuple, Any] = OrderedDict()
_LOCK = threading.Lock()
BUILD_COUNT = [0]  # how many methods this process has built (tests check that it is once per worker)


def built_method(recipe: Recipe) -> Any:
    """The method ``recipe`` describes, built on first use in this process and then reused."""
    with _LOCK:
        key = recipe.key()
        if key not in _BUILT:
            spec = get_method(recipe.method)
            _BUILT[key] = spec.build(psf=recipe.psf, device=resolve_device(recipe.device), **dict(recipe.params))
            BUILD_COUNT[0] += 1
            while len(_BUILT) > _CACHE_SIZE:
                _BUILT.popitem(last=False)
        _BUILT.move_to_end(key)
        return _BUILT[key]


def _deblur_block(block: np.ndarray, *, run_block: Callable[..., np.ndarray], recipe: Recipe, axes: str,
                  rgb: bool | None, ranges: list | None, channel_axis: int | None, tile_size: int | None,
                  tile_overlap: int | None, output_dtype: str, tile_batch: int | None = None,
                  block_info: dict | None = None) -> np.ndarray:
    intensity = None
    if ranges is not None:
        channel = 0
        if channel_axis is not None and block_info is not None:
            channel = block_info[0]["chunk-location"][channel_axis]  # channel chunks are 1 wide
        intensity = ranges[channel]
    spec = get_method(recipe.method)
    return run_block(block, spec, psf=recipe.psf, axes=axes, rgb=rgb, tile_size=tile_size, tile_overlap=tile_overlap,
                     device=recipe.device, output_dtype=output_dtype, intensity_range=intensity,
                     tile_batch=tile_batch, restorer=built_method(recipe), **dict(recipe.params))


def _sample_range(image: Any, channel_axis: int | None, channel: int | None) -> tuple[float, float]:
    """Robust (low, high) of up to SAMPLE_CHUNKS chunks spread evenly over the array (or one channel)."""
    import dask

    grid = [range(len(c)) for c in image.chunks]
    if channel is not None:
        grid[channel_axis] = range(channel, channel + 1)
    n_blocks = int(np.prod([len(g) for g in grid]))
    picks = np.unique(np.linspace(0, n_blocks - 1, min(SAMPLE_CHUNKS, n_blocks)).round().astype(int))
    blocks = [image.blocks[tuple(g[i] for g, i in zip(grid, np.unravel_index(p, [len(g) for g in grid])))]
              for p in picks]
    values = dask.compute(*blocks)
    sample = np.concatenate([np.asarray(v).reshape(-1) for v in values])
    if sample.dtype.kind == "f" and fixed_range(sample) is not None and image.dtype.kind == "f":
        # [0, 1] floats keep their scale only if the whole array is in [0, 1]: one cheap reduction checks it.
        low, high = dask.compute(image.min(), image.max())
        if low >= 0 and high <= 1:
            return 0.0, 1.0
    return policy_range(sample) if sample.dtype.kind != "f" else robust_range(sample.astype(np.float32))


def _compute_chunks(image: Any, spatial_axes: list[int], colour_axis: int | None, depth: int, align: int) -> tuple:
    """Chunks to compute in: whole colours, one plane per block along every other non-spatial axis (channels
    too, each with its own intensity map), spatial blocks of at least MIN_BLOCK (and 2x the halo) with borders
    on the alignment grid."""
    chunks = []
    for axis, (size, sizes) in enumerate(zip(image.shape, image.chunks)):
        if axis == colour_axis:
            chunks.append(size)
        elif axis in spatial_axes:
            want = max(max(sizes), MIN_BLOCK, 2 * depth)
            chunks.append(min(size, -(-want // align) * align))
        else:  # one plane (or volume) per block: showing one z-plane or time point computes only that one
            chunks.append(1)
    return tuple(chunks)


def deblur_lazy(image: Any, method: str = "richardson_lucy", *, run_block: Callable[..., np.ndarray],
                psf: Any = None, axes: str | None = None,
                rgb: bool | None = None, tile_size: int | None = None, tile_overlap: int | None = None,
                device: str = "auto", output_dtype: str = "same",
                intensity_range: tuple[float, float] | None = None, tile_batch: int | None = None,
                **params: Any) -> Any:
    """:func:`napari_deblur.deblur` for a dask array: returns a dask array (same shape, chunks and dtype).

    ``run_block`` deblurs one in-memory block (the engine's ``deblur``, which also calls this function for dask
    input: passing it in keeps the two modules from importing each other).

    ``tile_overlap`` is also the halo each chunk borrows from its neighbours (default: a network's receptive
    field, twice a classical method's, rounded up to the tile alignment). ``intensity_range`` fixes the
    (low, high) intensity map; by default it is estimated per channel from a few chunks, read once now.
    """
    checked = check_and_resolve(method, image.shape, image.dtype, psf, axes, rgb, output_dtype, params)
    spec, values, psf_arr, axes, lay = checked.spec, checked.values, checked.psf, checked.axes, checked.layout
    spatial_axes = [axes.index(a) for a in lay.spatial]
    recipe = Recipe(spec.name, tuple(sorted(values.items())), str(device), psf_arr,
                    b"" if psf_arr is None else psf_arr.tobytes() + str(psf_arr.shape).encode())
    receptive = int(built_method(recipe).receptive_field)  # built here once: also checks that it can run
    align = max(1, spec.tile_alignment)
    depth = chunk_halo(spec, receptive, tile_overlap)

    channel_axis = lay.channel_axis
    colour_axis = image.ndim - 1 if axes.endswith("C") and channel_axis != image.ndim - 1 else None
    work = image.rechunk(_compute_chunks(image, spatial_axes, colour_axis, depth, align))
    ranges = None
    if intensity_range is not None:
        fixed_intensity_map(intensity_range, 1, 1)  # checks it now rather than in every chunk
        ranges = [tuple(intensity_range)] * (image.shape[channel_axis] if channel_axis is not None else 1)
    elif image.dtype != np.uint8:  # 8-bit data maps by its full range anyway
        channels = range(image.shape[channel_axis]) if channel_axis is not None else [None]
        ranges = [_sample_range(work, channel_axis, c) for c in channels]

    tile_size = chunk_tile(spec, max(max(work.chunks[a]) for a in spatial_axes) + 2 * depth, tile_size)
    out_dtype = image.dtype if output_dtype == "same" else np.float32
    result = work.map_overlap(
        # An axis in one block has no neighbours to borrow from (and dask refuses a halo deeper than the block).
        _deblur_block, run_block=run_block,
        depth={a: (depth if a in spatial_axes and work.numblocks[a] > 1 else 0) for a in range(image.ndim)},
        boundary="none", dtype=out_dtype, recipe=recipe, axes=axes, rgb=rgb, ranges=ranges,
        channel_axis=channel_axis, tile_size=tile_size, tile_overlap=tile_overlap, output_dtype=output_dtype,
        tile_batch=tile_batch, meta=np.empty((0,) * image.ndim, out_dtype))
    return result.rechunk(image.chunks) if result.chunks != image.chunks else result
