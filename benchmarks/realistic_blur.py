"""Realistic mode (issue 17) on real blur: does a deblurrer fine-tuned on learned blur beat one fine-tuned on
synthetic blur, and is the learned blur closer to real blur than the synthetic one?

Protocol (the issue's):
- Stage 1: the blur generator (bgan small) learns from sharp natural images (scikit-image's photographs and dead
  leaves, as the shipped models) and, unpaired, the *blurred* frames of two of the four GoPro pairs plus the 32
  real camera-shake captures of Levin et al. (their sharp frames are never used).
- Stage 2: the shipped nafnet-small is fine-tuned for the same number of steps twice, on (BGAN(sharp), sharp)
  pairs (75 %, the rest synthetic) and on the synthetic random_mix alone, with the same data stream and settings.
- Scores: PSNR against the sharp frames of the *other* two GoPro pairs, for the shipped model and both
  fine-tuned ones; and how close each kind of blur is to the real blurred frames of those two pairs, as the
  Jensen-Shannon divergence between histograms of horizontal and vertical derivatives (green channel), for the
  GoPro sharp frames blurred by the generator and by the synthetic mixture.

Nothing is copied into the project: the real blurred images are linked from ../shared/data into a temporary folder.
Run: python benchmarks/realistic_blur.py [--bgan-steps 1500] [--finetune-steps 600] [--write]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import imageio.v3 as iio
import numpy as np

import napari_deblur as nd
from _report import SHARED, machine, write_section
from napari_deblur.training import TrainConfig

GOPRO = SHARED / "gopro_frameavg_GOPR0374"
COMMON = {"scenes": "natural", "blur": "random_mix", "patch": 64, "batch": 16, "precision": "bfloat16",
          "workers": 1, "val_size": 8, "seed": 0}
BINS = np.linspace(-0.25, 0.25, 101)


def gopro_pairs() -> list[tuple[Path, Path]]:
    return [(p, p.with_name(p.stem + "_gt.png")) for p in sorted(GOPRO.glob("*.png")) if not p.stem.endswith("_gt")]


def gradient_histogram(images: list[np.ndarray]) -> np.ndarray:
    """Normalized histogram of horizontal and vertical derivatives (images in [0, 1])."""
    values = np.concatenate([np.concatenate([np.diff(x, axis=1).ravel(), np.diff(x, axis=0).ravel()])
                             for x in images])
    hist = np.histogram(np.clip(values, BINS[0], BINS[-1]), BINS)[0].astype(np.float64) + 1e-12
    return hist / hist.sum()


def js_divergence(p: np.ndarray, q: np.ndarray) -> float:
    m = 0.5 * (p + q)
    return float(0.5 * np.sum(p * np.log(p / m)) + 0.5 * np.sum(q * np.log(q / m)))


def psnr(sharp: np.ndarray, x: np.ndarray) -> float:
    return float(-10 * np.log10(np.mean((np.clip(x, 0, 1) - sharp) ** 2)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bgan-steps", type=int, default=1500)
    parser.add_argument("--finetune-steps", type=int, default=600)
    parser.add_argument("--adv-weight", type=float, default=0.02)
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "nd-realistic")
    parser.add_argument("--write", action="store_true", help="write the section into docs/benchmarks.md")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    pairs = gopro_pairs()
    train_pairs, test_pairs = pairs[:2], pairs[2:]
    real = args.out / "real_blurred"
    real.mkdir(parents=True, exist_ok=True)
    for source in [b for b, _ in train_pairs] + sorted((SHARED / "levin09" / "blurry").glob("*.png")):
        link = real / source.name
        if not link.exists():
            link.symlink_to(source)

    start = time.perf_counter()
    bgan = nd.train(TrainConfig(model="bgan", real_blurred=str(real), steps=args.bgan_steps, lr=2e-4,
                                gan_pretrain=0.3, adv_weight=args.adv_weight, val_every=max(args.bgan_steps // 3, 1),
                                checkpoint_every=500, out=str(args.out / "bgan.safetensors"), **COMMON))
    bgan_seconds = time.perf_counter() - start
    tuned = {}
    for name, extra in (("realistic", {"bgan": str(bgan), "bgan_fraction": 0.75}), ("synthetic", {})):
        start = time.perf_counter()
        tuned[name] = nd.train(TrainConfig(model="nafnet", init="nafnet-small", steps=args.finetune_steps, lr=1e-4,
                                           val_every=max(args.finetune_steps // 2, 1), checkpoint_every=500,
                                           out=str(args.out / f"nafnet-{name}.safetensors"), **extra, **COMMON))
        tuned[name + "_seconds"] = time.perf_counter() - start

    models = {"shipped nafnet-small": "nafnet", "fine-tuned, synthetic blur": str(tuned["synthetic"]),
              "fine-tuned, realistic (BGAN) blur": str(tuned["realistic"])}
    lines = ["| pair | input | " + " | ".join(models) + " |", "|---|---|" + "---|" * len(models)]
    scores: dict[str, list[float]] = {name: [] for name in ["input", *models]}
    real_green, bgan_green, synthetic_green = [], [], []
    for blurred_path, sharp_path in test_pairs:
        blurred = iio.imread(blurred_path).astype(np.float32) / 255
        sharp = iio.imread(sharp_path).astype(np.float32) / 255
        scores["input"].append(psnr(sharp, blurred))
        for name, method in models.items():
            scores[name].append(psnr(sharp, nd.deblur(blurred, method, rgb=True, output_dtype="float32")))
        lines.append(f"| {blurred_path.stem} | " + " | ".join(f"{scores[n][-1]:.2f}" for n in scores) + " |")
        print(lines[-1], flush=True)
        green = sharp[..., 1]
        real_green.append(blurred[..., 1])
        bgan_green.append(nd.synthesize_blur(green, "learned", model=str(bgan), seed=0, output_dtype="float32")[0])
        synthetic_green.append(nd.synthesize_blur(green, "random_mix", seed=0, output_dtype="float32")[0])
    means = {n: float(np.mean(v)) for n, v in scores.items()}
    lines.append("| **mean** | " + " | ".join(f"{means[n]:.2f}" for n in scores) + " |")
    target = gradient_histogram(real_green)
    realism = {"sharp frames": js_divergence(gradient_histogram([s[..., 1] for s in (
                   iio.imread(p).astype(np.float32) / 255 for _, p in test_pairs)]), target),
               "synthetic blur (random_mix)": js_divergence(gradient_histogram(synthetic_green), target),
               "learned blur (BGAN)": js_divergence(gradient_histogram(bgan_green), target)}
    realism_lines = ["| blur of the held-out sharp frames | JS divergence to the real blur's derivative histogram |",
                     "|---|---|", *(f"| {k} | {v:.4f} |" for k, v in realism.items())]
    shipped, synthetic, realistic = (means[name] for name in models)
    closer = realism["learned blur (BGAN)"] < realism["synthetic blur (random_mix)"]
    verdict = (f"Realistic fine-tuning {'beats' if realistic > synthetic else 'does not beat'} synthetic fine-tuning "
               f"({realistic:.2f} vs {synthetic:.2f} dB) and is {realistic - shipped:+.2f} dB against the shipped "
               f"model; the learned blur is {'closer to' if closer else 'not closer to'} the real blur than the "
               "synthetic one.")
    print("\n".join([*lines, "", *realism_lines, "", verdict]))
    head = ("## Realistic mode: learned blur against synthetic blur on real blur (issue 17)\n\n"
            f"Blur generator: bgan small, {args.bgan_steps} steps at 64x64, batch 16, adversarial weight "
            f"{args.adv_weight} ({bgan_seconds / 60:.0f} min); fine-tuning: the shipped nafnet-small, "
            f"{args.finetune_steps} steps each, lr 1e-4 ({tuned['realistic_seconds'] / 60:.0f} and "
            f"{tuned['synthetic_seconds'] / 60:.0f} min). Unpaired real blur: the blurred frames of "
            f"{', '.join(b.stem for b, _ in train_pairs)} and the 32 Levin captures; test: the other two pairs "
            f"(PSNR in dB, RGB). `python benchmarks/realistic_blur.py --write`. Machine: {machine()}; load average "
            f"{load:.1f} on {os.cpu_count()} cores when it started.")
    if args.write:
        write_section("realistic-blur", "\n".join([head, "", *lines, "", *realism_lines, "", verdict]))


if __name__ == "__main__":
    main()
