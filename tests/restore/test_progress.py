"""Progress that tells the truth: one bar, moving with the real work (iterations for a method that runs as one tile,
tiles otherwise), in the engine's events and on the command line."""

from __future__ import annotations

import numpy as np
import tifffile

import napari_deblur as nd
from napari_deblur.cli import main


def _events(image, method, **kwargs):
    events = []
    nd.drain(nd.deblur_steps(image, method, **kwargs), events.append)
    return [e for e in events if e.unit]  # the counted ones ("preparing" has no unit)


def test_a_one_tile_classical_run_counts_its_iterations(blurred, motion_kernel):
    events = _events(blurred, "richardson_lucy", psf=motion_kernel, iterations=25)
    assert {e.unit for e in events} == {"iteration"} and {e.total for e in events} == {25}
    assert [e.done for e in events] == list(range(26))  # 0, then after each iteration
    auto = _events(blurred, "richardson_lucy", psf=motion_kernel)  # the auto count is known before the first one
    assert auto[0].done == 0 and auto[-1].done == auto[0].total >= 20
    assert _events(blurred, "pnp", psf=motion_kernel, iterations=4, weights="random")[-1].done == 4


def test_many_tiles_count_tiles(blurred, motion_kernel):
    events = _events(blurred, "wiener", psf=motion_kernel, tile_size=48, tile_overlap=8)
    assert {e.unit for e in events} == {"tile"} and events[-1].done == events[-1].total > 1


def test_the_command_line_draws_one_bar_of_iterations(tmp_path, blurred, motion_kernel, capsys):
    tifffile.imwrite(tmp_path / "in.tif", blurred)
    tifffile.imwrite(tmp_path / "psf.tif", motion_kernel)
    assert main(["deblur", str(tmp_path / "in.tif"), str(tmp_path / "out.tif"), "--psf", str(tmp_path / "psf.tif"),
                 "--iterations", "30"]) == 0
    err = capsys.readouterr().err
    states = [s for s in err.replace("\r", "\n").splitlines() if "richardson_lucy" in s]
    assert states and all("/30 " in s and "iteration" in s for s in states), err
    assert "tile" not in err and "100%" in states[-1]


def test_per_channel_progress_runs_once_from_zero_to_all(blurred, motion_kernel):
    stack = np.stack([blurred, blurred[::-1]])
    events = _events(stack, "richardson_lucy", psf=[motion_kernel, motion_kernel.T], axes="CYX", iterations=10)
    assert [e.done for e in events] == sorted(e.done for e in events) and events[-1].done == events[-1].total == 20


def test_closing_the_steps_stops_between_iterations(blurred, motion_kernel, monkeypatch):
    from napari_deblur.restore import richardson_lucy

    calls = []
    real = richardson_lucy.RichardsonLucyDeconvolver._tv_term
    monkeypatch.setattr(richardson_lucy.RichardsonLucyDeconvolver, "_tv_term",
                        lambda self, est: calls.append(1) or real(self, est))  # once per iteration
    steps = nd.deblur_steps(blurred, "richardson_lucy", psf=motion_kernel, iterations=50)
    event = next(steps)
    while event.unit != "iteration" or event.done < 3:
        event = next(steps)
    steps.close()  # as the dock's Cancel does
    assert len(calls) == 3  # the other 47 iterations never ran
