"""How a model learns: configuration, data, losses, the Lightning trainer, evaluation.

``train(cfg)`` runs in this process (``napari_deblur.train(cfg)`` is the same function); ``TrainingProcess(cfg)``
runs the same in a subprocess and streams its events (what the widget uses); ``evaluate(method, ...)`` scores any
method on pairs or a synthetic protocol::

    from napari_deblur.training import TrainConfig, train
    path = train(TrainConfig(model="nafnet", scenes="dead_leaves", steps=2000, name="my-model"))
    sharp = napari_deblur.deblur(image, "nafnet", weights="my-model")

Lightning is imported only when ``train`` is used, so the widget can import the config and the process cheaply.
"""

from __future__ import annotations

from typing import Any

from napari_deblur.training import data_check  # noqa: F401 - registers the data checks TrainConfig.validate runs
from napari_deblur.training.config import TrainConfig

# Imported eagerly: the submodule is also called ``evaluate``, and importing it later would otherwise rebind
# the package attribute to the module instead of the function.
from napari_deblur.training.evaluate import evaluate

__all__ = ["TrainConfig", "TrainingProcess", "evaluate", "train"]

_LAZY = {"train": "napari_deblur.training.run", "TrainingProcess": "napari_deblur.training.process"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
