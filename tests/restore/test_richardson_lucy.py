"""Richardson-Lucy's defaults: iterations and TV weight from the measured noise, and borders from the image."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage
from skimage.metrics import peak_signal_noise_ratio as psnr

import napari_deblur as nd
from napari_deblur.restore.padding import wrap_safe_axes
from napari_deblur.restore.richardson_lucy import (
    AUTO_ITERATIONS,
    TV_PER_SIGMA,
    RichardsonLucyDeconvolver,
    auto_settings,
)


def _blurred(sharp, kernel, sigma, seed=0):
    rng = np.random.default_rng(seed)
    return np.clip(ndimage.convolve(sharp, kernel, mode="reflect") + rng.normal(0, sigma, sharp.shape), 0, 1)


def _deconvolver(kernel, **kw) -> RichardsonLucyDeconvolver:
    return RichardsonLucyDeconvolver(kernel.astype(np.float32), torch.device("cpu"), kw.pop("iterations", 0),
                                     kw.pop("tv_weight", 0.0), **kw)


def test_auto_stops_early_on_noisy_data_and_runs_longer_on_clean(sharp, motion_kernel):
    clean, noisy = (torch.from_numpy(_blurred(sharp, motion_kernel, s).astype(np.float32))[None, None]
                    for s in (0.003, 0.04))
    rl = _deconvolver(motion_kernel)
    (clean_its, clean_tv), (noisy_its, noisy_tv) = rl.settings(clean), rl.settings(noisy)
    assert AUTO_ITERATIONS[0] <= noisy_its < clean_its <= AUTO_ITERATIONS[1]
    assert noisy_its <= 60 and clean_its >= 150, (noisy_its, clean_its)
    # The TV weight follows the noise level (one per image of the batch).
    assert float(noisy_tv) == pytest.approx(TV_PER_SIGMA * 0.04, rel=0.25)
    assert float(clean_tv) < float(noisy_tv) / 5


def test_auto_settings_one_count_per_batch_from_its_noisiest_image():
    iterations, tv = auto_settings(torch.tensor([[0.01], [0.05]]))
    assert iterations == AUTO_ITERATIONS[0] + 10  # 1.5 / 0.05 = 30
    assert torch.allclose(tv, TV_PER_SIGMA * torch.tensor([[0.01], [0.05]]))
    # Photon counts (all shot noise) get twice the TV weight of noise of one level.
    _, photon_tv = auto_settings(torch.full((1, 1), 0.02), torch.ones(1, 1))
    assert float(photon_tv) == pytest.approx(2 * TV_PER_SIGMA * 0.02)
    assert auto_settings(torch.zeros(1, 1))[0] == AUTO_ITERATIONS[1]  # nothing to fear from noise
    assert auto_settings(torch.full((1, 1), 1e-5))[0] == AUTO_ITERATIONS[1]
    assert auto_settings(torch.full((1, 1), 0.5))[0] == AUTO_ITERATIONS[0]


def test_the_users_numbers_win(sharp, motion_kernel):
    batch = torch.from_numpy(_blurred(sharp, motion_kernel, 0.02).astype(np.float32))[None, None]
    assert _deconvolver(motion_kernel, iterations=7, tv_weight=0.004).settings(batch) == (7, 0.004)
    assert _deconvolver(motion_kernel, iterations=7, regularize=False).settings(batch) == (7, 0.0)
    iterations, tv = _deconvolver(motion_kernel, tv_weight=0.004).settings(batch)  # iterations alone measured
    assert tv == 0.004 and iterations > 20
    assert _deconvolver(motion_kernel, regularize=False).settings(batch) == (AUTO_ITERATIONS[0], 0.0)


@pytest.mark.parametrize("sigma, over_old", [(0.005, 1.0), (0.03, 0.1)])
def test_defaults_gain_on_clean_and_noisy_photos_and_beat_the_old_fixed_ones(sharp, motion_kernel, sigma, over_old):
    """The old defaults (10 iterations, TV 0.02) were set for noisy data: clean data gains most from auto."""
    blurred = _blurred(sharp, motion_kernel, sigma)
    kw = {"psf": motion_kernel, "psf_centering": "array", "output_dtype": "float32"}
    score = {name: psnr(sharp, np.clip(nd.deblur(blurred, "richardson_lucy", **kw, **settings), 0, 1), data_range=1)
             for name, settings in (("auto", {}), ("old", {"iterations": 10, "tv_weight": 0.02}))}
    wiener = max(psnr(sharp, np.clip(nd.deblur(blurred, "wiener", balance=b, **kw), 0, 1), data_range=1)
                 for b in (1e-3, 1e-2, 1e-1))
    assert score["auto"] > psnr(sharp, blurred, data_range=1) + 2
    assert score["auto"] > score["old"] + over_old, score
    assert score["auto"] > wiener - 1.0, (score, wiener)


def test_mild_blur_with_noise_is_not_made_worse(sharp):
    g = np.exp(-0.5 * np.arange(-3, 4) ** 2 / 0.8**2)
    kernel = np.outer(g, g) / np.outer(g, g).sum()
    blurred = _blurred(sharp, kernel, 0.02)
    out = nd.deblur(blurred, "richardson_lucy", psf=kernel, psf_centering="array", output_dtype="float32")
    assert psnr(sharp, np.clip(out, 0, 1), data_range=1) > psnr(sharp, blurred, data_range=1)


def _beads(shape=(32, 64, 64), seed=0):
    rng = np.random.default_rng(seed)
    truth = np.zeros(shape, np.float32)
    inner = tuple(rng.integers(8, s - 8, 40) for s in shape)  # away from the borders
    truth[inner] = 1
    psf = np.exp(-((np.indices((9, 9, 9)) - 4) ** 2 / np.array([8.0, 2.0, 2.0])[:, None, None, None]).sum(0))
    blurred = ndimage.convolve(truth, psf / psf.sum(), mode="constant")
    return rng.poisson(blurred / blurred.max() * 300 + 5).astype(np.uint16), psf


def test_borders_auto_are_periodic_where_both_ends_are_background(sharp, motion_kernel):
    counts, psf = _beads()
    assert wrap_safe_axes(torch.from_numpy(counts.astype(np.float32))[None, None], 3) == (True, True, True)
    photo = torch.from_numpy(_blurred(sharp, motion_kernel, 0.01).astype(np.float32))[None, None]
    assert wrap_safe_axes(photo, 2) == (False, False)
    # A photo with dark borders along one axis only: that axis alone needs no margins.
    letterbox = photo.clone()
    letterbox[..., :, :40] = 0
    letterbox[..., :, -40:] = 0
    assert wrap_safe_axes(letterbox, 2) == (False, True)
    assert wrap_safe_axes(torch.zeros(1, 1, 32, 32), 2) == (True, True)  # a constant image wraps onto itself


def test_auto_borders_give_the_periodic_result_on_beads_and_the_extended_one_on_photos(sharp, motion_kernel):
    counts, psf = _beads()
    kw = {"psf": psf, "axes": "ZYX", "iterations": 5, "tv_weight": 0.01, "output_dtype": "float32"}
    auto = nd.deblur(counts, "richardson_lucy", boundary="auto", **kw)
    np.testing.assert_array_equal(auto, nd.deblur(counts, "richardson_lucy", boundary="periodic", **kw))
    photo = _blurred(sharp, motion_kernel, 0.01)
    kw = {"psf": motion_kernel, "iterations": 5, "tv_weight": 0.01, "output_dtype": "float32"}
    np.testing.assert_array_equal(nd.deblur(photo, "richardson_lucy", **kw),
                                  nd.deblur(photo, "richardson_lucy", boundary="extend", **kw))
