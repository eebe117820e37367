"""Peak resident memory of deblurring inputs larger than a laptop would hold twice over.

Each case runs in its own process under ``/usr/bin/time -v`` (its "Maximum resident set size" is the number
reported), after its input is made by another process, so making the data never counts:

- ``image``: an 8192 x 8192 uint16 image in memory through ``deblur(image, "nafnet", size="small")`` on the CPU
  (the in-memory path: 1024-pixel tiles, results blended into one output). Target: below 3 GB.
- ``volume``: a 2048 x 2048 x 64 uint16 zarr volume through ``napari-deblur deblur in.zarr out.zarr`` (the lazy
  path, chunk by chunk; Richardson-Lucy in 3D with a widefield PSF, 10 iterations). Target: below 4 GB.
- ``image-lazy``: the 8192 x 8192 image again, as a zarr store through the CLI (lazy path), for comparison.

Networks run with untrained weights: memory does not depend on their values. ``--write`` puts the table into
docs/benchmarks.md (section "memory").

    python benchmarks/memory.py [--only image volume image-lazy] [--write]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import machine, write_section  # noqa: E402

TARGETS_GB = {"image": 3.0, "volume": 4.0, "image-lazy": None}
IMAGE_SIDE = 8192
VOLUME = (64, 2048, 2048)


def make_inputs(folder: Path, case: str) -> None:
    """Write the case's input (and PSF) into ``folder``; runs in a separate process."""
    import dask.array as da
    import tifffile

    rng = np.random.default_rng(0)
    if case in ("image", "image-lazy"):
        image = (rng.random((IMAGE_SIDE, IMAGE_SIDE), dtype=np.float32) * 4000 + 200).astype(np.uint16)
        if case == "image":
            np.save(folder / "image.npy", image)
        else:
            da.from_array(image, chunks=(1024, 1024)).to_zarr(str(folder / "in.zarr"))
        return
    from napari_deblur.synth.kinds import make_kernel

    psf = make_kernel("widefield", ndim=3)
    tifffile.imwrite(folder / "psf.tif", psf.astype(np.float32))
    chunk = (16, 512, 512)
    # Filled chunk by chunk: the input itself (512 MB) is never in memory at once.
    volume = da.random.default_rng(0).integers(200, 4200, size=VOLUME, chunks=chunk, dtype=np.uint16)
    volume.to_zarr(str(folder / "in.zarr"))


def run_case(folder: Path, case: str) -> None:
    """The measured work of one case (this process is the one /usr/bin/time watches)."""
    t0 = time.perf_counter()
    if case == "image":
        import napari_deblur as nd

        image = np.load(folder / "image.npy")
        result = nd.deblur(image, "nafnet", size="small", weights="random", device="cpu")
        assert result.shape == image.shape and result.dtype == np.uint16
        pixels = image.size
    else:
        from napari_deblur.cli import main as cli_main

        extra = ["--method", "nafnet", "--weights", "random", "--size", "small"] if case == "image-lazy" else \
            ["--method", "richardson_lucy", "--psf", str(folder / "psf.tif"), "--iterations", "10", "--axes", "ZYX"]
        assert cli_main(["deblur", str(folder / "in.zarr"), str(folder / "out.zarr"), "--device", "cpu",
                         *extra]) == 0
        pixels = IMAGE_SIDE**2 if case == "image-lazy" else int(np.prod(VOLUME))
    print(f"RESULT seconds={time.perf_counter() - t0:.1f} megapixels={pixels / 1e6:.1f}", flush=True)


def measure(case: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="napari-deblur-memory-") as tmp:
        subprocess.run([sys.executable, __file__, "--make", case, tmp], check=True)
        proc = subprocess.run(["/usr/bin/time", "-v", sys.executable, __file__, "--run", case, tmp],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"case {case} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr).group(1))
    found = re.search(r"RESULT seconds=([\d.]+) megapixels=([\d.]+)", proc.stdout)
    return {"case": case, "peak_gb": rss_kb / 1024**2, "seconds": float(found.group(1)),
            "megapixels": float(found.group(2))}


DESCRIPTIONS = {
    "image": f"{IMAGE_SIDE}x{IMAGE_SIDE} uint16 in memory, `nafnet` small (in-memory path, 1024² tiles)",
    "volume": f"{VOLUME[2]}x{VOLUME[1]}x{VOLUME[0]} uint16 zarr -> zarr, Richardson-Lucy 3D, 10 iterations "
              "(lazy path, CLI)",
    "image-lazy": f"{IMAGE_SIDE}x{IMAGE_SIDE} uint16 zarr -> zarr, `nafnet` small (lazy path, CLI)",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--make", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--run", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--only", nargs="+", choices=list(TARGETS_GB), default=list(TARGETS_GB))
    parser.add_argument("--write", action="store_true", help="write the table into docs/benchmarks.md")
    args = parser.parse_args()
    if args.make:
        return make_inputs(Path(args.make[1]), args.make[0])
    if args.run:
        return run_case(Path(args.run[1]), args.run[0])
    lines = ["| case | peak RSS (GB) | target | seconds | s / MP |", "|---|---|---|---|---|"]
    for case in args.only:
        r = measure(case)
        target = TARGETS_GB[case]
        verdict = "-" if target is None else f"< {target:.0f} GB: {'met' if r['peak_gb'] < target else 'MISSED'}"
        line = (f"| {DESCRIPTIONS[case]} | {r['peak_gb']:.2f} | {verdict} | {r['seconds']:.0f} | "
                f"{r['seconds'] / r['megapixels']:.2f} |")
        print(line, flush=True)
        lines.append(line)
    if args.write:
        head = (f"## Memory: bounded for any size\n\nMachine: {machine()}, {os.cpu_count()} cores. Peak resident "
                "set size of the whole process (Python, torch, the model, input and output) from `/usr/bin/time "
                "-v`; `python benchmarks/memory.py --write`.")
        write_section("memory", "\n".join([head, "", *lines]))


if __name__ == "__main__":
    main()
