"""Sample data for napari's File ▸ Open Sample menu, generated on the fly and seeded (nothing downloaded).

Each function returns napari layer-data tuples ``(data, kwargs, "image")`` and imports no napari, so the
same samples serve scripts and tests: ``data, kwargs, _ = blurred_photo()[1]``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LayerData = tuple[np.ndarray, dict[str, Any], str]

PHOTO_SEED = 3
CELLS_SEED = 7
#: Voxel size of the fluorescence sample, in µm (z, y, x): a 60x/1.2 NA water objective on a typical camera.
CELLS_SCALE = (0.25, 0.1, 0.1)


def blurred_photo() -> list[LayerData]:
    """scikit-image's astronaut, blurred by a seeded camera-shake kernel with noise; plus the sharp original
    (hidden) and the kernel."""
    from skimage import data

    from napari_deblur.synth.synthesize import synthesize_blur

    sharp = data.astronaut()
    blurred, kernel = synthesize_blur(sharp, "camera_shake", seed=PHOTO_SEED, noise=0.01, rgb=True, size=25)
    meta = {"napari_deblur": {"synthesized": "camera_shake", "seed": PHOTO_SEED, "noise": 0.01}}
    return [
        (sharp, {"name": "astronaut (sharp)", "rgb": True, "visible": False}, "image"),
        (blurred, {"name": "astronaut blurred (camera_shake)", "rgb": True, "metadata": meta}, "image"),
        (kernel, {"name": "camera_shake kernel", "colormap": "magma", "metadata": meta}, "image"),
    ]


def blurred_cells_3d() -> list[LayerData]:
    """A fluorescence-like z-stack blurred by a widefield PSF (NA 1.2, water) with shot and read noise, as
    uint16 counts; plus the ground truth (hidden) and the PSF, all with their voxel size."""
    from napari_deblur.synth.scenes import fluorescence
    from napari_deblur.synth.synthesize import synthesize_blur

    sharp = fluorescence((32, 128, 128), seed=CELLS_SEED)
    counts = np.round(100 + 3000 * sharp).astype(np.uint16)  # camera offset + signal, in counts
    psf_params = {"na": 1.2, "ni": 1.33, "ns": 1.33, "wavelength": 0.52, "pixel_size": CELLS_SCALE[1],
                  "z_step": CELLS_SCALE[0]}
    blurred, psf = synthesize_blur(counts, "widefield", seed=CELLS_SEED, noise=0.005, photons=300, axes="ZYX",
                                   **psf_params)
    meta = {"napari_deblur": {"synthesized": "widefield", "seed": CELLS_SEED, "params": psf_params}}
    return [
        (counts, {"name": "cells (ground truth)", "scale": CELLS_SCALE, "visible": False}, "image"),
        (blurred, {"name": "cells blurred (widefield)", "scale": CELLS_SCALE, "metadata": meta}, "image"),
        (psf, {"name": "widefield PSF", "scale": CELLS_SCALE, "colormap": "magma", "metadata": meta}, "image"),
    ]
