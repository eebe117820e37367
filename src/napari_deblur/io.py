"""Reading and writing images and PSFs.

TIFF goes through tifffile, which keeps the dtype (uint16 stays uint16) and the axes metadata that
microscopy needs; PNG/JPEG and other formats go through imageio. Writes go to a temporary name in the
target folder and are renamed at the end, so a failure never leaves a half-written file.
"""

from __future__ import annotations

import os
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import tifffile

from napari_deblur._atomic import atomic_path

TIFF_SUFFIXES = {".tif", ".tiff"}


def read_image(path: str | os.PathLike) -> tuple[np.ndarray, str | None]:
    """Read an image; return the array and its axes string when the file records one (TIFF), else None."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No such image file: {path}")
    if path.suffix.lower() in TIFF_SUFFIXES:
        with tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            data = series.asarray()
            axes = _tiff_axes(series.axes, data.ndim)
        return data, axes
    return np.asarray(iio.imread(path)), None


def _tiff_axes(raw: str, ndim: int) -> str | None:
    """Map tifffile's axes codes to ours (S = samples/RGB -> C; Q/I = unknown -> None)."""
    mapped = raw.upper().replace("S", "C")
    if len(mapped) != ndim or set(mapped) - set("TCZYX") or len(set(mapped)) != len(mapped):
        return None
    return mapped


def write_image(path: str | os.PathLike, data: np.ndarray, axes: str | None = None) -> Path:
    """Write ``data`` atomically: TIFF keeps dtype and axes; other formats need uint8 (or uint16 PNG)."""
    path = Path(path)
    suffix = path.suffix.lower()
    with atomic_path(path) as tmp:
        if suffix in TIFF_SUFFIXES:
            rgb = bool(axes and axes.endswith("C") and data.shape[-1] in (3, 4))
            metadata = {"axes": axes[:-1] + "S" if rgb else axes} if axes else None
            # Say what the planes are, so tifffile never guesses RGB for a (.., 3, y, x) stack.
            tifffile.imwrite(tmp, data, metadata=metadata, photometric="rgb" if rgb else "minisblack")
        else:
            iio.imwrite(tmp, data, extension=suffix)
    return path


def read_psf(path: str | os.PathLike) -> np.ndarray:
    """Read a PSF image (any format) as float32; colour PSFs are averaged to one channel."""
    data, axes = read_image(path)
    data = np.asarray(data, dtype=np.float32)
    if axes and axes.endswith("C") or (axes is None and data.ndim == 3 and data.shape[-1] in (3, 4)
                                        and Path(path).suffix.lower() not in TIFF_SUFFIXES):
        data = data[..., :3].mean(axis=-1)
    return data
