"""The model zoo: network architectures, their :class:`Family` descriptions, and model files.

Importing the package imports every architecture file, and each registers its family as a deblurring method
(zoo/registration.py), so the families are known wherever the package is. ``create(name, size)`` builds an
untrained network; ``load_model(name_or_path)`` one with weights.
"""

from napari_deblur.zoo import deblurgan, msdf_unet, nafnet, srn, swin_unet  # noqa: F401 - each registers itself
from napari_deblur.zoo.family import FAMILIES, Family, create
from napari_deblur.zoo.weights import load_model, save_model

__all__ = ["FAMILIES", "Family", "create", "load_model", "save_model"]
