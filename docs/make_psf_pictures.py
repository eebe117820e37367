"""Make docs/images/psf_workflows.png: python docs/make_psf_pictures.py (seconds on a CPU).

Left to right: a widefield PSF generated from the optics (xy at focus and xz, gamma 0.5 to show the rings), a
simulated bead image with the beads used circled in green and those left out in red, and the PSF measured from
those beads beside the true one. Below: a Kodak photo blurred with a Levin kernel (sigma 0.01), the kernel
estimated from it beside the true one, and Wiener deconvolution with the estimated kernel (the case the tests use).
Composed with Pillow, as the other pictures.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

import napari_deblur as nd

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "images" / "psf_workflows.png"
sys.path.insert(0, str(ROOT))
from tests.psfs.test_beads import _render  # noqa: E402 - the same simulated beads the tests use
from tests.psfs.test_estimate import _case  # noqa: E402 - and the same blurred photo

TILE, LABEL = 200, 16


def _picture(x: np.ndarray, label: str, gamma: float = 1.0, size: int = TILE) -> Image.Image:
    x = np.asarray(x, np.float64)
    x = (x - x.min()) / (np.ptp(x) or 1.0)
    picture = Image.fromarray(np.round(255 * x**gamma).astype(np.uint8)).convert("RGB")
    picture = picture.resize((size, size), Image.Resampling.NEAREST if max(x.shape) < size else
                             Image.Resampling.BILINEAR)
    tile = Image.new("RGB", (size, size + LABEL), "white")
    tile.paste(picture, (0, 0))
    ImageDraw.Draw(tile).text((3, size + 2), label, fill="black")
    return tile


def _save_rows(rows: list[Image.Image], out) -> None:
    """Stack picture rows of equal width top to bottom on white and save them to ``out``."""
    picture = Image.new("RGB", (rows[0].width, sum(r.height for r in rows)), "white")
    for i, row in enumerate(rows):
        picture.paste(row, (0, i * row.height))
    picture.save(out)
    print(f"wrote {out}")


def main() -> None:
    optics = {"na": 1.2, "wavelength": 0.6, "pixel_size": 0.1}
    stack = nd.optics_psf("widefield", ndim=3, z_step=0.2, nz=31, **optics)
    truth = nd.optics_psf("widefield", ndim=2, **optics)
    rng = np.random.default_rng(3)
    spots = [(np.array([40 + 55 * i + rng.random(), 40 + 55 * j + rng.random()]), rng.uniform(6e3, 1.5e4))
             for i in range(4) for j in range(4)]
    spots += [(np.array([262.2, 160.4]), 1e4), (np.array([265.7, 164.1]), 1e4), (np.array([260.3, 60.6]), 4e5)]
    image = np.minimum(_render((300, 280), truth, spots, rng), 4095).astype(np.uint16)
    result = nd.psf_from_beads(image, size=truth.shape[0])

    beads = _picture(np.sqrt(image.astype(float)), f"{len(result.used)} beads used (green), left out (red)",
                     size=280)
    draw = ImageDraw.Draw(beads)
    sy, sx = 280 / image.shape[0], 280 / image.shape[1]  # the tile is square: each axis has its own scale
    for positions, colour in [(result.used, "lime"), *[(v, "red") for v in result.rejected.values()]]:
        for y, x in positions:
            r = 10
            draw.ellipse([x * sx - r, y * sy - r, x * sx + r, y * sy + r], outline=colour, width=2)
    c, w = stack.shape[1] // 2, 20  # the central 41 pixels: the model's grid is much larger than the spot
    tiles = [_picture(stack[stack.shape[0] // 2, c - w:c + w + 1, c - w:c + w + 1], "generated: xy at focus", 0.5),
             _picture(stack[:, c, c - w:c + w + 1], "generated: xz", 0.5), beads,
             _picture(result.psf, "measured from the beads", 0.5), _picture(truth, "true PSF", 0.5)]
    blurred, _, kernel = _case(13, 5)
    estimate = nd.estimate_kernel(blurred, 31)
    sharp = nd.deblur(blurred, "wiener", psf=estimate, balance=0.02)
    side = estimate.shape[0]
    true = np.zeros_like(estimate)
    o = (side - kernel.shape[0]) // 2
    true[o:o + kernel.shape[0], o:o + kernel.shape[1]] = kernel  # on the estimate's grid, for the same scale
    photos = [_picture(blurred, "blurred photo (Levin kernel 5)", size=280), _picture(estimate, "estimated kernel"),
              _picture(true, "true kernel"), _picture(np.clip(sharp, 0, 1), "Wiener, estimated kernel", size=280)]
    rows = [tiles, photos]
    width = max(sum(t.width + 6 for t in row) for row in rows)
    heights = [max(t.height for t in row) for row in rows]
    out = Image.new("RGB", (width, sum(heights) + 10), "white")
    y = 0
    for row, height in zip(rows, heights):
        x = 0
        for tile in row:
            out.paste(tile, (x, y))
            x += tile.width + 6
        y += height + 10
    out.save(OUT)
    print(f"wrote {OUT}: {result.summary()}")


if __name__ == "__main__":
    main()
