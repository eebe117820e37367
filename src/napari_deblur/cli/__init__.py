"""The ``napari-deblur`` command: list methods and blur kinds, deblur files, blur files, train and evaluate
models, run the demo.

Method flags are generated from the registry (``--balance``, ``--iterations``, ...) and blur-kind flags from
the kinds' specs (``--length``, ``--radius``, ``--na``, ...), so every parameter is a flag and new methods or
kinds need no CLI code. ``train`` takes one flag per ``TrainConfig`` field (``--steps``, ``--patch``, ...) and the
blur kinds' parameters prefixed with ``blur`` (``--blur-length``, ``--blur-radius``, ...).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from napari_deblur.cli._common import check_output, cli_words
from napari_deblur.cli._images import add_image_parsers, cmd_blur, cmd_deblur, cmd_kinds, cmd_methods
from napari_deblur.cli._psf import add_psf_parser, cmd_psf
from napari_deblur.cli._training import add_training_parsers, cmd_evaluate, cmd_train

__all__ = ["build_parser", "check_output", "cli_words", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="napari-deblur", description="Remove blur from images.")
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("methods", help="List the deblurring methods and their parameters.")
    add_image_parsers(sub)
    add_training_parsers(sub)
    add_psf_parser(sub)

    export = sub.add_parser("export", help="Write a model as a BioImage Model Zoo package (.zip), validated and "
                            "tested (needs napari-deblur[bioimageio]).")
    export.add_argument("model", help="A shipped or trained model's name, or a .safetensors path.")
    export.add_argument("output", type=Path, help="The package to write (.zip).")
    export.add_argument("--overwrite", action="store_true", help="Replace an existing package.")
    export.add_argument("--no-test", action="store_true", help="Skip bioimageio.core's test of the package.")

    demo = sub.add_parser("demo", help="Blur a sample image, deblur it blind and with the kernel, print PSNR, save a "
                          "comparison.")
    demo.add_argument("--out", type=Path, default=Path("demo_output"), help="Folder for the results.")
    demo.add_argument("--method", default="nafnet", help="Method to demonstrate beside Richardson-Lucy with the true "
                      "kernel (default: the shipped general NAFNet, blind).")
    demo.add_argument("--seed", type=int, default=3, help="Seed of the blur kernel and noise.")
    demo.add_argument("--gui", action="store_true", help="Open napari with the three layers.")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "methods":
            return cmd_methods()
        if args.command == "deblur":
            return cmd_deblur(args)
        if args.command == "kinds":
            return cmd_kinds()
        if args.command == "blur":
            return cmd_blur(args)
        if args.command == "train":
            return cmd_train(args)
        if args.command == "evaluate":
            return cmd_evaluate(args)
        if args.command == "psf":
            return cmd_psf(args)
        if args.command == "export":
            return _cmd_export(args)
        if args.command == "demo":
            from napari_deblur.demo import run_demo

            return run_demo(args.out, method=args.method, seed=args.seed, gui=args.gui)
    except (ValueError, FileNotFoundError, TypeError, ImportError) as err:
        print(f"napari-deblur: error: {cli_words(str(err))}", file=sys.stderr)
        return 2
    return 1


def _cmd_export(args: argparse.Namespace) -> int:
    import time

    from napari_deblur.bioimageio import export_steps, run_bioimageio_test
    from napari_deblur.restore.progress import drain

    start = time.perf_counter()

    def stage(name: str) -> None:
        print(f"[{time.perf_counter() - start:6.1f} s] {name}", flush=True)

    package = drain(export_steps(args.model, args.output, overwrite=args.overwrite), stage)
    print(f"wrote {package} (validated by bioimageio.spec)")
    if args.no_test:
        return 0
    stage("testing the package with bioimageio.core (its test image through its weights)")
    passed = run_bioimageio_test(package)
    print(f"bioimageio.core test: {'passed' if passed else 'FAILED'}")
    return 0 if passed else 1
