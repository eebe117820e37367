"""Deconvolution with a sparse (hyper-Laplacian) gradient prior: the final step of blind deblurring.

min_x 1/2 ||k * x - y||^2 + weight * sum |grad x|^exponent, with 0 < exponent < 1 (Krishnan & Fergus, "Fast image
deconvolution using hyper-Laplacian priors", NIPS 2009). Natural images have heavy-tailed gradients: this prior
lets edges stay sharp where Wiener's quadratic one smears them, and it does not turn a slightly wrong kernel's
residue into ringing, which is why blind deblurring benchmarks end with it. Solved by half-quadratic splitting:
the gradients are shrunk one pixel at a time (generalized soft thresholding, Zuo et al. ICCV 2013), the image is
solved in closed form by FFT, and the coupling weight grows geometrically. Borders as Wiener: reflective
extension tapered into the wrap-around (:class:`~napari_deblur.restore.classical.FFTDeconvolver`).
"""

from __future__ import annotations

import math
from collections.abc import Generator

import numpy as np
import torch

from napari_deblur.params import Param
from napari_deblur.restore.classical import PSF_PARAMS, FFTDeconvolver, prepare_for_method
from napari_deblur.restore.methods import MethodSpec, register
from napari_deblur.restore.noise import noise_sigma
from napari_deblur.restore.progress import drain
from napari_deblur.restore.psf_prep import psf_to_otf

#: The coupling weight runs from weight * 1 to weight * 256, a factor 2 sqrt(2) per step (Krishnan & Fergus).
BETA_STEPS = 7
BETA_GROWTH = 2 * math.sqrt(2)
#: weight = AUTO_GAIN * sigma^1.5 when the weight is left at 0 (auto), sigma never below AUTO_FLOOR: the best fixed
#: weights on Kodak x Levin kernels with the true kernel were about 8e-4 at sigma 0.01 and 4e-3 at sigma 0.03; the
#: floor keeps 8-bit captures (quantized, measured near 0.003) from too weak a prior: +0.6 dB on Levin's captures.
AUTO_GAIN = 0.8
AUTO_FLOOR = 0.007


def shrink(v: torch.Tensor, threshold: float | torch.Tensor, p: float, steps: int = 4) -> torch.Tensor:
    """argmin_g |g|^p + (g - v)^2 / (2 threshold), elementwise: generalized soft thresholding for 0 < p < 1."""
    lam = torch.as_tensor(threshold, dtype=v.dtype, device=v.device)
    cut = (2 * lam * (1 - p)) ** (1 / (2 - p))
    tau = cut + lam * p * cut ** (p - 1)
    magnitude = v.abs()
    g = magnitude.clone()
    for _ in range(steps):
        g = magnitude - lam * p * g.clamp_min(1e-12) ** (p - 1)
    return torch.where(magnitude > tau, torch.sign(v) * g.clamp_min(0), torch.zeros_like(v))


class HyperLaplacianDeconvolver(FFTDeconvolver):
    """Half-quadratic splitting with a |grad x|^exponent prior, per image of the batch."""

    def __init__(self, psf: np.ndarray, device: torch.device, weight: float, exponent: float) -> None:
        super().__init__(psf, device)
        self.weight = weight  # 0: from each tile's own noise level
        self.exponent = exponent

    def _weights(self, batch: torch.Tensor) -> torch.Tensor:
        if self.weight > 0:
            return torch.full(batch.shape[:2], self.weight, device=batch.device)
        planes = batch.detach().float().cpu().numpy()
        sigma = [[max(noise_sigma(plane), AUTO_FLOOR) for plane in image] for image in planes]
        return AUTO_GAIN * torch.tensor(sigma, device=batch.device) ** 1.5

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        return drain(self.steps(batch))

    @torch.no_grad()
    def steps(self, batch: torch.Tensor) -> Generator[tuple[int, int], None, torch.Tensor]:
        """Restore ``batch``, yielding ``(continuation steps done, BETA_STEPS)``."""
        if np.count_nonzero(self.psf) == 1:
            yield 1, 1
            return batch.float()  # a delta: no blur to undo (the prior alone would only smooth texture away)
        yield 0, BETA_STEPS
        padded, pads, full = self.extend(batch.float())
        weight = self._weights(batch).reshape(*batch.shape[:2], 1, 1)
        otf = self.otf(full)
        gx_otf, gy_otf = (self.difference_otf(axis, full) for axis in (-1, -2))
        k_data = self.filter(padded, otf.conj())
        k_power = otf.abs() ** 2
        d_power = gx_otf.abs() ** 2 + gy_otf.abs() ** 2
        x = padded
        beta = weight.clone()
        for k in range(BETA_STEPS):
            gx = shrink(self.filter(x, gx_otf), weight / beta, self.exponent)
            gy = shrink(self.filter(x, gy_otf), weight / beta, self.exponent)
            rhs = torch.fft.rfft2(k_data) + beta * (torch.fft.rfft2(gx) * gx_otf.conj()
                                                    + torch.fft.rfft2(gy) * gy_otf.conj())
            x = torch.fft.irfft2(rhs / (k_power + beta * d_power), s=full)
            beta = beta * BETA_GROWTH
            yield k + 1, BETA_STEPS
        return self.crop(x, pads)

    def difference_otf(self, axis: int, shape: tuple[int, ...]) -> torch.Tensor:
        """The transfer function of a forward difference along ``axis`` (-1: x, -2: y)."""
        key = ("difference", axis, shape)
        if key not in self._otf_cache:
            kernel = np.array([[0.0, -1.0, 1.0]]) if axis == -1 else np.array([[0.0], [-1.0], [1.0]])
            self._otf_cache[key] = psf_to_otf(kernel.astype(np.float32), shape, self.device)
        return self._otf_cache[key]


def _build(*, psf, device, weight, exponent, psf_scale, psf_scale_z, psf_centering):
    prepared = prepare_for_method(psf, psf_scale, psf_scale_z, psf_centering)
    if prepared.ndim != 2:
        raise ValueError("hyper_laplacian deconvolves 2D planes: give it a 2D PSF (for volumes use "
                         "richardson_lucy or wiener with the 3D PSF).")
    return HyperLaplacianDeconvolver(prepared, device, weight, exponent)


register(MethodSpec(
    name="hyper_laplacian",
    kind="classical",
    description="Deconvolution with a sparse gradient prior (Krishnan & Fergus 2009) and a known PSF: sharp edges "
                "without ringing, and forgiving of a slightly wrong kernel - the final step of blind deblurring.",
    build=_build,
    needs_psf=True,
    params=(
        Param("weight", float, 0.0, "Prior strength: higher is smoother (0 = auto, from the noise measured in "
              "each tile).", min=0.0, max=1.0, zero="auto"),
        Param("exponent", float, 0.8, "Sparsity of the gradient prior: 2 is Wiener's, 1 total variation, lower "
              "favours fewer, sharper edges.", min=0.3, max=1.0, advanced=True),
        *PSF_PARAMS,
    ),
))
