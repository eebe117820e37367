"""The training blur mixtures: reproducible draws, the documented frequencies and ranges, usable by name."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

import napari_deblur as nd
from napari_deblur.synth.kinds import get_kind, make_kernel
from napari_deblur.synth.mixture import GENERAL, MICROSCOPY, NO_BLUR, Range, random_depth

N_DRAWS = 600


def _draws(mixture, n=N_DRAWS, seed=0):
    rng = np.random.default_rng(seed)
    return [mixture.draw(rng) for _ in range(n)]


def _kind_of(mixture, degradation):
    # The no-blur entry is drawn as a (near-)delta Gaussian; tell it apart by its sigma.
    if degradation.kind == "gaussian" and degradation.params == {"sigma_x": 0.1}:
        return NO_BLUR
    return degradation.kind


@pytest.mark.parametrize("mixture", [GENERAL, MICROSCOPY], ids=lambda m: m.name)
def test_frequencies_and_ranges_follow_the_data(mixture):
    draws = _draws(mixture)
    counts = Counter(_kind_of(mixture, d) for d, _ in draws)
    total = sum(mixture.kinds.values())
    for kind, weight in mixture.kinds.items():
        assert abs(counts[kind] / N_DRAWS - weight / total) < 0.06, (kind, counts)
    for degradation, _ in draws:
        kind = _kind_of(mixture, degradation)
        for name, spec in mixture.params.get(kind, {}).items():
            if isinstance(spec, Range) and name != "pixel_size":
                assert spec.low <= degradation.params[name] <= spec.high
        assert mixture.noise.low <= degradation.noise <= mixture.noise.high
        if degradation.jpeg_quality is not None:
            assert 1 <= degradation.jpeg_quality <= 100
    photons = [d.photons for d, _ in draws if d.photons is not None]
    assert abs(len(photons) / N_DRAWS - mixture.poisson) < 0.06
    assert all(mixture.photons.low <= p <= mixture.photons.high for p in photons)
    assert abs(sum(v for _, v in draws) / N_DRAWS - mixture.depth * (1 - mixture.kinds.get(NO_BLUR, 0) / total)) < 0.05


def test_mild_blur_is_more_common_than_strong():
    sizes = [d.params["size"] for d, _ in _draws(GENERAL, 2000) if d.kind == "camera_shake"]
    assert min(sizes) >= 5 and max(sizes) <= 41
    assert np.median(sizes) < 20  # skewed towards the mild end of 5..41


def test_draws_are_reproducible_and_every_draw_makes_a_kernel():
    a, b = _draws(GENERAL, 50, seed=3), _draws(GENERAL, 50, seed=3)
    assert a == b
    for name in ("random_mix", "random_mix_microscopy"):
        for seed in range(25):  # microscope pixel sizes are capped below the PSF width, so every draw works
            k = make_kernel(name, seed=seed)
            assert k.ndim == 2 and np.isclose(k.sum(), 1, atol=1e-4) and (k >= 0).all()
        np.testing.assert_array_equal(make_kernel(name, seed=7), make_kernel(name, seed=7))
    assert get_kind("random_mix").random and get_kind("random_mix").params == ()


def test_synthesize_blur_takes_the_mixture_by_name(sharp):
    image = (sharp * 255).astype(np.uint8)
    out, kernel = nd.synthesize_blur(image, "random_mix", seed=11, noise=0.0)
    again, _ = nd.synthesize_blur(image, "random_mix", seed=11, noise=0.0)
    assert out.shape == image.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(out, again)
    np.testing.assert_array_equal(kernel, make_kernel("random_mix", seed=11))


def test_random_depth_is_a_smooth_map_in_the_unit_range():
    depth = random_depth((64, 80), np.random.default_rng(0))
    assert depth.shape == (64, 80) and depth.dtype == np.float32
    assert depth.min() == 0 and np.isclose(depth.max(), 1)
    assert np.abs(np.diff(depth, axis=1)).max() < 0.2  # smooth: no jumps between neighbours
