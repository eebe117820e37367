"""The blur kernel of a photo, estimated from the blurred image itself (blind deblurring through physics).

:func:`estimate_kernel` is the entry; the pieces live beside it: ``estimator.py`` (the coarse-to-fine loop, noise,
clipped highlights), ``latent.py`` (the L0 latent-image step), ``kernel_step.py`` (the kernel's least squares and
its projection), ``fourier.py`` (FFT helpers and the periodic extension).
"""

from __future__ import annotations

import numpy as np

from napari_deblur.psfs.estimate.estimator import estimate_kernel_steps
from napari_deblur.restore.engine import drain

__all__ = ["estimate_kernel", "estimate_kernel_steps"]


def estimate_kernel(image: np.ndarray, size: int = 31, *, noise: float | None = None) -> np.ndarray:
    """The blur kernel of a blurred 2D image: an odd square, non-negative, summing to 1 (float32).

    Parameters
    ----------
    image : array-like
        Grey (Y, X) or colour (Y, X, 3/4), any dtype; colour is estimated from its luminance.
    size : int
        The largest blur the kernel may describe, in pixels (odd). The kernel returned is cropped to the support
        found within it, so a generous value costs time, not quality.
    noise : float, optional
        The noise's standard deviation on the image's [0, 1] scale; measured from the image when omitted.
    """
    return drain(estimate_kernel_steps(image, size, noise=noise))
