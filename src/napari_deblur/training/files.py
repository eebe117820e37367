"""Training image files: finding pairs (plain or GoPro layout) and sharp images, checking them from their
headers, reading them as stacks of 2D planes, and writing napari layer pairs as a folder.

Every image becomes (planes, channels, H, W): an RGB(A) image is one 3-channel plane, a z-stack or time series
one grey plane per slice. Checks read only headers, so a folder of thousands of images is checked in seconds.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import tifffile

from napari_deblur.colour import COLOUR_CHANNELS, is_colour

# io's own TIFF axes mapping, so headers are read exactly as read_image reads the pixels.
from napari_deblur.io import TIFF_SUFFIXES, read_image, tiff_axes, write_image
from napari_deblur.restore.intensity import policy_range

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".webp", *TIFF_SUFFIXES})
Pair = tuple[Path, Path]


def find_images(folder: str | os.PathLike, recursive: bool = True) -> list[Path]:
    """Image files under ``folder`` (hidden files and folders skipped), sorted."""
    folder = Path(folder)
    found = folder.rglob("*") if recursive else folder.glob("*")
    return sorted(p for p in found if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
                  and not any(part.startswith(".") for part in p.relative_to(folder).parts))


def find_pairs(folder: str | os.PathLike) -> list[Pair]:
    """(blurred, sharp) files of ``folder/blur`` + ``folder/sharp``, or of every ``*/blur`` + ``*/sharp`` (GoPro),
    or, in a flat folder, ``<name>.png`` + ``<name>_gt.png`` (or ``_sharp``).

    Files pair by name (the stem, so ``a.png`` pairs with ``a.tif``). Unmatched files in blur/ or sharp/ raise
    ``ValueError``.
    """
    folder = existing_folder(folder, "pairs")
    if (folder / "blur").is_dir() and (folder / "sharp").is_dir():
        groups = [folder]
    else:
        groups = sorted(d.parent for d in folder.rglob("blur") if d.is_dir() and (d.parent / "sharp").is_dir())
    if not groups:
        flat = _flat_pairs(folder)
        if flat:
            return flat
        raise ValueError(f"No pairs in {folder}: expected blur/ and sharp/ subfolders with matching file names, "
                         "the GoPro layout <sequence>/blur/, <sequence>/sharp/, or <name>.png beside "
                         "<name>_gt.png in one folder.")
    pairs: list[Pair] = []
    unmatched: list[str] = []
    for group in groups:
        blur, sharp = ({p.stem: p for p in find_images(group / sub, recursive=False)} for sub in ("blur", "sharp"))
        unmatched += [str((blur.get(k) or sharp[k]).relative_to(folder)) for k in sorted(blur.keys() ^ sharp.keys())]
        pairs += [(blur[k], sharp[k]) for k in sorted(blur.keys() & sharp.keys())]
    if unmatched:
        more = f" and {len(unmatched) - 10} more" if len(unmatched) > 10 else ""
        raise ValueError(f"{len(unmatched)} file(s) in {folder} have no partner of the same name: "
                         f"{', '.join(unmatched[:10])}{more}. Each blur/<name> needs a sharp/<name>.")
    if not pairs:
        raise ValueError(f"The blur/ and sharp/ folders in {folder} hold no images "
                         f"({', '.join(sorted(IMAGE_SUFFIXES))}).")
    return pairs


def _flat_pairs(folder: Path) -> list[Pair]:
    """``<name>.<ext>`` (blurred) beside ``<name>_gt.<ext>`` or ``<name>_sharp.<ext>`` (sharp) in one folder.

    The naming of frame-averaged GoPro-style sets; files without a partner are ignored here, since a flat
    folder may hold anything else too (a README, kernels).
    """
    images = {p.stem: p for p in find_images(folder, recursive=False)}
    pairs = []
    for stem, sharp in images.items():
        for tag in ("_gt", "_sharp"):
            if stem.endswith(tag) and stem[: -len(tag)] in images:
                pairs.append((images[stem[: -len(tag)]], sharp))
    return sorted(pairs)


def existing_folder(path: str | os.PathLike, what: str) -> Path:
    folder = Path(path).expanduser()
    if not folder.is_dir():
        problem = "is not a folder" if folder.exists() else "does not exist"
        raise ValueError(f"The {what} folder {folder} {problem}.")
    return folder


def _plane_layout(shape: tuple[int, ...], axes: str | None) -> tuple[int, int, int, int, int | None]:
    """(planes, channels, H, W, colour axis) of an array as :func:`load_planes` splits it.

    Colour is a trailing RGB(A) axis (YXC, or any 3D array without axes, as imageio returns), or a planar
    RGB(A) TIFF (..CYX with 3-4 channels); every other leading axis (Z, T, other channels) gives 2D planes.
    """
    if len(shape) < 2:
        raise ValueError(f"An image needs at least 2 dimensions; got shape {shape}.")
    if len(shape) >= 3 and shape[-1] <= 4 and (axes.endswith("C") if axes else len(shape) == 3):
        return int(np.prod(shape[:-3], dtype=int)), (3 if shape[-1] >= 3 else 1), shape[-3], shape[-2], -1
    if axes and axes.endswith("CYX") and shape[-3] in COLOUR_CHANNELS:  # colour first, as some TIFFs store it
        return int(np.prod(shape[:-3], dtype=int)), 3, shape[-2], shape[-1], -3
    return int(np.prod(shape[:-2], dtype=int)), 1, shape[-2], shape[-1], None


def image_shape(path: Path) -> tuple[int, int, int, int]:
    """(planes, channels, H, W) from the file's header, without decoding the pixels."""
    try:
        if path.suffix.lower() in TIFF_SUFFIXES:
            with tifffile.TiffFile(path) as tif:
                series = tif.series[0]
                shape, axes = tuple(series.shape), tiff_axes(series.axes, len(series.shape))
        else:
            from PIL import Image

            with Image.open(path) as im:
                bands = len(im.getbands())
                shape, axes = (im.size[1], im.size[0]) + ((bands,) if bands > 1 else ()), None
    except Exception as e:  # any decoder's failure means the same to the user: this file is unreadable
        raise ValueError(f"Cannot read the image {path}: {e}") from None
    return _plane_layout(shape, axes)[:4]


def check_sizes(paths: list[Path], patch: int) -> int:
    """Raise if an image is smaller than ``patch``; return the smallest image side."""
    sides = []
    for path in paths:
        _, _, h, w = image_shape(path)
        if min(h, w) < patch:
            raise ValueError(f"The image {path} ({h}x{w}) is smaller than the patch ({patch}x{patch}); use a "
                             "smaller patch or remove the image.")
        sides.append(min(h, w))
    return min(sides)


def check_pairs(folder: str, patch: int) -> tuple[list[Pair], int]:
    """The pairs in ``folder``, checked to be aligned and at least ``patch`` in size; and the smallest side."""
    pairs = find_pairs(folder)
    for b, s in pairs:
        if image_shape(b) != image_shape(s):
            raise ValueError(f"The pair {b} and {s} differ in shape {image_shape(b)} vs {image_shape(s)} "
                             "(planes, channels, height, width); pairs must be pixel-aligned.")
    return pairs, check_sizes([s for _, s in pairs], patch)


def load_planes(path: Path) -> tuple[np.ndarray, float, float]:
    """The image as (planes, channels, H, W) in its own dtype, and its (low, high) intensity range."""
    arr, axes = read_image(path)
    n, c, h, w, colour = _plane_layout(arr.shape, axes)
    if colour == -1:  # RGBA loses alpha, grey + alpha keeps grey
        planes = np.moveaxis(arr[..., :c].reshape(n, h, w, c), -1, 1)
    elif colour == -3:
        planes = arr[..., :c, :, :].reshape(n, c, h, w)
    else:
        planes = arr.reshape(n, 1, h, w)
    low, high = policy_range(planes)  # the engine's intensity policy: training sees what inference sees
    return planes, low, high


def normalize(x: np.ndarray, low: float, high: float) -> np.ndarray:
    """Planes of :func:`load_planes` mapped by its (low, high) range to float32 in [0, 1]."""
    return np.clip((x.astype(np.float32) - low) / (high - low), 0, 1)


def layer_pairs_to_folder(blurred_list: list[Any], sharp_list: list[Any], folder: str | os.PathLike) -> Path:
    """Write (blurred, sharp) arrays as TIFF pairs ``folder/blur/layer_NNN.tif``, ``folder/sharp/layer_NNN.tif``.

    Earlier ``layer_*.tif`` files there are removed first, so the folder holds exactly these pairs.
    """
    if len(blurred_list) != len(sharp_list) or not blurred_list:
        raise ValueError(f"Give as many sharp as blurred images, at least one; got {len(blurred_list)} blurred "
                         f"and {len(sharp_list)} sharp.")
    folder = Path(folder)
    for sub in ("blur", "sharp"):
        for old in (folder / sub).glob("layer_*.tif"):
            old.unlink()
    for i, (b, s) in enumerate(zip(blurred_list, sharp_list)):
        # napari layers carry their pixels in .data (an ndarray's .data is only its buffer).
        b, s = (np.asarray(a if isinstance(a, np.ndarray) else getattr(a, "data", a)) for a in (b, s))
        if b.shape != s.shape:
            raise ValueError(f"Pair {i}: the blurred image {b.shape} and the sharp image {s.shape} differ in "
                             "shape; pairs must be pixel-aligned.")
        axes = "YXC" if is_colour(b.shape) else {2: "YX", 3: "ZYX"}.get(b.ndim)
        write_image(folder / "blur" / f"layer_{i:03d}.tif", b, axes)
        write_image(folder / "sharp" / f"layer_{i:03d}.tif", s, axes)
    return folder


def check_writable(path: Path) -> None:
    """Raise ``ValueError`` unless ``path`` could be written, without creating anything: its nearest existing
    ancestor must be a writable folder."""
    ancestor = path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise ValueError(f"Cannot create the output folder {path.parent}: {ancestor} is a file, not a folder. "
                         "Choose another output path.")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise ValueError(f"Cannot write the model to {path}: {ancestor} is not writable. Choose another "
                         "output path.")
