"""The zoo side by side: docs/images/model_comparison.png and the table of shipped families in docs/models.md.

    python docs/make_model_comparison.py   (a minute on a CPU; run benchmarks/zoo_quality.py first for the scores)

The picture: one crop of a Kodak image blurred with a Levin kernel (sigma 0.01) and one crop of a real GoPro
frame, each as blurred input, every shipped general model (blind), and the sharp truth. The table reads the
model cards: parameters, the zoo_quality scores and the training time each model's recipe took.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np
from PIL import Image, ImageDraw

import napari_deblur as nd
from napari_deblur.zoo.weights import read_card

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
OUT = ROOT / "docs" / "images" / "model_comparison.png"
MODELS_MD = ROOT / "docs" / "models.md"
sys.path.insert(0, str(ROOT / "benchmarks"))
from _report import blur_protocol  # noqa: E402

CROP, LABEL = 192, 16


def shipped_general() -> list[str]:
    """Families with a shipped general model (<family>-small in weights/)."""
    return [f for f in sorted(nd.zoo.FAMILIES) if (ROOT / "weights" / f"{f}-small.safetensors").is_file()]


def _tile(image: np.ndarray, label: str) -> Image.Image:
    picture = Image.fromarray(np.round(255 * np.clip(image, 0, 1)).astype(np.uint8))
    tile = Image.new("RGB", (CROP, CROP + LABEL), "white")
    tile.paste(picture, (0, 0))
    ImageDraw.Draw(tile).text((3, CROP + 2), label, fill="black")
    return tile


def _scenes() -> list[tuple[np.ndarray, np.ndarray]]:
    """(blurred, sharp) colour crops: Kodak 5 x Levin kernel 4, and a real GoPro frame."""
    sharp = iio.imread(SHARED / "kodak24" / "kodim05.png").astype(np.float32)[160:160 + CROP, 300:300 + CROP] / 255
    blurred = blur_protocol(sharp, np.load(SHARED / "levin09" / "k04.npy"), 0.01, np.random.default_rng(0))
    stem = SHARED / "gopro_frameavg_GOPR0374" / "GOPR0374_11_00_st_frame-802_n_avg-10"
    real = iio.imread(f"{stem}.png").astype(np.float32)[300:300 + CROP, 500:500 + CROP] / 255
    truth = iio.imread(f"{stem}_gt.png").astype(np.float32)[300:300 + CROP, 500:500 + CROP] / 255
    return [(blurred, sharp), (real[..., :3], truth[..., :3])]


def picture(models: list[str]) -> None:
    rows = []
    for blurred, sharp in _scenes():
        tiles = [_tile(blurred, "blurred input")]
        tiles += [_tile(nd.deblur(blurred, m, output_dtype="float32"), m) for m in models]
        tiles.append(_tile(sharp, "sharp"))
        row = Image.new("RGB", (len(tiles) * (CROP + 4), CROP + LABEL), "white")
        for i, tile in enumerate(tiles):
            row.paste(tile, (i * (CROP + 4), 0))
        rows.append(row)
    out = Image.new("RGB", (rows[0].width, sum(r.height + 4 for r in rows)), "white")
    for i, row in enumerate(rows):
        out.paste(row, (0, i * (row.height + 4)))
    out.save(OUT)
    print(f"wrote {OUT}")


def table(models: list[str]) -> None:
    lines = ["| family | parameters | Kodak24 x Levin | Set12 x Levin | GoPro (real) | sharp input | s / MP | "
             "training (CPU hours) |", "|---|---|---|---|---|---|---|---|"]
    for m in models:
        card = read_card(ROOT / "weights" / f"{m}-small.safetensors")
        s = card.get("scores", {})

        def db(key: str, s: dict = s) -> str:
            return f"{s[key]:+.2f} dB" if key in s else "-"

        hours = card.get("training", {}).get("seconds", 0) / 3600
        speed = f"{s['seconds_per_mp']:.2f}" if "seconds_per_mp" in s else "-"
        lines.append(f"| `{m}` | {card['parameters'] / 1e6:.2f} M | {db('kodak24_levin_gain_db')} | "
                     f"{db('set12_levin_gain_db')} | {db('gopro_gain_db')} | {db('sharp_input_change_db')} | "
                     f"{speed} | {hours:.1f} |")
    body = "\n".join(["Gains over the blurred input, blind, from `benchmarks/zoo_quality.py` (the protocol in "
                      "benchmarks.md); *sharp input* is the change on unblurred noisy Kodak24 (0 is ideal). "
                      "Targets: +3 dB on the synthetic sets, +0.5 dB on real blur, at most 0.3 dB lost on sharp "
                      "input. Seconds per megapixel: a 1024x1024 grey image on the benchmark's CPU, default precision "
                      "(the *Sizes at a glance* table above has float32 and bfloat16 for every size).", "", *lines, "",
                      "![Each shipped model beside the input and the truth](images/model_comparison.png)"])
    text = MODELS_MD.read_text()
    start, end = "<!-- shipped-models:start -->", "<!-- shipped-models:end -->"
    block = f"{start}\n{body}\n{end}"
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    MODELS_MD.write_text(pattern.sub(lambda _: block, text) if pattern.search(text) else text + "\n" + block + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    general = shipped_general()
    picture(general)
    table(general)
