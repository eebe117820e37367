"""Zarr in and out, chunk by chunk: images larger than memory stream through the lazy deblurring path.

An OME-Zarr image (a group with ``multiscales`` metadata) is read at its full-resolution level, with its axis
names as the axes string and its scale as the calibration; a plain zarr array is read as it is. Results whose axes
are known are written as OME-Zarr (0.5: one level, the axes and their scale in µm), so napari-ome-zarr, Fiji and
others read them calibrated; without axes, as a plain array. Either is built next to the target under a temporary
name and renamed when complete, so an interrupted or failed run never leaves a partial output.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
import warnings
from pathlib import Path
from typing import Any

from napari_deblur.calibration import Calibration, calibration_for, to_um

ZARR_SUFFIXES = {".zarr"}


def is_zarr(path: str | os.PathLike) -> bool:
    """A ``.zarr`` path, or a folder holding zarr metadata (v2 ``.zarray``/``.zgroup`` or v3 ``zarr.json``)."""
    path = Path(path)
    if path.suffix.lower() in ZARR_SUFFIXES:
        return True
    return path.is_dir() and any((path / name).exists() for name in (".zarray", ".zgroup", "zarr.json"))


def _attributes(path: Path) -> dict[str, Any]:
    """A zarr group's attributes from its metadata files (v2 or v3), without opening arrays."""
    if (path / "zarr.json").is_file():
        meta = json.loads((path / "zarr.json").read_text())
        attrs = meta.get("attributes", {})
        return attrs.get("ome", attrs)  # OME-Zarr 0.5 nests its metadata under "ome"
    if (path / ".zattrs").is_file():
        return json.loads((path / ".zattrs").read_text())
    return {}


def read_zarr(path: str | os.PathLike, *, fill_missing: bool = False) -> tuple[Any, str | None]:
    """A lazy dask array of the image at ``path`` and its axes (``None`` when the file does not say).

    OME-Zarr: the first (full-resolution) dataset of the first multiscale, axes from its axis names. Zarr reads
    a chunk that was never written (an interrupted copy or acquisition) as its fill value, which would be
    deblurred as if it were data: that is refused unless ``fill_missing``, which only warns.
    """
    import dask.array as da

    path = Path(path)
    if not path.exists():
        raise ValueError(f"No zarr store at {path}.")
    attrs = _attributes(path)
    multiscales = attrs.get("multiscales")
    axes = None
    if multiscales:
        scale = multiscales[0]
        source = path / scale["datasets"][0]["path"]
        names = [a["name"] if isinstance(a, dict) else a for a in scale.get("axes", [])]
        axes = "".join(n.upper() for n in names)
    else:
        source = path
    try:
        array = da.from_zarr(str(source))
    except Exception as err:  # a group without multiscales, or not zarr at all
        raise ValueError(f"{path} is not a zarr array or an OME-Zarr image ({err}).") from None
    _check_chunks(source, fill_missing)
    if axes is not None and not (len(axes) == array.ndim and set(axes) <= set("TCZYX")):
        axes = None
    return array, axes


def read_zarr_calibration(path: str | os.PathLike) -> Calibration | None:
    """The pixel spacing an OME-Zarr image's full-resolution level carries (its scale, times a multiscale's own
    scale, in its axes' units); ``None`` for a plain array or an image with no length units."""
    multiscales = _attributes(Path(path)).get("multiscales")
    if not multiscales:
        return None
    scale_meta = multiscales[0]
    axes = [a if isinstance(a, dict) else {"name": a} for a in scale_meta.get("axes", [])]
    scale = [1.0] * len(axes)
    for transforms in (scale_meta.get("coordinateTransformations", []),
                       scale_meta["datasets"][0].get("coordinateTransformations", [])):
        for transform in transforms:
            if transform.get("type") == "scale" and len(transform.get("scale", [])) == len(axes):
                scale = [a * b for a, b in zip(scale, transform["scale"])]
    # An axis without a unit is in pixels: nothing to read.
    spacing = {str(a["name"]).upper(): to_um(s, a["unit"]) for a, s in zip(axes, scale) if a.get("unit")}
    return calibration_for(None, spacing) or None


def _check_chunks(source: Path, fill_missing: bool) -> None:
    import zarr

    stored = zarr.open_array(str(source), mode="r")
    missing = stored.nchunks - stored.nchunks_initialized
    if missing:
        message = (f"{source}: {missing} of {stored.nchunks} chunks are missing (never written), and would be "
                   f"read as {stored.fill_value!r}")
        if not fill_missing:
            raise ValueError(f"{message}. Complete the copy; or, if they are empty regions (some writers skip chunks "
                             "equal to the fill value), allow them with --fill-missing-chunks (fill_missing=True).")
        warnings.warn(f"{message}; going on as asked.", RuntimeWarning, stacklevel=3)


def write_zarr(array: Any, path: str | os.PathLike, *, overwrite: bool = True, axes: str | None = None,
               calibration: Calibration | None = None) -> Path:
    """Compute ``array`` (a dask array) chunk by chunk into an OME-Zarr image at ``path`` (a plain zarr array when
    ``axes`` are not known), atomically, with the spacing of ``calibration``.

    Chunks are written as they are computed (memory stays bounded by a few chunks); the store is built under a
    temporary name beside ``path`` and renamed at the end. Any error or interruption removes the temporary
    store, and an existing ``path`` is replaced only after the new one is complete.
    """
    import dask.array as da

    path = Path(path)
    if path.exists() and not overwrite:
        raise ValueError(f"{path} exists; remove it or allow overwriting.")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.partial")
    try:
        if axes:
            _write_ome_group(tmp, path.name, axes, calibration)
            da.to_zarr(array, str(tmp / "0"), overwrite=True)
        else:
            da.to_zarr(array, str(tmp), overwrite=True)
        if path.exists():
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


#: OME-Zarr's axis types for our axis letters.
AXIS_TYPES = {"T": "time", "C": "channel", "Z": "space", "Y": "space", "X": "space"}


def _write_ome_group(path: Path, name: str, axes: str, calibration: Calibration | None) -> None:
    """An OME-Zarr 0.5 group at ``path`` describing one full-resolution level ``0`` with ``axes``."""
    import zarr

    spacing = calibration.spacing if calibration else {}
    described = []
    for a in axes:
        axis = {"name": a.lower(), "type": AXIS_TYPES[a]}
        if a in spacing:
            axis["unit"] = "micrometer"
        described.append(axis)
    scale = [float(spacing.get(a, 1.0)) for a in axes]
    multiscale = {"name": name, "axes": described,
                  "datasets": [{"path": "0", "coordinateTransformations": [{"type": "scale", "scale": scale}]}]}
    zarr.open_group(str(path), mode="w", zarr_format=3).attrs["ome"] = {"version": "0.5", "multiscales": [multiscale]}
