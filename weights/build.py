"""Build a shipped model from its recipe: train (resuming where the last session stopped), then write the model in
fp16 with its card into weights/.

    python weights/build.py nafnet-small               # train or resume, then ship weights/nafnet-small.safetensors
    python weights/build.py nafnet-small --save-state  # after a graceful stop: the compact resume state for git
    python weights/build.py nafnet-small --ship        # only ship the finished run

The recipe is weights/recipes/<name>.json, a TrainConfig whose ``out`` is runs/<name>.safetensors (runs/ is not
committed). Training takes longer than one sitting on a CPU, so a stopped run is kept in git as a compact resume
state, weights/recipes/state/<name>.ckpt: the Lightning checkpoint with fp16 weights and bf16 optimizer moments
(about half the size; Lightning casts both back to float32 when it resumes). One file per recipe, overwritten.
On a fresh machine the state is copied back into the run folder and training continues from its step.
``make weights NAME=<name>`` runs the first command.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
from pathlib import Path

import numpy as np
import torch

from napari_deblur.training.events import Started, Step, read_events, to_dict
from napari_deblur.training.process import EVENTS_FILE

ROOT = Path(__file__).resolve().parents[1]
RECIPES = ROOT / "weights" / "recipes"
SHARED = ROOT.parent / "shared" / "data"
#: What each shipped model is for: the Deblur widget's drop-down and ``napari-deblur methods`` show it.
#: Early models say so: their scores (weights/README.md) fall short of the targets.
PURPOSES = {
    "nafnet-small": "General deblurring of photos (early version: small gains)",
    "nafnet-small-microscopy": "Fluorescence microscopy, widefield/confocal (early version)",
    "deblurgan-small": "General deblurring of photos, GAN-trained for sharper textures (early version)",
    "srn-small": "General deblurring of photos (early version)",
    "msdf_unet-small": "General deblurring of photos (early version)",
    "swin_unet-small": "General deblurring of photos (early version)",
    "drunet-small": "Denoiser for any noise level up to 50/255: the learned prior of pnp deconvolution",
}


def recipe(name: str):
    from napari_deblur.training import TrainConfig

    path = RECIPES / f"{name}.json"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in RECIPES.glob("*.json")))
        raise SystemExit(f"No recipe {path}; recipes: {known}.")
    cfg = TrainConfig.load(path)
    return cfg.replace(out=str(ROOT / cfg.out)) if not Path(cfg.out).is_absolute() else cfg


def state_file(name: str) -> Path:
    return RECIPES / "state" / f"{name}.ckpt"


def save_state(name: str) -> Path:
    """The run's last.ckpt with fp16 weights and bf16 optimizer moments, as weights/recipes/state/<name>.ckpt."""
    cfg = recipe(name)
    ckpt = torch.load(cfg.run_dir / "last.ckpt", map_location="cpu", weights_only=False)
    ckpt["state_dict"] = {k: v.half() if v.is_floating_point() else v for k, v in ckpt["state_dict"].items()}
    for opt in ckpt.get("optimizer_states", []):
        for slot in opt["state"].values():  # moments in bf16: exp_avg_sq needs its range more than its digits
            for key, value in slot.items():
                if torch.is_tensor(value) and value.is_floating_point() and key != "step":
                    slot[key] = value.to(torch.bfloat16)
    out = state_file(name)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    torch.save(ckpt, tmp)
    tmp.replace(out)
    print(f"resume state at step {ckpt['global_step']}: {out} ({out.stat().st_size / 1e6:.1f} MB)")
    return out


def train(name: str) -> Path:
    """Train the recipe, resuming from the run folder or, on a fresh machine, from the committed state."""
    from napari_deblur.training import train as run_training

    cfg = recipe(name)
    ckpt = cfg.run_dir / "last.ckpt"
    if not ckpt.exists() and state_file(name).exists():
        ckpt.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(state_file(name), ckpt)
        print(f"restored the committed resume state into {ckpt}")
    events = cfg.run_dir / EVENTS_FILE

    def show(event) -> None:
        if not isinstance(event, Started | Step):
            print(json.dumps(to_dict(event)), flush=True)

    path = run_training(cfg, resume=ckpt.exists(), on_event=show)
    if path.suffix == ".ckpt":  # stopped gracefully: keep the state for the next session
        save_state(name)
    print(f"events: {events}")
    return path


def _training_facts(cfg) -> dict:
    """Steps, seconds and hardware of the run, from its event history (resumed sessions included)."""
    seconds, last_step, devices, threads = 0.0, 0, set(), set()
    for event in read_events(cfg.run_dir / EVENTS_FILE):
        if isinstance(event, Started):
            last_step = event.step
            devices.add(event.device)
            threads.add(event.threads or os.cpu_count())  # runs before "threads" was recorded: all cores
        elif isinstance(event, Step) and event.samples_per_s > 0:
            seconds += (event.step - last_step) * cfg.batch / event.samples_per_s
            last_step = event.step
    cpu = platform.processor() or platform.machine()
    return {"seconds": round(seconds), "hardware": f"{', '.join(sorted(devices))} ({cpu}, "
            f"{'/'.join(map(str, sorted(threads)))} torch threads, torch {torch.__version__})"}


def _psnr(sharp: np.ndarray, x: np.ndarray) -> float:
    return float(-10 * np.log10(np.mean((np.clip(x, 0, 1) - sharp) ** 2)))


def _fp16_cost(fp32: torch.nn.Module, fp16_path: Path) -> float | None:
    """Mean PSNR lost by fp16 storage on Kodak crops x Levin kernels (None without ../shared/data)."""
    import imageio.v3 as iio
    from scipy import ndimage

    import napari_deblur as nd

    if not (SHARED / "kodak24").is_dir():
        return None
    from napari_deblur.zoo.weights import load_model

    rng = np.random.default_rng(0)
    losses = []
    denoiser = fp32.card.get("family") == "drunet"
    for i in (1, 5):
        sharp = iio.imread(SHARED / "kodak24" / f"kodim{i:02d}.png")[:256, :256, 1].astype(np.float32) / 255
        if denoiser:  # denoised at sigma 25/255 by both copies
            noisy = torch.from_numpy(sharp + rng.normal(0, 25 / 255, sharp.shape).astype(np.float32))[None, None]
            with torch.inference_mode():
                full, half = (net(noisy, 25 / 255).numpy()[0, 0] for net in (fp32, load_model(fp16_path)))
            losses.append(_psnr(sharp, full) - _psnr(sharp, half))
            continue
        for k in (1, 4):
            kernel = np.load(SHARED / "levin09" / f"k0{k}.npy")
            blurred = np.clip(ndimage.convolve(sharp, kernel, mode="reflect") + rng.normal(0, 0.01, sharp.shape),
                              0, 1).astype(np.float32)
            with torch.inference_mode():
                full = fp32(torch.from_numpy(blurred)[None, None]).numpy()[0, 0]
            half = nd.deblur(blurred, fp32.card["family"], weights=str(fp16_path), precision="float32")

            losses.append(_psnr(sharp, full) - _psnr(sharp, half))
    return float(np.mean(losses))


def ship(name: str) -> Path:
    """weights/<name>.safetensors: the finished run's model in fp16 with the recipe and training facts on its card."""
    from napari_deblur.zoo.weights import load_model, save_model

    cfg = recipe(name)
    model = load_model(cfg.model_path)
    card = dict(model.card)
    steps = card.get("training", {}).get("steps")
    if steps is not None and steps < cfg.steps:  # a stopped run leaves a model too: not one to ship
        raise SystemExit(f"{name} stopped at step {steps} of {cfg.steps}: resume it (python weights/build.py "
                         f"{name}) before shipping.")
    recipe_text = json.loads((RECIPES / f"{name}.json").read_text())
    card["name"] = name
    card["purpose"] = PURPOSES[name]
    card["training"] = {**card.get("training", {}), "recipe": recipe_text, "config": cfg.to_dict(),
                        "command": f"python weights/build.py {name}  (make weights NAME={name})",
                        **_training_facts(cfg)}
    out = ROOT / "weights" / f"{name}.safetensors"
    save_model(model, out, card, half=True)
    cost = _fp16_cost(model, out)
    if cost is not None:
        card["fp16_psnr_cost_db"] = round(cost, 4)
        save_model(model, out, card, half=True)
    print(f"shipped {out} ({out.stat().st_size / 1e6:.1f} MB); fp16 storage costs {cost} dB")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name", help="recipe name (weights/recipes/<name>.json)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--save-state", action="store_true", help="only write the compact resume state")
    group.add_argument("--ship", action="store_true", help="only ship the finished run into weights/")
    args = parser.parse_args()
    if args.save_state:
        save_state(args.name)
    elif args.ship:
        ship(args.name)
    elif train(args.name).suffix == ".safetensors":
        ship(args.name)


if __name__ == "__main__":
    sys.exit(main())
