"""The plug-and-play loop on its own (restore/pnp.py), with simple denoisers instead of a network."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from napari_deblur.restore.classical import WienerDeconvolver
from napari_deblur.restore.noise import image_sigma
from napari_deblur.restore.pnp import START_SIGMA, PlugAndPlayDeconvolver, noise_schedule


def _psnr(x: np.ndarray, truth: np.ndarray) -> float:
    return float(-10 * np.log10(np.mean((np.clip(x, 0, 1) - truth) ** 2)))


def smoothing_denoiser(planes: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """A stand-in prior: Gaussian smoothing as wide as the noise level asks (wider for more noise)."""
    out = [ndimage.gaussian_filter(p[0].numpy(), 0.3 + 12 * float(s)) for p, s in zip(planes, sigma)]
    return torch.from_numpy(np.stack(out))[:, None]


def test_the_schedule_falls_geometrically_to_the_noise_level():
    sigma = torch.tensor([[0.01], [0.05]])
    schedule = noise_schedule(sigma, 8)
    assert schedule.shape == (8, 2, 1)
    assert torch.allclose(schedule[0], torch.full((2, 1), START_SIGMA))
    assert torch.allclose(schedule[-1], sigma)
    ratios = schedule[1:, 0, 0] / schedule[:-1, 0, 0]
    assert torch.allclose(ratios, ratios[0].expand_as(ratios)) and (ratios < 1).all()
    # Noisier than the start: never asks the prior for less than the data's own noise.
    assert torch.allclose(noise_schedule(torch.tensor([0.3]), 4), torch.full((4, 1), 0.3))


def test_measured_noise_level_of_planes_and_volumes():
    rng = np.random.default_rng(0)
    flat = torch.from_numpy(rng.normal(0.5, 0.02, (2, 1, 96, 96)).astype(np.float32))
    assert torch.allclose(image_sigma(flat, 2), torch.full((2, 1), 0.02), rtol=0.15)
    volume = torch.from_numpy(rng.normal(0.5, 0.03, (1, 1, 16, 64, 64)).astype(np.float32))
    assert image_sigma(volume, 3).item() == pytest.approx(0.03, rel=0.15)


def test_pnp_with_a_simple_prior_deblurs_and_beats_the_unregularized_inverse(sharp, blurred, motion_kernel):
    batch = torch.from_numpy(blurred)[None, None]
    pnp = PlugAndPlayDeconvolver(motion_kernel, torch.device("cpu"), smoothing_denoiser, 8, 0.0, 0.23)
    out = pnp(batch)[0, 0].numpy()
    assert out.shape == blurred.shape and np.isfinite(out).all()
    inverse = WienerDeconvolver(motion_kernel, torch.device("cpu"), 1e-6, "identity")(batch)[0, 0].numpy()
    assert _psnr(out, sharp) > _psnr(blurred, sharp) + 1.0
    assert _psnr(out, sharp) > _psnr(inverse, sharp) + 3.0


def test_volumes_run_the_data_step_in_3d_and_alternate_the_planes_the_prior_sees():
    seen: list[tuple[int, ...]] = []

    def recording(planes: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        seen.append(tuple(planes.shape))
        assert sigma.shape == (planes.shape[0],)
        return planes

    psf = np.zeros((5, 5, 5), np.float32)
    psf[1:4, 1:4, 1:4] = 1
    psf /= psf.sum()
    volume = torch.rand(1, 1, 12, 40, 48)
    for planes, expected in (("xy", {(1, 1, 40, 48)}), ("alternate", {(1, 1, 40, 48), (1, 1, 12, 48)})):
        seen.clear()
        out = PlugAndPlayDeconvolver(psf, torch.device("cpu"), recording, 4, 0.01, 0.23, planes)(volume)
        assert out.shape == volume.shape
        # A batch of planes per call; padded sides, so compare the plane orientation by count of calls and shape.
        assert {s[1] for s in seen} == {1}
        assert len({s[-2:] for s in seen}) == len(expected)


def test_unknown_plane_order_is_refused():
    with pytest.raises(ValueError, match="planes must be one of"):
        PlugAndPlayDeconvolver(np.ones((3, 3), np.float32) / 9, torch.device("cpu"), smoothing_denoiser, 2, 0, 1, "yz")
