"""Lazy deblurring of dask arrays: same result as in memory, nothing computed early, one build per process."""

from __future__ import annotations

import dask
import dask.array as da
import numpy as np
import pytest
import torch

import napari_deblur as nd
from napari_deblur.restore import lazy
from napari_deblur.zoo.family import FAMILIES, create
from napari_deblur.zoo.weights import save_model


@pytest.fixture(scope="module")
def nafnet_file(tmp_path_factory):
    """NAFNet small with every weight random (its zero-initialized residual scales too, so it is no identity)."""
    torch.manual_seed(0)
    net = create("nafnet", "small")
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn_like(p) * 0.1)
    path = tmp_path_factory.mktemp("models") / "scrambled.safetensors"
    config = dict(FAMILIES["nafnet"].sizes["small"])
    return str(save_model(net, path, {"family": "nafnet", "size": "small", "config": config}))


@pytest.fixture
def small_blocks(monkeypatch):
    monkeypatch.setattr(lazy, "MIN_BLOCK", 64)  # several compute blocks on a test-sized image


@pytest.fixture
def image() -> np.ndarray:
    from skimage import data

    blurred, _ = nd.synthesize_blur(data.camera()[:320, :400], "camera_shake", seed=1, noise=0.01)
    return blurred


def test_network_lazy_tiled_and_whole_agree(image, nafnet_file, small_blocks):
    x = image.astype(np.float32) / 255
    kwargs = dict(weights=nafnet_file, precision="float32", output_dtype="float32", intensity_range=(0, 1))
    whole = nd.deblur(x, "nafnet", **kwargs)
    tiled = nd.deblur(x, "nafnet", tile_size=160, **kwargs)
    result = nd.deblur(da.from_array(x, chunks=(100, 128)), "nafnet", **kwargs)
    assert isinstance(result, da.Array) and result.chunks == ((100, 100, 100, 20), (128, 128, 128, 16))
    lazy_out = result.compute()
    assert np.abs(whole - x).max() > 0.05  # the network really changes the image
    assert np.abs(lazy_out - whole).max() <= 1e-3
    assert np.abs(tiled - whole).max() <= 1e-3


def test_dask_keeps_shape_chunks_dtype_and_equals_numpy(image, monkeypatch):
    stack = np.stack([image, image[::-1]]).astype(np.uint16) * 200  # (t, y, x) uint16
    psf = np.zeros((9, 9), np.float32)
    psf[4, 2:7] = 1
    lazy_in = da.from_array(stack, chunks=(1, 96, 160))
    result = nd.deblur(lazy_in, "wiener", psf=psf, axes="TYX", balance=0.01)
    assert result.shape == stack.shape and result.chunks == lazy_in.chunks and result.dtype == np.uint16
    # In memory the intensity range comes from all pixels, lazily from sampled chunks; with the range fixed
    # and each plane computed as one block, both paths are the same computation.
    low, high = float(stack.min()), float(stack.max())
    fixed = dict(psf=psf, axes="TYX", balance=0.01, intensity_range=(low, high))
    eager = nd.deblur(stack, "wiener", **fixed).astype(int)
    assert np.abs(nd.deblur(lazy_in, "wiener", **fixed).compute().astype(int) - eager).max() <= 1  # rounding
    assert np.abs(result.compute().astype(int) - eager).mean() < 0.002 * (high - low)  # sampled range
    # Smaller blocks: Wiener's inverse filter reaches far, so blocks (like the engine's own tiles) agree
    # closely on average but not exactly near the image border.
    monkeypatch.setattr(lazy, "MIN_BLOCK", 128)
    blocks = nd.deblur(lazy_in, "wiener", **fixed).compute().astype(int)
    assert np.abs(blocks - eager).mean() < 0.002 * (high - low)


def test_nothing_is_computed_until_asked(image, monkeypatch):
    calls = []
    real = lazy._deblur_block

    def counting(block, **kwargs):
        calls.append(block.shape)
        return real(block, **kwargs)

    monkeypatch.setattr(lazy, "_deblur_block", counting)
    x = da.from_array(np.stack([image] * 3), chunks=(1, 320, 400))
    result = nd.deblur(x, "wiener", psf=np.ones((3, 3)), axes="TYX")
    assert calls == []  # building the graph deblurs nothing (uint8: no intensity sampling either)
    plane = result[1].compute()
    assert len(calls) == 1 and plane.shape == image.shape  # one plane on show: one chunk computed


def test_channels_get_their_own_intensity_ranges(small_blocks):
    rng = np.random.default_rng(0)
    two = np.stack([rng.random((128, 128)) * 10, rng.random((128, 128)) * 10_000]).astype(np.float32)
    result = nd.deblur(da.from_array(two, chunks=(2, 64, 64)), "wiener", psf=np.ones((3, 3)), axes="CYX")
    out = result.compute()
    assert out.shape == two.shape and 0 < out[0].mean() < 10 and 1000 < out[1].mean() < 10_000


def test_rgb_chunks_keep_colours_together(image):
    rgb = np.stack([image, image // 2, image // 3], axis=-1)
    result = nd.deblur(da.from_array(rgb, chunks=(160, 200, 1)), "wiener", psf=np.ones((3, 3)), rgb=True)
    eager = nd.deblur(rgb, "wiener", psf=np.ones((3, 3)), rgb=True)
    assert result.chunks == ((160, 160), (200, 200), (1, 1, 1))
    np.testing.assert_array_equal(result.compute(), eager)


def test_the_method_is_built_once_per_process(image, small_blocks):
    before = lazy.BUILD_COUNT[0]
    x = da.from_array(np.stack([image] * 4), chunks=(1, 160, 200))
    psf = np.ones((5, 5)) + np.eye(5)  # a PSF no earlier test used, so the cache cannot already hold it
    with dask.config.set(scheduler="threads"):
        nd.deblur(x, "richardson_lucy", psf=psf, axes="TYX", iterations=3).compute()
    assert lazy.BUILD_COUNT[0] - before == 1


def test_bad_input_fails_before_any_compute(image):
    x = da.from_array(image, chunks=64)
    with pytest.raises(ValueError, match="needs a PSF"):
        nd.deblur(x, "wiener")
    with pytest.raises(TypeError, match="unknown parameter"):
        nd.deblur(x, "wiener", psf=np.ones((3, 3)), bogus=1)
    with pytest.raises(ValueError, match="is blind and takes no PSF"):  # the same checks as in memory
        nd.deblur(x, "nafnet", psf=np.ones((3, 3)))
    with pytest.raises(ValueError, match="dtype"):
        nd.deblur(x.astype(bool), "wiener", psf=np.ones((3, 3)))
    with pytest.raises(ValueError, match="intensity_range"):
        nd.deblur(x, "wiener", psf=np.ones((3, 3)), intensity_range=(5, 5))
