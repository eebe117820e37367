"""The demo behind ``make demo`` / ``napari-deblur demo``: blur, deblur blind and with the kernel, measure, show.

scikit-image's camera man (held out from the shipped models' training) is blurred with a seeded camera-shake
kernel plus Gaussian noise, then deblurred three times: by the blind default (the kernel estimated from the image,
then the hyper-Laplacian deconvolution), by the chosen method without the kernel (the shipped general NAFNet by
default) and by Richardson-Lucy given the true kernel, the classical answer when the blur is known. PSNR/SSIM of
each are printed, and a side-by-side PNG (blurred | blind default | method | Richardson-Lucy | sharp) is written.
A classical ``--method`` gets the true kernel itself; an untrained network is skipped with a note.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np
from scipy import ndimage
from skimage import data
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from napari_deblur.io import write_image
from napari_deblur.psfs import BLIND_METHOD, ESTIMATE_PARAMS, estimate_kernel
from napari_deblur.restore.engine import deblur
from napari_deblur.restore.methods import get_method
from napari_deblur.synth.kernels import camera_shake

DEFAULT_METHOD = "nafnet"
ANCHOR = "richardson_lucy"  # given the true kernel, at its defaults as a user runs it
NOISE_SIGMA = 0.01


def make_blurred_sample(seed: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (sharp, blurred, kernel): the camera man photo in [0, 1], shaken and noisy, float32."""
    sharp = data.camera().astype(np.float32) / 255
    kernel = camera_shake(21, seed=seed)
    rng = np.random.default_rng(seed)
    blurred = ndimage.convolve(sharp, kernel, mode="reflect")
    blurred = np.clip(blurred + rng.normal(0, NOISE_SIGMA, blurred.shape), 0, 1).astype(np.float32)
    return sharp, blurred, kernel


def run_demo(out: Path, method: str = DEFAULT_METHOD, seed: int = 3, gui: bool = False) -> int:
    sharp, blurred, kernel = make_blurred_sample(seed)
    print(f"image: skimage.data.camera() {sharp.shape}, camera-shake kernel {kernel.shape} (seed {seed}), "
          f"noise sigma {NOISE_SIGMA}")
    start = time.perf_counter()
    estimated = estimate_kernel(blurred, ESTIMATE_PARAMS[0].default)
    print(f"kernel estimated from the blurred image: {estimated.shape[0]}x{estimated.shape[1]} "
          f"({time.perf_counter() - start:.2f} s)")
    runs = [(f"blind default: estimated kernel + {BLIND_METHOD}", BLIND_METHOD, estimated)]  # label, method, PSF
    spec = get_method(method)
    reason = spec.why_unavailable()
    if reason:
        print(f"{method}: skipped ({reason}); showing the classical method only")
    elif method != ANCHOR:
        label = f"{method} ({'true kernel' if spec.needs_psf else 'blind, no kernel'})"
        runs.append((label, method, kernel if spec.needs_psf else None))
    runs.append((f"{ANCHOR} (true kernel)", ANCHOR, kernel))

    def scores(x: np.ndarray) -> tuple[float, float]:
        return (peak_signal_noise_ratio(sharp, x, data_range=1.0), structural_similarity(sharp, x, data_range=1.0))

    p_in, s_in = scores(blurred)
    print(f"{'blurred input':<50} PSNR {p_in:6.2f} dB  SSIM {s_in:.3f}")
    panels, titles, results = [blurred], [f"blurred  {p_in:.2f} dB"], []
    for label, name, psf in runs:  # every method at its defaults, as a user runs it
        start = time.perf_counter()
        restored = np.clip(deblur(blurred, name, psf=psf), 0, 1)
        seconds = time.perf_counter() - start
        p, s_ = scores(restored)
        print(f"{label:<50} PSNR {p:6.2f} dB  SSIM {s_:.3f}  ({p - p_in:+.2f} dB, {seconds:.2f} s)")
        panels.append(restored)
        titles.append(f"{label}  {p:.2f} dB")
        results.append((label, restored))
    out = Path(out)
    side = np.concatenate([_titled(x, t) for x, t in zip([*panels, sharp], [*titles, "sharp"])], axis=1)
    path = write_image(out / "demo_side_by_side.png", side)
    write_image(out / "demo_kernel.tif", kernel)
    order = " | ".join(["blurred", *(label for label, _ in results), "sharp"])
    print(f"wrote {path} ({order})")
    if gui:
        if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            print("--gui: no display found (DISPLAY is not set); skipping napari. Try: xvfb-run -a, or ssh -X.")
        else:
            _show(sharp, blurred, results, kernel)
    return 0


#: Height of the title band above each panel of the demo picture, in pixels.
TITLE_BAND = 28


def _titled(panel: np.ndarray, title: str) -> np.ndarray:
    """``panel`` (grey, [0, 1]) as uint8 under a white band with ``title`` written in it (Pillow draws the text)."""
    from PIL import Image, ImageDraw, ImageFont

    pixels = (np.clip(panel, 0, 1) * 255).round().astype(np.uint8)
    band = Image.new("L", (pixels.shape[1], TITLE_BAND), 255)
    try:
        font = ImageFont.load_default(size=16)
    except TypeError:  # Pillow before 10.1 has one small bitmap font
        font = ImageFont.load_default()
    ImageDraw.Draw(band).text((6, 5), title, fill=0, font=font)
    return np.concatenate([np.asarray(band), pixels], axis=0)


def _show(sharp, blurred, results, kernel) -> None:
    import napari

    viewer = napari.Viewer(title="napari-deblur demo")
    viewer.add_image(sharp, name="sharp")
    viewer.add_image(blurred, name="blurred")
    for label, restored in results:
        viewer.add_image(restored, name=f"blurred deblurred ({label})")
    viewer.add_image(kernel, name="kernel", visible=False)
    viewer.window.add_plugin_dock_widget("napari-deblur", "Deblur")
    napari.run()
