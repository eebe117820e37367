"""A PSF named instead of given: ``psf="widefield"``/``"confocal"`` (from the optics) or ``psf="estimate"`` (from the
blurred image itself), resolved for one deblur call by the API, the CLI and the Deblur dock alike."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from napari_deblur.params import Param
from napari_deblur.psfs.estimate import estimate_kernel_steps
from napari_deblur.psfs.optics import OPTICS_KINDS, psf_for_image
from napari_deblur.restore.engine import Progress, drain

ESTIMATE = "estimate"
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
)


def default_request(method: str | None, psf: Any) -> tuple[str, Any]:
    """The method (and PSF) a request runs when it names no method: one rule for the API, the CLI and the dock."""
    if method is not None:
        return method, psf
    return (PSF_METHOD, psf) if psf is not None else (BLIND_METHOD, ESTIMATE)


def named_psf(name: str, image: Any, axes: str | None, rgb: bool | None, params: Mapping[str, Any],
              on_progress: Callable[[Progress], None] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
    """The PSF called ``name`` for deblurring ``image``, and ``params`` without the PSF's own settings.
    ``on_progress`` hears the estimate's progress events (``psf="estimate"``)."""
    if name in OPTICS_KINDS:
        return psf_for_image(name, np.shape(image), axes, rgb, params)
    if name != ESTIMATE:
        raise ValueError(f"psf={name!r} is not a known PSF; use {', '.join(PSF_NAMES)}, an array or a file.")
    size = ESTIMATE_PARAMS[0].validate(params.get("kernel_size", ESTIMATE_PARAMS[0].default))
    rest = {k: v for k, v in params.items() if k != "kernel_size"}
    return drain(estimate_kernel_steps(plane_for_estimate(image, axes, rgb), size), on_progress), rest


def plane_for_estimate(image: Any, axes: str | None, rgb: bool | None) -> np.ndarray:
    """``image`` as the one 2D plane (grey, or colour last) a kernel is estimated from; a stack is refused."""
    shape = tuple(np.shape(image))
    colour = bool(rgb) or (rgb is None and len(shape) == 3 and shape[-1] in (3, 4) and not axes)
    plain = (axes or "").upper() in ("", "YX", "YXC")
    if not plain or len(shape) != 2 + colour:
        raise ValueError(f"psf='estimate' works on one 2D image (grey or colour); this one is {shape}"
                         f"{' with axes ' + axes if axes else ''}. For a stack, estimate from one plane with "
                         "napari_deblur.estimate_kernel(plane) and pass the kernel as psf, or choose a blind network "
                         "method (e.g. nafnet).")
    return np.asarray(image)
