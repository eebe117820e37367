"""Accelerated Richardson-Lucy (Biggs-Andrews) against plain RL: the PSNR each reaches, and in how many seconds.

The question (issue 16): does the accelerated variant reach plain RL's 30-iteration PSNR in at most half the time?
Unregularized (tv_weight 0), so both converge to the same solution and only the speed of getting there differs.
- 3D: the hollow-bars phantom of ../shared/data/flowdec_bars25 with its PSF, PSNR after a least-squares gain fit
  (the data and the truth have different units);
- 2D: Kodak24 images 1-4 (green channel) x Levin kernels 2 and 6, sigma 0.01 noise, PSNR against the sharp image.
Each time is the best of two runs of the whole set, on an otherwise idle machine.

Run: python benchmarks/rl_acceleration.py [--write]   (about 2 minutes on 2 CPU cores)
"""

from __future__ import annotations

import argparse
import os
import time

import imageio.v3 as iio
import numpy as np
import tifffile

import napari_deblur as nd
from _report import SHARED, blur_protocol, machine, write_section

ITERATIONS = (5, 10, 15, 20, 30)


def _fit_psnr(x: np.ndarray, truth: np.ndarray) -> float:
    x, truth = x.astype(np.float64), truth.astype(np.float64)
    gain = (x * truth).sum() / (x * x).sum()
    return float(10 * np.log10(truth.max() ** 2 / np.mean((gain * x - truth) ** 2)))


def _psnr(x: np.ndarray, sharp: np.ndarray) -> float:
    return float(-10 * np.log10(np.mean((np.clip(x, 0, 1) - sharp) ** 2)))


def _cases() -> dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray, bool]]]:
    """(observed, psf, truth, fit_gain) per data set."""
    folder = SHARED / "flowdec_bars25"
    bars = [(tifffile.imread(folder / "data.tif"), tifffile.imread(folder / "kernel.tif"),
             tifffile.imread(folder / "actual.tif"), True)]
    rng = np.random.default_rng(0)
    photos = []
    for i in range(1, 5):
        sharp = iio.imread(SHARED / "kodak24" / f"kodim{i:02d}.png")[..., 1].astype(np.float32) / 255
        for k in (2, 6):
            kernel = np.load(SHARED / "levin09" / f"k{k:02d}.npy")
            photos.append((blur_protocol(sharp, kernel, 0.01, rng), kernel, sharp, False))  # array-centred blur
    return {"3D hollow bars (32x64x64)": bars, "2D Kodak24 1-4 x Levin 2, 6": photos}


def _run(cases: list, iterations: int, accelerate: bool) -> tuple[float, float]:
    """Mean PSNR and the best of two wall times over ``cases``."""
    times, scores = [], []
    for _ in range(2):
        start, scores = time.perf_counter(), []
        for observed, psf, truth, fit in cases:
            # The photos are blurred with the array-centred kernel (ndimage.convolve): say so, or the result is
            # shifted against the truth; the phantom's PSF is centred by its mass, our default.
            centering = "mass" if fit else "array"
            out = nd.deblur(observed, "richardson_lucy", psf=psf, iterations=iterations, regularize=False,
                            accelerate=accelerate, psf_centering=centering, output_dtype="float32")
            scores.append(_fit_psnr(out, truth) if fit else _psnr(out, truth))
        times.append(time.perf_counter() - start)
    return float(np.mean(scores)), min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help="write the section into docs/benchmarks.md")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    lines = ["| data | iterations | plain RL PSNR | plain s | accelerated PSNR | accelerated s |",
             "|---|---|---|---|---|---|"]
    verdict = []
    for name, cases in _cases().items():
        results = {(it, acc): _run(cases, it, acc) for it in ITERATIONS for acc in (False, True)}
        for it in ITERATIONS:
            (p0, t0), (p1, t1) = results[it, False], results[it, True]
            lines.append(f"| {name} | {it} | {p0:.2f} | {t0:.2f} | {p1:.2f} | {t1:.2f} |")
            print(lines[-1], flush=True)
        target, target_time = results[30, False]
        reached = [(t, it) for (it, acc), (p, t) in results.items() if acc and p >= target - 0.05]
        if reached:
            t, it = min(reached)
            verdict.append(f"- {name}: plain RL's 30-iteration PSNR ({target:.2f} dB, {target_time:.2f} s) is reached "
                           f"accelerated in {it} iterations, {t:.2f} s = {t / target_time:.2f}x the time "
                           f"(target <= 0.5x): **{'PASS' if t <= 0.5 * target_time else 'MISS'}**")
        else:
            best = max(p for (it, acc), (p, t) in results.items() if acc)
            verdict.append(f"- {name}: accelerated RL never reaches plain RL's 30-iteration PSNR ({target:.2f} dB; "
                           f"its best {best:.2f} dB): **MISS**")
    print("\n".join(verdict))
    head = ("## Accelerated Richardson-Lucy (Biggs-Andrews)\n\n"
            "Plain against accelerated RL (`accelerate=True`), unregularized, on the same data; seconds are the best "
            "of two runs of the whole set. `python benchmarks/rl_acceleration.py --write`. "
            f"Machine: {machine()}; load average {load:.1f} on {os.cpu_count()} cores when it started.")
    if args.write:
        write_section("rl-acceleration", "\n".join([head, "", *lines, "", *verdict]))


if __name__ == "__main__":
    main()
