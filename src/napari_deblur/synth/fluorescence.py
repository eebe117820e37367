"""Fluorescence-microscopy-like sharp scenes: spots, filaments and membranes on a dim background, 2D or 3D.
See :mod:`.scenes`."""

from __future__ import annotations

import itertools
import math

import numpy as np

from napari_deblur.synth._raster import box_points, check_shape


def _splat(points: np.ndarray, weights: np.ndarray, dims: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Spread weighted sub-pixel points onto their 2^nd neighbouring pixels by linear interpolation.

    Points every half pixel along a curve (or surface) this way draw it 1-2 pixels thick without aliasing.
    """
    base = np.floor(points).astype(np.int64)
    frac = points - base
    flats, values = [], []
    for corner in itertools.product((0, 1), repeat=points.shape[1]):
        idx = base + corner
        ok = np.all((idx >= 0) & (idx < dims), axis=1)
        flats.append(np.ravel_multi_index(tuple(idx[ok].T), dims))
        values.append((weights * np.prod(np.where(corner, frac, 1 - frac), axis=1))[ok])
    return np.concatenate(flats), np.concatenate(values)


def fluorescence(shape: tuple[int, ...] = (256, 256), *, seed: int | np.random.Generator | None = None,
                 blobs: int | None = None, filaments: int | None = None, membranes: int | None = None,
                 background: float = 0.02) -> np.ndarray:
    """A sharp fluorescence-microscopy-like scene: spots, filaments and membranes on a dim background.

    Parameters
    ----------
    shape : tuple of int
        (Y, X) or (Z, Y, X), each side >= 8; 3D scenes have 3D structures.
    seed : int or numpy.random.Generator, optional
        The same seed gives the same scene.
    blobs : int, optional
        Gaussian spots (80 %, sigma 0.6-2.5 px: vesicles) and flat-topped nuclei (20 %, sigma >= 3 px), with
        log-normal brightness. Default: 60 per 256x256 pixels (2D) or per 32x128x128 voxels (3D).
    filaments : int, optional
        Smooth random curves (cytoskeleton), 1-2 px thick. Default: 12 per 256x256 pixels / 32x128x128 voxels.
    membranes : int, optional
        Thin closed contours (rings in 2D, shells in 3D) around nuclei, then at random places.
        Default: 4 per 256x256 pixels / 32x128x128 voxels.
    background : float
        Dim offset in [0, 1) under the structures.

    Returns
    -------
    numpy.ndarray
        float32 in [0, 1] of ``shape``: ``background`` plus structures scaled so the brightest reaches 1;
        log-normal brightness gives the high dynamic range of real data (a few bright, most dimmer).
    """
    dims = check_shape(shape, (2, 3), "fluorescence")
    if not 0 <= background < 1:
        raise ValueError(f"fluorescence: background must be in [0, 1), e.g. 0.02; got {background}.")
    nd, size = len(dims), np.array(dims, float)
    scale = math.prod(dims) / (256 * 256 if nd == 2 else 32 * 128 * 128)
    counts = []
    for name, value, per in (("blobs", blobs, 60), ("filaments", filaments, 12), ("membranes", membranes, 4)):
        if value is not None and (int(value) != value or value < 0):
            raise ValueError(f"fluorescence: {name} must be a count >= 0, or None for a default from the size; "
                             f"got {value}.")
        counts.append(max(1, round(per * scale)) if value is None else int(value))
    rng = np.random.default_rng(seed)
    flats, weights = [], []

    def loguniform(lo: float, hi: float, n: int) -> np.ndarray:
        return np.exp(rng.uniform(np.log(lo), np.log(hi), n))

    # Blobs, each evaluated in a box of +-3 sigma; nuclei use exp(-(d/sigma)^4 / 2): flat top, sharper rim.
    n = counts[0]
    centre = rng.uniform(0, 1, (n, nd)) * (size - 1)
    nucleus = rng.uniform(size=n) < 0.2
    sigma = np.where(nucleus, loguniform(3, max(3.5, min(dims) / 12), n), loguniform(0.6, 2.5, n))
    amp = rng.lognormal(0, 0.8, n) * np.where(nucleus, 0.3, 1.0)
    lo = np.clip(np.floor(centre - 3 * sigma[:, None]), 0, size).astype(np.int64)
    hi = np.clip(np.ceil(centre + 3 * sigma[:, None]) + 1, 0, size).astype(np.int64)
    owner, coords = box_points(lo, hi)
    d2 = sum(((c - centre[owner, axis]) / sigma[owner]) ** 2 for axis, c in enumerate(coords))
    flats.append(np.ravel_multi_index(tuple(coords), dims))
    weights.append(amp[owner] * np.exp(-0.5 * np.where(nucleus[owner], d2 * d2, d2)))

    # Filaments: points every 0.5 px along a heading that wanders smoothly: random directions at control
    # points ``spacing`` apart, linearly interpolated (a smooth curve whose persistence length is ~spacing).
    # Directions are squeezed along short axes, so in a thin 3D stack filaments run mostly in-plane.
    n, step = counts[1], 0.5
    if n:
        aspect = size / size.max()
        length = rng.uniform(0.3, 1.0, n) * size.max()
        spacing, wiggle = rng.uniform(10, 40, n), rng.uniform(0.2, 0.8, n)
        t = np.arange(int(length.max() / step) + 1) * step
        ctrl = rng.standard_normal((n, int(length.max() / spacing.min()) + 2, nd)) * aspect
        heading = rng.standard_normal((n, nd)) * aspect
        heading /= np.linalg.norm(heading, axis=1, keepdims=True)
        u = t / spacing[:, None]
        i0, f = u.astype(np.int64), (u - np.floor(u))[..., None]
        rows = np.arange(n)[:, None]
        turn = (1 - f) * ctrl[rows, i0] + f * ctrl[rows, i0 + 1]
        direction = heading[:, None] + wiggle[:, None, None] * turn
        direction /= np.linalg.norm(direction, axis=2, keepdims=True) + 1e-12
        start = rng.uniform(0, 1, (n, nd)) * (size - 1) - heading * length[:, None] / 2
        points = start[:, None] + step * np.cumsum(direction, axis=1)
        along = t[None, :] < length[:, None]
        brightness = np.broadcast_to(rng.lognormal(-0.5, 0.5, (n, 1)) * step, along.shape)
        flat, value = _splat(points[along], brightness[along], dims)
        flats.append(flat)
        weights.append(value)

    # Membranes: closed contours r(u) = R (1 + sum_j a_j cos(f_j u.n_j + p_j)) over unit vectors u (a circle
    # in 2D, a Fibonacci sphere in 3D), around the biggest nuclei first, then anywhere.
    n = counts[2]
    if n:
        around = np.argsort(-np.where(nucleus, sigma, 0))[:n]
        around = around[nucleus[around]]
        k = len(around)
        middle = np.concatenate([centre[around], rng.uniform(0, 1, (n - k, nd)) * (size - 1)])
        radius = np.concatenate([sigma[around] * rng.uniform(1.5, 2.0, k),
                                 loguniform(5, max(6, min(dims) / 6), n - k)])
        extent = 2 * np.pi * 1.4 * radius.max() if nd == 2 else 4 * np.pi * (1.4 * radius.max()) ** 2
        m = int(extent / step**nd) + 8  # points per contour: about one per half pixel (per 0.25 px^2)
        i = np.arange(m) + 0.5
        if nd == 2:
            u = np.stack([np.sin(2 * np.pi * i / m), np.cos(2 * np.pi * i / m)], 1)
        else:
            z, theta = 1 - 2 * i / m, np.pi * (3 - np.sqrt(5)) * i  # golden-angle spiral
            u = np.stack([z, np.sqrt(1 - z * z) * np.cos(theta), np.sqrt(1 - z * z) * np.sin(theta)], 1)
        normal = rng.standard_normal((n, 3, nd))
        normal /= np.linalg.norm(normal, axis=2, keepdims=True)
        a, freq, phase = rng.normal(0, 0.06, (n, 3, 1)), rng.uniform(1, 3, (n, 3, 1)), rng.uniform(0, 6.3, (n, 3, 1))
        r = radius[:, None] * (1 + np.sum(a * np.cos(freq * np.einsum("nkd,md->nkm", normal, u) + phase), axis=1))
        points = middle[:, None] + r[..., None] * u
        per_point = (2 * np.pi * r if nd == 2 else 4 * np.pi * r * r) / m
        brightness = rng.lognormal(-1.0, 0.4, (n, 1)) * per_point
        flat, value = _splat(points.reshape(-1, nd), brightness.ravel(), dims)
        flats.append(flat)
        weights.append(value)

    total = np.bincount(np.concatenate(flats), np.concatenate(weights), minlength=math.prod(dims))
    peak = total.max()
    image = background + (1 - background) * (total / peak if peak > 0 else total)
    return np.clip(image, 0, 1).astype(np.float32).reshape(dims)
