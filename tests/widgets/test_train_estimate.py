"""The training dock's time: the estimate before Start (workers run inline in tests), the CPU's default steps
fitted to half an hour, the time left from step events."""

from __future__ import annotations

import pytest

napari = pytest.importorskip("napari")

from napari_deblur.training import estimate  # noqa: E402
from napari_deblur.training.estimate import CPU_BUDGET_S, default_steps, steps_within  # noqa: E402
from napari_deblur.training.events import Started, Step  # noqa: E402
from napari_deblur.widgets.train import TrainWidget  # noqa: E402

pytestmark = pytest.mark.gui


def _tiny(widget: TrainWidget) -> None:
    """The smallest run: NAFNet small, batch 2, 32-pixel dead leaves."""
    widget.source.value, widget.scenes.value = "procedural scenes", "dead_leaves"
    widget.model.value, widget.size.value = "nafnet", "small"
    widget.batch.value, widget.patch.value = 2, 32


def test_estimate_shows_the_time_and_follows_the_steps(make_napari_viewer):
    widget = TrainWidget(make_napari_viewer())
    _tiny(widget)
    widget.steps.value = 20
    widget.estimator.button.clicked()
    shown = widget.estimator.estimate
    assert shown is not None and shown.seconds_per_step > 0 and shown.steps == 20
    assert widget.estimator.text.value.startswith("about ") and " for 20 steps on " in widget.estimator.text.value
    assert widget.estimator.button.enabled
    widget.steps.value = 40  # the same pace over more steps: no new measurement
    assert widget.estimator.estimate.total_s == pytest.approx(2 * shown.total_s)
    assert " for 40 steps on " in widget.estimator.text.value
    widget.patch.value = 48  # another pace: the estimate is gone until asked again
    assert widget.estimator.estimate is None and widget.estimator.text.value == ""


def test_estimate_fits_an_untouched_cpu_default_to_half_an_hour(make_napari_viewer):
    import torch

    if torch.cuda.is_available():
        pytest.skip("the CPU's default steps")
    widget = TrainWidget(make_napari_viewer())
    assert widget.steps.value == default_steps("cpu")  # nothing saved: the CPU's half hour, not 20,000
    _tiny(widget)
    widget.estimator.button.clicked()
    pace = widget.estimator.estimate.seconds_per_step
    assert widget.steps.value == min(steps_within(CPU_BUDGET_S, pace), widget.steps.max)
    assert widget.estimator.text.value.endswith("(steps set for about 30 min on this CPU)")
    widget.steps.value = 123  # the user's own choice is kept
    widget.estimator.button.clicked()
    assert widget.steps.value == 123 and " for 123 steps on cpu " in widget.estimator.text.value


def test_bad_settings_are_reported_not_estimated(make_napari_viewer, tmp_path):
    widget = TrainWidget(make_napari_viewer())
    widget.source.value = "paired folder"
    widget.pairs_folder.value = tmp_path / "missing"
    widget.estimator.button.clicked()
    assert widget.estimator.estimate is None and widget.estimator.text.value == ""
    assert widget.status.value  # the problem, in the status line


def test_time_left_from_step_events(make_napari_viewer, monkeypatch):
    widget = TrainWidget(make_napari_viewer())
    clock = iter([100.0, 110.0])
    monkeypatch.setattr(estimate.time, "monotonic", lambda: next(clock))
    widget.handle_event(Started(0, 1000, "cpu", 2, "run"))
    widget.handle_event(Step(10, 0.5, 1e-3, 16.0))
    assert widget.eta.value == ""  # one event: no pace yet
    widget.handle_event(Step(30, 0.4, 1e-3, 16.0))
    assert widget.eta.value == "step 30 / 1,000 · 2.00 steps/s, about 8 min left"
