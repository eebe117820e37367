"""``TrainingProcess``: one training run in a subprocess, its events read on a background thread.

Training runs in its own process (``python -m napari_deblur.training``) so a user interface never freezes, a crash
or out-of-memory never takes it down, and GPU memory is returned when the run ends. The widget calls
:meth:`TrainingProcess.poll` from a timer; poll never blocks.
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
from typing import IO

from napari_deblur.training.config import TrainConfig
from napari_deblur.training.events import ENDINGS, Error, Event, parse_line

# The run folder's files (run_dir = the model path with suffix .run). Defined here, not in run.py, so a widget
# can use them without importing Lightning.
CONFIG_FILE = "config.json"
CHECKPOINT = "last.ckpt"
STOP_FILE = "STOP"
EVENTS_FILE = "events.jsonl"
LOCK_FILE, OWNER_FILE = ".lock", "running"  # held by the training that writes the folder (training/run.py)
LOG_FILE = "train.log"
_TAIL = 20  # stderr lines quoted when the process dies without an "error" event


class TrainingProcess:
    """Run ``cfg`` in a subprocess and collect its JSON-line events.

    Parameters
    ----------
    cfg : TrainConfig
        The run. It is written to ``run_dir/config.json`` for the subprocess.
    resume : bool
        Continue from ``run_dir/last.ckpt``.

    Notes
    -----
    The subprocess's stderr (warnings, tracebacks) goes to ``run_dir/train.log``. When the process exits with
    an error without having reported one (killed, out of memory), :meth:`poll` adds an ``"error"`` event
    quoting the end of that log.
    """

    def __init__(self, cfg: TrainConfig, resume: bool = False) -> None:
        self.cfg, self.resume = cfg, resume
        self.run_dir = cfg.run_dir
        self._proc: subprocess.Popen | None = None
        self._events: queue.Queue[Event] = queue.Queue()
        self._reader: threading.Thread | None = None
        self._saw_end = False
        self._reported_exit = False
        self.output: list[str] = []  # stdout lines that were not events (stray prints), for diagnosis

    def start(self) -> None:
        """Write the config and spawn ``python -m napari_deblur.training`` (returns at once)."""
        if self.running:
            raise RuntimeError("This training process is already running.")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        (self.run_dir / STOP_FILE).unlink(missing_ok=True)
        config = self.cfg.save(self.run_dir / CONFIG_FILE)
        cmd = [sys.executable, "-m", "napari_deblur.training", "--config", str(config), "--events", "-"]
        if self.resume:
            cmd.append("--resume")
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        log = (self.run_dir / LOG_FILE).open("ab")
        try:
            self._proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL,
                                          env=env)
        finally:
            log.close()  # the child holds its own handle
        self._saw_end = self._reported_exit = False
        self._reader = threading.Thread(target=self._read, args=(self._proc.stdout,), daemon=True)
        self._reader.start()

    def _read(self, stream: IO[bytes]) -> None:
        for raw in stream:
            line = raw.decode("utf-8", "replace").strip()
            event = parse_line(line)
            if event is not None:
                self._saw_end |= isinstance(event, ENDINGS)
                self._events.put(event)
            elif line:
                self.output = [*self.output[-99:], line]
        stream.close()

    def poll(self) -> list[Event]:
        """The events that arrived since the last call (never blocks)."""
        events = []
        while True:
            try:
                events.append(self._events.get_nowait())
            except queue.Empty:
                break
        if self._proc is not None and not self._reported_exit and self._proc.poll() is not None \
                and not (self._reader and self._reader.is_alive()) and self._events.empty():
            self._reported_exit = True
            if not self._saw_end:
                events.append(Error(self._exit_message()))
        return events

    def _exit_message(self) -> str:
        code = self._proc.returncode if self._proc else None
        try:
            tail = (self.run_dir / LOG_FILE).read_text(errors="replace").strip().splitlines()[-_TAIL:]
        except OSError:
            tail = []
        how = f"was killed by signal {-code}" if code is not None and code < 0 else f"exited with status {code}"
        return f"The training process {how}." + (" Last output:\n" + "\n".join(tail) if tail else "")

    def stop(self, timeout: float = 10.0) -> None:
        """Ask for a graceful stop (the run saves last.ckpt); terminate, then kill, if it does not end in time."""
        if not self.running:
            return
        (self.run_dir / STOP_FILE).touch()
        try:
            self._proc.wait(timeout)
            return
        except subprocess.TimeoutExpired:
            self._proc.terminate()  # SIGTERM: the run still stops gracefully at the end of its step
        try:
            self._proc.wait(max(timeout / 2, 5.0))
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()

    def wait(self, timeout: float | None = None) -> int | None:
        """Wait for the process to end; its return code (``None`` on timeout or when never started)."""
        if self._proc is None:
            return None
        try:
            code = self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        if self._reader is not None:
            self._reader.join(timeout=5)
        return code

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return None if self._proc is None else self._proc.poll()

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid
