"""Blind deblurring through the image's own kernel (issue 26): the estimate beside the true kernel and the networks.

Sets: Levin et al.'s 16 real captures (rot180 kernels, scored up to a shift as their PROVENANCE says); Kodak24 in
colour x the 8 Levin kernels (sigma 0.01, the protocol); large camera-shake kernels 41-75 px on Kodak (grey); the
GoPro frame-average pairs (real, non-uniform blur); sharp noisy Kodak images (sharp must stay sharp). Each blurred
image is deblurred by the blind default (kernel estimated, then ``hyper_laplacian``), by the same final step with
the true kernel, and by the blind NAFNet. PSNR is taken at the best whole-pixel shift within +-8 px (a blind kernel
is known up to a shift) on the image less a border; kernel error = relative L2 distance to the truth, aligned.
Speed: seconds per megapixel of the estimate (31 and 75 px) and of the deconvolution, on a 1-MP image.

Run: python benchmarks/kernel_estimate.py [--images 4] [--write]   (about 15 minutes on 2 CPU cores)
"""

from __future__ import annotations

import argparse
import os
import time

import imageio.v3 as iio
import numpy as np
from skimage.transform import resize

import napari_deblur as nd
from _report import SHARED, blur_protocol, levin_captures, machine, shifted_psnr, write_section
from napari_deblur.psfs.estimate.compare import kernel_error

SHIFT, BORDER = 8, 10
FINAL = "hyper_laplacian"


def _psnr(x: np.ndarray, sharp: np.ndarray) -> float:
    return shifted_psnr(x, sharp, SHIFT, BORDER)


def _green(x: np.ndarray) -> np.ndarray:
    """Colour results are scored on their green channel (grey ones as they are)."""
    return x[..., 1] if x.ndim == 3 else x


def _score(blurred, sharp, true, size, nafnet=True) -> dict[str, float]:
    start = time.perf_counter()
    kernel = nd.estimate_kernel(blurred, size)
    seconds = time.perf_counter() - start
    f32 = {"output_dtype": "float32"}

    def score(x):  # noqa: E306
        return _psnr(_green(x), sharp)

    row = {"input": _psnr(_green(blurred), sharp), "estimated": score(nd.deblur(blurred, FINAL, psf=kernel, **f32)),
           "seconds": seconds}
    row["rejected"] = float(kernel.size == 1)  # judged unblurred: the image is returned as it is
    if true is not None:
        row["true"] = score(nd.deblur(blurred, FINAL, psf=true, psf_centering="array", **f32))
        if kernel.size > 1:
            row["error"] = kernel_error(kernel, true)
    if nafnet:
        row["nafnet"] = score(nd.deblur(blurred, "nafnet", **f32))
    return row


def _table(title: str, rows: list[dict[str, float]], published: str = "") -> list[str]:
    keys = {k for r in rows for k in r}
    m = {k: float(np.mean([r[k] for r in rows if k in r])) for k in keys if any(k in r for r in rows)}
    cells = [f"{m['input']:.2f}", f"{m['estimated']:.2f} ({m['estimated'] - m['input']:+.2f})"]
    cells.append(f"{m['true']:.2f} ({m['true'] - m['input']:+.2f})" if "true" in m else "-")
    cells.append(f"{m['true'] - m['estimated']:.2f}" if "true" in m else "-")
    cells.append(f"{m['nafnet']:.2f}" if "nafnet" in m else "-")
    cells.append(f"{m['error']:.2f}" if "error" in m else "-")
    worst = min(r["estimated"] - r["input"] for r in rows)
    rejected = int(sum(r.get("rejected", 0) for r in rows))
    return [f"| {title} ({len(rows)}) | " + " | ".join(cells) + f" | {worst:+.2f} | {rejected} | {m['seconds']:.1f} |"
            + (f" {published} |" if published else " |")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=4, help="Kodak24 images used per set (1..N)")
    parser.add_argument("--write", action="store_true", help="write the section into docs/benchmarks.md")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    rng = np.random.default_rng(0)
    lines = ["| set (images) | input | blind default: estimated kernel + hyper-Laplacian | true kernel + "
             "hyper-Laplacian | gap to true | blind nafnet | kernel error | worst gain | judged sharp | s to estimate "
             "| published |", "|---|---|---|---|---|---|---|---|---|---|---|"]

    levin = []
    for i, k, sharp, blurred, true in levin_captures():
        levin.append(_score(blurred, sharp, true, 31))
        print("levin", i, k, {n: round(v, 2) for n, v in levin[-1].items()}, flush=True)
    lines += _table("Levin real captures, grey", levin, "true kernel 34.53 (Levin's deconvolution), Pan 2016 "
                    "32.69, Sun 2013 32.99, Xu & Jia 2010 31.67, Cho & Lee 2009 30.57 (32 images)")

    colour = []
    for i in range(1, args.images + 1):
        sharp = iio.imread(SHARED / "kodak24" / f"kodim{i:02d}.png").astype(np.float32) / 255
        for k in range(1, 9):
            true = np.load(SHARED / "levin09" / f"k{k:02d}.npy")
            blurred = blur_protocol(sharp, true, 0.01, rng)
            row = _score(blurred, sharp[..., 1], true, 31, nafnet=False)  # scored on the green channel
            colour.append(row)
            print("kodak colour", i, k, {n: round(v, 2) for n, v in row.items()}, flush=True)
    # Colour in, colour out: the estimate reads the luminance; PSNR of the green channel of each result.
    lines += _table("Kodak24 colour x Levin kernels, sigma 0.01", colour)

    large = []
    for i in range(1, args.images + 1):
        sharp = iio.imread(SHARED / "kodak24" / f"kodim{i:02d}.png")[..., 1].astype(np.float32) / 255
        for j, side in enumerate((41, 55, 65, 75)):
            true = nd.make_kernel("camera_shake", seed=100 * i + j, size=side, length=0.8 * side)
            blurred = blur_protocol(sharp, true, 0.01, rng)
            large.append(_score(blurred, sharp, true, 75, nafnet=False))
            print("large", i, side, {n: round(v, 2) for n, v in large[-1].items()}, flush=True)
    lines += _table("camera shake 41-75 px, Kodak grey, sigma 0.01", large, "")

    sharp_rows = []
    for i in range(1, args.images + 1):
        sharp = iio.imread(SHARED / "kodak24" / f"kodim{i:02d}.png")[..., 1].astype(np.float32) / 255
        noisy = np.clip(sharp + rng.normal(0, 0.01, sharp.shape), 0, 1).astype(np.float32)
        start = time.perf_counter()
        kernel = nd.estimate_kernel(noisy, 31)
        sharp_rows.append({"input": _psnr(noisy, sharp), "estimated": _psnr(nd.deblur(noisy), sharp),
                           "seconds": time.perf_counter() - start, "rejected": float(kernel.size == 1)})
        print("sharp", i, kernel.shape, {n: round(v, 2) for n, v in sharp_rows[-1].items()}, flush=True)
    lines += _table("sharp Kodak grey + noise 0.01 (sharp stays sharp)", sharp_rows)

    gopro = []
    folder = SHARED / "gopro_frameavg_GOPR0374"
    for path in sorted(folder.glob("*_avg-*[0-9].png")):
        blurred = iio.imread(path).astype(np.float32) / 255
        sharp = iio.imread(path.with_name(path.stem + "_gt.png")).astype(np.float32) / 255
        gopro.append(_score(blurred, sharp[..., 1], None, 31))
        print("gopro", path.name, {n: round(v, 2) for n, v in gopro[-1].items()}, flush=True)
    lines += _table("GoPro frame averages (real, non-uniform), green channel", gopro)
    windowed = []  # the same frames with a kernel per overlapping quarter (kernel_grid=2)
    for row, path in zip(gopro, sorted(folder.glob("*_avg-*[0-9].png"))):
        blurred = iio.imread(path).astype(np.float32) / 255
        sharp = iio.imread(path.with_name(path.stem + "_gt.png")).astype(np.float32) / 255
        start = time.perf_counter()
        out = nd.deblur(blurred, kernel_grid=2, output_dtype="float32")
        windowed.append({"input": row["input"], "estimated": _psnr(out[..., 1], sharp[..., 1]), "nafnet": row["nafnet"],
                         "seconds": time.perf_counter() - start})
        print("gopro windows", path.name, {n: round(v, 2) for n, v in windowed[-1].items()}, flush=True)
    lines += _table("GoPro, a kernel per window (kernel_grid=2; seconds include the deconvolution)", windowed)

    # Speed on a 1-MP grey image (Kodak 1 upsampled), beside the deconvolution it feeds.
    big = resize(iio.imread(SHARED / "kodak24" / "kodim01.png")[..., 1] / 255, (1024, 1024)).astype(np.float32)
    speed = []
    for side in (31, 75):
        true = nd.make_kernel("camera_shake", seed=7, size=side, length=0.8 * side)
        blurred = blur_protocol(big, true, 0.01, rng)
        start = time.perf_counter()
        kernel = nd.estimate_kernel(blurred, side)
        estimate = time.perf_counter() - start
        start = time.perf_counter()
        nd.deblur(blurred, FINAL, psf=kernel)
        final = time.perf_counter() - start
        speed.append(f"| {side} px (default {side == 31}) | {estimate:.2f} | {final:.2f} |")
        print(speed[-1], flush=True)

    head = ("## Blind deblurring: the kernel estimated from the image (issue 26)\n\n"
            f"`python benchmarks/kernel_estimate.py --images {args.images} --write`. Kernel estimated by "
            "`napari_deblur.estimate_kernel` (L0 latent image, non-negative least-squares kernel on gradients, sqrt(2) "
            "pyramid), then `hyper_laplacian` with its automatic weight: the blind default of `deblur()` without a "
            "PSF. "
            f"PSNR in dB (input and outputs alike) at the best shift within +-{SHIFT} px, {BORDER}-px border left "
            "out; kernel size 31 (75 for "
            "the large kernels); kernel error = relative L2 distance to the true kernel, aligned. 'worst gain' is the "
            "smallest per-image gain of the blind default; 'judged sharp': images whose estimate did not explain the "
            "image better than no blur, returned as they are (kernel error is over the others). "
            f"Machine: {machine()}; load average {load:.1f} on {os.cpu_count()} cores when it started.")
    speed_head = ["", "Speed on a 1024x1024 grey image (seconds per megapixel, this CPU):", "",
                  "| largest kernel | estimate the kernel | hyper-Laplacian deconvolution |", "|---|---|---|", *speed]
    body = "\n".join([head, "", *lines, *speed_head])
    print(body)
    if args.write:
        write_section("kernel-estimate", body)


if __name__ == "__main__":
    main()
