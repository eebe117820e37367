"""A denoiser conditioned on the noise level: the learned prior of plug-and-play deconvolution (restore/pnp.py).

After DRUNet (Zhang et al., "Plug-and-Play Image Restoration with Deep Denoiser Prior", TPAMI 2021): a U-Net of
residual blocks whose input is the noisy image plus a constant map of its noise level (FFDNet's idea), so one
network denoises every level from 0 to 50/255 and plug-and-play can lower the level it asks for at each
iteration. Ours is much smaller than the paper's 32 M parameters (``small``: 0.8 M, seconds per megapixel on a
laptop CPU) and predicts the noise rather than the image (a residual, which trains faster), since it trains on a
CPU in hours rather than a GPU in days.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from napari_deblur.restore.noise import plane_sigma
from napari_deblur.zoo.blocks import ResBlock, crop_to, pad_to_multiple, unet_pass
from napari_deblur.zoo.family import DENOISE, Family
from napari_deblur.zoo.registration import register_family

SIZES: dict[str, dict[str, Any]] = {
    # About 0.8 M parameters: 1.3 s per megapixel and denoising step on two CPU cores.
    "small": {"widths": (16, 32, 64, 128), "blocks": 2, "middle_blocks": 1},
    # The paper's widths with two blocks per level (17 M parameters): for GPUs.
    "base": {"widths": (64, 128, 256, 512), "blocks": 2, "middle_blocks": 2},
}


class NoiseLevel(nn.Module):
    """The noise level of each image of an (N, C, H, W) batch, measured as restore/noise.py does (channels
    averaged): what the denoiser uses when it is given none."""

    #: Its blocks depend on the input's size: the BioImage Model Zoo export compiles it rather than tracing one size.
    export_script = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return plane_sigma(x.float()).mean(dim=1)


def sigma_map(sigma: float | torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """The (N, 1, H, W) noise-level channel for ``x``: from a float or one value per image."""
    sigma = torch.as_tensor(sigma, dtype=x.dtype, device=x.device).reshape(-1, 1, 1, 1)
    return sigma.expand(x.shape[0], 1, x.shape[-2], x.shape[-1])


class DRUNet(nn.Module):
    """Noise-level-conditioned U-Net denoiser.

    Parameters
    ----------
    in_channels : int
        Image channels (1: grey, colour and microscopy channels are denoised one by one).
    widths : sequence of int
        Channels per level, full resolution first; each level down halves the side.
    blocks : int
        Residual blocks per level, on the way down and on the way up.
    middle_blocks : int
        Residual blocks at the coarsest level (the widest: most of the parameters, little of the time).
    """

    def __init__(self, in_channels: int = 1, widths=(16, 32, 64, 128), blocks: int = 2,
                 middle_blocks: int = 1) -> None:
        super().__init__()
        widths = tuple(int(w) for w in widths)
        self.multiple = 2 ** (len(widths) - 1)
        # Two 3x3 convolutions per block at every level, each level doubling the reach: about 4 * blocks * 2^levels.
        self.receptive_field = 4 * blocks * self.multiple

        def stage(channels: int, n: int = blocks) -> nn.Sequential:
            return nn.Sequential(*[ResBlock(channels) for _ in range(n)])

        self.head = nn.Conv2d(in_channels + 1, widths[0], 3, padding=1)
        self.encoders = nn.ModuleList(stage(w) for w in widths[:-1])
        self.downs = nn.ModuleList(nn.Conv2d(a, b, 2, stride=2, bias=False) for a, b in zip(widths, widths[1:]))
        self.middle = stage(widths[-1], middle_blocks)
        self.ups = nn.ModuleList(nn.ConvTranspose2d(b, a, 2, stride=2, bias=False)
                                 for a, b in reversed(list(zip(widths, widths[1:]))))
        self.decoders = nn.ModuleList(stage(w) for w in reversed(widths[:-1]))
        self.tail = nn.Conv2d(widths[0], in_channels, 3, padding=1)
        self.noise_level = NoiseLevel()

    def forward(self, x: torch.Tensor, sigma: float | torch.Tensor | None = None,
                return_all_scales: bool = False) -> torch.Tensor | list[torch.Tensor]:
        if sigma is None:
            sigma = self.noise_level(x)
        padded, size = pad_to_multiple(x, self.multiple)
        feats = self.head(torch.cat([padded, sigma_map(sigma, padded)], dim=1))
        feats = unet_pass(feats, self.encoders, self.downs, self.middle, self.ups, self.decoders)
        out = crop_to(padded - self.tail(feats), size)  # the network estimates the noise
        return [out] if return_all_scales else out


DRUNET = register_family(Family(
    name="drunet",
    cls=DRUNet,
    sizes=SIZES,
    description="DRUNet-style denoiser conditioned on the noise level: the learned prior of plug-and-play "
                "deconvolution (method pnp) and the denoise method.",
    citation="K. Zhang, Y. Li, W. Zuo, L. Zhang, L. Van Gool, R. Timofte, Plug-and-Play Image Restoration with Deep "
             "Denoiser Prior, IEEE TPAMI 2021.",
    paper_url="https://arxiv.org/abs/2008.13751",
    tile_alignment=8,
    role=DENOISE,
))
