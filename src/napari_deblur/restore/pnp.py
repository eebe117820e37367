"""Plug-and-play deconvolution: the physics of a known PSF, with a learned denoiser as the image prior.

Half-quadratic splitting of min_x 1/2 ||k * x - y||^2 / sigma^2 + prior(x) (Zhang et al., "Plug-and-Play Image
Restoration with Deep Denoiser Prior", TPAMI 2021, DPIR). Each iteration alternates

- the data step, exact by FFT: x = argmin ||k * x - y||^2 + rho ||x - z||^2, the Wiener-like filter
  (conj(K) Y + rho Z) / (|K|^2 + rho), with the borders of the other FFT methods (reflective extension tapered into
  the wrap-around, :class:`~napari_deblur.restore.classical.FFTDeconvolver`), in 2D or 3D;
- the prior step: z = denoise(x, sigma_k), the denoiser asked for a noise level sigma_k that falls geometrically
  from :data:`START_SIGMA` to the image's own noise level over the iterations, with rho = strength * sigma^2 /
  sigma_k^2, so the first steps lean on the prior and the last ones on the data.

The denoiser is any callable on 2D planes, ``denoise(planes (B, 1, H, W), sigma (B,)) -> (B, 1, H, W)``: this
module knows nothing of networks (the zoo's ``pnp`` method plugs its trained denoiser in, zoo/denoising.py). In 3D
the data step is 3D and the denoiser sees the volume's planes: XY planes, or XY and XZ planes in turn
(``planes="alternate"``), which lets the prior act along z too.
"""

from __future__ import annotations

from collections.abc import Callable, Generator

import numpy as np
import torch

from napari_deblur.restore.classical import FFTDeconvolver
from napari_deblur.restore.noise import image_sigma
from napari_deblur.restore.progress import drain

Denoise = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

#: The noise level the first prior step asks for (DPIR's 49/255): strong enough to wipe the ringing of the
#: first, nearly unregularized data step.
START_SIGMA = 49 / 255
#: The image's noise level is never taken below this: 8-bit quantization and the errors of a PSF that is not
#: exactly the blur act as noise of about this size. Levin's real captures (measured 0.003) with their true
#: kernels lost 1.5 dB to Wiener with a floor of 0.005, and 7 dB on the largest kernels, where the nearly
#: unregularized first data steps ring beyond what the denoiser learned; 0.01 recovers most of it, and costs about
#: 0.3 dB on ideal synthetic blur with almost no noise (held-out photos, sigma 0.002).
SIGMA_FLOOR = 0.01
#: Planes sent to the denoiser in one call at most (in pixels): bounds the working memory on large volumes.
CHUNK_PIXELS = 1 << 22
PLANE_ORDERS = ("xy", "alternate")


def noise_schedule(sigma: torch.Tensor, iterations: int) -> torch.Tensor:
    """The prior step's noise levels, (iterations, *sigma.shape): geometric from START_SIGMA down to ``sigma``."""
    t = torch.linspace(0, 1, iterations, device=sigma.device).reshape(-1, *[1] * sigma.ndim)
    start = torch.full_like(sigma, START_SIGMA).clamp_min(sigma)
    return start ** (1 - t) * sigma ** t


class PlugAndPlayDeconvolver(FFTDeconvolver):
    """Deconvolution by HQS with a denoiser as the prior step, per image and channel of the batch.

    Parameters
    ----------
    psf : ndarray
        The prepared PSF (2D, or 3D for volumes).
    device : torch.device
        Where the FFTs and the denoiser run.
    denoise : callable
        ``denoise(planes (B, 1, H, W), sigma (B,))``: the prior step.
    iterations : int
        HQS iterations (each one data step and one denoiser pass).
    noise : float
        The image's noise level in [0, 1] units; 0 measures it from each tile.
    strength : float
        DPIR's lambda: how far each data step may move from the prior's estimate (higher keeps closer to it).
    planes : str
        3D only: "xy" denoises XY planes; "alternate" switches between XY and XZ planes every iteration.
    """

    def __init__(self, psf: np.ndarray, device: torch.device, denoise: Denoise, iterations: int, noise: float,
                 strength: float, planes: str = "xy") -> None:
        super().__init__(psf, device)
        if planes not in PLANE_ORDERS:
            raise ValueError(f"planes must be one of {', '.join(PLANE_ORDERS)}; got {planes!r}.")
        self.denoise, self.iterations, self.noise = denoise, iterations, noise
        self.strength, self.planes = strength, planes

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        return drain(self.steps(batch))

    @torch.no_grad()
    def steps(self, batch: torch.Tensor) -> Generator[tuple[int, int], None, torch.Tensor]:
        """Restore ``batch``, yielding ``(iterations done, iterations)``."""
        batch = batch.float()
        sigma = (torch.full(batch.shape[:2], self.noise, device=batch.device) if self.noise > 0
                 else image_sigma(batch, self.spatial_ndim)).clamp_min(SIGMA_FLOOR)
        padded, pads, full = self.extend(batch)
        dims = tuple(range(-self.spatial_ndim, 0))
        otf = self.otf(full)
        data_spectrum = torch.fft.rfftn(padded, dim=dims).mul_(otf.conj())
        power = otf.abs() ** 2
        shape = (*sigma.shape, *[1] * self.spatial_ndim)
        z = padded
        yield 0, self.iterations
        for k, sigma_k in enumerate(noise_schedule(sigma, self.iterations)):
            rho = (self.strength * sigma**2 / sigma_k**2).reshape(shape)
            spectrum = (data_spectrum + rho * torch.fft.rfftn(z, dim=dims)) / (power + rho)
            x = torch.fft.irfftn(spectrum, s=full, dim=dims)
            z = self._prior(x, sigma_k, across=self.planes == "alternate" and k % 2 == 1)
            yield k + 1, self.iterations
        return self.crop(z, pads)

    def _prior(self, x: torch.Tensor, sigma: torch.Tensor, across: bool) -> torch.Tensor:
        """The denoiser on every plane of (N, C, *spatial) ``x`` (XZ planes when ``across``), at ``sigma`` (N, C)."""
        if across:  # (N, C, Z, Y, X) -> (N, C, Y, Z, X): the planes are now XZ
            return self._prior(x.transpose(2, 3), sigma, across=False).transpose(2, 3).contiguous()
        n, c, *spatial = x.shape
        planes = x.reshape(-1, 1, *spatial[-2:])
        per_plane = int(np.prod(spatial[:-2], dtype=np.int64))  # Z planes per image in 3D, one in 2D
        levels = sigma.reshape(-1).repeat_interleave(per_plane)
        chunk = max(1, CHUNK_PIXELS // (spatial[-1] * spatial[-2]))
        out = torch.cat([self.denoise(planes[i:i + chunk], levels[i:i + chunk]) for i in range(0, len(planes), chunk)])
        return out.reshape(n, c, *spatial)
