"""Blur kernels. Each is non-negative, sums to 1, has odd sides and its centre of mass at the centre pixel.

``camera_shake`` follows the random-trajectory model of Boracchi & Foi, "Modeling the performance of image
restoration from motion blur" (IEEE TIP 2012): the camera moves along a random walk with inertia, small
Gaussian jitter ("anxiety") and occasional impulsive jerks; the kernel is the time the trajectory spends
at each position during the exposure, accumulated with sub-pixel (bilinear) accuracy.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def _finish(kernel: np.ndarray) -> np.ndarray:
    """Crop to the support, centre by mass on an odd grid, normalize to sum 1."""
    kernel = np.clip(kernel, 0, None)
    if kernel.sum() <= 0:
        raise ValueError("The kernel is empty; increase its length or size.")
    com = np.rint(ndimage.center_of_mass(kernel)).astype(int)
    half = max(max(c, s - 1 - c) for c, s in zip(com, kernel.shape))
    out = np.zeros((2 * half + 1,) * kernel.ndim, dtype=np.float64)
    starts = [half - c for c in com]
    out[tuple(slice(st, st + s) for st, s in zip(starts, kernel.shape))] = kernel
    return (out / out.sum()).astype(np.float32)


def camera_shake(
    size: int = 25,
    *,
    length: float | None = None,
    anxiety: float = 0.005,
    jerk_probability: float = 0.05,
    exposure: float = 1.0,
    samples: int = 2000,
    seed: int | None = None,
) -> np.ndarray:
    """A random camera-shake kernel of ``size`` x ``size`` pixels (odd).

    Parameters
    ----------
    size : int
        Kernel side in pixels (odd, >= 3); the trajectory is kept inside it.
    length : float, optional
        Extent of the blur in pixels (the longer side of the trajectory's bounding box); default
        ``0.8 * (size - 2)``, at most ``size - 2``.
    anxiety : float
        Amount of random jitter in the motion (0 = smooth arcs, 0.1 = very shaky).
    jerk_probability : float
        Chance per step of an abrupt change of direction.
    exposure : float
        Fraction (0, 1] of the trajectory integrated during the exposure.
    samples : int
        Trajectory steps (more = smoother kernel).
    seed : int, optional
        Random seed; the same seed gives the same kernel.
    """
    if size < 3 or size % 2 == 0:
        raise ValueError(f"size must be an odd integer >= 3; got {size}.")
    if not 0 < exposure <= 1:
        raise ValueError(f"exposure must be in (0, 1]; got {exposure}.")
    if length is not None and length <= 0:
        raise ValueError(f"length must be positive; got {length}.")
    rng = np.random.default_rng(seed)
    extent = min(0.8 * (size - 2) if length is None else float(length), size - 2)
    step = 1.0 / (samples - 1)
    centripetal = 0.7 * rng.uniform()
    gaussian_term = 10 * rng.uniform()
    angle = rng.uniform(0, 2 * np.pi)
    velocity = step * np.exp(1j * angle)
    position = np.zeros(samples, dtype=complex)
    for t in range(samples - 1):
        if rng.uniform() < jerk_probability / samples * 100:
            # An impulsive jerk: roughly reverse direction with a random twist.
            jerk = 2 * velocity * np.exp(1j * (np.pi + rng.uniform(-0.5, 0.5)))
        else:
            jerk = 0
        dv = jerk + anxiety * (gaussian_term * complex(rng.normal(), rng.normal())
                               - centripetal * position[t]) * step
        velocity = velocity + dv
        velocity = velocity / max(abs(velocity), 1e-12) * step
        position[t + 1] = position[t] + velocity
    used = position[: max(2, int(round(exposure * samples)))]
    used = used - (used.real.min() + used.real.max()) / 2 - 1j * (used.imag.min() + used.imag.max()) / 2
    span = max(np.ptp(used.real), np.ptp(used.imag), 1e-9)
    used = used * (extent / span)  # the walk is scale-free: fix its extent, keep its shape
    return _splat(used, size)


def _splat(path: np.ndarray, size: int) -> np.ndarray:
    """Accumulate path points (complex x + iy, centred at 0) into a grid with bilinear weights."""
    kernel = np.zeros((size, size))
    x = path.real + size // 2
    y = path.imag + size // 2
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    fx, fy = x - x0, y - y0
    for dy, dx, w in ((0, 0, (1 - fy) * (1 - fx)), (0, 1, (1 - fy) * fx), (1, 0, fy * (1 - fx)), (1, 1, fy * fx)):
        yy, xx = np.clip(y0 + dy, 0, size - 1), np.clip(x0 + dx, 0, size - 1)
        np.add.at(kernel, (yy, xx), w)
    return _finish(kernel)


def gaussian(sigma: float, size: int | None = None) -> np.ndarray:
    """An isotropic Gaussian kernel (``size`` defaults to about 6 sigma, odd)."""
    if sigma <= 0:
        raise ValueError(f"sigma must be positive; got {sigma}.")
    size = size or 2 * int(np.ceil(3 * sigma)) + 1
    r = np.arange(size) - size // 2
    g = np.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2 * sigma**2))
    return _finish(g)
