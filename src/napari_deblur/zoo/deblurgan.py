"""DeblurGAN-style generator with an ESRGAN residual-dense bottleneck, and its multi-scale PatchGAN critic.

The generator is a plain encoder / bottleneck / decoder that predicts a bounded correction added to the blurry
input (Kupyn et al., DeblurGAN, CVPR 2018; DeblurGAN-v2, ICCV 2019). Its bottleneck is a chain of residual
dense blocks (RDB) from ESRGAN (Wang et al., ECCVW 2018): dense connections reuse every intermediate feature
and the scaled local residual keeps a deep stack trainable without batch normalization. There is no
normalization at all, so train and eval mode compute the same function and inference never depends on batch
statistics.

:class:`MultiScalePatchDiscriminator` is only for adversarial training: it is not registered and never runs at
inference time.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from napari_deblur.zoo.blocks import crop_to, init_weights, pad_to_multiple
from napari_deblur.zoo.family import Family
from napari_deblur.zoo.registration import register_family

SIZES: dict[str, dict] = {
    # About 2.3 M parameters: fits a CPU; bottleneck at 128 channels on a 1/4-resolution grid.
    "small": {"width": 32, "num_blocks": 4, "growth": 32},
    # The paper-sized generator: ESRGAN's growth 32, nine RDBs, a 64-wide encoder (256 bottleneck channels).
    "base": {"width": 64, "num_blocks": 9, "growth": 32},
}

_RESIDUAL_SCALE = 0.2  # ESRGAN's local residual scaling: each RDB starts close to the identity


def _lrelu() -> nn.LeakyReLU:
    return nn.LeakyReLU(0.2, inplace=True)


class ResidualDenseBlock(nn.Module):
    """Five densely connected 3x3 convs with a scaled local residual (ESRGAN's RDB).

    Conv ``i`` (0-based) sees the block input concatenated with the outputs of convs ``0..i-1``, so its input
    has ``channels + i * growth`` channels; the fifth fuses everything back to ``channels``.

    Parameters
    ----------
    channels : int
        Channels of the block's input and output.
    growth : int
        Channels each of the first four convs adds to the running concatenation.
    """

    def __init__(self, channels: int, growth: int) -> None:
        super().__init__()
        self.convs = nn.ModuleList(
            nn.Conv2d(channels + i * growth, growth if i < 4 else channels, 3, padding=1) for i in range(5)
        )
        self.act = _lrelu()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for conv in self.convs[:4]:
            features.append(self.act(conv(torch.cat(features, dim=1))))
        # No activation on the fusion conv: the block outputs a signed correction to its input.
        return x + _RESIDUAL_SCALE * self.convs[4](torch.cat(features, dim=1))


class DeblurGANGenerator(nn.Module):
    """Encoder, residual-dense bottleneck at 1/4 resolution, decoder, and a tanh-bounded residual output.

    ``output = clamp(input + tanh(tail(features)), 0, 1)``: the network only learns the correction, which is
    what a deblurring GAN needs (a sharp image is close to its blurry version), and the result is always a
    valid intensity.

    Parameters
    ----------
    in_channels : int
        Image channels C (1 for microscopy planes).
    width : int
        Channels after the 7x7 input conv; the two stride-2 convs double them to ``4 * width``.
    num_blocks : int
        Residual dense blocks in the bottleneck.
    growth : int
        Growth channels of each RDB's dense convs.
    """

    multiple = 4  # two stride-2 downsamplings

    def __init__(self, in_channels: int = 1, width: int = 64, num_blocks: int = 9, growth: int = 32) -> None:
        super().__init__()
        if num_blocks < 1:
            raise ValueError(f"num_blocks must be at least 1, got {num_blocks}.")
        self.in_channels = in_channels
        self.config = {"width": width, "num_blocks": num_blocks, "growth": growth}
        deep = 4 * width
        self.head = nn.Sequential(nn.Conv2d(in_channels, width, 7, padding=3), _lrelu())
        self.down = nn.Sequential(
            nn.Conv2d(width, 2 * width, 3, stride=2, padding=1), _lrelu(),
            nn.Conv2d(2 * width, deep, 3, stride=2, padding=1), _lrelu(),
        )
        self.body = nn.Sequential(*(ResidualDenseBlock(deep, growth) for _ in range(num_blocks)))
        # ESRGAN's trunk conv closes a long skip around all RDBs, so the bottleneck also learns a correction.
        self.body_conv = nn.Conv2d(deep, deep, 3, padding=1)
        # Nearest upsampling + conv instead of transposed convs: no checkerboard artifacts (ESRGAN's choice).
        self.up = nn.ModuleList([nn.Conv2d(deep, 2 * width, 3, padding=1), nn.Conv2d(2 * width, width, 3, padding=1)])
        self.act = _lrelu()
        self.tail = nn.Conv2d(width, in_channels, 7, padding=3)
        init_weights(self)
        with torch.no_grad():
            # A small last layer starts the generator near the identity, so early GAN steps see realistic images.
            self.tail.weight.mul_(0.1)

        # Half-width of the dependence: 7x7 head (3), stride-2 convs (1 + 2), each 3x3 conv at 1/4 scale (4 px;
        # five per RDB in series plus the trunk conv), up convs at 1/2 and full scale (2 + 1), 7x7 tail (3).
        self.receptive_field = min(64, 3 + 1 + 2 + 4 * (5 * num_blocks + 1) + 2 + 1 + 3)

    def forward(self, x: torch.Tensor, return_all_scales: bool = False) -> torch.Tensor | list[torch.Tensor]:
        """Deblur ``x`` (N, C, H, W) in [0, 1]; any H, W >= 1.

        Returns
        -------
        torch.Tensor or list of torch.Tensor
            The (N, C, H, W) estimate, or a one-element list of it with ``return_all_scales`` (single scale).
        """
        padded, size = pad_to_multiple(x, self.multiple)
        feat = self.down(self.head(padded))
        feat = feat + self.body_conv(self.body(feat))
        for conv in self.up:
            feat = self.act(conv(F.interpolate(feat, scale_factor=2.0, mode="nearest")))
        residual = torch.tanh(self.tail(feat)).to(padded.dtype)
        out = crop_to(torch.clamp(padded + residual, 0.0, 1.0), size)
        return [out] if return_all_scales else out


class MultiScalePatchDiscriminator(nn.Module):
    """PatchGAN critics at full, 1/2 and 1/4 resolution, every conv spectrally normalized (training only).

    Each scale has its own PatchGAN: ``num_downsamples`` 4x4 stride-2 convs (doubling channels from
    ``width``, capped at ``8 * width``), one 4x4 stride-1 conv and a 4x4 stride-1 conv to a 1-channel map of
    patch realness scores. Coarser scales see the same pixels with a larger effective patch, so together they
    judge both fine texture and global structure (pix2pixHD, DeblurGAN-v2). Spectral norm bounds each layer's
    Lipschitz constant, which stabilizes adversarial training without batch statistics.

    Parameters
    ----------
    in_channels : int
        Image channels C.
    width : int
        Channels of each critic's first conv.
    num_scales : int
        Critics, at resolutions 1, 1/2, 1/4, ... (avg-pool downsampling between them).
    num_downsamples : int
        Stride-2 convs per critic; a map at scale s has about ``H / (s * 2**num_downsamples)`` rows.
    """

    def __init__(self, in_channels: int = 1, width: int = 64, num_scales: int = 3, num_downsamples: int = 3) -> None:
        super().__init__()
        self.config = {"width": width, "num_scales": num_scales, "num_downsamples": num_downsamples}
        self.critics = nn.ModuleList(self._patch_gan(in_channels, width, num_downsamples) for _ in range(num_scales))

    @staticmethod
    def _patch_gan(in_channels: int, width: int, num_downsamples: int) -> nn.Sequential:
        layers: list[nn.Module] = []
        channels = in_channels
        for i in range(num_downsamples):
            out = width * min(2**i, 8)
            layers += [spectral_norm(nn.Conv2d(channels, out, 4, stride=2, padding=1)), _lrelu()]
            channels = out
        out = width * min(2**num_downsamples, 8)
        # Size-preserving stride-1 4x4 convs (an even kernel needs 1 + 2 pixels of padding): small crops still
        # give a map of patches, not a single score. Explicit pads, as padding="same" warns about a copy.
        layers += [nn.ZeroPad2d((1, 2, 1, 2)), spectral_norm(nn.Conv2d(channels, out, 4)), _lrelu(),
                   nn.ZeroPad2d((1, 2, 1, 2)), spectral_norm(nn.Conv2d(out, 1, 4))]
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Score patches of ``x`` (N, C, H, W); H, W should be at least ``2 ** (num_scales + num_downsamples -
        1)`` so the coarsest critic still has pixels.

        Returns
        -------
        list of torch.Tensor
            One (N, 1, h_s, w_s) map of raw (pre-sigmoid) patch scores per scale, finest first.
        """
        maps = []
        for i, critic in enumerate(self.critics):
            if i:
                # 3x3 average with excluded padding: anti-aliased halving that also works for odd sizes.
                x = F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)
            maps.append(critic(x))
        return maps



register_family(Family(
    name="deblurgan",
    cls=DeblurGANGenerator,
    sizes=SIZES,
    description="DeblurGAN-style generator with an ESRGAN residual-dense bottleneck (GAN-trained, sharp textures).",
    citation="O. Kupyn et al., DeblurGAN: Blind Motion Deblurring Using Conditional Adversarial Networks, CVPR "
             "2018; O. Kupyn et al., DeblurGAN-v2, ICCV 2019; X. Wang et al., ESRGAN, ECCV Workshops 2018",
    paper_url="https://arxiv.org/abs/1711.07064",
    activation_bytes={"small": 700, "base": 1500},
    discriminator_widths={"small": 32, "base": 64},
))
