"""Make docs/images/blur_gallery.png: python docs/make_blur_gallery.py (about half a minute on a CPU).

Rows: seeded camera-shake kernels beside the Levin et al. (2009) kernels (from ../shared/data when present),
each blur kind applied to one image, and a widefield PSF's xy and xz sections. Composed with Pillow, which
the package already depends on through imageio.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from skimage import data

from napari_deblur.synth.kinds import make_kernel
from napari_deblur.synth.psf import widefield_psf
from napari_deblur.synth.synthesize import synthesize_blur

OUT = Path(__file__).parent / "images" / "blur_gallery.png"
LEVIN = Path(__file__).resolve().parents[2] / "shared" / "data" / "levin09"
TILE = 128
LABEL = 16


def _tile(image: np.ndarray, label: str, gamma: float = 1.0) -> Image.Image:
    """A TILE x TILE picture (nearest-neighbour for small kernels) with a caption strip underneath."""
    x = np.asarray(image, np.float32)
    x = (x - x.min()) / (np.ptp(x) or 1.0)
    picture = Image.fromarray(np.round(255 * x**gamma).astype(np.uint8))
    resample = Image.Resampling.NEAREST if max(x.shape) < TILE else Image.Resampling.BILINEAR
    picture = picture.resize((TILE, TILE), resample)
    tile = Image.new("L", (TILE, TILE + LABEL), 255)
    tile.paste(picture, (0, 0))
    ImageDraw.Draw(tile).text((3, TILE + 2), label, fill=0)
    return tile


def _row(tiles: list[Image.Image], title: str, width: int) -> Image.Image:
    row = Image.new("L", (width, TILE + 2 * LABEL + 4), 255)
    ImageDraw.Draw(row).text((4, 2), title, fill=0)
    for i, tile in enumerate(tiles):
        row.paste(tile, (4 + i * (TILE + 4), LABEL + 2))
    return row


def kernel_rows() -> list[tuple[str, list[Image.Image]]]:
    sizes = [13, 15, 17, 19, 21, 23, 25, 27]
    ours = [_tile(make_kernel("camera_shake", seed=s, size=size), f"seed {s}, {size} px")
            for s, size in enumerate(sizes)]
    rows = [("camera_shake kernels (ours, seeded)", ours)]
    levin = sorted(LEVIN.glob("k0*.npy"))
    if levin:
        rows.append(("Levin et al. 2009 kernels (real camera shake)",
                     [_tile(np.load(p), f"{p.stem}, {np.load(p).shape[0]} px") for p in levin]))
    return rows


def effect_row() -> list[Image.Image]:
    sharp = data.camera()[96:352, 128:384].astype(np.float32) / 255
    depth = np.tile(np.linspace(0, 1, sharp.shape[1], dtype=np.float32), (sharp.shape[0], 1))
    cases = [
        ("camera_shake", {"size": 21}, "camera shake"),
        ("linear_motion", {"length": 15, "angle": 30}, "motion 15 px"),
        ("defocus", {"radius": 5}, "defocus r=5"),
        ("gaussian", {"sigma_x": 3, "sigma_y": 1, "angle": 45}, "gaussian 3x1"),
        ("widefield", {"na": 0.5, "pixel_size": 0.2, "defocus": 1.0}, "widefield, 1 um"),
    ]
    tiles = [_tile(sharp, "sharp")]
    for kind, params, label in cases:
        tiles.append(_tile(synthesize_blur(sharp, kind, seed=1, noise=0.01, **params)[0], label))
    varying = synthesize_blur(sharp, "defocus", seed=1, noise=0.01, depth=depth, radius=6)[0]
    tiles.append(_tile(varying, "depth-varying"))
    tiles.append(_tile(synthesize_blur(sharp, "camera_shake", seed=1, noise=0.02, jpeg_quality=20, size=21)[0],
                       "shake+noise+JPEG"))
    return tiles


def psf_row() -> list[Image.Image]:
    psf = widefield_psf(na=1.4, wavelength=0.52, ni=1.515, ns=1.515, pixel_size=0.05, z_step=0.05, nxy=65, nz=65)
    centre = psf.shape[0] // 2
    return [_tile(psf[centre], "xy, NA 1.4", gamma=0.3), _tile(psf[:, psf.shape[1] // 2], "xz, NA 1.4", gamma=0.3)]


def main() -> None:
    rows = [*kernel_rows(), ("each kind on one image (seed 1, noise 0.01)", effect_row()),
            ("widefield PSF sections (520 nm, 50 nm voxels; gamma 0.3)", psf_row())]
    width = 4 + max(len(tiles) for _, tiles in rows) * (TILE + 4)
    pictures = [_row(tiles, title, width) for title, tiles in rows]
    sheet = Image.new("L", (width, sum(p.height for p in pictures)), 255)
    y = 0
    for picture in pictures:
        sheet.paste(picture, (0, y))
        y += picture.height
    OUT.parent.mkdir(exist_ok=True)
    sheet.save(OUT)
    print(f"wrote {OUT} {sheet.size}")


if __name__ == "__main__":
    main()
