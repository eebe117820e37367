"""Blur kernels. Each is non-negative float32, sums to 1, has odd sides and its centre of mass at the centre pixel.

``camera_shake`` follows the random-trajectory model of Boracchi & Foi, "Modeling the performance of image
restoration from motion blur" (IEEE TIP 2012): the camera moves along a random walk with inertia, small
Gaussian jitter ("anxiety") and occasional impulsive jerks; the kernel is the time the trajectory spends
at each position during the exposure, accumulated with sub-pixel (bilinear) accuracy.

Angles are in degrees, counter-clockwise from +x *as displayed*: image rows grow downward, so a positive
angle moves towards smaller row indices.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
from scipy import ndimage


def _positive(name: str, value: float, unit: str = "pixels") -> float:
    """``value`` as a float, or a ``ValueError`` when it is not a finite positive number."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number of {unit}; got {value!r}.") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive number of {unit}; got {value}. Use a value > 0.")
    return value


def _odd_size(size: Any) -> int:
    """Validate an explicit kernel side: an odd integer >= 3 (a kernel needs a centre pixel and a neighbour)."""
    if isinstance(size, bool) or not isinstance(size, numbers.Real) or not float(size).is_integer():
        raise ValueError(f"size must be an odd whole number of pixels >= 3; got {size!r}.")
    size = int(size)
    if size < 3:
        raise ValueError(f"size must be an odd whole number of pixels >= 3; got {size}. Use size=3 or more.")
    if size % 2 == 0:
        raise ValueError(f"size must be odd so the kernel has a centre pixel; got {size}. Use size={size + 1}.")
    return size


def _odd_at_least(value: float) -> int:
    """The smallest odd integer >= ``value`` (and >= 3)."""
    n = max(3, math.ceil(value - 1e-9))
    return n if n % 2 else n + 1


def _too_small(size: int, needed: int, what: str) -> ValueError:
    return ValueError(f"size {size} is too small for {what}; use size >= {needed} or leave size unset.")


def _direction(angle: float) -> tuple[float, float]:
    """(cos, sin) of ``angle`` degrees, exact for multiples of 90 so axis-aligned kernels stay exactly symmetric."""
    theta = math.radians(float(angle))
    return round(math.cos(theta), 15), round(math.sin(theta), 15)


def finish_kernel(kernel: np.ndarray, square: bool = True) -> np.ndarray:
    """Centre by mass on an odd grid (a square one when ``square``), clip negatives, normalize to sum 1."""
    kernel = np.clip(np.asarray(kernel, dtype=np.float64), 0, None)
    if not kernel.sum() > 0:
        raise ValueError("The kernel is empty; increase its length or size.")
    com = np.rint(ndimage.center_of_mass(kernel)).astype(int)
    halves = [max(c, s - 1 - c) for c, s in zip(com, kernel.shape)]
    if square:
        halves = [max(halves)] * kernel.ndim
    out = np.zeros([2 * h + 1 for h in halves], dtype=np.float64)
    starts = [h - c for h, c in zip(halves, com)]
    out[tuple(slice(st, st + s) for st, s in zip(starts, kernel.shape))] = kernel
    return (out / out.sum()).astype(np.float32)


def default_shake_length(size: int) -> float:
    """The trajectory extent ``camera_shake`` uses when no length is given: three quarters of the room."""
    return 0.75 * (size - 2)


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
    """A random camera-shake kernel of ``size`` x ``size`` pixels.

    Parameters
    ----------
    size : int
        Kernel side in pixels (odd, >= 3); the trajectory is kept inside it.
    length : float, optional
        Extent of the blur in pixels (the longer side of the trajectory's bounding box); default
        ``0.75 * (size - 2)``. It is shrunk when needed to keep the mass-centred trajectory inside ``size``.
    anxiety : float
        Amount of random jitter in the motion (0 = straight line, 0.005 = smooth arcs, 0.1 = very shaky).
    jerk_probability : float
        Chance of an abrupt change of direction in each hundredth of the exposure.
    exposure : float
        Fraction (0, 1] of the trajectory integrated during the exposure.
    samples : int
        Trajectory steps (more = smoother kernel).
    seed : int, optional
        Random seed; the same seed gives the same kernel.

    Returns
    -------
    numpy.ndarray
        ``(size, size)`` float32 kernel.

    Notes
    -----
    Sizes 13-27 with the defaults give thin curved paths spanning 60-85% of the side, like the kernels of
    Levin et al. (CVPR 2009).
    """
    size = _odd_size(size)
    if not 0 < exposure <= 1:
        raise ValueError(f"exposure must be in (0, 1]; got {exposure}. Use 1 for the whole trajectory.")
    if anxiety < 0:
        raise ValueError(f"anxiety must be >= 0; got {anxiety}.")
    if not 0 <= jerk_probability <= 1:
        raise ValueError(f"jerk_probability must be in [0, 1]; got {jerk_probability}.")
    if samples < 2:
        raise ValueError(f"samples must be >= 2; got {samples}.")
    half = size // 2
    if length is not None:
        length = _positive("length", length)
        if length > size - 2:
            raise _too_small(size, _odd_at_least(length + 2), f"a camera-shake length of {length:g} px")
    extent = default_shake_length(size) if length is None else length

    # Draw every random number up front: the trajectory then depends on the seed only, not on code paths.
    rng = np.random.default_rng(seed)
    step = 1.0 / (samples - 1)
    centripetal = 0.7 * rng.uniform()
    gaussian_term = 10 * rng.uniform()
    velocity = step * np.exp(1j * rng.uniform(0, 2 * np.pi))
    noise = rng.normal(size=samples - 1) + 1j * rng.normal(size=samples - 1)
    jerks = rng.uniform(size=samples - 1) < min(1.0, jerk_probability * 100 / samples)
    twists = rng.uniform(-0.5, 0.5, size=samples - 1)
    position = np.zeros(samples, dtype=complex)
    for t in range(samples - 1):
        # A jerk roughly reverses the direction, with a random twist; otherwise jitter plus a pull home.
        jerk = 2 * velocity * np.exp(1j * (np.pi + twists[t])) if jerks[t] else 0
        velocity = velocity + jerk + anxiety * (gaussian_term * noise[t] - centripetal * position[t]) * step
        velocity = velocity / max(abs(velocity), 1e-12) * step  # constant speed: equal time per sample
        position[t + 1] = position[t] + velocity

    used = position[: max(2, int(round(exposure * samples)))]
    # Centre on the time-weighted mean: bilinear splatting keeps the mean, so the kernel's centre of mass
    # lands exactly on the centre pixel and the requested size is kept (no re-centring pad).
    used = used - used.mean()
    span = max(np.ptp(used.real), np.ptp(used.imag), 1e-9)
    reach = max(np.abs(used.real).max(), np.abs(used.imag).max(), 1e-9)
    room = half - 1 if half >= 2 else half  # leave a 1-px border where there is space, as measured kernels have
    used = used * min(extent / span, room / reach)  # the walk is scale-free: fix its extent, keep its shape
    return _splat(used, size)


def _splat(path: np.ndarray, size: int) -> np.ndarray:
    """Accumulate path points (complex x + iy, centred at 0, y pointing down) into a grid with bilinear weights."""
    kernel = np.zeros((size, size))
    x = path.real + size // 2
    y = path.imag + size // 2
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    fx, fy = x - x0, y - y0
    for dy, dx, w in ((0, 0, (1 - fy) * (1 - fx)), (0, 1, (1 - fy) * fx), (1, 0, fy * (1 - fx)), (1, 1, fy * fx)):
        yy, xx = np.clip(y0 + dy, 0, size - 1), np.clip(x0 + dx, 0, size - 1)
        np.add.at(kernel, (yy, xx), w)
    return finish_kernel(kernel)


def linear_motion(length: float, angle: float = 0.0, size: int | None = None) -> np.ndarray:
    """Uniform linear motion blur: an anti-aliased line segment with sub-pixel length.

    Parameters
    ----------
    length : float
        Length of the segment in pixels (> 0); fractional lengths are honoured (1.5 differs from 2).
    angle : float
        Direction in degrees, counter-clockwise from +x as displayed.
    size : int, optional
        Kernel side (odd); default the smallest odd size >= ``length + 2``.

    Returns
    -------
    numpy.ndarray
        ``(size, size)`` float32 kernel, symmetric under a 180-degree rotation.
    """
    length = _positive("length", length)
    cos, sin = _direction(angle)
    reach = length / 2 * max(abs(cos), abs(sin))
    if size is None:
        size = _odd_at_least(length + 2)
    else:
        size = _odd_size(size)
        if reach > size // 2:
            raise _too_small(size, 2 * math.ceil(reach) + 1, f"a length-{length:g} blur at {angle:g} degrees")
    # Midpoints of equal sub-intervals: symmetric about 0 (exact centre of mass) and dense enough (>= 32 per
    # pixel) that bilinear splatting integrates the segment smoothly.
    n = max(64, math.ceil(32 * length))
    t = (np.arange(n) + 0.5) / n - 0.5
    path = t * length * complex(cos, -sin)  # rows grow downward, so counter-clockwise on screen is -y
    return _splat(path, size)


def defocus(radius: float, size: int | None = None) -> np.ndarray:
    """Out-of-focus (pillbox) blur: a uniform disk whose edge pixels hold their exact-ish area coverage.

    Parameters
    ----------
    radius : float
        Disk radius in pixels (> 0); a radius <= 0.5 fits in one pixel and gives the identity kernel.
    size : int, optional
        Kernel side (odd); default the smallest that holds the whole disk, ``2 * ceil(radius + 0.5) + 1``.

    Returns
    -------
    numpy.ndarray
        ``(size, size)`` float32 kernel, symmetric under flips and transposition.
    """
    radius = _positive("radius", radius)
    needed = 2 * math.ceil(radius + 0.5 - 1e-9) + 1
    if size is None:
        size = needed
    else:
        size = _odd_size(size)
        if size < needed:
            raise _too_small(size, needed, f"a defocus radius of {radius:g} px")
    half = size // 2
    c = np.arange(size, dtype=np.float64) - half
    near, far = np.maximum(np.abs(c) - 0.5, 0), np.abs(c) + 0.5
    # Pixels wholly inside the disk are 1, wholly outside 0; only the edge ring needs supersampling.
    coverage = (np.hypot(far[:, None], far[None, :]) <= radius).astype(np.float64)
    edge = (np.hypot(near[:, None], near[None, :]) < radius) & ~coverage.astype(bool)
    rows, cols = np.nonzero(edge)
    sub = 16
    offsets = (np.arange(sub) + 0.5) / sub - 0.5  # dyadic, symmetric: mirrored pixels see mirrored samples
    sy = c[rows][:, None, None] + offsets[None, :, None]
    sx = c[cols][:, None, None] + offsets[None, None, :]
    coverage[rows, cols] = (sy**2 + sx**2 <= radius**2).mean(axis=(1, 2))
    if coverage.sum() == 0:  # a disk smaller than the subsample spacing: all of it falls in the centre pixel
        coverage[half, half] = 1.0
    return finish_kernel(coverage)


def gaussian(
    sigma_x: float,
    sigma_y: float | None = None,
    angle: float = 0.0,
    size: int | None = None,
    *,
    sigma_z: float | None = None,
) -> np.ndarray:
    """An anisotropic, rotated Gaussian kernel (2D), or a 3D one for z-stacks when ``sigma_z`` is given.

    Parameters
    ----------
    sigma_x : float
        Standard deviation in pixels along the kernel's own x axis (before rotation).
    sigma_y : float, optional
        Standard deviation along the kernel's own y axis; default ``sigma_x`` (isotropic).
    angle : float
        Rotation of the x axis in degrees, counter-clockwise as displayed; 90 swaps the two sigmas.
    size : int, optional
        Side in y and x (odd); default covers +-4 standard deviations of the rotated kernel.
    sigma_z : float, optional
        Standard deviation along z in planes; when given the result is ``(nz, size, size)`` with
        ``nz`` covering +-4 ``sigma_z``.

    Returns
    -------
    numpy.ndarray
        float32 kernel, point-sampled (its second moments match the sigmas for sigma >= ~0.7).
    """
    sigma_x = _positive("sigma_x", sigma_x)
    sigma_y = sigma_x if sigma_y is None else _positive("sigma_y", sigma_y)
    cos, sin = _direction(angle)
    # Marginal standard deviations along the image axes: the box of +-k of them holds the k-sigma ellipse.
    spread = max(math.hypot(sigma_x * cos, sigma_y * sin), math.hypot(sigma_x * sin, sigma_y * cos))
    if size is None:
        size = 2 * math.ceil(4 * spread) + 1
    else:
        size = _odd_size(size)
        if size // 2 < 2 * spread:
            raise _too_small(size, 2 * math.ceil(2 * spread) + 1,
                             f"a Gaussian with sigma {max(sigma_x, sigma_y):g} px (it would be cut within 2 sigma)")
    r = np.arange(size, dtype=np.float64) - size // 2
    x, y_up = r[None, :], -r[:, None]
    u = x * cos + y_up * sin
    v = -x * sin + y_up * cos
    g = np.exp(-0.5 * ((u / sigma_x) ** 2 + (v / sigma_y) ** 2))
    if sigma_z is None:
        return finish_kernel(g)
    sigma_z = _positive("sigma_z", sigma_z, "planes")
    z = np.arange(2 * math.ceil(4 * sigma_z) + 1, dtype=np.float64) - math.ceil(4 * sigma_z)
    g3 = np.exp(-0.5 * (z / sigma_z) ** 2)[:, None, None] * g[None]
    return finish_kernel(g3, square=False)
