"""The ``napari-deblur`` command: list methods and blur kinds, deblur files, blur files, run the demo.

Method flags are generated from the registry (``--balance``, ``--iterations``, ...) and blur-kind flags from
the kinds' specs (``--length``, ``--radius``, ``--na``, ...), so every parameter is a flag and new methods or
kinds need no CLI code.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm

from napari_deblur.restore.engine import Progress, deblur_steps, drain
from napari_deblur.synth.kinds import get_kind, list_kinds
from napari_deblur.zoo.registry import Param, get_method, list_methods


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


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
            kwargs: dict = {"dest": f"{prefix}{p.name}", "default": None, "help": f"{p.help} Default: {p.default}."}
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


def _method_params(args: argparse.Namespace, method: str) -> dict:
    return _given_params(args, "param_", get_method(method).params, f"method {method!r}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="napari-deblur", description="Remove blur from images.")
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("methods", help="List the deblurring methods and their parameters.")

    d = sub.add_parser("deblur", help="Deblur an image file.",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    d.add_argument("input", type=Path, help="Input image (TIFF keeps dtype and axes; PNG, JPEG, ...).")
    d.add_argument("output", type=Path, help="Output image; written atomically.")
    d.add_argument("--method", default="richardson_lucy", help="Method name (see `napari-deblur methods`).")
    d.add_argument("--psf", type=Path, help="PSF image file (needed by classical methods).")
    d.add_argument("--axes", help="Axes of the input, e.g. ZYX, TYX, CYX, YXC (inferred when possible).")
    d.add_argument("--rgb", action="store_true", help="The trailing axis of size 3/4 is colour.")
    d.add_argument("--tile-size", type=int, help="Tile edge in pixels (default: the method's choice).")
    d.add_argument("--tile-overlap", type=int, help="Tile overlap in pixels.")
    d.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps.")
    d.add_argument("--float32", action="store_true", help="Write float32 instead of the input's dtype.")
    _add_param_flags(d, [(f"{m.name} parameters ({m.kind})", m.params) for m in list_methods()], "param_")

    sub.add_parser("kinds", help="List the blur kinds (for `blur`) and their parameters.")

    b = sub.add_parser("blur", help="Blur an image file realistically (training pairs, test data).",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    b.add_argument("input", type=Path, help="Sharp input image (TIFF keeps dtype and axes; PNG, JPEG, ...).")
    b.add_argument("output", type=Path, help="Blurred output image; written atomically.")
    b.add_argument("--kind", default="camera_shake", help="Blur kind (see `napari-deblur kinds`).")
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
    b.add_argument("--rgb", action="store_true", help="The trailing axis of size 3/4 is colour.")
    b.add_argument("--variants", type=int, default=1,
                   help="Write N variants (seeds seed..seed+N-1) stacked along a new first axis.")
    _add_param_flags(b, [(f"{k.name} parameters", k.params) for k in list_kinds()], "kind_")

    demo = sub.add_parser("demo", help="Blur a sample image, deblur it, print PSNR, save a comparison.")
    demo.add_argument("--out", type=Path, default=Path("demo_output"), help="Folder for the results.")
    demo.add_argument("--method", default="richardson_lucy", help="Method to demonstrate.")
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
    from napari_deblur.io import read_image, read_psf, write_image

    params = _method_params(args, args.method)
    image, file_axes = read_image(args.input)
    psf = read_psf(args.psf) if args.psf else None
    axes = args.axes or file_axes
    if axes is None and image.ndim == 3 and image.shape[-1] in (3, 4) \
            and args.input.suffix.lower() not in {".tif", ".tiff"}:
        axes = "YXC"  # PNG/JPEG colour images are always channel-last
    steps = deblur_steps(
        image, args.method, psf=psf, axes=axes, rgb=args.rgb or None, tile_size=args.tile_size,
        tile_overlap=args.tile_overlap, device=args.device,
        output_dtype="float32" if args.float32 else "same", **params,
    )
    with tqdm(total=1, desc=args.method, unit="tile") as bar:

        def show(event: Progress) -> None:
            bar.total, bar.n = event.total, event.done
            bar.refresh()

        result = drain(steps, show)
    write_image(args.output, result, axes=axes)
    print(f"wrote {args.output} {result.shape} {result.dtype}")
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
    from napari_deblur.io import read_image, write_image
    from napari_deblur.synth.degrade import stack_kernels
    from napari_deblur.synth.synthesize import blur_variants

    params = _given_params(args, "kind_", get_kind(args.kind).params, f"blur kind {args.kind!r}")
    image, file_axes = read_image(args.input)
    axes = args.axes or file_axes
    if axes is None and image.ndim == 3 and image.shape[-1] in (3, 4) \
            and args.input.suffix.lower() not in {".tif", ".tiff"}:
        axes = "YXC"  # PNG/JPEG colour images are always channel-last
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
        if args.command == "demo":
            from napari_deblur.demo import run_demo

            return run_demo(args.out, method=args.method, seed=args.seed, gui=args.gui)
    except (ValueError, FileNotFoundError, TypeError) as err:
        print(f"napari-deblur: error: {err}", file=sys.stderr)
        return 2
    return 1


if __name__ == "__main__":
    sys.exit(main())
