"""How a sharp image becomes a realistic blurred one: a composable, seeded :class:`Degradation`.

The chain follows the physics of a camera or microscope: optional conversion to linear light (gamma), blur
(one kernel; or a spatially varying blur whose strength follows a depth map or mask, the depth-dependent
defocus of "Deblurring by Realistic Blurring" (Zhang et al., CVPR 2020); or a 3D PSF on a z-stack), noise on
the sensor (Poisson shot noise at a photon level plus Gaussian read noise), back to display values,
quantization, and optional JPEG compression.

:class:`Degradation` works on normalized float planes and is what training data pipelines call for a fresh
blur on every sample; :func:`synthesize_blur` wraps it for any image the deblur engine accepts (axes,
dtypes, RGB) and maps the result back to the input's dtype and shape.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import signal

from napari_deblur.synth.kernels import default_shake_length
from napari_deblur.synth.kinds import get_kind, make_kernel

#: The parameter(s) of each kind that set its blur strength; a depth map scales them between 0 and 1.
STRENGTH_PARAMS: dict[str, tuple[str, ...]] = {
    "camera_shake": ("length",),
    "linear_motion": ("length",),
    "defocus": ("radius",),
    "gaussian": ("sigma_x", "sigma_y", "sigma_z"),
    "widefield": ("defocus",),
    "confocal": ("defocus",),
}


def convolve_reflect(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Convolve the trailing ``kernel.ndim`` axes of ``image`` with ``kernel``, reflecting at the borders.

    The same result as ``scipy.ndimage.convolve(mode="reflect")`` per plane, but through FFTs (overlap-add),
    so large kernels and 3D PSFs stay fast; leading axes are batched.
    """
    k = kernel.ndim
    spatial = image.shape[-k:]
    if any(ks > s for ks, s in zip(kernel.shape, spatial)):
        raise ValueError(
            f"The kernel ({'x'.join(map(str, kernel.shape))}) is larger than the image "
            f"({'x'.join(map(str, spatial))}); use a smaller kernel or a larger image."
        )
    pads = [(0, 0)] * (image.ndim - k) + [(s // 2, s - 1 - s // 2) for s in kernel.shape]
    # numpy's "symmetric" (d c b a | a b c d) is scipy.ndimage's "reflect".
    padded = np.pad(image.astype(np.float32, copy=False), pads, mode="symmetric")
    full_kernel = kernel.astype(np.float32).reshape((1,) * (image.ndim - k) + kernel.shape)
    axes = tuple(range(image.ndim - k, image.ndim))
    return signal.oaconvolve(padded, full_kernel, mode="valid", axes=axes).astype(np.float32)


def _delta(ndim: int) -> np.ndarray:
    return np.ones((1,) * ndim, np.float32)


def _pad_to(kernel: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    pads = [((t - s) // 2, t - s - (t - s) // 2) for s, t in zip(kernel.shape, shape)]
    return np.pad(kernel, pads)


def fit_kernel(kernel: np.ndarray, spatial: tuple[int, ...]) -> np.ndarray:
    """Crop a generated kernel centrally to at most the image's size (odd) and renormalize.

    Automatic PSF sizes hold the light of a few axial FWHMs, which can exceed a thin z-stack; the cropped
    tails are light the stack could not have recorded anyway.
    """
    if all(k <= s for k, s in zip(kernel.shape, spatial)):
        return kernel
    keep = [min(k, s - (1 - s % 2)) for k, s in zip(kernel.shape, spatial)]
    cut = tuple(slice((k - n) // 2, (k - n) // 2 + n) for k, n in zip(kernel.shape, keep))
    cropped = kernel[cut]
    return (cropped / cropped.sum()).astype(np.float32)


def stack_kernels(kernels: list[np.ndarray]) -> np.ndarray:
    """Kernels of possibly different sizes, zero-padded around their centres into one stack."""
    largest = tuple(max(k.shape[i] for k in kernels) for i in range(kernels[0].ndim))
    return np.stack([_pad_to(np.asarray(k), largest) for k in kernels])


@dataclass(frozen=True)
class Degradation:
    """Sharp -> degraded, seeded: gamma, blur (uniform or depth-varying), noise, quantization, JPEG.

    Parameters
    ----------
    kind : str
        A blur kind from :func:`napari_deblur.synth.kinds.list_kinds` ("camera_shake", "defocus", ...).
    params : mapping
        The kind's parameters (defaults for the rest).
    kernel : array-like, optional
        The kernel itself for ``kind="custom"`` (array, file or layer).
    noise : float
        Gaussian read noise, standard deviation as a fraction of the image's white level.
    photons : float, optional
        Poisson shot noise: the number of photons a white pixel collects (``None``: no shot noise).
    gamma : float, optional
        The image is display-encoded with this gamma (2.2 for photographs): blur and noise happen in
        linear light, as in a camera, and the result is encoded again.
    bits : int, optional
        Quantize to this many bits (after noise).
    jpeg_quality : int, optional
        JPEG-compress each 2D plane (RGB jointly) at this quality (1-100).
    focus : float
        With a depth map: the depth (0..1) that stays sharp; blur strength grows with ``|depth - focus|``.
    levels : int
        With a depth map: how many kernels, from sharp to full strength, are blended per pixel.
    clip : bool
        Clip to [0, 1] after noise (for 8-bit and [0, 1] float images; not for scientific data whose
        normalized range is set by percentiles).
    """

    kind: str = "camera_shake"
    params: Mapping[str, Any] = field(default_factory=dict)
    kernel: Any = None
    noise: float = 0.0
    photons: float | None = None
    gamma: float | None = None
    bits: int | None = None
    jpeg_quality: int | None = None
    focus: float = 0.0
    levels: int = 8
    clip: bool = True

    def __post_init__(self) -> None:
        get_kind(self.kind)  # names the valid kinds if this one is unknown
        if self.noise < 0:
            raise ValueError(f"noise must be >= 0 (a standard deviation); got {self.noise}.")
        if self.photons is not None and self.photons <= 0:
            raise ValueError(f"photons must be positive (photons at the white level); got {self.photons}.")
        if self.gamma is not None and self.gamma <= 0:
            raise ValueError(f"gamma must be positive (e.g. 2.2); got {self.gamma}.")
        if self.bits is not None and not 1 <= self.bits <= 16:
            raise ValueError(f"bits must be between 1 and 16; got {self.bits}.")
        if self.jpeg_quality is not None and not 1 <= self.jpeg_quality <= 100:
            raise ValueError(f"jpeg_quality must be between 1 and 100; got {self.jpeg_quality}.")
        if not 0 <= self.focus <= 1:
            raise ValueError(f"focus must be a depth between 0 and 1; got {self.focus}.")
        if self.levels < 2:
            raise ValueError(f"levels must be at least 2 (sharp and full strength); got {self.levels}.")

    # -- kernels ---------------------------------------------------------------------------------------
    def make_kernel(self, *, seed: int | None = None, ndim: int = 2, strength: float = 1.0) -> np.ndarray:
        """The kernel of this degradation at a blur ``strength`` in [0, 1] (1 = the parameters as given)."""
        if strength <= 0:
            return _delta(ndim)
        if self.kind == "custom":
            full = make_kernel("custom", kernel=self.kernel, ndim=ndim)
            if strength >= 1:
                return full
            # A user kernel has no size parameter: weaken it by mixing with the identity.
            mixed = (1 - strength) * _pad_to(_delta(full.ndim), full.shape) + strength * full
            return mixed.astype(np.float32)
        params = dict(self.params)
        if strength < 1:
            spec = get_kind(self.kind)
            for name in STRENGTH_PARAMS.get(self.kind, ()):
                if any(p.name == name for p in spec.params):
                    params[name] = params.get(name, spec.param(name).default) * strength
            params.update(self._scaled_defaults(params, strength))
        return make_kernel(self.kind, seed=seed, ndim=ndim, **params)

    def _scaled_defaults(self, params: dict[str, Any], strength: float) -> dict[str, Any]:
        """Strength parameters whose 0 means "automatic" (camera_shake's length) get their real value."""
        if self.kind == "camera_shake" and not self.params.get("length"):
            size = int(params.get("size", get_kind(self.kind).param("size").default))
            return {"length": max(default_shake_length(size) * strength, 1e-3)}
        return {}

    @property
    def _soft_tails(self) -> bool:
        """Kernels with automatic sizes and faint tails (Gaussian, PSFs) may be cropped to a small image;
        a sharp-edged kernel (disk, trajectory, a user's) larger than the image is an error instead."""
        return self.kind in ("gaussian", "widefield", "confocal")

    # -- the chain -------------------------------------------------------------------------------------
    def __call__(
        self,
        image: np.ndarray,
        *,
        seed: int | None = None,
        depth: np.ndarray | None = None,
        spatial_ndim: int = 2,
        rgb: bool = False,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Degrade ``image`` (float, about [0, 1]; trailing ``spatial_ndim`` axes spatial, others batched).

        ``rgb``: the last leading axis holds R, G, B (JPEG then compresses colour images jointly).
        Returns ``(degraded, kernel)``; with a depth map the kernel is the stack of the blended kernels,
        sharp to full strength.
        """
        x = np.asarray(image, dtype=np.float32)
        noise_rng = np.random.default_rng(None if seed is None else [seed, 1])
        if self.gamma is not None:
            x = np.clip(x, 0, None) ** self.gamma
        if depth is None:
            kernel = self.make_kernel(seed=seed, ndim=spatial_ndim)
            if self._soft_tails:
                kernel = fit_kernel(kernel, x.shape[-spatial_ndim:])
            x = convolve_reflect(x, kernel)
        else:
            x, kernel = self._depth_blur(x, depth, seed, spatial_ndim)
        if self.photons is not None:
            x = noise_rng.poisson(np.clip(x, 0, None) * self.photons).astype(np.float32) / self.photons
        if self.noise > 0:
            x = x + noise_rng.normal(0.0, self.noise, x.shape).astype(np.float32)
        if self.gamma is not None:
            x = np.clip(x, 0, None) ** (1 / self.gamma)
        if self.clip:
            x = np.clip(x, 0, 1)
        if self.bits is not None:
            levels = 2**self.bits - 1
            x = np.round(np.clip(x, 0, 1) * levels) / levels
        if self.jpeg_quality is not None:
            x = jpeg(x, self.jpeg_quality, rgb)
        return x.astype(np.float32), kernel

    def _depth_blur(self, x: np.ndarray, depth: np.ndarray, seed: int | None, spatial_ndim: int
                    ) -> tuple[np.ndarray, np.ndarray]:
        """Blend ``levels`` blurs of increasing strength per pixel, strength = |depth - focus| (scaled)."""
        depth = np.asarray(depth, dtype=np.float32)
        spatial = x.shape[-spatial_ndim:]
        if depth.shape != spatial:
            raise ValueError(f"The depth map's shape {depth.shape} must match the image's spatial shape {spatial}.")
        if not np.all(np.isfinite(depth)) or depth.min() < 0 or depth.max() > 1:
            raise ValueError("The depth map must hold finite values in [0, 1] (0 near, 1 far); rescale it first.")
        strength = np.abs(depth - self.focus) / max(self.focus, 1 - self.focus)
        position = strength * (self.levels - 1)
        lower = np.minimum(np.floor(position).astype(int), self.levels - 2)
        upper_weight = position - lower
        kernels = [self.make_kernel(seed=seed, ndim=spatial_ndim, strength=k / (self.levels - 1))
                   for k in range(self.levels)]
        if self._soft_tails:
            kernels = [fit_kernel(k, spatial) for k in kernels]
        out = np.zeros(x.shape, np.float32)
        for k, kernel in enumerate(kernels):
            weight = np.where(lower == k, 1 - upper_weight, 0) + np.where(lower == k - 1, upper_weight, 0)
            if weight.any():
                out += weight.astype(np.float32) * convolve_reflect(x, kernel)
        return out, stack_kernels(kernels)


def jpeg(x: np.ndarray, quality: int, rgb: bool = False) -> np.ndarray:
    """JPEG-compress every 2D plane of ``x`` (values in [0, 1], shape ``(..., H, W)``) at ``quality``.

    With ``rgb`` the last leading axis holds R, G, B and each colour triple is compressed as one colour
    image (JPEG's colour transform and chroma subsampling then act as in a camera).
    """
    from PIL import Image

    def roundtrip(plane: np.ndarray) -> np.ndarray:
        buffer = io.BytesIO()
        Image.fromarray(np.round(np.clip(plane, 0, 1) * 255).astype(np.uint8)).save(
            buffer, format="JPEG", quality=int(quality))
        return np.asarray(Image.open(buffer), dtype=np.float32) / 255

    h, w = x.shape[-2:]
    if rgb:
        if x.ndim < 3 or x.shape[-3] != 3:
            raise ValueError(f"RGB JPEG needs 3 colour planes before the spatial axes; got shape {x.shape}.")
        triples = np.moveaxis(x.reshape(-1, 3, h, w), 1, -1)  # (n, H, W, 3)
        done = np.stack([roundtrip(t) for t in triples])
        return np.moveaxis(done, -1, 1).reshape(x.shape)
    return np.stack([roundtrip(p) for p in x.reshape(-1, h, w)]).reshape(x.shape)
