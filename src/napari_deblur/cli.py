"""The ``napari-deblur`` command: list methods, deblur files, run the demo.

Method flags are generated from the registry (``--balance``, ``--iterations``, ...), so every method
parameter is a flag and new methods need no CLI code.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from tqdm import tqdm

from napari_deblur.restore.engine import Progress, deblur_steps, drain
from napari_deblur.zoo.registry import Param, get_method, list_methods


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _add_method_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per distinct parameter name across all methods, grouped under the methods that use it."""
    seen: dict[str, Param] = {}
    for spec in list_methods():
        group = parser.add_argument_group(f"{spec.name} parameters ({spec.kind})")
        for p in spec.params:
            if p.name in seen:
                continue
            seen[p.name] = p
            kwargs: dict = {"dest": f"param_{p.name}", "default": None, "help": f"{p.help} Default: {p.default}."}
            if p.type is bool:
                kwargs["action"] = argparse.BooleanOptionalAction
            else:
                kwargs["type"] = p.type
                if p.choices:
                    kwargs["choices"] = p.choices
            group.add_argument(_flag(p.name), **kwargs)


def _method_params(args: argparse.Namespace, method: str) -> dict:
    """The flags the user set, checked against the chosen method's parameters."""
    spec = get_method(method)
    names = {p.name for p in spec.params}
    given = {k[len("param_") :]: v for k, v in vars(args).items() if k.startswith("param_") and v is not None}
    foreign = sorted(set(given) - names)
    if foreign:
        raise SystemExit(
            f"error: {', '.join(_flag(f) for f in foreign)} do(es) not apply to method {method!r}; "
            f"its flags are: {', '.join(_flag(n) for n in sorted(names)) or 'none'}."
        )
    return given


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
    _add_method_flags(d)

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


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "methods":
            return _cmd_methods()
        if args.command == "deblur":
            return _cmd_deblur(args)
        if args.command == "demo":
            from napari_deblur.demo import run_demo

            return run_demo(args.out, method=args.method, seed=args.seed, gui=args.gui)
    except (ValueError, FileNotFoundError, TypeError) as err:
        print(f"napari-deblur: error: {err}", file=sys.stderr)
        return 2
    return 1


if __name__ == "__main__":
    sys.exit(main())
