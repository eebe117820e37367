"""Where a PSF comes from when the user has none: measured from an image of beads (and, later, generated from
the microscope's optics or estimated from the blurred image itself)."""

from napari_deblur.psfs.beads import BeadPSF, psf_from_beads

__all__ = ["BeadPSF", "psf_from_beads"]
