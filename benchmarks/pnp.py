"""Deconvolution with a learned prior (issue 27): ``pnp`` beside the classical methods, and ``denoise`` alone.

Every method is given the true PSF; ``pnp`` and ``denoise`` run at their defaults (noise level measured).
- photos: Set12 (grey) x the 8 Levin kernels, the protocol's Gaussian noise sigma 0.01 and 0.03. Classical
  reference: the better of Wiener at the best of five balances (an oracle, per image) and Richardson-Lucy at its
  defaults; hyper_laplacian at its defaults for information.
- Levin et al.'s 16 real captures with the true kernel (rot180), scored up to a +-3 px shift less a border.
- microscopy: the rl_defaults cases (a uint16 widefield scene at 50 and 300 photons; the flowdec hollow bars in
  3D), scored after a fitted gain and offset, against Richardson-Lucy at its defaults.
- denoising: Set12 with Gaussian noise 15, 25, 50 /255 (unclipped, the literature's protocol), noise level given
  and measured, beside the published BM3D and DnCNN.
- speed: seconds per megapixel of pnp, Wiener and Richardson-Lucy on a 1-MP image and a 64x256x256 volume.

Run: python benchmarks/pnp.py [--kernels 8] [--write]   (about 25 minutes on 2 CPU cores)
"""

from __future__ import annotations

import argparse
import time

import imageio.v3 as iio
import numpy as np
import tifffile

import napari_deblur as nd
from _report import SHARED, blur_protocol, levin_captures, machine, shifted_psnr, write_section
from rl_defaults import microscopy_cases
from rl_defaults import psnr as fitted_psnr

BALANCES = (1e-3, 3e-3, 1e-2, 3e-2, 1e-1)
F32 = {"output_dtype": "float32"}
#: The protocol convolves with the kernel's array centre (scipy.ndimage.convolve), so the methods are told so;
#: by default they centre a PSF on its mass, which shifts the result by up to a few pixels for Levin kernels 3-8.
ARRAY = {"psf_centering": "array"}
#: The denoiser pnp and denoise run (--weights; blank = the shipped one).
DENOISER: dict[str, str] = {}
#: Published Set12 denoising PSNR (dB) at sigma 15 / 25 / 50: DnCNN (Zhang et al. 2017, table 3).
PUBLISHED = {"BM3D": (32.37, 29.97, 26.72), "DnCNN": (32.86, 30.44, 27.18)}


def _psnr(x: np.ndarray, sharp: np.ndarray) -> float:
    return float(-10 * np.log10(np.mean((np.clip(x, 0, 1) - sharp) ** 2)))


def classical(blurred: np.ndarray, kernel: np.ndarray, score, **kw) -> dict[str, float]:
    """Wiener at its best balance, Richardson-Lucy and hyper_laplacian at their defaults, scored by ``score``."""
    kw = {**F32, **kw}
    wiener = max(score(nd.deblur(blurred, "wiener", psf=kernel, balance=b, **kw)) for b in BALANCES)
    rl = score(nd.deblur(blurred, "richardson_lucy", psf=kernel, **kw))
    return {"wiener": wiener, "rl": rl, "hl": score(nd.deblur(blurred, "hyper_laplacian", psf=kernel, **kw))}


def photo_rows(kernels: int) -> list[str]:
    rng = np.random.default_rng(0)
    images = [iio.imread(p).astype(np.float32) / 255 for p in sorted((SHARED / "set12").glob("*.png"))]
    lines = []
    for sigma in (0.01, 0.03):
        rows = []
        for i, sharp in enumerate(images):
            for k in range(1, kernels + 1):
                kernel = np.load(SHARED / "levin09" / f"k{k:02d}.npy")
                blurred = blur_protocol(sharp, kernel, sigma, rng)
                score = lambda x, s=sharp: _psnr(x, s)  # noqa: E731
                row = {"input": score(blurred), **classical(blurred, kernel, score, **ARRAY),
                       "pnp": score(nd.deblur(blurred, "pnp", psf=kernel, **ARRAY, **DENOISER, **F32)), "image": i}
                rows.append(row)
                print("set12", sigma, i + 1, k, {n: round(v, 2) for n, v in row.items()}, flush=True)
        lines.append(_row(f"Set12 x Levin k1-{kernels}, sigma {sigma}", rows))
    return lines


def levin_rows() -> list[str]:
    rows = []
    for i, k, sharp, blurred, kernel in levin_captures():

        def score(x: np.ndarray, _s=sharp) -> float:
            return shifted_psnr(x, _s, 3, 10)

        row = {"input": score(blurred), **classical(blurred, kernel, score),
               "pnp": score(nd.deblur(blurred, "pnp", psf=kernel, **DENOISER, **F32)), "image": i}
        rows.append(row)
        print("levin", i, k, {n: round(v, 2) for n, v in row.items()}, flush=True)
    return [_row("Levin real captures (16), true kernel", rows)]


def _row(label: str, rows: list[dict]) -> str:
    mean = {n: float(np.mean([r[n] for r in rows])) for n in ("input", "wiener", "rl", "hl", "pnp")}
    best = [max(r["wiener"], r["rl"]) for r in rows]
    gains = np.array([r["pnp"] - b for r, b in zip(rows, best)])
    per_image = {}
    for r, g in zip(rows, gains):
        per_image.setdefault(r["image"], []).append(g)
    worst_image = min(float(np.mean(v)) for v in per_image.values())
    return (f"| {label} | {mean['input']:.2f} | {mean['wiener']:.2f} | {mean['rl']:.2f} | {mean['hl']:.2f} | "
            f"**{mean['pnp']:.2f}** | **{gains.mean():+.2f}** | {worst_image:+.2f} | {gains.min():+.2f} | "
            f"{int((gains < 0).sum())}/{len(gains)} |")


def microscopy_rows() -> list[str]:
    lines = []
    for label, sharp, blurred, psf, fit in microscopy_cases():
        if "3000" in label:
            continue
        rl = fitted_psnr(sharp, nd.deblur(blurred, "richardson_lucy", psf=psf, **F32), fit)
        cells = []
        for planes in ("xy", "alternate") if psf.ndim == 3 else ("xy",):
            t = time.perf_counter()
            out = nd.deblur(blurred, "pnp", psf=psf, planes=planes, **DENOISER, **F32)
            cells.append(f"pnp {planes}: **{fitted_psnr(sharp, out, fit):.2f}** ({time.perf_counter() - t:.1f} s)")
        line = f"| {label} | {fitted_psnr(sharp, blurred, fit):.2f} | {rl:.2f} | {'; '.join(cells)} |"
        print(line, flush=True)
        lines.append(line)
    return lines


def denoise_rows() -> list[str]:
    rng = np.random.default_rng(0)
    images = [iio.imread(p).astype(np.float32) / 255 for p in sorted((SHARED / "set12").glob("*.png"))]
    given, measured, noisy_psnr = [], [], []
    for level in (15, 25, 50):
        sigma = level / 255
        g, m, n = [], [], []
        for sharp in images:
            noisy = sharp + rng.normal(0, sigma, sharp.shape).astype(np.float32)
            common = {"intensity_range": (0.0, 1.0), **F32}  # unclipped noise: keep the [0, 1] scale as it is
            n.append(_psnr(noisy, sharp))
            g.append(_psnr(nd.deblur(noisy, "denoise", noise=sigma, **DENOISER, **common), sharp))
            m.append(_psnr(nd.deblur(noisy, "denoise", **DENOISER, **common), sharp))
        given.append(np.mean(g))
        measured.append(np.mean(m))
        noisy_psnr.append(np.mean(n))
        print("denoise", level, noisy_psnr[-1], given[-1], measured[-1], flush=True)

    def cells(values) -> str:
        return " | ".join(f"{v:.2f}" for v in values)

    return [f"| noisy input | {cells(noisy_psnr)} |", f"| ours, noise level given | **{cells(given)}** |",
            f"| ours, noise level measured | {cells(measured)} |",
            *(f"| {name} (published) | {cells(v)} |" for name, v in PUBLISHED.items())]


def speed_rows() -> list[str]:
    rng = np.random.default_rng(0)
    kernel = np.load(SHARED / "levin09" / "k03.npy")
    image = blur_protocol(rng.random((1024, 1024)).astype(np.float32), kernel, 0.01, rng)
    truth = tifffile.imread(SHARED / "flowdec_bars25" / "kernel.tif")
    volume = rng.random((64, 256, 256)).astype(np.float32)
    lines = []
    for label, data, psf in (("2D 1024x1024, 19x19 kernel", image, kernel),
                             (f"3D 64x256x256, PSF {'x'.join(map(str, truth.shape))}", volume, truth)):
        cells = []
        for method in ("wiener", "richardson_lucy", "pnp"):
            kw = {**F32, **(DENOISER if method == "pnp" else {})}
            nd.deblur(data[:32] if data.ndim == 3 else data[:256, :256], method, psf=psf, **kw)  # warm-up
            t = time.perf_counter()
            nd.deblur(data, method, psf=psf, **kw)
            cells.append(f"{(time.perf_counter() - t) / (data.size / 1e6):.2f}")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
        print(lines[-1], flush=True)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kernels", type=int, default=8, help="Levin kernels per Set12 image (1..8)")
    parser.add_argument("--parts", default="photos,levin,microscopy,denoise,speed", help="comma-separated parts")
    parser.add_argument("--weights", default="", help="denoiser model (blank: the shipped drunet-small)")
    parser.add_argument("--write", action="store_true", help="write the section into docs/benchmarks.md")
    args = parser.parse_args()
    if args.weights:
        DENOISER["weights"] = args.weights
    parts = args.parts.split(",")
    body = ["## Deconvolution with a learned prior (pnp) and denoising\n",
            "![Blurred | Wiener (best balance) | Richardson-Lucy | pnp | truth, PSNR in each label: a Set12 photo with "
            "Levin kernel 4 and sigma 0.03, a uint16 widefield scene at 50 photons, the flowdec hollow bars (3D, "
            "middle plane)](images/pnp.png)\n",
            "(picture: `python docs/make_pnp_picture.py`)\n",
            "Every method is given the true PSF; pnp at its defaults (8 iterations, noise level measured, the "
            "shipped drunet-small denoiser). *Classical* = the better, per image, of Wiener at the best of five "
            "balances (an oracle) and Richardson-Lucy at its defaults. Gains are pnp minus that.\n",
            f"Machine: {machine()}. Command: `python benchmarks/pnp.py --write`.\n"]
    if "photos" in parts or "levin" in parts:
        body += ["| set | input | Wiener (best balance) | Richardson-Lucy | hyper_laplacian | pnp | gain over "
                 "classical | worst image | worst case | cases worse |", "|---|---|---|---|---|---|---|---|---|---|"]
        body += photo_rows(args.kernels) if "photos" in parts else []
        body += levin_rows() if "levin" in parts else []
        body.append("")
    if "microscopy" in parts:
        body += ["| microscopy case (fitted gain and offset) | input | Richardson-Lucy (defaults) | pnp |",
                 "|---|---|---|---|", *microscopy_rows(), ""]
    if "denoise" in parts:
        body += ["Denoising alone, Set12, PSNR (dB):\n", "| sigma (/255) | 15 | 25 | 50 |", "|---|---|---|---|",
                 *denoise_rows(), ""]
    if "speed" in parts:
        body += ["Seconds per megapixel (voxels for 3D), defaults:\n", "| image | Wiener | Richardson-Lucy | pnp |",
                 "|---|---|---|---|", *speed_rows(), ""]
    text = "\n".join(body)
    print(text)
    if args.write:
        write_section("pnp", text)


if __name__ == "__main__":
    main()
