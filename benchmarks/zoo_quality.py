"""Quality and speed of the shipped models (blind) beside the classical anchors given the true kernel.

Targets of the first weights issue, each a section of docs/benchmarks.md:
1. Kodak24 x the 8 Levin kernels, sigma 0.01, colour (the protocol): each family's general model >= +3.0 dB;
   the goal beyond it is our non-blind Wiener with the true kernel.
2. Set12 x the 8 Levin kernels, grey: >= +3.0 dB.
3. Real motion blur, the 4 GoPro pairs: >= +1.0 dB, never below the input on any pair.
4. Sharp stays sharp: unblurred Kodak24 + sigma 0.01 noise loses at most 0.3 dB.
5. Microscopy: flowdec_bars25 plane by plane with the microscopy model >= +1.5 dB over the data (gain fit), beside
   3D Richardson-Lucy with the PSF.
6. Seconds per megapixel of each shipped model beside the classical methods, on one 1024x1024 image.

The scores are also written into each shipped model's card (``scores``), so the file carries them.
Run: python benchmarks/zoo_quality.py [--images 24] [--no-card]   (about 30 minutes on 2 CPU cores)
"""

from __future__ import annotations

import argparse
import json
import os
import time

import imageio.v3 as iio
import numpy as np
import tifffile
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

import napari_deblur as nd
from _report import ROOT, SHARED, blur_protocol, machine, write_section

MICROSCOPY = "nafnet-small-microscopy"
WIENER = ("wiener", {"balance": 0.02})
RL = ("richardson_lucy", {"iterations": 30, "tv_weight": 0.002})


def score(sharp: np.ndarray, x: np.ndarray) -> tuple[float, float]:
    x = np.clip(x, 0, 1)
    channel_axis = -1 if sharp.ndim == 3 else None
    return (peak_signal_noise_ratio(sharp, x, data_range=1.0),
            structural_similarity(sharp, x, data_range=1.0, channel_axis=channel_axis))


def _kernels() -> list[np.ndarray]:
    return [np.load(SHARED / "levin09" / f"k0{i}.npy") for i in range(1, 9)]


def _table(rows: list[tuple[str, float, float, float]], input_psnr: float) -> list[str]:
    lines = ["| method | PSNR (dB) | gain (dB) | SSIM | s / image |", "|---|---|---|---|---|"]
    lines += [f"| {label} | {p:.2f} | {p - input_psnr:+.2f} | {s:.3f} | {t:.2f} |" for label, p, s, t in rows]
    return lines


def synthetic(images: list[np.ndarray], rgb: bool, models: list[str]) -> tuple[list[str], dict[str, float]]:
    """Blurred input, Wiener/RL with the true kernel, and each model blind, over images x Levin kernels."""
    rng = np.random.default_rng(0)
    pairs = [(im, blur_protocol(im, k, 0.01, rng), k) for im in images for k in _kernels()]
    methods = [("blurred input", lambda b, k: b)]
    for name, params in (WIENER, RL):
        label = f"{name}, true kernel (non-blind)"
        methods.append((label, lambda b, k, n=name, p=params: nd.deblur(b, n, psf=k, rgb=rgb or None,
                                                                        psf_centering="array", **p)))
    methods += [(f"{m} (blind)", lambda b, k, m=m: nd.deblur(b, m, rgb=rgb or None)) for m in models]
    rows, means = [], {}
    for label, fn in methods:
        start = time.perf_counter()
        scores = np.array([score(im, fn(b, k)) for im, b, k in pairs])
        seconds = (time.perf_counter() - start) / len(pairs)
        psnr, ssim = scores.mean(axis=0)
        rows.append((label, psnr, ssim, seconds))
        means[label] = float(psnr)
        print(f"{label:<45} {psnr:6.2f} dB  SSIM {ssim:.3f}  {seconds:.2f} s/image", flush=True)
    return _table(rows, rows[0][1]), means


def gopro(models: list[str]) -> tuple[list[str], dict[str, float], bool]:
    folder = SHARED / "gopro_frameavg_GOPR0374"
    pairs = [(p, p.with_name(p.stem + "_gt.png")) for p in sorted(folder.glob("*.png")) if not p.stem.endswith("_gt")]
    lines = ["| pair | input PSNR | " + " | ".join(f"{m} PSNR" for m in models) + " |",
             "|---|---|" + "---|" * len(models)]
    totals = {m: [] for m in ["input", *models]}
    never_worse = True
    for blurred_path, sharp_path in pairs:
        blurred = iio.imread(blurred_path).astype(np.float32) / 255
        sharp = iio.imread(sharp_path).astype(np.float32) / 255
        base = score(sharp, blurred)[0]
        totals["input"].append(base)
        cells = []
        for m in models:
            p = score(sharp, nd.deblur(blurred, m, rgb=True))[0]
            totals[m].append(p)
            never_worse &= p >= base
            cells.append(f"{p:.2f} ({p - base:+.2f})")
        lines.append(f"| {blurred_path.stem} | {base:.2f} | " + " | ".join(cells) + " |")
        print(lines[-1], flush=True)
    means = {k: float(np.mean(v)) for k, v in totals.items()}
    lines.append("| **mean** | " + f"{means['input']:.2f} | " +
                 " | ".join(f"{means[m]:.2f} ({means[m] - means['input']:+.2f})" for m in models) + " |")
    return lines, means, never_worse


def sharp_stays_sharp(images: list[np.ndarray], models: list[str]) -> tuple[list[str], dict[str, float]]:
    rng = np.random.default_rng(1)
    noisy = [np.clip(im + rng.normal(0, 0.01, im.shape), 0, 1).astype(np.float32) for im in images]
    base = float(np.mean([score(im, n)[0] for im, n in zip(images, noisy)]))
    lines = ["| method | PSNR (dB) | change (dB) |", "|---|---|---|", f"| noisy sharp input | {base:.2f} | - |"]
    changes = {}
    for m in models:
        p = float(np.mean([score(im, nd.deblur(n, m, rgb=True))[0] for im, n in zip(images, noisy)]))
        changes[m] = p - base
        lines.append(f"| {m} | {p:.2f} | {p - base:+.2f} |")
        print(lines[-1], flush=True)
    return lines, changes


def microscopy(model: str | None) -> tuple[list[str], dict[str, float]]:
    folder = SHARED / "flowdec_bars25"
    data = tifffile.imread(folder / "data.tif")
    truth = tifffile.imread(folder / "actual.tif").astype(np.float64)
    psf = tifffile.imread(folder / "kernel.tif")

    def psnr(x: np.ndarray) -> float:  # one least-squares gain, since data and truth have different units
        x = x.astype(np.float64)
        return float(peak_signal_noise_ratio(truth, x * (x * truth).sum() / (x * x).sum(), data_range=truth.max()))

    rows = [("blurred data", psnr(data))]
    rows.append(("richardson_lucy 3D with the PSF (50 it)",
                 psnr(nd.deblur(data, "richardson_lucy", psf=psf, iterations=50, output_dtype="float32"))))
    if model:
        out = nd.deblur(data, model, axes="ZYX", output_dtype="float32")
        rows.append((f"{model}, blind, plane by plane", psnr(out)))
    lines = ["| method | PSNR (dB) | gain (dB) |", "|---|---|---|"]
    lines += [f"| {label} | {p:.2f} | {p - rows[0][1]:+.2f} |" for label, p in rows]
    for line in lines[2:]:
        print(line, flush=True)
    return lines, {label: p - rows[0][1] for label, p in rows}


def speed(models: list[str]) -> tuple[list[str], dict[str, float]]:
    image = np.clip(iio.imread(SHARED / "kodak24" / "kodim01.png")[..., 1].astype(np.float32) / 255, 0, 1)
    image = np.tile(image, (3, 3))[:1024, :1024]
    kernel = _kernels()[0]
    cases = [("wiener (with PSF)", "wiener", {"psf": kernel}),
             ("richardson_lucy 30 it (with PSF)", "richardson_lucy", {"psf": kernel, "iterations": 30}),
             *[(f"{m} (blind)", m, {}) for m in models]]
    lines = ["| method | s / MP (1024x1024 grey) |", "|---|---|"]
    per_method = {}
    for label, method, kwargs in cases:
        nd.deblur(image[:256, :256], method, **kwargs)  # warm-up: weights loaded, kernels compiled
        start = time.perf_counter()
        nd.deblur(image, method, **kwargs)
        per_method[method] = (time.perf_counter() - start) / (image.size / 1e6)
        lines.append(f"| {label} | {per_method[method]:.2f} |")
        print(lines[-1], flush=True)
    return lines, per_method


def _write_cards(scores: dict[str, dict]) -> None:
    """Put each model's scores on its card in weights/ (tensors unchanged)."""
    from safetensors.torch import load_file, save_file

    from napari_deblur.zoo.weights import read_card

    for name, values in scores.items():
        path = ROOT / "weights" / f"{name}.safetensors"
        if not path.is_file():
            continue
        card = {**read_card(path), "scores": values}
        tmp = path.with_name(f".{path.name}.tmp")
        save_file(load_file(str(path)), str(tmp), metadata={"card": json.dumps(card, default=str)})
        os.chmod(tmp, 0o644)
        tmp.replace(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=24, help="Kodak24 images used (1..N)")
    parser.add_argument("--no-card", action="store_true", help="do not write the scores into the model cards")
    parser.add_argument("--skip-speed", action="store_true", help="no speed table (e.g. while training runs)")
    args = parser.parse_args()
    shipped = {p.stem for p in (ROOT / "weights").glob("*.safetensors")}
    # Every family with a shipped general model (<family>-small), run blind under the family's name.
    general = [family for family in sorted(nd.zoo.FAMILIES) if f"{family}-small" in shipped]
    micro = MICROSCOPY if MICROSCOPY in shipped else None
    load = os.getloadavg()[0]
    kodak = [iio.imread(SHARED / "kodak24" / f"kodim{i:02d}.png").astype(np.float32) / 255
             for i in range(1, args.images + 1)]
    set12 = [iio.imread(p).astype(np.float32) / 255 for p in sorted((SHARED / "set12").glob("*.png"))]
    head = f"Machine: {machine()}; load average {load:.1f} on {os.cpu_count()} cores when it started."

    kodak_lines, kodak_means = synthetic(kodak, True, general)
    set12_lines, set12_means = synthetic(set12, False, general)
    gopro_lines, gopro_means, never_worse = gopro(general)
    sharp_lines, sharp_changes = sharp_stays_sharp(kodak, general)
    micro_lines, micro_gains = microscopy(micro)
    speed_lines, seconds_per_mp = ([], {}) if args.skip_speed else speed(general + ([micro] if micro else []))

    def gain(means: dict[str, float], m: str) -> float:
        return means[f"{m} (blind)"] - means["blurred input"]

    verdict = []
    for m in general:
        wiener_gap = kodak_means[f"{m} (blind)"] - kodak_means[f"{WIENER[0]}, true kernel (non-blind)"]
        checks = [(f"Kodak24 x Levin gain {gain(kodak_means, m):+.2f} dB (target >= +3.0; gap to non-blind Wiener "
                   f"{wiener_gap:+.2f} dB)", gain(kodak_means, m) >= 3.0),
                  (f"Set12 x Levin gain {gain(set12_means, m):+.2f} dB (target >= +3.0)", gain(set12_means, m) >= 3.0),
                  (f"GoPro gain {gopro_means[m] - gopro_means['input']:+.2f} dB (target >= +1.0), never below the "
                   f"input: {never_worse}", gopro_means[m] - gopro_means["input"] >= 1.0 and never_worse),
                  (f"sharp stays sharp {sharp_changes[m]:+.2f} dB (target >= -0.3)", sharp_changes[m] >= -0.3)]
        verdict += [f"- {m}: {text}: **{'PASS' if ok else 'MISS'}**" for text, ok in checks]
    if micro:
        g = micro_gains[f"{micro}, blind, plane by plane"]
        ok = "PASS" if g >= 1.5 else "MISS"
        verdict.append(f"- {micro}: flowdec_bars25 gain {g:+.2f} dB (target >= +1.5): **{ok}**")
    print("\n".join(verdict))
    n = len(kodak)
    write_section("zoo-quality", "\n".join([
        f"### Kodak24 (images 1-{n}) x Levin kernels 1-8, sigma 0.01, colour\n", head, "", *kodak_lines, "",
        "### Set12 x Levin kernels 1-8, sigma 0.01, grey\n", *set12_lines, "",
        "### Real motion blur: GoPro frame-averaged pairs (GOPR0374)\n", *gopro_lines, "",
        f"### Sharp stays sharp: Kodak24 (1-{n}) unblurred, sigma 0.01 noise\n", *sharp_lines, "",
        "### Microscopy: flowdec hollow bars (32x64x64), PSNR after a gain fit\n", *micro_lines, "",
        *(["### Speed: seconds per megapixel\n", *speed_lines, ""] if speed_lines else []),
        "### Targets\n", *verdict]))
    if not args.no_card:
        cards = {f"{m}-small": {"kodak24_levin_gain_db": round(gain(kodak_means, m), 2),
                                "set12_levin_gain_db": round(gain(set12_means, m), 2),
                                "gopro_gain_db": round(gopro_means[m] - gopro_means["input"], 2),
                                "sharp_input_change_db": round(sharp_changes[m], 2)} for m in general}
        if micro:
            cards[micro] = {"flowdec_bars25_gain_db": round(micro_gains[f"{micro}, blind, plane by plane"], 2)}
        # Speed goes on the card of the file each method ran (a family's name runs its <family>-small); the
        # classical anchors have no card.
        for card_name, method in [*((f"{m}-small", m) for m in general), *([(micro, micro)] if micro else [])]:
            if method in seconds_per_mp:
                cards[card_name]["seconds_per_mp"] = round(seconds_per_mp[method], 2)
        _write_cards(cards)


if __name__ == "__main__":
    main()
