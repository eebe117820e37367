"""What the networks are: the model zoo, and the method registry that drives the widget, the CLI and the API.

``create(name, size)`` builds an untrained network; ``load_model(name_or_path)`` one with weights.
"""

from napari_deblur.zoo.families import FAMILIES, create
from napari_deblur.zoo.weights import load_model, save_model

__all__ = ["FAMILIES", "create", "load_model", "save_model"]
