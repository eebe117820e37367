"""psf="widefield"/"confocal": the PSF generated from the optics for the image, checked against its sampling."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
from scipy import signal

import napari_deblur as nd
from napari_deblur.cli import main
from napari_deblur.psfs import optics_psf, psf_for_image
from napari_deblur.synth.scenes import random_scene

OPTICS = {"na": 1.2, "wavelength": 0.6, "pixel_size": 0.1}


def _fitted_psnr(x, truth):
    a, b = np.polyfit(x.ravel().astype(float), truth.ravel(), 1)
    return float(-10 * np.log10(np.mean((a * x + b - truth) ** 2)))


@pytest.fixture(scope="module")
def widefield_image():
    rng = np.random.default_rng(2)
    sharp = random_scene((128, 128), "fluorescence", seed=7)
    psf = optics_psf("widefield", ndim=2, **OPTICS)
    raw = rng.poisson(np.clip(signal.fftconvolve(sharp, psf, mode="same"), 0, None) * 500) + 100
    return raw.astype(np.uint16), sharp, psf


def test_deblur_with_the_microscopes_psf_by_name(widefield_image):
    raw, sharp, psf = widefield_image
    by_name = nd.deblur(raw, "richardson_lucy", psf="widefield", iterations=20, **OPTICS)
    by_array = nd.deblur(raw, "richardson_lucy", psf=psf, iterations=20)
    assert by_name.dtype == raw.dtype and by_name.shape == raw.shape
    np.testing.assert_array_equal(by_name, by_array)
    assert _fitted_psnr(by_name, sharp) > _fitted_psnr(raw, sharp) + 1.0


def test_pixel_sizes_that_cannot_be_right_are_refused(widefield_image):
    raw, _, _ = widefield_image
    with pytest.raises(ValueError, match="narrower than one pixel.*check pixel_size"):
        nd.deblur(raw, "wiener", psf="widefield", na=1.2, wavelength=0.6, pixel_size=0.65)  # camera pixel, no 100x
    with pytest.raises(ValueError, match="too wide for an image of 128 pixels"):
        nd.deblur(raw, "wiener", psf="widefield", na=1.2, wavelength=0.6, pixel_size=0.005)
    with pytest.raises(ValueError, match="not a known PSF"):
        nd.deblur(raw, "wiener", psf="spinning-disk")


def test_a_stack_gets_a_3d_psf_cut_to_its_depth():
    stack = np.random.default_rng(0).random((9, 64, 64)).astype(np.float32)
    psf = psf_for_image("confocal", stack.shape, "ZYX", None, {"z_step": 0.3, **OPTICS})[0]
    assert psf.ndim == 3 and psf.shape[0] <= 9 and psf.shape[0] % 2 == 1 and abs(psf.sum() - 1) < 1e-5
    out = nd.deblur(stack, "richardson_lucy", psf="confocal", axes="ZYX", z_step=0.3, iterations=3, **OPTICS)
    assert out.shape == stack.shape and out.dtype == stack.dtype
    with pytest.raises(ValueError, match="deeper than the stack"):
        nd.deblur(stack, "wiener", psf="widefield", axes="ZYX", z_step=0.01, **OPTICS)


def test_command_line(widefield_image, tmp_path, capsys):
    raw, _, psf = widefield_image
    flags = ["--na", "1.2", "--wavelength", "0.6", "--pixel-size", "0.1"]
    assert main(["psf", "optics", str(tmp_path / "psf.tif"), "--ndim", "2", *flags]) == 0
    np.testing.assert_allclose(tifffile.imread(tmp_path / "psf.tif"), psf, atol=1e-6)
    tifffile.imwrite(tmp_path / "raw.tif", raw)
    out = tmp_path / "sharp.tif"
    assert main(["deblur", str(tmp_path / "raw.tif"), str(out), "--psf", "widefield", "--iterations", "20",
                 *flags]) == 0
    np.testing.assert_array_equal(tifffile.imread(out), nd.deblur(raw, "richardson_lucy", psf=psf, iterations=20))
    with pytest.raises(SystemExit, match="--na .*the optics flags are for --psf widefield or confocal"):
        main(["deblur", str(tmp_path / "raw.tif"), str(tmp_path / "x.tif"), "--psf", str(tmp_path / "psf.tif"),
              "--na", "1.2"])
