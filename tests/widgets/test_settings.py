"""Settings files edited by hand or written by another version never stop a widget from opening."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

napari = pytest.importorskip("napari")

from napari_deblur.widgets.deblur import DeblurWidget  # noqa: E402
from napari_deblur.widgets.synth import SynthesizeBlurWidget  # noqa: E402
from napari_deblur.widgets.train import TrainWidget  # noqa: E402

pytestmark = pytest.mark.gui
WIDGETS = {"deblur_widget": DeblurWidget, "synth_widget": SynthesizeBlurWidget, "train_widget": TrainWidget}
BAD = [
    [],  # parses, but is not an object
    {"tile_size": -5, "noise": 7, "photons": "lots", "jpeg": 1000, "seed": [1], "steps": 0, "batch": "x",
     "lr": 5.0, "patch": 1, "val_every": None, "method": ["wiener"], "kind": {}, "source": 3,
     "params": {"wiener": {"balance": -1, "regularizer": "nope"}, "camera_shake": {"size": 10_000}},
     "blur_params": [], "pairs_folder": 12},
]


@pytest.mark.parametrize("content", BAD)
@pytest.mark.parametrize("name", list(WIDGETS))
def test_widget_opens_with_bad_settings(make_napari_viewer, name, content):
    path = Path(os.environ["NAPARI_DEBLUR_CONFIG_DIR"]) / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(content))
    with pytest.warns(RuntimeWarning, match="Ignoring"):
        widget = WIDGETS[name](make_napari_viewer())
    if name == "deblur_widget":
        widget.method.value = "wiener"
        assert widget.tile_size.value == 0 and widget.params.basic["balance"].value == pytest.approx(0.01)
    if name == "train_widget":
        assert widget.steps.value >= 1 and widget.lr.value <= 1
