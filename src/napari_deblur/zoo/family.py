"""What a network family is: its class, named sizes, and the facts the engine and training need about it.

An architecture file (``zoo/<family>.py``) ends with ``register_family(Family(...))``
(:mod:`napari_deblur.zoo.registration`); importing ``napari_deblur.zoo`` imports every architecture file, so
every family is known as soon as the package is.

Module contract (what every family's class provides):

- ``__init__(in_channels=1, **config)`` where ``config`` is one entry of the family's ``sizes``;
- ``forward(x, return_all_scales=False)``: ``x`` is (N, C, H, W) in [0, 1], any H, W >= 1 (the module pads to
  its own multiple and crops back); returns (N, C, H, W), or with ``return_all_scales`` a list of every
  scale's estimate ordered coarse to fine (the last is full resolution; single-scale models return one);
- ``receptive_field``: an int, about the half-width in pixels an output pixel depends on (tile overlap);
- no ``.cuda()``: the device follows the input; inference never needs train mode.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from napari_deblur.restore.network import UNKNOWN_BYTES_PER_PIXEL

DEBLUR, BLUR, DENOISE = "deblur", "blur", "denoise"


@dataclass(frozen=True)
class Family:
    """One architecture family: its class, its named sizes and what to tell users about it."""

    name: str
    cls: type[nn.Module]
    sizes: Mapping[str, Mapping[str, Any]]
    description: str
    citation: str
    #: Where the family's paper is (the BioImage Model Zoo export cites it).
    paper_url: str = ""
    default_size: str = "small"
    #: Default tile side: whole 1024x1024 images in one pass (no overlap recomputed), bounded memory beyond.
    tile_size: int = 1024
    #: Tile origins snap to multiples of this (the networks downsample by up to 16), see restore.tiling.
    tile_alignment: int = 16
    #: Peak working memory of one float32 forward pass per size, in bytes per input pixel: the zoo table's peak
    #: RSS at 1024x1024 (docs/benchmarks.md) less the idle process, rounded up. The engine sizes tiles and
    #: batches from it and the free memory; 16-bit arithmetic needs about 60 % of it.
    activation_bytes: Mapping[str, int] = field(default_factory=dict)
    #: GAN families only: the width of the discriminator each size trains against (training/module.py).
    discriminator_widths: Mapping[str, int] = field(default_factory=dict)
    #: What the network does: DEBLUR (a deblurring method of its own), BLUR (the blur generator, zoo/bgan.py:
    #: loadable and trainable, never a method) or DENOISE (``forward(x, sigma=None, ...)`` takes the noise level, a
    #: float or one value per image in [0, 1] units, ``None`` = measured from ``x``; trained on unclipped noise,
    #: training/data.py; run by the denoise and pnp methods, zoo/denoising.py).
    role: str = DEBLUR

    @property
    def deblurs(self) -> bool:
        """A deblurring network: registered as a method of its own."""
        return self.role == DEBLUR

    @property
    def makes_blur(self) -> bool:
        """The blur generator: it learns to blur sharp images like a user's real blurred ones."""
        return self.role == BLUR

    @property
    def noise_conditioned(self) -> bool:
        """A denoiser that takes the noise level as an input."""
        return self.role == DENOISE

    @property
    def is_gan(self) -> bool:
        """Trained adversarially (pixel pretraining, then against a discriminator)."""
        return bool(self.discriminator_widths)

    def bytes_per_pixel(self, size: str) -> int:
        """:attr:`activation_bytes` of ``size``; the cautious default for a size nobody measured."""
        return int(self.activation_bytes.get(size, UNKNOWN_BYTES_PER_PIXEL))


FAMILIES: dict[str, Family] = {}


def deblurring_families() -> list[str]:
    """The names of the families that deblur (every family but the blur generator), sorted."""
    return sorted(name for name, family in FAMILIES.items() if family.deblurs)


def create(name: str, size: str = "small", **overrides: Any) -> nn.Module:
    """A randomly initialized module of family ``name`` at a named ``size``, with config ``overrides``."""
    if name not in FAMILIES:
        raise ValueError(f"Unknown method {name!r}: not a network; networks: {', '.join(sorted(FAMILIES))}.")
    family = FAMILIES[name]
    if size not in family.sizes:
        raise ValueError(f"{name} has no size {size!r}; sizes: {', '.join(family.sizes)}.")
    config = {**family.sizes[size], **overrides}
    return family.cls(**config)
