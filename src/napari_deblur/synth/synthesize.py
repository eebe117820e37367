"""``synthesize_blur``: a :class:`~napari_deblur.synth.degrade.Degradation` applied to any image the deblur
engine accepts (2D, RGB/RGBA, stacks of planes, z-stacks with a 3D PSF; uint8, uint16, float), returning an
array of the input's shape and dtype, and the kernel used."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from napari_deblur.colour import is_colour
from napari_deblur.restore.axes import from_planes, layout, resolve_axes, to_planes
from napari_deblur.restore.checks import check_image
from napari_deblur.restore.intensity import IntensityMap, fixed_range, intensity_map, restore_dtype
from napari_deblur.synth.degrade import Degradation
from napari_deblur.synth.kinds import get_kind

#: Kinds whose natural subject is a z-stack: a 3D image without ``axes=`` is taken as ZYX for them.
MICROSCOPE_KINDS = ("widefield", "confocal")
#: Blurs made without a kernel, by name: ``blur(image, *, seed, axes, rgb, output_dtype, **params)``. Registered by
#: the layers above (the zoo's ``"learned"``: a trained blur generator), so that synthesis itself knows no network.
IMAGE_BLURS: dict[str, Callable[..., np.ndarray]] = {}


def register_image_blur(name: str, blur: Callable[..., np.ndarray]) -> None:
    """Make ``synthesize_blur(image, kind=name, ...)`` call ``blur`` (see :data:`IMAGE_BLURS`)."""
    IMAGE_BLURS[name] = blur


def stack_axes(kind: str, shape: tuple[int, ...], rgb: bool | None) -> str | None:
    """The axes a 3D grey image without ``axes`` is taken to have for ``kind``: ZYX for a microscope kind, else
    unknown (``None``)."""
    return "ZYX" if kind in MICROSCOPE_KINDS and len(shape) == 3 and not rgb and not is_colour(shape, rgb) else None


def _spatial_ndim(kind: str, axes: str, kernel: Any, params: dict[str, Any]) -> int:
    """3 when a 3D kernel applies (a 3D-capable kind, or a 3D custom kernel, on an image with Z), else 2."""
    if "Z" not in axes:
        return 2
    if kind == "custom":
        return 3 if kernel is not None and np.squeeze(np.asarray(getattr(kernel, "data", kernel))).ndim == 3 else 2
    return 3 if get_kind(kind).supports_3d else 2


def _normalizer(planes: np.ndarray, groups: np.ndarray | None) -> tuple[IntensityMap, bool]:
    """The intensity policy's map; images with a fixed range (8-bit, [0, 1] floats) are also clipped to it."""
    return intensity_map(planes, groups), fixed_range(planes) is not None


def synthesize_blur(
    image: Any,
    kind: str = "camera_shake",
    *,
    seed: int | None = None,
    noise: float = 0.01,
    photons: float | None = None,
    jpeg_quality: int | None = None,
    gamma: float | None = None,
    depth: Any = None,
    focus: float = 0.0,
    kernel: Any = None,
    axes: str | None = None,
    rgb: bool | None = None,
    output_dtype: str = "same",
    **params: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """Blur ``image`` realistically and return ``(blurred, kernel)``; the input is never modified.

    Parameters
    ----------
    image : array-like
        As for :func:`napari_deblur.deblur`: YX, YXC (``rgb=True``; alpha passes through), or stacks (pass
        ``axes=``). A z-stack with a 3D-capable kind (widefield, confocal, gaussian) is blurred in 3D.
    kind : str
        A blur kind (see :func:`napari_deblur.synth.kinds.list_kinds`): camera_shake, linear_motion, defocus,
        gaussian, widefield, confocal, custom (with ``kernel=``), or ``"learned"`` with ``model=`` a trained blur
        generator (zoo/learned_blur.py; 2D planes; no kernel, so the second result is ``None``).
    seed : int, optional
        Makes kernel and noise reproducible (the kernel alone equals ``make_kernel(kind, seed=seed)``).
    noise : float
        Gaussian noise sigma as a fraction of the image's range (8-bit: of 255; [0, 1] floats: of 1;
        others: of the 0.1-99.9 percentile range).
    photons : float, optional
        Poisson shot noise with this many photons at the white level.
    jpeg_quality : int, optional
        JPEG-compress the result at this quality.
    gamma : float, optional
        Blur in linear light, for display-encoded photographs (2.2).
    depth : array-like, optional
        A depth map (or mask) in [0, 1] of the spatial shape: blur strength grows with ``|depth - focus|``
        (spatially varying blur; a constant depth of 1 with focus 0 is the uniform blur).
    focus : float
        The depth that stays sharp.
    kernel : array-like, optional
        A user kernel (array, file path or layer) for ``kind="custom"``.
    output_dtype : {"same", "float32"}
        The input's dtype (clipped, rounded) or float32.
    **params
        The kind's parameters (e.g. ``length=15``, ``radius=4``, ``na=1.4``).
    """
    if kind in IMAGE_BLURS:
        unsupported = [k for k, v in (("photons", photons), ("jpeg_quality", jpeg_quality), ("gamma", gamma),
                                      ("depth", depth), ("kernel", kernel)) if v is not None]
        if unsupported or set(params) - {"model"}:
            raise ValueError(f"kind={kind!r} takes model=, seed=, axes=, rgb= and output_dtype=; not "
                             f"{', '.join(unsupported + sorted(set(params) - {'model'}))}.")
        return IMAGE_BLURS[kind](image, seed=seed, axes=axes, rgb=rgb, output_dtype=output_dtype, **params), None
    arr = check_image(image)
    spec = get_kind(kind)
    axes = resolve_axes(arr.shape, axes or stack_axes(kind, arr.shape, rgb), rgb, None)
    spatial_ndim = _spatial_ndim(spec.name, axes, kernel, params)
    lay = layout(axes, arr.shape, spatial_ndim)

    planes = to_planes(arr, lay)
    lead_shape = tuple(arr.shape[i] for i in lay.order[:-spatial_ndim])
    lead_index = np.unravel_index(np.arange(len(planes)), lead_shape) if lead_shape else ()
    alpha = np.zeros(len(planes), bool)
    if lay.alpha_index is not None:
        alpha = lead_index[lay.order.index(len(axes) - 1)] == lay.alpha_index
    groups = lead_index[lay.order.index(lay.channel_axis)][~alpha] if lay.channel_axis is not None else None

    work = planes[~alpha]
    imap, clip = _normalizer(work, groups)
    degradation = Degradation(kind=spec.name, params=params, kernel=kernel, noise=noise, photons=photons,
                              gamma=gamma, jpeg_quality=jpeg_quality, focus=focus, clip=clip)
    is_rgb = lay.alpha_index is not None or (axes.endswith("C") and arr.shape[-1] == 3)
    degraded, used = degradation(imap.forward(work), seed=seed, depth=depth, spatial_ndim=spatial_ndim,
                                 rgb=is_rgb)
    result = np.empty(planes.shape, np.float32)
    result[~alpha] = imap.inverse(degraded)
    result[alpha] = planes[alpha]
    out = from_planes(result, lay, arr.shape)
    return restore_dtype(out, arr.dtype, output_dtype), used


def blur_variants(image: Any, n: int, kind: str = "camera_shake", *, seed: int = 0, **kwargs: Any
                  ) -> tuple[np.ndarray, list[np.ndarray]]:
    """``n`` blurred variants of ``image`` stacked along a new first axis (seeds ``seed .. seed + n - 1``).

    Returns the stack and the kernel of each variant: training pairs from one sharp image.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1; got {n}.")
    results = [synthesize_blur(image, kind, seed=seed + i, **kwargs) for i in range(n)]
    return np.stack([r[0] for r in results]), [r[1] for r in results]
