"""How long a training will take: a few real steps of the configured run, timed before it starts; the time left
while it runs; and how many steps a CPU is offered by default.

:func:`estimate_time` runs the run's own pieces — the dataset of training/data.py, the Lightning module of
training/module.py, the Trainer settings of training/run.py — on the device training would use: one warm-up step
(allocation, kernel selection), then at most :data:`TIMED_STEPS` timed ones within :data:`MAX_SECONDS`. It writes
nothing (no run folder, checkpoint, preview or log). What it leaves out, and why:

- ``torch.compile``: compiling takes about a minute, which would dwarf a few seconds of timing; a compiled run
  is up to 1.5x faster than the estimate (docs/training.md).
- Validation and checkpoints: a few images every ``val_every`` steps, a small share of a run.
- Several GPUs or machines: every process takes the same steps at about one device's pace, so one is timed.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from typing import Any

from napari_deblur.training.config import TrainConfig

TIMED_STEPS = 3
MAX_SECONDS = 20.0  # timed steps stop here (after at least one): a big model on a CPU still answers in seconds
#: What a new run on a CPU is offered: the time for about half an hour of training.
CPU_BUDGET_S = 30 * 60
#: The pace of the dock's default run (NAFNet small, batch 8, 128x128 dead leaves blurred by camera shake) on this
#: project's 2-core machine with 2 threads and nothing else running: 0.54-0.55 s/step by :func:`estimate_time`,
#: 0.535 in a real run of 60 steps with 2 loader workers (docs/training.md, "How long a run takes").
REFERENCE_CPU_PACE = 0.55


@dataclass(frozen=True)
class Estimate:
    """How long ``steps`` training steps take on ``device`` at the measured ``seconds_per_step``."""

    seconds_per_step: float
    steps: int
    device: str

    @property
    def total_s(self) -> float:
        return self.seconds_per_step * self.steps

    def for_steps(self, steps: int) -> Estimate:
        """The same pace over another number of steps (no new measurement)."""
        return replace(self, steps=int(steps))

    def text(self) -> str:
        """E.g. ``about 27 min for 3,000 steps on cpu (0.54 s/step)``."""
        pace = f"{self.seconds_per_step:.2g}" if self.seconds_per_step < 10 else f"{self.seconds_per_step:.0f}"
        return f"about {format_duration(self.total_s)} for {self.steps:,} steps on {self.device} ({pace} s/step)"


def format_duration(seconds: float) -> str:
    """A duration as a person reads it: ``40 s``, ``25 min``, ``3 h 05 min``."""
    if seconds < 59.5:
        return f"{max(1, round(seconds))} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def steps_within(budget_s: float, seconds_per_step: float) -> int:
    """The steps that fit in ``budget_s`` at ``seconds_per_step``, to two significant digits (3,300 not 3,287)."""
    steps = max(budget_s / max(seconds_per_step, 1e-9), 1.0)
    digits = max(int(math.floor(math.log10(steps))) - 1, 0)
    return max(int(round(steps / 10**digits) * 10**digits), 1)


#: The dock's steps on a CPU until this machine's pace is measured: half an hour at the reference pace (3,300).
CPU_STEPS = steps_within(CPU_BUDGET_S, REFERENCE_CPU_PACE)


def default_steps(device: str = "auto") -> int:
    """The steps a new run is offered: TrainConfig's default on a GPU, :data:`CPU_STEPS` on a CPU.

    TrainConfig's own default stays the GPU-sized one, so API calls and recipes keep their meaning; the dock
    (and whoever asks) offers a CPU a run that ends in about half an hour.
    """
    from napari_deblur.hardware import resolve_device

    return CPU_STEPS if resolve_device(device).type == "cpu" else TrainConfig.steps


class TimeLeft:
    """The time left of a run from its step events: the pace since the first event seen (the first steps pay
    one-off costs, and a resumed run starts mid-way), so it steadies as the run goes."""

    def __init__(self, total: int) -> None:
        self.total = total
        self._first: tuple[float, int] | None = None

    def update(self, step: int, now: float | None = None) -> str:
        """``1.85 steps/s, about 26 min left``, or ``""`` until a pace is known."""
        now = time.monotonic() if now is None else now
        if self._first is None:
            self._first = (now, step)
            return ""
        t0, s0 = self._first
        if now <= t0 or step <= s0:
            return ""
        per_s = (step - s0) / (now - t0)
        if step >= self.total:  # the last step: what is left (saving the model) is not paced by steps
            return f"{per_s:.2f} steps/s, all steps done"
        return f"{per_s:.2f} steps/s, about {format_duration((self.total - step) / per_s)} left"


def estimate_time(cfg: TrainConfig, *, timed_steps: int = TIMED_STEPS, max_seconds: float = MAX_SECONDS) -> Estimate:
    """Time a few real training steps of ``cfg``; the pace and so the whole run's duration.

    Parameters
    ----------
    cfg : TrainConfig
        The run to estimate; validated first (a bad setting raises ``ValueError`` as training would).
    timed_steps : int
        Steps timed after the warm-up step (per stage for a GAN: pixel pretraining, then adversarial).
    max_seconds : float
        No further timed step starts after this long (at least one is always timed).

    Returns
    -------
    Estimate
        Seconds per step (model and data together) for ``cfg.steps`` steps on the device training would use.
    """
    import torch

    from napari_deblur.hardware import resolve_device, training_precision
    from napari_deblur.training.data import make_datasets
    from napari_deblur.training.run import device_name

    cfg.validate()
    device = resolve_device(cfg.device)
    train, _ = make_datasets(cfg.replace(steps=2))
    # Two batches of real samples: the first loads and caches what the data needs (as a run's first steps do),
    # the second is timed. The model then trains on that batch again and again, so its time is its own.
    batch = [train[i] for i in range(cfg.batch)]
    t0 = time.perf_counter()
    batch = [train[i] for i in range(cfg.batch, 2 * cfg.batch)]
    data_s = time.perf_counter() - t0
    try:
        compute_s = _time_steps(cfg, batch, device.type, training_precision(cfg.precision, device), timed_steps,
                                max_seconds)
    finally:
        if device.type == "cuda":
            torch.cuda.empty_cache()  # the dock estimates in napari's process: give the GPU memory back
    # Loader workers make the next batches while a GPU computes; on a CPU they take the same cores as the model.
    parallel = device.type != "cpu" and cfg.workers > 0
    per_step = max(compute_s, data_s / cfg.workers) if parallel else compute_s + data_s
    return Estimate(per_step, cfg.steps, device_name(device.type))


def _time_steps(cfg: TrainConfig, batch: list[dict[str, Any]], accelerator: str, precision: str, timed: int,
                max_seconds: float) -> float:
    """Seconds per optimizer step of the model on ``batch``; a GAN's two stages are timed apart and weighted by
    ``gan_pretrain``."""
    import lightning as L
    import torch
    from torch.utils.data import DataLoader, Dataset

    from napari_deblur.training.module import make_module
    from napari_deblur.training.run import loop_settings, quiet_lightning
    from napari_deblur.zoo.family import FAMILIES

    gan = FAMILIES[cfg.model].is_gan
    stage = 1 + max(timed, 1)  # a warm-up step, then the timed ones
    # A run of the same settings cut to these steps (half each stage for a GAN), on one device, not compiled.
    probe = cfg.replace(steps=2 * stage if gan else stage, gan_pretrain=0.5, compile=False, devices=1, nodes=1,
                        preview_image="")

    class Repeat(Dataset):
        def __len__(self) -> int:
            return probe.steps * cfg.batch

        def __getitem__(self, index: int) -> dict[str, Any]:
            return batch[index % cfg.batch]

    ends: list[float] = []

    class Timer(L.Callback):
        """The wall time at each step's end (data fetch, transfer, forward, backward, optimizer in between);
        stops the fit once ``max_seconds`` have gone by after the warm-up step."""

        def on_train_batch_end(self, trainer: L.Trainer, *args: Any) -> None:
            if accelerator == "cuda":
                torch.cuda.synchronize()  # the GPU's work is queued: time it done, not launched
            ends.append(time.perf_counter())
            if len(ends) > 1 and ends[-1] - ends[0] > max_seconds:
                trainer.should_stop = True

    with quiet_lightning():
        trainer = L.Trainer(devices=1, max_steps=probe.steps, limit_val_batches=0, callbacks=[Timer()],
                            **loop_settings(probe, accelerator, precision))
        trainer.fit(make_module(probe), DataLoader(Repeat(), batch_size=cfg.batch, num_workers=0, drop_last=True))
    # Each stage's steps after its warm-up step (the critic's first step warms up too).
    pixel, adversarial = ([b - a for a, b in zip(ends[first:first + stage], ends[first + 1:first + stage])]
                          for first in (0, stage))
    if not gan or not adversarial:  # (the time cap ended it within the first stage: its pace for both)
        return sum(pixel) / len(pixel)
    return cfg.gan_pretrain * sum(pixel) / len(pixel) + (1 - cfg.gan_pretrain) * sum(adversarial) / len(adversarial)
