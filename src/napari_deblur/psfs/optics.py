"""A PSF generated from the microscope's optics for a given image: ``psf="widefield"`` or ``"confocal"``.

The optics are the parameters of the blur kinds of the same names (synth/kinds.py: NA, emission wavelength,
immersion and sample indices, pixel size, z-step, ...), so the model behind "blur like my microscope" and
"deconvolve my microscope" is one. Before generating, the sampling is checked against the optics: a PSF
narrower than one pixel, or wider than the image, means the pixel size is wrong (often the camera's pixel,
not divided by the magnification), and generating it anyway would deconvolve with nonsense.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from napari_deblur.colour import is_colour
from napari_deblur.synth.kinds import get_kind, make_kernel
from napari_deblur.synth.psf import theoretical_fwhm

OPTICS_KINDS = ("widefield", "confocal")


def optics_names(kind: str) -> set[str]:
    """The parameter names of the optics PSF ``kind``."""
    return {p.name for p in get_kind(_check_kind(kind)).params}


def _check_kind(kind: str) -> str:
    if kind not in OPTICS_KINDS:
        raise ValueError(f"psf={kind!r} is not a microscope; use {' or '.join(OPTICS_KINDS)}, an array or a file.")
    return kind


def optics_psf(kind: str, *, image_shape: tuple[int, ...] | None = None, ndim: int = 2, **optics: Any) -> np.ndarray:
    """The ``kind`` PSF for an image of ``image_shape`` (its spatial axes: YX, or ZYX when ``ndim`` is 3; ``None``
    for the PSF alone, at the model's own size).

    Raises ``ValueError`` when the pixel size (or z-step) cannot be right for these optics, saying what to check.
    The PSF is cut to the image's size where the model makes it larger (light from beyond the data is not
    modelled by the deconvolution anyway).
    """
    spec = get_kind(_check_kind(kind))
    values = spec.resolve_params(optics)
    lateral, axial = theoretical_fwhm(values["na"], values["wavelength"], values["ni"])
    pixel, z_step = values["pixel_size"], values["z_step"]
    if lateral < pixel:
        raise ValueError(f"A {kind} PSF with NA {values['na']} at {values['wavelength']} µm is {lateral:.3f} µm wide "
                         f"(FWHM), narrower than one pixel of {pixel} µm: check pixel_size, the size of a pixel in "
                         "the sample (the camera's pixel divided by the magnification; the layer's scale in napari).")
    if image_shape is None:
        return make_kernel(kind, ndim=ndim, **values)
    lateral_side = min(image_shape[-2:])
    if lateral / pixel > lateral_side / 4:
        raise ValueError(f"A {kind} PSF with these optics is {lateral / pixel:.0f} pixels wide (FWHM) at "
                         f"pixel_size {pixel} µm, too wide for an image of {lateral_side} pixels: check pixel_size "
                         "(µm per pixel in the sample).")
    if ndim == 3 and axial / z_step > image_shape[-3]:
        raise ValueError(f"A {kind} PSF with these optics is {axial / z_step:.0f} planes deep (FWHM) at z_step "
                         f"{z_step} µm, deeper than the stack's {image_shape[-3]} planes: check z_step (µm "
                         "between planes).")
    psf = _fit_to(make_kernel(kind, ndim=ndim, **values), image_shape[-ndim:])
    return (psf / psf.sum()).astype(np.float32)


def _fit_to(psf: np.ndarray, sides: tuple[int, ...]) -> np.ndarray:
    """``psf`` cut symmetrically, where larger, to the largest odd size that fits each of ``sides``."""
    cut = []
    for size, side in zip(psf.shape, sides):
        keep = min(size, side if side % 2 else side - 1)
        start = (size - keep) // 2
        cut.append(slice(start, start + keep))
    return psf[tuple(cut)]


def psf_for_image(psf: str, image_shape: tuple[int, ...], axes: str | None, rgb: bool | None,
                  params: Mapping[str, Any]) -> tuple[np.ndarray | list[np.ndarray], dict[str, Any]]:
    """``psf="widefield"``/``"confocal"`` in a deblur call: the generated PSF, and ``params`` without the optics.

    The PSF is 3D when the image has a Z axis (``axes`` with Z, or a 3D grey image without ``axes``), so the
    stack is deconvolved as a volume; else 2D (the focal plane). The sampling must be given (``pixel_size``, and
    ``z_step`` for a 3D PSF): it is the image's, and a default would deconvolve with a PSF of the wrong width. A
    list of wavelengths, one per entry of the image's C axis, gives a list of PSFs, one per channel.
    """
    names = optics_names(psf)
    optics = {k: v for k, v in params.items() if k in names}
    rest = {k: v for k, v in params.items() if k not in names}
    sides, ndim = optics_sampling(image_shape, axes, rgb)
    needed = ("pixel_size", "z_step") if ndim == 3 else ("pixel_size",)
    missing = [k for k in needed if k not in optics]
    if missing:
        raise ValueError(f"psf={psf!r} needs the image's sampling, and this image carries no calibration: pass "
                         f"{' and '.join(k + '=' for k in missing)} (µm in the sample), or read a file that carries "
                         "it (ImageJ or OME-TIFF, OME-Zarr).")
    waves = optics.get("wavelength")
    if not isinstance(waves, (list, tuple)):
        return optics_psf(psf, image_shape=sides, ndim=ndim, **optics), rest
    channels = image_shape[axes.upper().index("C")] if axes and "C" in axes.upper() else None
    if channels != len(waves):
        raise ValueError(f"{len(waves)} wavelengths for {channels or 'no'} channels: give one emission wavelength "
                         "per entry of the C axis (axes with C), or one for all.")
    return [optics_psf(psf, image_shape=sides, ndim=ndim, **(optics | {"wavelength": w})) for w in waves], rest


def optics_sampling(image_shape: tuple[int, ...], axes: str | None, rgb: bool | None) -> tuple[tuple[int, ...], int]:
    """The sides of an image's spatial axes an optics PSF is made for, and whether it is 2D or 3D."""
    shape = tuple(image_shape)
    if axes:
        spatial = [a for a in axes.upper() if a in "ZYX"]
        return tuple(shape[axes.upper().index(a)] for a in spatial), 3 if "Z" in spatial else 2
    colour = is_colour(shape, rgb)
    ndim = 3 if len(shape) == 3 and not colour else 2
    return (shape[:2] if colour else shape[-ndim:]), ndim


def describe_optics(kind: str, psf: np.ndarray | list[np.ndarray], params: Mapping[str, Any],
                    from_file: Mapping[str, Any] = ()) -> str:
    """What an optics PSF was made from, each value marked where it came from the file or is the default: the
    line the CLI prints, so a PSF is never made from settings the user did not see."""
    spec = get_kind(kind)
    given = {k: v for k, v in params.items() if k in optics_names(kind)}
    values = spec.resolve_params({k: v for k, v in given.items() if k != "wavelength"})
    values["wavelength"] = given.get("wavelength", values["wavelength"])
    shapes = [p.shape for p in (psf if isinstance(psf, list) else [psf])]
    shown = ("model", "na", "wavelength", "ni", "ns", "pixel_size", *(("z_step",) if len(shapes[0]) == 3 else ()))
    parts = []
    for name in shown:
        value = values[name]
        text = (", ".join(f"{v:g}" for v in value) if isinstance(value, (list, tuple))
                else value if isinstance(value, str) else f"{value:g}")
        source = " (from the file)" if name in from_file else "" if name in given else " (default)"
        parts.append(f"{name} {text}{source}")
    size = "x".join(map(str, shapes[0])) + (f", one per channel ({len(shapes)})" if len(shapes) > 1 else "")
    return f"{kind} PSF {size}: " + ", ".join(parts)
