"""Multi-scale U-Net with multi-scale residual modules (MSRM) and dynamic feature fusion modules (DFFM).

"Image deblurring based on multi-scale optimization and dynamic feature fusion" (Infrared 2023) builds on
MIMO-UNet (Cho et al., ICCV 2021): one U-Net that takes the blurred image at full, 1/2 and 1/4 resolution
and returns a sharp estimate at each of the three scales. The coarse inputs enter the encoder through shallow
convolution modules (SCM) and feature attention modules (FAM). Its building block, the MSRM, splits the
channels into four groups that are convolved in a hierarchical chain (each group sees the previous group's
output), so one block mixes several receptive-field sizes. At each skip connection a DFFM fuses the three
encoder scales with per-channel softmax weights computed from the image's content.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from napari_deblur.zoo.blocks import ChannelAttention, crop_to, init_weights, pad_to_multiple, resize_to
from napari_deblur.zoo.family import Family
from napari_deblur.zoo.registration import register_family

SIZES: dict[str, dict[str, Any]] = {
    # About 1.2 M parameters: the paper's width with half the MSRMs per group.
    "small": {"width": 32, "num_msrm": 4},
    # The paper's configuration: base width 32, groups of eight MSRMs.
    "base": {"width": 32, "num_msrm": 8},
}


def _conv(cin: int, cout: int, kernel: int = 3, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2)


class MSRM(nn.Module):
    """Multi-scale residual module: depthwise-separable conv, hierarchical 4-group convs, 1x1, attention.

    Group ``i`` is convolved together with the output of group ``i - 1`` (``y_i = conv(x_i + y_{i-1})``), so
    the last group has passed through four stacked 3x3 convs and the first through one: four receptive-field
    sizes in one block, at a quarter of the cost of a full-width 3x3 conv per group.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        if channels % 4:
            raise ValueError(f"MSRM needs channels divisible by 4, got {channels}.")
        g = channels // 4
        self.separable = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1, groups=channels),
            nn.Conv2d(channels, channels, 1),
            nn.ReLU(inplace=True),
        )
        self.group_convs = nn.ModuleList(nn.Sequential(_conv(g, g), nn.ReLU(inplace=True)) for _ in range(4))
        self.fuse = nn.Conv2d(channels, channels, 1)
        self.attention = ChannelAttention(channels)

    def hierarchy(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The chain on the separable conv's output: split into x1..x4, return [y1, y2, y3, y4]."""
        ys: list[torch.Tensor] = []
        for xi, conv in zip(x.chunk(4, dim=1), self.group_convs):
            ys.append(conv(xi if not ys else xi + ys[-1]))
        return ys

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.cat(self.hierarchy(self.separable(x)), dim=1)
        return x + self.attention(self.fuse(y))


class SCM(nn.Module):
    """Shallow convolution module: lifts a downsampled input image to ``channels`` feature maps.

    A few cheap convs, then the image itself is concatenated back so the features keep its exact values.
    """

    def __init__(self, in_channels: int, channels: int) -> None:
        super().__init__()
        half = channels // 2
        self.body = nn.Sequential(
            _conv(in_channels, half), nn.ReLU(inplace=True),
            _conv(half, half, 1), nn.ReLU(inplace=True),
            _conv(half, channels - in_channels), nn.ReLU(inplace=True),
        )
        self.merge = _conv(channels, channels, 1)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.merge(torch.cat([image, self.body(image)], dim=1))


class FAM(nn.Module):
    """Feature attention module: the shallow features, convolved, gate the encoder features (added back)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = _conv(channels, channels)

    def forward(self, x: torch.Tensor, shallow: torch.Tensor) -> torch.Tensor:
        return x + x * self.conv(shallow)


class DFFM(nn.Module):
    """Dynamic feature fusion: the three encoder scales, brought to one skip, mixed by softmax weights.

    Each branch is resampled to the skip's size and 1x1-projected to its width; the sum is pooled and two
    1x1 convs give one logit per (branch, channel); a softmax over the three branches weights them, and the
    weighted branches are concatenated and fused by a 1x1 conv.
    """

    def __init__(self, in_widths: tuple[int, int, int], width: int, reduction: int = 4) -> None:
        super().__init__()
        self.width = width
        self.project = nn.ModuleList(nn.Conv2d(c, width, 1) for c in in_widths)
        hidden = max(width // reduction, 8)
        self.logits = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(width, hidden, 1), nn.ReLU(inplace=True),
            nn.Conv2d(hidden, 3 * width, 1),
        )
        self.fuse = nn.Conv2d(3 * width, width, 1)

    def branches(self, feats: list[torch.Tensor], size: tuple[int, int]) -> list[torch.Tensor]:
        out = []
        for f, proj in zip(feats, self.project):
            # A 1x1 conv and a bilinear resize commute (both linear, resize weights sum to 1), so project at
            # whichever resolution is lower: the same result for less compute.
            if f.shape[-2] * f.shape[-1] > size[0] * size[1]:
                f = resize_to(f, size)
            out.append(resize_to(proj(f), size))
        return out

    def branch_weights(self, branches: list[torch.Tensor]) -> torch.Tensor:
        """Softmax weights of shape (N, 3, width, 1, 1): per channel, they sum to 1 over the branches."""
        logits = self.logits(sum(branches)).reshape(-1, 3, self.width, 1, 1)
        return torch.softmax(logits.float(), dim=1).to(logits.dtype)

    def forward(self, feats: list[torch.Tensor], size: tuple[int, int]) -> torch.Tensor:
        b = self.branches(feats, size)
        w = self.branch_weights(b)
        return self.fuse(torch.cat([bi * w[:, i] for i, bi in enumerate(b)], dim=1))


class MSDFUNet(nn.Module):
    """Three-scale U-Net of MSRM groups with SCM/FAM input injection and DFFM skip fusion.

    Encoder: EM1 (conv + MSRMs, width w, full size), EM2 (stride-2 conv, FAM with SCM(input/2), MSRMs, 2w),
    EM3 (the same at 1/4, 4w). Decoder: DM3 (MSRMs, 4w) -> S3; transposed-conv up to 2w, fused with DFFM's
    1/2 skip -> DM2 -> S2; up to w, fused with DFFM's full-size skip -> DM1 -> S1. Each S_k is a 3x3 conv of
    the decoder features plus the input at that scale. The decoder also re-reads each coarse estimate when it
    fuses the next scale, so the coarse heads take part in (and are trained by) the full-resolution output.

    Parameters
    ----------
    in_channels : int
        Image channels (1: grey or colour channel by channel; 3: RGB jointly).
    width : int
        Feature channels at full resolution (2x at 1/2, 4x at 1/4); a multiple of 4.
    num_msrm : int
        MSRMs in each of the six encoder/decoder groups.
    """

    def __init__(self, in_channels: int = 1, width: int = 32, num_msrm: int = 8) -> None:
        super().__init__()
        w = width
        self.widths = (w, 2 * w, 4 * w)

        def group(c: int) -> nn.Sequential:
            return nn.Sequential(*[MSRM(c) for _ in range(num_msrm)])

        # Each MSRM adds 5 px (one depthwise 3x3 + up to four chained 3x3) at its scale; the path goes down
        # to 1/4 and back. Any num_msrm >= 1 already passes the 64 px cap, beyond which overlap only costs.
        self.receptive_field = min(64, 1 + 5 * num_msrm * (1 + 2 + 4 + 4 + 2 + 1))
        self.em1 = nn.Sequential(_conv(in_channels, w), group(w))
        self.down2, self.scm2, self.fam2, self.em2 = _conv(w, 2 * w, 3, 2), SCM(in_channels, 2 * w), FAM(2 * w), \
            group(2 * w)
        self.down3, self.scm3, self.fam3, self.em3 = _conv(2 * w, 4 * w, 3, 2), SCM(in_channels, 4 * w), \
            FAM(4 * w), group(4 * w)
        self.dffm1, self.dffm2 = DFFM(self.widths, w), DFFM(self.widths, 2 * w)
        self.dm3, self.dm2, self.dm1 = group(4 * w), group(2 * w), group(w)
        self.up3 = nn.ConvTranspose2d(4 * w, 2 * w, 4, stride=2, padding=1)
        self.up2 = nn.ConvTranspose2d(2 * w, w, 4, stride=2, padding=1)
        # The fusion 1x1 convs see [upsampled decoder features, DFFM skip, coarser estimate].
        self.merge2 = nn.Conv2d(4 * w + in_channels, 2 * w, 1)
        self.merge1 = nn.Conv2d(2 * w + in_channels, w, 1)
        self.heads = nn.ModuleList(_conv(c, in_channels) for c in (4 * w, 2 * w, w))
        init_weights(self)
        # Small (not zero) heads: every estimate starts near its input, and gradients still reach the body.
        with torch.no_grad():
            for head in self.heads:
                head.weight.mul_(0.01)

    multiple = 4  # the input is padded to this: two downsamplings

    def forward(self, x: torch.Tensor, return_all_scales: bool = False) -> torch.Tensor | list[torch.Tensor]:
        padded, size = pad_to_multiple(x, self.multiple)
        h, w = padded.shape[-2:]
        sizes = [(h // 4, w // 4), (h // 2, w // 2), (h, w)]
        x4, x2 = resize_to(padded, sizes[0]), resize_to(padded, sizes[1])

        e1 = self.em1(padded)
        e2 = self.em2(self.fam2(self.down2(e1), self.scm2(x2)))
        e3 = self.em3(self.fam3(self.down3(e2), self.scm3(x4)))
        feats = [e1, e2, e3]

        d3 = self.dm3(e3)
        s3 = self.heads[0](d3) + x4
        d2 = self.merge2(torch.cat([self.up3(d3), self.dffm2(feats, sizes[1]), resize_to(s3, sizes[1])], 1))
        d2 = self.dm2(d2)
        s2 = self.heads[1](d2) + x2
        d1 = self.merge1(torch.cat([self.up2(d2), self.dffm1(feats, sizes[2]), resize_to(s2, sizes[2])], 1))
        s1 = self.heads[2](self.dm1(d1)) + padded
        out = crop_to(s1, size)
        if not return_all_scales:
            return out
        # Coarse estimates cropped to the unpadded image's extent at their scale (rounded up, so never empty).
        coarse = [crop_to(s, (-(-size[0] // f), -(-size[1] // f))) for s, f in ((s3, 4), (s2, 2))]
        return [*coarse, out]


register_family(Family(
    name="msdf_unet",
    cls=MSDFUNet,
    sizes=SIZES,
    description="Multi-scale U-Net with multi-scale residual modules and dynamic feature fusion (blind, 3 scales).",
    citation="Image deblurring based on multi-scale optimization and dynamic feature fusion, Infrared 2023 "
             "(after S.-J. Cho et al., Rethinking Coarse-to-Fine Approach in Single Image Deblurring, ICCV 2021).",
    paper_url="https://arxiv.org/abs/2108.05054",
    activation_bytes={"small": 1900, "base": 1900},
))
