"""Training data: patches from folders of pairs, or sharp images and procedural scenes blurred on the fly.

Every training sample is drawn by its own numpy Generator seeded with ``(seed, 0, index)``, so a run is
reproducible, any worker can make any sample, and a resumed run sees the same stream. Validation samples use
``(seed, 1, index)`` and never change during a run. Images are normalized to [0, 1]: 8-bit by 255, [0, 1]
floats as they are, uint16 and other floats by robust percentiles (of the sharp image, for both halves of a
pair, so a pair keeps its relative intensities).
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from napari_deblur.restore.intensity import robust_range
from napari_deblur.synth.degrade import Degradation, fit_kernel
from napari_deblur.synth.kinds import get_kind
from napari_deblur.synth.mixture import get_mixture, random_depth
from napari_deblur.synth.scenes import random_scene
from napari_deblur.training.config import TrainConfig
from napari_deblur.training.data_check import NATURAL_SCENES, DataPlan, check_data, degradation_for
from napari_deblur.training.files import (
    IMAGE_SUFFIXES,
    Pair,
    find_images,
    find_pairs,
    image_shape,
    layer_pairs_to_folder,
    load_planes,
    normalize,
)
from napari_deblur.training.natural import DEAD_LEAVES_FRACTION, natural_images
from napari_deblur.training.realistic import real_images

PERCENTILE_SCENES = ("fluorescence",)  # normalized as scientific data (restore/intensity.py's policy)
SOFT_KINDS = ("gaussian", "widefield", "confocal")  # automatic sizes with faint tails: cropped to the patch
CACHE_BYTES = 256 << 20  # decoded images kept per dataset copy (one per DataLoader worker)

__all__ = ["IMAGE_SUFFIXES", "DataPlan", "PairedPatches", "SyntheticPatches", "check_data", "find_images",
           "find_pairs", "image_shape", "layer_pairs_to_folder", "load_planes", "make_datasets"]


class _Cache:
    """Decoded images by path, least recently used dropped beyond a byte budget (per worker process)."""

    def __init__(self, budget: int = CACHE_BYTES) -> None:
        self.budget, self.items = budget, OrderedDict()

    def __call__(self, path: Path) -> tuple[np.ndarray, float, float]:
        if path in self.items:
            self.items.move_to_end(path)
            return self.items[path]
        item = self.items[path] = load_planes(path)
        while sum(v[0].nbytes for v in self.items.values()) > self.budget and len(self.items) > 1:
            self.items.popitem(last=False)
        return item


def _reflect(index: np.ndarray, n: int) -> np.ndarray:
    """Indices mirrored into [0, n) as scipy's "reflect" border (d c b a | a b c d | d c b a), any distance."""
    index = np.mod(index, 2 * n)
    return np.where(index >= n, 2 * n - 1 - index, index)


def _crop(plane: np.ndarray, y: int, x: int, side: int) -> np.ndarray:
    """A (C, side, side) crop at (y, x); parts outside the image are mirrored in."""
    h, w = plane.shape[-2:]
    if 0 <= y and y + side <= h and 0 <= x and x + side <= w:
        return plane[:, y:y + side, x:x + side]
    return plane[:, _reflect(np.arange(y, y + side), h)[:, None], _reflect(np.arange(x, x + side), w)[None, :]]


def _channels(x: np.ndarray, in_channels: int, rng: np.random.Generator | None) -> np.ndarray:
    """Match the network's channels: one random colour channel (the mean without ``rng``), or grey repeated."""
    if x.shape[0] == 3 and in_channels == 1:
        if rng is None:
            return x.mean(axis=0, keepdims=True)
        c = int(rng.integers(3))
        return x[c:c + 1]
    return np.repeat(x, in_channels, axis=0) if x.shape[0] == 1 and in_channels == 3 else x


def _augment(rng: np.random.Generator, *arrays: np.ndarray) -> list[np.ndarray]:
    """The same random 90-degree rotation and horizontal flip for every array (the 8 dihedral symmetries)."""
    k, flip = int(rng.integers(4)), bool(rng.integers(2))
    return [np.flip(np.rot90(a, k, axes=(-2, -1)), -1) if flip else np.rot90(a, k, axes=(-2, -1)) for a in arrays]


def _sample(blurred: np.ndarray, sharp: np.ndarray, sigma: float | None = None) -> dict[str, torch.Tensor]:
    """A training sample; ``sigma``, the Gaussian noise level added (when known), conditions a denoiser."""
    sample = {"blurred": torch.from_numpy(np.ascontiguousarray(blurred, np.float32)),
              "sharp": torch.from_numpy(np.ascontiguousarray(sharp, np.float32))}
    if sigma is not None:
        sample["sigma"] = torch.tensor(sigma, dtype=torch.float32)
    return sample


# -- datasets ----------------------------------------------------------------------------------------------
class PairedPatches(Dataset):
    """Aligned random crops of (blurred, sharp) pairs with flips and rotations; ``augment=False``: fixed crops
    (centre crops first, then seeded positions when ``length`` exceeds the number of pairs)."""

    def __init__(self, pairs: list[Pair], patch: int, length: int, *, in_channels: int = 1, seed: int = 0,
                 stream: int = 0, augment: bool = True) -> None:
        self.pairs, self.patch, self.length, self.in_channels = pairs, patch, length, in_channels
        self.seed, self.stream, self.augment, self.cache = seed, stream, augment, _Cache()

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng([self.seed, self.stream, index])
        fixed = not self.augment and index < len(self.pairs)  # first pass of validation: centre crops
        pick = rng.integers(len(self.pairs)) if self.augment else index % len(self.pairs)
        blur_path, sharp_path = self.pairs[pick]
        (blur, _, _), (sharp, low, high) = self.cache(blur_path), self.cache(sharp_path)
        if blur.shape != sharp.shape:
            raise ValueError(f"The pair {blur_path} and {sharp_path} differ in shape; pairs must be pixel-aligned.")
        n, _, h, w = sharp.shape
        side = min(self.patch, h, w)
        z, y, x = (n // 2, (h - side) // 2, (w - side) // 2) if fixed else (
            rng.integers(n), rng.integers(h - side + 1), rng.integers(w - side + 1))
        pair = np.stack([_crop(blur[z], y, x, side), _crop(sharp[z], y, x, side)])  # (2, C, side, side)
        pair = _channels(normalize(pair, low, high).swapaxes(0, 1), self.in_channels,
                         rng if self.augment else None).swapaxes(0, 1)
        if self.augment:
            (pair,) = _augment(rng, pair)
        return _sample(pair[0], pair[1])


@dataclass(frozen=True)
class _GivenKernel(Degradation):
    """A Degradation whose kernel was drawn beforehand (its size sets the crop margin)."""

    given: Any = field(default=None, compare=False)

    def make_kernel(self, *, seed: int | None = None, ndim: int = 2, strength: float = 1.0) -> np.ndarray:
        return self.given


class SyntheticPatches(Dataset):
    """Sharp crops from image files (``images``) or procedural ``scenes``, blurred on the fly by ``degradation``:
    a fresh kernel and noise level per sample. The crop is larger than the patch by the kernel's half-width on
    every side and blurred before its centre is cut, so patch borders hold real blur, not padding."""

    def __init__(self, degradation: Degradation, patch: int, length: int, *, images: list[Path] | None = None,
                 scenes: str = "", in_channels: int = 1, seed: int = 0, stream: int = 0,
                 augment: bool = True) -> None:
        self.degradation, self.patch, self.length, self.images, self.scenes = degradation, patch, length, images, scenes
        self.in_channels, self.seed, self.stream, self.augment = in_channels, seed, stream, augment
        self.mixture = get_mixture(degradation.kind)
        self.random_kernel = get_kind(degradation.kind).random
        self.kernel: np.ndarray | None = None  # the one kernel of a non-random kind, made once
        self.cache = _Cache()

    def __len__(self) -> int:
        return self.length

    def _make_kernel(self, degradation: Degradation, seed: int) -> np.ndarray:
        if self.kernel is not None:
            return self.kernel
        kernel = degradation.make_kernel(seed=seed)
        if degradation.kind in SOFT_KINDS:
            kernel = fit_kernel(kernel, (self.patch, self.patch))
        if not self.random_kernel:
            self.kernel = kernel
        return kernel

    def _region(self, rng: np.random.Generator, side: int) -> np.ndarray:
        """A sharp (C, side, side) crop in [0, 1] from the images or scenes, with the network's channels."""
        scenes = self.scenes
        if scenes == NATURAL_SCENES:
            if rng.random() < DEAD_LEAVES_FRACTION and self.stream == 0:
                scenes = "dead_leaves"
            else:
                pool = natural_images("train" if self.stream == 0 else "val")
                image = pool[rng.integers(len(pool))]
                h, w = image.shape[-2:]
                y, x = int(rng.integers(max(h - side, 0) + 1)), int(rng.integers(max(w - side, 0) + 1))
                return _channels(_crop(image, y, x, side), self.in_channels, rng if self.augment else None)
        if scenes:
            color = self.in_channels == 3 and scenes == "dead_leaves"
            scene = random_scene((side, side), scenes, seed=rng, color=color)
            return _channels(np.moveaxis(scene, -1, 0) if color else scene[None], self.in_channels, rng)
        planes, low, high = self.cache(self.images[rng.integers(len(self.images))])
        n, _, h, w = planes.shape
        m = (side - self.patch) // 2
        y, x = int(rng.integers(h - self.patch + 1)) - m, int(rng.integers(w - self.patch + 1)) - m
        region = _crop(planes[rng.integers(n)], y, x, side)
        return _channels(normalize(region, low, high), self.in_channels, rng)

    def _draw(self, rng: np.random.Generator) -> tuple[Degradation, bool]:
        """This sample's degradation (a mixture draws a new one per sample) and whether it varies with depth."""
        if self.mixture is not None:
            return self.mixture.draw(rng)
        sigma = float(rng.uniform(0, self.degradation.noise))  # noise levels up to the configured one
        return dataclasses.replace(self.degradation, noise=sigma), False

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng([self.seed, self.stream, index])
        kernel_seed, noise_seed = (int(s) for s in rng.integers(2**31, size=2))
        degradation, varying = self._draw(rng)
        kernel = self._make_kernel(degradation, kernel_seed)
        m, p = max(kernel.shape) // 2, self.patch
        region = self._region(rng, p + 2 * m)
        if self.augment:
            (region,) = _augment(rng, region)
        fields = {f.name: getattr(degradation, f.name) for f in dataclasses.fields(Degradation)}
        depth = None
        if varying:  # the blur grows away from a random in-focus depth; kernels are re-made per strength
            depth, given = random_depth(region.shape[-2:], rng), {"focus": float(rng.uniform(0, 0.5)), "levels": 4}
            degrade: Degradation = dataclasses.replace(degradation, **given)
        else:
            degrade = _GivenKernel(**fields, given=kernel)
        blurred, _ = degrade(np.ascontiguousarray(region), seed=noise_seed, depth=depth, rgb=region.shape[0] == 3)
        centre = (slice(None), slice(m, m + p), slice(m, m + p))
        blurred, sharp, sigma = blurred[centre], region[centre], degradation.noise
        if self.scenes in PERCENTILE_SCENES:
            # These scenes stand in for uint16 microscopy, which the engine maps by the robust range of the
            # blurred input: the network must see that map in training too, not the scene's own 0..1.
            low, high = robust_range(blurred)
            blurred, sharp, sigma = (blurred - low) / (high - low), (sharp - low) / (high - low), sigma / (high - low)
        return _sample(blurred, sharp, sigma)


class WithRealBlur(Dataset):
    """``base``'s samples (sharp crop + its synthetic blur) with a crop of a real blurred image added as "real"
    (same channels and size, drawn by its own seeded Generator, so the stream is reproducible and resumable).
    Images are drawn in proportion to their area: every real pixel is equally likely, so a folder of many small
    images does not drown out a few large ones."""

    def __init__(self, base: Dataset, images: list[Path], *, in_channels: int, seed: int, stream: int) -> None:
        self.base, self.images, self.in_channels = base, images, in_channels
        areas = np.array([float(np.prod(image_shape(p)[2:])) * image_shape(p)[0] for p in images])
        self.weights = areas / areas.sum()
        self.seed, self.stream, self.cache = seed, stream, _Cache()
        self.description = getattr(base, "description", "")

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        sample = dict(self.base[index])
        rng = np.random.default_rng([self.seed, self.stream, index, 1])
        planes, low, high = self.cache(self.images[rng.choice(len(self.images), p=self.weights)])
        n, _, h, w = planes.shape
        side = sample["sharp"].shape[-1]
        crop = _crop(planes[rng.integers(n)], int(rng.integers(h - side + 1)), int(rng.integers(w - side + 1)), side)
        (crop,) = _augment(rng, _channels(normalize(crop, low, high), self.in_channels, rng))
        sample["real"] = torch.from_numpy(np.ascontiguousarray(crop, np.float32))
        return sample


def make_datasets(cfg: TrainConfig) -> tuple[Dataset, Dataset]:
    """The training stream (``steps * batch`` random patches per process) and the fixed validation set."""
    plan = check_data(cfg)
    length = cfg.steps * cfg.batch * cfg.devices * cfg.nodes
    common = {"in_channels": cfg.in_channels, "seed": cfg.seed}
    if cfg.pairs:
        train: Dataset = PairedPatches(plan.train_pairs, cfg.patch, length, **common)
    else:
        deg = degradation_for(cfg)
        synth = {"images": plan.images, "scenes": cfg.scenes, **common}
        train = SyntheticPatches(deg, cfg.patch, length, **synth)
    if plan.val_pairs:
        val: Dataset = PairedPatches(plan.val_pairs, plan.val_side, cfg.val_size, stream=1, augment=False, **common)
    else:
        val = SyntheticPatches(deg, plan.val_side, cfg.val_size, stream=1, augment=False, **synth)
    if cfg.real_blurred:  # the blur generator's critic also sees crops of the real blurred images
        images = real_images(cfg)
        train = WithRealBlur(train, images, in_channels=cfg.in_channels, seed=cfg.seed, stream=0)
    train.description = val.description = plan.description
    return train, val
