"""Images per second of the procedural scene generators (``napari_deblur.synth.scenes``), in one process.

Cases: dead leaves 256x256 grey and colour, fluorescence 256x256 (2D) and 32x128x128 (3D), default settings.
Each case gets one warm-up call, then the best of ``--repeats`` runs of ``--images`` images with fresh seeds,
timed by wall clock: best-of, because the benchmark machine is shared and slower runs measure the neighbours.
The generators are plain numpy/scipy code that runs on one core (no BLAS, no torch); the torch and BLAS thread
settings are reported only to document the process.

Run: python benchmarks/scenes_speed.py [--images 20] [--repeats 5]   (about half a minute on 2 CPU cores)
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import numpy as np
import torch

from _report import machine, write_section
from napari_deblur.synth import scenes

# (label, shape, generator, target images/s from the design brief, or None)
CASES: list[tuple[str, tuple[int, ...], Callable[[int], np.ndarray], float | None]] = [
    ("dead_leaves grey", (256, 256), lambda s: scenes.dead_leaves((256, 256), seed=s), 50.0),
    ("dead_leaves colour", (256, 256), lambda s: scenes.dead_leaves((256, 256), seed=s, color=True), None),
    ("fluorescence 2D", (256, 256), lambda s: scenes.fluorescence((256, 256), seed=s), 20.0),
    ("fluorescence 3D", (32, 128, 128), lambda s: scenes.fluorescence((32, 128, 128), seed=s), None),
]


def images_per_second(make: Callable[[int], np.ndarray], images: int, repeats: int) -> float:
    make(10**6)  # warm-up: imports, first allocations
    best = float("inf")
    for r in range(repeats):
        start = time.perf_counter()
        for i in range(images):
            make(r * images + i)
        best = min(best, time.perf_counter() - start)
    return images / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=20, help="images per timed run")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per case; the best is reported")
    args = parser.parse_args()
    threads = (f"torch threads {torch.get_num_threads()} (unused), "
               f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, numpy {np.__version__}")
    lines = ["| scene | shape | images / s | ms / image | target |", "|---|---|---|---|---|"]
    for label, shape, make, target in CASES:
        rate = images_per_second(make, args.images, args.repeats)
        goal = "-" if target is None else f">= {target:g}: {'met' if rate >= target else 'NOT met'}"
        lines.append(f"| {label} | {'x'.join(map(str, shape))} | {rate:.1f} | {1000 / rate:.1f} | {goal} |")
        print(lines[-1], flush=True)
    head = (f"## Speed: procedural scenes\n\nMachine: {machine()}. Single process, one core ({threads}); "
            f"best of {args.repeats} runs of {args.images} images each, default settings, fresh seed per image.")
    body = "\n".join([head, "", *lines])
    print()
    print(body)
    write_section("scenes-speed", body)


if __name__ == "__main__":
    main()
