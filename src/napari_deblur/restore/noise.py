"""The noise level of an image, measured from the image: what regularization and stopping rules are set from."""

from __future__ import annotations

import numpy as np

#: median(|N(0, 1)|): turns a median absolute value into a standard deviation.
_MAD_TO_SIGMA = 0.6745


def noise_sigma(image: np.ndarray) -> float:
    """The standard deviation of white noise in a 2D ``image``, in its own units.

    Donoho's estimate from the finest diagonal wavelet detail (Haar): that band holds almost only noise in a
    natural (and even more a blurred) image, and its median absolute value ignores the few strong edges left.
    """
    x = np.asarray(image, dtype=np.float64)
    h, w = (x.shape[0] // 2) * 2, (x.shape[1] // 2) * 2
    x = x[:h, :w]
    diagonal = (x[0::2, 0::2] - x[1::2, 0::2] - x[0::2, 1::2] + x[1::2, 1::2]) / 2
    return float(np.median(np.abs(diagonal)) / _MAD_TO_SIGMA)
