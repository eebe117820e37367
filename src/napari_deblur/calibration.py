"""An image's calibration: how far apart its pixels are in the sample, and the light each channel emits.

Read from a file's metadata (ImageJ and OME-TIFF in ``io.py``, OME-Zarr in ``zarr_io.py``), carried with the array
to the PSF sources that need it (an optics PSF is as right as its pixel size) and written back to every output, so
a deblurred or blurred file keeps the sampling of its input. Never guessed: an image without calibration has none,
and what needs one asks for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: Length units as files spell them, in micrometres (ImageJ writes "micron" or "\\u00B5m", OME "µm").
UNITS_IN_UM = {
    "µm": 1.0, "μm": 1.0, "um": 1.0, "micron": 1.0, "microns": 1.0, "micrometer": 1.0, "micrometre": 1.0,
    "\\u00b5m": 1.0, "nm": 1e-3, "nanometer": 1e-3, "nanometre": 1e-3, "mm": 1e3, "millimeter": 1e3,
    "millimetre": 1e3, "cm": 1e4, "centimeter": 1e4, "m": 1e6, "meter": 1e6, "metre": 1e6, "å": 1e-4,
    "angstrom": 1e-4,
}
SPATIAL = "ZYX"


def to_um(value: Any, unit: str | None) -> float | None:
    """``value`` in ``unit`` as micrometres (no unit: micrometres, as OME's default); ``None`` where the unit is not a
    length (ImageJ's "pixel" means uncalibrated) or the value is not a positive number."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    factor = UNITS_IN_UM.get((unit or "µm").strip().lower())
    if factor is None or not number > 0 or number == float("inf"):
        return None
    return number * factor


@dataclass(frozen=True)
class Calibration:
    """Pixel spacing in µm along the spatial axes a file calibrates (``{"Z": 0.3, "Y": 0.1, "X": 0.1}``), and the
    emission wavelength in µm of each channel where the file names them (OME), in channel order."""

    spacing: Mapping[str, float] = field(default_factory=dict)
    wavelengths: tuple[float, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.spacing) or bool(self.wavelengths)

    @property
    def pixel_size(self) -> float | None:
        """The lateral pixel size (X's; Y's where only it is known)."""
        return self.spacing.get("X", self.spacing.get("Y"))

    @property
    def z_step(self) -> float | None:
        return self.spacing.get("Z")

    def optics(self) -> dict[str, Any]:
        """What this calibration tells an optics PSF: ``pixel_size``, ``z_step`` and ``wavelength`` (one value, or a
        list with one per channel), where known."""
        known: dict[str, Any] = {}
        if self.pixel_size is not None:
            known["pixel_size"] = self.pixel_size
        if self.z_step is not None:
            known["z_step"] = self.z_step
        if self.wavelengths:
            known["wavelength"] = self.wavelengths[0] if len(self.wavelengths) == 1 else list(self.wavelengths)
        return known

    def describe(self) -> str:
        parts = [f"{a.lower()} {self.spacing[a]:g} µm" for a in SPATIAL if a in self.spacing]
        if self.wavelengths:
            parts.append("emission " + ", ".join(f"{w:g}" for w in self.wavelengths) + " µm")
        return ", ".join(parts) or "none"


def calibration_for(axes: str | None, spacing: Mapping[str, float | None],
                    wavelengths: tuple[float, ...] = ()) -> Calibration:
    """A calibration of the spatial axes in ``axes`` (all when ``None``) whose spacing is known."""
    letters = (axes or SPATIAL).upper()
    return Calibration({a: float(v) for a, v in spacing.items() if a in SPATIAL and a in letters and v},
                       tuple(wavelengths))


def of_axes(calibration: Calibration | None, axes: str | None) -> Calibration | None:
    """``calibration`` kept to the spatial axes of an output with ``axes`` (``None`` where none is left): a
    2D result of a 3D file has no z-step to write."""
    if calibration is None:
        return None
    kept = calibration_for(axes or "YX", calibration.spacing, calibration.wavelengths)
    return kept or None
