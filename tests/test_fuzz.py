"""Bad input never gives wrong output: random shapes, dtypes, extreme values, NaN/Inf, parameters inside and
outside their ranges and random axes strings, at ``deblur``, ``synthesize_blur`` and the CLI.

Each call either raises ``ValueError``/``TypeError`` with a message, or returns an array of the input's shape
and dtype with no NaN and, for integers, values inside the dtype's range. CI runs a short profile; a long one:
``HYPOTHESIS_PROFILE=long pytest tests/test_fuzz.py``.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import napari_deblur as nd

settings.register_profile("ci", max_examples=80, deadline=None, database=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("long", max_examples=2000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

DTYPES = ["uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64", "float16", "float32",
          "float64", "bool"]


@st.composite
def images(draw) -> np.ndarray:
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    # Mostly images a method can run on (so the output checks run often), sometimes any shape at all.
    plausible = st.tuples(st.integers(8, 40), st.integers(8, 40))
    colour = st.tuples(st.integers(8, 24), st.integers(8, 24), st.sampled_from([3, 4]))
    shape = draw(st.one_of(plausible, colour, st.lists(st.integers(1, 20), min_size=1, max_size=4).map(tuple)))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    fill = draw(st.sampled_from(["random", "constant", "extremes", "nan", "inf"]))
    if dtype.kind == "b":
        return rng.random(shape) > 0.5
    if dtype.kind in "ui":
        info = np.iinfo(dtype)
        if fill == "constant":
            return np.full(shape, draw(st.sampled_from([info.min, info.max, 0])), dtype)
        if fill == "extremes":
            return rng.choice(np.array([info.min, info.max], dtype), size=shape)
        return rng.integers(info.min, info.max, size=shape, dtype=dtype, endpoint=True)
    values = rng.random(shape) * draw(st.sampled_from([1.0, 1000.0, 1e30]))
    if fill == "nan":
        values.flat[0] = np.nan
    elif fill == "inf":
        values.flat[0] = np.inf
    elif fill == "constant":
        values[...] = draw(st.sampled_from([0.0, 1.0, -5.0]))
    return values.astype(dtype)


axes_strings = st.one_of(st.none(), st.none(), st.text(alphabet="TCZYXQ", min_size=1, max_size=5))
anything = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**6, 10**6))


def numbers(low: float, high: float) -> st.SearchStrategy:
    """Usually a value in the declared range [low, high], sometimes any number at all (NaN and Inf included)."""
    return st.one_of(st.floats(low, high), st.floats(low, high), anything)


def _check_result(image: np.ndarray, out: np.ndarray) -> None:
    assert out.shape == image.shape and out.dtype == image.dtype
    if out.dtype.kind == "f":
        assert not np.isnan(out).any()
    if out.dtype.kind in "ui":
        info = np.iinfo(out.dtype)
        assert info.min <= out.min() and out.max() <= info.max


def _refused_or_sound(call, image: np.ndarray) -> None:
    try:
        out = call()
    except (ValueError, TypeError) as err:
        assert str(err).strip(), "an error must say what is wrong"
        event("refused")
        return
    event("ran")
    _check_result(image, out)


@given(image=images(), axes=axes_strings, rgb=st.sampled_from([None, None, True, False]),
       balance=numbers(1e-4, 1.0))
def test_deblur_refuses_or_returns_sound_output(image, axes, rgb, balance):
    psf = np.ones((3, 3)) / 9
    _refused_or_sound(lambda: nd.deblur(image, "wiener", psf=psf, axes=axes, rgb=rgb, balance=balance), image)


@given(image=images(), iterations=st.integers(-1, 4), tv=numbers(0.0, 0.1))
def test_richardson_lucy_refuses_or_returns_sound_output(image, iterations, tv):
    psf = np.ones((3, 3)) / 9
    _refused_or_sound(lambda: nd.deblur(image, "richardson_lucy", psf=psf, iterations=iterations, tv_weight=tv),
                      image)


@given(image=images(), sigma=numbers(0.1, 5.0), noise=numbers(0.0, 0.1), seed=st.integers(0, 2**31 - 1))
def test_synthesize_blur_refuses_or_returns_sound_output(image, sigma, noise, seed):
    _refused_or_sound(lambda: nd.synthesize_blur(image, "gaussian", sigma_x=sigma, noise=noise, seed=seed)[0],
                      image)


@given(balance=st.sampled_from(["nan", "inf", "-1", "1e400", "abc", "0.01"]),
       tile=st.sampled_from(["-1", "0", "7", "64", "x"]))
def test_cli_never_raises(tmp_path_factory, balance, tile):
    import tifffile

    from napari_deblur.cli import main

    folder = tmp_path_factory.mktemp("cli")
    tifffile.imwrite(folder / "in.tif", np.random.default_rng(0).random((40, 40)).astype(np.float32))
    tifffile.imwrite(folder / "psf.tif", np.ones((3, 3), np.float32))
    argv = ["deblur", str(folder / "in.tif"), str(folder / "out.tif"), "--method", "wiener", "--psf",
            str(folder / "psf.tif"), "--balance", balance, "--tile-size", tile]
    try:
        code = main(argv)
    except SystemExit as stop:  # argparse's own refusal of a malformed number
        code = stop.code
    assert code in (0, 2)
    if code == 0:
        out = __import__("tifffile").imread(folder / "out.tif")
        assert out.shape == (40, 40) and not np.isnan(out).any()


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_nan_or_inf_pixels_are_refused_with_a_message(value):
    image = np.random.default_rng(0).random((16, 16)).astype(np.float32)
    image[3, 4] = value
    with pytest.raises(ValueError, match="NaN or Inf"):
        nd.deblur(image, "wiener", psf=np.ones((3, 3)) / 9)
    with pytest.raises(ValueError, match="NaN or Inf"):
        nd.synthesize_blur(image, "gaussian")
