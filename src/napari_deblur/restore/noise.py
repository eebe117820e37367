"""The noise level of an image, measured from the image: what regularization and stopping rules are set from.

Photographs carry noise of one level everywhere (:func:`noise_sigma`); photon-counting data (fluorescence, any
uint16 camera) carry Poisson noise whose variance grows with the signal, plus the camera's read noise:
:func:`noise_model` fits variance = gain * intensity + read^2, and :func:`effective_sigma` turns it into the one
level that stands for the bright structures a deconvolution has to restore.
"""

from __future__ import annotations

import numpy as np
import torch

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


def block_levels(x: torch.Tensor, mad_to_sigma: float = _MAD_TO_SIGMA) -> tuple[torch.Tensor, torch.Tensor]:
    """The noise level and mean intensity of every 16x16 block of the finest Haar diagonal detail of each 2D plane
    of ``x`` (..., H, W): white noise of standard deviation s gives level s (Donoho's median, per block); each
    block's mean is that of the 32x32 pixels it comes from. Returns two (..., blocks) tensors (no blocks when a
    plane is under 32 pixels a side). Plain tensor code, so TorchScript compiles it (the denoiser's export)."""
    h, w = x.shape[-2] // 2 * 2, x.shape[-1] // 2 * 2
    a, b = x[..., 0:h:2, 0:w:2], x[..., 1:h:2, 0:w:2]
    c, d = x[..., 0:h:2, 1:w:2], x[..., 1:h:2, 1:w:2]
    diagonal, means = (a - b - c + d).abs() / 2, (a + b + c + d) / 4
    return torch.quantile(_blocks(diagonal), 0.5, dim=-1) / mad_to_sigma, _blocks(means).mean(dim=-1)


# The module's constants enter the functions below as default arguments: TorchScript reads no globals.
def _blocks(t: torch.Tensor, block: int = _BLOCK) -> torch.Tensor:
    """(..., H, W) -> (..., blocks, 256): the whole 16x16 blocks of each plane, flattened."""
    bh, bw = t.shape[-2] // block, t.shape[-1] // block
    lead = list(t.shape[:-2])
    t = t[..., : bh * block, : bw * block].reshape(lead + [bh, block, bw, block])
    return t.transpose(-3, -2).reshape(lead + [bh * bw, block * block])


def plane_sigma(x: torch.Tensor, quiet: float = _QUIET, bias: float = _QUIET_BIAS,
                mad_to_sigma: float = _MAD_TO_SIGMA) -> torch.Tensor:
    """:func:`noise_sigma` of each 2D plane of ``x`` (..., H, W), as a tensor of shape (...)."""
    if block_count(x.shape[-2], x.shape[-1]) < 8:  # too small for blocks: the whole band
        h, w = x.shape[-2] // 2 * 2, x.shape[-1] // 2 * 2
        diagonal = (x[..., 0:h:2, 0:w:2] - x[..., 1:h:2, 0:w:2] - x[..., 0:h:2, 1:w:2] + x[..., 1:h:2, 1:w:2]).abs() / 2
        return torch.quantile(diagonal.flatten(-2), 0.5, dim=-1) / mad_to_sigma
    levels, _ = block_levels(x)
    return torch.quantile(levels, quiet, dim=-1) / bias


def block_count(height: int, width: int, block: int = _BLOCK) -> int:
    """How many blocks :func:`block_levels` reads in a plane of this size."""
    return (height // 2 // block) * (width // 2 // block)


def noise_sigma(image: np.ndarray) -> float:
    """The standard deviation of white noise in a 2D ``image``, in its own units.

    From the finest diagonal wavelet detail (Haar), which holds mostly noise; texture and edges leak into it too, so
    the level is read in blocks and taken from the quietest fifth of them (Donoho's median per block): a
    finely textured photo reads about its true noise instead of two to three times it.
    """
    return float(plane_sigma(torch.from_numpy(np.asarray(image, dtype=np.float64))))


def noise_model(image: np.ndarray) -> tuple[float, float]:
    """``(gain, read)`` of the noise of a 2D ``image``: variance = gain * intensity + read^2 (Poisson-Gaussian).

    Blocks are grouped by their mean intensity; in each group the quietest fifth gives the noise there (as in
    :func:`noise_sigma`), and a line through those variances gives the model, neither term negative. Images too
    small for enough blocks, and photographs, come out with a gain of (nearly) zero: one level everywhere.
    """
    if block_count(*np.shape(image)) < _BINS * _BLOCKS_PER_BIN:
        return 0.0, noise_sigma(image)
    levels, intensity = (t.numpy() for t in block_levels(torch.from_numpy(np.asarray(image, dtype=np.float64))))
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


def signal_noise(image: np.ndarray) -> tuple[float, float]:
    """The noise of a 2D ``image`` where its signal is (the 90th percentile of the intensities, under
    :func:`noise_model`), and the share of that noise's variance that is shot noise: 0 for noise of one level
    everywhere (photographs), near 1 for photon counts."""
    gain, read = noise_model(image)
    shot = gain * max(float(np.percentile(image, _SIGNAL_PERCENTILE)), 0.0)
    variance = shot + read**2
    return float(np.sqrt(variance)), (shot / variance if variance > 0 else 0.0)


def effective_sigma(image: np.ndarray) -> float:
    """One noise level for a 2D ``image``: its level where the signal is (:func:`signal_noise`); for noise of one
    level everywhere, that level."""
    return signal_noise(image)[0]


def image_noise(batch: torch.Tensor, spatial_ndim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The noise level of each image of an (N, C, *spatial) batch and its shot-noise share (:func:`signal_noise`),
    two (N, C) tensors.

    Photon-counting data has no single level: its Poisson noise grows with the signal. The level where the signal
    is stands for it; for photos it is their one level. Volumes are measured on their middle XY plane and an XZ
    plane, the noisier one counting: out-of-focus planes of a widefield stack are smooth and would read too little
    noise alone.
    """
    planes = batch.detach().float().cpu().numpy()
    sigma, shot = np.zeros(batch.shape[:2], np.float64), np.zeros(batch.shape[:2], np.float64)
    for n, image in enumerate(planes):
        for c, volume in enumerate(image):
            if spatial_ndim == 3:
                z, y = volume.shape[0] // 2, volume.shape[1] // 2
                sigma[n, c], shot[n, c] = max(signal_noise(volume[z]), signal_noise(volume[:, y]))
            else:
                sigma[n, c], shot[n, c] = signal_noise(volume)
    return (torch.from_numpy(sigma).float().to(batch.device), torch.from_numpy(shot).float().to(batch.device))


def image_sigma(batch: torch.Tensor, spatial_ndim: int) -> torch.Tensor:
    """The noise level of each image of an (N, C, *spatial) batch (:func:`image_noise`), shape (N, C)."""
    return image_noise(batch, spatial_ndim)[0]
