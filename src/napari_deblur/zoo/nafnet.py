"""NAFNet: a simple U-Net of activation-free blocks (Chen, Chu, Zhang, Sun, "Simple Baselines for Image
Restoration", ECCV 2022).

The NAFBlock replaces nonlinear activations with SimpleGate (split channels, multiply the halves) and
channel attention with "simplified channel attention" (global pool, one 1x1 conv, multiply). Residual
branches are scaled by learnable beta/gamma that start at zero, so a fresh block is the identity and deep
stacks train stably. Test-time local converter (TLC, Chu et al., ECCV 2022): networks trained on crops pool
statistics over the crop, so on a much larger image the global pool sees different statistics; TLC pools over
a sliding window of the training-crop size instead (on by default for inputs larger than that window).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from napari_deblur.zoo.blocks import LayerNorm2d, SimpleGate, crop_to, pad_to_multiple, unet_pass
from napari_deblur.zoo.family import Family
from napari_deblur.zoo.registration import register_family

SIZES: dict[str, dict[str, Any]] = {
    # About 1.1 M parameters: four levels, the deep blocks at the lowest resolution where they are cheap.
    "small": {"width": 16, "enc_blocks": (1, 1, 2, 4), "middle_blocks": 2, "dec_blocks": (1, 1, 1, 1)},
    # NAFNet-width32 as trained on GoPro in the paper (about 17 M parameters).
    "base": {"width": 32, "enc_blocks": (1, 1, 1, 28), "middle_blocks": 1, "dec_blocks": (1, 1, 1, 1)},
}


class LocalAvgPool(nn.Module):
    """Global average pool, or with TLC a sliding-window mean over ``window`` pixels (same output size).

    The window mean uses an integral image (cumulative sums), so its cost does not grow with the window.
    """

    #: The BioImage Model Zoo export compiles this module with TorchScript instead of tracing it (bioimageio/export.py).
    export_script = True

    def __init__(self, window: tuple[int, int] | None) -> None:
        super().__init__()
        # Plain ints (0 = no window): TorchScript compiles this module (the BioImage Model Zoo export scripts it,
        # because the choice between global and local pooling depends on the input size, which a trace freezes).
        self.window_h, self.window_w = window if window is not None else (0, 0)

    @property
    def window(self) -> tuple[int, int] | None:
        return (self.window_h, self.window_w) if self.window_h else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2], x.shape[-1]
        if self.window_h == 0 or (h <= self.window_h and w <= self.window_w):
            return x.mean(dim=(-2, -1), keepdim=True)
        kh, kw = min(self.window_h, h), min(self.window_w, w)
        # Integral image with a zero row/column in front, so every window sum is four lookups.
        s = F.pad(x.float().cumsum(-2).cumsum(-1), (1, 0, 1, 0))
        sums = s[..., kh:, kw:] - s[..., :-kh, kw:] - s[..., kh:, :-kw] + s[..., :-kh, :-kw]
        means = (sums / (kh * kw)).to(x.dtype)
        # Windows near the border are clamped inside the image: replicate the edge means.
        top, left = (h - means.shape[-2]) // 2, (w - means.shape[-1]) // 2
        bottom, right = h - means.shape[-2] - top, w - means.shape[-1] - left
        return F.pad(means, (left, right, top, bottom), mode="replicate")


class NAFBlock(nn.Module):
    """LayerNorm, 1x1 expand, 3x3 depthwise, SimpleGate, SCA, 1x1 - then a gated 1x1 feed-forward."""

    def __init__(self, channels: int, tlc_window: tuple[int, int] | None = None) -> None:
        super().__init__()
        c2 = 2 * channels
        self.norm1 = LayerNorm2d(channels)
        self.expand = nn.Conv2d(channels, c2, 1)
        self.depthwise = nn.Conv2d(c2, c2, 3, padding=1, groups=c2)
        self.gate = SimpleGate()
        self.pool = LocalAvgPool(tlc_window)
        self.sca = nn.Conv2d(channels, channels, 1)
        self.project = nn.Conv2d(channels, channels, 1)
        self.norm2 = LayerNorm2d(channels)
        self.ffn_expand = nn.Conv2d(channels, c2, 1)
        self.ffn_project = nn.Conv2d(channels, channels, 1)
        # Zero-initialized residual scales: every block starts as the identity.
        self.beta = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.gamma = nn.Parameter(torch.zeros(1, channels, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.gate(self.depthwise(self.expand(self.norm1(x))))
        y = y * self.sca(self.pool(y))
        x = x + self.project(y) * self.beta
        y = self.ffn_project(self.gate(self.ffn_expand(self.norm2(x))))
        return x + y * self.gamma


class NAFNet(nn.Module):
    """U-Net of NAFBlocks: 2x2 stride-2 conv down, 1x1 conv + PixelShuffle up, additive skips, global residual.

    Parameters
    ----------
    in_channels : int
        Image channels (1: grey or colour channel by channel; 3: RGB jointly).
    width : int
        Channels at full resolution; doubled at each level down.
    enc_blocks, dec_blocks : sequence of int
        NAFBlocks per encoder/decoder level (one entry per level).
    middle_blocks : int
        NAFBlocks at the bottleneck.
    train_size : int
        The training crop; with ``tlc`` the channel-attention pool spans 1.5x this at full resolution.
    tlc : bool
        Use the test-time local converter on inputs larger than the pooling window.
    """

    def __init__(self, in_channels: int = 1, width: int = 16, enc_blocks=(1, 1, 1, 8), middle_blocks: int = 1,
                 dec_blocks=(1, 1, 1, 1), train_size: int = 256, tlc: bool = True) -> None:
        super().__init__()
        if len(enc_blocks) != len(dec_blocks):
            raise ValueError("enc_blocks and dec_blocks need one entry per level each.")
        self.multiple = 2 ** len(enc_blocks)
        # Receptive field grows with depth; beyond 64 px the tile overlap only costs time.
        self.receptive_field = 64

        def window(level: int) -> tuple[int, int] | None:
            side = int(1.5 * train_size) // 2**level
            return (side, side) if tlc else None

        self.intro = nn.Conv2d(in_channels, width, 3, padding=1)
        self.encoders, self.downs = nn.ModuleList(), nn.ModuleList()
        channels = width
        for level, n in enumerate(enc_blocks):
            self.encoders.append(nn.Sequential(*[NAFBlock(channels, window(level)) for _ in range(n)]))
            self.downs.append(nn.Conv2d(channels, 2 * channels, 2, stride=2))
            channels *= 2
        self.middle = nn.Sequential(*[NAFBlock(channels, window(len(enc_blocks))) for _ in range(middle_blocks)])
        self.ups, self.decoders = nn.ModuleList(), nn.ModuleList()
        for level, n in reversed(list(enumerate(dec_blocks))):
            self.ups.append(nn.Sequential(nn.Conv2d(channels, 2 * channels, 1, bias=False), nn.PixelShuffle(2)))
            channels //= 2
            self.decoders.append(nn.Sequential(*[NAFBlock(channels, window(level)) for _ in range(n)]))
        self.ending = nn.Conv2d(width, in_channels, 3, padding=1)

    def forward(self, x: torch.Tensor, return_all_scales: bool = False) -> torch.Tensor | list[torch.Tensor]:
        padded, size = pad_to_multiple(x, self.multiple)
        feats = unet_pass(self.intro(padded), self.encoders, self.downs, self.middle, self.ups, self.decoders)
        out = crop_to(self.ending(feats) + padded, size)
        return [out] if return_all_scales else out


register_family(Family(
    name="nafnet",
    cls=NAFNet,
    sizes=SIZES,
    description="NAFNet: fast activation-free U-Net, the modern baseline (blind).",
    citation="L. Chen, X. Chu, X. Zhang, J. Sun, Simple Baselines for Image Restoration, ECCV 2022.",
    paper_url="https://arxiv.org/abs/2204.04676",
    activation_bytes={"small": 1000, "base": 1600},
))
