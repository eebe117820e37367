"""A registry of blur kinds, described as data so the CLI flags and the widget's fields are generated from it.

Each :class:`BlurKind` lists its parameters as :class:`~napari_deblur.params.Param` (the same spec the
deblurring methods use) and a ``make`` function. :func:`make_kernel` validates keyword arguments against the
spec, fills defaults and returns a normalized float32 kernel.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from napari_deblur.params import Param, ParamSpec
from napari_deblur.synth import kernels
from napari_deblur.synth.given_kernel import as_kernel


@dataclass(frozen=True)
class BlurKind(ParamSpec):
    """One way of making a blur kernel.

    Attributes
    ----------
    name : str
        Identifier used by the API (``make_kernel(name, ...)``), the CLI and the widget.
    description : str
        One sentence for tooltips and ``--help``.
    params : tuple of Param
        Tunable parameters; ``make`` receives every one of them as a keyword.
    make : callable
        ``make(*, seed=None, ndim=2, **params)`` returns the kernel (3D only when ``ndim=3``).
    random : bool
        Whether ``seed`` changes the kernel.
    supports_3d : bool
        Whether ``ndim=3`` (a ZYX kernel for z-stacks) is possible.
    needs_kernel : bool
        Whether the caller supplies the kernel itself (``kernel=`` array, file or layer).
    """

    name: str
    description: str
    params: tuple[Param, ...]
    make: Callable[..., np.ndarray] = field(repr=False, compare=False)
    random: bool = False
    supports_3d: bool = False
    needs_kernel: bool = False

    label: ClassVar[str] = "Blur kind"


# --- make functions: map the registry's flat, validated parameters onto the kernel functions ---------------


def _camera_shake(*, seed: int | None = None, ndim: int = 2, size: int, length: float, anxiety: float,
                  jerk_probability: float, exposure: float) -> np.ndarray:
    size += 1 - size % 2  # round an even size up: users type sizes, kernels need a centre pixel
    return kernels.camera_shake(size, length=length or None, anxiety=anxiety, jerk_probability=jerk_probability,
                                exposure=exposure, seed=seed)


def _linear_motion(*, seed: int | None = None, ndim: int = 2, length: float, angle: float) -> np.ndarray:
    return kernels.linear_motion(length, angle)


def _no_blur(*, seed: int | None = None, ndim: int = 2) -> np.ndarray:
    return np.ones((1,) * ndim, dtype=np.float32)


def _defocus(*, seed: int | None = None, ndim: int = 2, radius: float) -> np.ndarray:
    return kernels.defocus(radius)


def _gaussian(*, seed: int | None = None, ndim: int = 2, sigma_x: float, sigma_y: float, angle: float,
              sigma_z: float) -> np.ndarray:
    return kernels.gaussian(sigma_x, sigma_y or None, angle, sigma_z=sigma_z if ndim == 3 else None)


def _psf(function_name: str) -> Callable[..., np.ndarray]:
    """A make function calling ``napari_deblur.synth.psf.<function_name>``, imported on first use."""

    def make(*, seed: int | None = None, ndim: int = 2, nz: int = 0, nxy: int = 0, emitter_depth: float = 0.0,
             **optics: Any) -> np.ndarray:
        # Lazy: the optics module is heavier and not needed for the plain image-blur kinds.
        from napari_deblur.synth import psf

        # "emitter_depth", not "depth": a depth *map* is what synthesize_blur's depth= means.
        out = getattr(psf, function_name)(nz=nz or None, nxy=nxy or None, ndim=ndim, depth=emitter_depth,
                                          **optics)
        out = np.asarray(out, dtype=np.float64)
        return (out / out.sum()).astype(np.float32)

    make.__name__ = f"_{function_name}"
    return make


def _custom(*, seed: int | None = None, ndim: int = 2, kernel: Any) -> np.ndarray:
    k = as_kernel(kernel)
    if ndim == 2 and k.ndim == 3:
        raise ValueError(f"The custom kernel is 3D (shape {k.shape}) but a 2D kernel was asked for; "
                         "pass ndim=3 for a z-stack, or give a single plane.")
    # A 2D kernel on a z-stack blurs each plane alike: a ZYX kernel with one plane.
    return k[None] if ndim == 3 and k.ndim == 2 else k


# --- parameter specs ---------------------------------------------------------------------------------------

_ANGLE = Param("angle", float, 0.0, "Direction in degrees, counter-clockwise from +x as displayed.",
               min=-180.0, max=180.0)

_OPTICS = (
    Param("model", str, "scalar", "Optical model: scalar (Gibson-Lanni), vectorial (high-NA, polarization) or "
          "gaussian (fast approximation).", choices=("scalar", "vectorial", "gaussian")),
    Param("na", float, 1.4, "Numerical aperture of the objective (must not exceed the immersion index).",
          min=0.05, max=1.7),
    Param("wavelength", float, 0.52, "Emission wavelength in micrometres.", min=0.2, max=2.0),
    Param("ni", float, 1.515, "Refractive index of the immersion medium (1.515 oil, 1.33 water, 1.0 air).",
          min=1.0, max=2.0, advanced=True),
    Param("ns", float, 1.33, "Refractive index of the sample; a mismatch with ni adds spherical aberration "
          "that grows with depth.", min=1.0, max=2.0, advanced=True),
    Param("pixel_size", float, 0.1, "Lateral pixel size in micrometres (in the sample).", min=0.005, max=10.0),
    Param("z_step", float, 0.2, "Distance between z planes in micrometres (3D kernels).", min=0.01, max=50.0),
    Param("emitter_depth", float, 0.0, "Depth of the focal plane below the coverslip in micrometres.",
          min=0.0, max=500.0, advanced=True),
    Param("defocus", float, 0.0, "Distance from focus in micrometres of the single plane made for a 2D kernel.",
          min=-100.0, max=100.0),
    Param("nz", int, 0, "Number of z planes of a 3D kernel (odd); 0 = automatic.", min=0, max=1001, advanced=True,
          zero="auto"),
    Param("nxy", int, 0, "Lateral size of the kernel in pixels (odd); 0 = automatic.", min=0, max=1001, zero="auto",
          advanced=True),
)

_KINDS: dict[str, BlurKind] = {}


def register_kind(kind: BlurKind) -> None:
    """Make ``kind`` a blur kind everywhere (API, CLI, widget); the training mixtures register in synth/mixture.py."""
    for p in kind.params:
        p.validate(p.default)
    _KINDS[kind.name] = kind


register_kind(BlurKind(
    name="camera_shake",
    description="Random hand-held camera shake: a thin curved trajectory (Boracchi & Foi 2012 model).",
    params=(
        Param("size", int, 25, "Kernel side in pixels (even sizes are rounded up to odd).", min=5, max=101),
        Param("length", float, 0.0, "Extent of the trajectory in pixels; 0 = about 3/4 of the size.",
              min=0.0, max=99.0, zero="auto"),
        Param("anxiety", float, 0.005, "Shakiness: 0 = straight, 0.005 = smooth arcs, 0.1 = very jittery.",
              min=0.0, max=0.1),
        Param("jerk_probability", float, 0.05, "Chance of an abrupt change of direction per 1% of the exposure.",
              min=0.0, max=1.0, advanced=True),
        Param("exposure", float, 1.0, "Fraction of the trajectory recorded during the exposure.",
              min=0.01, max=1.0, advanced=True),
    ),
    make=_camera_shake,
    random=True,
))

register_kind(BlurKind(
    name="linear_motion",
    description="Uniform straight-line motion blur with sub-pixel length.",
    params=(Param("length", float, 15.0, "Length of the motion in pixels.", min=0.1, max=200.0), _ANGLE),
    make=_linear_motion,
))

register_kind(BlurKind(
    name="defocus",
    description="Out-of-focus blur of a lens: a uniform disk with anti-aliased edge.",
    params=(Param("radius", float, 5.0, "Radius of the blur disk in pixels.", min=0.1, max=50.0),),
    make=_defocus,
))

register_kind(BlurKind(
    name="gaussian",
    description="Gaussian blur, optionally elongated and rotated; 3D for z-stacks.",
    params=(
        Param("sigma_x", float, 2.0, "Standard deviation in pixels along the blur's own x axis.", min=0.1, max=50.0),
        Param("sigma_y", float, 0.0, "Standard deviation in pixels along the blur's own y axis; 0 = same as "
              "sigma_x.", min=0.0, max=50.0),
        Param("angle", float, 0.0, "Rotation of the x axis in degrees, counter-clockwise as displayed.",
              min=-180.0, max=180.0),
        Param("sigma_z", float, 2.0, "Standard deviation in planes along z (3D kernels only).", min=0.1, max=50.0,
              advanced=True),
    ),
    make=_gaussian,
    supports_3d=True,
))

register_kind(BlurKind(
    name="widefield",
    description="Point spread function of a widefield fluorescence microscope.",
    params=_OPTICS,
    make=_psf("widefield_psf"),
    supports_3d=True,
))

register_kind(BlurKind(
    name="confocal",
    description="Point spread function of a confocal microscope (excitation times emission).",
    params=_OPTICS[:2] + (
        Param("excitation_wavelength", float, 0.488, "Excitation wavelength in micrometres.", min=0.2, max=2.0),
    ) + _OPTICS[2:],
    make=_psf("confocal_psf"),
    supports_3d=True,
))

register_kind(BlurKind(
    name="none",
    description="No blur: noise (and JPEG) only - a denoiser's training data, or a noise simulation.",
    params=(),
    make=_no_blur,
    supports_3d=True,
))

register_kind(BlurKind(
    name="custom",
    description="Your own kernel or PSF: an array, an image file or a napari layer (normalized to sum 1).",
    params=(),
    make=_custom,
    supports_3d=True,
    needs_kernel=True,
))


def list_kinds() -> list[BlurKind]:
    """All blur kinds, in a fixed order: image blurs, microscope PSFs, ``custom``, then the training mixtures."""
    return list(_KINDS.values())


def get_kind(name: str) -> BlurKind:
    """Return the kind called ``name`` or raise ``ValueError`` listing the valid names."""
    try:
        return _KINDS[name]
    except (KeyError, TypeError):
        raise ValueError(f"Unknown blur kind {name!r}. Valid kinds: {', '.join(_KINDS)}.") from None


def make_kernel(kind: str, *, seed: int | None = None, ndim: int = 2, kernel: Any = None, **params: Any) -> np.ndarray:
    """Make a kernel of blur ``kind`` with validated ``params`` (missing ones take their defaults).

    Parameters
    ----------
    kind : str
        A name from :func:`list_kinds`.
    seed : int, optional
        Random seed (only ``random`` kinds use it).
    ndim : int
        2 for a YX kernel, 3 for a ZYX kernel (kinds with ``supports_3d`` only).
    kernel : array-like, path or layer, optional
        The kernel itself, for the ``custom`` kind.
    **params
        The kind's parameters.

    Returns
    -------
    numpy.ndarray
        float32 kernel, non-negative, summing to 1, with odd sides.
    """
    spec = get_kind(kind)
    if ndim not in (2, 3):
        raise ValueError(f"ndim must be 2 (YX kernel) or 3 (ZYX kernel for z-stacks); got {ndim!r}.")
    if ndim == 3 and not spec.supports_3d:
        kinds_3d = ", ".join(k.name for k in _KINDS.values() if k.supports_3d)
        raise ValueError(f"Blur kind {spec.name!r} only makes 2D kernels; use ndim=2, or for a z-stack one of: "
                         f"{kinds_3d}.")
    resolved = spec.resolve_params(params)
    if spec.needs_kernel:
        if kernel is None:
            raise ValueError(f"Blur kind {spec.name!r} needs kernel=<array, image file or napari layer>.")
        resolved["kernel"] = kernel
    elif kernel is not None:
        raise ValueError(f"kernel= is only used by the 'custom' blur kind, not {spec.name!r}; drop it or use "
                         "kind='custom'.")
    return spec.make(seed=seed, ndim=ndim, **resolved)
