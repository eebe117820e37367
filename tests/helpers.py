"""Helpers shared by several test modules: synthetic bead images, Kodak crops blurred by the protocol, a
normalized cross-correlation. Test modules import from here, never from each other."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from tests.conftest import shared_data


def render_beads(shape, psf, beads, rng, background=100.0):
    """Beads (position, photons) blurred by ``psf`` at sub-pixel positions (exact Fourier shifts), Poisson noise."""
    image = np.zeros(shape)
    half = np.array(psf.shape) // 2
    for position, photons in beads:
        corner = np.floor(position).astype(int) - half
        patch = np.real(np.fft.ifftn(ndimage.fourier_shift(np.fft.fftn(np.pad(psf, 4)), position % 1)))[
            (slice(4, -4),) * psf.ndim]
        image[tuple(slice(c, c + s) for c, s in zip(corner, psf.shape))] += photons * np.clip(patch, 0, None)
    return rng.poisson(image + background).astype(np.float64)


def ncc(a, b):
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum()))


def kodak_crop(image: int, colour: bool = False) -> np.ndarray:
    import imageio.v3 as iio

    rgb = iio.imread(shared_data("kodak24", f"kodim{image:02d}.png"))[100:356, 200:456] / 255.0
    return rgb if colour else rgb[..., 1]


def blur_photo(sharp: np.ndarray, kernel: np.ndarray, sigma: float = 0.01, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    channels = sharp[..., None] if sharp.ndim == 2 else sharp
    blurred = np.stack([ndimage.convolve(c, kernel, mode="reflect") for c in np.moveaxis(channels, -1, 0)], -1)
    blurred = np.clip(blurred + rng.normal(0, sigma, blurred.shape), 0, 1).astype(np.float32)
    return blurred[..., 0] if sharp.ndim == 2 else blurred


def levin_case(image: int, kernel: int):
    sharp = kodak_crop(image)
    k = np.load(shared_data("levin09", f"k{kernel:02d}.npy"))
    return blur_photo(sharp, k), sharp, k
