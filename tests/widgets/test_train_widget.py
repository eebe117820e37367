"""The training dock widget under Xvfb: tiny real trainings in a subprocess, Stop, bad configs, field switching."""

from __future__ import annotations

from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

napari = pytest.importorskip("napari")

from napari_deblur.hardware import training_device_text  # noqa: E402
from napari_deblur.training.events import Error  # noqa: E402
from napari_deblur.widgets._train_sources import SOURCES  # noqa: E402
from napari_deblur.widgets.deblur import DeblurWidget  # noqa: E402
from napari_deblur.widgets.train import TrainWidget  # noqa: E402

pytestmark = pytest.mark.gui


@pytest.fixture
def model_dir(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "models"
    monkeypatch.setenv("NAPARI_DEBLUR_MODEL_DIR", str(folder))
    return folder


def tiny(widget: TrainWidget, steps: int = 20, name: str = "") -> None:
    """Procedural dead leaves, NAFNet small, 32-pixel patches: seconds on a CPU."""
    widget.source.value = "procedural scenes"
    widget.scenes.value = "dead_leaves"
    widget.model.value = "nafnet"
    widget.size.value = "small"
    widget.name.value = name or widget.name.value
    widget.steps.value, widget.batch.value, widget.patch.value = steps, 2, 32
    widget.val_every.value = 10


def test_tiny_training_streams_events_and_saves_model(make_napari_viewer, qtbot, model_dir, no_shipped_weights):
    viewer = make_napari_viewer()
    deblur = DeblurWidget(viewer)
    viewer.window.add_dock_widget(deblur)
    deblur.method.value = "nafnet"
    widget = TrainWidget(viewer)
    viewer.window.add_dock_widget(widget)
    # Named like the shipped weights of nafnet small, so the Deblur widget's "(untrained)" mark must go.
    tiny(widget, name="nafnet-small")
    # The preview follows a z-stack's current plane and sits over the crop it came from.
    stack = np.random.default_rng(0).random((2, 40, 50), dtype=np.float32)
    mine = viewer.add_image(stack, name="mine", scale=(1, 2, 2), translate=(0, 10, 0))
    viewer.dims.set_point(0, 1)
    widget.preview_on.value = mine
    widget.start()
    assert widget.running and not widget.start_button.enabled and widget.stop_button.enabled
    qtbot.waitUntil(lambda: widget.progress.value > 0, timeout=90_000)
    qtbot.waitUntil(lambda: not widget.running, timeout=90_000)

    model = model_dir / "nafnet-small.safetensors"
    assert widget.status.value == f"Saved {model}", widget.status.value
    assert model.is_file()
    assert widget.progress.value == widget.progress.max == 20
    assert widget.plot.loss_steps and all(np.isfinite(widget.plot.losses))
    assert widget.plot.psnr_steps  # a validation at step 10 and/or 20
    assert len(widget.plot._loss.getData()[0]) == len(widget.plot.loss_steps)  # drawn, not just stored
    assert "steps/s" in widget.eta.value
    preview = viewer.layers["training preview"]
    assert preview.data.shape == (32, 48) and preview.data.dtype == np.float32
    assert tuple(preview.scale) == (2, 2) and tuple(preview.translate) == (10 + 4 * 2, 1 * 2)
    config = widget._config
    np.testing.assert_array_equal(iio.imread(config.preview_image), stack[1])  # the plane on show
    assert widget.start_button.enabled and not widget.stop_button.enabled
    labels = [deblur.method.native.itemText(i) for i in range(deblur.method.native.count())]
    # The user's model: no purpose on its card, so its family, size and steps.
    assert any(label.startswith("nafnet: Trained nafnet (small), ") and label.endswith(" steps") for label in labels)
    assert deblur.run_button.enabled
    # The finished model leaves as a BioImage Model Zoo package (tests/test_bioimageio.py checks packages fully).
    pytest.importorskip("bioimageio.spec")
    assert widget.exporter.button.enabled and str(widget.exporter.path.value).endswith("nafnet-small.zip")
    widget.exporter.path.value = str(model_dir / "exported.zip")
    widget.exporter.export()
    qtbot.waitUntil(lambda: "Exported" in widget.status.value or "Error" in widget.status.value, timeout=90_000)
    assert (model_dir / "exported.zip").is_file(), widget.status.value


def test_stop_ends_long_run_within_seconds_and_resume_continues(make_napari_viewer, qtbot, model_dir):
    widget = TrainWidget(make_napari_viewer())
    tiny(widget, steps=100_000, name="long")
    widget.val_every.value = 100_000
    widget.start()
    qtbot.waitUntil(lambda: len(widget.plot.loss_steps) > 0, timeout=90_000)
    process = widget.process
    widget.stop()
    qtbot.waitUntil(lambda: not widget.running, timeout=60_000)  # a graceful stop, not a hang until the 100,000th step
    assert widget.status.value.startswith("Stopped at step"), widget.status.value
    assert not process.running and process.returncode == 0
    assert (model_dir / "long.run" / "last.ckpt").is_file()
    assert (model_dir / "long.safetensors").is_file()  # the weights reached, listed in the Deblur dock

    stopped_at = int(widget.status.value.split()[3].rstrip(";"))
    n_points = len(widget.plot.loss_steps)
    widget.start(resume=True)
    assert widget.running
    qtbot.waitUntil(lambda: len(widget.plot.loss_steps) > n_points, timeout=90_000)
    assert widget.plot.loss_steps[-1] > stopped_at  # continued from the checkpoint, plot kept
    widget.stop()
    qtbot.waitUntil(lambda: not widget.running, timeout=20_000)
    assert widget.status.value.startswith("Stopped at step")


def test_bad_config_shows_error_and_starts_nothing(make_napari_viewer, tmp_path, model_dir):
    widget = TrainWidget(make_napari_viewer())
    widget.source.value = "paired folder"
    widget.start()
    assert widget.status.value.startswith("Error: No pairs folder")
    assert not widget.running

    empty = tmp_path / "empty"
    empty.mkdir()
    widget.pairs_folder.value = empty
    widget.start()
    assert widget.status.value.startswith("Error:") and str(empty) in widget.status.value, widget.status.value
    assert not widget.running and widget.start_button.enabled

    widget.source.value = "layer pairs"  # no layers in the viewer
    widget.start()
    assert "Choose the image layers" in widget.status.value
    widget.start(resume=True)
    assert "Nothing to resume" in widget.status.value
    assert not widget.running


def test_error_event_is_reported(make_napari_viewer):
    widget = TrainWidget(make_napari_viewer())
    widget.handle_event(Error("CUDA out of memory"))
    assert widget.status.value == "Error: CUDA out of memory"


def test_data_source_switching_shows_the_right_fields(make_napari_viewer):
    widget = TrainWidget(make_napari_viewer())
    shown = {
        "layer pairs": {"blurred_layer", "sharp_layer"},
        "paired folder": {"pairs_folder"},
        "sharp folder + synthetic blur": {"sharp_folder", "blur", "noise"},
        "sharp layer + synthetic blur": {"sharp_layer", "blur", "noise"},
        "procedural scenes": {"scenes", "blur", "noise"},
        "sharp folder + learned blur": {"sharp_folder", "generator", "blur", "noise"},
    }
    assert set(shown) == set(SOURCES)
    fields = {"blurred_layer", "sharp_layer", "pairs_folder", "sharp_folder", "real_folder", "generator", "scenes",
              "blur", "noise"}
    for source, visible in shown.items():
        widget.source.value = source
        assert {f for f in fields if not getattr(widget, f).native.isHidden()} == visible, source
        assert widget.blur_panel.basic.native.isHidden() == ("blur" not in visible)


def test_blur_kind_fields_model_list_and_name(make_napari_viewer):
    from napari_deblur.zoo import FAMILIES

    widget = TrainWidget(make_napari_viewer())
    assert set(widget.model.choices) == set(FAMILIES)
    assert "custom" not in widget.blur.choices
    widget.blur.value = "defocus"
    assert widget.blur_params() == {"radius": 5.0}
    widget.model.value, widget.size.value = "srn", "base"
    assert widget.name.value == "srn-base-custom"
    widget.name.value = "mine"
    widget.model.value = "nafnet"
    assert widget.name.value == "mine"  # a typed name is kept
    cfg = widget.build_config()
    assert (cfg.model, cfg.size, cfg.name) == ("nafnet", "small", "mine")
    assert (cfg.blur, cfg.scenes, cfg.pairs, cfg.sharp) == ("defocus", "dead_leaves", "", "")
    assert cfg.checkpoint_every == cfg.val_every


def test_layer_pairs_become_a_pairs_folder(make_napari_viewer, model_dir):
    viewer = make_napari_viewer()
    rng = np.random.default_rng(0)
    sharp = viewer.add_image(rng.random((64, 64), dtype=np.float32), name="sharp")
    blurred = viewer.add_image(rng.random((3, 64, 64), dtype=np.float32), name="blurred x3")
    widget = TrainWidget(viewer)
    widget.source.value = "layer pairs"
    widget.blurred_layer.value, widget.sharp_layer.value = blurred, sharp
    widget.patch.value = 32
    cfg = widget.build_config()
    assert cfg.pairs and Path(cfg.pairs).is_dir()
    cfg.validate()

    widget.source.value = "sharp layer + synthetic blur"
    cfg = widget.build_config()
    assert cfg.sharp and any(Path(cfg.sharp).iterdir())
    cfg.validate()


def test_settings_persist_between_sessions(make_napari_viewer, tmp_path):
    widget = TrainWidget(make_napari_viewer())
    widget.source.value = "sharp folder + synthetic blur"
    widget.sharp_folder.value = tmp_path
    widget.model.value, widget.steps.value, widget.lr.value = "srn", 1234, 0.0005
    widget.blur.value = "defocus"
    widget.blur_panel.basic["radius"].value = 7.5
    widget._save()
    again = TrainWidget(make_napari_viewer())
    assert again.source.value == "sharp folder + synthetic blur"
    assert again.sharp_folder.value == tmp_path
    assert (again.model.value, again.steps.value, again.lr.value) == ("srn", 1234, pytest.approx(0.0005))
    assert again.blur.value == "defocus" and again.blur_panel.basic["radius"].value == 7.5


def test_device_label(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert training_device_text() == "CPU — training will be slow"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda _i=0: "NVIDIA H200")
    assert training_device_text() == "GPU: NVIDIA H200"


def test_plot_keeps_its_curves_after_clear(qtbot):
    from napari_deblur.widgets._plot import TrainingPlot

    plot = TrainingPlot()
    qtbot.addWidget(plot)
    plot.show()  # pyqtgraph auto-ranges when painting
    plot.add_loss(1, 0.5)
    plot.clear()
    assert plot.loss_steps == [] and plot.psnrs == []
    for step in range(10, 110, 10):
        plot.add_loss(step, 1 / step)
    plot.add_psnr(100, 25.0)
    qtbot.waitUntil(lambda: len(plot._loss.getData()[0] if plot._loss.getData()[0] is not None else []) == 10)
    box = plot.plot_widget.getPlotItem().vb
    assert plot._loss in box.addedItems  # clear() empties the data, never removes the curves
    qtbot.waitUntil(lambda: box.viewRange()[0][1] >= 100)


def test_realistic_mode_learns_the_blur_with_bgan_and_trains_on_it_otherwise(make_napari_viewer, tmp_path,
                                                                              model_dir):
    from napari_deblur.zoo import create, save_model

    widget = TrainWidget(make_napari_viewer())
    widget.source.value = "sharp folder + learned blur"
    widget.sharp_folder.value = str(tmp_path)
    widget.model.value = "bgan"  # stage 1: the generator learns from an unpaired folder of real blurred images
    assert not widget.real_folder.native.isHidden() and widget.generator.native.isHidden()
    with pytest.raises(ValueError, match="No folder of real blurred images"):
        widget.build_config()
    widget.real_folder.value = str(tmp_path / "real")
    cfg = widget.build_config(write_layers=False)
    assert (cfg.model, cfg.sharp, cfg.real_blurred, cfg.bgan) == ("bgan", str(tmp_path), str(tmp_path / "real"), "")
    widget.model.value = "nafnet"  # stage 2: a deblurrer trains on a trained generator's blur
    assert widget.real_folder.native.isHidden() and not widget.generator.native.isHidden()
    with pytest.raises(ValueError, match="No blur generator chosen"):
        widget.build_config()
    save_model(create("bgan", "small"), model_dir / "my-camera-blur.safetensors",
               {"family": "bgan", "size": "small", "config": {}, "training": {}})
    widget._show_realistic_fields()
    assert "my-camera-blur" in widget.generator.choices
    widget.generator.value = "my-camera-blur"
    cfg = widget.build_config(write_layers=False)
    assert (cfg.model, cfg.bgan, cfg.real_blurred) == ("nafnet", "my-camera-blur", "")
