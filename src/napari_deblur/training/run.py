"""``train(cfg)``: build the Lightning Trainer, turn its progress into typed events, save the finished model.

Events are the typed records of training/events.py (started, step, validation, checkpoint, stopped, finished,
error; see docs/training.md). They go to ``on_event`` and are appended to ``run_dir/events.jsonl``, so a widget
can replay a run's history. Checkpoints are ``run_dir/last.ckpt``, written to a temporary name and
renamed, so a run killed at any moment leaves a loadable checkpoint. A file ``run_dir/STOP``, SIGTERM or SIGINT
stop a run gracefully: the current step finishes, last.ckpt is saved, and a "stopped" event is sent.
"""

from __future__ import annotations

import contextlib
import logging
import os
import platform
import signal
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch.utils.data import DataLoader, Sampler

from napari_deblur.hardware import resolve_device, training_precision
from napari_deblur.training.config import TrainConfig
from napari_deblur.training.events import (
    Checkpoint,
    Error,
    Event,
    Finished,
    Started,
    Step,
    Stopped,
    Validation,
    write_event,
)
from napari_deblur.training.module import RestorationModule, make_module
from napari_deblur.training.process import CHECKPOINT, CONFIG_FILE, EVENTS_FILE, LOCK_FILE, OWNER_FILE, STOP_FILE
from napari_deblur.zoo.family import FAMILIES

EventFn = Callable[[Event], None]


class _ResumableSampler(Sampler[int]):
    """Sample indices in order, each rank its own slice of every step's batch, resuming at a given step.

    The datasets seed every sample by its index, so sample ``i`` is the same image in every run: a resumed
    run sees exactly the samples the uninterrupted run would have seen. ``__len__`` stays the full epoch,
    which is what Lightning's restored batch counter expects; only the first pass starts at ``start_step``.
    Rank and world size are read when iterating, after Lightning has set up the process group.
    """

    def __init__(self, n_samples: int, batch: int, start_step: int = 0) -> None:
        self.n_samples, self.batch, self.start_step = n_samples, batch, start_step

    @staticmethod
    def _ranks() -> tuple[int, int]:
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            return torch.distributed.get_rank(), torch.distributed.get_world_size()
        return 0, 1

    def _steps(self) -> int:
        return max(1, self.n_samples // (self.batch * self._ranks()[1]))

    def __len__(self) -> int:
        return self._steps() * self.batch

    def __iter__(self) -> Iterator[int]:
        rank, world = self._ranks()
        start, self.start_step = self.start_step % self._steps(), 0
        for step in range(start, self._steps()):
            first = (step * world + rank) * self.batch
            yield from range(first, first + self.batch)


class _Events(L.Callback):
    """Turns training progress into events; saves last.ckpt atomically; handles STOP/SIGTERM/SIGINT."""

    def __init__(self, cfg: TrainConfig, emit: EventFn, device: str) -> None:
        self.cfg, self.emit, self.device = cfg, emit, device
        self.run_dir = cfg.run_dir.resolve()
        self.ckpt = self.run_dir / CHECKPOINT
        self.every = min(10, max(1, cfg.steps // 10))
        self.stop_requested = False
        self.stopped = False
        self.saved_step = -1
        self._window: list[torch.Tensor] = []  # losses since the last step event
        self._t0 = time.perf_counter()
        self._step0 = 0

    # -- graceful stop -------------------------------------------------------------------------------------
    def _on_signal(self, signum: int, frame: Any) -> None:
        self.stop_requested = True

    def _install_signals(self) -> None:
        # Lightning's own SIGTERM handler aborts the loop without a checkpoint; ours finishes the step.
        # Signal handlers can only be set from the main thread (train() may run in a worker thread).
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, self._on_signal)

    def _should_stop(self, trainer: L.Trainer) -> bool:
        local = self.stop_requested or (self.run_dir / STOP_FILE).exists()
        return bool(trainer.strategy.broadcast(local, src=0))  # every rank stops at the same step

    # -- checkpoints ---------------------------------------------------------------------------------------
    def save(self, trainer: L.Trainer) -> None:
        """Write last.ckpt: to a temporary name first, then renamed over the old one (atomic)."""
        step = trainer.global_step
        if step == self.saved_step:
            return
        tmp = self.run_dir / f".{CHECKPOINT}.tmp"
        trainer.save_checkpoint(tmp)  # collective under DDP: every rank calls it, rank 0 writes
        if trainer.is_global_zero:
            os.replace(tmp, self.ckpt)
            self.emit(Checkpoint(step, str(self.ckpt)))
        self.saved_step = step

    # -- hooks ---------------------------------------------------------------------------------------------
    def on_train_start(self, trainer: L.Trainer, pl_module: RestorationModule) -> None:
        self._install_signals()
        self._t0, self._step0 = time.perf_counter(), trainer.global_step
        self.saved_step = trainer.global_step if self.ckpt.exists() else -1
        if trainer.is_global_zero:
            self.emit(Started(trainer.global_step, self.cfg.steps, self.device, torch.get_num_threads(),
                              str(self.run_dir)))

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: RestorationModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        step = trainer.global_step
        self._window.append(pl_module.last_loss)
        if step % self.every == 0 or step >= self.cfg.steps:
            now = time.perf_counter()
            if trainer.is_global_zero:
                samples = (step - self._step0) * self.cfg.batch * trainer.world_size
                self.emit(Step(step, float(torch.stack(self._window).float().mean()), pl_module.current_lr(),
                               samples / max(now - self._t0, 1e-9)))
            self._window, self._t0, self._step0 = [], now, step
        if self._should_stop(trainer):
            self.save(trainer)
            self.stopped = True
            trainer.should_stop = True
        elif step % self.cfg.checkpoint_every == 0 and step < self.cfg.steps:
            self.save(trainer)

    def on_validation_end(self, trainer: L.Trainer, pl_module: RestorationModule) -> None:
        if trainer.sanity_checking or not trainer.is_global_zero:
            return
        m = pl_module.val_metrics
        output, offset = pl_module.preview_output or ("", (0, 0))
        self.emit(Validation(trainer.global_step, m["psnr"], m["ssim"], m["input_psnr"],
                             str(pl_module.preview) if pl_module.preview else "", str(output), tuple(offset)))


def _worker_init(worker_id: int) -> None:
    # Ctrl-C reaches the whole process group: loader workers leave stopping to the main process, which finishes
    # its step and saves a checkpoint (a worker dying of SIGINT would abort the run instead).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def device_name(accelerator: str, processes: int = 1) -> str:
    """What trains, for the started event: ``cuda:0 (NVIDIA H200)``, ``cpu``; under DDP with the process count."""
    name = accelerator
    if accelerator == "cuda":
        index = torch.cuda.current_device()
        name = f"cuda:{index} ({torch.cuda.get_device_name(index)})"
    return f"{name}, {processes} processes (DDP)" if processes > 1 else name


def _event_writer(cfg: TrainConfig, on_event: EventFn | None, append: bool) -> EventFn:
    """Events to ``on_event`` and, one JSON line each, to run_dir/events.jsonl (history for the widget)."""
    path = cfg.run_dir / EVENTS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    if not append:
        path.write_text("")

    def emit(event: Event) -> None:
        write_event(event, path)
        if on_event is not None:
            on_event(event)

    return emit


@contextlib.contextmanager
def _run_lock(run_dir: Path) -> Iterator[None]:
    """Hold the run folder for one training: a second run with the same output would wipe the first one's
    event history, share its checkpoint and describe the wrong run in the model card. The operating system
    releases the lock when the process dies, so a killed run never leaves the folder locked."""
    from filelock import FileLock, Timeout

    lock, owner = FileLock(str(run_dir / LOCK_FILE), timeout=0), run_dir / OWNER_FILE
    try:
        lock.acquire()
    except Timeout:
        who = owner.read_text().strip() if owner.exists() else "another process"
        raise ValueError(f"{run_dir} is in use by a running training ({who}): wait for it, stop it (create "
                         f"{run_dir / STOP_FILE}), or give this run another name or --out.") from None
    try:
        owner.write_text(f"pid {os.getpid()} on {platform.node()}")
        yield
    finally:
        owner.unlink(missing_ok=True)
        lock.release()


def _check_run(cfg: TrainConfig, resume: bool, precision: str) -> None:
    if resume and not (cfg.run_dir / CHECKPOINT).is_file():
        raise ValueError(f"Nothing to resume: no checkpoint at {cfg.run_dir / CHECKPOINT}. Start a new run instead.")
    if FAMILIES[cfg.model].is_gan and precision == "16-mixed":
        raise ValueError("GAN training does not support precision 'float16' (its two optimizers would share one "
                         "loss scaler); use 'bfloat16' or 'float32'.")


def train(cfg: TrainConfig, *, resume: bool = False, on_event: EventFn | None = None) -> Path:
    """Train ``cfg.model`` on ``cfg``'s data; save it to ``cfg.model_path`` so ``deblur(image, name)`` finds it.

    Parameters
    ----------
    cfg : TrainConfig
        The run; validated here first, so a bad setting fails with ``ValueError`` before any training.
    resume : bool
        Continue from ``cfg.run_dir / "last.ckpt"`` at its global step.
    on_event : callable, optional
        Called with every event dict (started, step, validation, checkpoint, stopped, finished, error).

    Returns
    -------
    pathlib.Path
        The saved ``.safetensors`` model; after a graceful stop, the checkpoint to resume from.
    """
    emit: EventFn = on_event or (lambda event: None)
    try:
        cfg.validate()
        device = resolve_device(cfg.device)
        accelerator, precision = device.type, training_precision(cfg.precision, device)
        _check_run(cfg, resume, precision)
        cfg.run_dir.mkdir(parents=True, exist_ok=True)
        # Under DDP, Lightning (or torchrun) starts this same program once per GPU; only the first process
        # prepares the run folder, so the others cannot truncate its event history or delete a fresh STOP.
        first = all(int(os.environ.get(v) or 0) == 0 for v in ("RANK", "LOCAL_RANK", "NODE_RANK"))
        with _run_lock(cfg.run_dir) if first else contextlib.nullcontext():
            emit = _event_writer(cfg, on_event, append=resume or not first)
            if first:
                (cfg.run_dir / STOP_FILE).unlink(missing_ok=True)
                if not resume:
                    (cfg.run_dir / CHECKPOINT).unlink(missing_ok=True)
                cfg.save(cfg.run_dir / CONFIG_FILE)
            return _fit(cfg, resume, accelerator, precision, emit)
    except Exception as err:
        emit(Error(str(err) or type(err).__name__))
        raise


@contextlib.contextmanager
def quiet_lightning() -> Iterator[None]:
    """Lightning without its banners ("GPU available") and known harmless warnings: stdout/stderr carry events and
    real problems (also while training/estimate.py times a few steps)."""
    quiet = [logging.getLogger(name) for name in ("lightning.pytorch", "lightning.fabric", "lightning")]
    levels = [log.level for log in quiet]
    for log in quiet:
        log.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*(does not have many workers|checkpoint.*epoch|"
                                                      r"ckpt_path|LeafSpec|treespec|no `val_dataloader`).*")
            yield
    finally:
        for log, level in zip(quiet, levels):
            log.setLevel(level)


def loop_settings(cfg: TrainConfig, accelerator: str, precision: str) -> dict[str, Any]:
    """The Trainer settings that shape a step, for the run and its timing (training/estimate.py) alike."""
    return dict(accelerator=accelerator, precision=precision, max_epochs=-1, num_sanity_val_steps=0,
                gradient_clip_val=None if FAMILIES[cfg.model].is_gan else 1.0, logger=False,
                enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                use_distributed_sampler=False)


def _fit(cfg: TrainConfig, resume: bool, accelerator: str, precision: str, emit: EventFn) -> Path:
    from napari_deblur.training.data import make_datasets

    with quiet_lightning():
        L.seed_everything(cfg.seed, workers=True, verbose=False)
        train_ds, val_ds = make_datasets(cfg)
        module = make_module(cfg)
        ckpt = cfg.run_dir / CHECKPOINT
        trainer, events = _trainer(cfg, accelerator, precision, emit, len(val_ds))
        start = 0
        if resume:  # memory-mapped: only the step counter is read, not the weights
            start = int(torch.load(ckpt, map_location="cpu", weights_only=False, mmap=True)["global_step"])
        cuda = accelerator == "cuda"
        sampler = _ResumableSampler(len(train_ds), cfg.batch, start)
        train_dl = DataLoader(train_ds, batch_size=cfg.batch, sampler=sampler, num_workers=cfg.workers,
                              persistent_workers=cfg.workers > 0, pin_memory=cuda, drop_last=True,
                              worker_init_fn=_worker_init if cfg.workers > 0 else None)
        val_dl = DataLoader(val_ds, batch_size=1, num_workers=0, pin_memory=cuda)
        trainer.fit(module, train_dl, val_dl, ckpt_path=ckpt if resume else None)
        stopped = events.stopped and trainer.global_step < cfg.steps
        if not stopped and module.val_metrics.get("step") != trainer.global_step:
            trainer.validate(module, val_dl, verbose=False)  # the card's metrics describe the final weights
    path = cfg.model_path.resolve()
    if trainer.is_global_zero:
        # A stopped run leaves a model too: the weights reached (the EMA generator's for a GAN), usable at once and
        # listed with its step count; Resume goes on from the checkpoint and overwrites it when it finishes.
        if trainer.global_step > 0 or not stopped:  # (stopped before its first step: nothing learned to save)
            _save_model(cfg, module, trainer.global_step, getattr(train_ds, "description", cfg.source), path)
        if stopped:
            emit(Stopped(trainer.global_step, str(ckpt.resolve()), str(path) if trainer.global_step > 0 else ""))
        else:
            emit(Finished(trainer.global_step, str(path), module.val_metrics["psnr"]))
    return ckpt if stopped else path


def _save_model(cfg: TrainConfig, module: RestorationModule, step: int, data: str, path: Path) -> None:
    """The inference network as a model file with its card (metrics of the last validation, when there was one)."""
    from napari_deblur.zoo.weights import save_model

    metrics = module.val_metrics
    card = {"family": cfg.model, "size": cfg.size, "config": module.config, "name": cfg.model_name,
            "training": {"command": f"napari-deblur train --config {cfg.run_dir.resolve() / CONFIG_FILE}",
                         "config": cfg.to_dict(), "steps": step, "data": data}}
    if "psnr" in metrics:
        card["metrics"] = {"val_psnr": metrics["psnr"], "val_ssim": metrics["ssim"],
                           "input_psnr": metrics["input_psnr"], "input_ssim": metrics["input_ssim"]}
    save_model(module.inference_net.float(), path, card)


def _trainer(cfg: TrainConfig, accelerator: str, precision: str, emit: EventFn, n_val: int
             ) -> tuple[L.Trainer, _Events]:
    # More than one device: DDP, one process per GPU (NCCL), or per process asked for on a CPU (gloo; they share
    # the cores, so it is for testing the distributed path and for CPU clusters, not for speed on one machine).
    devices = cfg.devices
    strategy = "auto"
    if devices * cfg.nodes > 1:
        # The GAN's two backward passes per step need DDP to expect parameters unused by one of them.
        strategy = "ddp_find_unused_parameters_true" if FAMILIES[cfg.model].is_gan else "ddp"
    events = _Events(cfg, emit, device_name(accelerator, devices * cfg.nodes))
    trainer = L.Trainer(
        devices=devices, num_nodes=cfg.nodes, strategy=strategy, max_steps=cfg.steps,
        val_check_interval=min(cfg.val_every, cfg.steps), check_val_every_n_epoch=None, limit_val_batches=n_val,
        callbacks=[events], default_root_dir=cfg.run_dir, **loop_settings(cfg, accelerator, precision),
    )
    return trainer, events
