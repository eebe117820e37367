"""How far an estimated kernel is from the true one: the measure the tests and benchmarks/kernel_estimate.py share."""

from __future__ import annotations

import numpy as np


def kernel_error(estimate: np.ndarray, truth: np.ndarray, reach: int = 6) -> float:
    """Relative L2 distance ||estimate - truth|| / ||truth|| after the best whole-pixel alignment within ``reach``
    (a blind kernel is known only up to a shift); kernels of any odd sizes, centred in a common frame."""
    side = max(estimate.shape[0], truth.shape[0]) + 2 * reach
    padded = []
    for k in (estimate, truth):
        out = np.zeros((side, side))
        a, b = (side - k.shape[0]) // 2, (side - k.shape[1]) // 2
        out[a:a + k.shape[0], b:b + k.shape[1]] = k
        padded.append(out)
    e, t = padded
    return min(np.linalg.norm(np.roll(e, (dy, dx), (0, 1)) - t) for dy in range(-reach, reach + 1)
               for dx in range(-reach, reach + 1)) / float(np.linalg.norm(t))
