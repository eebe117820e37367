"""The image commands' files: an input read with its axes and calibration, an output written with them, a file or
a zarr store alike."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from napari_deblur.calibration import Calibration, of_axes
from napari_deblur.colour import is_colour
from napari_deblur.io import read_image, write_image
from napari_deblur.zarr_io import is_zarr, read_zarr, write_zarr


def read_input(path: Path, given_axes: str | None, *, lazy: bool = False, fill_missing: bool = False
               ) -> tuple[Any, str | None]:
    """The image at ``path`` (a zarr store as a dask array when ``lazy``, else in memory) and its axes
    (``given_axes`` win over the file's). Its calibration: :func:`napari_deblur.io.read_calibration`."""
    if is_zarr(path):
        image, axes = read_zarr(path, fill_missing=fill_missing)
        image = image if lazy else image.compute()
    else:
        image, axes = read_image(path)
        if lazy:
            import dask.array as da

            image = da.from_array(image, chunks="auto")
    return image, given_axes or axes


def output_axes(shape: tuple[int, ...], axes: str | None, rgb: bool | None) -> str | None:
    """The axes an output is written with: the input's, or where they were inferred, the inference (YX, YXC)."""
    if axes or len(shape) > 3:
        return axes
    if len(shape) == 2:
        return "YX"
    return "YXC" if is_colour(shape, rgb) else None


def write_output(path: Path, result: Any, axes: str | None, calibration: Calibration | None) -> str:
    """Write ``result`` (numpy, or dask computed chunk by chunk into a zarr store) with its axes and the calibration
    they keep; return what the "wrote ..." line adds about the calibration."""
    kept = of_axes(calibration, axes) if axes else None
    if is_zarr(path):
        import dask.array as da

        lazy = result if hasattr(result, "compute") else da.from_array(np.asarray(result), chunks="auto")
        write_zarr(lazy, path, axes=axes, calibration=kept)
    else:
        write_image(path, result.compute() if hasattr(result, "compute") else result, axes=axes, calibration=kept)
    return f", calibration {kept.describe()}" if kept else ""
