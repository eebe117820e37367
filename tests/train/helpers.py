"""Helpers of the training tests: a run of seconds, its events checked against the documented form, a run in a
subprocess."""

from __future__ import annotations

import json
import subprocess
import sys

from napari_deblur.training import TrainConfig
from napari_deblur.training.events import to_dict

#: The documented keys of every event (docs/training.md); events may carry no others.
EVENT_KEYS = {
    "started": {"step", "steps", "device", "threads", "run_dir"},
    "step": {"step", "loss", "lr", "samples_per_s"},
    "validation": {"step", "psnr", "ssim", "input_psnr", "preview"},
    "checkpoint": {"step", "path"},
    "stopped": {"step", "checkpoint", "model"},
    "finished": {"step", "model", "psnr"},
    "error": {"message"},
}
#: Keys an event carries only in some runs (the user's preview image, when one is set).
OPTIONAL_KEYS = {"validation": {"preview_output", "preview_offset"}}


def tiny(tmp_path, **changes) -> TrainConfig:
    """A run of seconds: small NAFNet, 32x32 dead-leaves crops, mild camera shake, no worker processes."""
    settings = {"model": "nafnet", "size": "small", "scenes": "dead_leaves", "blur_params": {"size": 9},
                "steps": 6, "patch": 32, "batch": 2, "val_size": 2, "val_every": 3, "checkpoint_every": 3,
                "workers": 0, "out": str(tmp_path / "out" / "tiny.safetensors")}
    return TrainConfig(**{**settings, **changes})


def record(events: list) -> object:
    """An ``on_event`` callback keeping each event as its JSON object (the documented form checked here)."""
    return lambda event: events.append(to_dict(event))


def check_event(event: dict) -> None:
    assert event["event"] in EVENT_KEYS, event
    keys, required = set(event) - {"event"}, EVENT_KEYS[event["event"]]
    assert required <= keys <= required | OPTIONAL_KEYS.get(event["event"], set()), event
    json.dumps(event)  # plain JSON values only


def run_module(cfg: TrainConfig, *args: str) -> subprocess.Popen:
    config = cfg.save(cfg.run_dir.parent / f"{cfg.model_name}.json")
    return subprocess.Popen([sys.executable, "-m", "napari_deblur.training", "--config", str(config), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
