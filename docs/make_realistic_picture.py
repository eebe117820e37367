"""Make docs/images/realistic_blur.png: python docs/make_realistic_picture.py BGAN.safetensors

A crop of a held-out GoPro pair (frame 802, not used to train the generator): the sharp frame, a synthetic blur of
it (random_mix, seed 0), the trained blur generator's blur of it (seed 0), and the real blurred frame. Green
channel, composed with Pillow as the other pictures. The generator is the one benchmarks/realistic_blur.py trains.
"""

from __future__ import annotations

import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np
from PIL import Image, ImageDraw

import napari_deblur as nd

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "images" / "realistic_blur.png"
PAIR = ROOT.parent / "shared" / "data" / "gopro_frameavg_GOPR0374" / "GOPR0374_11_00_st_frame-802_n_avg-10"
CROP = (slice(260, 516), slice(520, 776))
LABEL = 16


def _tile(x: np.ndarray, label: str) -> Image.Image:
    picture = Image.fromarray(np.round(255 * np.clip(x, 0, 1)).astype(np.uint8)).convert("RGB")
    tile = Image.new("RGB", (picture.width, picture.height + LABEL), "white")
    tile.paste(picture, (0, 0))
    ImageDraw.Draw(tile).text((3, picture.height + 2), label, fill="black")
    return tile


def main(bgan: str) -> None:
    sharp = iio.imread(f"{PAIR}_gt.png")[..., 1].astype(np.float32) / 255
    real = iio.imread(f"{PAIR}.png")[..., 1].astype(np.float32) / 255
    synthetic = nd.synthesize_blur(sharp, "random_mix", seed=0, output_dtype="float32")[0]
    learned = nd.synthesize_blur(sharp, "learned", model=bgan, seed=0, output_dtype="float32")[0]
    tiles = [_tile(x[CROP], label) for x, label in ((sharp, "sharp"), (synthetic, "synthetic blur (random_mix)"),
                                                    (learned, "learned blur (BGAN)"), (real, "real blur"))]
    out = Image.new("RGB", (sum(t.width + 6 for t in tiles), tiles[0].height), "white")
    for i, tile in enumerate(tiles):
        out.paste(tile, (i * (tile.width + 6), 0))
    out.save(OUT)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main(sys.argv[1])
