"""A PSF per channel: a list, or an array with the channels first; and per-channel emission wavelengths."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
from scipy import ndimage
from skimage.metrics import peak_signal_noise_ratio

import napari_deblur as nd


def _gaussian(sigma: float, side: int) -> np.ndarray:
    kernel = np.zeros((side, side))
    kernel[side // 2, side // 2] = 1
    kernel = ndimage.gaussian_filter(kernel, sigma)
    return kernel / kernel.sum()


@pytest.fixture(scope="module")
def two_colours():
    from skimage import data

    sharp = data.camera()[180:276, 200:296].astype(np.float32) / 255  # textured: the tripod and coat
    psfs = [_gaussian(1.0, 9), _gaussian(2.5, 15)]  # DAPI narrow, the red channel wide
    blurred = np.stack([ndimage.convolve(sharp, p, mode="reflect") for p in psfs])
    return sharp, blurred, psfs


def _psnrs(out, sharp):
    return [peak_signal_noise_ratio(sharp, o, data_range=1) for o in out]


def test_each_channel_is_deconvolved_with_its_own_psf(two_colours):
    sharp, blurred, psfs = two_colours
    per_channel = nd.deblur(blurred, "richardson_lucy", psf=psfs, axes="CYX", iterations=30)
    assert per_channel.shape == blurred.shape and per_channel.dtype == blurred.dtype
    for c in range(2):  # exactly each channel run alone with its PSF
        alone = nd.deblur(blurred[c], "richardson_lucy", psf=psfs[c], iterations=30)
        np.testing.assert_array_equal(per_channel[c], alone)
    stacked = nd.deblur(blurred, "richardson_lucy", psf=np.stack([np.pad(psfs[0], 3), psfs[1]]), axes="CYX",
                        iterations=30)
    np.testing.assert_allclose(stacked, per_channel, atol=1e-5)
    shared = nd.deblur(blurred, "richardson_lucy", psf=psfs[1], axes="CYX", iterations=30)
    assert _psnrs(per_channel, sharp)[0] > _psnrs(shared, sharp)[0] + 3  # the wide PSF overshoots DAPI
    assert min(np.subtract(_psnrs(per_channel, sharp), _psnrs(blurred, sharp))) > 2


def test_channels_last_and_lazy(two_colours):
    _, blurred, psfs = two_colours
    channels_last = np.moveaxis(blurred, 0, -1)
    eager = nd.deblur(channels_last, "wiener", psf=psfs, axes="YXC")
    expected = nd.deblur(blurred, "wiener", psf=psfs, axes="CYX")
    np.testing.assert_allclose(np.moveaxis(eager, -1, 0), expected, atol=1e-6)
    lazy = nd.deblur(da.from_array(blurred, chunks=(1, 96, 96)), "wiener", psf=psfs, axes="CYX")
    assert isinstance(lazy, da.Array)
    np.testing.assert_allclose(lazy.compute(), expected, atol=1e-5)


def test_progress_covers_every_channel(two_colours):
    _, blurred, psfs = two_colours
    events = []
    nd.drain(nd.deblur_steps(blurred, "wiener", psf=psfs, axes="CYX"), events.append)
    assert any(e.message.startswith("channel 2/2") for e in events)
    done = [e.done / e.total for e in events]
    assert done == sorted(done) and done[-1] == 1


def test_a_psf_count_that_does_not_match_is_refused(two_colours):
    _, blurred, psfs = two_colours
    with pytest.raises(ValueError, match="3 PSFs for 2 channels"):
        nd.deblur(blurred, "wiener", psf=[*psfs, psfs[0]], axes="CYX")
    with pytest.raises(ValueError, match="needs an image with a channel axis"):
        nd.deblur(blurred, "wiener", psf=psfs, axes="ZYX")
    with pytest.raises(ValueError, match="one PSF for all three colours"):
        nd.deblur(np.zeros((32, 32, 3)), "wiener", psf=[psfs[0]] * 3, rgb=True)


def test_a_wavelength_per_channel(two_colours):
    _, blurred, _ = two_colours
    optics = {"na": 1.2, "pixel_size": 0.08}
    out = nd.deblur(blurred, "wiener", psf="widefield", axes="CYX", wavelength=[0.46, 0.61], **optics)
    psfs = [nd.optics_psf("widefield", image_shape=(96, 96), ndim=2, wavelength=w, **optics) for w in (0.46, 0.61)]
    np.testing.assert_array_equal(out, nd.deblur(blurred, "wiener", psf=psfs, axes="CYX"))
    with pytest.raises(ValueError, match="3 wavelengths for 2 channels"):
        nd.deblur(blurred, "wiener", psf="widefield", axes="CYX", wavelength=[0.46, 0.61, 0.7], **optics)
