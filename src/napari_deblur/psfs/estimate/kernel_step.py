"""The kernel step of the estimator: the kernel that maps the latent image's gradients onto the blurred image's.

min_k ||grad S * k - grad B||^2 + weight ||k||^2 over a ``side`` x ``side`` support, solved by conjugate gradients
in the kernel's own small space: the normal equations need only the gradients' auto- and cross-correlations at
lags up to the kernel's size (one image-sized FFT each), after which every CG step is a convolution of two
kernel-sized arrays. The solution is then projected (non-negative, sum 1), its faint values and isolated specks
cleared, and its centre of mass brought to the array centre so the support window keeps following it.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from napari_deblur.psfs.estimate.fourier import fast_size, irfft2, rfft2

#: Iterations of one kernel solve, and the Tikhonov weight (Pan et al.'s, for images in [0, 1]).
SOLVER_STEPS = 100
WEIGHT = 2.0


def _lags(spectrum: np.ndarray, shape: tuple[int, int], reach: int) -> np.ndarray:
    """The circular correlation whose spectrum is given, at lags -reach..reach on both axes (lag 0 at the centre)."""
    full = np.fft.fftshift(irfft2(spectrum, shape))
    cy, cx = shape[0] // 2, shape[1] // 2
    return full[cy - reach:cy + reach + 1, cx - reach:cx + reach + 1]


def solve_kernel(latent_grads: tuple[np.ndarray, np.ndarray], blurred_grads: tuple[np.ndarray, np.ndarray],
                 start: np.ndarray) -> np.ndarray:
    """The non-negative least-squares kernel (``start``'s shape, odd square), starting from ``start``; not yet
    normalized or cleaned (see :func:`project`)."""
    side = start.shape[0]
    r = side // 2
    shape = latent_grads[0].shape
    auto = cross = 0
    for lat, blu in zip(latent_grads, blurred_grads):
        lf = rfft2(lat)
        auto = auto + np.abs(lf) ** 2
        cross = cross + np.conj(lf) * rfft2(blu)
    gram = _lags(auto, shape, 2 * r)  # (4r+1)^2 lags of the autocorrelation
    rhs = _lags(cross, shape, r)  # b[i] = sum_p L(p - i) B(p)

    # A x = (gram conv x) on the valid lags + WEIGHT x, with gram's spectrum computed once per solve.
    size = (fast_size(6 * r + 1),) * 2
    gram_f = rfft2(np.pad(gram, ((0, size[0] - gram.shape[0]), (0, size[1] - gram.shape[1]))))

    def apply(k: np.ndarray) -> np.ndarray:
        full = irfft2(gram_f * rfft2(np.pad(k, ((0, size[0] - side), (0, size[1] - side)))), size)
        return full[2 * r:4 * r + 1, 2 * r:4 * r + 1] + WEIGHT * k

    # Non-negative least squares by accelerated projected gradient (FISTA): the constraint inside the solve, not
    # a clip after it, is what keeps the kernel a thin trajectory instead of a blob with negative lobes.
    # The step is 1 / (the largest eigenvalue), bounded by the gradients' largest power over frequencies.
    step = 1.0 / (float(auto.max()) + WEIGHT)
    k = np.clip(start.astype(np.float64), 0, None)
    previous, momentum = k, 1.0
    for _ in range(SOLVER_STEPS):
        y = k + ((momentum - 1) / (next_momentum := (1 + math.sqrt(1 + 4 * momentum**2)) / 2)) * (k - previous)
        previous = k
        k = np.clip(y - step * (apply(y) - rhs), 0, None)
        momentum = next_momentum
    return k


def project(k: np.ndarray, floor: float = 0.05, min_mass: float = 0.1) -> np.ndarray:
    """``k`` made a kernel: values under ``floor`` x its maximum cleared, connected pieces holding less than
    ``min_mass`` of the total removed (specks of noise, not trajectory), non-negative, sum 1, centred."""
    k = np.where(k > floor * k.max(), k, 0.0) if k.max() > 0 else np.zeros_like(k)
    if k.sum() <= 0:
        return delta(k.shape[0])
    k /= k.sum()
    labels, n = ndimage.label(k > 0, structure=np.ones((3, 3)))
    if n > 1:
        masses = ndimage.sum(k, labels, np.arange(1, n + 1))
        keep = np.isin(labels, 1 + np.flatnonzero(masses >= min_mass))
        if keep.any():
            k = np.where(keep, k, 0.0)
    return centre(k / k.sum())


def centre(k: np.ndarray) -> np.ndarray:
    """``k`` moved by whole pixels so that its centre of mass falls on the array centre (nothing shifted out)."""
    cy, cx = ndimage.center_of_mass(k)
    dy, dx = int(round(k.shape[0] // 2 - cy)), int(round(k.shape[1] // 2 - cx))
    ys, xs = np.nonzero(k)
    # Never push the support off the array: limit the shift to the room on each side.
    dy = int(np.clip(dy, -ys.min(), k.shape[0] - 1 - ys.max()))
    dx = int(np.clip(dx, -xs.min(), k.shape[1] - 1 - xs.max()))
    return np.roll(k, (dy, dx), (0, 1))


def delta(side: int) -> np.ndarray:
    k = np.zeros((side, side))
    k[side // 2, side // 2] = 1.0
    return k

