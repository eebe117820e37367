"""The model zoo: network architectures, their :class:`Family` descriptions, and model files.

Importing the package imports every architecture file, and each registers its family, the deblurring ones as
methods (zoo/registration.py), so the families are known wherever the package is. ``create(name, size)`` builds an
untrained network; ``load_model(name_or_path)`` one with weights.
"""

from napari_deblur.zoo import (  # noqa: F401 - each registers itself; denoising registers pnp and denoise,
    # learned_blur the blur kind "learned"
    bgan,
    deblurgan,
    denoising,
    drunet,
    learned_blur,
    msdf_unet,
    nafnet,
    srn,
    swin_unet,
)
from napari_deblur.zoo.family import FAMILIES, Family, create, deblurring_families
from napari_deblur.zoo.weights import load_model, save_model

__all__ = ["FAMILIES", "Family", "create", "deblurring_families", "load_model", "save_model"]
