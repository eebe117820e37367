"""Measuring the noise of an image (restore/noise.py): one level for photos, a Poisson-Gaussian model for counts."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from napari_deblur.restore.noise import effective_sigma, noise_model, noise_sigma, signal_noise


@pytest.mark.parametrize("sigma", [0.01, 0.03, 0.05])
def test_gaussian_noise_on_a_blurred_photo_reads_its_level(sharp, sigma):
    """What a deconvolution is given: a blurred photo with noise of one level."""
    noisy = ndimage.gaussian_filter(sharp, 1.5) + np.random.default_rng(0).normal(0, sigma, sharp.shape)
    assert noise_sigma(noisy) == pytest.approx(sigma, rel=0.25)
    gain, read = noise_model(np.tile(noisy, (2, 2)))  # enough blocks for the model's fit
    assert read == pytest.approx(sigma, rel=0.25) and gain * 0.5 < 0.2 * sigma**2
    assert effective_sigma(np.tile(noisy, (2, 2))) == pytest.approx(sigma, rel=0.25)
    assert signal_noise(np.tile(noisy, (2, 2)))[1] < 0.3  # hardly any of it is shot noise
    assert noise_model(noisy[:40, :40]) == (0.0, noise_sigma(noisy[:40, :40]))  # too small to fit: one level


@pytest.mark.parametrize("photons", [50, 300])
def test_photon_noise_is_fitted_as_a_gain_and_read_at_the_signal(photons):
    """A smooth scene in counts: variance = intensity / photons in [0, 1] units, plus a little read noise."""
    rng = np.random.default_rng(1)
    scene = ndimage.gaussian_filter(rng.random((384, 384)), 12)
    scene = ((scene - scene.min()) / (scene.max() - scene.min())) ** 3  # a dark background, bright structures
    counts = rng.poisson(scene * photons) + rng.normal(0, 1.0, scene.shape)
    image = counts / photons
    gain, read = noise_model(image)
    assert gain == pytest.approx(1 / photons, rel=0.3)
    assert read < 2.0 / photons + 0.3 * np.sqrt(gain)
    # The level where the signal is: well above the quiet background's, which noise_sigma reads.
    assert effective_sigma(image) > 1.3 * noise_sigma(image)
    assert effective_sigma(image) == pytest.approx(np.sqrt(np.percentile(image, 90) / photons), rel=0.3)
    assert signal_noise(image)[1] > 0.8  # nearly all of it is shot noise
