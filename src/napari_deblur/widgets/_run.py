"""Run a progress generator off the UI thread, or inline when tests ask for it.

``NAPARI_DEBLUR_SYNC_WORKERS=1`` makes :func:`start` drain the generator in the calling thread and call
the callbacks directly, so widget tests need no event-loop waiting (the stardist-napari approach).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator
from typing import Any

from napari_deblur.restore.engine import drain


def sync_workers() -> bool:
    return os.environ.get("NAPARI_DEBLUR_SYNC_WORKERS", "") not in ("", "0", "false")


def start(
    make_steps: Callable[[], Generator[Any, None, Any]],
    *,
    on_yield: Callable[[Any], None],
    on_return: Callable[[Any], None],
    on_error: Callable[[BaseException], None],
    on_finish: Callable[[], None],
):
    """Start the generator made by ``make_steps``; return the napari worker (``None`` when synchronous)."""
    if sync_workers():
        try:
            on_return(drain(make_steps(), on_yield))
        except Exception as err:  # noqa: BLE001 - reported to the user like the threaded path
            on_error(err)
        finally:
            on_finish()
        return None

    from napari.qt.threading import create_worker

    worker = create_worker(_as_generator_function(make_steps), _start_thread=False)
    worker.yielded.connect(on_yield)
    worker.returned.connect(on_return)
    worker.errored.connect(on_error)
    worker.finished.connect(on_finish)
    worker.start()
    return worker


def _as_generator_function(make_steps):
    # napari makes a GeneratorWorker (yielded/quit support) only for a generator *function*.
    def steps():
        return (yield from make_steps())

    return steps
