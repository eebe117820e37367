"""The deblurring engine: from any array and method name to a restored array of the same shape.

``deblur_steps`` is a generator of :class:`Progress` events whose return value is the result: the CLI shows
the events with tqdm, the napari widget runs it in a ``thread_worker`` (quitting the worker closes the
generator, which cancels between tile batches), and :func:`deblur` simply drains it.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import torch

from napari_deblur.restore.axes import from_planes, layout, resolve_axes, to_planes
from napari_deblur.restore.intensity import fixed_intensity_map, intensity_map, restore_dtype
from napari_deblur.restore.psf_prep import validate_psf
from napari_deblur.restore.tiling import plan_tiles, run_tiled
from napari_deblur.zoo.registry import MethodSpec, get_method

T = TypeVar("T")

# Largest plane/volume (in pixels) run in one piece when the method has no tile size of its own.
WHOLE_IMAGE_LIMIT = 4096 * 4096
# Pixels per batch: small enough that progress and Cancel respond within a second or two on a CPU.
BATCH_PIXELS = 1 << 20
MIN_TILE = 64


@dataclass(frozen=True)
class Progress:
    """One progress event: ``done`` of ``total`` work units, and what is being done."""

    done: int
    total: int
    message: str = ""


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` picks CUDA, then Apple MPS, then the CPU; a named device must be available."""
    if isinstance(device, torch.device):
        return device
    name = str(device).strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise ValueError(f"Unknown device {device!r}: use auto, cpu, cuda, cuda:N or mps.") from None
    if dev.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"Unsupported device {device!r}: use auto, cpu, cuda, cuda:N or mps.")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"Device {device!r} was requested but CUDA is not available; use 'auto' or 'cpu'.")
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError(f"Device {device!r} was requested but MPS is not available; use 'auto' or 'cpu'.")
    return dev


def check_dtype(dtype: Any) -> None:
    """Raise ``ValueError`` unless ``dtype`` is an integer or float image dtype (checked without the pixels)."""
    dtype = np.dtype(dtype)
    if dtype.kind not in "uif":  # bool is kind "b"
        raise ValueError(
            f"Unsupported image dtype {dtype}; use an unsigned/signed integer or float image "
            "(e.g. image.astype(np.float32))."
        )


def check_request(spec: MethodSpec, psf: Any, output_dtype: str) -> np.ndarray | None:
    """Check what every run of ``spec`` needs besides the image; return the validated PSF (or ``None``)."""
    if output_dtype not in ("same", "float32"):
        raise ValueError(f"output_dtype must be 'same' or 'float32'; got {output_dtype!r}.")
    if spec.needs_psf:
        if psf is None:
            raise ValueError(
                f"Method {spec.name!r} needs a PSF: pass psf=<array> (CLI: --psf FILE; widget: a PSF layer)."
            )
        return validate_psf(psf)
    if psf is not None:
        raise ValueError(f"Method {spec.name!r} is blind and takes no PSF; do not pass one.")
    return None


def check_image(image: Any) -> np.ndarray:
    """Return ``image`` as an array, or raise ``ValueError`` naming what is wrong with it."""
    arr = np.asarray(image)
    check_dtype(arr.dtype)
    if arr.size == 0:
        raise ValueError(f"The image is empty (shape {arr.shape}); there is nothing to deblur.")
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise ValueError(
            "The image contains NaN or Inf values; replace them first, e.g. np.nan_to_num(image)."
        )
    return arr


def _check_psf_fits(psf: np.ndarray, spatial_shape: tuple[int, ...]) -> None:
    if any(p > s for p, s in zip(psf.shape, spatial_shape[-psf.ndim :])):
        raise ValueError(
            f"The PSF ({'x'.join(map(str, psf.shape))}) is larger than the image "
            f"({'x'.join(map(str, spatial_shape[-psf.ndim:]))}); crop the PSF around its peak."
        )


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
    spec = method if isinstance(method, MethodSpec) else get_method(method)
    arr = check_image(image)
    values = spec.resolve_params(params)
    psf_arr = check_request(spec, psf, output_dtype)
    axes = resolve_axes(arr.shape, axes, rgb, None if psf_arr is None else psf_arr.ndim)
    dev = resolve_device(device)

    spatial_ndim = psf_arr.ndim if psf_arr is not None else 2
    lay = layout(axes, arr.shape, spatial_ndim)
    spatial_shape = tuple(arr.shape[axes.index(a)] for a in lay.spatial)
    if psf_arr is not None:
        _check_psf_fits(psf_arr, spatial_shape)

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

    tile = tile_size if tile_size is not None else spec.default_tile_size
    if tile is None and int(np.prod(spatial_shape)) > WHOLE_IMAGE_LIMIT:
        tile = int(round((WHOLE_IMAGE_LIMIT / 4) ** (1 / spatial_ndim)))
    if tile is not None and tile < 8:
        raise ValueError(f"tile_size must be at least 8 pixels; got {tile}.")

    yield Progress(0, 1, f"Preparing {spec.name}")
    if restorer is None:
        restorer = spec.build(psf=psf_arr, device=dev, **values)
    overlap = tile_overlap if tile_overlap is not None else default_overlap(spec, int(restorer.receptive_field))
    _check_tiles(spec, tile_size, overlap)
    if tile_batch is not None and tile_batch < 1:
        raise ValueError(f"tile_batch must be at least 1 tile; got {tile_batch}.")
    tile, batch = plan_batches(restorer, dev, spatial_shape, tile, tile_size is not None, tile_batch)

    restored = yield from _run_with_fallback(normalized, spec, values, psf_arr, restorer, dev,
                                             spatial_ndim, tile, overlap, batch)
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


def _tile_usable(tile: int, overlap: int, align: int) -> bool:
    """Whether tiles of this side advance by at least half an alignment step in tiling.plan_tiles' plan (which
    rounds the side down to the alignment, caps the overlap at half a tile and keeps align - 1 to spare)."""
    side = max(align, tile // align * align)
    return side - min(overlap, side // 2) - (align - 1) >= max(1, align // 2)


def _check_tiles(spec: MethodSpec, tile_size: int | None, overlap: int) -> None:
    """Refuse tiles that would barely advance: the plan would degenerate into one-pixel strides (hundreds of
    thousands of tiles, and NaN where no tile contributes)."""
    if overlap < 0:
        raise ValueError(f"tile_overlap must be >= 0 pixels; got {overlap}.")
    align = max(1, spec.tile_alignment)
    if tile_size is not None and not _tile_usable(tile_size, overlap, align):
        smallest = next(t for t in range(8, 1 << 16) if _tile_usable(t, overlap, align))
        raise ValueError(f"tile_size={tile_size} is too small for {spec.name} with an overlap of {overlap} pixels: "
                         f"use at least {smallest}, or leave it automatic.")


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


def _run_with_fallback(normalized, spec, values, psf_arr, restorer, dev, spatial_ndim, tile, overlap, batch):
    """Run the tiler; on GPU out-of-memory halve the tile size, then fall back to the CPU."""
    spatial_shape = normalized.shape[1:]
    while True:
        try:
            runner = run_tiled(
                normalized,
                restorer,
                spatial_ndim=spatial_ndim,
                tile_size=tile,
                overlap=overlap,
                context=int(restorer.receptive_field),
                size_multiple=spec.size_multiple,
                batch_size=batch,
                device=dev,
                align=spec.tile_alignment,
            )
            total = len(normalized) * plan_tiles(spatial_shape, tile, overlap, align=spec.tile_alignment).count
            yield Progress(0, total, f"{spec.name}: 0/{total} tiles on {dev.type}")  # the real total, from the start
            while True:
                try:
                    done = next(runner)
                except StopIteration as stop:
                    return stop.value
                yield Progress(done, total, f"{spec.name}: {done}/{total} tiles on {dev.type}")
        except torch.OutOfMemoryError:
            if dev.type == "cpu":
                raise
            if dev.type == "cuda":
                torch.cuda.empty_cache()
            current = min(tile or max(spatial_shape), max(spatial_shape))
            if batch > 1:
                batch //= 2
                warnings.warn(f"Out of GPU memory; retrying with {batch} tile(s) per batch.", RuntimeWarning,
                              stacklevel=2)
            elif current // 2 >= MIN_TILE:
                tile = current // 2
                warnings.warn(f"Out of GPU memory; retrying with tile_size={tile}.", RuntimeWarning,
                              stacklevel=2)
            else:
                warnings.warn("Out of GPU memory even with small tiles; falling back to the CPU (slower).",
                              RuntimeWarning, stacklevel=2)
                dev = torch.device("cpu")
                restorer = spec.build(psf=psf_arr, device=dev, **values)


def drain(steps: Generator[Progress, None, T], on_progress: Callable[[Progress], None] | None = None) -> T:
    """Run a progress generator to completion, passing each event to ``on_progress``; return its result."""
    while True:
        try:
            event = next(steps)
        except StopIteration as stop:
            return stop.value
        if on_progress is not None:
            on_progress(event)


def deblur(image: Any, method: str | MethodSpec = "richardson_lucy", **kwargs: Any) -> np.ndarray:
    """Run :func:`deblur_steps` to completion and return the result."""
    return drain(deblur_steps(image, method, **kwargs))
