"""Calibration in TIFF files: read from ImageJ and OME-TIFF metadata, written the way the reader expects.

ImageJ keeps the lateral pixel size in the resolution tags (pixels per unit) and the z-step and unit in its
description; OME-TIFF keeps both in the OME-XML ``Pixels`` element, and the channels' emission wavelengths beside
them. An output is written as an ImageJ hyperstack where ImageJ can hold it (8/16-bit or float32, axes in ImageJ's
TZCYX order), so Fiji opens it calibrated without Bio-Formats; otherwise as OME-TIFF, which holds any dtype and axis
order.
"""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree

import numpy as np
import tifffile

from napari_deblur.calibration import Calibration, calibration_for, to_um

IMAGEJ_ORDER = "TZCYXS"
IMAGEJ_DTYPES = ("uint8", "uint16", "float32")


def read_tiff_calibration(tif: tifffile.TiffFile) -> Calibration | None:
    """The calibration of an open TIFF: OME-XML where present, else ImageJ's; ``None`` when it carries none."""
    if tif.is_ome and tif.ome_metadata:
        found = _ome_calibration(tif.ome_metadata)
    elif tif.is_imagej:
        found = _imagej_calibration(tif.imagej_metadata or {}, tif.pages.first)
    else:
        found = None
    return found or None


def _imagej_calibration(meta: dict[str, Any], page: Any) -> Calibration:
    unit = meta.get("unit")
    if not unit:  # ImageJ writes no unit for an uncalibrated image: its resolution then means nothing
        return Calibration()
    x_res, y_res = page.resolution
    spacing = {"X": to_um(1 / x_res, unit) if x_res else None, "Y": to_um(1 / y_res, unit) if y_res else None,
               "Z": to_um(meta.get("spacing"), unit)}
    return calibration_for(None, spacing)


def _ome_calibration(xml: str) -> Calibration:
    try:
        root = ElementTree.fromstring(xml)
    except ElementTree.ParseError:
        return Calibration()
    pixels = next((e for e in root.iter() if e.tag.rsplit("}", 1)[-1] == "Pixels"), None)
    if pixels is None:
        return Calibration()
    spacing = {a: to_um(pixels.get(f"PhysicalSize{a}"), pixels.get(f"PhysicalSize{a}Unit")) for a in "ZYX"}
    channels = [e for e in pixels if e.tag.rsplit("}", 1)[-1] == "Channel"]
    # OME's default wavelength unit is the nanometre.
    waves = [to_um(c.get("EmissionWavelength"), c.get("EmissionWavelengthUnit", "nm")) for c in channels]
    return calibration_for(None, spacing, tuple(waves) if waves and all(waves) else ())  # type: ignore[arg-type]


def tiff_write_options(data: np.ndarray, axes: str | None, rgb: bool,
                       calibration: Calibration | None) -> dict[str, Any]:
    """The ``tifffile.imwrite`` keywords that store ``data`` with its ``axes`` and ``calibration``."""
    # Say what the planes are, so tifffile never guesses RGB for a (.., 3, y, x) stack.
    options: dict[str, Any] = {"photometric": "rgb" if rgb else "minisblack"}
    if not axes:
        return options
    letters = axes[:-1] + "S" if rgb else axes
    if not calibration:
        return options | {"metadata": {"axes": letters}}
    spacing = calibration.spacing
    if _imagej_can_hold(data, letters) and not calibration.wavelengths:  # ImageJ has no place for wavelengths
        meta: dict[str, Any] = {"axes": letters, "unit": "micron"}
        if "Z" in spacing and "Z" in letters:
            meta["spacing"] = spacing["Z"]
        x, y = spacing.get("X", spacing.get("Y")), spacing.get("Y", spacing.get("X"))
        return options | {"imagej": True, "metadata": meta, "resolution": (1 / x, 1 / y) if x and y else None}
    ome: dict[str, Any] = {"axes": letters}
    for a in "ZYX":
        if a in spacing and a in letters:
            ome[f"PhysicalSize{a}"], ome[f"PhysicalSize{a}Unit"] = spacing[a], "µm"
    channels = data.shape[letters.index("C")] if "C" in letters else 1
    if calibration.wavelengths and len(calibration.wavelengths) == channels:
        ome["Channel"] = {"EmissionWavelength": [w * 1000 for w in calibration.wavelengths],
                          "EmissionWavelengthUnit": ["nm"] * channels}
    return options | {"ome": True, "metadata": ome}


def _imagej_can_hold(data: np.ndarray, letters: str) -> bool:
    """ImageJ hyperstacks hold 8/16-bit and float32 (colour only as 8-bit) with axes in TZCYXS order."""
    positions = [IMAGEJ_ORDER.find(a) for a in letters]
    in_order = -1 not in positions and positions == sorted(positions)
    dtype_ok = data.dtype.name == "uint8" if "S" in letters else data.dtype.name in IMAGEJ_DTYPES
    return in_order and dtype_ok and letters.endswith(("YX", "YXS"))
