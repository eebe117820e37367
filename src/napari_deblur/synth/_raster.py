"""Rasterizing helpers shared by the procedural scenes: shape checks and run-length pixel sets."""

from __future__ import annotations

import numpy as np


def check_shape(shape: tuple[int, ...], ndims: tuple[int, ...], func: str) -> tuple[int, ...]:
    """Validate ``shape``: ``ndims`` entries, integer sides of at least 8 pixels."""
    names = {2: "(Y, X)", 3: "(Z, Y, X)"}
    allowed = " or ".join(f"{n} sides {names[n]}" for n in ndims)
    try:
        sides = tuple(int(s) for s in shape)
    except (TypeError, ValueError):
        raise ValueError(f"{func}: shape must be a tuple of {allowed}, e.g. (256, 256); got {shape!r}.") from None
    if len(sides) not in ndims:
        raise ValueError(f"{func}: shape must have {allowed}, e.g. (256, 256); got {len(sides)} sides {shape!r}.")
    if any(s != t for s, t in zip(sides, shape)) or min(sides) < 8:
        raise ValueError(f"{func}: every side of shape must be an integer of at least 8 pixels; got {shape!r}.")
    return sides


def runs(starts: np.ndarray, counts: np.ndarray, dtype: type = np.int64,
          tags: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Concatenated runs ``starts[i], starts[i] + 1, ...`` (``counts[i]`` values each) and their run index
    (or ``tags[i]``).

    This replaces a Python loop over thousands of small shapes, which would dominate the run time. A narrow
    ``dtype`` halves the memory of the (large) result, which is much of the cost.
    """
    counts = np.maximum(counts, 0)
    owner = np.repeat(np.arange(len(counts), dtype=np.int32) if tags is None else tags, counts)
    values = np.arange(int(counts.sum()), dtype=dtype)
    values += np.repeat((starts - (np.cumsum(counts) - counts)).astype(dtype), counts)
    return owner, values


def box_points(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """Every integer point of the boxes ``[lo, hi)`` (one box per row): box index and one array per axis."""
    sizes = np.maximum(hi - lo, 0)
    owner, local = runs(np.zeros(len(lo), np.int64), sizes.prod(axis=1))
    coords: list[np.ndarray] = [local] * lo.shape[1]
    for axis in range(lo.shape[1] - 1, -1, -1):
        local, rem = np.divmod(local, sizes[owner, axis])
        coords[axis] = rem + lo[owner, axis]
    return owner, coords
