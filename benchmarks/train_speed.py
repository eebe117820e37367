"""Training speed of every zoo family (size small) on the CPU: samples per second through the real Lightning loop.

Each family trains on 128x128 crops, batch 8, float32, with the loss, optimizer, clipping and (for the GAN) the
critic that ``napari-deblur train`` uses; 30 steps are timed after 5 warm-up steps. The batches come from a
pool of 16 pre-made dead-leaves/camera-shake pairs, so the numbers are the network's; the last line measures
the on-the-fly data pipeline alone (one process, no workers) for comparison. DeblurGAN is measured in both
stages: pixel-loss pretraining and adversarial training (generator + critic updates).

Run: python benchmarks/train_speed.py [--threads N]   (about 10 minutes on 2 CPU cores)
"""

from __future__ import annotations

import argparse
import logging
import os
import time
import warnings

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset

from _report import machine, write_section

PATCH, BATCH, WARMUP, STEPS = 128, 8, 5, 30


class _Pool(Dataset):
    """``length`` samples cycling through a small pool of ready-made pairs (no data cost in the timing)."""

    def __init__(self, samples: list[dict], length: int) -> None:
        self.samples, self.length = samples, length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict:
        return self.samples[index % len(self.samples)]


class _Timer(L.Callback):
    def __init__(self) -> None:
        self.start = self.end = 0.0

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_step == WARMUP:
            self.start = time.perf_counter()
        elif trainer.global_step == WARMUP + STEPS:
            self.end = time.perf_counter()


def measure(cfg, pool: list[dict]) -> float:
    """Samples per second of ``cfg``'s module over the timed steps."""
    from napari_deblur.training.module import make_module
    from napari_deblur.zoo import FAMILIES

    timer = _Timer()
    trainer = L.Trainer(accelerator="cpu", devices=1, precision="32-true", max_steps=WARMUP + STEPS,
                        limit_val_batches=0, num_sanity_val_steps=0, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, callbacks=[timer],
                        gradient_clip_val=None if FAMILIES[cfg.model].is_gan else 1.0)
    loader = DataLoader(_Pool(pool, (WARMUP + STEPS) * BATCH), batch_size=BATCH)
    trainer.fit(make_module(cfg), loader)
    return STEPS * BATCH / (timer.end - timer.start)


def loader_throughput(cfg, n_batches: int = 20) -> float:
    """Training samples per second the DataLoader delivers with ``cfg``'s batch and workers (after warm-up)."""
    from napari_deblur.training.data import make_datasets

    train, _ = make_datasets(cfg.replace(steps=max(cfg.steps, n_batches + 1)))
    batches = iter(DataLoader(train, batch_size=cfg.batch, num_workers=cfg.workers))
    next(batches)  # worker start-up and first reads are not throughput
    start = time.perf_counter()
    for _ in range(n_batches):
        next(batches)
    return n_batches * cfg.batch / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    from napari_deblur.restore.methods import list_methods
    from napari_deblur.training import TrainConfig
    from napari_deblur.training.data import make_datasets
    from napari_deblur.zoo.family import create, deblurring_families

    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*(does not have many workers|val_dataloader|LeafSpec|treespec).*")
    list_methods()
    base = TrainConfig(scenes="dead_leaves", patch=PATCH, batch=BATCH, steps=WARMUP + STEPS, workers=0,
                       blur_params={"size": 15})
    train_ds, _ = make_datasets(base)
    pool = [train_ds[i] for i in range(16)]
    cases = [(name, {}) for name in deblurring_families() if name != "deblurgan"]
    cases += [("deblurgan", {"gan_pretrain": 1.0}), ("deblurgan", {"gan_pretrain": 0.0})]
    load = os.getloadavg()[0]  # other processes on shared cores slow everything down: say how busy it was
    lines = ["| family (small) | parameters | stage | samples/s | s/step |", "|---|---|---|---|---|"]
    for name, extra in cases:
        cfg = base.replace(model=name, size="small", **extra)
        params = sum(p.numel() for p in create(name, "small").parameters())
        rate = measure(cfg, pool)
        stage = "" if name != "deblurgan" else ("pixel pretraining" if extra["gan_pretrain"] else "adversarial")
        lines.append(f"| {name} | {params / 1e6:.2f} M | {stage or '-'} | {rate:.1f} | {BATCH / rate:.2f} |")
        print(lines[-1], flush=True)
    data_rate = loader_throughput(base, n_batches=10)
    lines.append(f"| data pipeline alone (dead leaves + camera shake, no workers) | - | - | {data_rate:.1f} | "
                 f"{BATCH / data_rate:.2f} |")
    print(lines[-1])
    head = ("## Speed: training on the CPU\n\n"
            f"Training speed on the CPU: {PATCH}x{PATCH} crops, batch {BATCH}, float32, AdamW, {STEPS} steps timed "
            f"after {WARMUP} warm-up steps, through the Lightning loop of `napari-deblur train`. Machine: "
            f"{machine()}; load average {load:.1f} on {os.cpu_count()} cores when it started.")
    write_section("train-speed", "\n".join([head, "", *lines]))


if __name__ == "__main__":
    main()
