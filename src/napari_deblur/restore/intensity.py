"""Mapping image intensities to the [0, 1]-ish range methods expect, and back: the one intensity policy.

The engine, blur synthesis, training data and evaluation all normalize with :func:`policy_range`, so a trained
network sees the same numbers in training and in use:

- 8-bit data maps by its full range (0..255), booleans by 0..1;
- floats already in [0, 1] are kept as they are (a photograph loaded as floats is still a photograph);
- uint16, other integers and other floats map by robust percentiles, because scientific images rarely fill
  their dtype (a 12-bit camera in uint16) and carry outliers (hot pixels).

The same affine map is undone afterwards, so values stay in the data's own units.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LOW_PERCENTILE = 0.1
HIGH_PERCENTILE = 99.9
_SAMPLE = 1 << 20  # percentiles from at most ~1 M pixels: exact enough, and fast on 50 MP frames


@dataclass(frozen=True)
class IntensityMap:
    """x_normalized = (x - low) / (high - low); arrays broadcast against the planes they map."""

    low: np.ndarray
    high: np.ndarray

    def forward(self, x: np.ndarray) -> np.ndarray:
        return ((x.astype(np.float32) - self.low) / (self.high - self.low)).astype(np.float32)

    def inverse(self, x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Map back; ``out=x`` (a float32 array) does it in place, without a full-size temporary."""
        if out is None:
            return (x * (self.high - self.low) + self.low).astype(np.float32)
        np.multiply(x, self.high - self.low, out=out, casting="unsafe")
        np.add(out, self.low, out=out, casting="unsafe")
        return out


def robust_range(values: np.ndarray) -> tuple[float, float]:
    """Low/high percentiles of ``values`` (subsampled when large); never an empty range."""
    flat = values.reshape(-1)
    if flat.size > _SAMPLE:
        flat = flat[:: flat.size // _SAMPLE]
    low, high = np.percentile(flat, [LOW_PERCENTILE, HIGH_PERCENTILE])
    if not high > low:
        low, high = float(flat.min()), float(flat.max())
    if not high > low:  # a constant image: any non-empty range maps it onto itself
        high = low + 1.0
    return float(low), float(high)


def fixed_range(values: np.ndarray) -> tuple[float, float] | None:
    """The range the policy gives ``values`` by their type alone (8-bit, bool, [0, 1] floats), else ``None``."""
    if values.dtype == np.uint8:
        return 0.0, 255.0
    if values.dtype == bool:
        return 0.0, 1.0
    if values.dtype.kind == "f" and values.size and float(values.min()) >= 0 and float(values.max()) <= 1:
        return 0.0, 1.0
    return None


def policy_range(values: np.ndarray) -> tuple[float, float]:
    """(low, high) that the intensity policy maps to (0, 1) for ``values`` (see the module docstring)."""
    return fixed_range(values) or robust_range(values)


def intensity_map(planes: np.ndarray, groups: np.ndarray | None) -> IntensityMap:
    """Fit the policy's map for ``planes`` of shape ``(B, *spatial)``.

    ``groups`` gives, per plane, the channel it belongs to (channels are normalized separately, because
    microscopy channels differ by orders of magnitude); ``None`` means one range for all planes.
    """
    bshape = (planes.shape[0],) + (1,) * (planes.ndim - 1)
    fixed = fixed_range(planes)
    if fixed is not None:
        return IntensityMap(np.full(bshape, fixed[0], np.float32), np.full(bshape, fixed[1], np.float32))
    if groups is None:
        groups = np.zeros(planes.shape[0], dtype=int)
    low = np.zeros(planes.shape[0], np.float32)
    high = np.ones(planes.shape[0], np.float32)
    for g in np.unique(groups):
        lo, hi = robust_range(planes[groups == g])
        low[groups == g], high[groups == g] = lo, hi
    return IntensityMap(low.reshape(bshape), high.reshape(bshape))


def fixed_intensity_map(intensity_range: tuple[float, float], n_planes: int, ndim: int) -> IntensityMap:
    """One given (low, high) range for every plane: chunks of a lazy array must share one map, not fit their own."""
    low, high = (float(v) for v in intensity_range)
    if not (np.isfinite(low) and np.isfinite(high) and high > low):
        raise ValueError(f"intensity_range must be finite (low, high) with high > low; got {intensity_range!r}.")
    bshape = (n_planes,) + (1,) * (ndim - 1)
    return IntensityMap(np.full(bshape, low, np.float32), np.full(bshape, high, np.float32))


def restore_dtype(x: np.ndarray, dtype: np.dtype, output_dtype: str) -> np.ndarray:
    """Cast float32 results to the requested dtype: the input's (integers clipped and rounded) or float32."""
    if output_dtype == "float32":
        return x.astype(np.float32, copy=False)
    if output_dtype != "same":
        raise ValueError(f"output_dtype must be 'same' or 'float32'; got {output_dtype!r}.")
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        # float32 holds integers exactly only up to 2**24: a 32-bit maximum would round up past the type and
        # wrap around to 0 on casting. Clip in float64, below the largest value float64 can cast back.
        wide = x.astype(np.float64) if info.bits > 16 else x
        high = float(info.max) if info.bits < 64 else float(np.nextafter(float(info.max), -np.inf))
        return np.clip(np.rint(wide), float(info.min), high).astype(dtype)
    return x.astype(dtype, copy=False)
