"""A blur kernel estimated from the blurred image itself, for photos and data without any PSF.

Coarse to fine, as in S. Cho & S. Lee, "Fast motion deblurring", ACM TOG 28(5), 2009: at each scale the current
sharp estimate is turned into predicted sharp edges (a Gaussian-smoothed shock filter, then only the strongest
gradients kept), the kernel that maps those edges onto the blurred image's gradients is solved for in the Fourier
domain (least squares with a Tikhonov term), cut to its support, made non-negative and normalized, and the sharp
estimate is updated by Wiener deconvolution with a gradient prior. The kernel of one scale, upsampled, starts the
next. The result is meant for non-blind deconvolution (Wiener, Richardson-Lucy) of the same image.

Experimental: on Kodak24 x the Levin kernels, Wiener (balance 0.02) with the estimated kernel beats the blind NAFNet
by 1.1 dB on average but falls 3.7 dB short of the true kernel, and long kernels are estimated worst
(benchmarks/kernel_estimate.py, docs/benchmarks.md).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

#: The coarsest scale's kernel side; each finer scale doubles it up to the requested size.
COARSEST = 5


def _odd(n: float) -> int:
    n = max(3, int(round(n)))
    return n if n % 2 else n + 1


def _grad(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.roll(x, -1, 1) - x, np.roll(x, -1, 0) - x  # forward differences, periodic (FFT-consistent)


def _shock(x: np.ndarray, steps: int = 5, dt: float = 0.5) -> np.ndarray:
    """Osher-Rudin shock filter: flattens ramps into steps, so blurred edges come back sharp."""
    x = x.copy()
    for _ in range(steps):
        gy, gx = np.gradient(x)
        lap = ndimage.laplace(x)
        x = x - dt * np.sign(lap) * np.hypot(gx, gy)
    return x


def _psf_otf(kernel: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    padded = np.zeros(shape)
    padded[: kernel.shape[0], : kernel.shape[1]] = kernel
    padded = np.roll(padded, (-(kernel.shape[0] // 2), -(kernel.shape[1] // 2)), (0, 1))
    return np.fft.fft2(padded)


def _solve_kernel(edges: tuple[np.ndarray, np.ndarray], blurred: np.ndarray, side: int, beta: float) -> np.ndarray:
    bx, by = _grad(blurred)
    px, py = (np.fft.fft2(e) for e in edges)
    num = np.conj(px) * np.fft.fft2(bx) + np.conj(py) * np.fft.fft2(by)
    den = np.abs(px) ** 2 + np.abs(py) ** 2 + beta
    k = np.real(np.fft.ifft2(num / den))
    k = np.fft.fftshift(k)
    cy, cx = k.shape[0] // 2, k.shape[1] // 2
    h = side // 2
    k = k[cy - h:cy + h + 1, cx - h:cx + h + 1]
    k = np.clip(k, 0, None)
    k[k < 0.05 * k.max()] = 0  # noise in the support: keep the kernel's own trace only
    labels, n = ndimage.label(k > 0)
    if n > 1:  # the largest connected piece is the trajectory; isolated specks are noise
        sizes = ndimage.sum(k, labels, range(1, n + 1))
        k[labels != 1 + int(np.argmax(sizes))] = 0
    return k / k.sum() if k.sum() > 0 else _delta(side)


def _delta(side: int) -> np.ndarray:
    k = np.zeros((side, side))
    k[side // 2, side // 2] = 1.0
    return k


def _wiener_gradient_prior(blurred: np.ndarray, kernel: np.ndarray, alpha: float) -> np.ndarray:
    shape = blurred.shape
    k = _psf_otf(kernel, shape)
    dx, dy = _psf_otf(np.array([[0.0, -1.0, 1.0]]), shape), _psf_otf(np.array([[0.0], [-1.0], [1.0]]), shape)
    reg = np.abs(dx) ** 2 + np.abs(dy) ** 2
    return np.real(np.fft.ifft2(np.conj(k) * np.fft.fft2(blurred) / (np.abs(k) ** 2 + alpha * reg)))


def estimate_kernel(image: np.ndarray, size: int = 31, *, iterations: int = 7, beta: float = 50.0,
                    alpha: float = 0.002) -> np.ndarray:
    """The blur kernel (``size`` x ``size``, odd, non-negative, sums to 1) of a blurred 2D image.

    ``image``: grey (Y, X) or colour (Y, X, 3), any range (mapped to [0, 1] by its own minimum and maximum).
    ``size``: the largest blur the kernel may describe, in pixels; ``iterations`` per scale; ``beta``: Tikhonov
    weight of the kernel solve; ``alpha``: gradient prior of the intermediate sharp estimates.
    """
    x = np.asarray(image, dtype=np.float64)
    if x.ndim == 3 and x.shape[-1] in (3, 4):
        x = x[..., :3].mean(-1)
    if x.ndim != 2 or min(x.shape) < 16:
        raise ValueError(f"The kernel is estimated from a 2D grey or colour image of at least 16x16; got {x.shape}.")
    if size % 2 == 0 or size < 3 or size > min(x.shape) // 2:
        raise ValueError(f"size must be odd, at least 3 and at most half the image side; got {size}.")
    x = (x - x.min()) / (np.ptp(x) or 1.0)
    levels = max(1, math.ceil(math.log2(size / COARSEST)) + 1)
    kernel = None
    for level in reversed(range(levels)):
        factor = 0.5**level
        side = _odd(size * factor)
        blurred = ndimage.zoom(x, factor, order=1) if level else x
        if kernel is None:
            kernel, latent = _delta(side), blurred
        else:
            kernel = ndimage.zoom(kernel, side / kernel.shape[0], order=1)[:side, :side]
            kernel = np.clip(kernel, 0, None)
            kernel /= kernel.sum()
            latent = _wiener_gradient_prior(blurred, kernel, alpha)
        for it in range(iterations):
            predicted = _shock(ndimage.gaussian_filter(latent, 1.0))
            gx, gy = _grad(predicted)
            magnitude = np.hypot(gx, gy)
            # Keep the strongest edges: enough pixels to constrain the kernel, fewer as the estimate firms up.
            keep = max(2 * side * side, int(magnitude.size * (0.1 - 0.05 * it / max(iterations - 1, 1))))
            threshold = np.partition(magnitude.ravel(), -keep)[-keep]
            mask = magnitude >= threshold
            kernel = _solve_kernel((gx * mask, gy * mask), blurred, side, beta)
            latent = _wiener_gradient_prior(blurred, kernel, alpha)
    return kernel.astype(np.float32)
