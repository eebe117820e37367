"""A PSF measured from an image of sub-resolution beads (2D or 3D): find isolated beads, align them to sub-pixel
precision, average.

What a microscopist does by hand (and PSF distillers such as Huygens' do), in steps that each say why a bead was
left out:

1. The background is the image's median; the noise its robust spread (MAD) after light smoothing.
2. Beads are local maxima of the smoothed image more than ``threshold`` noise levels above the background (or
   the ``points`` the user placed). A faint maximum inside a brighter bead's box (its diffraction rings) is part
   of that bead, not a bead.
3. Left out: beads whose box would leave the image (*border*), beads whose boxes overlap another bead's
   (*neighbour*: both are mixed), and beads that reach the saturation level (*saturated*: their peak is cut off).
4. Each bead is centred on its intensity centroid, then aligned to the first average by upsampled phase
   correlation, and shifted there with cubic splines.
5. Each bead is normalized to sum 1 and the beads are averaged; negatives (noise) are clipped, and the result
   sums to 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage

from napari_deblur.synth.psf import measure_fwhm

#: A maximum fainter than this fraction of a brighter bead inside that bead's box is its ring, not a bead.
RING_FRACTION = 0.15


@dataclass(frozen=True)
class BeadPSF:
    """The measured PSF and how it was made.

    ``psf``: float32, odd sides, sums to 1. ``used``: (n, ndim) sub-pixel centres of the beads averaged.
    ``rejected``: reason (border, neighbour, saturated) -> (m, ndim) positions of the beads left out.
    ``agreement``: mean normalized cross-correlation of each used bead with the average (1 = identical).
    ``fwhm_spread``: relative standard deviation of the beads' lateral FWHM (0 = all the same width).
    """

    psf: np.ndarray
    used: np.ndarray
    rejected: dict[str, np.ndarray] = field(default_factory=dict)
    agreement: float = float("nan")
    fwhm_spread: float = float("nan")

    def summary(self) -> str:
        """One line for a status bar or a console."""
        left_out = ", ".join(f"{len(v)} {k}" for k, v in self.rejected.items() if len(v)) or "none"
        return (f"{len(self.used)} beads averaged (left out: {left_out}); agreement {self.agreement:.3f}, lateral "
                f"FWHM spread {100 * self.fwhm_spread:.1f} %; PSF {'x'.join(map(str, self.psf.shape))}")


def _odd(n: float, low: int = 5) -> int:
    n = max(int(np.ceil(n)), low)
    return n if n % 2 else n + 1


def _noise(x: np.ndarray) -> float:
    med = np.median(x)
    return float(1.4826 * np.median(np.abs(x - med))) or float(x.std()) or 1.0


def _candidates(smooth: np.ndarray, level: float) -> np.ndarray:
    """Centres (integer) of the local maxima of ``smooth`` above ``level``; a flat top counts once."""
    maxima = (smooth == ndimage.maximum_filter(smooth, size=3)) & (smooth > level)
    labels, n = ndimage.label(maxima, structure=np.ones((3,) * smooth.ndim))
    if n == 0:
        return np.zeros((0, smooth.ndim), int)
    centres = ndimage.center_of_mass(maxima, labels, range(1, n + 1))
    return np.rint(np.asarray(centres)).astype(int)


#: Default box sides in FWHM of the brightest bead, largest first: the largest that leaves MIN_BEADS beads usable
#: is taken (a box of five FWHM holds the PSF's tails; on a crowded or thin stack it leaves no bead whole).
BOX_FWHM = (5.0, 4.0, 3.0, 2.5)
MIN_BEADS = 3


def _default_box(work: np.ndarray, peak: np.ndarray, fwhm: float = BOX_FWHM[0]) -> tuple[int, ...]:
    """Box sides from the brightest bead's widths: ``fwhm`` FWHM across, at least 5 pixels, odd."""
    half = 8
    region = tuple(slice(max(p - half, 0), p + half + 1) for p in peak)
    crop = work[region]
    widths = []
    for axis in range(crop.ndim):
        profile = np.moveaxis(crop, axis, -1)[tuple(p - r.start for a, (p, r) in enumerate(zip(peak, region))
                                                     if a != axis)]
        try:
            widths.append(measure_fwhm(profile[None], pixel_size=1.0)[0])
        except ValueError:  # does not fall to half inside the window: wide, use the window
            widths.append(2.0 * half / 2.5)
    return tuple(_odd(fwhm * w) for w in widths)


def _crop(work: np.ndarray, centre: np.ndarray, box: tuple[int, ...], extra: int = 2) -> np.ndarray:
    return work[tuple(slice(c - b // 2 - extra, c + b // 2 + extra + 1) for c, b in zip(centre, box))]


def _aligned(padded: np.ndarray, shift: np.ndarray, extra: int = 2) -> np.ndarray:
    """``padded`` (a box plus ``extra`` pixels each side) moved by ``shift`` and cut back to the box."""
    moved = ndimage.shift(padded, shift, order=3, mode="nearest")
    return moved[(slice(extra, -extra),) * padded.ndim]


def _ncc(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum()))


def _advice(reasons: dict[str, np.ndarray], box: tuple[int, ...]) -> str:
    """Which setting to change when no bead is usable, from why most were left out."""
    worst = max(reasons, key=lambda k: len(reasons[k]))
    smaller = " ".join(str(max(3, (b // 2) | 1)) for b in box)
    if worst == "saturated":
        return ("Their peaks reach the saturation level: image the beads with less exposure, or pass saturation= "
                "if the detector saturates above the image's maximum.")
    where = "too close to the border" if worst == "border" else "too close to each other"
    return (f"Most are {where} for that box: pass a smaller size= (its sides, e.g. {smaller}), or place points= "
            "on isolated beads.")


def psf_from_beads(image: Any, *, size: int | tuple[int, ...] | None = None, points: Any = None,
                   threshold: float = 6.0, saturation: float | None = None) -> BeadPSF:
    """Measure a PSF from an image of isolated sub-resolution beads (2D YX or 3D ZYX).

    Parameters
    ----------
    image : array-like
        The bead image, 2D or 3D, any numeric dtype.
    size : int or tuple of int, optional
        The PSF's side(s) in pixels (odd). Default: five times the brightest bead's FWHM along each axis, or four,
        three, two and a half when a larger box leaves fewer than three beads usable (:data:`BOX_FWHM`).
    points : array-like, optional
        (n, ndim) bead positions (e.g. a napari points layer's data) instead of finding them.
    threshold : float
        How many noise levels above the background a bead's peak must be (when finding them).
    saturation : float, optional
        The intensity at which the detector saturates. Default: the image's maximum if more than one pixel
        reaches it (a clipped plateau), else none.

    Raises
    ------
    ValueError
        When no bead is left to average, saying how many were found and why each was left out.
    """
    data = np.asarray(image, dtype=np.float64)
    if data.ndim not in (2, 3) or min(data.shape) < 5:
        raise ValueError(f"A bead image must be 2D (YX) or 3D (ZYX) and at least 5 pixels along each axis; got shape "
                         f"{data.shape}.")
    if not np.isfinite(data).all():
        raise ValueError("The bead image contains NaN or infinite values; replace them first.")
    background = float(np.median(data))
    work = data - background
    smooth = ndimage.gaussian_filter(work, 1.0)
    if points is None:
        found = _candidates(smooth, threshold * _noise(smooth))
    else:
        found = np.rint(np.asarray(points, dtype=float).reshape(-1, data.ndim)).astype(int)
        found = found[np.all((found >= 0) & (found < data.shape), axis=1)]
    if len(found) == 0:
        raise ValueError("No beads found: lower the threshold, or place points on the beads.")
    peaks = smooth[tuple(found.T)]
    order = np.argsort(-peaks)
    found, peaks = found[order], peaks[order]
    if saturation is None:
        top = data.max()
        saturation = top if np.count_nonzero(data == top) > 1 else None

    def saturated(centre: np.ndarray) -> bool:
        window = data[tuple(slice(max(c - 1, 0), c + 2) for c in centre)]
        return saturation is not None and window.max() >= saturation

    def sort_beads(box: tuple[int, ...]) -> tuple[list, dict[str, list]]:
        """The beads usable with ``box``, and the others by why they are not."""
        half = np.array(box) // 2
        rejected: dict[str, list] = {"border": [], "neighbour": [], "saturated": []}
        kept, absorbed = [], np.zeros(len(found), bool)
        for i, centre in enumerate(found):
            if absorbed[i]:
                continue
            overlapping = [j for j in range(len(found)) if j != i and not absorbed[j]
                           and np.all(np.abs(found[j] - centre) < np.array(box))]
            rings = [j for j in overlapping if peaks[j] < RING_FRACTION * peaks[i]]
            absorbed[rings] = True  # a brighter bead's diffraction rings, not beads of their own
            if len(overlapping) > len(rings):
                rejected["neighbour"].append(centre)
            elif np.any(centre - half - 2 < 0) or np.any(centre + half + 2 >= data.shape):
                rejected["border"].append(centre)
            elif saturated(centre):
                rejected["saturated"].append(centre)
            else:
                kept.append(centre)
        return kept, rejected

    if size:
        box = (size,) * data.ndim if isinstance(size, int) else tuple(size)
        if any(b % 2 == 0 or b < 3 for b in box) or len(box) != data.ndim:
            raise ValueError(f"size must be odd and at least 3 along each of the {data.ndim} axes; got {size!r}.")
        kept, rejected = sort_beads(box)
    else:  # measured on the brightest bead that is not clipped (a flat top would look wide); shrunk while too few
        reference = next((c for c in found if not saturated(c)), found[0])
        tries = [(_default_box(work, reference, fwhm), fwhm) for fwhm in BOX_FWHM]
        box, kept, rejected = max(((b, *sort_beads(b)) for b, _ in tries),
                                  key=lambda t: (min(len(t[1]), MIN_BEADS), np.prod(t[0])))
    reasons = {k: np.array(v, int).reshape(-1, data.ndim) for k, v in rejected.items()}
    if not kept:
        raise ValueError(f"Found {len(found)} beads but none is usable with a {'x'.join(map(str, box))} box: "
                         + ", ".join(f"{len(v)} {k}" for k, v in reasons.items() if len(v)) + ". "
                         + _advice(reasons, box))

    crops = [np.clip(_crop(work, c, box), 0, None) for c in kept]
    centre_of_box = (np.array(crops[0].shape) - 1) / 2
    shifts = []
    for crop in crops:  # first pass: each bead's intensity centroid to the box centre
        core = crop * (crop >= 0.1 * crop.max())
        shifts.append(centre_of_box - np.array(ndimage.center_of_mass(core)))
    beads = [_aligned(c, s) for c, s in zip(crops, shifts)]
    beads = [b / b.sum() for b in beads]
    average = np.mean(beads, axis=0)
    if len(beads) > 1:  # second pass: upsampled phase correlation against the first average
        from skimage.registration import phase_cross_correlation

        for k in range(len(crops)):
            refine, _, _ = phase_cross_correlation(average, beads[k], upsample_factor=20, normalization=None)
            shifts[k] = shifts[k] + refine
        beads = [_aligned(c, s) for c, s in zip(crops, shifts)]
        beads = [b / b.sum() for b in beads]
        average = np.mean(beads, axis=0)
    psf = np.clip(average, 0, None)
    psf = (psf / psf.sum()).astype(np.float32)
    widths = []
    for b in beads:
        try:
            widths.append(measure_fwhm(b[b.shape[0] // 2] if b.ndim == 3 else b, pixel_size=1.0)[0])
        except ValueError:
            pass
    spread = float(np.std(widths) / np.mean(widths)) if len(widths) > 1 else 0.0
    return BeadPSF(psf=psf, used=np.array(kept, float) - np.array(shifts), rejected=reasons,
                   agreement=float(np.mean([_ncc(b, average) for b in beads])), fwhm_spread=spread)
