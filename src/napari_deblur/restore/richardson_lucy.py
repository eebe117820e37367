"""Richardson-Lucy deconvolution with total-variation regularization, and defaults that follow the data's noise.

The iteration is the classic multiplicative one (Richardson 1972, Lucy 1974) with the TV term of Dey et al. (2006),
on the FFT machinery the classical methods share (:class:`~napari_deblur.restore.classical.FFTDeconvolver`). Only
observed pixels enter the data term: the reflected extension is a starting guess that the iterations are free to
change, which removes the border ringing of the plain algorithm (Bertero & Boccacci 2005).

Left at auto, the two numbers that decide the result are set from the noise measured in the image
(:func:`~napari_deblur.restore.noise.image_sigma`, photon statistics included): the TV weight in proportion to the
noise, and the number of iterations in inverse proportion, so clean data is iterated long (as far as Wiener's best
balance and beyond) and noisy data stops early (benchmarks/rl_defaults.py).
"""

from __future__ import annotations

from collections.abc import Callable, Generator

import numpy as np
import torch

from napari_deblur.params import Param
from napari_deblur.restore.classical import PSF_PARAMS, FFTDeconvolver, prepare_for_method
from napari_deblur.restore.methods import MethodSpec, register
from napari_deblur.restore.noise import image_noise
from napari_deblur.restore.progress import drain

_EPS = 1e-6

#: Auto TV weight = TV_PER_SIGMA x (1 + shot share) x the measured noise level (in the [0, 1] units of the intensity
#: policy). On Kodak crops x Levin kernels the best weight was 0.005 at sigma 0.01 and 0.01-0.02 at sigma 0.03; the
#: Levin captures (sigma 0.004) wanted 0.002 or less: with 0.4-0.6 x sigma every case gained on the input. Photon
#: counts (their noise nearly all shot noise) want twice as much: 1 x sigma was best at 50 and 300 photons, where
#: 0.5 lost 0.5-0.8 dB. (One factor of 0.75 for all traded 0.5 dB on photos for 0.5 dB on photon counts.)
TV_PER_SIGMA = 0.5
#: Auto iterations = ITERATIONS_PER_INVERSE_SIGMA / sigma, within AUTO_ITERATIONS: regularized in proportion to the
#: noise, the estimate goes on improving for about 50 iterations at sigma 0.03 and for 150 and more at sigma 0.01
#: and below (TV keeps the change per iteration from ever falling to zero, so the change is no stopping signal).
ITERATIONS_PER_INVERSE_SIGMA = 1.5
AUTO_ITERATIONS = (20, 200)


def auto_settings(sigma: torch.Tensor, shot: torch.Tensor | None = None) -> tuple[int, torch.Tensor]:
    """Iterations and TV weights (per image, shaped like ``sigma``) for measured noise levels ``sigma`` and their
    shot-noise shares ``shot`` (0 when not given).

    One iteration count serves the batch: the noisiest image sets it, so none is iterated into its noise."""
    low, high = AUTO_ITERATIONS
    noisiest = float(sigma.max())
    iterations = high if noisiest <= 0 else int(np.clip(round(ITERATIONS_PER_INVERSE_SIGMA / noisiest), low, high))
    return iterations, TV_PER_SIGMA * (1 + (shot if shot is not None else 0)) * sigma


class RichardsonLucyDeconvolver(FFTDeconvolver):
    """Richardson-Lucy on (N, C, *spatial) batches; ``iterations=0`` and ``tv_weight=0`` mean auto."""

    def __init__(self, psf: np.ndarray, device: torch.device, iterations: int, tv_weight: float,
                 accelerate: bool = False, boundary: str = "extend", regularize: bool = True) -> None:
        super().__init__(psf, device, boundary)
        self.iterations = iterations
        self.tv_weight = tv_weight if regularize else 0.0
        self.regularize = regularize
        self.accelerate = accelerate
        self._mask_cache: dict = {}

    def settings(self, batch: torch.Tensor) -> tuple[int, torch.Tensor | float]:
        """The iterations and TV weight this batch gets: the user's numbers, or measured ones where left at 0."""
        if not self.regularize:  # unregularized, the iterations amplify noise from the start: stop at the fewest
            return self.iterations or AUTO_ITERATIONS[0], 0.0
        if self.iterations > 0 and self.tv_weight > 0:
            return self.iterations, self.tv_weight
        iterations, tv = auto_settings(*image_noise(batch, self.spatial_ndim))
        if self.tv_weight > 0:
            return self.iterations or iterations, self.tv_weight
        return self.iterations or iterations, tv.reshape(*tv.shape, *[1] * self.spatial_ndim)

    def _tv_term(self, est: torch.Tensor) -> torch.Tensor:
        """div(grad u / |grad u|): forward differences (zero at the far end), then their adjoint.

        In place on as few buffers as the arithmetic allows (one per spatial axis and the result): on volumes the
        term is a few elementwise passes beside the iteration's two FFT convolutions, not a copy per operation.
        """
        dims = range(est.ndim - self.spatial_ndim, est.ndim)
        grads = []
        for d in dims:
            n = est.shape[d]
            g = torch.zeros_like(est)
            torch.sub(est.narrow(d, 1, n - 1), est.narrow(d, 0, n - 1), out=g.narrow(d, 0, n - 1))
            grads.append((d, g))
        inv_norm = torch.full_like(est, _EPS)
        for _, g in grads:
            inv_norm.addcmul_(g, g)
        inv_norm.rsqrt_()
        for _, g in grads:
            g.mul_(inv_norm)  # unit gradients
        div = inv_norm.zero_()  # its buffer, no longer needed, holds the divergence
        for d, g in grads:
            n = g.shape[d]
            div.add_(g).narrow(d, 1, n - 1).sub_(g.narrow(d, 0, n - 1))
        return div

    def _weights(self, spatial: tuple[int, ...], pads, full) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Mask of observed pixels, and 1 / (K^T mask): the share of each unknown's light that is observed;
        ``None`` when every pixel is observed (periodic, at a size the FFT takes as it is)."""
        if spatial == full:
            return None
        key = (spatial, full, tuple(pads))
        if key not in self._mask_cache:
            mask = torch.zeros((1, 1, *full), device=self.device)
            mask[(slice(None), slice(None), *[slice(b, b + s) for (b, _), s in zip(pads, spatial)])] = 1
            inv_weight = 1 / self.conv(mask, self.otf(full), adjoint=True).clamp_min(1e-3)
            self._mask_cache = {key: (mask, inv_weight)}  # one shape at a time: tiles share it
        return self._mask_cache[key]

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        return drain(self.steps(batch))

    @torch.no_grad()
    def steps(self, batch: torch.Tensor) -> Generator[tuple[int, int], None, torch.Tensor]:
        """Deconvolve ``batch``, yielding ``(iterations done, iterations)`` as it goes (the progress a one-tile
        run shows)."""
        observed = batch.float().clamp_min(0)
        iterations, tv_weight = self.settings(observed)
        spatial = tuple(observed.shape[-self.spatial_ndim :])
        # The extension is only the starting guess (no taper needed): the mask keeps it out of the data term.
        est, pads, full = self.extend(observed, taper=False)
        otf = self.otf(full)
        weights = self._weights(spatial, pads, full)
        data = est * weights[0] if weights else est
        est = est.clamp_min(_EPS)
        otf_conj = otf.conj()  # once, not per iteration
        regularized = isinstance(tv_weight, torch.Tensor) or tv_weight > 0

        def step(x: torch.Tensor) -> torch.Tensor:
            # In place wherever a buffer is not needed again: volumes are large, and each copy costs memory.
            ratio = self.filter(x, otf).clamp_min_(_EPS).reciprocal_().mul_(data)
            update = self.filter(ratio, otf_conj)
            if weights:
                update.mul_(weights[1])
            x = update.mul_(x)  # x itself is left as it was
            if regularized:  # x /= max(1 - tv_weight * div(...), 0.05), in place
                x = x.div_(self._tv_term(x).mul_(-tv_weight).add_(1).clamp_min_(0.05))
            return x

        yield 0, iterations
        if not self.accelerate:
            for k in range(iterations):
                est = step(est)
                yield k + 1, iterations
            return self.crop(est, pads)
        return self.crop((yield from _biggs_andrews(step, est, iterations)), pads)


def _biggs_andrews(step: Callable[[torch.Tensor], torch.Tensor], est: torch.Tensor, iterations: int
                   ) -> Generator[tuple[int, int], None, torch.Tensor]:
    """``iterations`` of ``step`` with Biggs-Andrews vector extrapolation (Applied Optics 36, 1997).

    Each iteration first moves the estimate further along its last change, by a factor measured from how
    consecutive changes line up (0 at first, below 1 always), then applies one ordinary step: the same fixed
    point, reached in fewer steps. Per image of the batch, so tiles do not steer each other.
    """
    previous = change = older_change = None
    dims = tuple(range(1, est.ndim))
    for k in range(iterations):
        guess = est
        if k >= 2:
            alpha = ((change * older_change).sum(dims, keepdim=True)
                     / (older_change * older_change).sum(dims, keepdim=True).clamp_min(1e-20)).clamp(0, 0.98)
            guess = (est + alpha * (est - previous)).clamp_min_(_EPS)
        updated = step(guess)
        older_change, change = change, updated - guess
        previous, est = est, updated
        yield k + 1, iterations
    return est


def _build_rl(*, psf, device, iterations, tv_weight, regularize, accelerate, boundary, psf_scale, psf_scale_z,
              psf_centering):
    prepared = prepare_for_method(psf, psf_scale, psf_scale_z, psf_centering)
    return RichardsonLucyDeconvolver(prepared, device, iterations, tv_weight, accelerate, boundary, regularize)


register(MethodSpec(
    name="richardson_lucy",
    kind="classical",
    description="Richardson-Lucy deconvolution with a known PSF, total-variation regularized; by default its "
                "iterations and regularization follow the noise measured in the image.",
    build=_build_rl,
    needs_psf=True,
    params=(
        # Defaults from benchmarks/rl_defaults.py: measured from the noise, they gain on every case of its table.
        Param("iterations", int, 0, "Number of iterations: more recovers finer detail and more noise (0 = auto: "
              f"{ITERATIONS_PER_INVERSE_SIGMA:g} / the measured noise level, {AUTO_ITERATIONS[0]}-"
              f"{AUTO_ITERATIONS[1]}; {AUTO_ITERATIONS[0]} unregularized).", min=0, max=1000, zero="auto"),
        Param("tv_weight", float, 0.0, "Total-variation regularization against the noise the iterations amplify "
              f"(0 = auto: {TV_PER_SIGMA:g} x the measured noise level, twice that for photon counts; by hand about "
              "0.002-0.005 for clean data, 0.01-0.05 for noisy data).", min=0.0, max=0.1, zero="auto"),
        Param("regularize", bool, True, "Total-variation regularization on (off: the textbook algorithm, which "
              "amplifies noise as it iterates).", advanced=True),
        Param("accelerate", bool, False, "Biggs-Andrews acceleration: each iteration goes further along the way "
              "the estimate is changing, so fewer iterations reach the same result.", advanced=True),
        Param("boundary", str, "auto", "extend: the estimate reaches a PSF half-width past the borders and only "
              "observed pixels are fitted (no border ringing); periodic: no margins, as RedLionfish and sdeconv "
              "do - up to 4x faster on volumes, but light wraps across opposite borders; auto: periodic along the "
              "axes whose two ends are background (beads, cells away from the borders), extend elsewhere.",
              choices=("auto", "extend", "periodic"), advanced=True),
        *PSF_PARAMS,
    ),
))
