"""What a training run reports, as typed events, and their one JSON-lines format (one writer, one reader).

A run (training/run.py) sends each event to its ``on_event`` callback and appends it to ``run_dir/events.jsonl``; a
training subprocess prints the same lines on stdout for the widget (training/process.py). On the wire an event is
one JSON object per line: ``{"event": "<kind>", ...its fields}``, so histories written by older versions still
read, and fields a newer version adds are ignored by an older reader.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TextIO


@dataclass(frozen=True)
class Started:
    """Training began (or resumed) at ``step`` of ``steps``."""

    kind: ClassVar[str] = "started"
    step: int
    steps: int
    device: str
    threads: int = 0
    run_dir: str = ""


@dataclass(frozen=True)
class Step:
    """Mean loss and speed since the previous step event."""

    kind: ClassVar[str] = "step"
    step: int
    loss: float
    lr: float
    samples_per_s: float


@dataclass(frozen=True)
class Validation:
    """Validation scores; ``preview`` is a PNG (blurred | output | sharp), ``preview_output`` the user's own image
    deblurred (a TIFF whose top-left corner sits at ``preview_offset`` in that image)."""

    kind: ClassVar[str] = "validation"
    step: int
    psnr: float
    ssim: float
    input_psnr: float
    preview: str = ""
    preview_output: str = ""
    preview_offset: tuple[int, int] = (0, 0)


@dataclass(frozen=True)
class Checkpoint:
    """``path`` (the run folder's last.ckpt) now holds ``step``."""

    kind: ClassVar[str] = "checkpoint"
    step: int
    path: str


@dataclass(frozen=True)
class Stopped:
    """Stopped gracefully at ``step``; resume from ``checkpoint``. The weights reached are saved at ``model``."""

    kind: ClassVar[str] = "stopped"
    step: int
    checkpoint: str
    model: str = ""  # histories of older versions have none


@dataclass(frozen=True)
class Finished:
    """Done: the model is saved at ``model``, with its last validation PSNR."""

    kind: ClassVar[str] = "finished"
    step: int
    model: str
    psnr: float


@dataclass(frozen=True)
class Error:
    """The run failed; ``message`` says why (in words for the user)."""

    kind: ClassVar[str] = "error"
    message: str


Event = Started | Step | Validation | Checkpoint | Stopped | Finished | Error
EVENT_TYPES: dict[str, type] = {cls.kind: cls for cls in (Started, Step, Validation, Checkpoint, Stopped, Finished,
                                                          Error)}
#: The events after which a run sends no more.
ENDINGS = (Finished, Stopped, Error)


def to_dict(event: Event) -> dict[str, Any]:
    """The event as its JSON object: ``{"event": kind, **fields}``."""
    fields = dataclasses.asdict(event)
    if isinstance(event, Validation):  # the user's preview only when there is one (docs/training.md)
        if event.preview_output:
            fields["preview_offset"] = list(event.preview_offset)
        else:
            del fields["preview_output"], fields["preview_offset"]
    return {"event": event.kind, **fields}


def from_dict(data: Any) -> Event | None:
    """The event a JSON object describes, or ``None`` when it is not one (unknown kind, missing fields)."""
    if not isinstance(data, dict):
        return None
    cls = EVENT_TYPES.get(data.get("event"))
    if cls is None:
        return None
    names = {f.name for f in dataclasses.fields(cls)}
    values = {k: v for k, v in data.items() if k in names}
    if "preview_offset" in values:
        values["preview_offset"] = tuple(int(v) for v in values["preview_offset"])
    try:
        return cls(**values)
    except TypeError:  # a required field is missing
        return None


def parse_line(line: str) -> Event | None:
    """The event on one JSON line, or ``None`` for any other line (stray output)."""
    try:
        return from_dict(json.loads(line))
    except (json.JSONDecodeError, ValueError):
        return None


def write_event(event: Event, target: TextIO | str | Path) -> None:
    """Write ``event`` as one JSON line: to an open stream (flushed: a parent reads the pipe live), or appended
    to the file at ``target``."""
    line = json.dumps(to_dict(event)) + "\n"
    if isinstance(target, str | Path):
        with Path(target).open("a", encoding="utf-8") as f:
            f.write(line)
    else:
        target.write(line)
        target.flush()


def event_printer(target: str):  # noqa: ANN201 - a callback
    """A callback writing each event to stdout (``"-"``) or appending it to the file ``target``."""
    return lambda event: write_event(event, sys.stdout if target == "-" else target)


def read_events(path: str | Path) -> list[Event]:
    """Every event in a run's events.jsonl, in order (lines that are not events are skipped)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    return [e for e in map(parse_line, text.splitlines()) if e is not None]
