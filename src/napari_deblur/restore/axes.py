"""Which axes of an array are spatial, which are channels, and which are just stacked planes.

Axis letters: T (time), C (channels; RGB/RGBA when last), Z, Y, X. Y and X are required. Methods that work
in 2D run plane by plane over every other axis; 3D methods (a 3D PSF) run on ZYX volumes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from napari_deblur.colour import COLOUR_CHANNELS

AXIS_LETTERS = "TCZYX"


@dataclass(frozen=True)
class AxisLayout:
    """How to turn an image into a stack of planes/volumes and back.

    ``order`` permutes the image so its spatial axes come last; the leading axes are flattened into one
    batch axis. ``alpha_index`` is the channel passed through untouched (RGBA), ``channel_axis`` the axis
    normalized separately per channel (non-RGB channels), both in the original axis numbering.
    """

    axes: str
    spatial: str
    order: tuple[int, ...]
    alpha_index: int | None
    channel_axis: int | None


def resolve_axes(shape: tuple[int, ...], axes: str | None, rgb: bool | None, psf_ndim: int | None) -> str:
    """Return a validated axes string for ``shape``, inferring it only where that is unambiguous.

    2D is YX; (Y, X, 3 or 4) is RGB(A) unless ``rgb`` is False, as in napari; 3D with a 3D PSF is ZYX.
    """
    ndim = len(shape)
    if axes is not None:
        axes = str(axes).upper()
        if len(axes) != ndim:
            raise ValueError(
                f"axes={axes!r} has {len(axes)} letters but the image has {ndim} dimensions {shape}; "
                f"give one letter per dimension, e.g. {_example(ndim)!r}."
            )
        bad = sorted(set(axes) - set(AXIS_LETTERS))
        if bad or len(set(axes)) != len(axes) or not {"Y", "X"} <= set(axes):
            raise ValueError(
                f"axes={axes!r} is not valid: use each of the letters {AXIS_LETTERS} at most once, "
                "and include Y and X."
            )
        return axes
    if ndim < 2:
        raise ValueError(f"An image needs at least 2 dimensions (Y, X); got shape {shape}.")
    if ndim == 2:
        return "YX"
    # As napari does: a trailing axis of 3 or 4 is RGB(A) unless the caller says rgb=False.
    if rgb is not False and shape[-1] in COLOUR_CHANNELS:
        if ndim == 3:
            return "YXC"
        return _ambiguous(shape)
    if ndim == 3 and psf_ndim == 3:
        return "ZYX"
    return _ambiguous(shape)


def _example(ndim: int) -> str:
    return {2: "YX", 3: "ZYX", 4: "TZYX", 5: "TCZYX"}.get(ndim, "TCZYX")


def _ambiguous(shape: tuple[int, ...]) -> str:
    raise ValueError(
        f"Cannot tell the axes of an image of shape {shape}; pass axes=, e.g. axes='ZYX' for a z-stack, "
        "axes='TYX' for a time series, axes='CYX' for channels, axes='YXC' (or rgb=True) for RGB/RGBA."
    )


def layout(axes: str, shape: tuple[int, ...], spatial_ndim: int) -> AxisLayout:
    """Plan the permutation for a method that works on ``spatial_ndim`` (2 or 3) spatial axes."""
    if spatial_ndim == 3 and "Z" not in axes:
        raise ValueError(
            f"A 3D PSF needs a Z axis, but axes={axes!r}; pass axes with Z (e.g. 'ZYX'), "
            "or use a 2D PSF to deblur plane by plane."
        )
    spatial = "ZYX" if spatial_ndim == 3 else "YX"
    others = [i for i, a in enumerate(axes) if a not in spatial]
    order = tuple(others + [axes.index(a) for a in spatial])
    c = axes.find("C")
    is_rgb = c == len(axes) - 1 and shape[c] in COLOUR_CHANNELS
    alpha = 3 if is_rgb and shape[c] == 4 else None
    channel_axis = c if c >= 0 and not is_rgb else None
    return AxisLayout(axes, spatial, order, alpha, channel_axis)


def to_planes(image: np.ndarray, lay: AxisLayout) -> np.ndarray:
    """View ``image`` as ``(B, *spatial)`` (a copy only where the transpose requires it)."""
    moved = np.transpose(image, lay.order)
    return moved.reshape(-1, *moved.shape[-len(lay.spatial) :])


def from_planes(planes: np.ndarray, lay: AxisLayout, shape: tuple[int, ...]) -> np.ndarray:
    """Inverse of :func:`to_planes`."""
    moved_shape = tuple(shape[i] for i in lay.order)
    return np.transpose(planes.reshape(moved_shape), np.argsort(lay.order))
