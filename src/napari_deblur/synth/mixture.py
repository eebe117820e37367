"""Random blur mixtures for training: every sample draws its own blur kind, strength, noise and compression.

A general model must see every blur it will meet, not one kind with fixed parameters. A :class:`BlurMixture`
is that distribution, written as data: which kinds (and how often), the range of each parameter, the noise,
the JPEG and the depth-varying fractions. :meth:`BlurMixture.draw` turns a seeded generator into one concrete
:class:`~napari_deblur.synth.degrade.Degradation`, so a sample is reproducible from its seed alone.

Strengths are skewed towards mild blur (``power`` > 1 in :class:`Range`): what users meet is mostly mild to
moderate, and a model trained mostly on strong blur over-sharpens mild blur. A fraction of samples has no blur
at all, so that a sharp input stays sharp. The mixtures are registered as blur kinds (``random_mix``,
``random_mix_microscopy``), so the CLI, the widgets, ``synthesize_blur`` and ``TrainConfig(blur=...)`` all take
them by name; ranges and fractions are documented in docs/blur.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from napari_deblur.synth.degrade import Degradation
from napari_deblur.synth.kinds import BlurKind, register_kind

NO_BLUR = "none"  # a mixture entry that leaves the image sharp (noise and JPEG still apply)


@dataclass(frozen=True)
class Range:
    """A number drawn between ``low`` and ``high``: ``low + (high - low) * u ** power`` with ``u`` uniform.

    ``power`` > 1 makes small values more likely (mild blur more often than strong); ``log`` draws uniformly
    in log space (photon counts spanning orders of magnitude); ``integer`` rounds.
    """

    low: float
    high: float
    power: float = 1.0
    log: bool = False
    integer: bool = False

    def draw(self, rng: np.random.Generator) -> float | int:
        u = float(rng.random()) ** self.power
        if self.log:
            value = float(np.exp(np.log(self.low) + (np.log(self.high) - np.log(self.low)) * u))
        else:
            value = self.low + (self.high - self.low) * u
        return int(round(value)) if self.integer else value


@dataclass(frozen=True)
class BlurMixture:
    """A distribution over degradations. See the module docstring; :meth:`draw` makes one sample's.

    Attributes
    ----------
    name : str
        The blur kind it is registered as (synth/kinds.py, which also holds its one-sentence description).
    kinds : dict
        Blur kind name (or ``"none"``) -> relative frequency.
    params : dict
        Blur kind name -> {parameter: Range or a fixed value}; parameters not given take the kind's defaults.
    noise : Range
        Gaussian noise sigma (fraction of the white level), drawn for every sample.
    poisson : float
        Fraction of samples that also get Poisson shot noise, with ``photons`` at the white level.
    photons : Range
        Photons at the white level for Poisson noise.
    jpeg : float
        Fraction of samples JPEG-compressed, at a quality from ``jpeg_quality``.
    depth : float
        Fraction of blurred samples whose blur varies over the image with a random smooth depth map.
    """

    name: str
    kinds: dict[str, float]
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    noise: Range = Range(0.0, 0.0)
    poisson: float = 0.0
    photons: Range = Range(100.0, 1000.0, log=True)
    jpeg: float = 0.0
    jpeg_quality: Range = Range(50, 95, integer=True)
    depth: float = 0.0

    def draw(self, rng: np.random.Generator) -> tuple[Degradation, bool]:
        """One sample's degradation, and whether it varies with depth (the caller supplies a depth map)."""
        names = list(self.kinds)
        weights = np.array([self.kinds[n] for n in names], dtype=float)
        kind = names[int(rng.choice(len(names), p=weights / weights.sum()))]
        params = {k: (v.draw(rng) if isinstance(v, Range) else v) for k, v in self.params.get(kind, {}).items()}
        if "pixel_size" in params:
            params["pixel_size"] = _sampled(kind, params)
        noise = float(self.noise.draw(rng))
        photons = float(self.photons.draw(rng)) if rng.random() < self.poisson else None
        quality = int(self.jpeg_quality.draw(rng)) if rng.random() < self.jpeg else None
        varying = kind != NO_BLUR and bool(rng.random() < self.depth)
        if kind == NO_BLUR:  # a delta kernel: the Gaussian kind at strength 0 is exactly that
            return Degradation(kind="gaussian", noise=noise, photons=photons, jpeg_quality=quality,
                               params={"sigma_x": 0.1}), False
        return Degradation(kind=kind, params=params, noise=noise, photons=photons, jpeg_quality=quality), varying


def _sampled(kind: str, params: dict[str, Any]) -> float:
    """The drawn pixel size, capped below the PSF's lateral FWHM (the PSF models refuse coarser sampling).

    A high-NA objective at the coarse end of the pixel range is undersampled; there the PSF is about a pixel
    wide, the mildest blur of the mixture, as on such a microscope.
    """
    from napari_deblur.synth.psf import theoretical_fwhm

    wavelengths = [params["wavelength"]] + ([params["excitation_wavelength"]] if kind == "confocal" else [])
    widths = np.array([theoretical_fwhm(params["na"], w, params["ni"])[0] for w in wavelengths])
    lateral = float(1.0 / np.sqrt((1.0 / widths**2).sum()))
    return min(float(params["pixel_size"]), 0.9 * lateral)


def random_depth(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A smooth random depth map in [0, 1]: a tilted plane plus a few broad bumps (a scene receding, objects)."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    depth = np.cos(angle) * xx / w + np.sin(angle) * yy / h
    for _ in range(int(rng.integers(0, 3))):
        cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(0.15, 0.5) * max(h, w)
        depth += rng.uniform(-1, 1) * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r))
    depth -= depth.min()
    return (depth / max(float(depth.max()), 1e-6)).astype(np.float32)


_ANGLE = Range(-180.0, 180.0)

#: The general mixture: photographs and everyday scientific images.
GENERAL = BlurMixture(
    name="random_mix",
    kinds={"camera_shake": 0.34, "linear_motion": 0.14, "defocus": 0.2, "gaussian": 0.24, NO_BLUR: 0.08},
    params={
        "camera_shake": {"size": Range(5, 41, power=1.4, integer=True), "anxiety": Range(0.0005, 0.01)},
        "linear_motion": {"length": Range(2.0, 30.0, power=1.5), "angle": _ANGLE},
        "defocus": {"radius": Range(1.0, 8.0, power=1.4)},
        "gaussian": {"sigma_x": Range(0.5, 4.0, power=1.3), "sigma_y": Range(0.5, 4.0, power=1.3),
                     "angle": _ANGLE},
    },
    noise=Range(0.0, 0.03, power=1.3),
    poisson=0.2,
    photons=Range(50.0, 2000.0, log=True),
    jpeg=0.15,
    depth=0.1,
)

#: The fluorescence microscopy mixture: widefield and confocal PSFs, shot noise and read noise.
MICROSCOPY = BlurMixture(
    name="random_mix_microscopy",
    kinds={"widefield": 0.5, "confocal": 0.25, "gaussian": 0.15, NO_BLUR: 0.1},
    params={
        "widefield": {"na": Range(0.8, 1.45), "wavelength": Range(0.45, 0.7), "pixel_size": Range(0.06, 0.2),
                      "defocus": Range(-0.6, 0.6), "ni": 1.515, "ns": 1.33, "emitter_depth": Range(0.0, 5.0)},
        "confocal": {"na": Range(0.8, 1.45), "wavelength": Range(0.5, 0.7), "excitation_wavelength": 0.488,
                     "pixel_size": Range(0.04, 0.15), "defocus": Range(-0.4, 0.4), "ni": 1.515, "ns": 1.33},
        "gaussian": {"sigma_x": Range(0.7, 3.5, power=1.2), "sigma_y": Range(0.7, 3.5, power=1.2),
                     "angle": _ANGLE},
    },
    noise=Range(0.0, 0.01),
    poisson=1.0,
    photons=Range(20.0, 2000.0, log=True),
)

MIXTURES: dict[str, BlurMixture] = {m.name: m for m in (GENERAL, MICROSCOPY)}


def get_mixture(name: str) -> BlurMixture | None:
    """The mixture registered as blur kind ``name``, or ``None`` for a plain kind."""
    return MIXTURES.get(name)


def mixture_kernel(name: str, *, seed: int | None = None) -> np.ndarray:
    """The kernel one draw of mixture ``name`` makes with ``seed`` (what ``make_kernel("random_mix")`` returns)."""
    rng = np.random.default_rng(seed)
    degradation, _ = MIXTURES[name].draw(rng)
    return degradation.make_kernel(seed=int(rng.integers(2**31)))


def _mixture_kind(name: str, description: str) -> BlurKind:
    """Mixture ``name`` as a blur kind: each kernel a fresh draw (``make_kernel("random_mix", seed=...)``)."""

    def make(*, seed: int | None = None, ndim: int = 2) -> np.ndarray:
        return mixture_kernel(name, seed=seed)

    make.__name__ = f"_{name}"
    return BlurKind(name=name, description=description, params=(), make=make, random=True)


# The training mixtures as blur kinds, usable everywhere by name (after the plain kinds in every list).
register_kind(_mixture_kind(
    "random_mix",
    "A random blur per sample (camera shake, motion, defocus, Gaussian, some depth-varying, some none), mostly "
    "mild, with random Gaussian/Poisson noise and JPEG: for training general models."))
register_kind(_mixture_kind(
    "random_mix_microscopy",
    "A random microscope PSF per sample (widefield or confocal, NA 0.8-1.45, emission 0.45-0.7 um, pixel 0.06-0.2 "
    "um, some defocus), Poisson noise at 20-2000 photons plus read noise: for training fluorescence models."))
