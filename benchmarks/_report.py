"""Shared by the benchmarks: the synthetic protocol and writing sections of docs/benchmarks.md (protocol there)."""

from __future__ import annotations

import platform
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from scipy import ndimage

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
REPORT = ROOT / "docs" / "benchmarks.md"


def blur_protocol(sharp: np.ndarray, kernel: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """The protocol: convolve(mode="reflect") per channel with the kernel, + Gaussian noise, clip to [0, 1]."""
    channels = sharp[..., None] if sharp.ndim == 2 else sharp
    out = np.stack([ndimage.convolve(channels[..., c], kernel, mode="reflect")
                    for c in range(channels.shape[-1])], axis=-1)
    out = np.clip(out + rng.normal(0, sigma, out.shape), 0, 1).astype(np.float32)
    return out[..., 0] if sharp.ndim == 2 else out


def levin_captures() -> Iterator[tuple[int, int, np.ndarray, np.ndarray, np.ndarray]]:
    """Levin et al.'s 16 real captures: (image, kernel number, sharp, blurred, kernel), grey in [0, 1]; the kernels
    are flipped to the convolution the captures were made with."""
    import imageio.v3 as iio

    folder = SHARED / "levin09"
    for i in (1, 2):
        sharp = iio.imread(folder / "sharp" / f"im{i}.png").astype(np.float32) / 255
        for k in range(1, 9):
            blurred = iio.imread(folder / "blurry" / f"im{i}_kernel{k}_img.png").astype(np.float32) / 255
            yield i, k, sharp, blurred, np.load(folder / f"k{k:02d}.npy")[::-1, ::-1].copy()


def shifted_psnr(x: np.ndarray, sharp: np.ndarray, shift: int, border: int) -> float:
    """PSNR of 2D ``x`` (clipped to [0, 1]) at its best whole-pixel shift within +-``shift``, less a ``border``:
    for real captures and estimated kernels, whose alignment with the sharp image is known only up to a shift."""
    inner = slice(shift + border, -(shift + border))
    best = -np.inf
    for dy in range(-shift, shift + 1):
        for dx in range(-shift, shift + 1):
            err = np.clip(np.roll(x, (dy, dx), (0, 1)), 0, 1)[inner, inner] - sharp[inner, inner]
            best = max(best, float(-10 * np.log10(np.mean(err**2))))
    return best


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    return (f"{cpu}, {torch.get_num_threads()} torch threads, Python {platform.python_version()}, "
            f"torch {torch.__version__}")


def write_section(name: str, body: str) -> None:
    """Replace the text between ``<!-- name:start -->`` and ``<!-- name:end -->`` (append if missing)."""
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    text = REPORT.read_text() if REPORT.exists() else "# Benchmarks\n"
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{start}\n{body.strip()}\n{end}"
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    REPORT.write_text(text)
