"""Checking and preparing a user's PSF (point-spread function) for FFT deconvolution.

A PSF arrives from a file, a layer or an array of any size up to the image. Before use it is validated
(finite, non-negative, positive sum, right dimensionality), optionally resampled to the image's voxel size,
normalized to sum 1 and centred, so that deconvolution neither shifts the image nor changes its brightness.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import torch
from scipy import ndimage


def validate_psf(psf: object) -> np.ndarray:
    """Return ``psf`` as a float64 array with singleton axes removed, or raise ``ValueError``."""
    if psf is None:
        raise ValueError("A PSF is required; pass psf=<2D or 3D array> (or --psf FILE on the command line).")
    arr = np.asarray(psf)
    if arr.dtype.kind not in "uif":
        raise ValueError(f"The PSF must be a real-valued array; got dtype {arr.dtype}.")
    arr = arr.astype(np.float64)
    while arr.ndim > 2 and 1 in arr.shape:  # singleton axes go, but never below 2D: (1, 9) is a motion kernel
        arr = np.squeeze(arr, axis=arr.shape.index(1))
    if arr.ndim not in (2, 3):
        raise ValueError(
            f"The PSF must be 2D (YX) or 3D (ZYX) after removing singleton axes; got shape {np.shape(psf)}."
        )
    if not np.all(np.isfinite(arr)):
        raise ValueError("The PSF contains NaN or Inf values; replace them (e.g. with 0) before deblurring.")
    if arr.min() < 0:
        # Tiny negatives are common after background subtraction; clip those, refuse real ones.
        if arr.min() < -1e-3 * arr.max():
            raise ValueError(
                "The PSF has negative values; subtract the background and clip at 0 "
                "(e.g. np.clip(psf - background, 0, None)) before deblurring."
            )
        arr = np.clip(arr, 0, None)
    if arr.sum() <= 0:
        raise ValueError("The PSF sums to zero; it must contain a positive spot.")
    return arr


def resample_psf(psf: np.ndarray, scale: Sequence[float]) -> np.ndarray:
    """Resample ``psf`` by ``scale`` per axis (PSF voxel size / image voxel size), anti-aliased.

    The output grid is odd-sized and centred on the PSF's centre of mass, so resampling never moves the
    PSF by a fraction of a pixel (which would shift the deblurred image).
    """
    scale = tuple(float(s) for s in scale)
    if all(abs(s - 1.0) < 1e-9 for s in scale):
        return psf
    if any(s <= 0 for s in scale):
        raise ValueError(f"PSF scale factors must be positive; got {scale}.")
    # Pre-smooth when shrinking (as skimage.transform.rescale's anti_aliasing does), then cubic sampling.
    sigma = [max(0.0, (1.0 / s - 1.0) / 2.0) for s in scale]
    smoothed = ndimage.gaussian_filter(psf, sigma) if any(sigma) else psf
    com = np.array(ndimage.center_of_mass(psf))
    half = [int(np.ceil(max(c, n - 1 - c) * s)) for c, n, s in zip(com, psf.shape, scale)]
    grids = np.meshgrid(*[c + (np.arange(-h, h + 1)) / s for c, h, s in zip(com, half, scale)], indexing="ij")
    out = ndimage.map_coordinates(smoothed, grids, order=3, mode="constant", cval=0.0)
    return np.clip(out, 0, None)


def center_psf(psf: np.ndarray, centering: str) -> np.ndarray:
    """Normalize to sum 1 and make the array centre the PSF's origin.

    ``"mass"`` moves the centre of mass (rounded to whole pixels, so nothing is interpolated) to the array
    centre, padding as needed: a measured PSF that sits off-centre in its crop then does not shift the
    result. ``"array"`` keeps the array centre as the origin, the convention of ``scipy.ndimage.convolve``.
    The output always has odd sizes so that its centre is a pixel.
    """
    psf = psf / psf.sum()
    if centering == "array":
        pad_odd = [(0, 1 - s % 2) for s in psf.shape]
        # An even size has its origin at s // 2 (scipy's convention); one trailing zero keeps it there.
        return np.pad(psf, pad_odd)
    if centering != "mass":
        raise ValueError(f"psf_centering must be 'mass' or 'array'; got {centering!r}.")
    # Crop to the support first: big mostly-empty crops would only make the FFTs larger.
    support = np.nonzero(psf > 0)
    psf = psf[tuple(slice(idx.min(), idx.max() + 1) for idx in support)]
    com = np.array(ndimage.center_of_mass(psf))
    shift = np.rint(com).astype(int)
    # Half-width needed around the rounded centre of mass on each side, per axis.
    half = [max(c, s - 1 - c) for c, s in zip(shift, psf.shape)]
    out = np.zeros([2 * h + 1 for h in half])
    starts = [h - c for h, c in zip(half, shift)]
    out[tuple(slice(st, st + s) for st, s in zip(starts, psf.shape))] = psf
    return out


def prepare_psf(psf: object, *, scale: Sequence[float] | None = None, centering: str = "mass") -> np.ndarray:
    """Validate, resample, normalize and centre a PSF (its fit inside the image is the engine's check)."""
    arr = validate_psf(psf)
    if scale is not None:
        arr = resample_psf(arr, scale[-arr.ndim :])
    return center_psf(arr, centering).astype(np.float32)


def _next_smooth(n: int, primes: tuple[int, ...]) -> int:
    """Smallest m >= n whose prime factors are all in ``primes``."""
    m = max(int(n), 1)
    while True:
        r = m
        for p in primes:
            while r % p == 0:
                r //= p
        if r == 1:
            return m
        m += 1


def fft_shape(shape: Sequence[int]) -> tuple[int, ...]:
    """FFT-friendly sizes at least ``shape``: the padded grid of classical deconvolution.

    Measured with torch's CPU FFT on 2 cores (a forward and an inverse real FFT): in 2D a factor 7 costs more
    than the few extra pixels of the next size with factors 2, 3, 5 only (525x525 took 1.55 ms, 540x540 0.75 ms;
    1050 6.3 vs 1080 5.0; 2058 32.7 vs 2160 26.9), so planes use 5-smooth sizes. Volumes keep the tighter
    7-smooth sizes: there the two cost the same per voxel (224x196x196 82.8 ms, 225x200x200 88.0 ms;
    126x294x294 101.3, 128x300x300 106.6), so fewer voxels win.
    """
    primes = (2, 3, 5) if len(shape) < 3 else (2, 3, 5, 7)
    return tuple(_next_smooth(s, primes) for s in shape)


#: Light left outside the FFT margins, per axis: the margins need only hold the rest (``half_support``).
SUPPORT_LOSS = 1e-3


def half_support(psf: np.ndarray, lost: float = SUPPORT_LOSS) -> tuple[int, ...]:
    """Per axis, the half-width around the centre pixel that holds all but ``lost`` of the PSF's light.

    A measured or generated PSF is often stored far larger than its light (a 61x32x32 widefield PSF whose faint
    z tails hold a few per mille): FFT margins as wide as the array cost up to 4x the work of the image itself, for
    light that adds nothing measurable.
    """
    weights = np.abs(np.asarray(psf, dtype=np.float64))
    total = weights.sum()
    out = []
    for axis in range(weights.ndim):
        profile = weights.sum(axis=tuple(a for a in range(weights.ndim) if a != axis))
        centre, n = weights.shape[axis] // 2, weights.shape[axis]
        inside = np.array([profile[max(centre - h, 0):centre + h + 1].sum() for h in range(n)])
        out.append(int(np.argmax(inside >= (1 - lost) * total)) if total > 0 else centre)
    return tuple(out)


#: Light a PSF may lose, cut to the FFT grid, before a warning says so.
LOST_LIGHT_WARNING = 0.01


def fit_to_grid(psf: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """``psf`` cut around its centre pixel to at most ``shape``, renormalized to its sum.

    PSF generators and DeconvolutionLab2-style data sets ship PSFs as large as the image (a 64^3 PSF for a 64^3
    stack; odd-centred, so one voxel larger); on a periodic grid of the image's size, what lies beyond one period
    wraps onto itself, so the cut keeps one period around the centre and warns when more than 1 % of the light is
    lost.
    """
    if all(p <= s for p, s in zip(psf.shape, shape)):
        return psf
    index = tuple(slice(max(p // 2 - s // 2, 0), max(p // 2 - s // 2, 0) + min(p, s)) for p, s in zip(psf.shape, shape))
    cut = psf[index]
    total = float(psf.sum())
    lost = 1 - float(cut.sum()) / total if total > 0 else 0.0
    if lost > LOST_LIGHT_WARNING:
        warnings.warn(f"The PSF ({'x'.join(map(str, psf.shape))}) is larger than the FFT grid "
                      f"({'x'.join(map(str, shape))}): cut to it, it loses {100 * lost:.1f} % of its light. Pass a "
                      "smaller PSF or boundary='extend' to keep it whole.", RuntimeWarning, stacklevel=3)
    return (cut * (total / float(cut.sum()))).astype(np.float32) if lost > 0 else cut


def psf_to_otf(psf: np.ndarray, shape: Sequence[int], device: torch.device) -> torch.Tensor:
    """Zero-pad ``psf`` to ``shape`` with its centre pixel moved to index 0, and return its real FFT (a PSF larger
    than ``shape`` is first cut to it, :func:`fit_to_grid`)."""
    psf = fit_to_grid(psf, shape)
    padded = np.zeros(shape, dtype=np.float32)
    padded[tuple(slice(0, s) for s in psf.shape)] = psf
    padded = np.roll(padded, [-(s // 2) for s in psf.shape], axis=tuple(range(psf.ndim)))
    dims = tuple(range(-psf.ndim, 0))
    return torch.fft.rfftn(torch.from_numpy(padded).to(device), dim=dims)
