"""The blur generator of "Deblurring by Realistic Blurring" (Zhang et al., CVPR 2020): BGAN.

It turns a sharp image and a map of random noise into a blurred image. It is trained adversarially against real
blurred images that are *not* paired with the sharp ones (training/realistic.py), so it learns the blur, noise
and texture of a camera or microscope that synthetic kernels only approximate. A deblurring network is then
trained on (BGAN(sharp), sharp) pairs: the paper's DBGAN.

Architecture as in the paper: a conv, residual blocks, a conv and a long skip from the sharp input, so the
network only adds the difference between sharp and blurred. Two stride-2 convs put the residual blocks on a
1/4-resolution grid: blur moves light over tens of pixels, and the blocks must see that far. The noise map
(``noise_channels`` standard-normal channels, concatenated to the image) is what makes the blur vary between
samples of one sharp image; a seed makes it reproducible.

The family is registered with ``role=BLUR``: it is a model file the zoo loads and training fine-tunes, used
by ``synthesize_blur(..., kind="learned", model=...)``, never a deblurring method.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from napari_deblur.zoo.blocks import crop_to, init_weights, pad_to_multiple
from napari_deblur.zoo.family import BLUR, Family
from napari_deblur.zoo.registration import register_family
from napari_deblur.zoo.weights import find_weights, load_model, read_card

SIZES: dict[str, dict] = {
    # About 2 M parameters, most of them in the blocks on the 1/4 grid: fast on a CPU at 64x64.
    "small": {"width": 32, "num_blocks": 6, "noise_channels": 4},
    # The paper's generator: nine residual blocks on a 64-wide encoder.
    "base": {"width": 64, "num_blocks": 9, "noise_channels": 4},
}


def _lrelu() -> nn.LeakyReLU:
    return nn.LeakyReLU(0.2, inplace=True)


class _ResidualBlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1), _lrelu(),
                                  nn.Conv2d(channels, channels, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + 0.2 * self.body(x)  # scaled, as in ESRGAN: a deep chain without normalization stays stable


class BlurGenerator(nn.Module):
    """Sharp image + noise map -> blurred image: ``sharp + tail(features)``, clamped to [0, 1] in eval mode.

    Parameters
    ----------
    in_channels : int
        Image channels C.
    width : int
        Channels after the input conv; the two stride-2 convs double them twice.
    num_blocks : int
        Residual blocks at 1/4 resolution.
    noise_channels : int
        Standard-normal channels concatenated to the image.
    """

    def __init__(self, in_channels: int = 1, width: int = 32, num_blocks: int = 6, noise_channels: int = 4) -> None:
        super().__init__()
        self.in_channels, self.noise_channels = in_channels, noise_channels
        deep = 4 * width
        self.head = nn.Sequential(
            nn.Conv2d(in_channels, width, 7, padding=3), _lrelu(),
            nn.Conv2d(width, 2 * width, 3, stride=2, padding=1), _lrelu(),
            nn.Conv2d(2 * width, deep, 3, stride=2, padding=1), _lrelu(),
        )
        # The noise joins on the 1/4 grid, where the blocks decide how far and which way light is spread: there it
        # varies the blur, not the pixels.
        self.inject = nn.Conv2d(deep + noise_channels, deep, 1)
        self.blocks = nn.Sequential(*[_ResidualBlock(deep) for _ in range(num_blocks)])
        self.trunk = nn.Conv2d(deep, deep, 3, padding=1)  # closes a long skip around the blocks, as in ESRGAN
        self.up = nn.ModuleList([nn.Conv2d(deep, 2 * width, 3, padding=1), nn.Conv2d(2 * width, width, 3, padding=1)])
        self.tail = nn.Conv2d(width, in_channels, 7, padding=3)
        # Two 3x3 convs per block at stride 4, plus the head and tail: how far an output pixel sees.
        self.receptive_field = 4 * (2 * num_blocks + 2) + 12
        init_weights(self)
        with torch.no_grad():  # starts close to the identity: the first steps need not undo a random blur
            self.tail.weight.mul_(0.1)

    def noise(self, like: torch.Tensor, seed: int | None = None) -> torch.Tensor:
        """A standard-normal noise map the size of ``like`` (N, C, h, w): from ``seed`` when given, else torch's
        random numbers."""
        shape = (like.shape[0], self.noise_channels, *like.shape[-2:])
        generator = torch.Generator().manual_seed(int(seed)) if seed is not None else None
        return torch.randn(shape, generator=generator).to(like.device, like.dtype)

    def forward(self, x: torch.Tensor, noise: torch.Tensor | None = None, *, seed: int | None = None,
                return_all_scales: bool = False) -> torch.Tensor | list[torch.Tensor]:
        """Blur ``x`` (N, C, H, W) in [0, 1]; ``noise`` (N, noise_channels, H/4, W/4, rounded up), else drawn
        (from ``seed`` when given)."""
        padded, size = pad_to_multiple(x, 4)
        feat = self.head(padded)
        if noise is None:
            noise = self.noise(feat, seed)
        feat = self.inject(torch.cat([feat, noise.to(feat.dtype)], dim=1))
        feat = feat + self.trunk(self.blocks(feat))
        for conv in self.up:
            feat = F.leaky_relu(conv(F.interpolate(feat, scale_factor=2.0, mode="nearest")), 0.2)
        out = crop_to(padded + torch.tanh(self.tail(feat)).to(padded.dtype), size)
        # Clamped to valid intensities when used, not while training: a clamp there stops the gradient of every
        # pixel it cuts, and one large early step could cut them all.
        out = out if self.training else out.clamp(0, 1)
        return [out] if return_all_scales else out


#: The family's name: the training mode, the docks and the CLI refer to blur generators by it.
BGAN = "bgan"


def blur_generator_card(name: str) -> dict:
    """The card of the trained blur generator ``name`` (model name or path); ValueError when there is none."""
    path = find_weights(name)
    if path is None:
        raise ValueError(f"No trained blur generator {name!r}: train one first (model bgan with sharp images and "
                         "real_blurred), then give its name or .safetensors path.")
    card = read_card(path)
    if card.get("family") != BGAN:
        raise ValueError(f"{name!r} is a {card.get('family')} model, not a blur generator (bgan): train one with "
                         "model bgan, or give the one you trained.")
    return card


def load_blur_generator(name: str) -> BlurGenerator:
    """The trained blur generator ``name``, in eval mode and without gradients."""
    blur_generator_card(name)
    return load_model(find_weights(name)).eval().requires_grad_(False)


register_family(Family(
    name=BGAN,
    cls=BlurGenerator,
    sizes=SIZES,
    description="Blur generator (BGAN): sharp image + noise -> realistic blurred image, learned from unpaired "
                "real blurred images. Used to make training pairs, not to deblur.",
    citation="K. Zhang, W. Luo, Y. Zhong, L. Ma, B. Stenger, W. Liu, H. Li, \"Deblurring by Realistic Blurring\", "
             "CVPR 2020.",
    paper_url="https://arxiv.org/abs/2004.01860",
    tile_alignment=4,
    discriminator_widths={"small": 32, "base": 64},
    role=BLUR,
))
