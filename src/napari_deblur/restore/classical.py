"""Classical non-blind deconvolution in torch FFTs: the machinery the FFT methods share, and Wiener; 2D and 3D.

Both work on ``(N, C, *spatial)`` batches with a known PSF. Image borders are the usual source of ringing
in FFT deconvolution (the FFT treats the image as periodic, so the right edge "wraps" onto the left).
We avoid it by extending each tile by reflection and making that extension blend smoothly into the
wrap-around ("edge tapering"); Richardson-Lucy (richardson_lucy.py) additionally only trusts observed pixels
(the extension is estimated, not fitted). The OTF is computed once per padded shape and cached.
An axis whose two ends are background needs no margins (``boundary="periodic"``, or ``"auto"`` where measured so):
the FFTs are smaller (half the voxels of a 160^3 stack with a 61x32x32 PSF).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from napari_deblur.params import Param
from napari_deblur.restore.methods import MethodSpec, register
from napari_deblur.restore.padding import reflect_pad, wrap_safe_axes
from napari_deblur.restore.psf_prep import fft_shape, half_support, prepare_psf, psf_to_otf


def _taper_window(shape: tuple[int, ...], margins: list[tuple[int, int]], device: torch.device) -> torch.Tensor:
    """1 inside, raised-cosine ramps to ~0 across ``margins`` at each end of each axis (separable)."""
    window = torch.ones(shape, device=device)
    for i, ((before, after), n) in enumerate(zip(margins, shape)):
        w = torch.ones(n, device=device)
        for width, sl in ((before, slice(0, before)), (after, slice(n - after, n))):
            if width <= 0:
                continue
            ramp = 0.5 - 0.5 * torch.cos(math.pi * (torch.arange(width, device=device) + 0.5) / width)
            w[sl] = ramp if sl.start == 0 else ramp.flip(0)
        view = [1] * len(shape)
        view[i] = n
        window = window * w.reshape(view)
    return window


class FFTDeconvolver:
    """Shared machinery: padding, OTF cache, edge tapering, cropping back."""

    def __init__(self, psf: np.ndarray, device: torch.device, boundary: str = "extend") -> None:
        self.psf = psf
        self.device = torch.device(device)
        self.boundary = boundary  # extend, periodic (no margins: the wrap-around stands in for the surroundings), auto
        self.spatial_ndim = psf.ndim
        # Deconvolution gathers information from about one PSF half-width around each pixel (and, more
        # faintly, beyond); the engine's default tile overlap is four times this.
        self.receptive_field = int(max(psf.shape) // 2 + 1)
        self.support = half_support(psf)
        self._otf_cache: dict[tuple[int, ...], torch.Tensor] = {}

    def periodic_axes(self, x: torch.Tensor) -> tuple[bool, ...]:
        """The spatial axes of ``x`` that get no margins: all with ``boundary="periodic"``, none with ``"extend"``,
        and with ``"auto"`` those whose two ends are background
        (:func:`~napari_deblur.restore.padding.wrap_safe_axes`)."""
        if self.boundary == "auto":
            return wrap_safe_axes(x, self.spatial_ndim)
        return (self.boundary == "periodic",) * self.spatial_ndim

    def _plan(self, spatial: tuple[int, ...], periodic: tuple[bool, ...]
              ) -> tuple[list[tuple[int, int]], tuple[int, ...]]:
        # The PSF's light on each side (its half support, not its array's half-width) keeps the FFT's wrap-around
        # off the observed pixels.
        margins = [0 if wrap else h + 1 for h, wrap in zip(self.support, periodic)]
        full = fft_shape([s + 2 * m for s, m in zip(spatial, margins)])
        pads = [(m, f - s - m) for s, m, f in zip(spatial, margins, full)]
        return pads, full

    def otf(self, shape: tuple[int, ...]) -> torch.Tensor:
        if shape not in self._otf_cache:
            self._otf_cache[shape] = psf_to_otf(self.psf, shape, self.device)
        return self._otf_cache[shape]

    def filter(self, x: torch.Tensor, transfer: torch.Tensor) -> torch.Tensor:
        """Circular filtering of the trailing spatial axes by a transfer function on the rfft grid."""
        dims = tuple(range(-self.spatial_ndim, 0))
        spectrum = torch.fft.rfftn(x, dim=dims).mul_(transfer)  # in place: one spectrum-sized buffer, not two
        return torch.fft.irfftn(spectrum, s=x.shape[-self.spatial_ndim :], dim=dims)

    def conv(self, x: torch.Tensor, otf: torch.Tensor, adjoint: bool = False) -> torch.Tensor:
        """Circular convolution with the PSF (or correlation, its adjoint)."""
        return self.filter(x, otf.conj() if adjoint else otf)

    def extend(
        self, x: torch.Tensor, taper: bool = True
    ) -> tuple[torch.Tensor, list[tuple[int, int]], tuple[int, ...]]:
        """Reflect-pad to an FFT-friendly size and taper the extension into a periodic blur of itself."""
        spatial = tuple(x.shape[-self.spatial_ndim :])
        pads, full = self._plan(spatial, self.periodic_axes(x))
        padded = reflect_pad(x, pads)
        if not taper:
            return padded, pads, full
        otf = self.otf(full)
        # Across the extension, blend toward the circularly blurred image, whose wrap-around is smooth
        # (MATLAB's edgetaper idea); the observed pixels themselves are untouched.
        w = _taper_window(full, pads, self.device)
        padded = w * padded + (1 - w) * self.conv(padded, otf)
        return padded, pads, full

    def crop(self, x: torch.Tensor, pads: list[tuple[int, int]]) -> torch.Tensor:
        idx = [slice(None)] * (x.ndim - self.spatial_ndim)
        idx += [slice(b, x.shape[x.ndim - self.spatial_ndim + i] - a) for i, (b, a) in enumerate(pads)]
        return x[tuple(idx)]


def _regularizer_spectrum(kind: str, shape: tuple[int, ...], device: torch.device) -> torch.Tensor:
    """|R(f)|^2 of the Wiener regularization operator on the rfft grid of ``shape``."""
    ndim = len(shape)
    if kind == "identity":
        kernel = np.zeros([1] * ndim, dtype=np.float32)
        kernel[...] = 1
        kernels = [kernel]
    elif kind == "laplacian":
        kernel = np.zeros([3] * ndim, dtype=np.float32)
        center = (1,) * ndim
        kernel[center] = 2 * ndim
        for axis in range(ndim):
            for off in (0, 2):
                idx = list(center)
                idx[axis] = off
                kernel[tuple(idx)] = -1
        kernels = [kernel]
    elif kind == "gradient":
        kernels = []
        for axis in range(ndim):
            k = np.zeros([3 if a == axis else 1 for a in range(ndim)], dtype=np.float32)
            k[tuple(1 if a == axis else 0 for a in range(ndim))] = 1
            k[tuple(2 if a == axis else 0 for a in range(ndim))] = -1
            kernels.append(k)
    else:
        raise ValueError(f"Unknown regularizer {kind!r}; use 'gradient', 'laplacian' or 'identity'.")
    total = None
    for k in kernels:
        power = psf_to_otf(k, shape, device).abs() ** 2
        total = power if total is None else total + power
    return total


class WienerDeconvolver(FFTDeconvolver):
    """Regularized inverse filter X = H* Y / (|H|^2 + balance |R|^2)."""

    def __init__(self, psf: np.ndarray, device: torch.device, balance: float, regularizer: str) -> None:
        super().__init__(psf, device)
        self.balance = balance
        self.regularizer = regularizer
        self._filter_cache: dict[tuple[int, ...], torch.Tensor] = {}

    def _filter(self, shape: tuple[int, ...]) -> torch.Tensor:
        if shape not in self._filter_cache:
            otf = self.otf(shape)
            reg = _regularizer_spectrum(self.regularizer, shape, self.device)
            self._filter_cache[shape] = otf.conj() / (otf.abs() ** 2 + self.balance * reg)
        return self._filter_cache[shape]

    @torch.no_grad()
    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        padded, pads, full = self.extend(batch.float())
        return self.crop(self.filter(padded, self._filter(full)), pads)


def prepare_for_method(psf: np.ndarray, psf_scale: float, psf_scale_z: float, psf_centering: str) -> np.ndarray:
    """The PSF as a classical method uses it, from the method's PSF parameters (:data:`PSF_PARAMS`)."""
    return prepare_psf(psf, scale=(psf_scale_z, psf_scale, psf_scale), centering=psf_centering)


def _build_wiener(*, psf, device, balance, regularizer, psf_scale, psf_scale_z, psf_centering):
    return WienerDeconvolver(prepare_for_method(psf, psf_scale, psf_scale_z, psf_centering), device, balance,
                             regularizer)


PSF_PARAMS = (
    Param("psf_scale", float, 1.0, "PSF pixel size divided by the image's pixel size (lateral).",
          min=0.05, max=20.0, advanced=True),
    Param("psf_scale_z", float, 1.0, "PSF z-step divided by the image's z-step (3D PSFs only).",
          min=0.05, max=20.0, advanced=True),
    Param("psf_centering", str, "mass", "Where the PSF's origin is: its centre of mass, or its array "
          "centre (the convention of scipy.ndimage.convolve).", choices=("mass", "array"), advanced=True),
)

register(MethodSpec(
    name="wiener",
    kind="classical",
    description="Wiener deconvolution (regularized inverse filter) with a known PSF. Fast, one step.",
    build=_build_wiener,
    needs_psf=True,
    params=(
        Param("balance", float, 0.01, "Regularization strength: higher is smoother and less noisy.",
              min=1e-6, max=10.0),
        Param("regularizer", str, "gradient", "Penalty applied by the balance term.",
              choices=("gradient", "laplacian", "identity"), advanced=True),
        *PSF_PARAMS,
    ),
))
