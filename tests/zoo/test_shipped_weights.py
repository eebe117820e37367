"""The models shipped in weights/: each loads strictly, carries a complete card, and still deblurs.

A quick quality check per model (seconds on a CPU) so a broken or mistrained file cannot land; the full
benchmark is benchmarks/zoo_quality.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
from scipy import ndimage, signal

import napari_deblur as nd
from napari_deblur.synth.psf import widefield_psf
from napari_deblur.synth.scenes import random_scene
from napari_deblur.zoo.weights import load_model, read_card
from tests.conftest import shared_data

WEIGHTS = Path(__file__).resolve().parents[2] / "weights"
SHIPPED = ("nafnet-small", "nafnet-small-microscopy", "deblurgan-small", "srn-small", "swin_unet-small",
           "msdf_unet-small", "drunet-small")  # issues 11, 12, 27 (the denoiser's gains: tests/zoo/test_denoising.py)
#: Each family runs its shipped <family>-small by default.
GENERAL = ("nafnet", "deblurgan", "srn", "swin_unet", "msdf_unet")
MICROSCOPY = "nafnet-small-microscopy"


def _psnr(sharp: np.ndarray, x: np.ndarray) -> float:
    return float(-10 * np.log10(np.mean((np.clip(x, 0, 1) - sharp) ** 2)))


def test_every_recipe_is_shipped_and_every_file_has_a_recipe():
    recipes = {p.stem for p in (WEIGHTS / "recipes").glob("*.json")}
    files = {p.stem for p in WEIGHTS.glob("*.safetensors")}
    # A recipe whose training spans several sittings has its resume state committed instead of a file so far.
    training = {p.stem for p in (WEIGHTS / "recipes" / "state").glob("*.ckpt")} - files
    assert set(SHIPPED) <= files
    assert files <= recipes, "every shipped file needs its recipe"
    assert recipes == files | training, "every recipe needs its file, or the resume state of its training"


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_model_loads_strictly_and_its_card_is_complete(name):
    path = WEIGHTS / f"{name}.safetensors"
    module = load_model(path)  # strict: a missing or extra tensor raises
    card = read_card(path)
    assert card["name"] == name and card["family"] == name.split("-")[0] and card["size"] == "small"
    assert card["purpose"]
    training = card["training"]
    assert training["recipe"] == json.loads((WEIGHTS / "recipes" / f"{name}.json").read_text())
    assert training["seconds"] > 0 and training["hardware"] and "weights/build.py" in training["command"]
    assert card["fp16_psnr_cost_db"] < 0.05
    assert all(np.isfinite(p.detach().numpy()).all() for p in module.parameters())


#: Guards against a broken or mistrained file, set below what each shipped model measured (weights/README.md),
#: as (least mean gain, least single gain) in dB. The first CPU-trained nafnet-small gains +1.7 dB with Levin
#: kernel 2 and loses 0.35 dB with the large kernel 6 (mean +0.69 dB); deblurgan-small gains +1.67 to -0.30 dB
#: (mean +0.58 dB); srn-small +1.28 to -0.93 dB (mean +0.26 dB: it loses most on kernel 6); swin_unet-small
#: +1.55 to -0.48 dB (mean +0.40 dB); msdf_unet-small +1.47 to -0.36 dB (mean +0.46 dB). All are short of the
#: +2 dB the weights issues ask for; an untrained network loses several dB.
GAIN_FLOORS = {"nafnet": (0.5, -0.6), "deblurgan": (0.4, -0.6), "srn": (0.15, -1.1), "swin_unet": (0.25, -0.7),
               "msdf_unet": (0.3, -0.6)}


@pytest.mark.parametrize("family", GENERAL)
def test_general_model_gains_on_kodak_with_levin_kernels(family):
    """Two Kodak crops x two Levin kernels, sigma 0.01, blind."""
    rng = np.random.default_rng(0)
    gains = []
    for image in (3, 15):
        sharp = iio.imread(shared_data("kodak24", f"kodim{image:02d}.png"))[128:320, 192:384, 1] / 255.0
        for k in (2, 6):
            kernel = np.load(shared_data("levin09", f"k0{k}.npy"))
            blurred = np.clip(ndimage.convolve(sharp, kernel, mode="reflect") + rng.normal(0, 0.01, sharp.shape),
                              0, 1).astype(np.float32)
            out = nd.deblur(blurred, family)
            assert out.dtype == np.float32 and out.shape == blurred.shape and np.isfinite(out).all()
            gains.append(_psnr(sharp, out) - _psnr(sharp, blurred))
    least_mean, least = GAIN_FLOORS[family]
    assert min(gains) > least and np.mean(gains) >= least_mean, gains


@pytest.mark.parametrize("family", GENERAL)
def test_general_model_keeps_colours_and_8_bit_type(family):
    sharp = iio.imread(shared_data("kodak24", "kodim23.png"))[100:260, 200:360]
    kernel = np.load(shared_data("levin09", "k03.npy"))
    blurred = np.stack([ndimage.convolve(sharp[..., c] / 255.0, kernel, mode="reflect") for c in range(3)], -1)
    blurred = np.round(blurred * 255).astype(np.uint8)
    out = nd.deblur(blurred, family, rgb=True)
    assert out.dtype == np.uint8 and out.shape == blurred.shape
    # The mean colour stays (no tint), and a grey image stays grey.
    np.testing.assert_allclose(out.reshape(-1, 3).mean(0), blurred.reshape(-1, 3).mean(0), atol=2.0)
    grey = np.repeat(blurred[..., 1:2], 3, axis=-1)
    grey_out = nd.deblur(grey, family, rgb=True).astype(int)
    assert np.abs(grey_out - grey_out[..., 1:2]).max() <= 1


def test_microscopy_model_deblurs_uint16_widefield_and_keeps_its_range():
    """A fluorescence scene the model never saw, widefield PSF (NA 1.2, 0.1 um pixels), Poisson noise."""
    rng = np.random.default_rng(5)
    sharp = random_scene((192, 192), "fluorescence", seed=12345)
    psf = widefield_psf(na=1.2, wavelength=0.6, pixel_size=0.1, ndim=2)
    photons = 800
    blurred = rng.poisson(np.clip(signal.fftconvolve(sharp, psf / psf.sum(), mode="same"), 0, None) * photons)
    raw = (blurred + 100).astype(np.uint16)  # a camera offset, as real data has
    out = nd.deblur(raw, MICROSCOPY)
    assert out.dtype == np.uint16 and out.shape == raw.shape
    assert raw.min() * 0.5 <= np.percentile(out, 50) and out.max() <= 2 * raw.max()
    # Scored like the microscopy benchmark: each result's best gain and offset against the truth.
    def fitted_psnr(x):
        a, b = np.polyfit(x.ravel().astype(float), sharp.ravel(), 1)
        return _psnr(sharp, a * x + b)

    assert fitted_psnr(out) - fitted_psnr(raw) >= 1.5


def test_every_shipped_model_goes_into_the_wheel():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    project = tomllib.loads((WEIGHTS.parent / "pyproject.toml").read_text())
    packaged = project["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    for path in WEIGHTS.glob("*.safetensors"):
        assert packaged.get(f"weights/{path.name}") == f"napari_deblur/weights/{path.name}", path.name
