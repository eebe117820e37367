"""Training events: typed in memory, one JSON object per line on the wire, read back as the same types."""

from __future__ import annotations

import io
import json

from napari_deblur.training.events import (
    Error,
    Finished,
    Started,
    Step,
    Validation,
    from_dict,
    parse_line,
    read_events,
    to_dict,
    write_event,
)


def test_every_event_survives_its_json_line():
    events = [Started(0, 100, "cpu", 2, "/runs/x.run"), Step(10, 0.05, 1e-3, 20.5),
              Validation(500, 28.1, 0.8, 25.0, "/p.png", "/o.tif", (4, 1)), Validation(500, 28.1, 0.8, 25.0),
              Finished(100, "/m.safetensors", 28.4), Error("out of memory")]
    stream = io.StringIO()
    for event in events:
        write_event(event, stream)
    lines = stream.getvalue().splitlines()
    assert [parse_line(line) for line in lines] == events
    assert json.loads(lines[0]) == {"event": "started", "step": 0, "steps": 100, "device": "cpu", "threads": 2,
                                    "run_dir": "/runs/x.run"}
    assert "preview_output" not in json.loads(lines[3])  # the user's preview only when there is one
    assert json.loads(lines[2])["preview_offset"] == [4, 1]


def test_what_is_not_an_event_reads_as_none_and_history_skips_it(tmp_path):
    assert parse_line("a stray print") is None
    assert from_dict({"event": "launched", "step": 1}) is None  # a kind this version does not know
    assert from_dict({"event": "step", "step": 1}) is None  # fields missing
    assert from_dict({"event": "error", "message": "x", "added_later": 1}) == Error("x")  # newer fields ignored
    history = tmp_path / "events.jsonl"
    write_event(Step(1, 0.1, 1e-3, 9.0), history)
    with history.open("a") as f:
        f.write("not json\n")
    write_event(Finished(1, "/m", 20.0), history)
    assert read_events(history) == [Step(1, 0.1, 1e-3, 9.0), Finished(1, "/m", 20.0)]
    assert to_dict(read_events(history)[1]) == {"event": "finished", "step": 1, "model": "/m", "psnr": 20.0}
    assert read_events(tmp_path / "missing.jsonl") == []
