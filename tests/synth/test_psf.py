"""Microscope PSFs: normalization, geometry, resolution against theory, aberration and argument checks."""

from __future__ import annotations

import numpy as np
import pytest

from napari_deblur.synth.psf import (
    confocal_psf,
    gaussian_psf_sigma,
    measure_fwhm,
    theoretical_fwhm,
    widefield_psf,
)

MODELS = ["scalar", "vectorial", "gaussian"]
# Small grids keep the whole file fast on a shared two-core machine.
SMALL = dict(pixel_size=0.05, z_step=0.1, nxy=33, nz=17)
# Unaberrated oil immersion, and a dry objective; z steps near a tenth of the axial FWHM.
OIL = dict(na=1.4, ni=1.515, ns=1.515, wavelength=0.52, pixel_size=0.04, z_step=0.05, nxy=65, nz=33)
AIR = dict(na=0.8, ni=1.0, ns=1.0, wavelength=0.52, pixel_size=0.04, z_step=0.1, nxy=65, nz=33)


def _peak(psf: np.ndarray) -> tuple[int, ...]:
    return tuple(int(i) for i in np.unravel_index(int(np.argmax(psf)), psf.shape))


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("ndim", [2, 3])
@pytest.mark.parametrize("make", [widefield_psf, confocal_psf])
def test_normalized_odd_and_centred(make, model: str, ndim: int) -> None:
    psf = make(model=model, ndim=ndim, depth=3.0)
    assert psf.dtype == np.float32 and psf.ndim == ndim
    assert all(s % 2 == 1 for s in psf.shape)
    assert psf.min() >= 0
    assert abs(float(psf.sum(dtype=np.float64)) - 1.0) < 1e-5
    assert _peak(psf) == tuple(s // 2 for s in psf.shape)


def test_default_sizes_follow_optics() -> None:
    # Lower NA means a wider PSF, so the default grid grows; the caps hold for fine sampling.
    high, low = widefield_psf(na=1.4, model="gaussian"), widefield_psf(na=0.7, model="gaussian")
    assert low.shape[0] > high.shape[0] and low.shape[1] > high.shape[1]
    fine = widefield_psf(na=0.3, ni=1.0, ns=1.0, pixel_size=0.02, z_step=0.02, model="gaussian")
    assert fine.shape == (65, 129, 129)


def test_scalar_psf_is_rotationally_symmetric() -> None:
    psf = widefield_psf(model="scalar", depth=2.0, **SMALL)
    tol = 1e-3 * psf.max()
    np.testing.assert_allclose(psf, psf.transpose(0, 2, 1), atol=tol)
    np.testing.assert_allclose(psf, psf[:, ::-1, :], atol=tol)
    np.testing.assert_allclose(psf, psf[:, :, ::-1], atol=tol)


@pytest.mark.parametrize("optics", [OIL, AIR], ids=["oil-NA1.4", "air-NA0.8"])
@pytest.mark.parametrize("model", ["scalar", "gaussian"])
def test_fwhm_matches_theory(optics: dict, model: str) -> None:
    lateral, axial = measure_fwhm(widefield_psf(model=model, **optics), optics["pixel_size"], optics["z_step"])
    want_lateral, want_axial = theoretical_fwhm(optics["na"], optics["wavelength"], optics["ni"])
    assert lateral == pytest.approx(want_lateral, rel=0.10)
    assert axial == pytest.approx(want_axial, rel=0.10)


@pytest.mark.parametrize("optics", [OIL, AIR], ids=["oil-NA1.4", "air-NA0.8"])
def test_vectorial_fwhm(optics: dict) -> None:
    lateral, axial = measure_fwhm(widefield_psf(model="vectorial", **optics), optics["pixel_size"], optics["z_step"])
    want_lateral, want_axial = theoretical_fwhm(optics["na"], optics["wavelength"], optics["ni"])
    assert axial == pytest.approx(want_axial, rel=0.10)
    # The vectorial spot is genuinely wider than 0.51 λ/NA at high NA: the field's longitudinal component
    # (negligible in the paraxial theory behind the formula) adds intensity off axis. psfmodels gives ~+8 %
    # at NA 0.8 and ~+12 % at NA 1.4, independent of pixel integration (oversample_factor 1 or 3), so the
    # bound is widened here on purpose, and only on the wide side.
    assert 1.0 < lateral / want_lateral < (1.10 if optics["na"] < 1 else 1.20)


def test_focal_plane_matches_stack() -> None:
    stack = widefield_psf(model="scalar", depth=4.0, **SMALL)
    plane = widefield_psf(model="scalar", depth=4.0, ndim=2, defocus=0.0, **SMALL)
    focal = stack[stack.shape[0] // 2]
    np.testing.assert_allclose(plane / plane.sum(), focal / focal.sum(), rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("model", ["scalar", "vectorial"])
def test_defocus_spreads_the_plane(model: str) -> None:
    peaks = [widefield_psf(model=model, ndim=2, defocus=d, nxy=65, pixel_size=0.05).max() for d in (0.0, 0.4, 1.0)]
    assert peaks[0] > peaks[1] > peaks[2]
    # The defaults widen the grid with defocus, so the cone of light still fits.
    assert widefield_psf(model=model, ndim=2, defocus=2.0).shape[0] > widefield_psf(model=model, ndim=2).shape[0]


def test_gaussian_planes_do_not_spread() -> None:
    # psfmodels' Gaussian is separable in z: normalized to sum 1, every plane is the focal one (documented).
    focal = widefield_psf(model="gaussian", ndim=2, nxy=33)
    np.testing.assert_allclose(widefield_psf(model="gaussian", ndim=2, nxy=33, defocus=1.0), focal, atol=1e-7)


@pytest.mark.parametrize("optics", [OIL, AIR], ids=["oil-NA1.4", "air-NA0.8"])
def test_confocal_is_sharper(optics: dict) -> None:
    wide = measure_fwhm(widefield_psf(**optics), optics["pixel_size"], optics["z_step"])
    conf = measure_fwhm(confocal_psf(excitation_wavelength=optics["wavelength"], **optics),
                        optics["pixel_size"], optics["z_step"])
    # Squaring a PSF narrows it by about 1/sqrt(2) = 0.71.
    assert 0.6 < conf[0] / wide[0] < 0.85
    assert 0.6 < conf[1] / wide[1] < 0.85


def test_index_mismatch_breaks_axial_symmetry() -> None:
    matched = widefield_psf(model="scalar", depth=10.0, ni=1.515, ns=1.515, **SMALL)
    mismatched = widefield_psf(model="scalar", depth=10.0, ni=1.515, ns=1.33, **SMALL)
    assert np.abs(matched - matched[::-1]).max() < 1e-3 * matched.max()
    assert np.abs(mismatched - mismatched[::-1]).max() > 0.05 * mismatched.max()
    # The peak still sits on the centre voxel: the stack is centred on the shifted best focus.
    assert _peak(mismatched) == tuple(s // 2 for s in mismatched.shape)


def test_measure_fwhm_on_a_gaussian() -> None:
    sigma = 3.0
    x = np.arange(-20, 21)
    profile = np.exp(-(x**2) / (2 * sigma**2))
    image = np.outer(profile, profile)
    (fwhm,) = measure_fwhm(image, pixel_size=0.1)
    assert fwhm == pytest.approx(2.3548 * sigma * 0.1, rel=0.02)
    with pytest.raises(ValueError, match="z_step"):
        measure_fwhm(image[None].repeat(3, axis=0), pixel_size=0.1)
    assert gaussian_psf_sigma(1.4, 0.52)[0] == pytest.approx(theoretical_fwhm(1.4, 0.52)[0] / 2.3548, rel=1e-3)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(na=1.6, ni=1.515), "smaller than the immersion index"),
        (dict(na=1.0, ni=1.0), "smaller than the immersion index"),
        (dict(wavelength=-0.5), "wavelength must be > 0"),
        (dict(nxy=32), "nxy must be an odd integer"),
        (dict(nz=1), "nz must be an odd integer"),
        (dict(model="airy"), "Unknown model"),
        (dict(ndim=4), "ndim must be 2"),
        (dict(pixel_size=0.5), "use a pixel size of at most"),
        (dict(depth=-1.0), "depth"),
    ],
)
def test_bad_arguments(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        widefield_psf(**kwargs)


def test_bad_excitation_wavelength() -> None:
    with pytest.raises(ValueError, match="excitation_wavelength must be > 0"):
        confocal_psf(excitation_wavelength=0.0)
