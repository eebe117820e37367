"""The kernel estimated from a blurred image (experimental): well-formed, and where it works it deblurs."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
from scipy import ndimage

import napari_deblur as nd
from napari_deblur.cli import main
from tests.conftest import shared_data


def _case(image: int, kernel: int):
    import imageio.v3 as iio

    sharp = iio.imread(shared_data("kodak24", f"kodim{image:02d}.png"))[100:356, 200:456, 1] / 255.0
    k = np.load(shared_data("levin09", f"k{kernel:02d}.npy"))
    rng = np.random.default_rng(0)
    blurred = np.clip(ndimage.convolve(sharp, k, mode="reflect") + rng.normal(0, 0.01, sharp.shape), 0, 1)
    return blurred.astype(np.float32), sharp, k


def _psnr(x, sharp, shift=6):
    r = shift
    return max(float(-10 * np.log10(np.mean((np.clip(np.roll(x, (dy, dx), (0, 1)), 0, 1) - sharp)[r:-r, r:-r] ** 2)))
               for dy in range(-r, r + 1) for dx in range(-r, r + 1))


def test_estimated_kernel_is_well_formed_and_deblurs_where_it_works():
    # Kodak 13 with Levin kernel 5: one of the crops where the estimate works (measured +4.4 dB; the benchmark
    # shows the spread, from -4 to +4 dB on crops).
    blurred, sharp, true = _case(13, 5)
    kernel = nd.estimate_kernel(blurred, 31)
    assert kernel.shape == (31, 31) and kernel.dtype == np.float32 and kernel.min() >= 0
    assert abs(kernel.sum() - 1) < 1e-5
    out = nd.deblur(blurred, "wiener", psf=kernel, balance=0.005, psf_centering="array")
    assert _psnr(out, sharp) > _psnr(blurred, sharp) + 2.0


def test_bad_requests_and_the_command_line(tmp_path):
    with pytest.raises(ValueError, match="odd"):
        nd.estimate_kernel(np.zeros((64, 64)), 30)
    with pytest.raises(ValueError, match="2D grey or colour"):
        nd.estimate_kernel(np.zeros((4, 64, 64)), 15)
    blurred, _, _ = _case(13, 5)
    tifffile.imwrite(tmp_path / "blurred.tif", blurred)
    assert main(["psf", "estimate", str(tmp_path / "blurred.tif"), str(tmp_path / "k.tif"), "--size", "21"]) == 0
    kernel = tifffile.imread(tmp_path / "k.tif")
    assert kernel.shape == (21, 21) and abs(kernel.sum() - 1) < 1e-4


def test_deblur_with_psf_estimate_from_the_api_and_the_command_line(tmp_path):
    blurred, sharp, _ = _case(13, 5)
    out = nd.deblur(blurred, "wiener", psf="estimate", kernel_size=31, balance=0.005)
    assert out.shape == blurred.shape and _psnr(out, sharp) > _psnr(blurred, sharp) + 2.0
    with pytest.raises(ValueError, match="one 2D image"):
        nd.deblur(np.stack([blurred] * 3), "wiener", psf="estimate", axes="ZYX")
    with pytest.raises(ValueError, match="not a known PSF"):
        nd.deblur(blurred, "wiener", psf="estimated")
    tifffile.imwrite(tmp_path / "blurred.tif", blurred)
    args = ["deblur", str(tmp_path / "blurred.tif"), str(tmp_path / "out.tif"), "--method", "wiener"]
    assert main([*args, "--psf", "estimate", "--kernel-size", "21"]) == 0
    assert tifffile.imread(tmp_path / "out.tif").shape == blurred.shape
    with pytest.raises(SystemExit, match="--kernel-size is for --psf estimate"):
        main([*args, "--psf", "widefield", "--kernel-size", "21", "--overwrite"])
