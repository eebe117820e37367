"""Richardson-Lucy as the user gets it: the defaults (iterations and TV weight measured from the noise) beside the
previous fixed defaults (10 iterations, tv_weight 0.02) and Wiener at its best balance (an oracle per image), given
the true PSF, as a user with a measured or synthesized PSF would be.

Cases:
- photos: 4 Kodak24 crops (grey, 256x256) and the 12 Set12 images x Levin kernels 1, 4 and 7, Gaussian noise
  sigma 0, 0.01, 0.03 (the protocol of docs/benchmarks.md, so every method is told ``psf_centering="array"``);
- mild blur: the Kodak crops x a Gaussian of 0.8 px with sigma 0.02 noise, where deconvolution has little to gain
  and much to lose;
- Levin's 16 real captures with their true kernels (scored at the best shift within 3 px, 10 px border);
- microscopy: a 512x512 uint16 fluorescence scene, widefield PSF (NA 1.2, 0.1 um pixels), Poisson noise at
  50, 300 and 3000 photons at the brightest pixel plus a camera offset of 100 (scored with a fitted gain and
  offset, since counts and truth have different units);
- the flowdec bars (3D, its PSF), plane stacks as shipped.

Run: python benchmarks/rl_defaults.py [--write]   (about 10 minutes on 2 CPU cores)
"""

from __future__ import annotations

import argparse
import time

import imageio.v3 as iio
import numpy as np
import tifffile
from scipy import signal

import napari_deblur as nd
from _report import SHARED, blur_protocol, levin_captures, machine, shifted_psnr, write_section
from napari_deblur.synth.psf import widefield_psf
from napari_deblur.synth.scenes import random_scene

BALANCES = (1e-3, 3e-3, 1e-2, 3e-2, 1e-1)
#: The fixed defaults of the previous release, for the side-by-side columns.
OLD_DEFAULTS = {"iterations": 10, "tv_weight": 0.02}
F32 = {"output_dtype": "float32"}


def psnr(truth: np.ndarray, x: np.ndarray, fit: bool) -> float:
    """PSNR against ``truth`` in [0, 1]; with ``fit`` after the least-squares gain and offset of ``x``."""
    x = x.astype(np.float64)
    if fit:
        a, b = np.polyfit(x.ravel(), truth.ravel(), 1)
        x = a * x + b
    return float(-10 * np.log10(np.mean((np.clip(x, 0, 1) - truth) ** 2)))


def _scorer(sharp: np.ndarray, fit: bool = False, shift: int = 0):  # noqa: ANN202 - returns a scoring function
    if shift:
        return lambda x: shifted_psnr(x, sharp, shift, 10)
    return lambda x: psnr(sharp, x, fit)


def photo_cases() -> list[tuple]:
    """(group, score, blurred, psf, method keywords) for the synthetic photo cases."""
    rng = np.random.default_rng(0)
    kodak = [iio.imread(SHARED / "kodak24" / f"kodim{i:02d}.png")[100:356, 200:456, 1] / 255.0 for i in (3, 8, 15, 23)]
    set12 = [iio.imread(p).astype(np.float64) / 255 for p in sorted((SHARED / "set12").glob("*.png"))]
    array = {"psf_centering": "array"}
    cases = []
    for sigma in (0.0, 0.01, 0.03):
        for name, images in (("Kodak", kodak), ("Set12", set12)):
            for k in (1, 4, 7):
                kernel = np.load(SHARED / "levin09" / f"k0{k}.npy")
                for sharp in images:
                    cases.append((f"{name} x Levin, noise {sigma}", _scorer(sharp),
                                  blur_protocol(sharp, kernel, sigma, rng), kernel, array))
    g = np.exp(-0.5 * np.arange(-3, 4) ** 2 / 0.8**2)
    gaussian = np.outer(g, g) / np.outer(g, g).sum()
    for sharp in kodak:
        cases.append(("mild blur (Gaussian 0.8 px, noise 0.02)", _scorer(sharp),
                      blur_protocol(sharp, gaussian, 0.02, rng), gaussian, array))
    return cases


def levin_cases() -> list[tuple]:
    return [("Levin real captures, true kernel", _scorer(sharp, shift=3), blurred, kernel, {})
            for _, _, sharp, blurred, kernel in levin_captures()]


def microscopy_cases() -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray, bool]]:
    """(label, truth, counts, psf, fit): also the pnp benchmark's microscopy rows."""
    rng = np.random.default_rng(1)
    sharp = random_scene((512, 512), "fluorescence", seed=7)
    sharp = sharp / sharp.max()
    psf = widefield_psf(na=1.2, wavelength=0.6, pixel_size=0.1, ndim=2)
    psf = psf / psf.sum()
    blurred = np.clip(signal.fftconvolve(sharp, psf, mode="same"), 0, None)
    cases = []
    for photons in (50, 300, 3000):
        counts = (rng.poisson(blurred * photons) + 100).astype(np.uint16)
        cases.append((f"microscopy uint16, {photons} photons", sharp, counts, psf, True))
    folder = SHARED / "flowdec_bars25"
    truth = tifffile.imread(folder / "actual.tif").astype(np.float64)
    cases.append(("flowdec bars 3D", truth / truth.max(), tifffile.imread(folder / "data.tif"),
                  tifffile.imread(folder / "kernel.tif"), True))
    return cases


def all_cases() -> list[tuple]:
    micro = [(label, _scorer(sharp, fit=True), blurred, psf, {"axes": "ZYX"} if blurred.ndim == 3 else {})
             for label, sharp, blurred, psf, _ in microscopy_cases()]
    return photo_cases() + levin_cases() + micro


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true", help="write the table into docs/benchmarks.md")
    args = parser.parse_args()
    rows: dict[str, list[dict]] = {}
    for group, score, blurred, psf, kw in all_cases():
        kw = {**F32, **kw}
        start = time.perf_counter()
        new = score(nd.deblur(blurred, "richardson_lucy", psf=psf, **kw))
        row = {"input": score(blurred), "new": new, "seconds": time.perf_counter() - start,
               "old": score(nd.deblur(blurred, "richardson_lucy", psf=psf, **OLD_DEFAULTS, **kw)),
               "wiener": max(score(nd.deblur(blurred, "wiener", psf=psf, balance=b, **kw)) for b in BALANCES)}
        rows.setdefault(group, []).append(row)
        print(group, {k: round(v, 2) for k, v in row.items()}, flush=True)
    lines = ["| case | n | input | Wiener, best balance | RL old defaults (10, TV 0.02) | **RL defaults (auto)** | "
             "auto - Wiener | auto - input, worst case | seconds per case (auto) |", "|---" * 9 + "|"]
    for group, rs in rows.items():
        mean = {k: float(np.mean([r[k] for r in rs])) for k in rs[0]}
        worst = min(r["new"] - r["input"] for r in rs)
        lines.append(f"| {group} | {len(rs)} | {mean['input']:.2f} | {mean['wiener']:.2f} | {mean['old']:.2f} | "
                     f"**{mean['new']:.2f}** | {mean['new'] - mean['wiener']:+.2f} | {worst:+.2f} | "
                     f"{mean['seconds']:.2f} |")
        print(lines[-1], flush=True)
    body = ("## Richardson-Lucy defaults\n\n"
            "Mean PSNR (dB) of Richardson-Lucy given the true PSF: its defaults (iterations and TV weight from the "
            "noise measured in each image) beside the previous fixed defaults and Wiener at its best of five balances "
            "(an oracle per image). `python benchmarks/rl_defaults.py --write`. "
            f"Machine: {machine()}.\n\n" + "\n".join(lines))
    if args.write:
        write_section("rl-defaults", body)


if __name__ == "__main__":
    main()
