"""Where a PSF comes from when the user has none: generated from the microscope's optics, measured from an image
of beads, or estimated from the blurred image itself (experimental)."""

from napari_deblur.psfs.beads import BeadPSF, psf_from_beads
from napari_deblur.psfs.estimate import estimate_kernel
from napari_deblur.psfs.optics import OPTICS_KINDS, optics_psf, psf_for_image

__all__ = ["OPTICS_KINDS", "BeadPSF", "estimate_kernel", "optics_psf", "psf_for_image", "psf_from_beads"]
