"""``evaluate(method, ...)``: PSNR and SSIM of any method, per image and mean, on pairs or a synthetic protocol.

Two protocols:

- **pairs**: a folder of blurred/sharp pairs (``blur/`` + ``sharp/`` with matching names, or the GoPro layout).
  Blind methods (networks) need nothing else; a classical method needs ``psf=``.
- **synthetic** (the benchmark protocol of docs/benchmarks.md): every sharp image x every kernel, blurred with
  ``scipy.ndimage.convolve(mode="reflect")`` per channel, plus Gaussian noise of ``sigma`` (one seeded generator
  in image-major order), clipped to [0, 1]. Classical methods get the true kernel (with ``psf_centering="array"``,
  the convolution's convention); networks get nothing.

Scores compare values in [0, 1] (8-bit data / 255; [0, 1] floats as they are; other data mapped by the sharp
image's robust percentile range), with data range 1; the output is clipped to [0, 1] first.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from napari_deblur.colour import is_colour
from napari_deblur.restore.engine import deblur
from napari_deblur.restore.methods import get_method

KERNEL_SUFFIXES = (".npy", ".tif", ".tiff", ".png", ".bmp")
METRICS = ("input_psnr", "input_ssim", "psnr", "ssim", "seconds")
Named = tuple[str, np.ndarray]


def _to_unit(arr: np.ndarray, reference: np.ndarray | None = None) -> np.ndarray:
    """Values in [0, 1]: 8-bit by 255, [0, 1] floats as they are, others by the reference's robust range."""
    from napari_deblur.restore.intensity import policy_range

    arr = np.asarray(arr)
    low, high = policy_range(arr if reference is None else np.asarray(reference))
    return ((arr.astype(np.float32) - low) / (high - low)).astype(np.float32)


def _layout(arr: np.ndarray) -> tuple[np.ndarray, bool, str | None]:
    """(image, rgb, axes) for the engine: alpha dropped, RGB as YXC, other 3D arrays as ZYX plane stacks."""
    if is_colour(arr.shape):
        return arr[..., :3], True, None
    if arr.ndim == 2:
        return arr, False, None
    if arr.ndim == 3:
        return arr, False, "ZYX"
    raise ValueError(f"evaluate scores 2D, RGB or ZYX images; got shape {arr.shape}.")


def score(sharp: np.ndarray, image: np.ndarray, rgb: bool = False) -> tuple[float, float]:
    """(PSNR, SSIM) of ``image`` against ``sharp`` (values in [0, 1], data range 1; ``image`` clipped first).

    SSIM is scikit-image's (7x7 uniform window), channel-averaged for RGB and plane-averaged for stacks.
    """
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    x = np.clip(np.asarray(image, np.float32), 0, 1)
    sharp = np.asarray(sharp, np.float32)
    psnr = float(peak_signal_noise_ratio(sharp, x, data_range=1.0))
    planes = [(sharp, x)] if (rgb or sharp.ndim == 2) else list(zip(sharp, x))
    side = min(sharp.shape[:2] if rgb else sharp.shape[-2:])
    win = min(7, side if side % 2 else side - 1)
    if win < 3:
        return psnr, float("nan")
    ssim = np.mean([structural_similarity(s, p, data_range=1.0, win_size=win, channel_axis=-1 if rgb else None)
                    for s, p in planes])
    return psnr, float(ssim)


def blur_protocol(sharp: np.ndarray, kernel: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """The synthetic protocol's degradation: reflect-convolve each channel, add N(0, sigma), clip to [0, 1]."""
    from scipy import ndimage

    channels = sharp[..., None] if sharp.ndim == 2 else sharp
    out = np.stack([ndimage.convolve(channels[..., c], kernel, mode="reflect") for c in range(channels.shape[-1])],
                   axis=-1)
    out = np.clip(out + rng.normal(0, sigma, out.shape), 0, 1).astype(np.float32)
    return out[..., 0] if sharp.ndim == 2 else out


def _named(items: str | os.PathLike | Sequence[Any] | np.ndarray, what: str, suffixes: Sequence[str] | None = None
           ) -> list[Named]:
    """(name, array) for a folder of files, one file, or a sequence of arrays (named by their index)."""
    from napari_deblur.io import read_image

    def load(path: Path) -> np.ndarray:
        return np.load(path) if path.suffix.lower() == ".npy" else read_image(path)[0]

    if isinstance(items, (str, os.PathLike)):
        path = Path(items).expanduser()
        if path.is_file():
            return [(path.stem, load(path))]
        if not path.is_dir():
            raise ValueError(f"The {what} folder {path} does not exist.")
        from napari_deblur.training.files import IMAGE_SUFFIXES

        allowed = {s.lower() for s in (suffixes or IMAGE_SUFFIXES)}
        files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in allowed
                       and not p.name.startswith("."))
        if not files:
            raise ValueError(f"No {what} files in {path} ({', '.join(sorted(allowed))}).")
        return [(p.stem, load(p)) for p in files]
    if isinstance(items, np.ndarray):
        items = [items]
    if not len(items):
        raise ValueError(f"No {what} given.")
    return [(str(i), np.asarray(a)) for i, a in enumerate(items)]


def _kernel(k: np.ndarray, name: str) -> np.ndarray:
    k = np.asarray(k, np.float32)
    if is_colour(k.shape):
        k = k[..., :3].mean(axis=-1)
    if k.ndim != 2 or k.sum() <= 0:
        raise ValueError(f"Kernel {name!r} must be a 2D array with a positive sum; got shape {k.shape}.")
    return k / k.sum()


def _cases(pairs: Any, kernels: Any, sharp: Any, sigma: float, limit: int | None, seed: int, psf: Any
           ) -> tuple[str, list[dict[str, Any]]]:
    """The protocol's name and its cases: dicts of name, kernel name, blurred, sharp and the PSF to pass."""
    if (pairs is None) == (kernels is None and sharp is None):
        raise ValueError("Give either pairs=<folder of blur/ and sharp/ pairs>, or kernels= and sharp= for the "
                         "synthetic protocol.")
    cases = []
    if pairs is not None:
        from napari_deblur.io import read_image
        from napari_deblur.training.files import find_pairs

        for blur_path, sharp_path in find_pairs(pairs)[:limit]:
            b, s = read_image(blur_path)[0], read_image(sharp_path)[0]
            if b.shape != s.shape:
                raise ValueError(f"The pair {blur_path} and {sharp_path} differ in shape {b.shape} vs {s.shape}.")
            cases.append({"image": sharp_path.stem, "blurred": _to_unit(b, s), "sharp": _to_unit(s), "psf": psf})
        return "pairs", cases
    if kernels is None or sharp is None:
        raise ValueError("The synthetic protocol needs both kernels= (folder, file or arrays) and sharp= images.")
    ks = [(name, _kernel(k, name)) for name, k in _named(kernels, "kernel", KERNEL_SUFFIXES)]
    rng = np.random.default_rng(seed)
    for name, image in _named(sharp, "sharp image")[:limit]:
        s = _to_unit(image)
        for kname, k in ks:
            cases.append({"image": name, "kernel": kname, "blurred": blur_protocol(s, k, sigma, rng), "sharp": s,
                          "psf": k})
    return "synthetic", cases


def evaluate(method: str, *, pairs: str | os.PathLike | None = None, kernels: Any = None, sharp: Any = None,
             sigma: float = 0.01, limit: int | None = None, seed: int = 0, psf: Any = None, device: str = "auto",
             on_row: Callable[[dict[str, Any]], None] | None = None, **params: Any) -> dict[str, Any]:
    """Score ``method`` with PSNR/SSIM per image and on average, for its input (the blurred image) and output.

    Parameters
    ----------
    method : str
        Any method of :func:`napari_deblur.list_methods` (e.g. ``"wiener"``, or ``"nafnet"`` with
        ``weights="my-model"``).
    pairs : path, optional
        A folder of blurred/sharp pairs (``blur/`` + ``sharp/``, the GoPro layout, or ``x.png`` + ``x_gt.png``).
    kernels, sharp : path or sequence of arrays, optional
        The synthetic protocol: kernel files (.npy, .tif, .png) and sharp images (folders, one file, or arrays).
    sigma : float
        Gaussian noise of the synthetic protocol.
    limit : int, optional
        Score at most this many pairs, or sharp images (each with every kernel).
    seed : int
        Seed of the synthetic protocol's noise.
    psf : array-like, optional
        The PSF a classical method uses on ``pairs`` (the synthetic protocol passes the true kernel itself).
    device : str
        As for :func:`napari_deblur.deblur`.
    on_row : callable, optional
        Called with each row as soon as it is scored (progress).
    **params
        The method's parameters (``balance=0.01``, ``weights="my-model"``, ...).

    Returns
    -------
    dict
        ``method``, ``params``, ``protocol`` ("pairs" or "synthetic"), ``rows`` (one dict per image, or image x
        kernel: ``image``, ``kernel``, ``input_psnr``, ``input_ssim``, ``psnr``, ``ssim``, ``seconds``), ``mean``
        (the same metrics averaged) and ``count``.
    """
    spec = get_method(method)
    spec.resolve_params(params)  # unknown or bad parameters fail before any image is read
    if sigma < 0:
        raise ValueError(f"sigma must be >= 0 (a noise standard deviation); got {sigma}.")
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be at least 1; got {limit}.")
    protocol, cases = _cases(pairs, kernels, sharp, sigma, limit, seed, psf)
    if spec.needs_psf and protocol == "pairs" and psf is None:
        raise ValueError(f"Method {method!r} needs a PSF: pass psf=<array> for pairs, or use the synthetic protocol "
                         "(kernels= and sharp=), which gives it the true kernel.")
    extra = {}
    if protocol == "synthetic" and any(p.name == "psf_centering" for p in spec.params):
        extra["psf_centering"] = "array"  # the protocol convolves with the kernel's array centre as origin
    rows = []
    for case in cases:
        blurred, rgb, axes = _layout(case["blurred"])
        target = _layout(case["sharp"])[0]
        start = time.perf_counter()
        out = deblur(blurred, spec, psf=case["psf"] if spec.needs_psf else None, rgb=rgb or None, axes=axes,
                     device=device, output_dtype="float32", **{**extra, **params})
        seconds = time.perf_counter() - start
        row = {"image": case["image"], "kernel": case.get("kernel", "")}
        row["input_psnr"], row["input_ssim"] = score(target, blurred, rgb)
        row["psnr"], row["ssim"] = score(target, out, rgb)
        row["seconds"] = seconds
        rows.append(row)
        if on_row is not None:
            on_row(row)
    mean = {k: float(np.nanmean([r[k] for r in rows])) for k in METRICS}
    return {"method": method, "params": params, "protocol": protocol, "rows": rows, "mean": mean,
            "count": len(rows)}


def format_table(result: dict[str, Any]) -> str:
    """A markdown table of ``evaluate``'s rows and their mean."""
    head = ["| image | kernel | input PSNR | input SSIM | PSNR | SSIM | s |", "|---|---|---|---|---|---|---|"]

    def line(r: dict[str, Any], image: str, kernel: str) -> str:
        return (f"| {image} | {kernel} | {r['input_psnr']:.2f} | {r['input_ssim']:.3f} | {r['psnr']:.2f} | "
                f"{r['ssim']:.3f} | {r['seconds']:.2f} |")

    body = [line(r, r["image"], r["kernel"] or "-") for r in result["rows"]]
    return "\n".join([*head, *body, line(result["mean"], f"**mean of {result['count']}**", "")])
