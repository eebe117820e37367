"""Training speed on the CPU by execution path: float32, bf16 autocast, channels-last, torch.compile, and patch
size. Samples per second of the training step (forward, the multi-scale pixel + FFT objective of
``napari-deblur train``, backward, AdamW), timed after warm-up, with ready-made batches.

Run: python benchmarks/train_paths.py [--write]             NAFNet small, every path (about 5 minutes)
     python benchmarks/train_paths.py --families srn ... [--write]
                                      the paths that matter for planning a recipe, per family (GANs: the pixel
                                      pretraining step, without the discriminator)
"""

from __future__ import annotations

import argparse
import contextlib
import os
import time

import torch

from _report import machine, write_section


def rate(patch: int, batch: int, bf16: bool, channels_last: bool, compile_: bool, steps: int = 8,
         family: str = "nafnet") -> float:
    from napari_deblur.training import TrainConfig
    from napari_deblur.training.module import RestorationModule

    torch.manual_seed(0)
    module = RestorationModule(TrainConfig(model=family, size="small", patch=patch, scenes="dead_leaves"))
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    module = module.to(memory_format=fmt)
    opt = torch.optim.AdamW(module.net.parameters(), lr=1e-4)
    x = torch.rand(batch, 1, patch, patch).contiguous(memory_format=fmt)
    y = torch.rand(batch, 1, patch, patch).contiguous(memory_format=fmt)
    objective = torch.compile(module.objective) if compile_ else module.objective

    def step() -> None:
        ctx = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
        with ctx:
            loss, _ = objective(x, y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    for _ in range(3):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return steps * batch / (time.perf_counter() - start)


#: (label, patch, batch, bf16, channels_last, compile): every path for NAFNet, the planning paths per family.
NAFNET_PATHS = [
    ("float32", 128, 8, False, False, False),
    ("float32, channels-last", 128, 8, False, True, False),
    ("bf16 autocast", 128, 8, True, False, False),
    ("bf16 autocast, channels-last", 128, 8, True, True, False),
    ("float32, torch.compile", 128, 8, False, False, True),
    ("float32, 64x64 patches (batch 32)", 64, 32, False, False, False),
    ("bf16 channels-last, 64x64 patches (batch 32)", 64, 32, True, True, False),
]
PLANNING_PATHS = [
    ("float32", 128, 8, False, False, False),
    ("bf16 channels-last", 128, 8, True, True, False),
    ("bf16 channels-last", 64, 32, True, True, False),
    ("float32, torch.compile", 64, 32, False, False, True),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help="write the table into docs/benchmarks.md")
    parser.add_argument("--families", nargs="+", help="compare these families on the planning paths")
    args = parser.parse_args()
    families, paths = (args.families, PLANNING_PATHS) if args.families else (["nafnet"], NAFNET_PATHS)
    load = os.getloadavg()[0]
    lines = ["| family | path | patch | batch | samples/s | pixels/s (M) |", "|---|---|---|---|---|---|"]
    for family in families:
        for label, patch, batch, bf16, cl, comp in paths:
            try:
                r = rate(patch, batch, bf16, cl, comp, family=family)
            except Exception as exc:  # noqa: BLE001 - a path that fails is a row of the table, not the end of it
                lines.append(f"| {family} | {label} | {patch} | {batch} | failed: {type(exc).__name__} | |")
            else:
                lines.append(f"| {family} | {label} | {patch} | {batch} | {r:.1f} | {r * patch * patch / 1e6:.2f} |")
            print(lines[-1], flush=True)
    what = "each family's small size" if args.families else "NAFNet small"
    head = (f"## Speed: training paths on the CPU ({', '.join(families)})\n\n"
            f"One training step of {what} (forward, multi-scale Charbonnier + FFT loss, backward, AdamW; a GAN "
            "without its discriminator) on ready-made batches, after 3 warm-up steps: it decides each recipe's patch "
            f"and precision. Machine: {machine()}; load average {load:.1f} on {os.cpu_count()} cores when it started. "
            f"`python benchmarks/train_paths.py{' --families ' + ' '.join(families) if args.families else ''}`")
    if args.write:
        write_section("train-paths-families" if args.families else "train-paths", "\n".join([head, "", *lines]))


if __name__ == "__main__":
    main()
