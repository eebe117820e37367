"""The engine's contract: shapes, dtypes, axes, intensities, progress, cancel, devices, bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from skimage.metrics import peak_signal_noise_ratio as psnr

import napari_deblur as nd
from napari_deblur import hardware
from napari_deblur.restore import engine, tile_plan


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int16, np.float32, np.float64])
def test_shape_and_dtype_preserved_and_input_untouched(dtype, blurred, motion_kernel):
    scale = {np.uint8: 255, np.uint16: 4000, np.int16: 3000}.get(dtype, 1.0)
    image = (blurred * scale).astype(dtype)
    before = image.copy()
    out = nd.deblur(image, "wiener", psf=motion_kernel)
    assert out.shape == image.shape and out.dtype == image.dtype
    np.testing.assert_array_equal(image, before)
    as_float = nd.deblur(image, "wiener", psf=motion_kernel, output_dtype="float32")
    assert as_float.dtype == np.float32
    if np.issubdtype(dtype, np.integer):
        # Integer output is the float result clipped and rounded, in the data's own units.
        info = np.iinfo(dtype)
        np.testing.assert_array_equal(out, np.clip(np.rint(as_float), info.min, info.max).astype(dtype))


def test_uint16_keeps_its_range(blurred, motion_kernel, sharp):
    """12-bit data in uint16 must come back in the same units, not squashed to 8 bits."""
    image = (blurred * 4000 + 100).astype(np.uint16)
    out = nd.deblur(image, "richardson_lucy", psf=motion_kernel, iterations=20)
    assert 3000 < out.max() < 6000  # same units as the input: neither squashed to 8 bits nor stretched
    target = (sharp * 4000 + 100)
    assert psnr(target, out.astype(float), data_range=4000) > psnr(target, image.astype(float), data_range=4000)


def test_deblurring_raises_psnr(sharp, blurred, motion_kernel):
    base = psnr(sharp, blurred, data_range=1)
    for method, params in [("wiener", {}), ("richardson_lucy", {"iterations": 30})]:
        out = nd.deblur(blurred, method, psf=motion_kernel, **params)
        assert psnr(sharp, np.clip(out, 0, 1), data_range=1) > base + 2, method


def test_rgba_alpha_passes_through(blurred, motion_kernel):
    rgba = np.stack([blurred, blurred * 0.5, blurred * 0.8, np.linspace(0, 1, blurred.size).reshape(blurred.shape)],
                    axis=-1)
    rgba = (rgba * 255).astype(np.uint8)
    out = nd.deblur(rgba, "wiener", psf=motion_kernel, rgb=True)
    assert out.shape == rgba.shape
    np.testing.assert_array_equal(out[..., 3], rgba[..., 3])
    assert not np.array_equal(out[..., 0], rgba[..., 0])


def test_stack_axes_run_plane_by_plane(blurred, motion_kernel):
    stack = np.stack([blurred, np.flipud(blurred), blurred * 0.5])
    out = nd.deblur(stack, "wiener", psf=motion_kernel, axes="TYX")
    # One intensity range for the whole series, so each plane equals its own 2D result mapped the same way.
    single = nd.deblur(np.flipud(blurred), "wiener", psf=motion_kernel, output_dtype="float32")
    np.testing.assert_allclose(out[1], single, atol=2e-3)
    moved = nd.deblur(np.moveaxis(stack, 0, -1), "wiener", psf=motion_kernel, axes="YXT")
    np.testing.assert_allclose(np.moveaxis(moved, -1, 0), out, atol=1e-5)


def test_channels_are_normalized_separately(blurred, motion_kernel):
    """A dim channel next to a bright one is restored as well as on its own."""
    two = np.stack([(blurred * 60000).astype(np.uint16), (blurred * 300).astype(np.uint16)])
    out = nd.deblur(two, "wiener", psf=motion_kernel, axes="CYX", output_dtype="float32")
    alone = nd.deblur(two[1], "wiener", psf=motion_kernel, output_dtype="float32")
    np.testing.assert_allclose(out[1], alone, atol=1e-2)


def test_5d_tczyx(blurred, motion_kernel):
    small = blurred[:64, :64]
    image = np.broadcast_to(small, (2, 2, 3, 64, 64)).copy()
    out = nd.deblur(image, "wiener", psf=motion_kernel, axes="TCZYX")
    assert out.shape == image.shape


def test_ambiguous_axes_need_axes_argument(blurred, motion_kernel):
    stack = np.stack([blurred] * 3)
    with pytest.raises(ValueError, match="pass axes="):
        nd.deblur(stack, "wiener", psf=motion_kernel)
    rgb_like = np.stack([blurred] * 3, axis=-1)
    with pytest.raises(ValueError, match="rgb=True"):  # the caller said it is not colour: then it is ambiguous
        nd.deblur(rgb_like, "wiener", psf=motion_kernel, rgb=False)


def test_colour_photo_is_rgb_without_being_told(blurred, motion_kernel):
    """As in napari, a trailing axis of 3 or 4 is colour: a (Y, X, 3) uint8 photo needs no axes= or rgb=."""
    photo = (np.stack([blurred, blurred * 0.5, blurred * 0.25], axis=-1) * 255).astype(np.uint8)
    told = nd.deblur(photo, "wiener", psf=motion_kernel, rgb=True)
    np.testing.assert_array_equal(nd.deblur(photo, "wiener", psf=motion_kernel), told)
    blurry, _ = nd.synthesize_blur(photo, "gaussian", sigma_x=2.0, noise=0, seed=0)
    assert blurry.shape == photo.shape and blurry.dtype == np.uint8


@pytest.mark.parametrize("axes, match", [("YXZ", "has 3 letters"), ("QX", "not valid"), ("YY", "not valid"),
                                         ("ZX", "not valid")])
def test_bad_axes_string(blurred, motion_kernel, axes, match):
    with pytest.raises(ValueError, match=match):
        nd.deblur(blurred, "wiener", psf=motion_kernel, axes=axes)


def test_unknown_method_lists_valid_ones(blurred):
    with pytest.raises(ValueError, match="Unknown method 'nope'. Valid methods: .*richardson_lucy.*wiener"):
        nd.deblur(blurred, "nope")


def test_unknown_and_out_of_range_parameters(blurred, motion_kernel):
    with pytest.raises(TypeError, match="unknown parameter.*balanse.*balance"):
        nd.deblur(blurred, "wiener", psf=motion_kernel, balanse=0.1)
    with pytest.raises(ValueError, match="'iterations' must be >= 0"):
        nd.deblur(blurred, "richardson_lucy", psf=motion_kernel, iterations=-1)
    with pytest.raises(ValueError, match="must be one of gradient, laplacian, identity"):
        nd.deblur(blurred, "wiener", psf=motion_kernel, regularizer="tv")

def test_psf_errors(blurred, motion_kernel):
    with pytest.raises(ValueError, match="needs a PSF"):
        nd.deblur(blurred, "wiener")
    bad = motion_kernel.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="PSF contains NaN"):
        nd.deblur(blurred, "wiener", psf=bad)
    with pytest.raises(ValueError, match="negative values"):
        nd.deblur(blurred, "wiener", psf=motion_kernel - 0.05)
    with pytest.raises(ValueError, match="sums to zero"):
        nd.deblur(blurred, "wiener", psf=np.zeros((5, 5)))
    with pytest.raises(ValueError, match="larger than the image"):
        nd.deblur(blurred[:8, :8], "wiener", psf=motion_kernel)
    with pytest.raises(ValueError, match="3D PSF needs a Z axis"):
        nd.deblur(np.stack([blurred] * 3, -1), "wiener", psf=np.ones((3, 3, 3)), axes="YXC")
    with pytest.raises(ValueError, match="must be 2D .* or 3D"):
        nd.deblur(blurred, "wiener", psf=np.ones(5))


def test_image_errors(motion_kernel):
    bad = np.ones((32, 32), np.float32)
    bad[3, 3] = np.inf
    with pytest.raises(ValueError, match="NaN or Inf"):
        nd.deblur(bad, "wiener", psf=motion_kernel)
    with pytest.raises(ValueError, match="empty"):
        nd.deblur(np.zeros((0, 32)), "wiener", psf=motion_kernel)
    with pytest.raises(ValueError, match="Unsupported image dtype bool"):
        nd.deblur(np.zeros((32, 32), bool), "wiener", psf=motion_kernel)
    with pytest.raises(ValueError, match="Unsupported image dtype complex"):
        nd.deblur(np.zeros((32, 32), complex), "wiener", psf=motion_kernel)


def test_constant_image_stays_constant(motion_kernel):
    flat = np.full((40, 40), 1234, np.uint16)
    np.testing.assert_array_equal(nd.deblur(flat, "wiener", psf=motion_kernel), flat)


def test_progress_events_and_result(blurred, identity_method):
    steps = nd.deblur_steps(blurred, identity_method.name, tile_size=64, tile_overlap=16)
    events = []
    while True:
        try:
            events.append(next(steps))
        except StopIteration as stop:
            result = stop.value
            break
    tile_events = [e for e in events if e.total > 1]
    assert tile_events[-1].done == tile_events[-1].total
    assert [e.done for e in tile_events] == sorted(e.done for e in tile_events)
    assert result.shape == blurred.shape


def test_closing_the_generator_cancels(blurred, identity_method, monkeypatch):
    calls = []
    original = engine.run_tiled

    def counting(*args, **kwargs):
        gen = original(*args, **kwargs)
        for done in gen:
            calls.append(done)
            yield done

    monkeypatch.setattr(tile_plan, "BATCH_PIXELS", 64 * 64)  # one tile per batch
    monkeypatch.setattr(engine, "run_tiled", counting)
    steps = nd.deblur_steps(blurred, identity_method.name, tile_size=64, tile_overlap=16)
    assert next(steps).total == 1  # preparing
    counted = next(steps)  # the tiles counted, none run yet
    assert counted.done == 0 and counted.total > 1 and calls == [(0, counted.total, "tile")]
    next(steps)  # first batch
    steps.close()
    assert len(calls) == 2


def test_device_resolution():
    assert hardware.resolve_device("auto").type in {"cpu", "cuda", "mps"}
    assert hardware.resolve_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        assert hardware.resolve_device("auto").type != "cuda"
        with pytest.raises(ValueError, match="CUDA is not available"):
            hardware.resolve_device("cuda")


def test_out_of_memory_halves_tiles_then_falls_back_to_cpu(blurred, monkeypatch):
    """On an accelerator, OOM retries with smaller tiles and finally on the CPU, with warnings."""
    from napari_deblur.restore.methods import MethodSpec, register, unregister

    class GreedyOnAccelerator:
        spatial_ndim, receptive_field = 2, 1

        def __call__(self, batch):
            if batch.device.type != "cpu":
                raise torch.OutOfMemoryError("fake OOM")
            return batch * 2

    register(MethodSpec("test_oom", "network", "OOM test", build=lambda **_: GreedyOnAccelerator(),
                        default_tile_size=256))
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = nd.deblur(blurred, "test_oom", device=torch.device("meta"), output_dtype="float32")
        messages = [str(w.message) for w in caught]
        assert any("retrying with tile_size=96" in m for m in messages)
        assert any("falling back to the CPU" in m for m in messages)
        # A [0, 1] float image keeps its scale (the intensity policy), so the doubling comes back unchanged.
        np.testing.assert_allclose(out, 2 * blurred, atol=1e-4)
    finally:
        unregister("test_oom")


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(h=st.integers(20, 90), w=st.integers(20, 90), tile=st.integers(16, 64), overlap=st.integers(0, 12))
def test_tiled_linear_method_equals_whole_image(identity_method, h, w, tile, overlap):
    """Feathered tiles of a finite-support linear method reproduce the whole-image result (1e-4)."""
    rng = np.random.default_rng(h * 100 + w)
    image = rng.random((h, w), dtype=np.float32)
    whole = nd.deblur(image, identity_method.name, tile_size=max(h, w), output_dtype="float32")
    tiled = nd.deblur(image, identity_method.name, tile_size=tile, tile_overlap=max(overlap, 4) + 4,
                      output_dtype="float32")
    np.testing.assert_allclose(tiled, whole, atol=1e-4)


def test_psf_of_other_dimensionality_and_tiny_tiles(blurred, motion_kernel):
    with pytest.raises(ValueError, match="3D PSF needs a Z axis"):
        nd.deblur(blurred, "richardson_lucy", psf=np.ones((3, 5, 5)))
    with pytest.raises(ValueError, match="tile_size must be at least 8"):
        nd.deblur(blurred, "wiener", psf=motion_kernel, tile_size=4)


class _Hungry:
    """A stand-in network restorer that says how much memory a forward pass needs per pixel."""

    receptive_field = 16
    bytes_per_pixel = 1000


def test_tiles_shrink_to_the_free_memory_and_gpus_batch_what_fits(monkeypatch):
    budget = {"bytes": 10**12}
    monkeypatch.setattr(tile_plan, "memory_budget", lambda device: budget["bytes"])
    cpu, gpu = torch.device("cpu"), torch.device("cuda")
    shape = (4096, 4096)
    assert tile_plan.plan_batches(_Hungry(), cpu, shape, 1024, False, None) == (1024, 1)
    assert tile_plan.plan_batches(_Hungry(), gpu, shape, 1024, False, None) == (1024, 16)  # plenty of memory
    budget["bytes"] = 3 * 1000 * (1024 + 32) ** 2
    assert tile_plan.plan_batches(_Hungry(), gpu, shape, 1024, False, None) == (1024, 3)
    budget["bytes"] = 1000 * 600**2  # not even one 1024 window: halve until one fits
    assert tile_plan.plan_batches(_Hungry(), cpu, shape, 1024, False, None) == (512, 4)
    assert tile_plan.plan_batches(_Hungry(), cpu, shape, 1024, True, None)[0] == 1024  # the user's tile stays
    assert tile_plan.plan_batches(_Hungry(), gpu, shape, 1024, False, 5) == (512, 5)  # and the user's batch
    assert tile_plan.plan_batches(object(), gpu, shape, None, False, None) == (None, 1)  # classical: whole image


def test_tile_batch_is_validated(blurred, motion_kernel):
    with pytest.raises(ValueError, match="tile_batch must be at least 1"):
        nd.deblur(blurred, "wiener", psf=motion_kernel, tile_batch=0)
    assert nd.deblur(blurred, "wiener", psf=motion_kernel, tile_size=32, tile_batch=3).shape == blurred.shape


@pytest.mark.parametrize("dtype", [np.uint32, np.int32, np.int64, np.uint64])
def test_wide_integers_keep_their_extremes(dtype):
    """The brightest pixels of a 32/64-bit image stay brightest (float32 used to round them past the type's
    maximum, and the cast wrapped them to 0 or to the minimum)."""
    info = np.iinfo(dtype)
    image = np.full((32, 32), info.max, dtype)
    image[12:20, 12:20] = info.min
    for out in (nd.deblur(image, "wiener", psf=np.ones((3, 3)) / 9),
                nd.synthesize_blur(image, "gaussian", seed=0, noise=0)[0]):
        assert out.dtype == dtype
        assert out[0, 0] > info.max // 2 + info.min // 2 and out[16, 16] < out[0, 0]  # bright corner, dark centre


def test_bad_numbers_are_refused_before_any_work(blurred, motion_kernel):
    with pytest.raises(ValueError, match="balance.*finite"):
        nd.deblur(blurred, "wiener", psf=motion_kernel, balance=float("nan"))
    with pytest.raises(ValueError, match="psf_scale.*finite"):
        nd.deblur(blurred, "wiener", psf=motion_kernel, psf_scale=float("nan"))
    with pytest.raises(ValueError, match="tile_overlap must be >= 0"):
        nd.deblur(blurred, "wiener", psf=motion_kernel, tile_size=64, tile_overlap=-3)
    with pytest.raises(ValueError, match="intensity_range must be finite"):
        nd.deblur(blurred, "wiener", psf=motion_kernel, intensity_range=(0, float("inf")))


def test_network_tiles_too_small_for_their_overlap_are_refused():
    """16-pixel tiles with a 16-pixel overlap used to plan one-pixel strides (and leave NaN pixels)."""
    image = np.random.default_rng(0).random((64, 64)).astype(np.float32)
    with pytest.raises(ValueError, match="tile_size=16 is too small for nafnet.*at least 48"):
        nd.deblur(image, "nafnet", weights="random", tile_size=16)
    out = nd.deblur(image, "nafnet", weights="random", tile_size=48, precision="float32")
    assert np.isfinite(out).all()


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "int32", "uint32", "int64", "float32", "float64"])
def test_a_constant_image_comes_back_unchanged_from_every_method(dtype):
    """Flat fields at the type's extremes and in between: no zero-range intensity map, no float32 round trip."""
    info = np.iinfo(dtype) if np.dtype(dtype).kind in "iu" else np.finfo(dtype)
    values = [info.max, info.min, 123456789 if np.dtype(dtype).itemsize >= 4 else 7]
    psf = np.ones((3, 3)) / 9
    for value in values:
        image = np.full((40, 48), value, dtype=dtype)
        for method in ("wiener", "richardson_lucy", "hyper_laplacian", "pnp", "nafnet"):
            kwargs = {"psf": psf} if nd.get_method(method).needs_psf else {}
            out = nd.deblur(image, method, **kwargs)
            assert out.dtype == image.dtype and np.array_equal(out, image), (dtype, value, method)
        assert nd.deblur(image, "wiener", psf=psf, output_dtype="float32").dtype == np.float32


def test_method_listeners_hear_changes_and_gone_ones_are_let_go(identity_method):
    import gc
    import weakref

    from napari_deblur.restore import methods

    heard = []

    class Dock:
        def refresh(self) -> None:
            heard.append("dock")

    def closed() -> None:
        raise RuntimeError("wrapped C/C++ object has been deleted")

    dock = Dock()
    methods.on_methods_changed(dock.refresh)
    methods.on_methods_changed(closed)
    methods.methods_changed()
    assert heard == ["dock"] and closed not in methods._LISTENERS  # the closed one is dropped
    held = [e for e in methods._LISTENERS if isinstance(e, weakref.WeakMethod) and e() is not None
            and e().__self__ is dock]
    assert len(held) == 1
    del dock
    gc.collect()
    methods.methods_changed()  # a listener held weakly is gone with its owner
    assert heard == ["dock"] and held[0] not in methods._LISTENERS
