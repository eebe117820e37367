"""Where a PSF comes from when the user has none: generated from the microscope's optics, or measured from an
image of beads (estimating it from the blurred image itself follows)."""

from napari_deblur.psfs.beads import BeadPSF, psf_from_beads
from napari_deblur.psfs.optics import OPTICS_KINDS, optics_psf, psf_for_image

__all__ = ["OPTICS_KINDS", "BeadPSF", "optics_psf", "psf_for_image", "psf_from_beads"]
