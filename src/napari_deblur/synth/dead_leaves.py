"""Dead-leaves images: occluding random shapes with power-law sizes, the scale-invariant statistics of natural
images (Matheron; Lee, Mumford & Huang, IJCV 2001; Achddou et al., SSVM 2021). See :mod:`.scenes`."""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from napari_deblur.synth._raster import check_shape, runs

# Leaf kinds and how often they occur: disks dominate as in the classic model, the others add straight edges
# and corners that real scenes have and disks lack. Disks and ellipses share one quadric outline, rectangles
# and polygons one half-plane outline.
_DISK, _ELLIPSE, _RECTANGLE, _POLYGON = range(4)
_KIND_P = (0.6, 0.15, 0.15, 0.1)
_EDGES = 6  # half-planes per polygon; fewer sides repeat an edge
_NONE = np.iinfo(np.int32).max  # label of a pixel no leaf covers yet
_SHIFT = 32  # leaves read the grain field at random shifts up to this: far beyond its correlation length


def _power_law(rng: np.random.Generator, n: int, lo: float, hi: float, alpha: float) -> np.ndarray:
    """Radii with density proportional to r^-alpha on [lo, hi], by inverting the cumulative distribution."""
    u = rng.uniform(size=n)
    if hi <= lo:
        return np.full(n, lo)
    e = 1.0 - alpha
    return lo * (hi / lo) ** u if abs(e) < 1e-9 else (lo**e + u * (hi**e - lo**e)) ** (1.0 / e)


def _mean_square_radius(lo: float, hi: float, alpha: float) -> float:
    """E[r^2] under the power law, to know how many leaves cover the image about once."""
    if hi <= lo:
        return lo * lo
    m2, m0 = (math.log(hi / lo) if abs(e) < 1e-9 else (hi**e - lo**e) / e for e in (3 - alpha, 1 - alpha))
    return m2 / m0


def _leaf_details(rng: np.random.Generator, leaf: dict[str, np.ndarray], channels: int) -> None:
    """Add kind, outline and colour to the leaves that survived culling (drawing only those is faster)."""
    r, n = leaf["r"], len(leaf["r"])
    kind = leaf["kind"] = rng.choice(4, size=n, p=_KIND_P).astype(np.int8)
    angle = rng.uniform(0, np.pi, n)
    # Ellipse (a disk when a == b) as the quadric qa dx^2 + qb dx dy + qc dy^2 <= 1.
    a, b = r, np.where(kind == _ELLIPSE, r * rng.uniform(0.3, 1.0, n), r)
    c, s = np.cos(angle), np.sin(angle)
    leaf["qa"], leaf["qc"] = c**2 / a**2 + s**2 / b**2, s**2 / a**2 + c**2 / b**2
    leaf["qb"] = 2 * c * s * (1 / a**2 - 1 / b**2)
    # Convex polygons: the hull of k points on the circle of radius r at jittered regular angles (no slivers);
    # rectangles: 4 vertices at +-t and pi +- t. Each edge is a half-plane nx dx + ny dy <= h with its normal
    # at the mid-angle of its two vertices and h = r cos(half their gap): corners stay within radius r.
    poly = np.flatnonzero(kind >= _RECTANGLE)
    m, rect = len(poly), (kind[poly] == _RECTANGLE)[:, None]
    sides = np.where(rect, 4, rng.integers(3, _EDGES + 1, (m, 1)))
    slot = np.arange(_EDGES)[None, :]
    t = rng.uniform(0.3, 0.8, (m, 1))  # rectangle half-angle: aspect from 1:3 to 1:1
    vertex = angle[poly, None] + np.where(rect, np.concatenate([-t, t, np.pi - t, np.pi + t, -t, -t], axis=1),
                                          2 * np.pi * (slot + rng.uniform(-0.35, 0.35, (m, _EDGES))) / sides)
    edge = np.where(slot < sides, slot, 0)
    nxt = np.take_along_axis(vertex, (edge + 1) % sides, axis=1) + 2 * np.pi * (edge + 1 == sides)
    cur = np.take_along_axis(vertex, edge, axis=1)
    nx = np.cos((cur + nxt) / 2)
    nx[np.abs(nx) < 1e-9] = 1e-9  # row spans divide by nx; a tiny one acts as no bound
    for key, value in (("nx", nx), ("ny", np.sin((cur + nxt) / 2)), ("h", r[poly, None] * np.cos((nxt - cur) / 2))):
        leaf[key] = np.zeros((n, _EDGES))  # rows of disks and ellipses stay unused
        leaf[key][poly] = value
    slope, direction = rng.uniform(-1, 1, n), rng.uniform(0, 2 * np.pi, n)
    leaf["gx"], leaf["gy"] = slope * np.cos(direction), slope * np.sin(direction)
    leaf["grain"] = rng.uniform(0.3, 1.0, n)
    leaf["shift"] = rng.integers(0, _SHIFT, (n, 2))
    leaf["base"] = rng.uniform(0, 1, (n, channels))


def _leaf_rows(leaf: dict[str, np.ndarray], h: int, w: int) -> tuple[np.ndarray, ...]:
    """Row spans of every leaf: leaf index, row y and inclusive columns x0..x1 (leaves are convex)."""
    y0 = np.clip(np.ceil(leaf["cy"] - leaf["r"]), 0, h).astype(np.int64)
    y1 = np.clip(np.floor(leaf["cy"] + leaf["r"]) + 1, 0, h).astype(np.int64)
    owner, y = runs(y0, y1 - y0)
    dy = y - leaf["cy"][owner]
    lo, hi = np.empty(len(y)), np.empty(len(y))
    poly = leaf["kind"][owner] >= _RECTANGLE
    i, k = np.flatnonzero(~poly), owner[~poly]
    # Solve qa dx^2 + (qb dy) dx + (qc dy^2 - 1) <= 0 for dx; no real root: the row misses the ellipse.
    qa, qb = leaf["qa"][k], leaf["qb"][k] * dy[i]
    disc = (leaf["qb"][k] ** 2 - 4 * qa * leaf["qc"][k]) * dy[i] ** 2 + 4 * qa
    dq = np.where(disc >= 0, np.sqrt(np.abs(disc)), -np.inf)
    lo[i], hi[i] = (-qb - dq) / (2 * qa), (-qb + dq) / (2 * qa)
    i, k = np.flatnonzero(poly), owner[poly]
    nx = leaf["nx"][k]
    bound = (leaf["h"][k] - leaf["ny"][k] * dy[i, None]) / nx
    lo[i] = np.where(nx < 0, bound, -np.inf).max(axis=1)
    hi[i] = np.where(nx > 0, bound, np.inf).min(axis=1)
    cx = leaf["cx"][owner]
    x0 = np.clip(np.ceil(cx + lo), 0, w).astype(np.int64)
    x1 = np.clip(np.floor(cx + hi), -1, w - 1).astype(np.int64)
    return owner, y, x0, x1


def _leaf_distance(leaf: dict[str, np.ndarray], sid: np.ndarray, y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Signed distance in pixels to the leaf's edge (negative inside), first-order accurate near the edge."""
    dy, dx = y - leaf["cy"][sid], x - leaf["cx"][sid]
    d = np.empty_like(dx)
    kind = leaf["kind"][sid]
    i = np.flatnonzero(kind == _DISK)
    d[i] = np.hypot(dx[i], dy[i]) - leaf["r"][sid[i]]
    i = np.flatnonzero(kind >= _RECTANGLE)
    k = sid[i]
    d[i] = np.max(dx[i, None] * leaf["nx"][k] + dy[i, None] * leaf["ny"][k] - leaf["h"][k], axis=1)
    i = np.flatnonzero(kind == _ELLIPSE)
    k = sid[i]
    # Ellipse: the implicit function divided by its gradient norm.
    qa, qb, qc, u, v = leaf["qa"][k], leaf["qb"][k], leaf["qc"][k], dx[i], dy[i]
    f = qa * u * u + qb * u * v + qc * v * v - 1
    d[i] = f / np.maximum(np.hypot(2 * qa * u + qb * v, qb * u + 2 * qc * v), 1e-6)
    return d


def dead_leaves(shape: tuple[int, int] = (256, 256), *, seed: int | np.random.Generator | None = None,
                color: bool = False, min_radius: float = 2.0, max_radius: float | None = None, alpha: float = 3.0,
                texture: float = 0.3, n_shapes: int | None = None) -> np.ndarray:
    """A dead-leaves image: occluding random shapes with power-law sizes, like natural images' statistics.

    Parameters
    ----------
    shape : tuple of int
        (H, W), each side >= 8.
    seed : int or numpy.random.Generator, optional
        The same seed gives the same image.
    color : bool
        RGB leaves (output (H, W, 3)) instead of grey ones (output (H, W)).
    min_radius, max_radius : float
        Range of leaf radii in pixels; ``max_radius`` defaults to ``max(shape) / 4``.
    alpha : float
        Exponent of the radius density p(r) ~ r^-alpha, > 1. 3 gives scale invariance (Lee et al. 2001);
        smaller values favour big leaves, larger values small ones.
    texture : float
        Strength in [0, 1] of each leaf's smooth gradient and fine grain; 0 gives flat leaves.
    n_shapes : int, optional
        Drop exactly this many leaves (uncovered pixels show a background colour). By default leaves are
        dropped until every pixel is covered.

    Returns
    -------
    numpy.ndarray
        float32 in [0, 1], (H, W) or (H, W, 3).

    Notes
    -----
    Leaves are dropped front to back in batches (coverage depth 1, 1, 2, 4, ...). Each pixel keeps the
    front-most leaf whose outline contains its centre, found exactly from per-row spans of the convex
    outlines. Before each batch, leaves and rows that hold no uncovered pixel are skipped (integral image),
    so the work stays near the visible area. Edges are then anti-aliased with a 1-pixel linear ramp: a pixel
    next to another leaf mixes the front leaf of the two, with weight ``clip(0.5 - distance to its edge)``,
    with the leaf behind. In default mode, pixels still uncovered after a coverage depth of 64 (rare; tiny
    gaps between minimum-size leaves) take their neighbours' mean colour.
    """
    h, w = check_shape(shape, (2,), "dead_leaves")
    if not np.isfinite(alpha) or alpha <= 1:
        raise ValueError(f"dead_leaves: alpha must be > 1 (3 gives natural-image statistics); got {alpha}.")
    if not min_radius > 0:
        raise ValueError(f"dead_leaves: min_radius must be > 0 pixels (e.g. 2); got {min_radius}.")
    top = max(max(h, w) / 4, min_radius) if max_radius is None else float(max_radius)
    if not top >= min_radius:
        raise ValueError(f"dead_leaves: max_radius ({max_radius}) must be >= min_radius ({min_radius}).")
    if not 0 <= texture <= 1:
        raise ValueError(f"dead_leaves: texture must be in [0, 1] (0 = flat leaves); got {texture}.")
    if n_shapes is not None and (int(n_shapes) != n_shapes or n_shapes < 1):
        raise ValueError(f"dead_leaves: n_shapes must be a positive integer, or None to cover the image; "
                         f"got {n_shapes}.")
    rng = np.random.default_rng(seed)
    channels = 3 if color else 1
    # Drawn whatever ``texture`` is, so the same seed gives the same leaves with and without texture.
    # Uniform white noise: 3x faster to draw than normal, and Gaussian enough once low-pass filtered.
    white = rng.random((h + _SHIFT, w + _SHIFT), dtype=np.float32)
    grain = None
    if texture > 0:
        grain = ndimage.gaussian_filter(white, 1.2, truncate=2.0)
        grain = (grain - grain.mean()) / (grain.std() + 1e-12)
    background = rng.uniform(0, 1, channels)
    radii = (float(min_radius), top, float(alpha))
    # Leaves per unit of coverage depth (0.85: ellipses, rectangles and polygons are smaller than their disk).
    per_depth = h * w / (0.85 * np.pi * _mean_square_radius(*radii))
    budget = int(n_shapes) if n_shapes is not None else None
    labels = np.full(h * w, _NONE, np.int32)
    index = np.int32 if h * w < 2**31 else np.int64  # pixel indices: narrow is faster (less memory)
    batches: list[dict[str, np.ndarray]] = []
    drawn, depth, offset = 0, 0.0, 0
    # Leaves that can reach the image have centres up to r outside it: drawing the radius, keeping it with
    # probability (h + 2r)(w + 2r) / (h + 2 top)(w + 2 top) and placing the centre uniformly within r of the
    # image is the stationary process (no thinning of big leaves at the borders).
    reach = (h + 2 * top) * (w + 2 * top)
    while budget is None or drawn < budget:
        step = max(1.0, 2.0 ** (len(batches) - 1))  # later batches are mostly culled, so they can be bigger
        n = int(min(math.ceil(step * per_depth * reach / (h * w)), 1 << 20))
        r = _power_law(rng, n, *radii)
        r = r[rng.uniform(0, reach, n) < (h + 2 * r) * (w + 2 * r)][:None if budget is None else budget - drawn]
        leaf = {"r": r, "cy": rng.uniform(-0.5 - r, h - 0.5 + r), "cx": rng.uniform(-0.5 - r, w - 0.5 + r)}
        drawn, depth = drawn + len(r), depth + step
        open_ = (labels == _NONE).reshape(h, w)
        if batches:  # keep the leaves whose bounding box holds an uncovered pixel
            table = np.zeros((h + 1, w + 1), np.int32)
            table[1:, 1:] = open_.cumsum(0, dtype=np.int32).cumsum(1)
            centre, lim = np.stack([leaf["cy"], leaf["cx"]]), np.array([[h], [w]])
            (y0, x0), (y1, x1) = (np.clip(np.ceil(centre - leaf["r"]), 0, lim).astype(np.int64),
                                  np.clip(np.floor(centre + leaf["r"]) + 1, 0, lim).astype(np.int64))
            t, y0, y1 = table.ravel(), y0 * (w + 1), y1 * (w + 1)
            keep = t[y1 + x1] - t[y0 + x1] - t[y1 + x0] + t[y0 + x0] > 0
            leaf = {key: value[keep] for key, value in leaf.items()}
        _leaf_details(rng, leaf, channels)
        row_leaf, y, x0, x1 = _leaf_rows(leaf, h, w)
        if batches:  # and, of those, the rows that hold one
            row = np.zeros((h, w + 1), np.int32)
            row[:, 1:] = open_.cumsum(1, dtype=np.int32)
            keep = np.flatnonzero(x1 >= x0)
            keep = keep[row[y[keep], x1[keep] + 1] - row[y[keep], x0[keep]] > 0]
            row_leaf, y, x0, x1 = row_leaf[keep], y[keep], x0[keep], x1[keep]
        # Front-most = lowest index; later batches get higher indices, so they land behind.
        sid, flat = runs(y * w + x0, x1 - x0 + 1, index, (row_leaf + offset).astype(np.int32))
        np.minimum.at(labels, flat, sid)
        batches.append(leaf)
        offset += len(leaf["r"])
        uncovered = np.count_nonzero(labels == _NONE)
        if uncovered == 0 or (budget is None and depth >= 64):
            break
    leaf = {key: np.concatenate([b[key] for b in batches]) for key in batches[0]}
    return _shade(leaf, labels.reshape(h, w), grain, texture, background if budget else None, color)


def _shade(leaf: dict[str, np.ndarray], labels: np.ndarray, grain: np.ndarray | None, texture: float,
           background: np.ndarray | None, color: bool) -> np.ndarray:
    """Colour a label image, anti-alias its edges and fill what no leaf covers."""
    h, w = labels.shape
    channels = leaf["base"].shape[1]
    y, x = (a.ravel() for a in np.indices((h, w), np.int32))
    # Leaf colour = base + texture * (linear ramp across the leaf + grain). The grain is one field per image,
    # a little larger than it, read at a random shift per leaf: independent texture per leaf without
    # filtering noise per leaf. Both terms fold into a few numbers per leaf.
    kx, ky = (leaf[g] * (0.4 * texture) / leaf["r"] for g in ("gx", "gy"))
    f32 = [c.astype(np.float32) for c in (*leaf["base"].T, kx, ky, -(kx * leaf["cx"] + ky * leaf["cy"]),
                                          0.25 * texture * leaf["grain"])]
    base, (kx, ky, k0, kg) = f32[:channels], f32[channels:]
    shift = leaf["shift"] @ [w + _SHIFT, 1]
    tiled = grain.ravel() if grain is not None else None
    xf, yf, at = x.astype(np.float32), y.astype(np.float32), y * (w + _SHIFT) + x

    def values(sid: np.ndarray, pix: np.ndarray) -> list[np.ndarray]:
        # np.take on 1-D float32 columns: several times faster than gathering rows of a 2-D array.
        if tiled is None:
            return [np.take(b, sid) for b in base]
        shade = np.take(kx, sid) * xf[pix] + np.take(ky, sid) * yf[pix] + np.take(k0, sid)
        shade += np.take(kg, sid) * np.take(tiled, at[pix] + np.take(shift, sid))
        return [np.take(b, sid) + shade for b in base]

    flat = labels.ravel()
    covered = flat != _NONE
    idx = slice(None) if covered.all() else np.flatnonzero(covered)  # a slice: views, not copies
    out = np.zeros((channels, h * w), np.float32)  # channels first: every write below is 1-D
    for c, value in enumerate(values(flat[idx], idx)):
        out[c, idx] = value
    # Per pixel, the front-most different leaf among its 4 neighbours: the edge that matters there.
    padded = np.pad(labels, 1, mode="edge")
    other = np.full((h, w), _NONE, np.int32)
    for dy, dx in ((0, 1), (2, 1), (1, 0), (1, 2)):
        q = padded[dy:dy + h, dx:dx + w]
        other = np.where((q != labels) & (q < other), q, other)
    edge = np.flatnonzero(covered & (other.ravel() != _NONE))
    mine, theirs = flat[edge], other.ravel()[edge]
    front = np.minimum(mine, theirs)
    # The front leaf's coverage: inside it near its edge in (0.5, 1], outside it in [0, 0.5]; then the weight
    # of this pixel's own leaf.
    geometry = {k: leaf[k].astype(np.float32) for k in ("r", "cy", "cx", "qa", "qb", "qc", "nx", "ny", "h")}
    geometry["kind"] = leaf["kind"]
    a = np.clip(0.5 - _leaf_distance(geometry, front, yf[edge], xf[edge]), 0, 1)
    a = np.where(front == mine, a, 1 - a)
    for c, c_theirs in enumerate(values(theirs, edge)):
        out[c, edge] = c_theirs + a * (out[c, edge] - c_theirs)
    if not covered.all():
        if background is None:  # a normalized convolution of the covered neighbourhood
            weight = ndimage.gaussian_filter(covered.reshape(h, w).astype(np.float32), 1.5) + 1e-9
            for c in range(channels):
                fill = ndimage.gaussian_filter(out[c].reshape(h, w), 1.5) / weight
                out[c, ~covered] = fill.ravel()[~covered]
        else:
            out[:, ~covered] = background[:, None]
    out = np.clip(out, 0, 1, out=out).reshape(channels, h, w)
    return np.moveaxis(out, 0, -1).copy() if color else out[0]
