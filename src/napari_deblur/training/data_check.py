"""The training data a config asks for, checked before anything trains: one source, folders that hold images,
sizes the patch fits, blur settings that make a kernel. What it finds (:class:`DataPlan`) is what the datasets read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from napari_deblur.synth.degrade import Degradation
from napari_deblur.synth.mixture import get_mixture
from napari_deblur.synth.scenes import KINDS as SCENE_KINDS
from napari_deblur.training.config import DATA_CHECKS, TrainConfig
from napari_deblur.training.files import (
    IMAGE_SUFFIXES,
    Pair,
    check_pairs,
    check_sizes,
    existing_folder,
    find_images,
    image_shape,
)
from napari_deblur.training.realistic import check_realistic
from napari_deblur.zoo.family import FAMILIES

VAL_CROP = 256  # held-out pairs are validated on centre crops of at most this side
NATURAL_SCENES = "natural"  # scikit-image's photographs plus some dead leaves (training/natural.py)


@dataclass
class DataPlan:
    """What :func:`check_data` found: the files each dataset reads, and a sentence describing the data."""

    train_pairs: list[Pair] = field(default_factory=list)
    val_pairs: list[Pair] = field(default_factory=list)
    images: list[Path] = field(default_factory=list)
    val_side: int = 0
    description: str = ""


def check_data(cfg: TrainConfig) -> DataPlan:
    """Check the data settings of ``cfg`` (sources, folders, sizes, blur); raise ``ValueError`` naming the fix."""
    given = [s for s in ("pairs", "sharp", "scenes") if getattr(cfg, s)]
    if len(given) != 1:
        problem = "no data source is set" if not given else f"several are set ({', '.join(given)})"
        raise ValueError(f"Set exactly one data source, but {problem}: pairs (a folder of blur/ and sharp/ "
                         "pairs), sharp (a folder of sharp images, blurred on the fly) or scenes "
                         f"({' or '.join(SCENE_KINDS)}).")
    realistic = check_realistic(cfg)  # first: its messages say what realistic mode needs instead
    plan = DataPlan()
    if cfg.pairs:
        pairs, _ = check_pairs(cfg.pairs, cfg.patch)
        # Hold out at most a fifth, the last pairs (in a GoPro layout: the end of the last sequence, so held-out
        # frames have fewer near-duplicates in training); with fewer than five, validation reuses training pairs.
        held = 0 if cfg.val_pairs else min(cfg.val_size, len(pairs) // 5)
        plan.train_pairs, plan.val_pairs = pairs[:len(pairs) - held], pairs[len(pairs) - held:] or pairs
        plan.description = f"{len(pairs)} pairs from {cfg.pairs}"
    else:
        degradation_for(cfg)  # raises on an unknown kind or bad parameters
        plan.val_side = 2 * cfg.patch
        if cfg.sharp:
            plan.images = find_images(existing_folder(cfg.sharp, "sharp"))
            if not plan.images:
                raise ValueError(f"No images in {cfg.sharp} ({', '.join(sorted(IMAGE_SUFFIXES))}).")
            plan.val_side = min(plan.val_side, check_sizes(plan.images, cfg.patch))
        elif cfg.scenes not in (*SCENE_KINDS, NATURAL_SCENES):
            raise ValueError(f"scenes must be one of {', '.join((*SCENE_KINDS, NATURAL_SCENES))}; got "
                             f"{cfg.scenes!r}.")
        what = (f"{len(plan.images)} sharp images from {cfg.sharp}" if cfg.sharp
                else "scikit-image's photographs and dead leaves" if cfg.scenes == NATURAL_SCENES
                else f"{cfg.scenes} scenes")
        params = f" {cfg.blur_params}" if cfg.blur_params else ""
        if get_mixture(cfg.blur):
            plan.description = f"{what}, {cfg.blur} blur mixture (with its own noise and JPEG)"
        else:
            plan.description = f"{what}, {cfg.blur} blur{params}, noise sigma <= {cfg.noise}"
    if cfg.val_pairs:
        plan.val_pairs, smallest = check_pairs(cfg.val_pairs, 1)
        plan.description += f"; validation pairs from {cfg.val_pairs}"
    else:
        smallest = min(min(image_shape(s)[2:]) for _, s in plan.val_pairs) if plan.val_pairs else 0
    # One crop side for all validation pairs, so they can be batched.
    plan.val_side = plan.val_side if not plan.val_pairs else min(VAL_CROP, smallest)
    plan.description += realistic
    return plan


def degradation_for(cfg: TrainConfig) -> Degradation:
    """The blur, noise and JPEG chain ``cfg`` asks for (checked: its kernel is made once)."""
    params = dict(cfg.blur_params)
    kernel = params.pop("kernel", None) if cfg.blur == "custom" else None
    try:
        # A denoiser learns noise as plug-and-play's data step makes it: unclipped, negative values included.
        family = FAMILIES.get(cfg.model)
        deg = Degradation(kind=cfg.blur, params=params, kernel=kernel, noise=cfg.noise,
                          photons=cfg.photons or None, jpeg_quality=cfg.jpeg_quality or None,
                          clip=not (family and family.noise_conditioned))
        deg.make_kernel(seed=0)
    except (TypeError, ValueError) as e:
        hint = " (for blur='custom' pass blur_params={'kernel': '<file>'})" if cfg.blur == "custom" else ""
        raise ValueError(f"Invalid blur settings: {e}{hint}") from None
    return deg


DATA_CHECKS.append(check_data)
