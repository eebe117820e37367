"""Reading and writing images and PSFs.

TIFF goes through tifffile, which keeps the dtype (uint16 stays uint16) and the axes and calibration metadata
that microscopy needs (ImageJ and OME-TIFF); PNG/JPEG and other formats go through imageio. Writes go to a
temporary name in the target folder and are renamed at the end, so a failure never leaves a half-written file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import imageio.v3 as iio
import numpy as np
import tifffile

from napari_deblur._atomic import atomic_path
from napari_deblur.calibration import Calibration
from napari_deblur.colour import is_colour
from napari_deblur.tiff_meta import read_tiff_calibration, tiff_write_options

TIFF_SUFFIXES = {".tif", ".tiff"}


def read_image(path: str | os.PathLike) -> tuple[np.ndarray, str | None]:
    """Read an image; return the array and its axes string where the file says: a TIFF's own axes, YXC for a
    colour image of a format that stores colour last (PNG, JPEG, ...), else None."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path} is a folder, not an image file.")
    if not path.is_file():
        raise FileNotFoundError(f"No such image file: {path}")
    try:
        if path.suffix.lower() in TIFF_SUFFIXES:
            with tifffile.TiffFile(path) as tif:
                series = tif.series[0]
                data = series.asarray()
                axes = tiff_axes(series.axes, data.ndim)
            return data, axes
        data = np.asarray(iio.imread(path))
        return data, "YXC" if is_colour(data.shape) else None
    except (OSError, ValueError, IndexError, KeyError, tifffile.TiffFileError) as err:
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(f"Cannot read {path} as an image ({first_line}): is it a complete image file?") from None


#: What the formats without a dtype of their own can hold (TIFF holds everything).
FORMAT_DTYPES = {".png": ("uint8", "uint16"), ".jpg": ("uint8",), ".jpeg": ("uint8",), ".bmp": ("uint8",),
                 ".gif": ("uint8",), ".webp": ("uint8",)}


def check_output_format(path: str | os.PathLike, dtype: Any) -> None:
    """Refuse, before any work, an output file whose format cannot hold ``dtype`` or that has no extension."""
    path = Path(path)
    suffix = path.suffix.lower()
    if not suffix:
        raise ValueError(f"The output {path} has no extension: add one (.tif keeps every dtype; .png, .jpg).")
    allowed = FORMAT_DTYPES.get(suffix)
    if allowed is not None and np.dtype(dtype).name not in allowed:
        raise ValueError(f"{suffix} cannot hold {np.dtype(dtype).name} data (only {', '.join(allowed)}); write "
                         ".tif, which keeps the data as it is.")


def tiff_axes(raw: str, ndim: int) -> str | None:
    """Map tifffile's axes codes to ours (S = samples/RGB -> C; Q/I = unknown -> None)."""
    mapped = raw.upper().replace("S", "C")
    if len(mapped) != ndim or set(mapped) - set("TCZYX") or len(set(mapped)) != len(mapped):
        return None
    return mapped


def read_calibration(path: str | os.PathLike) -> Calibration | None:
    """The calibration a TIFF (ImageJ or OME) or an OME-Zarr image at ``path`` carries; ``None`` for other files
    and for files that carry none."""
    from napari_deblur.zarr_io import is_zarr, read_zarr_calibration

    path = Path(path)
    if is_zarr(path):
        return read_zarr_calibration(path)
    if path.suffix.lower() not in TIFF_SUFFIXES or not path.is_file():
        return None
    try:
        with tifffile.TiffFile(path) as tif:
            return read_tiff_calibration(tif)
    except (OSError, ValueError, tifffile.TiffFileError):
        return None  # read_image says what is wrong with the file


def write_image(path: str | os.PathLike, data: np.ndarray, axes: str | None = None,
                calibration: Calibration | None = None) -> Path:
    """Write ``data`` atomically: TIFF keeps dtype, axes and ``calibration`` (ImageJ hyperstack where ImageJ can
    hold the data, else OME-TIFF); other formats need uint8 (or uint16 PNG) and keep neither."""
    path = Path(path)
    suffix = path.suffix.lower()
    with atomic_path(path) as tmp:
        if suffix in TIFF_SUFFIXES:
            rgb = bool(axes) and is_colour(data.shape, axes=axes)
            tifffile.imwrite(tmp, data, **tiff_write_options(data, axes, rgb, calibration))
        else:
            iio.imwrite(tmp, data, extension=suffix)
    return path


def read_psf(path: str | os.PathLike) -> np.ndarray:
    """Read a PSF image (any format) as float32; colour PSFs are averaged to one channel."""
    data, axes = read_image(path)
    data = np.asarray(data, dtype=np.float32)
    if axes and axes.endswith("C"):
        data = grey_psf(data)
    return data


def grey_psf(colour: np.ndarray) -> np.ndarray:
    """A colour PSF (..., 3 or 4) as one channel, the mean of R, G and B (alpha ignored): files and napari
    layers alike, since the blur of a colour image is one kernel for every channel."""
    return np.asarray(colour, dtype=np.float32)[..., :3].mean(axis=-1)
