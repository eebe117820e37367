"""Richardson-Lucy beside the tools a microscopist would install instead, in one run on this machine.

Peers: scikit-image's ``richardson_lucy``, RedLionfish 0.10 (CPU path; GPU when a GPU is lent), sdeconv 1.0.4
(given the PSF at the image's size, as it expects). They are benchmark-only dependencies, not the package's:

    .venv/bin/pip install "redlionfish==0.10"

sdeconv is installed without its dependencies into a folder of its own, which only its worker process reads:

    .venv/bin/pip install --no-deps --target benchmarks/.peers "sdeconv==1.0.4"

Its dependencies are ours (torch, numpy, scikit-image) except torchvision, whose PyPI wheel does not match the
local CPU build of torch (``operator torchvision::nms does not exist``) and, once installed, breaks Lightning
(which imports it). sdeconv imports ``torchvision.transforms.v2`` only for its self-supervised networks' training
augmentation, which Richardson-Lucy never calls, so the worker gives it an empty stand-in module.

Cases, 30 iterations each (the peers unregularized; ours at its defaults, unregularized, and with the iterations left
at auto too): 2D 512x512 and 2048x2048 (Kodak green channel, tiled, blurred with Levin
kernel 4 + sigma 0.01 noise; PSNR against the sharp image; 512x512 also with a small 9x9 Gaussian PSF, where fixed
costs weigh most), 3D 64x256x256 and 160x160x160 (sub-resolution beads
blurred by a 61x32x32 widefield PSF + Poisson noise, uint8; PSNR against the beads after a least-squares gain fit).
Every implementation runs in a fresh process, so its peak RSS (imports included) is its own; its time is the faster
of two runs there.

Run: python benchmarks/rl_peers.py [--write]   (about 5 minutes on 2 CPU cores)
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from _report import SHARED, blur_protocol, machine, write_section

ITERATIONS = 30
PEERS = ("napari-deblur, defaults", "napari-deblur, unregularized", "napari-deblur, all auto", "scikit-image",
         "RedLionfish (CPU)", "sdeconv")
#: Where sdeconv is installed (see above): only its worker puts it on the path.
PEERS_DIR = Path(__file__).resolve().parent / ".peers"


def _photo(side: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    import imageio.v3 as iio

    sharp = iio.imread(SHARED / "kodak24" / "kodim05.png")[..., 1].astype(np.float32) / 255
    sharp = np.tile(sharp, (side // sharp.shape[0] + 1, side // sharp.shape[1] + 1))[:side, :side]
    kernel = np.load(SHARED / "levin09" / "k04.npy").astype(np.float32)
    return blur_protocol(sharp, kernel, 0.01, np.random.default_rng(0)), kernel / kernel.sum(), sharp


def _beads(shape: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from scipy import signal

    from napari_deblur.synth.psf import widefield_psf

    rng = np.random.default_rng(0)
    truth = np.zeros(shape, np.float32)
    n = int(np.prod(shape) / 4000)
    truth[tuple(rng.integers(0, s, n) for s in shape)] = rng.uniform(0.5, 1.0, n)
    psf = widefield_psf(nz=61, nxy=33, pixel_size=0.1, z_step=0.2).astype(np.float32)
    psf = psf[:, :32, :32] / psf[:, :32, :32].sum()  # an experimental PSF's even size, as in the case
    blurred = signal.fftconvolve(truth, psf, mode="same").clip(0, None)
    blurred = rng.poisson(blurred / blurred.max() * 200).astype(np.float32)
    return np.clip(blurred / blurred.max() * 255, 0, 255).astype(np.uint8), psf, truth


def _gaussian_9x9(side: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    blurred, _, sharp = _photo(side)
    g = np.exp(-0.5 * (np.arange(9) - 4) ** 2 / 1.5**2)
    psf = (g[:, None] * g[None, :]).astype(np.float32)
    return blur_protocol(sharp, psf / psf.sum(), 0.01, np.random.default_rng(0)), psf / psf.sum(), sharp


CASES = {"2D 512x512": lambda: _photo(512), "2D 512x512, 9x9 PSF": lambda: _gaussian_9x9(512),
         "2D 2048x2048": lambda: _photo(2048),
         "3D 64x256x256": lambda: _beads((64, 256, 256)), "3D 160x160x160": lambda: _beads((160, 160, 160))}


def _peer(peer: str):  # noqa: ANN202 - returns the peer's function
    """Import ``peer`` and return its deconvolution as f(image, psf) (imports are not part of the timing)."""
    if peer.startswith("napari-deblur"):
        import napari_deblur as nd

        # defaults: the user's settings at 30 iterations (TV weight and borders auto); unregularized: the textbook
        # algorithm the peers run; all auto: the iterations measured from the noise too.
        settings = {"napari-deblur, defaults": {"iterations": ITERATIONS},
                    "napari-deblur, unregularized": {"iterations": ITERATIONS, "regularize": False},
                    "napari-deblur, all auto": {}}[peer]

        def run(image: np.ndarray, psf: np.ndarray) -> np.ndarray:
            axes = "ZYX" if image.ndim == 3 else None
            # The cases are blurred with the array-centred PSF (ndimage/fftconvolve), as the peers assume;
            # our default centres a measured PSF by its mass, which would shift the result against the truth.
            return nd.deblur(image, "richardson_lucy", psf=psf, axes=axes, psf_centering="array",
                             output_dtype="float32", **settings)
    elif peer == "scikit-image":
        from skimage import restoration

        def run(image: np.ndarray, psf: np.ndarray) -> np.ndarray:
            x = image.astype(np.float32) / (255 if image.dtype == np.uint8 else 1)
            return restoration.richardson_lucy(x, psf, ITERATIONS, clip=False)
    elif peer == "RedLionfish (CPU)":
        import RedLionfishDeconv

        def run(image: np.ndarray, psf: np.ndarray) -> np.ndarray:
            return RedLionfishDeconv.doRLDeconvolutionFromNpArrays(image, psf, niter=ITERATIONS, method="cpu")
    elif peer == "sdeconv":
        import torch

        sys.path.insert(0, str(PEERS_DIR))
        _torchvision_stand_in()
        from sdeconv.deconv import SRichardsonLucy

        def run(image: np.ndarray, psf: np.ndarray) -> np.ndarray:
            full = np.zeros(image.shape, np.float32)  # sdeconv wants the PSF at the image's size, centred
            start = [(s - p) // 2 for s, p in zip(image.shape, psf.shape)]
            full[tuple(slice(a, a + p) for a, p in zip(start, psf.shape))] = psf
            x = torch.from_numpy(image.astype(np.float32) / (255 if image.dtype == np.uint8 else 1))
            return SRichardsonLucy(torch.from_numpy(full), niter=ITERATIONS)(x).numpy()
    else:
        raise ValueError(peer)
    return run


def _torchvision_stand_in() -> None:
    """Empty ``torchvision.transforms.v2`` modules: sdeconv's import of them succeeds; RL does not use them."""
    import types

    names = ("torchvision", "torchvision.transforms", "torchvision.transforms.v2")
    modules = [sys.modules.setdefault(name, types.ModuleType(name)) for name in names]
    modules[0].transforms, modules[1].v2 = modules[1], modules[2]


def worker(peer: str, folder: Path) -> None:
    """One peer on one case, in this fresh process: writes out.npy and prints seconds and peak RSS."""
    image, psf = np.load(folder / "image.npy"), np.load(folder / "psf.npy")
    run = _peer(peer)
    seconds = np.inf
    for _ in range(2):  # the faster of two runs: the first also pays for warming caches and thread pools
        start = time.perf_counter()
        out = run(image, psf)
        seconds = min(seconds, time.perf_counter() - start)
    np.save(folder / "out.npy", np.asarray(out, np.float32))
    print(json.dumps({"seconds": seconds, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def _psnr(out: np.ndarray, truth: np.ndarray, fit: bool) -> float:
    """PSNR of ``out``; volumes (``fit``) after a least-squares gain, at the best whole-voxel shift within +-1 (an
    even-sized PSF's origin is a convention: scipy's fftconvolve puts it at (n - 1) // 2, ndimage at n // 2), less a
    1-voxel border."""
    out, truth = out.astype(np.float64), truth.astype(np.float64)
    if not np.isfinite(out).all():
        raise ValueError("non-finite output")
    if not fit:
        return float(-10 * np.log10(np.mean((np.clip(out, 0, 1) - truth) ** 2)))
    inner = (slice(1, -1),) * out.ndim
    best = -np.inf
    for shift in itertools.product((-1, 0, 1), repeat=out.ndim):
        moved, ref = np.roll(out, shift, axis=tuple(range(out.ndim)))[inner], truth[inner]
        moved = moved * (moved * ref).sum() / max((moved * moved).sum(), 1e-30)
        best = max(best, float(10 * np.log10(ref.max() ** 2 / np.mean((moved - ref) ** 2))))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true", help="write the table into docs/benchmarks.md")
    parser.add_argument("--worker", nargs=2, metavar=("PEER", "FOLDER"), help=argparse.SUPPRESS)
    parser.add_argument("--cases", nargs="+", default=list(CASES), help="cases to run")
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker[0], Path(args.worker[1]))
    load = os.getloadavg()[0]
    lines = ["| case | implementation | seconds | peak RSS (MB) | PSNR (dB) |", "|---|---|---|---|---|"]
    for case in args.cases:
        image, psf, truth = CASES[case]()
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            np.save(folder / "image.npy", image), np.save(folder / "psf.npy", psf)
            for peer in PEERS:
                proc = subprocess.run([sys.executable, __file__, "--worker", peer, str(folder)], capture_output=True,
                                      text=True, timeout=1800)
                try:
                    result = json.loads(proc.stdout.strip().splitlines()[-1])
                    quality = _psnr(np.load(folder / "out.npy"), truth, image.ndim == 3)
                    row = f"{result['seconds']:.2f} | {result['peak_mb']:.0f} | {quality:.2f}"
                except (IndexError, json.JSONDecodeError, ValueError, OSError) as err:
                    why = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else str(err)
                    row = f"failed ({why[:80]}) | - | -"
                (folder / "out.npy").unlink(missing_ok=True)
                lines.append(f"| {case} | {peer} | {row} |")
                print(lines[-1], flush=True)
    head = ("## Speed: Richardson-Lucy beside its peers\n\n"
            f"{ITERATIONS} iterations (ours also with every setting at its default, iterations included), each "
            "implementation in a fresh process, the faster of two runs (peak RSS includes its imports). 2D: Kodak 5 "
            "(green, tiled) x Levin kernel 4, sigma 0.01; 3D: beads x a 61x32x32 widefield PSF with Poisson noise, "
            "uint8, PSNR after a gain fit at the best shift within +-1 voxel. `python benchmarks/rl_peers.py --write` "
            f"(peers installed as its docstring says). Machine: {machine()}; load average {load:.1f} on "
            f"{os.cpu_count()} cores when it started.")
    if args.write:
        write_section("rl-peers", "\n".join([head, "", *lines]))


if __name__ == "__main__":
    main()
