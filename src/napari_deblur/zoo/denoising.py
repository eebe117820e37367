"""The trained denoiser as two methods: ``denoise`` (alone) and ``pnp`` (plug-and-play deconvolution with a PSF).

The network is a noise-conditioned family (zoo/drunet.py); the plug-and-play loop is physics and lives below the
zoo (restore/pnp.py), which takes the denoiser as a plain callable built here.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from napari_deblur.hardware import inference_dtype
from napari_deblur.params import Param
from napari_deblur.restore.classical import PSF_PARAMS, prepare_for_method
from napari_deblur.restore.methods import MethodSpec, register
from napari_deblur.restore.noise import image_sigma
from napari_deblur.restore.pnp import PLANE_ORDERS, PlugAndPlayDeconvolver
from napari_deblur.zoo.drunet import DRUNET
from napari_deblur.zoo.family import FAMILIES, create
from napari_deblur.zoo.registration import RANDOM_WEIGHTS, precision_param, untrained_reason
from napari_deblur.zoo.weights import find_weights, load_model

#: The shipped denoiser (weights/drunet-small.safetensors, recipe weights/recipes/drunet-small.json).
DEFAULT_DENOISER = f"{DRUNET.name}-{DRUNET.default_size}"


class PlaneDenoiser:
    """A denoiser network as a callable on planes: ``(B, 1, H, W)`` and noise levels ``(B,)`` -> denoised planes.

    Channels-last, under autocast for a 16-bit ``dtype`` (the network's residual skip stays float32), no autograd.
    """

    def __init__(self, module: nn.Module, device: torch.device, dtype: torch.dtype) -> None:
        self.device, self.dtype = torch.device(device), dtype
        self.module = module.eval().to(self.device, memory_format=torch.channels_last)
        self.receptive_field = int(getattr(module, "receptive_field", 32))

    def __call__(self, planes: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        x = planes.to(self.device, torch.float32).contiguous(memory_format=torch.channels_last)
        low = self.dtype != torch.float32
        with torch.inference_mode(), torch.autocast(self.device.type, dtype=self.dtype, enabled=low):
            return self.module(x, sigma.to(self.device, torch.float32)).float().contiguous()


def load_denoiser(weights: str, device: torch.device, precision: str) -> PlaneDenoiser:
    """The denoiser ``weights`` names (blank: the shipped one; ``"random"``: untrained, for tests)."""
    if weights == RANDOM_WEIGHTS:
        module = create(DRUNET.name, DRUNET.default_size)
    else:
        path = find_weights(weights or DEFAULT_DENOISER)
        if path is None:
            raise ValueError(f"No denoiser {weights or DEFAULT_DENOISER!r}: train one (make weights "
                             f"NAME={DEFAULT_DENOISER}, or napari-deblur train --model drunet) or pass its "
                             ".safetensors path as weights.")
        module = load_model(path)
        family = FAMILIES.get(module.card.get("family"))
        if family is None or not family.noise_conditioned:
            raise ValueError(f"{path} is a {module.card.get('family')} model, not a denoiser: pnp and denoise take "
                             "a noise-conditioned network (model drunet).")
    return PlaneDenoiser(module, device, inference_dtype(precision, torch.device(device)))


def _untrained(params: dict[str, Any]) -> str | None:
    """Why the denoiser ``weights`` cannot run (the families' rule, at the denoiser's default size), or None."""
    return untrained_reason(DRUNET, {"size": DRUNET.default_size, "weights": params.get("weights")})


class DenoiseRestorer:
    """The denoiser alone on the engine's tiles, at the given noise level or each tile's measured one."""

    spatial_ndim = 2

    def __init__(self, denoiser: PlaneDenoiser, noise: float) -> None:
        self.denoiser, self.noise = denoiser, noise
        self.receptive_field = denoiser.receptive_field

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        sigma = (torch.full(batch.shape[:2], self.noise) if self.noise > 0 else image_sigma(batch, 2))
        out = self.denoiser(batch.reshape(-1, 1, *batch.shape[-2:]), sigma.reshape(-1))
        return out.reshape(batch.shape)


_WEIGHTS = Param("weights", str, "", f"Denoiser model name or .safetensors path; blank = the shipped "
                 f"{DEFAULT_DENOISER}; '{RANDOM_WEIGHTS}' = untrained (for tests).", advanced=True)


def _noise_param(what: str) -> Param:
    return Param("noise", float, 0.0, f"Noise level of the image, as a fraction of its intensity range ({what}; 0 "
                 "= auto, measured from the image).", min=0.0, max=0.5, zero="auto")


def _build_denoise(*, psf, device, noise, weights, precision):
    return DenoiseRestorer(load_denoiser(weights, device, precision), noise)


def _build_pnp(*, psf, device, noise, iterations, strength, planes, weights, precision, psf_scale, psf_scale_z,
               psf_centering):
    prepared = prepare_for_method(psf, psf_scale, psf_scale_z, psf_centering)
    return PlugAndPlayDeconvolver(prepared, device, load_denoiser(weights, device, precision), iterations, noise,
                                  strength, planes)


register(MethodSpec(
    name="denoise",
    kind="network",
    description="Remove noise only, with the trained denoiser (no deblurring): any noise level, measured from the "
                "image unless given.",
    build=_build_denoise,
    params=(_noise_param("e.g. 0.04 for 10/255"), _WEIGHTS, precision_param()),
    default_tile_size=DRUNET.tile_size,
    tile_alignment=DRUNET.tile_alignment,
    unavailable=_untrained,
    weights_family=DRUNET.name,
))

register(MethodSpec(
    name="pnp",
    kind="classical",
    description="Plug-and-play deconvolution with a known PSF: the PSF's physics plus a trained denoiser as the "
                "prior, so noise is not amplified and nothing needs tuning (2D, colour and 3D).",
    build=_build_pnp,
    needs_psf=True,
    params=(
        _noise_param("the data's own noise"),
        Param("iterations", int, 8, "Alternations of the PSF step and the denoiser: more is slower, rarely "
              "better.", min=1, max=100),
        Param("strength", float, 0.23, "How closely each PSF step stays to the denoised estimate: higher is "
              "smoother.", min=0.001, max=100.0, advanced=True),
        Param("planes", str, "xy", "3D: the planes the 2D denoiser sees: xy, or xy and xz in turn.",
              choices=PLANE_ORDERS, advanced=True),
        _WEIGHTS,
        precision_param(),
        *PSF_PARAMS,
    ),
    unavailable=_untrained,
    weights_family=DRUNET.name,
))
