"""Make docs/images/pnp.png: python docs/make_pnp_picture.py (about a minute on a CPU).

Deconvolution with the true PSF, one row per case, left to right: the blurred image, Wiener at the best of five
balances (photos) or nothing, Richardson-Lucy at its defaults, ``pnp`` at its defaults (the trained denoiser as the
prior) and the truth, each labelled with its PSNR. Rows: a Set12 photo with Levin kernel 4 and noise sigma 0.03;
the uint16 widefield scene of benchmarks/rl_defaults.py at 50 photons (a crop); the flowdec hollow bars (3D, the
middle plane shown). PSNR as in benchmarks/pnp.py (microscopy after a fitted gain and offset).
"""

from __future__ import annotations

import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np
from PIL import Image

import napari_deblur as nd

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
OUT = ROOT / "docs" / "images" / "pnp.png"
sys.path.insert(0, str(ROOT / "docs"))
sys.path.insert(0, str(ROOT / "benchmarks"))
from make_psf_pictures import TILE, _picture, _save_rows  # noqa: E402 - one tile style for every picture

from _report import blur_protocol  # noqa: E402 - the benchmarks' blur protocol
from pnp import ARRAY, BALANCES  # noqa: E402 - the benchmark's Wiener oracle and kernel centring
from rl_defaults import microscopy_cases  # noqa: E402 - the same microscopy cases
from rl_defaults import psnr as fitted_psnr  # noqa: E402

F32 = {"output_dtype": "float32"}


def _fit(truth: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``x`` in the truth's units (least-squares gain and offset), clipped to [0, 1]: the scored picture."""
    a, b = np.polyfit(x.ravel().astype(np.float64), truth.ravel(), 1)
    return np.clip(a * x + b, 0, 1)


def _row(title: str, blurred: np.ndarray, truth: np.ndarray, psf: np.ndarray, fit: bool, show) -> Image.Image:
    """One row; ``fit``: microscopy, scored after a fitted gain and offset (and no Wiener oracle). Photos were
    blurred about the kernel's array centre, which the methods are told (as in the benchmark)."""
    wiener = not fit
    kw = {**F32, **({} if fit else ARRAY)}
    results = [(title, blurred)]
    if wiener:
        outs = [nd.deblur(blurred, "wiener", psf=psf, balance=b, **kw) for b in BALANCES]
        results.append(("Wiener (best balance)", max(outs, key=lambda o: fitted_psnr(truth, o, fit))))
    results += [("Richardson-Lucy", nd.deblur(blurred, "richardson_lucy", psf=psf, **kw)),
                ("pnp", nd.deblur(blurred, "pnp", psf=psf, **kw))]
    tiles = []
    for label, x in results:
        shown = _fit(truth, x.astype(np.float64)) if fit else np.clip(x, 0, 1)
        tiles.append(_picture(show(shown), f"{label} {fitted_psnr(truth, x, fit):.2f} dB"))
    tiles.append(_picture(show(truth), "truth"))
    row = Image.new("RGB", (5 * TILE, tiles[0].height), "white")
    for i, tile in enumerate(tiles):
        row.paste(tile, (i * TILE if wiener or i < 1 else (i + 1) * TILE, 0))
    return row


def main() -> None:
    rows = []
    sharp = iio.imread(SHARED / "set12" / "05.png").astype(np.float32) / 255
    kernel = np.load(SHARED / "levin09" / "k04.npy")
    blurred = blur_protocol(sharp, kernel, 0.03, np.random.default_rng(0))
    rows.append(_row("Set12 5, Levin k4, 0.03", blurred, sharp, kernel, False, lambda x: x))
    for label, truth, data, psf, fit in microscopy_cases():
        if "50 photons" in label:
            rows.append(_row("widefield, 50 photons", data, truth, psf, fit, lambda x: x[96:352, 96:352]))
        elif "bars" in label:
            rows.append(_row("flowdec bars (3D)", data, truth, psf, fit, lambda x: x[x.shape[0] // 2]))
    _save_rows(rows, OUT)


if __name__ == "__main__":
    main()
