"""Where a PSF comes from when the user has none: generated from the microscope's optics, measured from an image
of beads, or estimated from the blurred image itself."""

from napari_deblur.psfs.beads import BeadPSF, psf_from_beads
from napari_deblur.psfs.estimate import estimate_kernel
from napari_deblur.psfs.named import (
    BLIND_METHOD,
    ESTIMATE,
    ESTIMATE_PARAMS,
    PSF_METHOD,
    PSF_NAMES,
    default_request,
    named_psf,
)
from napari_deblur.psfs.optics import OPTICS_KINDS, optics_psf, psf_for_image

__all__ = [
    "BLIND_METHOD", "ESTIMATE", "ESTIMATE_PARAMS", "OPTICS_KINDS", "PSF_METHOD", "PSF_NAMES", "BeadPSF",
    "default_request", "estimate_kernel", "named_psf", "optics_psf", "psf_for_image", "psf_from_beads",
]
