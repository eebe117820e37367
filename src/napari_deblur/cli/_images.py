"""The image commands: ``methods``, ``deblur`` (files and zarr stores), ``kinds``, ``blur``."""

from __future__ import annotations

import argparse
from collections.abc import Generator
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from tqdm import tqdm

from napari_deblur.bioimageio.run import TRUST_CODE
from napari_deblur.calibration import Calibration
from napari_deblur.cli._common import (
    RGB_HELP,
    HelpFormatter,
    add_param_flags,
    check_output,
    given_params,
    method_params,
    param_line,
)
from napari_deblur.cli._files import output_axes, read_input, write_output
from napari_deblur.io import check_output_format, read_calibration, read_image, read_psf, write_image
from napari_deblur.psfs import (
    BLIND_METHOD,
    ESTIMATE,
    ESTIMATE_PARAMS,
    OPTICS_KINDS,
    PSF_METHOD,
    PSF_NAMES,
    default_request,
)
from napari_deblur.psfs.estimate.estimator import ESTIMATE_MESSAGE
from napari_deblur.psfs.named import request_steps
from napari_deblur.psfs.optics import describe_optics
from napari_deblur.restore.engine import Progress, drain
from napari_deblur.restore.methods import list_methods
from napari_deblur.synth.degrade import stack_kernels
from napari_deblur.synth.kinds import get_kind, list_kinds
from napari_deblur.synth.synthesize import blur_variants, stack_axes
from napari_deblur.zarr_io import is_zarr
from napari_deblur.zoo.learned_blur import LEARNED

T = TypeVar("T")


def add_image_parsers(sub: argparse._SubParsersAction) -> None:
    """The ``deblur``, ``kinds`` and ``blur`` commands."""
    d = sub.add_parser("deblur", help="Deblur an image file.",
                       formatter_class=HelpFormatter)
    d.add_argument("input", type=Path, help="Input image (TIFF keeps dtype and axes; PNG, JPEG, ...; a .zarr store "
                   "or OME-Zarr image streams chunk by chunk).")
    d.add_argument("output", type=Path, help="Output image; written atomically (.zarr: chunk by chunk).")
    d.add_argument("--method", help=f"Method name (see `napari-deblur methods`); default: {PSF_METHOD} with a PSF, "
                   f"and without one the blind path: --psf {ESTIMATE} then {BLIND_METHOD}.")
    d.add_argument("--psf", help="PSF image file (needed by classical methods), widefield / confocal to "
                   "generate it from the optics flags (--na, --wavelength, --pixel-size, --z-step, ...), or estimate "
                   "to estimate the blur kernel from the 2D image (grey or colour) itself (--kernel-size).")
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
    add_param_flags(d, [(f"{m.name} parameters ({m.kind})", m.params) for m in list_methods()], "param_")
    add_param_flags(d, [("BioImage Model Zoo package: --method FILE.zip", (TRUST_CODE,))], "param_")
    add_param_flags(d, [(f"PSF from optics: --psf {k}", get_kind(k).params) for k in OPTICS_KINDS], "optics_")
    per_channel_wavelengths(d, "optics_wavelength")
    add_param_flags(d, [(f"PSF from the image: --psf {ESTIMATE}", ESTIMATE_PARAMS)], "estimate_")

    sub.add_parser("kinds", help="List the blur kinds (for `blur`) and their parameters.")

    b = sub.add_parser("blur", help="Blur an image file realistically (training pairs, test data).",
                       formatter_class=HelpFormatter)
    b.add_argument("input", type=Path, help="Sharp input image (TIFF keeps dtype and axes; PNG, JPEG, ...).")
    b.add_argument("output", type=Path, help="Blurred output image; written atomically.")
    b.add_argument("--kind", default="camera_shake", help="Blur kind (see `napari-deblur kinds`), or learned with "
                   "--generator.")
    b.add_argument("--generator", help="For --kind learned: a trained blur generator (name or .safetensors path; "
                   "napari-deblur train --model bgan).")
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
    add_param_flags(b, [(f"{k.name} parameters", k.params) for k in list_kinds()], "kind_")


def per_channel_wavelengths(parser: argparse.ArgumentParser, dest: str) -> None:
    """Let ``--wavelength`` take one value per channel (a PSF per channel), where the generated flag takes one."""
    action = next(a for a in parser._actions if a.dest == dest)
    action.nargs = "+"
    action.help = action.help.replace("micrometres.", "micrometres; one per channel (axis C) for a PSF per channel; "
                                      "by default the file's (OME) where it names them.")


def cmd_methods() -> int:
    for spec in list_methods():
        psf = ", needs a PSF" if spec.needs_psf else ""
        reason = spec.why_unavailable()
        status = f", {reason}" if reason else ""
        print(f"{spec.name}  [{spec.kind}{psf}{status}]  {spec.description}")
        for p in spec.params:
            print(param_line(p, 18))
    return 0


def cmd_deblur(args: argparse.Namespace) -> int:
    args.method, args.psf = default_request(args.method, args.psf)
    params = method_params(args, args.method)
    psf_file = [Path(args.psf)] if args.psf and args.psf not in PSF_NAMES else []
    check_output(args.output, [args.input, *psf_file], args.overwrite)
    psf = read_psf(psf_file[0]) if psf_file else args.psf  # a name: generated or estimated for the image below
    calibration = read_calibration(args.input)
    optics, from_file = _psf_settings(args, psf, calibration)
    params |= optics
    if is_zarr(args.input) or is_zarr(args.output):
        return _deblur_zarr(args, psf, params, calibration, from_file)
    image, axes = read_input(args.input, args.axes)
    check_output_format(args.output, np.float32 if args.float32 else image.dtype)
    result, made = _with_bars(request_steps(image, args.method, psf, axes=axes, rgb=args.rgb or None,
                                            device=args.device, output_dtype="float32" if args.float32 else "same",
                                            params=params, **_engine_flags(args)), args.method)
    _say_psf(psf, made, params, from_file)
    note = write_output(args.output, result, output_axes(result.shape, axes, args.rgb or None), calibration)
    print(f"wrote {args.output} {result.shape} {result.dtype}{note}")
    return 0


def _say_psf(psf: Any, made: Any, params: dict[str, Any], from_file: dict[str, Any]) -> None:
    """Print what a generated PSF was made from (never from settings the user did not see)."""
    if made is not None and psf in OPTICS_KINDS:
        print(describe_optics(psf, made, params, from_file))


def _engine_flags(args: argparse.Namespace) -> dict[str, Any]:
    return {"tile_size": args.tile_size, "tile_overlap": args.tile_overlap, "tile_batch": args.tile_batch}


def _with_bars(steps: Generator[Progress, None, T], method: str) -> T:
    """Run ``steps`` with one progress bar that moves with the real work: the kernel estimate's scales
    (``--psf estimate``), then the method's tiles, or its iterations when it runs as one tile; a per-channel run
    counts across its channels. A stage drawn anew on the same bar; nothing before the first real count (not
    before a refused request fails, nor for "preparing")."""
    bar: tqdm | None = None
    stage = ""

    def show(event: Progress) -> None:
        nonlocal bar, stage
        now = "estimate" if ESTIMATE_MESSAGE in event.message else event.unit
        if not now:
            return  # "preparing" (how much work there is is not known yet) and other uncounted events
        if now != stage:
            stage = now
            bar = bar or tqdm()
            bar.reset(total=event.total)
            bar.unit = "step" if now == "estimate" else now
            bar.set_description("estimating the kernel" if now == "estimate" else method, refresh=False)
        if event.total != bar.total:
            bar.total = event.total
        bar.update(event.done - bar.n)  # increments: tqdm's rate and time left stay true

    try:
        return drain(steps, show)
    finally:
        if bar is not None:
            bar.close()


def _psf_settings(args: argparse.Namespace, psf: Any, calibration: Calibration | None
                  ) -> tuple[dict[str, Any], dict[str, Any]]:
    """The optics flags (``--psf widefield|confocal``) or the estimate's (``--psf estimate``) the user set, checked
    against the PSF asked for (a flag for another kind of PSF is refused with what it is for); for an optics PSF
    the file's calibration fills what the flags leave out. Returns the settings, and those taken from the file."""
    name = psf if isinstance(psf, str) else None
    what = f"--psf {name}" if name else "a PSF file"
    optics = get_kind(name).params if name in OPTICS_KINDS else ()
    given = given_params(args, "optics_", optics, what if optics else f"{what} (the optics flags are for --psf "
                          "widefield or confocal)")
    if isinstance(given.get("wavelength"), list) and len(given["wavelength"]) == 1:
        given["wavelength"] = given["wavelength"][0]
    from_file = {k: v for k, v in calibration.optics().items() if k not in given} if optics and calibration else {}
    estimate = ESTIMATE_PARAMS if name == ESTIMATE else ()
    settings = from_file | given | given_params(args, "estimate_", estimate, what if estimate else f"{what} "
                                                "(--kernel-size is for --psf estimate)")
    return settings, from_file


def _deblur_zarr(args: argparse.Namespace, psf: Any, params: dict[str, Any], calibration: Calibration | None,
                 from_file: dict[str, Any]) -> int:
    """Zarr in or out: the lazy path, computed chunk by chunk (bounded memory) straight into the output."""
    from dask.diagnostics import ProgressBar

    image, axes = read_input(args.input, args.axes, lazy=True, fill_missing=args.fill_missing_chunks)
    try:  # chunks are read only from here on: a damaged one fails deep in dask
        result, made = _with_bars(request_steps(image, args.method, psf, axes=axes, rgb=args.rgb or None,
                                                device=args.device, output_dtype="float32" if args.float32 else "same",
                                                params=params, **_engine_flags(args)), args.method)
        _say_psf(psf, made, params, from_file)
        if not is_zarr(args.output):
            check_output_format(args.output, result.dtype)
        with ProgressBar():
            note = write_output(args.output, result, output_axes(result.shape, axes, args.rgb or None), calibration)
    except (RuntimeError, OSError) as err:
        raise ValueError(f"Deblurring {args.input} failed while reading or computing its chunks ({err}); if a "
                         "chunk of the store is damaged, restore it from a copy.") from None
    print(f"wrote {args.output} {result.shape} {result.dtype} (chunks {result.chunksize}){note}")
    return 0


def cmd_kinds() -> int:
    for kind in list_kinds():
        extra = ", random (seeded)" if kind.random else ""
        extra += ", 2D or 3D" if kind.supports_3d else ""
        print(f"{kind.name}  [blur{extra}]  {kind.description}")
        for p in kind.params:
            print(param_line(p, 24))
    return 0


def cmd_blur(args: argparse.Namespace) -> int:
    learned = args.kind == LEARNED
    if learned and (args.kernel_out or args.depth or args.kernel):
        raise SystemExit("error: --kind learned makes no kernel and takes no --depth, --kernel or --kernel-out.")
    if bool(args.generator) != learned:
        raise SystemExit("error: --generator goes with --kind learned, and --kind learned needs --generator.")
    params = (given_params(args, "kind_", (), "--kind learned") | {"model": args.generator} if learned else
              given_params(args, "kind_", get_kind(args.kind).params, f"blur kind {args.kind!r}"))
    inputs = [p for p in (args.input, args.depth, args.kernel) if p]
    for output in (args.output, args.kernel_out):
        if output:
            check_output(output, inputs, args.overwrite)
    image, axes = read_input(args.input, args.axes)
    calibration = read_calibration(args.input)
    axes = axes or stack_axes(args.kind, image.shape, args.rgb or None)  # as the blur takes it, so written
    if args.kind in OPTICS_KINDS and calibration:  # blur as this microscope would, at the file's sampling
        params = {k: v for k, v in calibration.optics().items() if not isinstance(v, list)} | params
    if not is_zarr(args.output):
        check_output_format(args.output, image.dtype)
    if args.kernel_out:
        check_output_format(args.kernel_out, np.float32)
    depth = read_image(args.depth)[0] if args.depth else None
    kernel = read_image(args.kernel)[0] if args.kernel else None
    seed = args.seed if args.seed is not None else int(np.random.default_rng().integers(2**31))
    stack, kernels = blur_variants(
        image, args.variants, args.kind, seed=seed, noise=args.noise, photons=args.photons,
        jpeg_quality=args.jpeg_quality, gamma=args.gamma, depth=depth, focus=args.focus, kernel=kernel,
        axes=axes, rgb=args.rgb or None, **params,
    )
    result = stack[0] if args.variants == 1 else stack
    # Variants stack along a new first axis, which no axis letter names: TIFF keeps axes and calibration only for
    # a single result.
    axes = output_axes(result.shape, axes, args.rgb or None) if args.variants == 1 else None
    note = write_output(args.output, result, axes, calibration)
    print(f"wrote {args.output} {result.shape} {result.dtype} ({args.kind}, seed {seed}){note}")
    if args.kernel_out:
        kernel_out = kernels[0] if args.variants == 1 else stack_kernels(kernels)
        write_image(args.kernel_out, kernel_out.astype(np.float32))
        print(f"wrote {args.kernel_out} {kernel_out.shape}")
    return 0
