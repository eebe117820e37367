"""What a deblur request must satisfy before any work: a supported image, a PSF exactly when the method needs one,
a known output dtype. Shared by the in-memory engine and the lazy (dask) path, which checks without the pixels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from napari_deblur.restore.axes import AxisLayout, layout, resolve_axes
from napari_deblur.restore.methods import MethodSpec, get_method
from napari_deblur.restore.psf_prep import validate_psf


@dataclass(frozen=True)
class CheckedRequest:
    """A request that passed :func:`check_and_resolve`, with what the checks resolved."""

    spec: MethodSpec
    values: dict[str, Any]  # the method's parameters, defaults filled in and validated
    psf: np.ndarray | None  # validated, or None for a blind method
    axes: str
    layout: AxisLayout


def check_and_resolve(method: str | MethodSpec, shape: tuple[int, ...], dtype: Any, psf: Any, axes: str | None,
                      rgb: bool | None, output_dtype: str, params: dict[str, Any]) -> CheckedRequest:
    """The checks every deblur request passes before any work, in memory or lazily (shape and dtype suffice):
    the method and its parameters, the PSF, the output dtype, the axes and how they split into planes."""
    spec = method if isinstance(method, MethodSpec) else get_method(method)
    check_dtype(dtype)
    values = spec.resolve_params(params)
    psf_arr = check_request(spec, psf, output_dtype)
    axes = resolve_axes(shape, axes, rgb, None if psf_arr is None else psf_arr.ndim)
    return CheckedRequest(spec, values, psf_arr, axes, layout(axes, shape, psf_arr.ndim if psf_arr is not None else 2))


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
                f"Method {spec.name!r} needs a PSF: pass psf=<array>, or psf='estimate' to "
                "estimate the blur kernel from the image first; or name no method for the blind default."
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


def check_psf_fits(psf: np.ndarray, spatial_shape: tuple[int, ...]) -> None:
    if any(p > s for p, s in zip(psf.shape, spatial_shape[-psf.ndim :])):
        raise ValueError(
            f"The PSF ({'x'.join(map(str, psf.shape))}) is larger than the image "
            f"({'x'.join(map(str, spatial_shape[-psf.ndim:]))}); crop the PSF around its peak."
        )
