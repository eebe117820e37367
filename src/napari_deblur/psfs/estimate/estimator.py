"""Coarse to fine: the blur kernel of a whole image, estimated from the image alone.

The structure of the best published estimators without training (Xu, Zheng & Jia, CVPR 2013; Pan, Sun, Pfister &
Yang, CVPR 2016): a pyramid of scales a factor sqrt(2) apart, coarsest where the kernel is about 5 pixels wide. At
each scale the latent image (L0 gradient prior, :mod:`.latent`) and the kernel (least squares on gradients,
:mod:`.kernel_step`) are updated in turn a few times; the kernel, upsampled, starts the next scale. Clipped
highlights are left out of the kernel's fit (they take the value the current kernel predicts), the prior's weight
follows the noise measured in the image, and a kernel that explains the image no better than no blur is refused.
"""

from __future__ import annotations

import math
from collections.abc import Generator

import numpy as np
from scipy import ndimage
from skimage.transform import resize

from napari_deblur.colour import is_colour
from napari_deblur.psfs.estimate.fourier import grad, irfft2, otf, periodic_extend, rfft2
from napari_deblur.psfs.estimate.kernel_step import centre, delta, project, solve_kernel
from napari_deblur.psfs.estimate.latent import l0_latent
from napari_deblur.restore.engine import Progress
from napari_deblur.restore.intensity import policy_range
from napari_deblur.restore.noise import noise_sigma

#: Scales are this factor apart; the coarsest kernel is about COARSEST pixels wide.
RATIO = math.sqrt(0.5)
COARSEST = 5
#: Latent/kernel alternations per scale, and the L0 weight (Pan et al.'s start; held constant: letting it decay
#: as they do lost 1.3-2 dB on Levin's captures here).
ALTERNATIONS = 5
L0_WEIGHT = 4e-3
#: Values under 1/20 of the final kernel's maximum are taken as noise of the solve (Pan et al.'s k_thresh).
FINAL_FLOOR = 0.05
#: A kernel whose brightest pixel holds this share of its mass is taken for no blur (a delta): camera shake spreads
#: light thinly (the Levin kernels' peaks hold 3-11 %), while estimates from sharp noisy Kodak images were a peak of
#: 23-40 % with scattered residue that, used as a kernel, rings the image (-14 dB on one of them).
SHARP_PEAK = 0.2
#: Images larger than this are estimated from their busiest window of this many pixels (a Kodak photo, 0.39 MP).
MAX_PIXELS = 768 * 512
#: A kernel is kept when its latent image has at most this share of the edges of the image taken as sharp.
EXPLAINS = 0.95
EDGE_LEVEL = 1e-4  # squared gradient (0.01 per pixel on [0, 1]) that counts as an edge
#: A pixel this close to the image's maximum, on a plateau of them, is a clipped highlight.
SATURATION = 0.985
#: The smallest image side, in multiples of the largest kernel side: a kernel needs edges all around it.
MIN_SIDE_PER_KERNEL = 2
#: How the estimate's progress events begin (the CLI draws them as a bar of their own).
ESTIMATE_MESSAGE = "Estimating the kernel"


def luminance(image: np.ndarray) -> np.ndarray:
    """Grey (Y, X) from a grey or colour (Y, X, 3/4) image, in [0, 1] by the package's intensity policy."""
    x = np.asarray(image)
    colour = is_colour(x.shape)
    if x.ndim != 2 and not colour:
        raise ValueError(f"The kernel is estimated from a 2D grey or colour image; got shape {x.shape}.")
    lo, hi = policy_range(x[..., :3] if colour else x)
    x = (x.astype(np.float64) - lo) / ((hi - lo) or 1.0)
    if colour:
        x = x[..., :3] @ np.array([0.299, 0.587, 0.114])  # ITU-R BT.601 luma: edges as the eye ranks them
    return np.clip(x, 0, 1) if x.max() > 1 or x.min() < 0 else x


def saturated(x: np.ndarray) -> np.ndarray | None:
    """Where ``x`` (in [0, 1]) is clipped: a plateau at its maximum holding 0.1 % of the pixels or more."""
    top = x >= SATURATION * x.max()
    return top if x.max() >= 0.9 and top.mean() >= 1e-3 else None


def busiest_window(x: np.ndarray, pixels: int) -> np.ndarray:
    """The window of ``x`` of at most ``pixels`` pixels (its aspect kept) holding the most edge energy: a uniform
    blur is the same everywhere, so a large image's busiest part pins it down as well as the whole, at a fixed cost."""
    h, w = x.shape
    if h * w <= pixels:
        return x
    scale = (pixels / (h * w)) ** 0.5
    wh, ww = int(h * scale), int(w * scale)
    gy, gx = np.gradient(x)
    energy = np.pad(np.hypot(gx, gy).cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    step = max(8, min(wh, ww) // 8)
    best, corner = -1.0, (0, 0)
    for top in range(0, h - wh + 1, step):
        for left in range(0, w - ww + 1, step):
            total = (energy[top + wh, left + ww] - energy[top, left + ww] - energy[top + wh, left]
                     + energy[top, left])
            if total > best:
                best, corner = total, (top, left)
    return x[corner[0]:corner[0] + wh, corner[1]:corner[1] + ww]


def check_size(shape: tuple[int, ...], size: int) -> None:
    if len(shape) != 2:
        raise ValueError(f"The kernel is estimated from a 2D grey or colour image; got shape {shape}.")
    if size % 2 == 0 or size < 3:
        raise ValueError(f"kernel_size must be odd and at least 3; got {size}.")
    if min(shape) < MIN_SIDE_PER_KERNEL * size:
        raise ValueError(f"The image ({shape[0]}x{shape[1]}) is too small for a kernel of up to {size} px: its "
                         f"sides must be at least {MIN_SIDE_PER_KERNEL * size}. Pass a smaller kernel_size.")


def _odd(n: float) -> int:
    n = max(3, math.ceil(n))
    return n if n % 2 else n + 1


def _resize_kernel(k: np.ndarray, side: int) -> np.ndarray:
    """The coarser scale's kernel drawn at this scale's sampling, in a ``side`` x ``side`` window."""
    grown = resize(k, (round(k.shape[0] / RATIO),) * 2, order=1, anti_aliasing=False)
    out = np.zeros((side, side))
    n = min(side, grown.shape[0])
    a, b = (side - n) // 2, (grown.shape[0] - n) // 2
    out[a:a + n, a:a + n] = grown[b:b + n, b:b + n]
    out = np.clip(out, 0, None)
    return centre(out / out.sum()) if out.sum() > 0 else delta(side)


def _start_kernel(side: int) -> np.ndarray:
    k = np.zeros((side, side))
    k[side // 2, side // 2 - 1:side // 2 + 1] = 0.5  # two pixels, as Pan et al. start: a delta has no direction
    return k


def estimate_kernel_steps(image: np.ndarray, size: int = 31, *, noise: float | None = None,
                          ) -> Generator[Progress, None, np.ndarray]:
    """Progress events while estimating; returns the kernel (odd square, non-negative, sums to 1, float32)
    cropped to the support found within ``size``. See :func:`estimate_kernel`."""
    x = luminance(image)
    check_size(x.shape, size)
    x = busiest_window(x, MAX_PIXELS)
    sigma = noise_sigma(x) if noise is None else float(noise)
    clipped = saturated(x)
    sides = []
    while not sides or sides[-1] > COARSEST:
        sides.append(_odd(size * RATIO ** len(sides)))
    sides[0] = size
    levels = len(sides)
    total = levels * ALTERNATIONS
    # Noise needs a firmer prior: it is the level that makes weak gradients untrustworthy (sigma 0.01 -> x1).
    lam = L0_WEIGHT * max(1.0, sigma / 0.01)
    kernel = None
    for level in reversed(range(levels)):
        side, scale = sides[level], RATIO ** level
        shape = (max(2 * side, round(x.shape[0] * scale)), max(2 * side, round(x.shape[1] * scale)))
        blurred = resize(x, shape, order=1, anti_aliasing=level > 0) if level else x
        kernel = _start_kernel(side) if kernel is None else _resize_kernel(kernel, side)
        # Both steps work on the periodic extension, where circular convolution is exact, so no false edge
        # at the borders enters the kernel's fit.
        extended = periodic_extend(blurred, side)
        weights = None if clipped is None else _trusted(clipped, shape, extended.shape)
        blurred_grads = grad(extended)
        for it in range(ALTERNATIONS):
            latent = l0_latent(extended, kernel, lam)
            if weights is not None:
                # Clipped pixels take what the current kernel predicts: no information, and no false edges.
                predicted = irfft2(rfft2(latent) * otf(kernel, latent.shape), latent.shape)
                blurred_grads = grad(weights * extended + (1 - weights) * predicted)
            kernel = project(solve_kernel(grad(latent), blurred_grads, kernel))
            done = (levels - 1 - level) * ALTERNATIONS + it + 1
            yield Progress(done, total, f"{ESTIMATE_MESSAGE}: scale {levels - level}/{levels}")
    kernel = project(kernel, floor=FINAL_FLOOR)
    if kernel.max() >= SHARP_PEAK or not explains_blur(x, kernel, lam):
        return np.ones((1, 1), np.float32)  # no blur worth undoing: deconvolving would only cost sharpness
    return _crop_to_support(kernel).astype(np.float32)


def _trusted(clipped: np.ndarray, shape: tuple[int, int], extended: tuple[int, int]) -> np.ndarray:
    """1 where this scale's blurred pixels can be trusted, 0 on and next to clipped ones (clipping follows the
    blur, so only the clipped pixels themselves are wrong); the periodic extension counts as trusted."""
    small = resize(clipped.astype(float), shape, order=0) > 0.5 if clipped.shape != shape else clipped
    weights = np.ones(extended)
    weights[: shape[0], : shape[1]] = ~ndimage.binary_dilation(small, np.ones((3, 3)))
    return weights


def edge_count(image: np.ndarray, kernel: np.ndarray, lam: float) -> int:
    """How many pixels of the L0 latent image that ``kernel`` implies for ``image`` carry an edge."""
    h, w = image.shape
    gx, gy = grad(l0_latent(periodic_extend(image, max(kernel.shape[0], 8)), kernel, lam))
    return int(np.count_nonzero((gx * gx + gy * gy)[:h, :w] > EDGE_LEVEL))


def explains_blur(image: np.ndarray, kernel: np.ndarray, lam: float) -> bool:
    """Whether ``kernel`` is a better explanation of ``image`` than no blur at all: a true blur kernel lets the
    latent image be simpler (fewer edges) than the image taken as sharp; a kernel found in a sharp image makes it
    busier (it sharpens what was already sharp). Measured: 0.71-0.91 of the no-blur count on blurred photos and
    Levin's captures, 1.31 for the failure on a sharp Kodak image."""
    return edge_count(image, kernel, lam) < EXPLAINS * edge_count(image, np.ones((1, 1)), lam)


def _crop_to_support(k: np.ndarray) -> np.ndarray:
    """The smallest odd square around the array centre that holds every non-zero value, plus a one-pixel rim."""
    ys, xs = np.nonzero(k)
    c = k.shape[0] // 2
    half = min(c, 1 + int(max(abs(ys - c).max(), abs(xs - c).max())))
    return k[c - half:c + half + 1, c - half:c + half + 1]
