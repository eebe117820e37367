"""A PSF named instead of given: ``psf="widefield"``/``"confocal"`` (from the optics) or ``psf="estimate"`` (from the
blurred image itself), resolved for one deblur call by the API, the CLI and the Deblur dock alike."""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping
from typing import Any

import numpy as np

from napari_deblur.colour import is_colour
from napari_deblur.params import Param
from napari_deblur.psfs.estimate import estimate_kernel_steps
from napari_deblur.psfs.estimate.windows import blend_windows
from napari_deblur.psfs.optics import OPTICS_KINDS, psf_for_image
from napari_deblur.restore.engine import Progress, deblur_steps, drain
from napari_deblur.restore.intensity import policy_range, restore_dtype

ESTIMATE = "estimate"
#: The keywords of a deblur call that are the engine's (tiles, intensities, device, output), not the method's.
ENGINE_KEYWORDS = ("tile_size", "tile_overlap", "tile_batch", "intensity_range", "device", "output_dtype")
PSF_NAMES = (*OPTICS_KINDS, ESTIMATE)
#: What runs when no method is named: with a PSF, the classical default; without one, the blind path that measured
#: best on our data (docs/benchmarks.md, "Blind deblurring"): the kernel estimated from the image, then the
#: hyper-Laplacian deconvolution, which forgives the estimate's small errors.
PSF_METHOD = "richardson_lucy"
BLIND_METHOD = "hyper_laplacian"
#: The settings of ``psf="estimate"`` (keywords of the deblur call, ``--kernel-size`` on the command line).
ESTIMATE_PARAMS = (
    Param("kernel_size", int, 31, "The largest blur the estimated kernel may describe, in pixels (odd); the "
          "kernel's own extent is found within it.",
          min=3, max=255),
    Param("kernel_grid", int, 1, "Windows per side for blur that varies across the image: 1 = one kernel for "
          "the whole image; 2 = a kernel for each overlapping quarter (measured better on real camera blur).",
          min=1, max=4),
)


def default_request(method: str | None, psf: Any) -> tuple[str, Any]:
    """The method (and PSF) a request runs when it names no method: one rule for the API, the CLI and the dock."""
    if method is not None:
        return method, psf
    return (PSF_METHOD, psf) if psf is not None else (BLIND_METHOD, ESTIMATE)


def request_steps(image: Any, method: str | None, psf: Any = None, *, axes: str | None = None,
                  rgb: bool | None = None, device: str = "auto", output_dtype: str = "same",
                  params: Mapping[str, Any] | None = None, **engine: Any
                  ) -> Generator[Progress, None, tuple[Any, np.ndarray | None]]:
    """One deblur request as the API, the CLI and the console's ``deblur_layer`` make it: the default method for
    what was given, a named PSF made for the image (an estimate's progress events passed on), a kernel per window
    where asked, then the engine's steps. ``engine``: its tile and intensity keywords. Returns the result and the
    PSF made for it (``None`` when one was given)."""
    params = dict(params or {})
    method, psf = default_request(method, psf)
    if isinstance(psf, str) and psf == ESTIMATE and estimate_grid(params) > 1:  # blur that varies: per window
        return deblur_by_windows(image, method, axes, rgb, params, device, output_dtype), None
    made = None
    if isinstance(psf, str):
        made, params = yield from named_psf_steps(psf, image, axes, rgb, params)
    result = yield from deblur_steps(image, method, psf=psf if made is None else made, axes=axes, rgb=rgb,
                                     device=device, output_dtype=output_dtype, **engine, **params)
    return result, made


def named_psf_steps(name: str, image: Any, axes: str | None, rgb: bool | None, params: Mapping[str, Any]
                    ) -> Generator[Progress, None, tuple[np.ndarray, dict[str, Any]]]:
    """The PSF called ``name`` for deblurring ``image``, and ``params`` without the PSF's own settings; the
    estimate's progress events (``psf="estimate"``) on the way."""
    if name in OPTICS_KINDS:
        return psf_for_image(name, np.shape(image), axes, rgb, params)
    if name != ESTIMATE:
        raise ValueError(f"psf={name!r} is not a known PSF; use {', '.join(PSF_NAMES)}, an array or a file.")
    if estimate_grid(params) > 1:
        raise ValueError("kernel_grid > 1 (a kernel per window) works through napari_deblur.deblur() and "
                         "`napari-deblur deblur` on an image in memory; here use kernel_grid=1.")
    size, rest = _estimate_settings(params)
    return (yield from estimate_kernel_steps(plane_for_estimate(image, axes, rgb), size)), rest


def named_psf(name: str, image: Any, axes: str | None, rgb: bool | None, params: Mapping[str, Any],
              on_progress: Callable[[Progress], None] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
    """:func:`named_psf_steps` run to the end; ``on_progress`` hears its events."""
    return drain(named_psf_steps(name, image, axes, rgb, params), on_progress)


def estimate_grid(params: Mapping[str, Any]) -> int:
    """The ``kernel_grid`` of a request (1: one kernel for the whole image)."""
    return ESTIMATE_PARAMS[1].validate(params.get("kernel_grid", ESTIMATE_PARAMS[1].default))


def deblur_by_windows(image: Any, method: str, axes: str | None, rgb: bool | None, params: Mapping[str, Any],
                      device: str = "auto", output_dtype: str = "same") -> np.ndarray:
    """``psf="estimate"`` with ``kernel_grid`` > 1: a kernel estimated and ``method`` run per overlapping window
    (:mod:`napari_deblur.psfs.estimate.windows`); one intensity range, the whole image's, serves every window."""
    plane = plane_for_estimate(image, axes, rgb)
    size, rest = _estimate_settings(params)
    intensity = policy_range(plane[..., :3] if plane.ndim == 3 else plane)

    def one(window: np.ndarray) -> np.ndarray:
        kernel = drain(estimate_kernel_steps(window, size))
        return drain(deblur_steps(window, method, psf=kernel, rgb=rgb, device=device, output_dtype="float32",
                                  intensity_range=intensity, **rest))

    return restore_dtype(blend_windows(plane, estimate_grid(params), size, one), plane.dtype, output_dtype)


def _estimate_settings(params: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
    """The largest kernel side of a request, and its other keywords (the method's)."""
    size = ESTIMATE_PARAMS[0].validate(params.get("kernel_size", ESTIMATE_PARAMS[0].default))
    return size, {k: v for k, v in params.items() if k not in ("kernel_size", "kernel_grid")}


def plane_for_estimate(image: Any, axes: str | None, rgb: bool | None) -> np.ndarray:
    """``image`` as the one 2D plane (grey, or colour last) a kernel is estimated from; a stack is refused."""
    shape = tuple(np.shape(image))
    colour = is_colour(shape, rgb, axes)
    plain = (axes or "").upper() in ("", "YX", "YXC")
    if not plain or len(shape) != 2 + colour:
        raise ValueError(f"psf='estimate' works on one 2D image (grey or colour); this one is {shape}"
                         f"{' with axes ' + axes if axes else ''}. For a stack, estimate from one plane with "
                         "napari_deblur.estimate_kernel(plane) and pass the kernel as psf, or choose a blind network "
                         "method (e.g. nafnet).")
    return np.asarray(image)
