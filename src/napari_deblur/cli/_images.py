"""The image commands: ``methods``, ``deblur`` (files and zarr stores), ``kinds``, ``blur``."""

from __future__ import annotations

import argparse
from collections.abc import Generator
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from tqdm import tqdm

from napari_deblur.bioimageio.run import TRUST_CODE
from napari_deblur.cli._common import (
    RGB_HELP,
    HelpFormatter,
    add_param_flags,
    check_output,
    given_params,
    method_params,
    param_line,
)
from napari_deblur.io import check_output_format, read_image, read_psf, write_image
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
from napari_deblur.restore.engine import Progress, drain
from napari_deblur.restore.methods import list_methods
from napari_deblur.synth.degrade import stack_kernels
from napari_deblur.synth.kinds import get_kind, list_kinds
from napari_deblur.synth.synthesize import blur_variants
from napari_deblur.zarr_io import is_zarr, read_zarr, write_zarr
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
    params |= _psf_settings(args, psf)
    if is_zarr(args.input) or is_zarr(args.output):
        return _deblur_zarr(args, psf, params)
    image, file_axes = read_image(args.input)
    check_output_format(args.output, np.float32 if args.float32 else image.dtype)
    axes = args.axes or file_axes
    result, _ = _with_bars(request_steps(image, args.method, psf, axes=axes, rgb=args.rgb or None,
                                         device=args.device, output_dtype="float32" if args.float32 else "same",
                                         params=params, **_engine_flags(args)), args.method)
    write_image(args.output, result, axes=axes)
    print(f"wrote {args.output} {result.shape} {result.dtype}")
    return 0


def _engine_flags(args: argparse.Namespace) -> dict[str, Any]:
    return {"tile_size": args.tile_size, "tile_overlap": args.tile_overlap, "tile_batch": args.tile_batch}


def _with_bars(steps: Generator[Progress, None, T], method: str) -> T:
    """Run ``steps`` with a progress bar per stage: the kernel estimate (``--psf estimate``), then the tiles. Bars
    are drawn at their stage's first real count: not before a refused request fails, nor for "preparing"."""
    bars: dict[str, tqdm] = {}

    def show(event: Progress) -> None:
        stage = "estimate" if event.message.startswith(ESTIMATE_MESSAGE) else "tiles"
        if stage == "tiles" and event.total <= 1 and not event.done:
            return  # "preparing": the number of tiles is not known yet
        if stage not in bars:
            desc, unit = ("estimating the kernel", "step") if stage == "estimate" else (method, "tile")
            bars[stage] = tqdm(total=event.total, desc=desc, unit=unit)
        bars[stage].total, bars[stage].n = event.total, event.done
        bars[stage].refresh()

    try:
        return drain(steps, show)
    finally:
        for bar in bars.values():
            bar.close()


def _psf_settings(args: argparse.Namespace, psf: Any) -> dict[str, Any]:
    """The optics flags (``--psf widefield|confocal``) or the estimate's (``--psf estimate``) the user set, checked
    against the PSF asked for: a flag for another kind of PSF is refused with what it is for."""
    name = psf if isinstance(psf, str) else None
    what = f"--psf {name}" if name else "a PSF file"
    optics = get_kind(name).params if name in OPTICS_KINDS else ()
    given = given_params(args, "optics_", optics, what if optics else f"{what} (the optics flags are for --psf "
                          "widefield or confocal)")
    estimate = ESTIMATE_PARAMS if name == ESTIMATE else ()
    return given | given_params(args, "estimate_", estimate, what if estimate else f"{what} (--kernel-size is for "
                                 "--psf estimate)")


def _deblur_zarr(args: argparse.Namespace, psf: Any, params: dict[str, Any]) -> int:
    """Zarr in or out: the lazy path, computed chunk by chunk (bounded memory) straight into the output."""
    import dask.array as da
    from dask.diagnostics import ProgressBar

    if is_zarr(args.input):
        image, axes = read_zarr(args.input, fill_missing=args.fill_missing_chunks)
        axes = args.axes or axes
    else:
        array, file_axes = read_image(args.input)
        image = da.from_array(array, chunks="auto")
        axes = args.axes or file_axes
    try:  # chunks are read only from here on: a damaged one fails deep in dask
        result, _ = _with_bars(request_steps(image, args.method, psf, axes=axes, rgb=args.rgb or None,
                                             device=args.device, output_dtype="float32" if args.float32 else "same",
                                             params=params, **_engine_flags(args)), args.method)
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
