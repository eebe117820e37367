"""The ``psf`` command: make a PSF file for classical deconvolution, from a bead image or from the optics."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from napari_deblur.calibration import calibration_for, of_axes
from napari_deblur.cli._common import add_param_flags, check_output, given_params
from napari_deblur.io import read_calibration, read_image, write_image
from napari_deblur.psfs import OPTICS_KINDS, estimate_kernel, optics_psf, psf_from_beads
from napari_deblur.synth.kinds import get_kind


def add_psf_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("psf", help="Make a PSF file for classical deconvolution.")
    how = p.add_subparsers(dest="psf_source", required=True)
    beads = how.add_parser("beads", help="Measure the PSF from an image of isolated sub-resolution beads (2D or "
                           "3D): beads at the border, touching others or saturated are left out.")
    beads.add_argument("input", type=Path, help="Bead image (TIFF keeps axes: YX or ZYX).")
    beads.add_argument("output", type=Path, help="PSF file to write (TIFF, float32, sums to 1).")
    beads.add_argument("--size", type=int, nargs="+", help="PSF side(s) in pixels, odd (one per axis, or one for "
                       "all). Default: five times the brightest bead's FWHM, less (down to 2.5) when that leaves "
                       "fewer than three beads usable.")
    beads.add_argument("--threshold", type=float, default=6.0, help="How many noise levels above the background "
                       "a bead's peak must be.")
    beads.add_argument("--saturation", type=float, help="Detector saturation level (default: the image's maximum "
                       "when several pixels reach it).")
    beads.add_argument("--overwrite", action="store_true", help="Replace an existing output file.")
    optics = how.add_parser("optics", help="Generate the PSF of a widefield or confocal microscope from its optics.")
    optics.add_argument("output", type=Path, help="PSF file to write (TIFF, float32, sums to 1).")
    optics.add_argument("--kind", choices=OPTICS_KINDS, default="widefield", help="The microscope.")
    optics.add_argument("--ndim", type=int, choices=(2, 3), default=3, help="3 for a z-stack PSF, 2 for one plane.")
    optics.add_argument("--overwrite", action="store_true", help="Replace an existing output file.")
    add_param_flags(optics, [(f"optics ({k})", get_kind(k).params) for k in OPTICS_KINDS], "optics_")
    estimate = how.add_parser("estimate", help="Estimate the blur kernel of a blurred 2D image from the image itself "
                              "(experimental), for deblur --method wiener/richardson_lucy --psf.")
    estimate.add_argument("input", type=Path, help="Blurred image (2D grey or colour).")
    estimate.add_argument("output", type=Path, help="Kernel file to write (TIFF, float32, sums to 1).")
    estimate.add_argument("--size", type=int, default=31, help="Largest blur in pixels (odd).")
    estimate.add_argument("--overwrite", action="store_true", help="Replace an existing output file.")


def cmd_psf(args: argparse.Namespace) -> int:
    if args.psf_source == "optics":
        check_output(args.output, [], args.overwrite)
        values = given_params(args, "optics_", get_kind(args.kind).params, f"a {args.kind} microscope")
        psf = optics_psf(args.kind, ndim=args.ndim, **values)
        resolved = get_kind(args.kind).resolve_params(values)
        # The PSF's own sampling written with it, so Fiji or any reader sees the pixel size it was made for.
        axes = "ZYX" if psf.ndim == 3 else "YX"
        sampling = calibration_for(axes, {"X": resolved["pixel_size"], "Y": resolved["pixel_size"],
                                          "Z": resolved["z_step"]})
        write_image(args.output, psf, axes, calibration=sampling)
        print(f"wrote {args.output} {psf.shape} ({args.kind})")
        return 0
    check_output(args.output, [args.input], args.overwrite)
    if args.psf_source == "estimate":
        kernel = estimate_kernel(read_image(args.input)[0], args.size)
        write_image(args.output, kernel, "YX")
        print(f"wrote {args.output} {kernel.shape} (estimated from the image)")
        return 0
    image, axes = read_image(args.input)
    image = np.squeeze(image)
    size = None if not args.size else (args.size[0] if len(args.size) == 1 else tuple(args.size))
    result = psf_from_beads(image, size=size, threshold=args.threshold, saturation=args.saturation)
    psf_axes = "ZYX" if result.psf.ndim == 3 else "YX"
    write_image(args.output, result.psf, psf_axes, calibration=of_axes(read_calibration(args.input), psf_axes))
    print(result.summary())
    print(f"wrote {args.output}")
    return 0
