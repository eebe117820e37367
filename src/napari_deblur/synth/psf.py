"""Microscope point-spread functions, sampled to an image's pixel size, via ``psfmodels``.

Models: ``"scalar"`` (Gibson & Lanni, JOSA A 8(10), 1991), ``"vectorial"`` (Aguet et al., Opt. Express 17(8),
2009) and ``"gaussian"`` (the Gaussian approximation of Zhang et al., Appl. Opt. 46(10), 2007; fast, but blind to
``depth``). Every PSF returned here is float32, non-negative, sums to 1, has odd sides and its peak at the centre
voxel. Lengths are in µm. The objective is assumed to be used as designed (immersion and coverslip as specified),
so the only aberration modelled is the refractive-index mismatch between sample (``ns``) and immersion (``ni``),
which grows with the emitter's ``depth`` below the coverslip.

Default sizes
-------------
``nz`` = the odd number of planes covering 4 x the theoretical axial FWHM (at least 3, at most 65).
``nxy`` = the odd number of pixels covering the widest of: 4 x the lateral FWHM plus 4 pixels; 3 x the Airy
first-zero diameter (1.22 λ/NA); and the geometric light cone at the farthest plane from focus (outermost plane
of the stack, or ``defocus`` for a single plane; not for the Gaussian model, whose width does not grow out of
focus) plus one Airy diameter. Capped at 129.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import psfmodels

Model = Literal["scalar", "vectorial", "gaussian"]
MODELS: tuple[str, ...] = ("scalar", "vectorial", "gaussian")
MAX_NXY = 129
MAX_NZ = 65
_FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))


def theoretical_fwhm(na: float, wavelength: float, ni: float = 1.515) -> tuple[float, float]:
    """Widefield (lateral, axial) FWHM in µm: ``0.51 λ/NA`` and ``0.88 λ / (ni - sqrt(ni² - NA²))``.

    These are the standard widefield resolution approximations, as tabulated e.g. by Cole, Jinadasa & Brown,
    "Measuring and interpreting point spread functions to determine confocal microscope resolution and ensure
    quality control", Nat. Protoc. 6(12), 2011 (Table 1). They assume no aberration (``ns == ni``).
    """
    if not 0 < na < ni:
        raise ValueError(f"na must be > 0 and smaller than ni ({ni}); got na={na}. Lower na or raise ni.")
    if wavelength <= 0:
        raise ValueError(f"wavelength must be > 0 (µm); got {wavelength}.")
    return 0.51 * wavelength / na, 0.88 * wavelength / (ni - math.sqrt(ni * ni - na * na))


def gaussian_psf_sigma(na: float, wavelength: float, ni: float = 1.515) -> tuple[float, float]:
    """(lateral, axial) standard deviations in µm of the Gaussian with the theoretical widefield FWHMs."""
    lateral, axial = theoretical_fwhm(na, wavelength, ni)
    return lateral / _FWHM_PER_SIGMA, axial / _FWHM_PER_SIGMA


def _fwhm_1d(profile: np.ndarray, peak: int, spacing: float) -> float:
    """Width at half the value at ``peak``, with linearly interpolated crossings on either side."""
    half = profile[peak] / 2.0
    below = np.flatnonzero(profile <= half)
    left, right = below[below < peak], below[below > peak]
    if left.size == 0 or right.size == 0:
        raise ValueError("The profile does not fall to half its maximum inside the array; use a larger PSF.")
    lo, hi = left[-1], right[0]
    # Fraction of the step from the last sample above half maximum to the first one below it.
    x_left = lo + (half - profile[lo]) / (profile[lo + 1] - profile[lo])
    x_right = hi - (half - profile[hi]) / (profile[hi - 1] - profile[hi])
    return float((x_right - x_left) * spacing)


def measure_fwhm(psf: np.ndarray, pixel_size: float, z_step: float | None = None) -> tuple[float, ...]:
    """FWHM in µm through the peak voxel: ``(lateral,)`` for 2D, ``(lateral, axial)`` for 3D (z, y, x).

    The lateral width is taken along x (the last axis), the axial one along z (the first); each uses linear
    interpolation between the samples that straddle half the peak value.
    """
    psf = np.asarray(psf, dtype=np.float64)
    if psf.ndim not in (2, 3):
        raise ValueError(f"psf must be 2D (y, x) or 3D (z, y, x); got {psf.ndim} dimensions.")
    if psf.ndim == 3 and z_step is None:
        raise ValueError("A 3D psf needs z_step (µm) to measure its axial FWHM.")
    peak = np.unravel_index(int(np.argmax(psf)), psf.shape)
    lateral = _fwhm_1d(psf[peak[:-1]], peak[-1], pixel_size)
    if psf.ndim == 2:
        return (lateral,)
    return lateral, _fwhm_1d(psf[:, peak[1], peak[2]], peak[0], float(z_step))


def _odd(n: float, low: int, high: int) -> int:
    """The odd integer >= ``n``, clipped to [low, high] (both odd)."""
    k = math.ceil(n - 1e-9)
    return min(max(k + 1 - k % 2, low), high)


def _check(na: float, wavelengths: dict[str, float], ni: float, ns: float, pixel_size: float, z_step: float,
           depth: float, model: str, nz: int | None, nxy: int | None, ndim: int) -> None:
    if model not in MODELS:
        raise ValueError(f"Unknown model {model!r}; use one of {', '.join(MODELS)}.")
    if ndim not in (2, 3):
        raise ValueError(f"ndim must be 2 (one plane) or 3 (a z-stack); got {ndim}.")
    if ni <= 0 or ns <= 0:
        raise ValueError(f"Refractive indices must be > 0; got ni={ni}, ns={ns}.")
    if not 0 < na < ni:
        raise ValueError(f"na must be > 0 and smaller than the immersion index ni={ni}; got na={na}. "
                         "Lower na or use a denser immersion medium (raise ni).")
    for name, value in (*wavelengths.items(), ("pixel_size", pixel_size), ("z_step", z_step)):
        if not value > 0:
            raise ValueError(f"{name} must be > 0 (µm); got {value}.")
    if depth < 0:
        raise ValueError(f"depth is the emitter's distance below the coverslip and must be >= 0; got {depth}.")
    for name, n in (("nxy", nxy), ("nz", nz)):
        if n is not None and (int(n) != n or n < 3 or n % 2 == 0):
            raise ValueError(f"{name} must be an odd integer >= 3 so the PSF has a centre voxel; got {n}.")


def _effective_fwhm(na: float, wavelengths: tuple[float, ...], ni: float) -> tuple[float, float]:
    # A product of PSFs is approximately a product of Gaussians, whose inverse squared widths add.
    widths = np.array([theoretical_fwhm(na, w, ni) for w in wavelengths])
    lateral, axial = (1.0 / np.sqrt((1.0 / widths**2).sum(axis=0))).tolist()
    return lateral, axial


def _default_nz(na: float, wavelength: float, ni: float, z_step: float) -> int:
    return _odd(4.0 * theoretical_fwhm(na, wavelength, ni)[1] / z_step, 3, MAX_NZ)


def _default_nxy(na: float, wavelength: float, ni: float, pixel_size: float, farthest_z: float) -> int:
    lateral = theoretical_fwhm(na, wavelength, ni)[0]
    airy = 1.22 * wavelength / na
    # Out of focus the light fills the objective's cone; its half-angle in the immersion is asin(NA/ni).
    sin_a = min(na / ni, 0.95)
    cone = 2.0 * farthest_z * sin_a / math.sqrt(1.0 - sin_a**2) + airy
    width = max(4.0 * lateral + 4.0 * pixel_size, 3.0 * airy, cone)
    return _odd(width / pixel_size, 3, MAX_NXY)


def _model_planes(offsets: np.ndarray, nxy: int, wavelengths: tuple[float, ...], depth: float, kw: dict) -> np.ndarray:
    """Product over ``wavelengths`` of psfmodels' PSFs at focus positions ``offsets`` (µm from the emitter)."""
    if kw["model"] == "gaussian":
        # psfmodels' Gaussian is centred on z = 0 and ignores the emitter depth (it warns if given one).
        zv, pz = offsets, 0.0
    else:
        zv, pz = offsets + depth, depth
    out = np.ones((offsets.size, nxy, nxy))
    for wavelength in wavelengths:
        out *= psfmodels.make_psf(zv, nxy, pz=pz, wvl=wavelength, normalize=False, **kw)
    return out


def _best_focus(wavelengths: tuple[float, ...], axial_fwhm: float, depth: float, kw: dict) -> float:
    """Focus offset (µm from the emitter) that maximises the on-axis intensity.

    Index mismatch shifts the intensity peak away from the nominal focus, so the stack is centred on the
    measured maximum instead, which keeps the peak on the centre voxel. Coarse-to-fine grid search on a
    one-pixel column, which psfmodels computes in about a millisecond.
    """
    if kw["model"] == "gaussian":
        return 0.0
    centre = 0.0
    step = axial_fwhm / 4.0
    # The paraxial focal shift from index mismatch, depth * |ni/ns - 1|, bounds the peak's shift (at high NA
    # psfmodels' peak moves less than half as far); search that plus the main lobe. Deep planes are costly.
    half_range = 3.0 * axial_fwhm + depth * abs(kw["ni"] / kw["ns"] - 1.0)
    k = math.ceil(half_range / step)
    for _ in range(3):
        # Offsets built as centre + step * integer keep the centre itself on the grid exactly.
        offsets = centre + step * np.arange(-k, k + 1)
        axis = _model_planes(offsets, 1, wavelengths, depth, kw)[:, 0, 0]
        centre = float(offsets[int(np.argmax(axis))])
        step, k = step / 10.0, 10
    return centre


def _psf(named_wavelengths: dict[str, float], *, na: float, ni: float, ns: float, pixel_size: float, z_step: float,
         depth: float, model: str, nz: int | None, nxy: int | None, defocus: float, ndim: int) -> np.ndarray:
    _check(na, named_wavelengths, ni, ns, pixel_size, z_step, depth, model, nz, nxy, ndim)
    wavelengths = tuple(named_wavelengths.values())
    lateral, axial = _effective_fwhm(na, wavelengths, ni)
    if pixel_size > lateral:
        raise ValueError(f"pixel_size {pixel_size} µm is larger than the PSF's lateral FWHM (~{lateral:.3f} µm), "
                         f"which badly undersamples it; use a pixel size of at most {lateral / 2:.3f} µm.")
    longest = max(wavelengths)
    if ndim == 3:
        nz = nz or _default_nz(na, longest, ni, z_step)
        offsets = z_step * np.arange(-(nz // 2), nz // 2 + 1)
    else:
        offsets = np.array([float(defocus)])
    # The Gaussian model's planes all share one lateral width, so it has no out-of-focus cone to fit.
    farthest_z = 0.0 if model == "gaussian" else float(np.abs(offsets).max())
    nxy = nxy or _default_nxy(na, longest, ni, pixel_size, farthest_z)
    # Design values equal to the actual ones: index mismatch at depth is the only aberration.
    kw = dict(dxy=pixel_size, NA=na, ni=ni, ni0=ni, ns=ns, model=model)
    focus = _best_focus(wavelengths, axial, depth, kw)
    psf = np.clip(_model_planes(offsets + focus, int(nxy), wavelengths, depth, kw), 0.0, None)
    psf /= psf.sum()
    psf = psf.astype(np.float32)
    return psf if ndim == 3 else psf[0]


def widefield_psf(*, na: float = 1.4, wavelength: float = 0.52, ni: float = 1.515, ns: float = 1.33,
                  pixel_size: float = 0.1, z_step: float = 0.2, depth: float = 0.0, model: Model = "scalar",
                  nz: int | None = None, nxy: int | None = None, defocus: float = 0.0, ndim: int = 3) -> np.ndarray:
    """Widefield fluorescence PSF.

    Parameters
    ----------
    na : float
        Numerical aperture; must be below ``ni``. An NA above ``ns`` is allowed but reaches supercritical
        angles: the part of the pupil beyond ``ns`` only collects evanescent (near-coverslip) light.
    wavelength : float
        Emission wavelength in µm.
    ni, ns : float
        Refractive indices of the immersion medium and of the sample.
    pixel_size, z_step : float
        Lateral pixel size and axial plane spacing in µm (sample space). A pixel larger than the lateral FWHM
        is refused.
    depth : float
        Depth of the emitter below the coverslip in µm. With ``ns != ni`` it adds spherical aberration
        (axial asymmetry and a focal shift) and makes psfmodels slower (about 1 s per 10 planes of 53 x 53 at
        100 µm). Ignored by the ``"gaussian"`` model.
    model : {"scalar", "vectorial", "gaussian"}
        Gibson–Lanni scalar, Aguet et al. vectorial, or the Gaussian approximation (fastest). The Gaussian is
        separable in z: its planes differ only in brightness, so a single plane is the same at any ``defocus``.
    nz, nxy : int, optional
        Odd sizes; the defaults follow the rule in this module's docstring.
    defocus : float
        For ``ndim=2``: distance of the plane from best focus in µm (positive moves the nominal focus deeper,
        away from the coverslip). Only that plane is computed. Ignored for ``ndim=3``.
    ndim : int
        3 for a ``(nz, nxy, nxy)`` stack centred on best focus, 2 for a single ``(nxy, nxy)`` plane.

    Returns
    -------
    numpy.ndarray
        float32, non-negative, sums to 1, peak at the centre voxel (for ``defocus=0``). "Best focus" is the
        maximum of the on-axis intensity, which index mismatch moves away from the nominal focus.
    """
    return _psf({"wavelength": wavelength}, na=na, ni=ni, ns=ns, pixel_size=pixel_size, z_step=z_step, depth=depth,
                model=model, nz=nz, nxy=nxy, defocus=defocus, ndim=ndim)


def confocal_psf(*, na: float = 1.4, excitation_wavelength: float = 0.488, wavelength: float = 0.52,
                 ni: float = 1.515, ns: float = 1.33, pixel_size: float = 0.1, z_step: float = 0.2,
                 depth: float = 0.0, model: Model = "scalar", nz: int | None = None, nxy: int | None = None,
                 defocus: float = 0.0, ndim: int = 3) -> np.ndarray:
    """Ideal (pinhole → 0) confocal PSF: excitation PSF x emission PSF, renormalized to sum 1.

    Both factors come from the same model and grid, evaluated at ``excitation_wavelength`` and ``wavelength``
    (µm); best focus is the maximum of their on-axis product. The pixel-size check uses the confocal lateral
    FWHM (about 1/sqrt(2) of the widefield one for equal wavelengths); the default sizes use the widefield rule
    at the longer wavelength, which is generous for the tighter confocal PSF. Other parameters and the return
    value are as in :func:`widefield_psf`.
    """
    wavelengths = {"excitation_wavelength": excitation_wavelength, "wavelength": wavelength}
    return _psf(wavelengths, na=na, ni=ni, ns=ns, pixel_size=pixel_size, z_step=z_step, depth=depth, model=model,
                nz=nz, nxy=nxy, defocus=defocus, ndim=ndim)
