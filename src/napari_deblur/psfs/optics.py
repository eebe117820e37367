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
                  params: Mapping[str, Any]) -> tuple[np.ndarray, dict[str, Any]]:
    """``psf="widefield"``/``"confocal"`` in a deblur call: the generated PSF, and ``params`` without the optics.

    The PSF is 3D when the image has a Z axis (``axes`` with Z, or a 3D grey image without ``axes``), so the
    stack is deconvolved as a volume; else 2D (the focal plane).
    """
    names = optics_names(psf)
    optics = {k: v for k, v in params.items() if k in names}
    rest = {k: v for k, v in params.items() if k not in names}
    shape = tuple(image_shape)
    if axes:
        spatial = [a for a in axes.upper() if a in "ZYX"]
        sides = tuple(shape[axes.upper().index(a)] for a in spatial)
        ndim = 3 if "Z" in spatial else 2
    else:
        colour = is_colour(shape, rgb)
        ndim = 3 if len(shape) == 3 and not colour else 2
        sides = shape[:2] if colour else shape[-ndim:]
    return optics_psf(psf, image_shape=sides, ndim=ndim, **optics), rest
