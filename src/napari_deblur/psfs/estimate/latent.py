"""The latent (sharp) image step of the kernel estimator: deconvolution under an L0 prior on gradients.

min_S ||k * S - B||^2 + lam ||grad S||_0, solved by half-quadratic splitting (Xu, Lu, Xu & Jia, "Image smoothing
via L0 gradient minimization", 2011; used for kernels by Xu, Zheng & Jia, CVPR 2013, and Pan et al., 2014/2016):
auxiliary gradients g are hard-thresholded (|g|^2 < lam / beta -> 0), then S solves a quadratic problem in
closed form in the Fourier domain, while beta grows geometrically. The result keeps only strong, step-like edges:
exactly what constrains a kernel, while the weak texture and noise that mislead it are flattened away.
"""

from __future__ import annotations

import numpy as np

from napari_deblur.psfs.estimate.fourier import grad, grad_adjoint, gradient_power, irfft2, otf, rfft2

#: beta's last value and growth factor (Pan et al.'s settings: about 20 steps from 2 lam).
BETA_MAX = 1e5
KAPPA = 2.0


def l0_latent(extended: np.ndarray, kernel: np.ndarray, lam: float) -> np.ndarray:
    """The sharp image whose blur by ``kernel`` best explains ``extended`` (already periodic, see
    :func:`~napari_deblur.psfs.estimate.fourier.periodic_extend`), with sparse gradients; same shape."""
    # float32: half the time of float64 FFTs, and ample for a prior that keeps only strong edges.
    extended = extended.astype(np.float32)
    shape = extended.shape
    k = otf(kernel, shape)
    k_power = np.abs(k) ** 2
    d_power = gradient_power(shape).astype(np.float32)
    s = extended.copy()
    beta = 2 * lam
    while beta < BETA_MAX:
        gx, gy = grad(s)
        small = gx * gx + gy * gy < lam / beta
        gx[small] = 0
        gy[small] = 0
        numerator = np.conj(k) * rfft2(extended) + beta * rfft2(grad_adjoint(gx, gy))
        s = irfft2(numerator / (k_power + beta * d_power), shape)
        beta *= KAPPA
    return s
