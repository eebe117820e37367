"""The deblurring engine: from any array and method name to a restored array of the same shape.

``deblur_steps`` is a generator of :class:`~napari_deblur.restore.progress.Progress` events whose return value is
the result: the CLI shows the events as one bar, the napari widget runs it in a ``thread_worker`` (quitting the
worker closes the generator, which cancels between tile batches, or between the iterations of a one-tile run), and
:func:`deblur` simply drains it.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Generator
from typing import Any

import numpy as np
import torch

from napari_deblur.hardware import resolve_device
from napari_deblur.restore.axes import from_planes, to_planes
from napari_deblur.restore.channels import by_channel, per_channel_psfs
from napari_deblur.restore.checks import check_and_resolve, check_image, check_psf_fits
from napari_deblur.restore.intensity import fixed_intensity_map, intensity_map, restore_dtype
from napari_deblur.restore.lazy import deblur_lazy, is_dask
from napari_deblur.restore.methods import MethodSpec
from napari_deblur.restore.progress import Progress, drain
from napari_deblur.restore.tile_plan import TileChoice, after_out_of_memory, choose_tiles, default_tile
from napari_deblur.restore.tiling import run_tiled


def deblur_steps(
    image: Any,
    method: str | MethodSpec,
    *,
    psf: Any = None,
    axes: str | None = None,
    rgb: bool | None = None,
    tile_size: int | None = None,
    tile_overlap: int | None = None,
    device: str | torch.device = "auto",
    output_dtype: str = "same",
    intensity_range: tuple[float, float] | None = None,
    tile_batch: int | None = None,
    restorer: Callable[[torch.Tensor], torch.Tensor] | None = None,
    **params: Any,
) -> Generator[Progress, None, np.ndarray]:
    """Deblur ``image`` step by step; see :func:`napari_deblur.deblur` for the arguments.

    ``restorer``: the method already built for these parameters, PSF and device (the lazy path builds one per
    worker process and reuses it for every chunk) instead of building it here.
    """
    psfs = per_channel_psfs(psf, tuple(np.shape(image)), axes, rgb)
    if psfs is not None:  # a PSF per channel: each channel on its own, with its PSF
        def one_channel(channel: Any, channel_psf: np.ndarray, channel_axes: str) -> Generator[Progress, None, Any]:
            return deblur_steps(channel, method, psf=channel_psf, axes=channel_axes, rgb=False, tile_size=tile_size,
                                tile_overlap=tile_overlap, device=device, output_dtype=output_dtype,
                                intensity_range=intensity_range, tile_batch=tile_batch, **params)

        return (yield from by_channel(image, psfs, axes or "", one_channel))
    if is_dask(image):  # stays lazy: each chunk runs through these same steps when it is computed
        yield Progress(0, 1, "Preparing the lazy result (sampling intensities)")
        name = method.name if isinstance(method, MethodSpec) else method
        return deblur_lazy(image, name, run_block=deblur, psf=psf, axes=axes, rgb=rgb, tile_size=tile_size,
                           tile_overlap=tile_overlap, device=device, output_dtype=output_dtype,
                           intensity_range=intensity_range, tile_batch=tile_batch, **params)
    arr = check_image(image)
    checked = check_and_resolve(method, arr.shape, arr.dtype, psf, axes, rgb, output_dtype, params)
    spec, values, psf_arr, axes, lay = checked.spec, checked.values, checked.psf, checked.axes, checked.layout
    dev = resolve_device(device)

    spatial_ndim = len(lay.spatial)
    spatial_shape = tuple(arr.shape[axes.index(a)] for a in lay.spatial)
    if psf_arr is not None:
        check_psf_fits(psf_arr, spatial_shape)

    planes = to_planes(arr, lay)
    # For each plane, its index along every leading (non-spatial) axis: tells alpha planes (passed
    # through untouched) and the channel a plane belongs to (channels are normalized separately).
    lead_shape = tuple(arr.shape[i] for i in lay.order[:-spatial_ndim])
    lead_index = np.unravel_index(np.arange(len(planes)), lead_shape) if lead_shape else ()
    groups = None
    if lay.channel_axis is not None:
        groups = lead_index[lay.order.index(lay.channel_axis)]
    alpha_mask = np.zeros(len(planes), bool)
    if lay.alpha_index is not None:
        alpha_mask = lead_index[lay.order.index(len(axes) - 1)] == lay.alpha_index

    # Boolean indexing copies: only pay for it when there is an alpha channel to leave out.
    work = planes[~alpha_mask] if alpha_mask.any() else planes
    if intensity_range is not None:
        imap = fixed_intensity_map(intensity_range, len(work), work.ndim)
    else:
        imap = intensity_map(work, groups[~alpha_mask] if groups is not None else None)
    normalized = imap.forward(work)
    del work

    tile = default_tile(spec, spatial_shape, tile_size)  # a bad tile size is refused before the method is built

    yield Progress(0, 1, f"Preparing {spec.name}")
    if restorer is None:
        restorer = spec.build(psf=psf_arr, device=dev, **values)
    if arr.min() == arr.max():  # after the build: a method that cannot run is refused on any image
        # A flat field stays flat under any deblurring: returned exactly, not through float32 (which holds integers
        # only up to 2**24) and an intensity map of a zero range.
        return arr.copy() if output_dtype == "same" else arr.astype(np.float32)
    tiles = choose_tiles(spec, restorer, dev, spatial_shape, tile, tile_size=tile_size, tile_overlap=tile_overlap,
                         tile_batch=tile_batch)
    restored = yield from _run_with_fallback(normalized, spec, values, psf_arr, restorer, dev, spatial_ndim, tiles)
    del normalized
    # Large images: every full-size float32 copy is 4 bytes per pixel, so map back in place.
    restored = imap.inverse(restored, out=restored)
    if alpha_mask.any():
        result = np.empty(planes.shape, np.float32)
        result[~alpha_mask] = restored
        result[alpha_mask] = planes[alpha_mask]
    else:
        result = restored
    out = from_planes(result, lay, arr.shape)
    return restore_dtype(out, arr.dtype, output_dtype)


def _run_with_fallback(normalized: np.ndarray, spec: MethodSpec, values: dict[str, Any], psf_arr: Any,
                       restorer: Any, dev: torch.device, spatial_ndim: int, tiles: TileChoice
                       ) -> Generator[Progress, None, np.ndarray]:
    """Run the tiler; on GPU out-of-memory retry with the tile plan's next, smaller step, then on the CPU."""
    spatial_shape = normalized.shape[1:]
    while True:
        try:
            runner = run_tiled(
                normalized,
                restorer,
                spatial_ndim=spatial_ndim,
                tile_size=tiles.tile,
                overlap=tiles.overlap,
                context=int(restorer.receptive_field),
                size_multiple=spec.size_multiple,
                batch_size=tiles.batch,
                device=dev,
                align=spec.tile_alignment,
            )
            while True:  # the first event is the real total, before any work
                try:
                    done, total, unit = next(runner)
                except StopIteration as stop:
                    return stop.value
                yield Progress(done, total, f"{spec.name}: {done}/{total} {unit}s on {dev.type}", unit)
        except torch.OutOfMemoryError:
            if dev.type == "cpu":
                raise
            if dev.type == "cuda":
                torch.cuda.empty_cache()
            smaller = after_out_of_memory(tiles, spatial_shape)
            if smaller is not None:
                what = (f"{smaller.batch} tile(s) per batch" if smaller.batch != tiles.batch
                        else f"tile_size={smaller.tile}")
                warnings.warn(f"Out of GPU memory; retrying with {what}.", RuntimeWarning, stacklevel=2)
                tiles = smaller
            else:
                warnings.warn("Out of GPU memory even with small tiles; falling back to the CPU (slower).",
                              RuntimeWarning, stacklevel=2)
                dev = torch.device("cpu")
                restorer = spec.build(psf=psf_arr, device=dev, **values)


def deblur(image: Any, method: str | MethodSpec = "richardson_lucy", **kwargs: Any) -> np.ndarray:
    """Run :func:`deblur_steps` to completion and return the result."""
    return drain(deblur_steps(image, method, **kwargs))
