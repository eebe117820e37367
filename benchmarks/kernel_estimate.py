"""The blur kernel estimated from the blurred image (issue 18, part 3), on Kodak24 x the 8 Levin kernels.

For each blurred image (grey, the green channel; sigma 0.01) three results: (a) the shipped blind network alone,
(b) Wiener deconvolution with the kernel estimated from the image (napari_deblur.psfs.estimate), (c) Wiener with the
true kernel. PSNR of (b) is taken at the best integer shift within +-6 pixels: a blind estimate is only defined up to
a translation, which moves the kernel one way and the image the other. The kernel error is the relative L2
distance to the true kernel after the same best alignment.

Run: python benchmarks/kernel_estimate.py [--images 8] [--write]   (about 3 minutes on 2 CPU cores)
"""

from __future__ import annotations

import argparse
import os
import time

import imageio.v3 as iio
import numpy as np

import napari_deblur as nd
from _report import SHARED, blur_protocol, machine, write_section
from napari_deblur.psfs.estimate import estimate_kernel

SHIFT = 6
#: Wiener as the classical quality table found it best with the true kernel (balance 0.02, docs/benchmarks.md), for
#: (b) and (c) alike; --balance changes both.
WIENER = {"balance": 0.02, "psf_centering": "array"}


def _psnr(x: np.ndarray, sharp: np.ndarray) -> float:
    return float(-10 * np.log10(np.mean((np.clip(x, 0, 1) - sharp) ** 2)))


def _shifted_psnr(x: np.ndarray, sharp: np.ndarray) -> float:
    r = SHIFT
    return max(_psnr(np.roll(x, (dy, dx), (0, 1))[r:-r, r:-r], sharp[r:-r, r:-r])
               for dy in range(-r, r + 1) for dx in range(-r, r + 1))


def _kernel_error(estimate: np.ndarray, truth: np.ndarray) -> float:
    side = max(estimate.shape[0], truth.shape[0]) + 2 * SHIFT
    def pad(k):  # noqa: E306
        out = np.zeros((side, side))
        o = (side - k.shape[0]) // 2, (side - k.shape[1]) // 2
        out[o[0]:o[0] + k.shape[0], o[1]:o[1] + k.shape[1]] = k
        return out
    e, t = pad(estimate), pad(truth)
    best = min(np.linalg.norm(np.roll(e, (dy, dx), (0, 1)) - t) for dy in range(-SHIFT, SHIFT + 1)
               for dx in range(-SHIFT, SHIFT + 1))
    return float(best / np.linalg.norm(t))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=8, help="Kodak24 images used (1..N)")
    parser.add_argument("--balance", type=float, default=WIENER["balance"], help="Wiener balance of (b) and (c)")
    parser.add_argument("--write", action="store_true", help="write the section into docs/benchmarks.md")
    args = parser.parse_args()
    WIENER["balance"] = args.balance
    load = os.getloadavg()[0]
    rng = np.random.default_rng(0)
    rows = {name: [] for name in ("input", "blind", "estimated", "true", "error", "seconds")}
    lines = ["| kernel | input | (a) blind nafnet | (b) estimated kernel + Wiener | (c) true kernel + Wiener | "
             "kernel error |", "|---|---|---|---|---|---|"]
    for k in range(1, 9):
        kernel = np.load(SHARED / "levin09" / f"k{k:02d}.npy")
        per = {name: [] for name in rows}
        for i in range(1, args.images + 1):
            sharp = iio.imread(SHARED / "kodak24" / f"kodim{i:02d}.png")[..., 1].astype(np.float32) / 255
            blurred = blur_protocol(sharp, kernel, 0.01, rng)
            start = time.perf_counter()
            estimate = estimate_kernel(blurred, 31)
            per["seconds"].append(time.perf_counter() - start)
            per["input"].append(_psnr(blurred, sharp))
            per["blind"].append(_psnr(nd.deblur(blurred, "nafnet", output_dtype="float32"), sharp))
            per["estimated"].append(_shifted_psnr(nd.deblur(blurred, "wiener", psf=estimate, **WIENER), sharp))
            per["true"].append(_psnr(nd.deblur(blurred, "wiener", psf=kernel, **WIENER), sharp))
            per["error"].append(_kernel_error(estimate, kernel))
        means = {name: float(np.mean(v)) for name, v in per.items()}
        for name in rows:
            rows[name] += per[name]
        lines.append(f"| {k} ({kernel.shape[0]}x{kernel.shape[1]}) | {means['input']:.2f} | {means['blind']:.2f} | "
                     f"{means['estimated']:.2f} | {means['true']:.2f} | {means['error']:.2f} |")
        print(lines[-1], flush=True)
    m = {name: float(np.mean(v)) for name, v in rows.items()}
    lines.append(f"| **mean** | {m['input']:.2f} | {m['blind']:.2f} | {m['estimated']:.2f} | {m['true']:.2f} | "
                 f"{m['error']:.2f} |")
    verdict = (f"(b) {'beats' if m['estimated'] > m['blind'] else 'does not beat'} (a) by "
               f"{m['estimated'] - m['blind']:+.2f} dB; estimating a kernel took {m['seconds']:.1f} s per "
               f"768x512 image.")
    print(lines[-1], verdict, sep="\n")
    head = ("## Kernel estimated from the blurred image\n\n"
            f"Kodak24 images 1-{args.images} (green channel) x Levin kernels 1-8, sigma 0.01; PSNR in dB, mean per "
            "kernel; (b) at the best shift within +-6 pixels; kernel error = relative L2 distance to the true kernel, "
            f"aligned; Wiener balance {args.balance} for (b) and (c). `python benchmarks/kernel_estimate.py --write`. "
            f"Machine: {machine()}; load average {load:.1f} on {os.cpu_count()} cores when it started.")
    if args.write:
        write_section("kernel-estimate", "\n".join([head, "", *lines, "", verdict]))


if __name__ == "__main__":
    main()
