"""Degradation and synthesize_blur: the blur is the convolution it claims, depth maps blend it, the noise has
the statistics it claims, seeds reproduce, shapes and dtypes are kept, bad input is named."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

import napari_deblur as nd
from napari_deblur.synth.degrade import Degradation, convolve_reflect, jpeg


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    from skimage import data

    return data.camera()[100:196, 150:270].astype(np.float32) / 255


def test_uniform_blur_equals_scipy_convolve(image):
    kernel = nd.make_kernel("camera_shake", seed=5, size=17)
    blurred, used = nd.synthesize_blur(image, "camera_shake", seed=5, noise=0, size=17)
    np.testing.assert_array_equal(used, kernel)
    np.testing.assert_allclose(blurred, ndimage.convolve(image, kernel, mode="reflect"), atol=1e-5)


def test_convolve_reflect_3d_matches_scipy():
    rng = np.random.default_rng(0)
    volume, kernel = rng.random((9, 20, 24)).astype(np.float32), rng.random((3, 5, 7)).astype(np.float32)
    np.testing.assert_allclose(convolve_reflect(volume, kernel), ndimage.convolve(volume, kernel, mode="reflect"),
                               atol=1e-4)


def test_delta_kernel_is_the_identity(image):
    out, _ = nd.synthesize_blur(image, "custom", kernel=np.ones((1, 1)), noise=0)
    np.testing.assert_allclose(out, image, atol=1e-6)


def test_constant_depth_map_equals_uniform_blur(image):
    uniform, _ = nd.synthesize_blur(image, "defocus", seed=1, noise=0.01, radius=4)
    varying, kernels = nd.synthesize_blur(image, "defocus", seed=1, noise=0.01, radius=4,
                                          depth=np.ones(image.shape, np.float32), focus=0.0)
    np.testing.assert_allclose(varying, uniform, atol=1e-5)
    assert kernels.ndim == 3 and kernels.shape[0] == Degradation().levels  # sharp .. full strength


def test_depth_map_keeps_the_focal_plane_sharp(image):
    depth = np.zeros(image.shape, np.float32)
    depth[:, image.shape[1] // 2 :] = 1.0  # left half in focus, right half far
    out, _ = nd.synthesize_blur(image, "defocus", noise=0, radius=5, depth=depth, focus=0.0)
    np.testing.assert_allclose(out[:, :40], image[:, :40], atol=1e-6)
    far = ndimage.convolve(image, nd.make_kernel("defocus", radius=5), mode="reflect")
    np.testing.assert_allclose(out[:, -40:], far[:, -40:], atol=1e-5)


def test_poisson_noise_has_the_expected_variance():
    flat = np.full((256, 256), 0.5, np.float32)
    out, _ = nd.synthesize_blur(flat, "gaussian", seed=2, noise=0, photons=100, sigma_x=1)
    # Poisson counts of mean 50 photons, divided by 100: variance 50 / 100**2.
    assert out.var() == pytest.approx(0.5 / 100, rel=0.06)
    assert out.mean() == pytest.approx(0.5, abs=0.002)


def test_gaussian_read_noise_std():
    flat = np.full((256, 256), 0.5, np.float32)
    out, _ = nd.synthesize_blur(flat, "gaussian", seed=2, noise=0.02, sigma_x=1)
    assert out.std() == pytest.approx(0.02, rel=0.05)


def test_same_seed_same_output_and_other_seeds_differ(image):
    a, ka = nd.synthesize_blur(image, "camera_shake", seed=11, noise=0.01)
    b, kb = nd.synthesize_blur(image, "camera_shake", seed=11, noise=0.01)
    c, kc = nd.synthesize_blur(image, "camera_shake", seed=12, noise=0.01)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ka, kb)
    assert not np.array_equal(a, c) and not np.array_equal(ka, kc)


def test_gamma_blurs_in_linear_light():
    edge = np.zeros((32, 32), np.float32)
    edge[:, 16:] = 1.0
    plain, _ = nd.synthesize_blur(edge, "gaussian", noise=0, sigma_x=2)
    linear, _ = nd.synthesize_blur(edge, "gaussian", noise=0, gamma=2.2, sigma_x=2)
    # In linear light the dark side of an edge brightens more once re-encoded (the bright side dominates).
    assert linear[16, 14] > plain[16, 14] + 0.05
    flat = np.full((32, 32), 0.3, np.float32)
    np.testing.assert_allclose(nd.synthesize_blur(flat, "gaussian", noise=0, gamma=2.2)[0], flat, atol=1e-5)


def test_jpeg_and_quantization(image):
    rough = jpeg(image[None], 10)[0]
    fine = jpeg(image[None], 95)[0]
    assert np.abs(rough - image).mean() > 2 * np.abs(fine - image).mean() > 0
    out, _ = Degradation(kind="defocus", bits=4)(image, seed=0)
    np.testing.assert_allclose(out * 15, np.round(out * 15), atol=1e-5)
    with pytest.raises(ValueError, match="3 colour planes"):
        jpeg(image[None], 50, rgb=True)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_shape_and_dtype_kept_and_input_untouched(image, dtype):
    scale = {np.uint8: 255, np.uint16: 4000, np.float32: 1}[dtype]
    src = (image * scale).astype(dtype)
    before = src.copy()
    out, _ = nd.synthesize_blur(src, "linear_motion", seed=0, length=9)
    assert out.shape == src.shape and out.dtype == src.dtype
    np.testing.assert_array_equal(src, before)


def test_uint16_keeps_its_range_and_photons_add_shot_noise(image):
    counts = (100 + 3000 * image).astype(np.uint16)
    out, _ = nd.synthesize_blur(counts, "gaussian", seed=0, noise=0, photons=50, sigma_x=1.5)
    assert 0 < out.min() and out.max() < 4000  # not squashed to 8 bits, not saturated
    smooth, _ = nd.synthesize_blur(counts, "gaussian", seed=0, noise=0, sigma_x=1.5)
    assert np.abs(out.astype(float) - smooth).mean() > 20


def test_rgb_alpha_and_stacks():
    rng = np.random.default_rng(0)
    rgba = (rng.random((40, 50, 4)) * 255).astype(np.uint8)
    out, _ = nd.synthesize_blur(rgba, "defocus", rgb=True, seed=0, jpeg_quality=60, radius=2)
    assert out.shape == rgba.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(out[..., 3], rgba[..., 3])
    stack = rng.random((3, 40, 50)).astype(np.float32)
    out, kernel = nd.synthesize_blur(stack, "camera_shake", axes="TYX", seed=0, size=9)
    assert out.shape == stack.shape and kernel.ndim == 2


def test_3d_psf_blurs_along_z():
    volume = np.zeros((15, 48, 48), np.float32)
    volume[7] = 1.0  # one bright plane
    out, psf = nd.synthesize_blur(volume, "gaussian", axes="ZYX", noise=0, sigma_x=1, sigma_z=2)
    assert psf.ndim == 3 and psf.shape[0] == 15  # the automatic 17-plane kernel cropped to the stack
    assert psf.sum() == pytest.approx(1.0, abs=1e-5)
    assert out[5, 24, 24] > 0.05 and out[7, 24, 24] < 0.5  # light spread to the neighbouring planes
    flat, psf2d = nd.synthesize_blur(volume, "camera_shake", axes="ZYX", noise=0, seed=1, size=9)
    assert psf2d.ndim == 2 and flat[5].max() == 0  # a 2D kernel works plane by plane


def test_variants_stack_seeded_blurs(image):
    stack, kernels = nd.blur_variants(image, 3, "camera_shake", seed=4, noise=0)
    assert stack.shape == (3, *image.shape) and len(kernels) == 3
    np.testing.assert_array_equal(stack[1], nd.synthesize_blur(image, "camera_shake", seed=5, noise=0)[0])
    assert not np.array_equal(stack[0], stack[1])


def test_bad_input_is_named(image):
    with pytest.raises(ValueError, match="larger than the image"):
        nd.synthesize_blur(image[:10, :10], "defocus", radius=8)
    with pytest.raises(ValueError, match="empty"):
        nd.synthesize_blur(np.zeros((0, 5), np.float32), "defocus")
    with pytest.raises(ValueError, match="depth map's shape"):
        nd.synthesize_blur(image, "defocus", depth=np.zeros((5, 5)))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        nd.synthesize_blur(image, "defocus", depth=np.full(image.shape, 2.0))
    with pytest.raises(ValueError, match="noise must be >= 0"):
        nd.synthesize_blur(image, "defocus", noise=-1)
    with pytest.raises(ValueError, match="camera_shake"):
        nd.synthesize_blur(image, "wobble")
    with pytest.raises(ValueError, match="kernel"):
        nd.synthesize_blur(image, "custom")
    with pytest.raises(ValueError, match="length"):
        nd.synthesize_blur(image, "linear_motion", length=-3)
    with pytest.raises(ValueError, match="NA|na"):
        nd.synthesize_blur(image, "widefield", na=1.45, ni=1.33)
