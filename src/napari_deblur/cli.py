"""The ``napari-deblur`` command: list methods and blur kinds, deblur files, blur files, train and evaluate
models, run the demo.

Method flags are generated from the registry (``--balance``, ``--iterations``, ...) and blur-kind flags from
the kinds' specs (``--length``, ``--radius``, ``--na``, ...), so every parameter is a flag and new methods or
kinds need no CLI code. ``train`` takes one flag per ``TrainConfig`` field (``--steps``, ``--patch``, ...) and the
blur kinds' parameters prefixed with ``blur`` (``--blur-length``, ``--blur-radius``, ...).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from tqdm import tqdm

from napari_deblur.params import Param
from napari_deblur.restore.engine import Progress, deblur_steps, drain
from napari_deblur.restore.methods import get_method, list_methods
from napari_deblur.synth.kinds import get_kind, list_kinds
from napari_deblur.train.events import Checkpoint, Event, Finished, Started, Step, Stopped, Validation, event_printer

if TYPE_CHECKING:
    from napari_deblur.train.config import TrainConfig

RGB_HELP = "The trailing axis of size 3/4 is colour (already the default for a 3D image ending in 3 or 4)."


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each flag's default, except where argparse's default is only "not given" (None, or False for a
    switch): method and blur parameters state their own default in their help text."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default in (None, False):
            return action.help or ""
        return super()._get_help_string(action)


_PY_KEYWORD = re.compile(r"\b([a-z][a-z0-9_]*)=('([^']*)'|<([^>]*)>|True\b)?")


def cli_words(message: str) -> str:
    """An error message of the Python API in the command line's words: ``axes='ZYX'`` -> ``--axes ZYX``,
    ``weights=<name>`` -> ``--weights <name>``, ``psf=<array>`` -> ``--psf FILE``, ``rgb=True`` -> ``--rgb``.
    Notes addressed to the command line ("(CLI: ...)") are dropped, as the message now speaks it."""
    message = re.sub(r"\s*\((?:CLI: |or --)[^)]*\)", "", message)

    def flag(match: re.Match) -> str:
        name, _, quoted, angled = match.groups()
        if name == "psf" and angled is not None:
            return "--psf FILE"
        value = quoted if quoted is not None else f"<{angled}>" if angled is not None else ""
        return f"{_flag(name)} {value}".rstrip()

    return _PY_KEYWORD.sub(flag, message)


def _add_param_flags(parser: argparse.ArgumentParser, specs: Sequence[tuple[str, Sequence[Param]]],
                     prefix: str) -> None:
    """One flag per distinct parameter name across ``specs`` (title, params), grouped under the first user."""
    seen: set[str] = set()
    for title, params in specs:
        group = parser.add_argument_group(title)
        for p in params:
            if p.name in seen:
                continue
            seen.add(p.name)
            # argparse %-formats help strings: a literal % (as in "per 1% of the exposure") must be doubled.
            text = f"{p.help} Default: {p.default}.".replace("%", "%%")
            kwargs: dict = {"dest": f"{prefix}{p.name}", "default": None, "help": text}
            if p.type is bool:
                kwargs["action"] = argparse.BooleanOptionalAction
            else:
                kwargs["type"] = p.type
                if p.choices:
                    kwargs["choices"] = p.choices
            group.add_argument(_flag(p.name), **kwargs)


def _given_params(args: argparse.Namespace, prefix: str, params: Sequence[Param], owner: str) -> dict:
    """The flags the user set, checked against the parameters of the chosen method or kind (``owner``)."""
    names = {p.name for p in params}
    given = {k[len(prefix) :]: v for k, v in vars(args).items() if k.startswith(prefix) and v is not None}
    foreign = sorted(set(given) - names)
    if foreign:
        raise SystemExit(
            f"error: {', '.join(_flag(f) for f in foreign)} do(es) not apply to {owner}; "
            f"its flags are: {', '.join(_flag(n) for n in sorted(names)) or 'none'}."
        )
    return given


def check_output(output: Path, inputs: Sequence[Path], overwrite: bool) -> None:
    """Refuse, before any work, an output that would replace an input or an existing file (unless
    ``overwrite``), that is a folder, or that cannot be written."""
    from napari_deblur.zarr_io import is_zarr

    target = output.expanduser().resolve()
    for given in inputs:
        if given.expanduser().resolve() == target and (not overwrite or is_zarr(output)):
            # A zarr store is read chunk by chunk while the result is written: replacing it in place is never safe.
            raise ValueError(f"The output {output} is the input: writing it would destroy the original. Choose "
                             "another output" + ("." if is_zarr(output) else " (or --overwrite if you mean it)."))
    if output.is_dir() and not is_zarr(output):
        raise ValueError(f"The output {output} is a folder, not an image file; give a file name such as "
                         f"{output / 'result.tif'}.")
    if output.exists() and not overwrite:
        raise ValueError(f"{output} exists; choose another output, or pass --overwrite to replace it.")
    folder = target.parent
    while not folder.exists():
        folder = folder.parent
    if not os.access(folder, os.W_OK):
        raise ValueError(f"Cannot write {output}: the folder {folder} is not writable.")


def _method_params(args: argparse.Namespace, method: str) -> dict:
    return _given_params(args, "param_", get_method(method).params, f"method {method!r}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="napari-deblur", description="Remove blur from images.")
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("methods", help="List the deblurring methods and their parameters.")

    d = sub.add_parser("deblur", help="Deblur an image file.",
                       formatter_class=_HelpFormatter)
    d.add_argument("input", type=Path, help="Input image (TIFF keeps dtype and axes; PNG, JPEG, ...; a .zarr store "
                   "or OME-Zarr image streams chunk by chunk).")
    d.add_argument("output", type=Path, help="Output image; written atomically (.zarr: chunk by chunk).")
    d.add_argument("--method", default="richardson_lucy", help="Method name (see `napari-deblur methods`).")
    d.add_argument("--psf", type=Path, help="PSF image file (needed by classical methods).")
    d.add_argument("--axes", help="Axes of the input, e.g. ZYX, TYX, CYX, YXC (inferred when possible).")
    d.add_argument("--rgb", action="store_true", help=RGB_HELP)
    d.add_argument("--tile-size", type=int, help="Tile edge in pixels (default: the method's choice).")
    d.add_argument("--tile-overlap", type=int, help="Tile overlap in pixels.")
    d.add_argument("--tile-batch", type=int, help="Tiles per model call (default: from the free memory).")
    d.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps.")
    d.add_argument("--float32", action="store_true", help="Write float32 instead of the input's dtype.")
    d.add_argument("--overwrite", action="store_true", help="Replace an existing output file.")
    d.add_argument("--fill-missing-chunks", action="store_true", help="Zarr input: deblur chunks that were never "
                   "written as the array's fill value (with a warning) instead of refusing.")
    _add_param_flags(d, [(f"{m.name} parameters ({m.kind})", m.params) for m in list_methods()], "param_")

    sub.add_parser("kinds", help="List the blur kinds (for `blur`) and their parameters.")

    b = sub.add_parser("blur", help="Blur an image file realistically (training pairs, test data).",
                       formatter_class=_HelpFormatter)
    b.add_argument("input", type=Path, help="Sharp input image (TIFF keeps dtype and axes; PNG, JPEG, ...).")
    b.add_argument("output", type=Path, help="Blurred output image; written atomically.")
    b.add_argument("--kind", default="camera_shake", help="Blur kind (see `napari-deblur kinds`).")
    b.add_argument("--overwrite", action="store_true", help="Replace existing output files.")
    b.add_argument("--seed", type=int, help="Seed of the kernel and the noise (same seed, same result).")
    b.add_argument("--noise", type=float, default=0.01, help="Gaussian noise sigma, fraction of the range.")
    b.add_argument("--photons", type=float, help="Poisson shot noise: photons at the white level.")
    b.add_argument("--jpeg-quality", type=int, help="JPEG-compress the result at this quality (1-100).")
    b.add_argument("--gamma", type=float, help="Blur in linear light for display-encoded photos (2.2).")
    b.add_argument("--depth", type=Path, help="Depth map / mask image in [0, 1]: spatially varying blur.")
    b.add_argument("--focus", type=float, default=0.0, help="With --depth: the depth that stays sharp.")
    b.add_argument("--kernel", type=Path, help="Kernel image file for --kind custom.")
    b.add_argument("--kernel-out", type=Path, help="Also write the kernel used (TIFF, float32).")
    b.add_argument("--axes", help="Axes of the input, e.g. ZYX, TYX, YXC (inferred when possible).")
    b.add_argument("--rgb", action="store_true", help=RGB_HELP)
    b.add_argument("--variants", type=int, default=1,
                   help="Write N variants (seeds seed..seed+N-1) stacked along a new first axis.")
    _add_param_flags(b, [(f"{k.name} parameters", k.params) for k in list_kinds()], "kind_")

    _add_train_parser(sub)
    _add_evaluate_parser(sub)

    demo = sub.add_parser("demo", help="Blur a sample image, deblur it blind and with the kernel, print PSNR, save a "
                          "comparison.")
    demo.add_argument("--out", type=Path, default=Path("demo_output"), help="Folder for the results.")
    demo.add_argument("--method", default="nafnet", help="Method to demonstrate beside Richardson-Lucy with the true "
                      "kernel (default: the shipped general NAFNet, blind).")
    demo.add_argument("--seed", type=int, default=3, help="Seed of the blur kernel and noise.")
    demo.add_argument("--gui", action="store_true", help="Open napari with the three layers.")
    return parser


def _cmd_methods() -> int:
    for spec in list_methods():
        psf = ", needs a PSF" if spec.needs_psf else ""
        reason = spec.why_unavailable()
        status = f", {reason}" if reason else ""
        print(f"{spec.name}  [{spec.kind}{psf}{status}]  {spec.description}")
        for p in spec.params:
            rng = f" in [{p.min}, {p.max}]" if p.min is not None or p.max is not None else ""
            choices = f" one of {'/'.join(p.choices)}" if p.choices else ""
            print(f"    {_flag(p.name):<18} {p.type.__name__:<5} default {p.default}{rng}{choices}. {p.help}")
    return 0


def _cmd_deblur(args: argparse.Namespace) -> int:
    from napari_deblur.io import check_output_format, read_image, read_psf, write_image
    from napari_deblur.zarr_io import is_zarr

    params = _method_params(args, args.method)
    check_output(args.output, [args.input, *([args.psf] if args.psf else [])], args.overwrite)
    psf = read_psf(args.psf) if args.psf else None
    if is_zarr(args.input) or is_zarr(args.output):
        return _deblur_zarr(args, psf, params)
    image, file_axes = read_image(args.input)
    check_output_format(args.output, np.float32 if args.float32 else image.dtype)
    axes = args.axes or file_axes
    steps = deblur_steps(
        image, args.method, psf=psf, axes=axes, rgb=args.rgb or None, tile_size=args.tile_size,
        tile_overlap=args.tile_overlap, tile_batch=args.tile_batch, device=args.device,
        output_dtype="float32" if args.float32 else "same", **params,
    )
    bars: list[tqdm] = []  # drawn once the tiles are counted: not before a bad request fails, nor with 0/1

    def show(event: Progress) -> None:
        if event.total <= 1 and not event.done:
            return  # "preparing": the number of tiles is not known yet
        if not bars:
            bars.append(tqdm(total=event.total, desc=args.method, unit="tile"))
        bars[0].total, bars[0].n = event.total, event.done
        bars[0].refresh()

    try:
        result = drain(steps, show)
    finally:
        for bar in bars:
            bar.close()
    write_image(args.output, result, axes=axes)
    print(f"wrote {args.output} {result.shape} {result.dtype}")
    return 0


def _deblur_zarr(args: argparse.Namespace, psf: Any, params: dict[str, Any]) -> int:
    """Zarr in or out: the lazy path, computed chunk by chunk (bounded memory) straight into the output."""
    import dask.array as da
    from dask.diagnostics import ProgressBar

    from napari_deblur.io import check_output_format, read_image, write_image
    from napari_deblur.restore.lazy import deblur_lazy
    from napari_deblur.zarr_io import is_zarr, read_zarr, write_zarr

    if is_zarr(args.input):
        image, axes = read_zarr(args.input, fill_missing=args.fill_missing_chunks)
        axes = args.axes or axes
    else:
        array, file_axes = read_image(args.input)
        image = da.from_array(array, chunks="auto")
        axes = args.axes or file_axes
    try:  # chunks are read only from here on: a damaged one fails deep in dask
        result = deblur_lazy(image, args.method, psf=psf, axes=axes, rgb=args.rgb or None,
                             tile_size=args.tile_size, tile_overlap=args.tile_overlap, tile_batch=args.tile_batch,
                             device=args.device, output_dtype="float32" if args.float32 else "same", **params)
        if not is_zarr(args.output):
            check_output_format(args.output, result.dtype)
        with ProgressBar():
            if is_zarr(args.output):
                write_zarr(result, args.output)
            else:
                write_image(args.output, result.compute(), axes=axes)
    except (RuntimeError, OSError) as err:
        raise ValueError(f"Deblurring {args.input} failed while reading or computing its chunks ({err}); if a "
                         "chunk of the store is damaged, restore it from a copy.") from None
    print(f"wrote {args.output} {result.shape} {result.dtype} (chunks {result.chunksize})")
    return 0


def _cmd_kinds() -> int:
    for kind in list_kinds():
        extra = ", random (seeded)" if kind.random else ""
        extra += ", 2D or 3D" if kind.supports_3d else ""
        print(f"{kind.name}  [blur{extra}]  {kind.description}")
        for p in kind.params:
            rng = f" in [{p.min}, {p.max}]" if p.min is not None or p.max is not None else ""
            choices = f" one of {'/'.join(p.choices)}" if p.choices else ""
            print(f"    {_flag(p.name):<24} {p.type.__name__:<5} default {p.default}{rng}{choices}. {p.help}")
    return 0


def _cmd_blur(args: argparse.Namespace) -> int:
    from napari_deblur.io import check_output_format, read_image, write_image
    from napari_deblur.synth.degrade import stack_kernels
    from napari_deblur.synth.synthesize import blur_variants

    params = _given_params(args, "kind_", get_kind(args.kind).params, f"blur kind {args.kind!r}")
    inputs = [p for p in (args.input, args.depth, args.kernel) if p]
    for output in (args.output, args.kernel_out):
        if output:
            check_output(output, inputs, args.overwrite)
    image, file_axes = read_image(args.input)
    check_output_format(args.output, image.dtype)
    if args.kernel_out:
        check_output_format(args.kernel_out, np.float32)
    axes = args.axes or file_axes
    depth = read_image(args.depth)[0] if args.depth else None
    kernel = read_image(args.kernel)[0] if args.kernel else None
    seed = args.seed if args.seed is not None else int(np.random.default_rng().integers(2**31))
    stack, kernels = blur_variants(
        image, args.variants, args.kind, seed=seed, noise=args.noise, photons=args.photons,
        jpeg_quality=args.jpeg_quality, gamma=args.gamma, depth=depth, focus=args.focus, kernel=kernel,
        axes=axes, rgb=args.rgb or None, **params,
    )
    result = stack[0] if args.variants == 1 else stack
    # Variants stack along a new first axis; TIFF keeps the input's axes only for a single result.
    write_image(args.output, result, axes=axes if args.variants == 1 else None)
    print(f"wrote {args.output} {result.shape} {result.dtype} ({args.kind}, seed {seed})")
    if args.kernel_out:
        kernel_out = kernels[0] if args.variants == 1 else stack_kernels(kernels)
        write_image(args.kernel_out, kernel_out.astype(np.float32))
        print(f"wrote {args.kernel_out} {kernel_out.shape}")
    return 0


#: Help for the most used training settings; every other TrainConfig field gets a generic line.
TRAIN_HELP = {
    "model": "Network family to train (see `napari-deblur methods`).",
    "size": "Model size (small is fast on a CPU, base is the paper's).",
    "name": "Model name (file stem); deblur with `--weights NAME`. Default: <model>-<size>-custom.",
    "out": "Output .safetensors file. Default: the user model folder, so the model is found by name.",
    "pairs": "Folder of blur/ + sharp/ pairs with matching names (or the GoPro layout).",
    "sharp": "Folder of sharp images, blurred on the fly (2D, RGB, or z-stacks).",
    "scenes": "Built-in sharp images, blurred on the fly: natural (scikit-image's photographs plus dead leaves), "
              "dead_leaves or fluorescence.",
    "init": "Start from this trained model (name or .safetensors path) of the same family and size: fine-tuning.",
    "compile": "torch.compile the network for training (true/false): 1.5x faster on a CPU after a minute of "
               "compiling.",
    "blur": "Blur kind for --sharp/--scenes (see `napari-deblur kinds`); its parameters are --blur-* flags.",
    "blur_params": "The blur kind's parameters as JSON, e.g. '{\"size\": 15}' (or use the --blur-* flags).",
    "noise": "Gaussian noise: each sample draws sigma uniformly up to this.",
    "photons": "Poisson noise: photons at the white level (0 = none).",
    "jpeg_quality": "JPEG-compress the blurred samples at this quality (0 = off).",
    "val_pairs": "Held-out pairs folder for validation (default: held out from --pairs, or synthetic).",
    "val_size": "Validation images.",
    "preview_image": "An image to deblur with the current model at every validation (centre crop; written to "
                     "the run folder's previews/output_step_N.tif).",
    "weight_decay": "AdamW weight decay.",
    "fft_weight": "Weight of the FFT loss (0 = off).",
    "vgg_weights": "Local VGG-19 weights file (torchvision's vgg19-*.pth or .safetensors) for the perceptual "
                   "loss; nothing is downloaded. Empty = no perceptual loss.",
    "perceptual_weight": "Weight of the perceptual loss (with --vgg-weights).",
    "adv_weight": "GAN only: weight of the adversarial loss.",
    "gan_pretrain": "GAN only: fraction of the steps trained with pixel losses before the critic joins.",
    "ema": "GAN only: decay of the generator's moving average (the saved weights).",
    "seed": "Seed of the data stream and the initialization.",
    "in_channels": "1 (grayscale; colour images train channel by channel) or 3 (RGB jointly).",
    "steps": "Training steps (optimizer updates).",
    "patch": "Training crop side in pixels.",
    "batch": "Crops per step (per device).",
    "lr": "Peak learning rate (AdamW, cosine decay to 0).",
    "loss": "Pixel loss: l1, charbonnier or psnr.",
    "device": "auto, cpu, cuda or mps.",
    "devices": "GPUs to train on (DDP when more than one).",
    "precision": "auto (bfloat16 on GPUs that support it, else float32), float32, bfloat16 or float16 (mixed).",
    "val_every": "Validate (and write a preview) every N steps.",
    "checkpoint_every": "Save the run folder's last.ckpt every N steps.",
    "workers": "Data-loading worker processes.",
}


def _add_train_parser(sub: argparse._SubParsersAction) -> None:
    from napari_deblur.train.config import TrainConfig

    t = sub.add_parser("train", help="Train a network on your data (or procedural scenes); JSON events with "
                       "--events.")
    t.add_argument("--config", type=Path, help="Start from this TrainConfig JSON (e.g. a run folder's config.json); "
                   "flags override it.")
    t.add_argument("--resume", action="store_true", help="Continue from the run folder's last.ckpt.")
    t.add_argument("--events", help="Print JSON-line events to stdout ('-') or append them to a file, instead of "
                   "human-readable progress.")
    group = t.add_argument_group("training settings (TrainConfig)")
    for f in dataclasses.fields(TrainConfig):
        default = getattr(TrainConfig(), f.name)
        kind = json.loads if isinstance(default, dict) else _yes_no if isinstance(default, bool) else type(default)
        help_ = TRAIN_HELP.get(f.name, f"TrainConfig.{f.name}.")
        help_ += "" if "Default:" in help_ else f" Default: {default!r}."
        group.add_argument(_flag(f.name), dest=f"cfg_{f.name}", type=kind, default=None, metavar=f.name.upper(),
                           help=help_.replace("%", "%%"))
    # The blur kinds' parameters as --blur-<name>: several (size, model) would clash with training settings.
    kinds = [(f"blur parameters: {k.name}", [dataclasses.replace(p, name=f"blur_{p.name}") for p in k.params])
             for k in list_kinds()]
    _add_param_flags(t, kinds, "kind_")


def _yes_no(text: str) -> bool:
    """A command-line boolean: true/false, yes/no, 1/0, on/off."""
    value = text.strip().lower()
    if value in ("true", "yes", "1", "on"):
        return True
    if value in ("false", "no", "0", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _train_config(args: argparse.Namespace) -> TrainConfig:
    """The config of ``--config`` (if given) with the flags given on the command line applied."""
    from napari_deblur.train.config import TrainConfig

    base = TrainConfig.load(args.config).to_dict() if args.config else {}
    given = {k[4:]: v for k, v in vars(args).items() if k.startswith("cfg_") and v is not None}
    cfg = TrainConfig.from_dict({**base, **given})
    params = [dataclasses.replace(p, name=f"blur_{p.name}") for p in get_kind(cfg.blur).params]
    blur = {k[len("blur_"):]: v for k, v in _given_params(args, "kind_", params, f"blur kind {cfg.blur!r}").items()}
    return cfg.replace(blur_params={**cfg.blur_params, **blur}) if blur else cfg


def _print_event(event: Event) -> None:
    """One human-readable line per training event."""
    if isinstance(event, Started):
        text = f"training from step {event.step} of {event.steps} on {event.device} ({event.run_dir})"
    elif isinstance(event, Step):
        text = f"step {event.step}: loss {event.loss:.4g}, lr {event.lr:.3g}, {event.samples_per_s:.1f} samples/s"
    elif isinstance(event, Validation):
        text = (f"validation at step {event.step}: PSNR {event.psnr:.2f} dB (input {event.input_psnr:.2f} dB), "
                f"SSIM {event.ssim:.3f}")
    elif isinstance(event, Checkpoint):
        text = f"checkpoint at step {event.step}: {event.path}"
    elif isinstance(event, Stopped):
        text = f"stopped at step {event.step}; resume with --resume (checkpoint {event.checkpoint})"
    elif isinstance(event, Finished):
        text = f"finished at step {event.step}: model saved to {event.model} (PSNR {event.psnr:.2f} dB)"
    else:
        return  # errors are reported by main() on stderr
    print(text, flush=True)


def _cmd_train(args: argparse.Namespace) -> int:
    from napari_deblur.train.run import train

    cfg = _train_config(args)
    train(cfg, resume=args.resume, on_event=event_printer(args.events) if args.events else _print_event)
    return 0


def _add_evaluate_parser(sub: argparse._SubParsersAction) -> None:
    e = sub.add_parser("evaluate", help="PSNR/SSIM of a method on pairs or on the synthetic protocol.",
                       formatter_class=_HelpFormatter)
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
    _add_param_flags(e, [(f"{m.name} parameters ({m.kind})", m.params) for m in list_methods()], "param_")


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from napari_deblur.io import read_psf
    from napari_deblur.train.evaluate import evaluate, format_table

    if (args.method is None) == (args.method_name is None):
        raise SystemExit("error: name the method once: `napari-deblur evaluate METHOD ...` or `--method METHOD`.")
    args.method = args.method or args.method_name
    params = _method_params(args, args.method)
    result = evaluate(args.method, pairs=args.pairs, kernels=args.kernels, sharp=args.sharp, sigma=args.sigma,
                      seed=args.seed, limit=args.limit, psf=read_psf(args.psf) if args.psf else None,
                      device=args.device, **params)
    print(format_table(result))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "methods":
            return _cmd_methods()
        if args.command == "deblur":
            return _cmd_deblur(args)
        if args.command == "kinds":
            return _cmd_kinds()
        if args.command == "blur":
            return _cmd_blur(args)
        if args.command == "train":
            return _cmd_train(args)
        if args.command == "evaluate":
            return _cmd_evaluate(args)
        if args.command == "demo":
            from napari_deblur.demo import run_demo

            return run_demo(args.out, method=args.method, seed=args.seed, gui=args.gui)
    except (ValueError, FileNotFoundError, TypeError) as err:
        print(f"napari-deblur: error: {cli_words(str(err))}", file=sys.stderr)
        return 2
    return 1


if __name__ == "__main__":
    sys.exit(main())
