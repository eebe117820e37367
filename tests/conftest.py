"""Shared fixtures: test images, kernels, the third-party data folder, isolated widget settings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage
from skimage import data

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path, monkeypatch):
    """Widget settings and user models go to temporary folders; workers run synchronously unless a test says
    otherwise."""
    monkeypatch.setenv("NAPARI_DEBLUR_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("NAPARI_DEBLUR_MODEL_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("NAPARI_DEBLUR_SYNC_WORKERS", "1")


@pytest.fixture
def no_shipped_weights(monkeypatch):
    """Hide the models shipped in weights/, so a test sees the zoo as a fresh install without them would."""
    from napari_deblur.zoo import weights

    monkeypatch.setattr(weights, "shipped_weight_dirs", lambda: [])


@pytest.fixture(scope="session")
def sharp() -> np.ndarray:
    """A 192x192 crop of the camera man in [0, 1]: small enough to be fast, textured enough to matter."""
    return data.camera()[60:252, 160:352].astype(np.float32) / 255


@pytest.fixture(scope="session")
def motion_kernel() -> np.ndarray:
    k = np.zeros((11, 11), np.float32)
    np.fill_diagonal(k, 1)
    k[5, 3:8] = 1
    return k / k.sum()


@pytest.fixture(scope="session")
def blurred(sharp, motion_kernel) -> np.ndarray:
    rng = np.random.default_rng(0)
    b = ndimage.convolve(sharp, motion_kernel, mode="reflect")
    return np.clip(b + rng.normal(0, 0.005, b.shape), 0, 1).astype(np.float32)


def shared_data(*parts: str) -> Path:
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"third-party test data not found at {path}")
    return path


class _LinearConv:
    """A finite-support linear 'method' (a 5x5 box blur times ``gain``): tiling must reproduce it exactly."""

    spatial_ndim = 2
    receptive_field = 2

    def __init__(self, gain: float) -> None:
        self.gain = gain

    def __call__(self, batch):
        import torch.nn.functional as F

        weight = batch.new_full((1, 1, 5, 5), self.gain / 25)
        padded = F.pad(batch, (2, 2, 2, 2), mode="reflect")
        return F.conv2d(padded, weight)


@pytest.fixture
def identity_method():
    """Register a blind test method (linear, finite support, size multiple 8) for the duration of a test."""
    from napari_deblur.params import Param
    from napari_deblur.restore.methods import MethodSpec, register, unregister

    spec = register(MethodSpec(
        name="test_linear",
        kind="network",
        description="Test-only linear filter.",
        build=lambda *, psf, device, gain, mode: _LinearConv(gain),
        params=(Param("gain", float, 1.0, "Multiplier.", min=0.0, max=2.0),
                Param("mode", str, "a", "Unused choice.", choices=("a", "b"), advanced=True)),
        size_multiple=8,
        default_tile_size=64,
    ))
    yield spec
    unregister(spec.name)
