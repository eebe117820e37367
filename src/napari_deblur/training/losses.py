"""Training losses: pixel losses (L1, Charbonnier, PSNR), the FFT loss, multi-scale wrapping, relativistic LSGAN.

All take (N, C, H, W) tensors and return a scalar tensor. Multi-scale networks (SRN, the multi-scale U-Net)
return one estimate per scale; :func:`multiscale` compares each with the sharp target resized to its size.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

_TEN_OVER_LN10 = 10.0 / math.log(10.0)


def l1(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute error."""
    return F.l1_loss(pred, target)


def charbonnier(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    """Mean of ``sqrt((pred - target)^2 + eps^2)``: L1 for large errors, smooth (differentiable) at zero.

    As in MPRNet and the multi-scale deblurring papers; identical images give ``eps``, not 0.
    """
    return torch.sqrt((pred - target).pow(2) + eps * eps).mean()


def psnr_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """NAFNet's PSNR loss: the mean over images of ``10 log10(MSE + 1e-8)``, i.e. minus the PSNR for range 1.

    Averaging per-image log errors weighs every image alike, so easy images keep improving too.
    """
    mse = (pred - target).pow(2).flatten(1).mean(dim=1)
    return _TEN_OVER_LN10 * torch.log(mse + 1e-8).mean()


def fft_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference of the 2D spectra (real and imaginary parts alike), as in MIMO-UNet.

    The FFT is unnormalized (torch's default), as in Cho et al. (ICCV 2021), whose weight of 0.1 assumes it:
    a constant offset ``d`` on an H x W image costs ``H W |d| / (2 H (W // 2 + 1))``. Computed in float32,
    since half-precision FFTs lose the small high-frequency differences this loss exists for.
    """
    diff = torch.fft.rfft2((pred - target).float())  # linear: the spectrum of the difference is the difference
    return torch.view_as_real(diff).abs().mean()


def multiscale(loss_fn: LossFn, outputs: torch.Tensor | Sequence[torch.Tensor], target: torch.Tensor
               ) -> torch.Tensor:
    """``loss_fn`` averaged over scales: each output against the target area-resized to its height and width.

    Area interpolation averages whole pixels, the same way a coarse scale of an image pyramid sees the scene.
    """
    if isinstance(outputs, torch.Tensor):
        outputs = [outputs]
    if not outputs:
        raise ValueError("multiscale needs at least one output.")
    total = 0.0
    for out in outputs:
        scaled = target if out.shape[-2:] == target.shape[-2:] else F.interpolate(target, size=out.shape[-2:],
                                                                                  mode="area")
        total = total + loss_fn(out, scaled)
    return total / len(outputs)


PIXEL_LOSSES: dict[str, LossFn] = {"l1": l1, "charbonnier": charbonnier, "psnr": psnr_loss}


def pixel_loss(cfg: Any) -> LossFn:
    """The per-scale pixel loss ``cfg.loss`` names ("l1", "charbonnier" or "psnr"), as ``fn(pred, target)``.

    Wrap it in :func:`multiscale` for multi-scale outputs; the FFT term (``cfg.fft_weight``) is added apart.
    """
    try:
        return PIXEL_LOSSES[cfg.loss]
    except KeyError:
        raise ValueError(f"loss must be one of {', '.join(PIXEL_LOSSES)}; got {cfg.loss!r}.") from None


def _as_list(scores: torch.Tensor | Sequence[torch.Tensor]) -> list[torch.Tensor]:
    return [scores] if isinstance(scores, torch.Tensor) else list(scores)


def relativistic_lsgan_d(real_scores: torch.Tensor | Sequence[torch.Tensor],
                         fake_scores: torch.Tensor | Sequence[torch.Tensor]) -> torch.Tensor:
    """Discriminator loss of the relativistic average LSGAN (Jolicoeur-Martineau, ICLR 2019), as in DeblurGAN-v2.

    ``(E[(D(real) - E[D(fake)] - 1)^2] + E[(D(fake) - E[D(real)] + 1)^2]) / 2`` per scale, averaged over the
    discriminator's scales: real images should score 1 above the average fake, fakes 1 below the average real.
    Detach the fake images before scoring them for this loss.
    """
    real, fake = _as_list(real_scores), _as_list(fake_scores)
    if len(real) != len(fake) or not real:
        raise ValueError(f"Need as many real as fake score maps, at least one; got {len(real)} and {len(fake)}.")
    total = 0.0
    for r, f in zip(real, fake):
        total = total + ((r - f.mean() - 1).pow(2).mean() + (f - r.mean() + 1).pow(2).mean()) / 2
    return total / len(real)


def relativistic_lsgan_g(real_scores: torch.Tensor | Sequence[torch.Tensor],
                         fake_scores: torch.Tensor | Sequence[torch.Tensor]) -> torch.Tensor:
    """Generator loss of the relativistic average LSGAN: the discriminator's loss with real and fake swapped.

    The generator wants its images to score 1 above the average real one (and real ones 1 below the average
    fake), so gradients flow through both terms.
    """
    return relativistic_lsgan_d(fake_scores, real_scores)
