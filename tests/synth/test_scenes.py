"""Procedural scenes: shapes and ranges, determinism, natural-image statistics of dead leaves, sparsity and
thin structures of fluorescence scenes, and input checking."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from napari_deblur.synth.scenes import KINDS, dead_leaves, fluorescence, random_scene


def spectrum_slope(image: np.ndarray) -> float:
    """Log-log slope of the radially averaged power spectrum (Hann window against edge leakage)."""
    n = image.shape[0]
    window = np.outer(np.hanning(n), np.hanning(n))
    power = np.abs(np.fft.fftshift(np.fft.fft2((image - image.mean()) * window))) ** 2
    y, x = np.indices(power.shape) - n // 2
    radius = np.hypot(y, x).astype(int).ravel()
    radial = np.bincount(radius, power.ravel()) / np.bincount(radius)
    f = np.arange(4, n // 4)  # above the window's own blur, below the pixel-scale anti-aliasing
    return float(np.polyfit(np.log(f), np.log(radial[f]), 1)[0])


def flat_mask(image: np.ndarray) -> np.ndarray:
    """Pixels equal to both their right and lower neighbours."""
    mask = np.zeros(image.shape, bool)
    mask[:-1, :-1] = (np.diff(image, axis=0)[:, :-1] == 0) & (np.diff(image, axis=1)[:-1] == 0)
    return mask


@pytest.mark.parametrize("shape", [(256, 256), (37, 53), (8, 8)])
def test_dead_leaves_grey_shape_dtype_range(shape):
    image = dead_leaves(shape, seed=0)
    assert image.shape == shape and image.dtype == np.float32
    assert 0 <= image.min() and image.max() <= 1 and np.isfinite(image).all()
    assert image.std() > 0.05


def test_dead_leaves_color():
    image = dead_leaves((64, 80), seed=1, color=True)
    assert image.shape == (64, 80, 3) and image.dtype == np.float32
    assert 0 <= image.min() and image.max() <= 1
    # Real colours, not grey repeated three times.
    assert np.abs(image[..., 0] - image[..., 1]).mean() > 0.05


def test_dead_leaves_deterministic_per_seed():
    a, b = dead_leaves((96, 96), seed=7), dead_leaves((96, 96), seed=7)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, dead_leaves((96, 96), seed=8))
    np.testing.assert_array_equal(dead_leaves((64, 64), seed=3, color=True), dead_leaves((64, 64), seed=3, color=True))


def test_dead_leaves_power_spectrum_is_scale_invariant():
    slope = spectrum_slope(dead_leaves((512, 512), seed=0).astype(np.float64))
    assert -3.2 < slope < -1.6, slope


def test_dead_leaves_have_many_regions():
    image = dead_leaves((256, 256), seed=2, texture=0)
    gy, gx = np.gradient(image)
    edges = np.mean(np.hypot(gx, gy) > 0.02)
    assert 0.15 < edges < 0.85, edges
    # Many leaves of their own grey level, not a handful of big ones.
    assert len(np.unique(image[flat_mask(image)])) > 100


def test_texture_zero_is_piecewise_constant_and_texture_is_not():
    flat = dead_leaves((128, 128), seed=4, texture=0)
    textured = dead_leaves((128, 128), seed=4, texture=0.3)
    assert flat_mask(flat).mean() > 0.4
    assert flat_mask(textured).mean() < 0.1
    # Same seed, same leaves: texture only modulates them.
    assert np.abs(flat - textured).mean() < 0.15


def test_dead_leaves_n_shapes_leaves_background():
    image = dead_leaves((64, 64), seed=5, n_shapes=3, texture=0)
    counts = np.unique(image, return_counts=True)[1]
    assert counts.max() > 0.3 * image.size  # the background colour shows where no leaf fell


def test_dead_leaves_alpha_changes_sizes():
    """Larger alpha favours small leaves: more edges."""
    def edges(alpha: float) -> float:
        image = dead_leaves((128, 128), seed=6, alpha=alpha, texture=0)
        return float(np.mean(np.hypot(*np.gradient(image)) > 0.02))

    assert edges(4.0) > edges(2.0)


@pytest.mark.parametrize("shape", [(256, 256), (37, 53), (12, 37, 53)])
def test_fluorescence_shape_dtype_range(shape):
    image = fluorescence(shape, seed=0)
    assert image.shape == shape and image.dtype == np.float32
    assert image.min() >= 0.02 - 1e-6 and image.max() <= 1 + 1e-6
    assert image.max() > 0.5


def test_fluorescence_deterministic_per_seed():
    np.testing.assert_array_equal(fluorescence(seed=3), fluorescence(seed=3))
    assert not np.array_equal(fluorescence(seed=3), fluorescence(seed=4))
    np.testing.assert_array_equal(fluorescence((16, 48, 48), seed=1), fluorescence((16, 48, 48), seed=1))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fluorescence_is_sparse_with_high_dynamic_range(seed):
    background = 0.02
    image = fluorescence((256, 256), seed=seed, background=background)
    assert abs(np.median(image) - background) < 0.01
    assert np.percentile(image, 99.9) >= 10 * background
    assert image.max() == pytest.approx(1.0)
    # Most structure pixels are well below the brightest one.
    structure = image[image > background + 0.02]
    assert np.median(structure) < 0.5


def bright_mask(image: np.ndarray, background: float = 0.02) -> np.ndarray:
    return image > background + 0.1 * (np.percentile(image, 99.9) - background)


def test_fluorescence_filaments_are_thin():
    """A 3x3 opening erases 1-2 px wide curves but keeps blobs."""
    for seed in range(3):
        lines = bright_mask(fluorescence((256, 256), seed=seed, blobs=0, membranes=0))
        assert lines.sum() > 500
        assert ndimage.binary_opening(lines, np.ones((3, 3))).sum() < 0.2 * lines.sum()
    spots = bright_mask(fluorescence((256, 256), seed=0, filaments=0, membranes=0))
    assert ndimage.binary_opening(spots, np.ones((3, 3))).sum() > 0.5 * spots.sum()


def test_fluorescence_membranes_are_rings():
    """A ring's inside is dark: filling its holes adds many pixels."""
    rings = bright_mask(fluorescence((128, 128), seed=1, blobs=0, filaments=0, membranes=3))
    assert ndimage.binary_fill_holes(rings).sum() > 1.5 * rings.sum()


def test_fluorescence_3d_has_structure_in_every_z_region():
    image = fluorescence((32, 128, 128), seed=0)
    for slab in np.array_split(image, 4, axis=0):
        assert slab.max() > 0.02 + 0.1
        assert np.percentile(slab, 99.9) > 0.02 + 0.02


def test_fluorescence_counts_zero_gives_background():
    image = fluorescence((32, 32), blobs=0, filaments=0, membranes=0, background=0.05)
    np.testing.assert_allclose(image, 0.05)


def test_random_scene_dispatches():
    np.testing.assert_array_equal(random_scene((64, 64), "dead_leaves", seed=1, color=True),
                                  dead_leaves((64, 64), seed=1, color=True))
    np.testing.assert_array_equal(random_scene((16, 32, 32), "fluorescence", seed=1),
                                  fluorescence((16, 32, 32), seed=1))
    assert set(KINDS) == {"dead_leaves", "fluorescence"}


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: dead_leaves((4, 256)), "at least 8 pixels"),
        (lambda: dead_leaves((0, 256)), "at least 8 pixels"),
        (lambda: dead_leaves((-8, 256)), "at least 8 pixels"),
        (lambda: dead_leaves((32.5, 32)), "integer"),
        (lambda: dead_leaves((16, 16, 16)), r"2 sides \(Y, X\)"),
        (lambda: dead_leaves((16,)), "2 sides"),
        (lambda: dead_leaves(256), "tuple"),
        (lambda: dead_leaves(alpha=1.0), "alpha must be > 1"),
        (lambda: dead_leaves(alpha=float("nan")), "alpha must be > 1"),
        (lambda: dead_leaves(min_radius=0), "min_radius must be > 0"),
        (lambda: dead_leaves(min_radius=5, max_radius=2), "max_radius"),
        (lambda: dead_leaves(texture=1.5), r"texture must be in \[0, 1\]"),
        (lambda: dead_leaves(n_shapes=0), "n_shapes must be a positive integer"),
        (lambda: fluorescence((8, 8, 8, 8)), r"2 sides \(Y, X\) or 3 sides \(Z, Y, X\)"),
        (lambda: fluorescence((7, 64)), "at least 8 pixels"),
        (lambda: fluorescence(blobs=-1), "blobs must be a count >= 0"),
        (lambda: fluorescence(filaments=2.5), "filaments must be a count"),
        (lambda: fluorescence(background=1.0), r"background must be in \[0, 1\)"),
        (lambda: random_scene((64, 64), "clouds"), "'dead_leaves', 'fluorescence'"),
        (lambda: random_scene((64, 64), "fluorescence", color=True), "single-channel"),
    ],
)
def test_bad_input_raises(call, match):
    with pytest.raises(ValueError, match=match):
        call()
