"""The noise level of an image, measured from the image: what regularization and stopping rules are set from."""

from __future__ import annotations

import numpy as np

#: median(|N(0, 1)|): turns a median absolute value into a standard deviation.
_MAD_TO_SIGMA = 0.6745
#: Blocks of the detail band, and the share of the quietest ones taken to hold only noise.
_BLOCK = 16
_QUIET = 0.2
#: The quiet blocks' level, divided by this, is the noise's: their own spread puts them a little under it
#: (measured on white noise, blocks of 16x16 wavelet coefficients).
_QUIET_BIAS = 0.93


def noise_sigma(image: np.ndarray) -> float:
    """The standard deviation of white noise in a 2D ``image``, in its own units.

    From the finest diagonal wavelet detail (Haar), which holds mostly noise; texture and edges leak into it too, so
    the level is read in blocks and taken from the quietest fifth of them (Donoho's median per block): a
    finely textured photo reads about its true noise instead of two to three times it.
    """
    x = np.asarray(image, dtype=np.float64)
    h, w = (x.shape[0] // 2) * 2, (x.shape[1] // 2) * 2
    x = x[:h, :w]
    diagonal = np.abs(x[0::2, 0::2] - x[1::2, 0::2] - x[0::2, 1::2] + x[1::2, 1::2]) / 2
    bh, bw = diagonal.shape[0] // _BLOCK, diagonal.shape[1] // _BLOCK
    if bh * bw < 8:  # too small for blocks: the whole band
        return float(np.median(diagonal) / _MAD_TO_SIGMA)
    blocks = diagonal[: bh * _BLOCK, : bw * _BLOCK].reshape(bh, _BLOCK, bw, _BLOCK).swapaxes(1, 2)
    levels = np.median(blocks.reshape(bh * bw, -1), axis=1) / _MAD_TO_SIGMA
    return float(np.quantile(levels, _QUIET) / _QUIET_BIAS)
