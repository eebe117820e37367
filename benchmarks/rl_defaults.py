"""Richardson-Lucy defaults: which (iterations, tv_weight) improve typical noisy photos and microscopy data at
every noise level, never making them worse. The chosen default must gain on every case in the table.

Cases (given the true PSF, as a user with a measured or synthesized PSF would):
- photos: 4 Kodak24 crops (grey, 256x256) x Levin kernels 1, 4 and 7, Gaussian noise sigma 0, 0.01, 0.03;
- microscopy: a 512x512 uint16 fluorescence scene, widefield PSF (NA 1.2, 0.1 um pixels), Poisson noise at
  50, 300 and 3000 photons at the brightest pixel plus a camera offset of 100 (scored with a fitted gain and
  offset, since counts and truth have different units);
- the flowdec bars (3D, its PSF), plane stacks as shipped.

Run: python benchmarks/rl_defaults.py [--write]   (about 5 minutes on 2 CPU cores)
"""

from __future__ import annotations

import argparse
import itertools

import imageio.v3 as iio
import numpy as np
import tifffile
from scipy import signal

import napari_deblur as nd
from _report import SHARED, blur_protocol, machine, write_section
from napari_deblur.synth.psf import widefield_psf
from napari_deblur.synth.scenes import random_scene

ITERATIONS = (5, 10, 20, 30, 50)
TV_WEIGHTS = (0.0, 0.002, 0.005, 0.01, 0.02, 0.05)


def psnr(truth: np.ndarray, x: np.ndarray, fit: bool) -> float:
    """PSNR against ``truth`` in [0, 1]; with ``fit`` after the least-squares gain and offset of ``x``."""
    x = x.astype(np.float64)
    if fit:
        a, b = np.polyfit(x.ravel(), truth.ravel(), 1)
        x = a * x + b
    return float(-10 * np.log10(np.mean((np.clip(x, 0, 1) - truth) ** 2)))


def photo_cases() -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray, bool]]:
    rng = np.random.default_rng(0)
    crops = [iio.imread(SHARED / "kodak24" / f"kodim{i:02d}.png")[100:356, 200:456, 1] / 255.0 for i in (3, 8, 15, 23)]
    cases = []
    for sigma in (0.0, 0.01, 0.03):
        for k in (1, 4, 7):
            kernel = np.load(SHARED / "levin09" / f"k0{k}.npy")
            for sharp in crops:
                cases.append((f"photo, noise {sigma}", sharp, blur_protocol(sharp, kernel, sigma, rng), kernel, False))
    return cases


def microscopy_cases() -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray, bool]]:
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help="write the table into docs/benchmarks.md")
    args = parser.parse_args()
    cases = photo_cases() + microscopy_cases()
    groups = list(dict.fromkeys(label for label, *_ in cases))
    settings = list(itertools.product(ITERATIONS, TV_WEIGHTS))
    gains = {s: {g: [] for g in groups} for s in settings}
    for label, sharp, blurred, psf, fit in cases:
        base = psnr(sharp, blurred, fit)
        for iterations, tv in settings:
            out = nd.deblur(blurred, "richardson_lucy", psf=psf, iterations=iterations, tv_weight=tv,
                            output_dtype="float32")
            gains[(iterations, tv)][label].append(psnr(sharp, out, fit) - base)
    means = {s: {g: float(np.mean(v)) for g, v in per.items()} for s, per in gains.items()}
    head = "| iterations | tv_weight | " + " | ".join(groups) + " | worst | mean |"
    lines = [head, "|---|---|" + "---|" * (len(groups) + 2)]
    ranked = sorted(settings, key=lambda s: -min(means[s].values()))
    for s in ranked:
        row = means[s]
        lines.append(f"| {s[0]} | {s[1]} | " + " | ".join(f"{row[g]:+.2f}" for g in groups)
                     + f" | **{min(row.values()):+.2f}** | {np.mean(list(row.values())):+.2f} |")
        print(lines[-1], flush=True)
    body = ("## Richardson-Lucy defaults\n\n"
            "Mean PSNR gain (dB) of Richardson-Lucy given the true PSF, per case and noise level, for each "
            "(iterations, tv_weight); sorted by the worst case. The default is the setting whose worst case is "
            f"best. Machine: {machine()}.\n\n" + "\n".join(lines))
    if args.write:
        write_section("rl-defaults", body)


if __name__ == "__main__":
    main()
