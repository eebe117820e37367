"""The training commands: ``train`` (one flag per TrainConfig field, described in training/config.py) and
``evaluate``."""

from __future__ import annotations

import argparse
import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

from napari_deblur.cli._common import HelpFormatter, add_param_flags, flag_name, given_params, method_params, yes_no
from napari_deblur.io import read_psf
from napari_deblur.restore.methods import list_methods
from napari_deblur.synth.kinds import get_kind, list_kinds
from napari_deblur.training.config import FIELD_HELP, TRAIN_PARAMS, TrainConfig
from napari_deblur.training.estimate import TimeLeft
from napari_deblur.training.events import Checkpoint, Event, Finished, Started, Step, Stopped, Validation, event_printer


def add_training_parsers(sub: argparse._SubParsersAction) -> None:
    """The ``train`` and ``evaluate`` commands."""
    _add_train_parser(sub)
    _add_evaluate_parser(sub)


def _add_train_parser(sub: argparse._SubParsersAction) -> None:
    t = sub.add_parser("train", help="Train a network on your data (or procedural scenes); JSON events with "
                       "--events.")
    t.add_argument("--config", type=Path, help="Start from this TrainConfig JSON (e.g. a run folder's config.json); "
                   "flags override it.")
    t.add_argument("--resume", action="store_true", help="Continue from the run folder's last.ckpt.")
    t.add_argument("--events", help="Print JSON-line events to stdout ('-') or append them to a file, instead of "
                   "human-readable progress.")
    group = t.add_argument_group("training settings (TrainConfig)")
    for p in TRAIN_PARAMS:  # one flag per setting, from its declaration (training/config.py)
        shown = p.zero if p.zero and p.default == 0 else repr(p.default)
        help_ = p.help if "Default:" in p.help else f"{p.help} Default: {shown}."
        # Choices are checked by TrainConfig, not argparse: it also takes aliases (precision "bf16-mixed").
        group.add_argument(flag_name(p.name), dest=f"cfg_{p.name}", type=yes_no if p.type is bool else p.type,
                           default=None, metavar="{" + ",".join(p.choices) + "}" if p.choices else p.name.upper(),
                           help=help_.replace("%", "%%"))
    group.add_argument("--blur-params", dest="cfg_blur_params", type=json.loads, default=None, metavar="JSON",
                       help=FIELD_HELP["blur_params"].replace("%", "%%"))
    # The blur kinds' parameters as --blur-<name>: several (size, model) would clash with training settings.
    kinds = [(f"blur parameters: {k.name}", [dataclasses.replace(p, name=f"blur_{p.name}") for p in k.params])
             for k in list_kinds()]
    add_param_flags(t, kinds, "kind_")


def _train_config(args: argparse.Namespace) -> TrainConfig:
    """The config of ``--config`` (if given) with the flags given on the command line applied."""
    base = TrainConfig.load(args.config).to_dict() if args.config else {}
    given = {k[4:]: v for k, v in vars(args).items() if k.startswith("cfg_") and v is not None}
    cfg = TrainConfig.from_dict({**base, **given})
    params = [dataclasses.replace(p, name=f"blur_{p.name}") for p in get_kind(cfg.blur).params]
    blur = {k[len("blur_"):]: v for k, v in given_params(args, "kind_", params, f"blur kind {cfg.blur!r}").items()}
    return cfg.replace(blur_params={**cfg.blur_params, **blur}) if blur else cfg


def _event_printer() -> Callable[[Event], None]:
    """A callback printing one human-readable line per training event; step lines end with the time left."""
    left = TimeLeft(0)

    def show(event: Event) -> None:
        nonlocal left
        if isinstance(event, Started):
            left = TimeLeft(event.steps)
            text = f"training from step {event.step} of {event.steps} on {event.device} ({event.run_dir})"
        elif isinstance(event, Step):
            text = f"step {event.step}: loss {event.loss:.4g}, lr {event.lr:.3g}, {event.samples_per_s:.1f} samples/s"
            pace = left.update(event.step)
            text += f", {pace}" if pace else ""
        elif isinstance(event, Validation):
            text = (f"validation at step {event.step}: PSNR {event.psnr:.2f} dB (input {event.input_psnr:.2f} dB), "
                    f"SSIM {event.ssim:.3f}")
        elif isinstance(event, Checkpoint):
            text = f"checkpoint at step {event.step}: {event.path}"
        elif isinstance(event, Stopped):
            text = (f"stopped at step {event.step}: model so far saved to {event.model}; resume with --resume "
                    f"(checkpoint {event.checkpoint})")
        elif isinstance(event, Finished):
            text = f"finished at step {event.step}: model saved to {event.model} (PSNR {event.psnr:.2f} dB)"
        else:
            return  # errors are reported by main() on stderr
        print(text, flush=True)

    return show


def cmd_train(args: argparse.Namespace) -> int:
    from napari_deblur.training.run import train

    cfg = _train_config(args)
    train(cfg, resume=args.resume, on_event=event_printer(args.events) if args.events else _event_printer())
    return 0


def _add_evaluate_parser(sub: argparse._SubParsersAction) -> None:
    e = sub.add_parser("evaluate", help="PSNR/SSIM of a method on pairs or on the synthetic protocol.",
                       formatter_class=HelpFormatter)
    e.add_argument("method_name", nargs="?", metavar="METHOD", help="Method name (or give it with --method).")
    e.add_argument("--method", help="Method name (see `napari-deblur methods`), e.g. wiener or a trained model.")
    e.add_argument("--pairs", type=Path, help="Folder of blur/ + sharp/ pairs (or the GoPro layout).")
    e.add_argument("--kernels", type=Path, help="Synthetic protocol: folder (or file) of kernels (.npy, .tif, .png).")
    e.add_argument("--sharp", type=Path, help="Synthetic protocol: folder (or file) of sharp images.")
    e.add_argument("--sigma", type=float, default=0.01, help="Synthetic protocol: Gaussian noise sigma.")
    e.add_argument("--seed", type=int, default=0, help="Synthetic protocol: seed of the noise.")
    e.add_argument("--psf", type=Path, help="PSF file for a classical method on --pairs.")
    e.add_argument("--limit", type=int, help="Score at most this many pairs (or sharp images).")
    e.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps.")
    e.add_argument("--json", type=Path, help="Also write the results (rows and means) to this JSON file.")
    add_param_flags(e, [(f"{m.name} parameters ({m.kind})", m.params) for m in list_methods()], "param_")


def cmd_evaluate(args: argparse.Namespace) -> int:
    from napari_deblur.training.evaluate import evaluate, format_table

    if (args.method is None) == (args.method_name is None):
        raise SystemExit("error: name the method once: `napari-deblur evaluate METHOD ...` or `--method METHOD`.")
    args.method = args.method or args.method_name
    params = method_params(args, args.method)
    result = evaluate(args.method, pairs=args.pairs, kernels=args.kernels, sharp=args.sharp, sigma=args.sigma,
                      seed=args.seed, limit=args.limit, psf=read_psf(args.psf) if args.psf else None,
                      device=args.device, **params)
    print(format_table(result))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0
