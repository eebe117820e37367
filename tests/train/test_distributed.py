"""The distributed path (Lightning DDP) run for real: two processes on the CPU, over gloo."""

from __future__ import annotations

import json

import pytest

from tests.train.helpers import check_event, run_module, tiny

pytestmark = pytest.mark.usefixtures("one_thread")


def test_two_processes_train_as_one_run_and_rank_zero_alone_writes(tmp_path, model_dir):
    cfg = tiny(tmp_path, devices=2, steps=4, val_every=2, checkpoint_every=2)
    process = run_module(cfg)
    out, err = process.communicate(timeout=600)
    assert process.returncode == 0, err[-3000:]
    events = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    for event in events:
        check_event(event)
    kinds = [e["event"] for e in events]
    # One voice: rank 1 trains but reports nothing, so each event comes once.
    assert kinds.count("started") == 1 and kinds.count("finished") == 1, kinds
    assert events[0]["device"] == "cpu, 2 processes (DDP)"
    steps = [e["step"] for e in events if e["event"] == "step"]
    assert steps == sorted(set(steps)) and steps[-1] == cfg.steps, steps
    assert [e["step"] for e in events if e["event"] == "validation"] == [2, 4]
    # One model, written once; the run folder holds rank 0's files only.
    assert events[-1]["model"] == str(cfg.model_path.resolve()) and cfg.model_path.is_file()
    assert sorted(p.name for p in cfg.model_path.parent.glob("*.safetensors")) == [cfg.model_path.name]
    assert (cfg.run_dir / "last.ckpt").is_file()
    assert not [p for p in cfg.run_dir.rglob("*") if "rank" in p.name.lower()]
