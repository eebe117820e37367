"""``python -m napari_deblur.training --config cfg.json [--resume] [--events -|PATH]``: one training run.

Events are JSON lines, one per line, to stdout (``-``) or appended to PATH. Exit status 0 when the run finished
or was stopped gracefully, 1 on an error (its message is the last event; the traceback goes to stderr).
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from napari_deblur.training.config import TrainConfig
from napari_deblur.training.events import Error, event_printer


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m napari_deblur.training", description=__doc__.split("\n")[0])
    parser.add_argument("--config", required=True, type=Path, help="Training config (JSON, see TrainConfig).")
    parser.add_argument("--resume", action="store_true", help="Continue from the run folder's last.ckpt.")
    parser.add_argument("--events", default="-", help="'-' for JSON lines on stdout, or a file to append to.")
    args = parser.parse_args(argv)
    emit = event_printer(args.events)
    try:
        cfg = TrainConfig.load(args.config)
    except ValueError as err:
        emit(Error(str(err)))
        return 1
    from napari_deblur.training.run import train

    try:
        train(cfg, resume=args.resume, on_event=emit)
    except Exception:  # already reported as an "error" event by train(); the details are for the log
        traceback.print_exc()
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
