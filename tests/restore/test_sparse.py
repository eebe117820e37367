"""The hyper-Laplacian deconvolution: beats Wiener where it should, keeps dtypes, refuses what it cannot do."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

import napari_deblur as nd
from napari_deblur.restore.sparse import shrink


def _psnr(x, sharp):
    return float(-10 * np.log10(np.mean((np.clip(x, 0, 1) - sharp)[8:-8, 8:-8] ** 2)))


@pytest.mark.parametrize("sigma", [0.01, 0.03])
def test_it_beats_wiener_with_the_true_kernel_at_its_automatic_weight(sharp, motion_kernel, sigma):
    rng = np.random.default_rng(0)
    blurred = np.clip(ndimage.convolve(sharp, motion_kernel, mode="reflect") + rng.normal(0, sigma, sharp.shape), 0, 1)
    blurred = blurred.astype(np.float32)
    common = {"psf": motion_kernel, "psf_centering": "array"}
    wiener = max(_psnr(nd.deblur(blurred, "wiener", balance=b, **common), sharp) for b in (0.003, 0.01, 0.03))
    sparse = _psnr(nd.deblur(blurred, "hyper_laplacian", **common), sharp)
    assert sparse > _psnr(blurred, sharp) + 2.0
    assert sparse > wiener  # against Wiener at the best of three balances


def test_dtype_shape_and_a_delta_kernel_leaves_the_image_as_it_is(sharp):
    image = (sharp * 255).round().astype(np.uint8)
    out = nd.deblur(image, "hyper_laplacian", psf=np.ones((5, 5)) / 25)
    assert out.dtype == np.uint8 and out.shape == image.shape
    np.testing.assert_array_equal(nd.deblur(image, "hyper_laplacian", psf=np.ones((1, 1))), image)


def test_shrinkage_and_refusals():
    v = np.linspace(-2, 2, 401)
    import torch

    g = shrink(torch.tensor(v), 0.1, 0.8).numpy()
    # The minimizer of |g|^p + (g - v)^2 / (2 t), checked by brute force on a grid.
    grid = np.linspace(-2.5, 2.5, 20001)
    cost = np.abs(grid)[None] ** 0.8 + (grid[None] - v[:, None]) ** 2 / 0.2
    np.testing.assert_allclose(g, grid[cost.argmin(1)], atol=2e-3)
    with pytest.raises(ValueError, match="weight"):
        nd.deblur(np.zeros((32, 32), np.float32), "hyper_laplacian", psf=np.ones((3, 3)), weight=-1)
    with pytest.raises(ValueError, match="2D PSF"):
        nd.deblur(np.zeros((8, 32, 32), np.float32), "hyper_laplacian", psf=np.ones((3, 3, 3)), axes="ZYX")
