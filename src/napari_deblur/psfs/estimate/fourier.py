"""The Fourier-domain pieces the kernel estimator shares: OTFs on the real-FFT grid, circular gradients, and the
smooth periodic extension that keeps the FFT's wrap-around from drawing false edges at the image borders."""

from __future__ import annotations

import numpy as np
import scipy.fft as sfft

#: Threads for scipy's FFTs (-1: every core the process may use).
WORKERS = -1


def rfft2(x: np.ndarray) -> np.ndarray:
    return sfft.rfft2(x, workers=WORKERS)


def irfft2(x: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    return sfft.irfft2(x, s=shape, workers=WORKERS)


def otf(kernel: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The transfer function of ``kernel`` (origin at its array centre) on the rfft grid of ``shape``."""
    padded = np.zeros(shape, dtype=np.float32)
    padded[: kernel.shape[0], : kernel.shape[1]] = kernel
    padded = np.roll(padded, (-(kernel.shape[0] // 2), -(kernel.shape[1] // 2)), (0, 1))
    return rfft2(padded)


def gradient_power(shape: tuple[int, int]) -> np.ndarray:
    """|Dx|^2 + |Dy|^2 of the circular forward differences on the rfft grid of ``shape``."""
    fy = np.fft.fftfreq(shape[0])[:, None]
    fx = np.fft.rfftfreq(shape[1])[None, :]
    return 4 * np.sin(np.pi * fy) ** 2 + 4 * np.sin(np.pi * fx) ** 2


def grad(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Circular forward differences along x and y (consistent with the FFT's periodic world)."""
    return np.roll(x, -1, 1) - x, np.roll(x, -1, 0) - x


def grad_adjoint(gx: np.ndarray, gy: np.ndarray) -> np.ndarray:
    """The adjoint of :func:`grad` (minus the backward divergence)."""
    return (np.roll(gx, 1, 1) - gx) + (np.roll(gy, 1, 0) - gy)


def fast_size(n: int) -> int:
    return sfft.next_fast_len(n, real=True)


def periodic_extend(x: np.ndarray, margin: int) -> np.ndarray:
    """``x`` grown by at least ``margin`` pixels after its last row and column, into an image whose wrap-around is
    smooth: each added band cross-fades from the reflection of the near border to the reflection of the far one
    (the aim of Liu & Jia's boundary wrapping, ICIP 2008, at the cost of two reflections). ``x`` stays at [:h, :w].
    """
    for axis in (0, 1):
        n = x.shape[axis]
        size = fast_size(n + margin)
        m = size - n
        if m <= 0:
            continue
        reach = min(m, n - 1)
        index = np.arange(m)
        # The reflection of the end (n-2, n-3, ...) and, read backwards, of the start (..., 2, 1): the band meets
        # x[n-1] on one side and x[0] on the other; beyond the image's own size the reflections repeat.
        near = np.take(x, n - 2 - np.minimum(index, reach - 1), axis=axis)
        far = np.take(x, np.minimum(m - index, reach), axis=axis)
        w = 0.5 - 0.5 * np.cos(np.pi * (index + 1) / (m + 1))
        shape = [1, 1]
        shape[axis] = m
        w = w.reshape(shape)
        x = np.concatenate([x, (1 - w) * near + w * far], axis=axis)
    return x
