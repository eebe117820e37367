"""A PSF per channel: each fluorophore blurs with its own PSF (it widens with the emission wavelength), so a
two-colour stack is deconvolved channel by channel, each with its PSF.

A request gives one PSF per channel as a list (or tuple) of arrays, as many as the C axis has entries, or as one
array with the channels first: ``(C, Y, X)`` for an image without Z, ``(C, Z, Y, X)``. (On a stack with Z a 3D array
is a 3D PSF; 2D PSFs per channel on a stack with Z are given as a list.) Channels are normalized separately anyway,
so running them apart changes nothing but the PSF.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from typing import Any

import numpy as np

from napari_deblur.colour import is_colour
from napari_deblur.restore.progress import Progress


def per_channel_psfs(psf: Any, shape: tuple[int, ...], axes: str | None, rgb: bool | None
                     ) -> list[np.ndarray] | None:
    """The PSF of each channel when ``psf`` gives one per channel, else ``None`` (one PSF, or none, for all)."""
    if psf is None or isinstance(psf, str):
        return None
    letters = (axes or "").upper()
    has_channels = "C" in letters and not is_colour(shape, rgb, axes)  # a colour photo's three share one PSF
    if isinstance(psf, (list, tuple)):
        if not psf or not all(np.ndim(p) >= 2 for p in psf):
            return None  # one PSF written as nested lists of numbers
    else:
        stacked = np.asarray(psf)
        if (not has_channels or stacked.ndim != (4 if "Z" in letters else 3)
                or stacked.shape[0] != shape[letters.index("C")]):
            return None  # one PSF for every channel (a 3D one on an image without Z is refused by the engine)
        psf = list(stacked)
    if not has_channels:
        raise ValueError(f"A PSF per channel ({len(psf)} PSFs) needs an image with a channel axis: pass axes with C "
                         "(e.g. 'CZYX' or 'CYX'; colour photos take one PSF for all three colours).")
    channels = shape[letters.index("C")]
    if len(psf) != channels:
        raise ValueError(f"{len(psf)} PSFs for {channels} channels: give one PSF per channel (axis C), or one PSF "
                         "for all of them.")
    return [np.asarray(p) for p in psf]


def by_channel(image: Any, psfs: Sequence[np.ndarray], axes: str,
               run: Callable[[Any, np.ndarray, str], Generator[Progress, None, Any]]
               ) -> Generator[Progress, None, Any]:
    """Run ``run(channel_image, psf, axes_without_c)`` for each channel and stack the results back along C.

    ``run``'s progress events are passed on counted over the whole run, the channels one after another. A dask
    image gives a dask result.
    """
    axis = axes.upper().index("C")
    rest = axes[:axis] + axes[axis + 1:]
    count = len(psfs)
    results = []
    for k, psf in enumerate(psfs):
        channel = image[(slice(None),) * axis + (k,)]
        steps = run(channel, psf, rest)
        while True:
            try:
                step = next(steps)
            except StopIteration as stop:
                results.append(stop.value)
                break
            total = max(int(step.total), 1)
            yield Progress(k * total + int(step.done), count * total, f"channel {k + 1}/{count}: {step.message}",
                           step.unit)
    if not isinstance(results[0], np.ndarray):
        import dask.array as da

        return da.stack(results, axis=axis)
    return np.stack(results, axis=axis)
