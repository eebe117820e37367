"""Training speed of NAFNet small on the CPU by execution path: float32, bf16 autocast, channels-last,
torch.compile, and patch size. Samples per second of the training step (forward, the multi-scale pixel + FFT
objective of ``napari-deblur train``, backward, AdamW), timed after warm-up, with ready-made batches.

Run: python benchmarks/train_paths.py [--write]   (about 5 minutes on 2 CPU cores)
"""

from __future__ import annotations

import argparse
import contextlib
import os
import time

import torch

from _report import machine, write_section


def rate(patch: int, batch: int, bf16: bool, channels_last: bool, compile_: bool, steps: int = 8) -> float:
    from napari_deblur.train import TrainConfig
    from napari_deblur.train.module import RestorationModule

    torch.manual_seed(0)
    module = RestorationModule(TrainConfig(model="nafnet", size="small", patch=patch, scenes="dead_leaves"))
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help="write the table into docs/benchmarks.md")
    args = parser.parse_args()
    cases = [  # (label, patch, batch, bf16, channels_last, compile)
        ("float32", 128, 8, False, False, False),
        ("float32, channels-last", 128, 8, False, True, False),
        ("bf16 autocast", 128, 8, True, False, False),
        ("bf16 autocast, channels-last", 128, 8, True, True, False),
        ("float32, torch.compile", 128, 8, False, False, True),
        ("float32, 64x64 patches (batch 32)", 64, 32, False, False, False),
        ("bf16 channels-last, 64x64 patches (batch 32)", 64, 32, True, True, False),
    ]
    load = os.getloadavg()[0]
    lines = ["| path | patch | batch | samples/s | pixels/s (M) |", "|---|---|---|---|---|"]
    for label, patch, batch, bf16, cl, comp in cases:
        r = rate(patch, batch, bf16, cl, comp)
        lines.append(f"| {label} | {patch} | {batch} | {r:.1f} | {r * patch * patch / 1e6:.2f} |")
        print(lines[-1], flush=True)
    head = ("## Speed: NAFNet training paths on the CPU\n\n"
            "One training step of NAFNet small (forward, multi-scale Charbonnier + FFT loss, backward, AdamW) on "
            f"ready-made batches, after 3 warm-up steps. Machine: {machine()}; load average {load:.1f} on "
            f"{os.cpu_count()} cores when it started.")
    if args.write:
        write_section("train-paths", "\n".join([head, "", *lines]))


if __name__ == "__main__":
    main()
