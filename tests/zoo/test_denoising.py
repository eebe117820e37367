"""The trained denoiser as methods: ``denoise`` alone and ``pnp`` deconvolution (zoo/denoising.py).

Shapes, dtypes and axes with untrained weights (fast); the gains with the shipped drunet-small.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

import napari_deblur as nd
from napari_deblur.zoo import create, save_model

RANDOM = {"weights": "random"}


def _psnr(x: np.ndarray, truth: np.ndarray) -> float:
    return float(-10 * np.log10(np.mean((np.clip(x, 0, 1) - truth) ** 2)))


def test_both_methods_are_registered_with_their_parameters():
    pnp, denoise = nd.get_method("pnp"), nd.get_method("denoise")
    assert pnp.needs_psf and not denoise.needs_psf
    assert {"noise", "iterations", "strength", "planes", "weights", "precision"} <= {p.name for p in pnp.params}
    assert {"noise", "weights"} <= {p.name for p in denoise.params}
    with pytest.raises(ValueError, match="needs a PSF"):
        nd.deblur(np.zeros((32, 32), np.float32), "pnp", **RANDOM)


@pytest.mark.parametrize("shape, axes, psf_shape", [
    ((48, 40), "YX", (5, 5)),
    ((40, 48, 3), "YXC", (5, 5)),
    ((6, 32, 40), "ZYX", (3, 5, 5)),
    ((2, 5, 32, 32), "CZYX", (3, 3, 3)),
])
def test_pnp_keeps_shape_dtype_and_axes(shape, axes, psf_shape):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, shape).astype(np.uint8)
    psf = np.ones(psf_shape, np.float32)
    out = nd.deblur(image, "pnp", psf=psf, axes=axes, iterations=2, **RANDOM)
    assert out.shape == image.shape and out.dtype == np.uint8


def test_denoise_keeps_shape_and_dtype_of_uint16_stacks():
    image = np.random.default_rng(1).integers(100, 4000, (3, 40, 56)).astype(np.uint16)
    out = nd.deblur(image, "denoise", axes="ZYX", **RANDOM)
    assert out.shape == image.shape and out.dtype == np.uint16


def test_a_model_that_is_not_a_denoiser_is_refused(tmp_path):
    path = save_model(create("nafnet", "small"), tmp_path / "not_a_denoiser.safetensors",
                      {"family": "nafnet", "size": "small", "config": {}})
    with pytest.raises(ValueError, match="not a denoiser"):
        nd.deblur(np.zeros((32, 32), np.float32), "denoise", weights=str(path))


def test_the_denoiser_measures_the_noise_level_when_not_given():
    net = create("drunet", "small").eval()
    x = torch.rand(2, 1, 40, 40)
    with torch.inference_mode():
        from napari_deblur.restore.noise import noise_sigma

        measured = torch.tensor([noise_sigma(image[0].numpy()) for image in x])
        assert torch.allclose(net(x), net(x, measured), atol=1e-5)
        assert not torch.allclose(net(x, 0.0), net(x, 0.2))


@pytest.mark.parametrize("sigma", [15 / 255, 50 / 255])
def test_the_shipped_denoiser_removes_noise_with_the_level_given_or_measured(sharp, sigma):
    noisy = (sharp + np.random.default_rng(2).normal(0, sigma, sharp.shape)).astype(np.float32)
    given = nd.deblur(noisy, "denoise", noise=sigma, intensity_range=(0, 1), output_dtype="float32")
    measured = nd.deblur(noisy, "denoise", intensity_range=(0, 1), output_dtype="float32")
    gain = _psnr(given, sharp) - _psnr(noisy, sharp)
    assert gain > (6.0 if sigma < 0.1 else 10.0)
    assert _psnr(measured, sharp) > _psnr(given, sharp) - 0.5


@pytest.mark.parametrize("noise, over_rl", [(0.01, None), (0.03, 0.5)])
def test_pnp_gains_over_wiener_and_on_noisy_data_over_richardson_lucy(sharp, motion_kernel, noise, over_rl):
    """On a small case with the true kernel, pnp at its defaults beats Wiener at the best of three balances; on noisy
    data it also beats Richardson-Lucy at its defaults. (At sigma 0.01 Richardson-Lucy's noise-measured defaults
    are 0.8 dB ahead of pnp on this case; benchmarks/pnp.py has the whole table.)"""
    rng = np.random.default_rng(3)
    blurred = np.clip(ndimage.convolve(sharp, motion_kernel, mode="reflect") + rng.normal(0, noise, sharp.shape),
                      0, 1).astype(np.float32)
    wiener = max(_psnr(nd.deblur(blurred, "wiener", psf=motion_kernel, balance=b), sharp) for b in (3e-3, 1e-2, 3e-2))
    pnp = _psnr(nd.deblur(blurred, "pnp", psf=motion_kernel), sharp)
    assert pnp > wiener + 0.5, (pnp, wiener)
    if over_rl is not None:
        rl = _psnr(nd.deblur(blurred, "richardson_lucy", psf=motion_kernel), sharp)
        assert pnp > rl + over_rl, (pnp, rl)


def test_a_denoiser_file_given_as_a_method_says_how_to_use_it(tmp_path):
    path = save_model(create("drunet", "small"), tmp_path / "mine.safetensors",
                      {"family": "drunet", "size": "small", "config": {}})
    with pytest.raises(ValueError, match="weights of the pnp or denoise method"):
        nd.deblur(np.zeros((32, 32), np.float32), str(path))
    assert nd.deblur(np.zeros((32, 32), np.float32), "denoise", weights=str(path)).shape == (32, 32)


def test_pnp_takes_every_psf_source_and_lazy_arrays(sharp, blurred, motion_kernel):
    """An estimated kernel (the blind path can end with pnp) and a dask array (chunk by chunk) work as for the
    classical methods."""
    import dask.array as da

    estimated = nd.deblur(blurred, "pnp", psf="estimate", iterations=2, **RANDOM)
    assert estimated.shape == blurred.shape and estimated.dtype == blurred.dtype
    stack = da.from_array(np.stack([blurred, blurred]), chunks=(1, 96, 192))
    lazy = nd.deblur(stack, "pnp", psf=motion_kernel, axes="TYX", iterations=2, **RANDOM)
    assert isinstance(lazy, da.Array) and lazy.compute().shape == (2, *blurred.shape)
