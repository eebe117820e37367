"""Kernels the user brings: an array, an image file or a napari layer, validated and normalized like ours."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from scipy import ndimage

from napari_deblur.io import read_psf
from napari_deblur.synth.kernels import finish_kernel


def _pad_odd(kernel: np.ndarray) -> np.ndarray:
    """Pad even axes by one zero plane, on the side that keeps the centre of mass nearest the centre."""
    com = ndimage.center_of_mass(kernel)
    pads = []
    for c, n in zip(com, kernel.shape):
        if n % 2:
            pads.append((0, 0))
        else:
            # Appending moves the centre from (n-1)/2 to n/2: do it when the mass lies past the middle.
            pads.append((0, 1) if c >= (n - 1) / 2 else (1, 0))
    return np.pad(kernel, pads)


def as_kernel(obj: Any) -> np.ndarray:
    """A user-supplied kernel, validated and normalized.

    Parameters
    ----------
    obj : array-like, str, os.PathLike or object with ``.data``
        An array, an image file (TIFF, PNG, ...; colour is averaged to grey) or a napari layer.

    Returns
    -------
    numpy.ndarray
        float32 kernel summing to 1. 2D kernels are centred by mass on an odd square grid; 3D (ZYX) ones are
        padded to odd sides but not moved (a PSF's focal plane is where the file puts it).

    Raises
    ------
    ValueError
        When the data is not 2D/3D after dropping length-1 axes, has NaN/inf, negative values, or sums to 0.
    """
    if isinstance(obj, str | os.PathLike):
        data = read_psf(obj)
    elif hasattr(obj, "data") and not isinstance(obj, np.ndarray):
        data = obj.data  # a napari layer (or anything that wraps its pixels in .data)
    else:
        data = obj
    try:
        kernel = np.asarray(data, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"Cannot read a kernel from {type(obj).__name__}; pass an array, file or layer.") from None
    # Drop length-1 axes (napari's singleton channel/time axes) but never below 2D, so a (1, n) row kernel
    # keeps its orientation; a 1D profile counts as a horizontal kernel.
    while kernel.ndim > 2 and 1 in kernel.shape:
        kernel = np.squeeze(kernel, axis=kernel.shape.index(1))
    kernel = kernel.reshape((1,) * (2 - kernel.ndim) + kernel.shape) if kernel.ndim < 2 else kernel
    if kernel.ndim not in (2, 3):
        raise ValueError(f"A kernel must be 2D (YX) or 3D (ZYX) after dropping length-1 axes; got shape "
                         f"{kernel.shape}. Pass a single plane or a z-stack (average colour channels first).")
    if not np.isfinite(kernel).all():
        raise ValueError("The kernel contains NaN or infinite values; replace them (e.g. np.nan_to_num) first.")
    peak = kernel.max()
    if kernel.min() < -1e-6 * max(peak, 0):
        raise ValueError(f"The kernel has negative values (min {kernel.min():.3g}); a blur kernel must be "
                         "non-negative: subtract the background and clip at 0 (np.clip(kernel, 0, None)).")
    kernel = np.clip(kernel, 0, None)  # only rounding-level negatives remain
    if not kernel.sum() > 0:
        raise ValueError("The kernel sums to 0; it needs at least one positive value.")
    if kernel.ndim == 2:
        return finish_kernel(kernel)
    kernel = _pad_odd(kernel)
    return (kernel / kernel.sum()).astype(np.float32)
