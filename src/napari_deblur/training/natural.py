"""Natural training images that ship inside scikit-image (no download), split into training and validation.

Procedural dead leaves alone teach a network to paint flat discs into everything; real photographs carry the
textures, gradients and edges that users' images have. Nothing can be downloaded, so the images are those that
scikit-image keeps inside its own package. ``camera`` is held out for validation because the Set12 benchmark
contains the same cameraman; ``chelsea`` is held out as a colour photograph. Every image is also used at 3/4
and 1/2 scale (anti-aliased), so edges come in more sizes than the few photographs have.

``scenes="natural"`` in a ``TrainConfig`` draws crops from these images, and a fraction of dead-leaves scenes
(:data:`DEAD_LEAVES_FRACTION`) for their variety of shapes and scales.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

#: scikit-image data functions whose files are inside the package (checked to load offline).
TRAIN_IMAGES = ("astronaut", "coffee", "rocket", "coins", "moon", "page", "text", "hubble_deep_field",
                "immunohistochemistry", "retina", "brick", "grass", "gravel", "cell")
VAL_IMAGES = ("camera", "chelsea")
SCALES = (1.0, 0.75, 0.5)
DEAD_LEAVES_FRACTION = 0.25
MIN_SIDE = 96  # smaller rescaled images are dropped: they cannot hold a patch with its blur margin


@lru_cache(maxsize=2)
def natural_images(split: str = "train") -> tuple[np.ndarray, ...]:
    """The images of ``split`` ("train" or "val") as (C, H, W) float32 in [0, 1] (C = 1 grey or 3 RGB).

    The training split holds every image at each of :data:`SCALES`; the validation split at full scale only.
    Cached per process (each DataLoader worker loads them once, about 20 MB).
    """
    import skimage.data
    from skimage.transform import rescale

    if split not in ("train", "val"):
        raise ValueError(f"split must be 'train' or 'val'; got {split!r}.")
    names, scales = (TRAIN_IMAGES, SCALES) if split == "train" else (VAL_IMAGES, (1.0,))
    out = []
    for name in names:
        image = np.asarray(getattr(skimage.data, name)())
        image = image.astype(np.float32) / (255.0 if image.dtype == np.uint8 else 1.0)
        image = image[..., :3] if image.ndim == 3 else image
        for scale in scales:
            scaled = image if scale == 1 else rescale(image, scale, anti_aliasing=True,
                                                      channel_axis=-1 if image.ndim == 3 else None)
            if min(scaled.shape[:2]) < MIN_SIDE:
                continue
            chw = np.moveaxis(scaled, -1, 0) if scaled.ndim == 3 else scaled[None]
            out.append(np.ascontiguousarray(np.clip(chw, 0, 1), dtype=np.float32))
    return tuple(out)
