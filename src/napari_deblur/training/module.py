"""LightningModules that train a zoo network: plain restoration, and the two-stage GAN with an EMA generator.

Both read batches ``{"blurred": (B, C, P, P), "sharp": (B, C, P, P)}`` in [0, 1] (training/data.py; synthetic data
adds ``"sigma"``, each sample's Gaussian noise level, which a denoiser takes as an input) and report,
after each validation pass, ``val_metrics`` (PSNR/SSIM of the output and of the blurred input), the path of a
preview PNG (blurred | output | sharp of validation sample 0) and, when ``cfg.preview_image`` is set, the
network's output on that image (training/preview.py) for run.py's event callback.
"""

from __future__ import annotations

import copy
import inspect
import math
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from napari_deblur.training import losses, realistic
from napari_deblur.training.config import TrainConfig
from napari_deblur.training.perceptual import PerceptualLoss, load_vgg_features
from napari_deblur.training.preview import PreviewInput, load_preview_input, run_preview
from napari_deblur.zoo.bgan import load_blur_generator
from napari_deblur.zoo.family import FAMILIES, create


def family_config(cfg: TrainConfig) -> dict[str, Any]:
    """The constructor config of ``cfg``'s network: the family's size entry, the channels, and training hints.

    This is what the model card stores as ``config``, so ``load_model`` rebuilds exactly this network.
    NAFNet's test-time local converter pools over 1.5x its training crop: it is told the crop actually used.
    """
    family = FAMILIES[cfg.model]
    config = {k: list(v) if isinstance(v, tuple) else v for k, v in family.sizes[cfg.size].items()}
    accepted = inspect.signature(family.cls).parameters
    if "train_size" in accepted:
        config["train_size"] = int(cfg.patch)
    config["in_channels"] = int(cfg.in_channels)
    return config


def psnr(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-image PSNR in dB of (B, C, H, W) tensors in [0, 1]."""
    mse = (pred.float() - target.float()).pow(2).flatten(1).mean(1)
    return 10 * torch.log10(1.0 / mse.clamp_min(1e-10))


def ssim(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-image SSIM (Wang et al. 2004: 11x11 Gaussian window, sigma 1.5, data range 1), channel mean."""
    x, y = pred.float(), target.float()
    channels = x.shape[1]
    g = torch.exp(-((torch.arange(11, dtype=torch.float32, device=x.device) - 5) ** 2) / (2 * 1.5**2))
    g = g / g.sum()
    window = (g[:, None] * g[None, :]).expand(channels, 1, 11, 11)

    def blur(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(t, window, groups=channels)  # "valid" windows only, as skimage crops its borders

    if min(x.shape[-2:]) < 11:
        return torch.ones(x.shape[0], device=x.device)
    mx, my = blur(x), blur(y)
    sxx, syy, sxy = blur(x * x) - mx**2, blur(y * y) - my**2, blur(x * y) - mx * my
    c1, c2 = 0.01**2, 0.03**2
    s = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx**2 + my**2 + c1) * (sxx + syy + c2))
    return s.flatten(1).mean(1)


def _to_display(t: torch.Tensor) -> np.ndarray:
    """(C, H, W) in [0, 1] -> uint8 (H, W) or (H, W, 3) for a PNG."""
    arr = (t.detach().float().clamp(0, 1).cpu().numpy() * 255).round().astype(np.uint8)
    return arr[0] if arr.shape[0] == 1 else np.moveaxis(arr[:3], 0, -1)


def _cosine(optimizer: torch.optim.Optimizer, steps: int) -> torch.optim.lr_scheduler.LRScheduler:
    # Cosine decay to zero over the whole run, stepped once per optimizer step.
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps)))


class RestorationModule(L.LightningModule):
    """A zoo network trained with its multi-scale pixel loss plus the FFT loss (AdamW, cosine schedule).

    Parameters
    ----------
    cfg : TrainConfig
        The validated training configuration.
    """

    def __init__(self, cfg: TrainConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.config = family_config(cfg)
        self.net = create(cfg.model, cfg.size, **self.config)
        init = cfg.init or realistic.default_init(cfg)
        if init:  # fine-tuning: start from a trained model of the same family and size
            from napari_deblur.zoo.weights import find_weights, load_model

            self.net.load_state_dict(load_model(find_weights(init)).state_dict())
        # Realistic mode, stage 2: the blur generator that makes training pairs. Held in a list, so it is neither
        # trained nor saved in checkpoints.
        self._bgan = [load_blur_generator(cfg.bgan)] if cfg.bgan else []
        # Channels-last (NHWC) weights and batches: with bf16 autocast it made every family's training step 1.1-2.3x
        # faster on the CPU (docs/benchmarks.md, train-paths-families), and tensor cores want it too.
        self.net.to(memory_format=torch.channels_last)
        # torch.compile made NAFNet's training step 1.5x faster on the CPU (docs/training.md). The compiled
        # wrapper is kept outside the module's attributes so checkpoints hold the plain network's names.
        self._train_forward = [torch.compile(self.net) if cfg.compile else self.net]
        self.pixel_loss = losses.pixel_loss(cfg)
        self.perceptual: PerceptualLoss | None = None
        if cfg.vgg_weights and cfg.perceptual_weight > 0:
            self.perceptual = PerceptualLoss(load_vgg_features(cfg.vgg_weights))
        # Kept as a tensor: converting it to a float every step would wait for the GPU every step.
        self.last_loss = torch.tensor(float("nan"))
        self.val_metrics: dict[str, float] = {}
        self.preview: Path | None = None
        self.preview_output: tuple[Path, tuple[int, int]] | None = None  # the user's image deblurred, its offset
        self._preview_input: PreviewInput | None = None
        self._val_sums: torch.Tensor | None = None

    # -- what gets saved and validated -------------------------------------------------------------------
    @property
    def inference_net(self) -> nn.Module:
        """The network that is validated and saved (the GAN overrides this with its EMA copy)."""
        return self.net

    def infer(self, x: torch.Tensor, **inputs: Any) -> torch.Tensor:
        """The validated network's output for ``x`` (and the batch's ``inputs``, see :meth:`net_inputs`)."""
        return self.inference_net(x, **inputs)

    def net_inputs(self, batch: dict[str, torch.Tensor]) -> dict[str, Any]:
        """What the network takes from a batch besides the image: a denoiser's noise level (measured when the
        data does not know it, as with pairs)."""
        return {"sigma": batch.get("sigma")} if FAMILIES[self.cfg.model].noise_conditioned else {}

    def objective(self, blurred: torch.Tensor, sharp: torch.Tensor,
                  **inputs: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """Pixel loss over every scale the network outputs, plus the weighted FFT loss at full resolution (and the
        perceptual loss when a VGG weights file is given)."""
        blurred = blurred.contiguous(memory_format=torch.channels_last)
        outputs = self._train_forward[0](blurred, return_all_scales=True, **inputs)
        loss = losses.multiscale(self.pixel_loss, outputs, sharp)
        if self.cfg.fft_weight > 0:
            loss = loss + self.cfg.fft_weight * losses.fft_loss(outputs[-1], sharp)
        if self.perceptual is not None:
            loss = loss + self.cfg.perceptual_weight * self.perceptual(outputs[-1], sharp)
        return loss, outputs[-1]

    def training_pair(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """(blurred, sharp) to train on: the batch's, with some of the blur made by the blur generator if any."""
        blurred, sharp = batch["blurred"], batch["sharp"]
        if self._bgan:
            blurred = realistic.blur_with_bgan(self._bgan[0], sharp, blurred, self.cfg.bgan_fraction)
        return blurred, sharp

    # -- Lightning hooks ---------------------------------------------------------------------------------
    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss, _ = self.objective(*self.training_pair(batch), **self.net_inputs(batch))
        self.last_loss = loss.detach()
        return loss

    def configure_optimizers(self) -> Any:
        opt = torch.optim.AdamW(self.net.parameters(), lr=self.cfg.lr, weight_decay=self.cfg.weight_decay,
                                betas=(0.9, 0.9))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": _cosine(opt, self.cfg.steps), "interval": "step"}}

    def current_lr(self) -> float:
        """The generator's current learning rate."""
        return float(self.trainer.optimizers[0].param_groups[0]["lr"])

    def on_validation_epoch_start(self) -> None:
        # Sums of (psnr, ssim, input psnr, input ssim, count) over this rank's images.
        self._val_sums = torch.zeros(5, dtype=torch.float64, device=self.device)

    def val_pair(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """(what the network is given, what its output is scored against) in a validation batch."""
        return batch["blurred"], batch["sharp"]

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        given, target = self.val_pair(batch)
        out = self.infer(given, **self.net_inputs(batch)).clamp(0, 1)
        stats = torch.stack([psnr(out, target).sum(), ssim(out, target).sum(), psnr(given, target).sum(),
                             ssim(given, target).sum(), torch.tensor(float(len(out)), device=out.device)])
        self._val_sums += stats.double()
        if batch_idx == 0 and self.trainer.is_global_zero:
            self.preview = self._write_preview(given[0], out[0], target[0])

    def on_validation_epoch_end(self) -> None:
        sums = self.trainer.strategy.reduce(self._val_sums, reduce_op="sum")
        n = max(float(sums[4]), 1.0)
        self.val_metrics = {"psnr": float(sums[0]) / n, "ssim": float(sums[1]) / n,
                            "input_psnr": float(sums[2]) / n, "input_ssim": float(sums[3]) / n}
        self.val_metrics["step"] = int(self.trainer.global_step)
        if self.cfg.preview_image and self.trainer.is_global_zero:
            self.preview_output = self._write_user_preview()

    def _write_user_preview(self) -> tuple[Path, tuple[int, int]]:
        from napari_deblur.io import write_image

        if self._preview_input is None:  # read once per run
            self._preview_input = load_preview_input(self.cfg.preview_image)
        out = run_preview(self.inference_net, self._preview_input, self.cfg.in_channels)
        path = self.cfg.run_dir.resolve() / "previews" / f"output_step_{self.trainer.global_step}.tif"
        return write_image(path, out, "YXC" if out.ndim == 3 else "YX"), self._preview_input.offset

    def _write_preview(self, blurred: torch.Tensor, out: torch.Tensor, sharp: torch.Tensor) -> Path:
        from napari_deblur.io import write_image

        gap = torch.ones_like(blurred[..., :4])  # a white column between the three panels
        strip = torch.cat([blurred, gap, out, gap, sharp], dim=-1)
        path = self.cfg.run_dir.resolve() / "previews" / f"step_{self.trainer.global_step}.png"
        return write_image(path, _to_display(strip))


class GANModule(RestorationModule):
    """Two-stage GAN training with manual optimization.

    Stage 1 (the first ``gan_pretrain * steps`` steps): the generator learns with pixel losses only, so the
    critic later sees plausible images. Stage 2: a multi-scale PatchGAN critic and the relativistic LSGAN loss
    (weighted ``adv_weight``) are added. An exponential moving average of the generator (decay ``ema``, warmed
    up over the first steps) is validated and saved: it is smoother and less prone to GAN artifacts.
    """

    def __init__(self, cfg: TrainConfig) -> None:
        super().__init__(cfg)
        from napari_deblur.zoo.deblurgan import MultiScalePatchDiscriminator

        self.automatic_optimization = False
        width = FAMILIES[cfg.model].discriminator_widths[cfg.size]
        self.disc = MultiScalePatchDiscriminator(cfg.in_channels, width=width)
        self.disc.to(memory_format=torch.channels_last)
        self.ema = copy.deepcopy(self.net).requires_grad_(False)
        self.pretrain_steps = int(round(cfg.gan_pretrain * cfg.steps))

    @property
    def inference_net(self) -> nn.Module:
        return self.ema

    def configure_optimizers(self) -> Any:
        g_opt = torch.optim.AdamW(self.net.parameters(), lr=self.cfg.lr, weight_decay=self.cfg.weight_decay,
                                  betas=(0.9, 0.99))
        # The critic: the usual GAN betas (short momentum), no weight decay (spectral norm already bounds it).
        d_opt = torch.optim.AdamW(self.disc.parameters(), lr=self.cfg.lr, weight_decay=0.0, betas=(0.5, 0.999))
        return [g_opt, d_opt], [_cosine(g_opt, self.cfg.steps), _cosine(d_opt, self.cfg.steps)]

    def _update_ema(self, step: int) -> None:
        # Warm-up (as in TensorFlow's ExponentialMovingAverage): early on the average follows the generator
        # closely, so short runs do not save a copy stuck near the random initialization.
        decay = min(self.cfg.ema, (1 + step) / (10 + step))
        with torch.no_grad():
            for e, p in zip(self.ema.parameters(), self.net.parameters()):
                e.lerp_(p.detach(), 1 - decay)
            for e, b in zip(self.ema.buffers(), self.net.buffers()):
                e.copy_(b)

    def gan_batch(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(generator input, its pixel-loss target, what the critic learns to call real)."""
        blurred, sharp = self.training_pair(batch)
        return blurred, sharp, sharp

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        g_opt, d_opt = self.optimizers()
        g_sched, d_sched = self.lr_schedulers()
        blurred, target, real = self.gan_batch(batch)
        step = int(self.trainer.global_step)
        pixel, fake = self.objective(blurred, target)
        loss = pixel
        if step >= self.pretrain_steps:
            # Critic step. It goes through the strategy directly rather than d_opt.step(): in manual
            # optimization every LightningOptimizer.step() counts as a global step, which would make one
            # batch count twice against max_steps, checkpoints and validation intervals.
            self.disc.requires_grad_(True)
            d_loss = losses.relativistic_lsgan_d(self.disc(real), self.disc(fake.detach()))
            d_opt.zero_grad(set_to_none=True)
            self.manual_backward(d_loss)
            self.clip_gradients(d_opt, gradient_clip_val=1.0, gradient_clip_algorithm="norm")
            self.trainer.strategy.optimizer_step(d_opt.optimizer, closure=lambda: None, model=self)
            d_sched.step()
            # Generator's adversarial term; the critic's weights are frozen for this backward pass.
            self.disc.requires_grad_(False)
            with torch.no_grad():
                real_scores = self.disc(real)
            loss = pixel + self.cfg.adv_weight * losses.relativistic_lsgan_g(real_scores, self.disc(fake))
        g_opt.zero_grad(set_to_none=True)
        self.manual_backward(loss)
        self.clip_gradients(g_opt, gradient_clip_val=0.5, gradient_clip_algorithm="norm")
        g_opt.step()
        g_sched.step()
        self._update_ema(step)
        self.last_loss = loss.detach()


class BGANModule(GANModule):
    """Realistic mode, stage 1: the blur generator against real blurred images (training/realistic.py).

    The generator's input is the sharp crop; its pixel loss (at 1/4 resolution) is to the synthetic blur of that
    crop; the critic's real samples are the unpaired real blurred crops. Validation reports how close the
    generator's blur is to the synthetic one (PSNR), and the preview shows sharp | generated blur | synthetic blur.
    """

    def gan_batch(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return batch["sharp"], batch["blurred"], batch["real"]

    def objective(self, sharp: torch.Tensor, prior: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        fake = self._train_forward[0](sharp.contiguous(memory_format=torch.channels_last))
        return realistic.content_loss(self.pixel_loss, fake, prior), fake

    def val_pair(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        # The generator blurs the sharp crop (a fixed noise map: validation is repeatable), scored against the
        # synthetic blur; the "input" scores are the sharp crop's own.
        return batch["sharp"], batch["blurred"]

    def infer(self, x: torch.Tensor) -> torch.Tensor:
        return self.inference_net(x, seed=0)


def make_module(cfg: TrainConfig) -> RestorationModule:
    """The LightningModule for ``cfg.model``: :class:`BGANModule` for the blur generator, :class:`GANModule` for GAN
    families, else :class:`RestorationModule`."""
    if FAMILIES[cfg.model].makes_blur:
        return BGANModule(cfg)
    return (GANModule if FAMILIES[cfg.model].is_gan else RestorationModule)(cfg)
