"""Which way of running each network is fastest on this CPU, and what the deblurring engine adds to it.

For every family (size small, untrained weights: speed does not depend on their values) one 1024 x 1024
float32 image goes through the bare module in each execution path, then through ``deblur()`` with its
default (``precision="auto"``), all in the same run. Each path runs in its own process (a warm-up call, then
the best of two timed calls):

- ``fp32``: float32, the usual NCHW memory layout;
- ``fp32 CL``: float32, channels-last (NHWC) tensors and weights;
- ``bf16``: bfloat16 autocast, NCHW;   ``bf16 CL``: bfloat16 autocast, channels-last;
- ``compile``: ``torch.compile`` (inductor) of the channels-last float32 module; its compile time apart;
- ``engine``: the deblurring engine with the default path (``precision="auto"``) and the network built once:
  intensity mapping, tiling, the forward pass, blending, the output dtype.

"engine overhead" compares ``engine`` with the bare path it runs (bf16 CL where the CPU computes bfloat16
natively, else fp32 CL) on the same pixels. ``--write`` puts the table into docs/benchmarks.md.

    python benchmarks/paths.py [--families nafnet srn] [--side 1024] [--write]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import machine, write_section  # noqa: E402

PATHS = ("fp32", "fp32 CL", "bf16", "bf16 CL", "compile", "engine")


def _timed(fn, repeats: int = 2) -> float:
    fn()  # warm-up: oneDNN picks and builds its kernels on the first call
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def run_path(family: str, path: str, side: int) -> dict:
    """Seconds for one ``side`` x ``side`` image through ``family`` along ``path`` (in this process)."""
    import napari_deblur as nd
    from napari_deblur.zoo.family import create

    torch.manual_seed(0)
    image = np.random.default_rng(0).random((side, side), dtype=np.float32)
    if path == "engine":
        # Built once, as the widget's repeated runs and the lazy path's workers do: the engine's own work
        # (intensity mapping, tiling, blending) is what is measured, not creating the network.
        from napari_deblur.hardware import resolve_device
        from napari_deblur.restore.engine import deblur_steps, drain

        spec = nd.get_method(family)
        restorer = spec.build(psf=None, device=resolve_device("auto"), **spec.resolve_params({"weights": "random"}))
        return {"seconds": _timed(lambda: drain(deblur_steps(image, spec, weights="random", restorer=restorer)))}
    nd.list_methods()
    module = create(family, "small").eval()
    x = torch.from_numpy(image)[None, None]
    channels_last = path in ("fp32 CL", "bf16 CL", "compile")
    if channels_last:
        module = module.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    low = path.startswith("bf16")
    result: dict = {}
    if path == "compile":
        compiled = torch.compile(module)
        t0 = time.perf_counter()
        with torch.inference_mode():
            compiled(x)
        result["compile_seconds"] = time.perf_counter() - t0
        module = compiled

    def forward():
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=low):
            module(x)

    result["seconds"] = _timed(forward)
    return result


def measure(family: str, path: str, side: int) -> dict:
    cmd = [sys.executable, __file__, "--one", family, path, str(side)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1][:120]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    from napari_deblur.hardware import cpu_has_native_bf16
    from napari_deblur.restore.methods import list_methods
    from napari_deblur.zoo import deblurring_families

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--one", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--families", nargs="+")
    parser.add_argument("--side", type=int, default=1024)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_path(args.one[0], args.one[1], int(args.one[2]))))
        return
    list_methods()
    native = cpu_has_native_bf16()
    engine_path = "bf16 CL" if native else "fp32 CL"
    mp = args.side**2 / 1e6
    lines = ["| family (small) | " + " | ".join(f"{p} s/MP" for p in PATHS) + " | compile time (s) | fastest | "
             "engine overhead |", "|---" * (len(PATHS) + 4) + "|"]
    for family in args.families or deblurring_families():
        r = {p: measure(family, p, args.side) for p in PATHS}
        cells = [f"{r[p]['seconds'] / mp:.2f}" if "seconds" in r[p] else f"failed ({r[p]['error']})" for p in PATHS]
        bare = {p: r[p]["seconds"] for p in PATHS[:-1] if "seconds" in r[p]}
        fastest = min(bare, key=bare.get)
        overhead = r["engine"]["seconds"] / r[engine_path]["seconds"] - 1 if "seconds" in r["engine"] else float("nan")
        compile_s = r["compile"].get("compile_seconds", float("nan"))
        line = (f"| `{family}` | " + " | ".join(cells) + f" | {compile_s:.0f} | {fastest} | "
                f"{overhead * 100:+.0f}% ({'met' if overhead <= 0.15 else 'MISSED'}: <= 15%) |")
        print(line, flush=True)
        lines.append(line)
    if args.write:
        head = (f"## Speed: execution paths per family, and the engine's overhead\n\nMachine: {machine()}; "
                f"bfloat16 native on this CPU: {'yes' if native else 'no'}, so `precision=\"auto\"` runs "
                f"**{engine_path}**. One {args.side}x{args.side} image, one tile; s/MP = seconds per megapixel; "
                "`python benchmarks/paths.py --write`.")
        write_section("paths", "\n".join([head, "", *lines]))


if __name__ == "__main__":
    main()
