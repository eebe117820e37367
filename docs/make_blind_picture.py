"""Make docs/images/blind_kernel.png: python docs/make_blind_picture.py (about a minute on a CPU).

One row per case, left to right: the blurred image, the kernel estimated from it, the true kernel, the blind
default's result (`nd.deblur(image)`: the estimated kernel, then hyper_laplacian) and the sharp image. Rows: one of
Levin et al.'s real captures, a Kodak photo in colour with a Levin kernel (sigma 0.01), and a Kodak photo with a
55-px camera-shake kernel that the estimator does not pin down: it is judged no better than no blur, so the
1x1 delta comes back and the image is returned as it is (the safe failure). Composed with Pillow, as the other
pictures (the tile helper is theirs).
"""

from __future__ import annotations

import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np
from PIL import Image

import napari_deblur as nd

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
OUT = ROOT / "docs" / "images" / "blind_kernel.png"
sys.path.insert(0, str(ROOT / "docs"))
sys.path.insert(0, str(ROOT / "benchmarks"))
from make_psf_pictures import TILE, _picture, _save_rows  # noqa: E402 - one tile style for every picture

from _report import blur_protocol  # noqa: E402 - the benchmarks' blur protocol


def _cases():
    sharp = iio.imread(SHARED / "levin09" / "sharp" / "im1.png") / 255.0
    blurred = iio.imread(SHARED / "levin09" / "blurry" / "im1_kernel4_img.png").astype(np.float32) / 255
    yield "Levin capture 1, kernel 4", blurred, np.load(SHARED / "levin09" / "k04.npy")[::-1, ::-1], sharp, 31
    rng = np.random.default_rng(0)
    sharp = iio.imread(SHARED / "kodak24" / "kodim03.png")[150:450, 250:550] / 255.0
    kernel = np.load(SHARED / "levin09" / "k06.npy")
    yield "Kodak 3 (colour), Levin kernel 6", blur_protocol(sharp, kernel, 0.01, rng), kernel, sharp, 31
    sharp = iio.imread(SHARED / "kodak24" / "kodim02.png")[100:500, 200:600, 1] / 255.0
    kernel = nd.make_kernel("camera_shake", seed=201, size=55, length=44.0)
    yield "Kodak 2, 55-px shake", blur_protocol(sharp, kernel, 0.01, rng), kernel, sharp, 75


def main() -> None:
    rows = []
    for title, blurred, true, sharp, size in _cases():
        kernel = nd.estimate_kernel(blurred, size)
        result = nd.deblur(blurred, "hyper_laplacian", psf=kernel, output_dtype="float32")
        side = max(kernel.shape[0], true.shape[0])
        pad = [np.pad(k, ((side - k.shape[0]) // 2, (side - k.shape[0] + 1) // 2)) for k in (kernel, true)]
        tiles = [_picture(blurred, title), _picture(pad[0], f"estimated {kernel.shape[0]}x{kernel.shape[1]}", 0.5),
                 _picture(pad[1], f"true {true.shape[0]}x{true.shape[1]}", 0.5), _picture(np.clip(result, 0, 1),
                 "blind default"), _picture(sharp, "sharp")]
        row = Image.new("RGB", (sum(t.width for t in tiles), tiles[0].height), "white")
        for i, tile in enumerate(tiles):
            row.paste(tile, (i * TILE, 0))
        rows.append(row)
    _save_rows(rows, OUT)


if __name__ == "__main__":
    main()
