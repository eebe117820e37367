"""Speed and peak memory: our Richardson-Lucy (and Wiener) against scikit-image, and the model zoo.

Classical (``--only classical``): our Richardson-Lucy and Wiener against scikit-image, same inputs, same run.

Cases: 2D 1024x1024 float32 with a 25x25 camera-shake kernel, 3D 64x256x256 float32 with a 17x17x17
Gaussian PSF, and the 2D case as uint16 (scikit-image converts uint16 to float64, we compute in float32);
30 iterations. Each measurement runs in a fresh subprocess so that its peak resident memory (ru_maxrss)
is its own; the best of ``--repeats`` timings is reported. scipy's FFT (inside scikit-image) uses one
thread by default, torch uses all cores: both are what a user gets out of the box, and we also report
ours pinned to one thread for a per-core comparison.

Zoo (``--only zoo``): per family and size, parameters, multiply-accumulates (MACs) of one 256x256 forward
pass, and seconds per megapixel and peak memory deblurring a 1024x1024 image through the engine
(``deblur()`` with its default tiling), in float32 and, where the CPU computes it natively, in bfloat16 with
channels-last tensors (the ``precision="auto"`` choice). Untrained weights: speed does not depend on them.
Each measurement runs in a fresh subprocess after a 256x256 warm-up in the same process.

Run: python benchmarks/speed.py   (about 5 minutes on 2 CPU cores for classical, 15 for the zoo)
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np

from _report import machine, write_section

CASES = {"2d": (1024, 1024), "3d": (64, 256, 256), "2d-uint16": (1024, 1024)}


def make_case(name: str) -> tuple[np.ndarray, np.ndarray]:
    from scipy import ndimage

    from napari_deblur.synth.kernels import camera_shake

    rng = np.random.default_rng(0)
    shape = CASES[name]
    uint16 = name.endswith("uint16")
    name = name.split("-")[0]
    sharp = ndimage.gaussian_filter(rng.random(shape, dtype=np.float32), 1.5)
    if name == "2d":
        psf = camera_shake(25, seed=1)
    else:
        psf = np.zeros((17, 17, 17), np.float32)
        psf[8, 8, 8] = 1
        psf = ndimage.gaussian_filter(psf, (3.0, 1.5, 1.5))
        psf /= psf.sum()
    blurred = np.clip(ndimage.convolve(sharp, psf, mode="reflect") + rng.normal(0, 0.01, shape), 0, 1)
    if uint16:  # what microscopes write; scikit-image then computes in float64, we stay in float32
        return (blurred * 4000 + 100).astype(np.uint16), psf.astype(np.float32)
    return blurred.astype(np.float32), psf.astype(np.float32)


def run_one(impl: str, case: str, threads: int, repeats: int) -> dict:
    """Measure one (implementation, case) in this process; called in a fresh subprocess."""
    import torch

    torch.set_num_threads(threads)
    blurred, psf = make_case(case)
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if impl == "skimage_rl":
        from skimage.restoration import richardson_lucy

        def fn():
            return richardson_lucy(blurred, psf, num_iter=30, clip=False)
    elif impl == "skimage_wiener":
        from skimage.restoration import wiener

        def fn():
            return wiener(blurred, psf, balance=0.01)
    else:
        import napari_deblur as nd

        method = {"ours_rl": "richardson_lucy", "ours_wiener": "wiener"}[impl]
        params = {"iterations": 30} if method == "richardson_lucy" else {"balance": 0.01}
        axes = "ZYX" if case.startswith("3d") else "YX"

        def fn():
            return nd.deblur(blurred, method, psf=psf, axes=axes, **params)

    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"seconds": min(times), "peak_mb": peak / 1024, "input_mb": base_rss / 1024,
            "megapixels": blurred.size / 1e6}


def run_zoo_one(name: str, size: str, precision: str) -> dict:
    """Deblur a 1024x1024 image with one untrained zoo model through the engine; called in a subprocess."""
    import torch

    import napari_deblur as nd

    rng = np.random.default_rng(0)
    image = rng.random((1024, 1024), dtype=np.float32)
    kwargs = {"weights": "random", "size": size, "precision": precision}
    torch.manual_seed(0)
    nd.deblur(image[:256, :256], name, **kwargs)  # warm-up: oneDNN builds its kernels on first use
    t0 = time.perf_counter()
    nd.deblur(image, name, **kwargs)
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"seconds": seconds, "peak_mb": peak / 1024, "megapixels": image.size / 1e6}


def measure(*args: str | int) -> dict:
    cmd = [sys.executable, __file__, "--one", *map(str, args)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def zoo_main() -> None:

    from napari_deblur.hardware import cpu_has_native_bf16
    from napari_deblur.restore.methods import list_methods
    from napari_deblur.zoo import FAMILIES, create, deblurring_families
    from napari_deblur.zoo.blocks import conv_macs, count_parameters

    list_methods()
    precisions = ["float32"] + (["bfloat16"] if cpu_has_native_bf16() else [])
    lines = ["| model | size | parameters | GMACs at 256² | precision | s / MP (1024² via deblur) | "
             "peak RSS (MB) |", "|---|---|---|---|---|---|---|"]
    for name in deblurring_families():
        for size in FAMILIES[name].sizes:
            model = create(name, size).eval()
            params, macs = count_parameters(model), conv_macs(model, (1, 1, 256, 256)) / 1e9
            del model
            for precision in precisions:
                r = measure("zoo", name, size, precision)
                line = (f"| `{name}` | {size} | {params:,} | {macs:.1f} | {precision} | "
                        f"{r['seconds'] / r['megapixels']:.2f} | {r['peak_mb']:.0f} |")
                print(line, flush=True)
                lines.append(line)
    head = ("## Speed: the model zoo on the CPU\n\n"
            f"Machine: {machine()}. One 1024x1024 float32 image through `deblur()` (one 1024² tile: the "
            "networks' default tile size), untrained weights; MACs count convolutions, linears and attention "
            "products of one 256x256 forward pass. Both precisions run channels-last tensors, "
            "as the engine does; bfloat16 is what `precision=\"auto\"` picks on this CPU.")
    write_section("zoo-speed", "\n".join([head, "", *lines]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--one", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--only", choices=("classical", "zoo"), help="run one part (default: both)")
    args = parser.parse_args()
    if args.one:
        if args.one[0] == "zoo":
            print(json.dumps(run_zoo_one(*args.one[1:])))
        else:
            impl, case, threads, repeats = args.one
            print(json.dumps(run_one(impl, case, int(threads), int(repeats))))
        return
    if args.only != "zoo":
        classical_main(args)
    if args.only != "classical":
        zoo_main()


def classical_main(args: argparse.Namespace) -> None:
    import torch

    cores = torch.get_num_threads()
    lines = ["| case | implementation | threads | seconds | s / MP | peak RSS (MB) | speed-up vs scikit-image |",
             "|---|---|---|---|---|---|---|"]
    verdicts = []
    for case in CASES:
        kinds = [("RL 30 it", "ours_rl", "skimage_rl")]
        if case != "2d-uint16":
            kinds.append(("Wiener", "ours_wiener", "skimage_wiener"))
        for kind, ours, theirs in kinds:
            anchor = measure(theirs, case, 1, args.repeats)
            rows = [(theirs, 1, anchor), (ours, cores, measure(ours, case, cores, args.repeats)),
                    (ours, 1, measure(ours, case, 1, args.repeats))]
            for impl, threads, r in rows:
                ratio = anchor["seconds"] / r["seconds"]
                line = (f"| {case} {CASES[case]} {kind} | {impl} | {threads} | {r['seconds']:.2f} | "
                        f"{r['seconds'] / r['megapixels']:.2f} | {r['peak_mb']:.0f} | {ratio:.1f}x |")
                print(line, flush=True)
                lines.append(line)
            if kind.startswith("RL"):
                ratio = anchor["seconds"] / rows[1][2]["seconds"]
                ok = "PASS" if ratio >= 5 else "MISS"
                verdicts.append(f"- {case} Richardson-Lucy: ours {ratio:.1f}x faster than scikit-image "
                                f"(target >= 5x): **{ok}**")
                print(verdicts[-1], flush=True)
    head = (f"Machine: {machine()}. Ours includes everything `deblur()` does: normalization, reflect "
            "padding and edge tapering, masked borders (RL), mapping back. scikit-image does none of that "
            "(periodic borders).")
    write_section("speed", "\n".join([head, "", *lines, "", *verdicts]))


if __name__ == "__main__":
    main()
