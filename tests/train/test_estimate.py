"""The training time estimate: real steps timed without writing a file; the time left; the CPU's default steps;
the CLI's time left."""

from __future__ import annotations

import os

import pytest

from napari_deblur.training.estimate import (
    CPU_BUDGET_S,
    CPU_STEPS,
    REFERENCE_CPU_PACE,
    Estimate,
    TimeLeft,
    default_steps,
    estimate_time,
    format_duration,
    steps_within,
)
from napari_deblur.training.events import Started, Step
from tests.train.helpers import tiny


def _files(root) -> set[str]:
    return {os.path.join(folder, name) for folder, _, names in os.walk(root) for name in names}


def test_estimate_times_real_steps_and_writes_nothing(tmp_path, model_dir, one_thread, monkeypatch):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)  # Lightning's default folder: it must stay empty
    cfg = tiny(tmp_path, steps=500, device="cpu")
    before = _files(tmp_path)
    estimate = estimate_time(cfg, timed_steps=2)
    assert _files(tmp_path) == before and not cfg.run_dir.exists() and not model_dir.exists()
    assert estimate.device == "cpu" and estimate.steps == 500
    assert 0 < estimate.seconds_per_step < 30
    assert estimate.total_s == pytest.approx(500 * estimate.seconds_per_step)
    assert estimate.for_steps(1000).total_s == pytest.approx(2 * estimate.total_s)  # proportional to the steps
    assert "for 500 steps on cpu (" in estimate.text() and estimate.text().endswith(" s/step)")


def test_estimate_of_a_gan_times_both_stages(tmp_path, model_dir, one_thread):
    estimate = estimate_time(tiny(tmp_path, model="deblurgan", device="cpu"), timed_steps=1)
    assert estimate.seconds_per_step > 0


def test_estimate_refuses_a_bad_config_as_training_would(tmp_path, model_dir):
    with pytest.raises(ValueError, match="Unknown model"):
        estimate_time(tiny(tmp_path, model="nope"))


def test_durations_time_left_and_the_cpu_default():
    assert [format_duration(s) for s in (0.2, 40, 100, 1500, 3600, 11100)] == [
        "1 s", "40 s", "2 min", "25 min", "1 h 00 min", "3 h 05 min"]
    assert Estimate(0.5, 3000, "cpu").text() == "about 25 min for 3,000 steps on cpu (0.5 s/step)"
    assert steps_within(1800, 0.55) == 3300 and steps_within(1800, 0.03) == 60000 and steps_within(10, 60) == 1
    assert CPU_STEPS == steps_within(CPU_BUDGET_S, REFERENCE_CPU_PACE) and default_steps("cpu") == CPU_STEPS
    left = TimeLeft(1000)
    assert left.update(100, now=10.0) == ""  # the first event only starts the clock
    assert left.update(200, now=60.0) == "2.00 steps/s, about 7 min left"
    assert left.update(1000, now=460.0) == "2.00 steps/s, all steps done"  # never "about 1 s left" at the end


def test_cli_prints_the_time_left(capsys, monkeypatch):
    from napari_deblur.cli import _training
    from napari_deblur.training import estimate

    clock = iter([0.0, 30.0])
    monkeypatch.setattr(estimate.time, "monotonic", lambda: next(clock))
    show = _training._event_printer()
    show(Started(0, 100, "cpu", 2, "run"))
    show(Step(10, 0.5, 1e-3, 8.0))
    show(Step(40, 0.4, 1e-3, 8.0))
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].endswith("8.0 samples/s") and lines[2].endswith("1.00 steps/s, about 1 min left"), lines
