"""Realistic training from unpaired images: "Deblurring by Realistic Blurring" (Zhang et al., CVPR 2020).

Stage 1 (``model="bgan"`` with ``real_blurred``): the blur generator (zoo/bgan.py) learns to turn sharp crops into
blurred ones that its critic cannot tell from crops of the user's real blurred images; the two sets are not
paired. A content term keeps it close to a synthetic blur of the same crop (the ``blur`` kind or mixture), so it
cannot invent content: it is compared at 1/4 resolution, where the synthetic and the real blur agree, and the
finer scales, where they differ, are the critic's. The critic is DeblurGAN's multi-scale PatchGAN with the
relativistic loss, as the paper's.

Stage 2 (any deblurring model with ``bgan``): the deblurrer trains on (BGAN(sharp), sharp) pairs, a
``bgan_fraction`` of each batch, the rest synthetic pairs, starting from the family's shipped weights when there
are some.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from napari_deblur.training.config import TrainConfig
from napari_deblur.training.files import existing_folder, find_images, image_shape
from napari_deblur.zoo.bgan import BGAN, blur_generator_card

#: The content term compares generator output and synthetic blur after this much average pooling.
CONTENT_POOL = 4


def check_realistic(cfg: TrainConfig) -> str:
    """Check the realistic-mode settings of ``cfg``; return a sentence for the data description ("" when off)."""
    if cfg.model == BGAN:
        if cfg.pairs or not (cfg.sharp or cfg.scenes):
            raise ValueError("Training the blur generator (model bgan) needs sharp images (sharp or scenes), not "
                             "pairs, and real blurred images (real_blurred), not paired with them.")
        if not cfg.real_blurred:
            raise ValueError("Training the blur generator (model bgan) needs real_blurred: a folder of real blurred "
                             "images (not paired with the sharp ones) whose blur it learns.")
        if cfg.bgan:
            raise ValueError("bgan (a trained blur generator) is for training a deblurring model, not another bgan.")
        images = real_images(cfg)
        return f"; real blur from {len(images)} unpaired images in {cfg.real_blurred}"
    if cfg.real_blurred:
        raise ValueError("real_blurred is for training the blur generator (model bgan); to train a deblurring "
                         "model on its blur, train the bgan first and pass it as bgan.")
    if not cfg.bgan:
        return ""
    if cfg.pairs:
        raise ValueError("With bgan, give sharp images (sharp or scenes): the blur generator blurs them; pairs "
                         "already have their blur.")
    if not 0 <= cfg.bgan_fraction <= 1:
        raise ValueError(f"bgan_fraction must be a fraction in [0, 1]; got {cfg.bgan_fraction}.")
    card = blur_generator_card(cfg.bgan)
    if card["config"].get("in_channels", 1) != cfg.in_channels:
        raise ValueError(f"The blur generator {cfg.bgan!r} makes {card['config'].get('in_channels', 1)}-channel "
                         f"images, but this run trains {cfg.in_channels}-channel: train both with the same "
                         "in_channels.")
    return f"; {cfg.bgan_fraction:.0%} of the blur made by the blur generator {cfg.bgan}"


def default_init(cfg: TrainConfig) -> str:
    """Stage 2 starts from the family's shipped model for its size when there is one (and it matches the
    channels); other runs start where ``cfg.init`` says."""
    from napari_deblur.zoo.weights import find_weights, read_card

    shipped = f"{cfg.model}-{cfg.size}"
    path = find_weights(shipped) if cfg.bgan else None
    if path is None or read_card(path).get("config", {}).get("in_channels", 1) != cfg.in_channels:
        return ""
    return shipped


def real_images(cfg: TrainConfig) -> list[Path]:
    """The real blurred images of ``cfg.real_blurred``, each at least one patch in size."""
    images = find_images(existing_folder(cfg.real_blurred, "real_blurred"))
    if not images:
        raise ValueError(f"real_blurred {cfg.real_blurred} holds no images: give a folder of real blurred images.")
    small = [p.name for p in images if min(image_shape(p)[2:]) < cfg.patch]
    if small:
        raise ValueError(f"{len(small)} real blurred image(s) are smaller than the patch ({cfg.patch} px), e.g. "
                         f"{small[0]}: use a smaller patch or larger images.")
    return images


def content_loss(pixel_loss: Any, fake: torch.Tensor, prior: torch.Tensor) -> torch.Tensor:
    """The generator's distance to the synthetic blur, at 1/``CONTENT_POOL`` resolution (content, not blur)."""
    return pixel_loss(F.avg_pool2d(fake, CONTENT_POOL), F.avg_pool2d(prior, CONTENT_POOL))


def blur_with_bgan(bgan: nn.Module, sharp: torch.Tensor, blurred: torch.Tensor, fraction: float) -> torch.Tensor:
    """``blurred`` with a random ``fraction`` of its samples replaced by the blur generator's blur of ``sharp``."""
    bgan.to(sharp.device)
    with torch.no_grad():
        made = bgan(sharp.float()).to(blurred.dtype)
    pick = torch.rand(sharp.shape[0], 1, 1, 1, device=sharp.device) < fraction
    return torch.where(pick, made, blurred)
