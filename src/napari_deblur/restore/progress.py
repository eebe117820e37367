"""Progress events: every long step is a generator of :class:`Progress` whose return value is its result.

The CLI shows the events as one bar, the napari docks run the generator in a ``thread_worker`` (quitting the worker
closes the generator, which cancels between steps), and the API simply drains it. Methods that iterate report their
iterations the same way (a ``steps`` generator of ``(done, total)``), so a one-tile run moves with its real work.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Progress:
    """One progress event: ``done`` of ``total`` work units (``unit``: "tile", "iteration", ...), and what is being
    done."""

    done: int
    total: int
    message: str = ""
    unit: str = ""


def drain(steps: Generator[Any, None, T], on_progress: Callable[[Any], None] | None = None) -> T:
    """Run a progress generator to completion, passing each event to ``on_progress``; return its result."""
    while True:
        try:
            event = next(steps)
        except StopIteration as stop:
            return stop.value
        if on_progress is not None:
            on_progress(event)
