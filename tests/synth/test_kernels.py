"""Blur kernels and the blur-kind registry: normalization, centring, symmetry, shapes, and clear errors."""

from __future__ import annotations

import importlib
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import tifffile
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage

from napari_deblur.synth import kernels
from napari_deblur.synth.given_kernel import as_kernel
from napari_deblur.synth.kinds import get_kind, list_kinds, make_kernel

LEVIN = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "levin09"
PSF_KINDS = {"widefield", "confocal"}


def assert_valid(k: np.ndarray, ndim: int = 2) -> None:
    """The kernel contract: float32, non-negative, sum 1, odd sides (square in 2D), centred by mass."""
    assert k.dtype == np.float32
    assert k.ndim == ndim
    assert all(s % 2 == 1 for s in k.shape)
    if ndim == 2:
        assert k.shape[0] == k.shape[1]
    assert k.min() >= 0
    assert k.sum() == pytest.approx(1.0, abs=1e-5)
    com = np.array(ndimage.center_of_mass(k.astype(np.float64)))
    assert np.abs(com - np.array(k.shape) // 2).max() <= 0.5


def support_extent(k: np.ndarray) -> tuple[int, int]:
    """(longer, shorter) side of the bounding box of pixels above 1% of the peak."""
    rows, cols = np.nonzero(k > 0.01 * k.max())
    h, w = np.ptp(rows) + 1, np.ptp(cols) + 1
    return max(h, w), min(h, w)


def moments(k: np.ndarray) -> tuple[float, float, float]:
    """Second central moments (var_x, var_y, cov_xy) in pixels², with y pointing up as displayed."""
    r = np.arange(k.shape[0]) - k.shape[0] // 2
    x, y = r[None, :], -r[:, None]
    k = k.astype(np.float64)
    mx, my = (k * x).sum(), (k * y).sum()
    return (k * (x - mx) ** 2).sum(), (k * (y - my) ** 2).sum(), (k * (x - mx) * (y - my)).sum()


# --- camera shake -------------------------------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), half=st.integers(2, 20))
def test_camera_shake_contract(seed, half):
    size = 2 * half + 1
    k = kernels.camera_shake(size, seed=seed)
    assert k.shape == (size, size)
    assert_valid(k)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), anxiety=st.floats(0, 0.1), jerk=st.floats(0, 1), exposure=st.floats(0.05, 1))
def test_camera_shake_contract_any_parameters(seed, anxiety, jerk, exposure):
    k = kernels.camera_shake(15, anxiety=anxiety, jerk_probability=jerk, exposure=exposure, seed=seed)
    assert_valid(k)


def test_camera_shake_seed_is_reproducible_and_matters():
    a, b = kernels.camera_shake(21, seed=7), kernels.camera_shake(21, seed=7)
    np.testing.assert_array_equal(a, b)
    others = [kernels.camera_shake(21, seed=s) for s in range(8, 12)]
    assert all(not np.allclose(a, o) for o in others)


def test_camera_shake_length_sets_extent():
    short, long = (support_extent(kernels.camera_shake(31, length=n, seed=1))[0] for n in (6, 20))
    assert short <= 9 < 17 <= long <= 23


def test_camera_shake_extent_like_levin():
    if not LEVIN.is_dir():
        pytest.skip(f"Levin et al. 2009 kernels not found at {LEVIN}")
    files = sorted(LEVIN.glob("k*.npy"))
    if not files:
        pytest.skip("no k*.npy kernels in the Levin folder")
    levin = [np.load(f) for f in files]
    ratios = [support_extent(k)[0] / k.shape[0] for k in levin]
    lo, hi = min(ratios), max(ratios)
    ours = []
    for size in range(13, 28, 2):
        for seed in range(6):
            k = kernels.camera_shake(size, seed=seed)
            longer, shorter = support_extent(k)
            ours.append(longer / size)
            assert shorter >= 2, "a trajectory should curve, not be a 1-px line"
    ours = np.array(ours)
    # Every kernel lies within the measured range (with a little slack) and the typical one matches.
    assert ours.min() >= lo - 0.1 and ours.max() <= hi + 0.1
    assert abs(np.median(ours) - np.median(ratios)) < 0.08


def test_camera_shake_is_thin():
    # A trajectory, not a blob: Levin's 13-27 px kernels cover 40-85 pixels above 1% of their peak.
    counts = [(kernels.camera_shake(s, seed=s) > 0.01 * kernels.camera_shake(s, seed=s).max()).sum()
              for s in (13, 19, 27)]
    assert all(c < 0.35 * s * s for c, s in zip(counts, (13, 19, 27)))


# --- linear motion, defocus, gaussian -----------------------------------------------------------------------


@pytest.mark.parametrize("length", [1.0, 1.5, 2.0, 7.3, 15.0])
def test_linear_motion_horizontal(length):
    k = kernels.linear_motion(length)
    assert_valid(k)
    c = k.shape[0] // 2
    assert k[c].sum() == pytest.approx(1.0, abs=1e-6)  # all mass on the centre row
    var_x = moments(k)[0]
    # A uniform segment has variance L²/12; bilinear splatting adds at most 1/4 px².
    assert length**2 / 12 <= var_x + 1e-6 <= length**2 / 12 + 0.25
    np.testing.assert_allclose(k, k[::-1, ::-1], atol=1e-7)


def test_linear_motion_subpixel_lengths_differ():
    a, b = kernels.linear_motion(1.5, size=5), kernels.linear_motion(2.0, size=5)
    assert np.abs(a - b).max() > 0.02


def test_linear_motion_angles():
    vertical = kernels.linear_motion(9, 90)
    np.testing.assert_allclose(vertical, kernels.linear_motion(9, 0).T, atol=1e-7)
    diag = kernels.linear_motion(10, 45)
    assert_valid(diag)
    var_x, var_y, cov = moments(diag)
    assert var_x == pytest.approx(var_y, rel=1e-3) and cov > 0  # 45° counter-clockwise: up and to the right


@pytest.mark.parametrize("radius", [0.3, 1.0, 2.5, 5.0, 7.7])
def test_defocus_symmetric_disk(radius):
    k = kernels.defocus(radius)
    assert_valid(k)
    for flipped in (k[::-1], k[:, ::-1], k.T):
        np.testing.assert_array_equal(k, flipped)
    if radius >= 2:
        # A uniform disk has variance r²/4 per axis; the edge's anti-aliasing keeps that within a few %.
        assert moments(k)[0] == pytest.approx(radius**2 / 4, rel=0.06)


def test_defocus_edge_is_antialiased():
    k = kernels.defocus(4.3)
    levels = np.unique(np.round(k / k.max(), 6))
    assert ((levels > 0) & (levels < 1)).sum() >= 3  # partial pixels along the rim, not a hard 0/1 disk


@pytest.mark.parametrize(("sx", "sy"), [(2.0, 2.0), (3.0, 1.5), (1.0, 4.0)])
def test_gaussian_second_moments(sx, sy):
    k = kernels.gaussian(sx, sy)
    assert_valid(k)
    var_x, var_y, cov = moments(k)
    assert var_x == pytest.approx(sx**2, rel=0.05)
    assert var_y == pytest.approx(sy**2, rel=0.05)
    assert abs(cov) < 1e-6
    for flipped in (k[::-1], k[:, ::-1]):
        np.testing.assert_allclose(k, flipped, atol=1e-8)


def test_gaussian_rotation():
    np.testing.assert_allclose(kernels.gaussian(3.0, 1.0, angle=90), kernels.gaussian(1.0, 3.0), atol=1e-7)
    var_x, var_y, cov = moments(kernels.gaussian(3.0, 1.0, angle=30))
    theta = np.radians(30)
    assert cov == pytest.approx((9 - 1) * np.sin(theta) * np.cos(theta), rel=0.05)
    assert var_x + var_y == pytest.approx(10, rel=0.05)


def test_gaussian_single_argument_and_3d():
    assert_valid(kernels.gaussian(1.5))
    k3 = kernels.gaussian(1.0, sigma_z=2.0)
    assert_valid(k3, ndim=3)
    assert k3.shape[0] > k3.shape[1]


# --- user kernels -------------------------------------------------------------------------------------------


def test_delta_kernel_is_identity(sharp):
    delta = as_kernel(np.ones((1, 1)))
    assert delta.shape == (1, 1)
    np.testing.assert_allclose(ndimage.convolve(sharp, delta, mode="reflect"), sharp, atol=1e-6)


def test_as_kernel_centres_and_normalizes():
    raw = np.zeros((6, 8))
    raw[1, 2], raw[1, 3] = 2.0, 2.0  # off centre, even-sized, unnormalized
    k = as_kernel(raw)
    assert_valid(k)


def test_as_kernel_from_tif_and_layer(tmp_path, motion_kernel):
    path = tmp_path / "kernel.tif"
    tifffile.imwrite(path, (motion_kernel * 1000).astype(np.uint16))
    from_file = as_kernel(path)
    from_str = as_kernel(str(path))
    assert_valid(from_file)
    np.testing.assert_allclose(from_file, from_str)
    np.testing.assert_allclose(from_file, motion_kernel, atol=1e-3)
    layer = SimpleNamespace(data=motion_kernel[None] * 5)  # a napari layer with a singleton leading axis
    np.testing.assert_allclose(as_kernel(layer), motion_kernel, atol=1e-6)


def test_as_kernel_3d_padded_to_odd():
    k = as_kernel(np.ones((4, 5, 6)))
    assert k.shape == (5, 5, 7)
    assert k.sum() == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize(("data", "match"), [
    (np.array([[1.0, -0.5], [1.0, 1.0]]), "negative.*clip"),
    (np.zeros((3, 3)), "sums to 0"),
    (np.array([[1.0, np.nan]]), "NaN.*nan_to_num"),
    (np.ones((2, 3, 4, 5)), "2D.*3D"),
])
def test_as_kernel_rejects_bad_data(data, match):
    with pytest.raises(ValueError, match=match):
        as_kernel(data)


@pytest.mark.parametrize(("call", "match"), [
    (lambda: kernels.linear_motion(-3), "length must be a positive"),
    (lambda: kernels.linear_motion(0), "length must be a positive"),
    (lambda: kernels.defocus(-1), "radius must be a positive"),
    (lambda: kernels.gaussian(0), "sigma_x must be a positive"),
    (lambda: kernels.camera_shake(24), "odd.*size=25"),
    (lambda: kernels.camera_shake(1), ">= 3"),
    (lambda: kernels.linear_motion(15, size=9), "too small.*size >= 17"),
    (lambda: kernels.defocus(5, size=7), "too small.*size >= 13"),
    (lambda: kernels.gaussian(3, size=5), "too small.*size >= 13"),
    (lambda: kernels.camera_shake(15, length=20), "too small.*size >= 23"),
])
def test_bad_arguments_say_what_to_do(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# --- blur-kind registry -------------------------------------------------------------------------------------


def test_registry_lists_every_kind():
    names = [k.name for k in list_kinds()]
    assert names == ["camera_shake", "linear_motion", "defocus", "gaussian", "widefield", "confocal", "none",
                     "custom", "random_mix", "random_mix_microscopy"]
    for kind in list_kinds():
        assert kind.description.endswith(".")
        for p in kind.params:
            assert p.help and p.validate(p.default) == p.default
    assert [k.name for k in list_kinds() if k.random] == ["camera_shake", "random_mix", "random_mix_microscopy"]


@pytest.mark.parametrize("name", ["camera_shake", "linear_motion", "defocus", "gaussian"])
def test_make_kernel_defaults(name):
    assert_valid(make_kernel(name, seed=0))


def test_make_kernel_parameters_reach_the_kernel():
    np.testing.assert_array_equal(make_kernel("linear_motion", length=5, angle=90), kernels.linear_motion(5, 90))
    assert make_kernel("camera_shake", size=14, seed=1).shape == (15, 15)  # even size rounded up
    np.testing.assert_array_equal(make_kernel("camera_shake", seed=3), make_kernel("camera_shake", seed=3))
    np.testing.assert_array_equal(make_kernel("gaussian", sigma_x=2, sigma_y=0), kernels.gaussian(2.0))
    k3 = make_kernel("gaussian", ndim=3, sigma_x=1.0, sigma_z=1.5)
    assert_valid(k3, ndim=3)


def test_make_kernel_custom(motion_kernel):
    np.testing.assert_allclose(make_kernel("custom", kernel=motion_kernel), motion_kernel, atol=1e-6)
    assert make_kernel("custom", kernel=motion_kernel, ndim=3).shape == (1, 11, 11)
    with pytest.raises(ValueError, match="needs kernel="):
        make_kernel("custom")
    with pytest.raises(ValueError, match="ndim=3"):
        make_kernel("custom", kernel=np.ones((3, 3, 3)))


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"kind": "shaky"}, ValueError, "Unknown blur kind 'shaky'.*camera_shake.*custom"),
    ({"kind": "defocus", "radius": 3, "sigma": 2}, TypeError, "unknown parameter.*sigma.*parameters are: radius"),
    ({"kind": "defocus", "radius": 500}, ValueError, "'radius' must be <= 50"),
    ({"kind": "linear_motion", "length": -4}, ValueError, "'length' must be >= 0.1"),
    ({"kind": "camera_shake", "size": 2}, ValueError, "'size' must be >= 5"),
    ({"kind": "widefield", "model": "magic"}, ValueError, "one of scalar, vectorial, gaussian"),
    ({"kind": "defocus", "ndim": 3}, ValueError, "only makes 2D kernels.*gaussian"),
    ({"kind": "gaussian", "ndim": 4}, ValueError, "ndim must be 2"),
    ({"kind": "defocus", "kernel": np.ones((3, 3))}, ValueError, "only used by the 'custom'"),
])
def test_make_kernel_errors(kwargs, error, match):
    kwargs = dict(kwargs)
    with pytest.raises(error, match=match):
        make_kernel(kwargs.pop("kind"), **kwargs)


def test_get_kind():
    assert get_kind("defocus").param("radius").default == 5.0
    assert {k.name for k in list_kinds() if k.supports_3d} == {"gaussian", "none", "custom"} | PSF_KINDS


@pytest.mark.parametrize("name", sorted(PSF_KINDS))
def test_microscope_kinds(name):
    try:
        importlib.import_module("napari_deblur.synth.psf")
    except ImportError:
        pytest.skip("napari_deblur.synth.psf is not available yet")
    small = {"nxy": 15, "nz": 9, "pixel_size": 0.1, "z_step": 0.3}
    k2 = make_kernel(name, ndim=2, **small)
    assert k2.ndim == 2 and k2.dtype == np.float32 and k2.min() >= 0
    assert k2.sum() == pytest.approx(1.0, abs=1e-5)
    k3 = make_kernel(name, ndim=3, **small)
    assert k3.ndim == 3 and all(s % 2 for s in k3.shape)
    assert k3.sum() == pytest.approx(1.0, abs=1e-5)
    with pytest.raises(ValueError):
        make_kernel(name, na=1.6, ni=1.33)  # NA above the immersion index
