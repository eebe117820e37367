"""The noise level of an image, measured from the image: what regularization and stopping rules are set from.

Photographs carry noise of one level everywhere (:func:`noise_sigma`); photon-counting data (fluorescence, any
uint16 camera) carry Poisson noise whose variance grows with the signal, plus the camera's read noise:
:func:`noise_model` fits variance = gain * intensity + read^2, and :func:`effective_sigma` turns it into the one
level that stands for the bright structures a deconvolution has to restore.
"""

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


#: Intensity bins of the noise model's fit, and the least number of blocks per bin.
_BINS = 8
_BLOCKS_PER_BIN = 6
#: The signal-dependent noise is taken at this percentile of the intensities: where the structures are. Measured
#: on widefield scenes at 50 and 300 photons, the best single noise level for pnp was the variance at the 88th-92nd
#: percentile of the normalized image, at both photon levels.
_SIGNAL_PERCENTILE = 90


def _diagonal_detail(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The finest Haar diagonal detail of a 2D image (white noise of variance v gives variance v) and the mean of
    each 2x2 cell it comes from."""
    x = np.asarray(image, dtype=np.float64)
    h, w = (x.shape[0] // 2) * 2, (x.shape[1] // 2) * 2
    a, b, c, d = x[0:h:2, 0:w:2], x[1:h:2, 0:w:2], x[0:h:2, 1:w:2], x[1:h:2, 1:w:2]
    return np.abs(a - b - c + d) / 2, (a + b + c + d) / 4


def _block_levels(diagonal: np.ndarray, means: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The noise level (Donoho's median) and mean intensity of every 16x16 block of the detail band."""
    bh, bw = diagonal.shape[0] // _BLOCK, diagonal.shape[1] // _BLOCK

    def blocks(x: np.ndarray) -> np.ndarray:
        return x[: bh * _BLOCK, : bw * _BLOCK].reshape(bh, _BLOCK, bw, _BLOCK).swapaxes(1, 2).reshape(bh * bw, -1)

    return np.median(blocks(diagonal), axis=1) / _MAD_TO_SIGMA, blocks(means).mean(axis=1)


def noise_sigma(image: np.ndarray) -> float:
    """The standard deviation of white noise in a 2D ``image``, in its own units.

    From the finest diagonal wavelet detail (Haar), which holds mostly noise; texture and edges leak into it too, so
    the level is read in blocks and taken from the quietest fifth of them (Donoho's median per block): a
    finely textured photo reads about its true noise instead of two to three times it.
    """
    diagonal, means = _diagonal_detail(image)
    if (diagonal.shape[0] // _BLOCK) * (diagonal.shape[1] // _BLOCK) < 8:  # too small for blocks: the whole band
        return float(np.median(diagonal) / _MAD_TO_SIGMA)
    levels, _ = _block_levels(diagonal, means)
    return float(np.quantile(levels, _QUIET) / _QUIET_BIAS)


def noise_model(image: np.ndarray) -> tuple[float, float]:
    """``(gain, read)`` of the noise of a 2D ``image``: variance = gain * intensity + read^2 (Poisson-Gaussian).

    Blocks are grouped by their mean intensity; in each group the quietest fifth gives the noise there (as in
    :func:`noise_sigma`), and a line through those variances gives the model, neither term negative. Images too
    small for enough blocks, and photographs, come out with a gain of (nearly) zero: one level everywhere.
    """
    diagonal, means = _diagonal_detail(image)
    if (diagonal.shape[0] // _BLOCK) * (diagonal.shape[1] // _BLOCK) < _BINS * _BLOCKS_PER_BIN:
        return 0.0, noise_sigma(image)
    levels, intensity = _block_levels(diagonal, means)
    order = np.argsort(intensity)
    bins = np.array_split(order, _BINS)
    variance = np.array([(np.quantile(levels[b], _QUIET) / _QUIET_BIAS) ** 2 for b in bins])
    level = np.array([np.median(intensity[b]) for b in bins])
    gain, offset = np.polyfit(level, variance, 1)
    if gain <= 0:
        return 0.0, float(np.sqrt(max(np.median(variance), 0.0)))
    if offset < 0:  # through the origin: pure shot noise
        gain, offset = float(np.sum(level * variance) / np.sum(level**2)), 0.0
    return float(gain), float(np.sqrt(offset))


def effective_sigma(image: np.ndarray) -> float:
    """One noise level for a 2D ``image``: its level where the signal is (the 90th percentile of the intensities)
    under :func:`noise_model`; for noise of one level everywhere, that level."""
    gain, read = noise_model(image)
    signal = max(float(np.percentile(image, _SIGNAL_PERCENTILE)), 0.0)
    return float(np.sqrt(gain * signal + read**2))
