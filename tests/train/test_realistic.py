"""Realistic mode (issue 17): the blur generator learns from unpaired blurred images, a deblurrer trains on its
blur, and synthesize_blur(kind="learned") uses it; tiny sizes on a CPU."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch

import napari_deblur as nd
from napari_deblur.cli import main as cli_main
from napari_deblur.training import TrainConfig
from napari_deblur.training.data import make_datasets
from napari_deblur.training.module import BGANModule, make_module
from napari_deblur.zoo import create, load_model, save_model
from napari_deblur.zoo.bgan import load_blur_generator
from napari_deblur.zoo.weights import read_card

TINY = {"steps": 4, "batch": 2, "patch": 32, "val_every": 2, "checkpoint_every": 2, "workers": 0, "val_size": 2}


@pytest.fixture(autouse=True)
def model_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("NAPARI_DEBLUR_MODEL_DIR", str(tmp_path / "models"))


@pytest.fixture
def real_blurred(tmp_path) -> Path:
    """Three "real" blurred images (motion blur the generator has never been told about), 8-bit."""
    from skimage import data

    folder = tmp_path / "real"
    folder.mkdir()
    camera = data.camera()
    for i in range(3):
        blurred, _ = nd.synthesize_blur(camera[i * 120:i * 120 + 160, 100:300], "linear_motion", seed=i, length=9,
                                        angle=30.0 * i)
        tifffile.imwrite(folder / f"real_{i}.tif", blurred)
    return folder


@pytest.fixture
def generator(tmp_path) -> Path:
    """An untrained blur generator saved as a model file (what stage 1 writes)."""
    torch.manual_seed(0)
    model = create("bgan", "small")
    torch.nn.init.normal_(model.tail.weight, std=0.01)  # further from the identity: its blur must show
    return save_model(model, tmp_path / "bgan-test.safetensors",
                      {"family": "bgan", "size": "small", "config": {"in_channels": 1, **{
                          "width": 32, "num_blocks": 6, "noise_channels": 4}}, "training": {"command": "test"}})


def test_both_stages_run_end_to_end(tmp_path, real_blurred):
    bgan = nd.train(TrainConfig(model="bgan", scenes="dead_leaves", real_blurred=str(real_blurred),
                                out=str(tmp_path / "bgan.safetensors"), **TINY))
    card = read_card(bgan)
    assert card["family"] == "bgan" and card["training"]["steps"] == 4
    assert "real blur from 3 unpaired images" in card["training"]["data"]
    assert "bgan" not in {m.name for m in nd.list_methods()}  # a blur generator is not a deblurring method
    deblurrer = nd.train(TrainConfig(model="nafnet", scenes="dead_leaves", bgan=str(bgan), bgan_fraction=0.5,
                                     out=str(tmp_path / "dbgan.safetensors"), **TINY))
    assert read_card(deblurrer)["family"] == "nafnet"
    out = nd.deblur(np.random.default_rng(0).random((40, 44), dtype=np.float32), str(deblurrer))
    assert out.shape == (40, 44)


def test_each_stage_refuses_what_it_cannot_use(tmp_path, real_blurred, generator):
    empty = tmp_path / "empty"
    empty.mkdir()
    cases = [
        ({"model": "bgan", "scenes": "dead_leaves"}, "needs real_blurred"),
        ({"model": "bgan", "scenes": "dead_leaves", "real_blurred": str(empty)}, "holds no images"),
        ({"model": "bgan", "pairs": str(real_blurred), "real_blurred": str(real_blurred)}, "not pairs"),
        ({"model": "nafnet", "scenes": "dead_leaves", "real_blurred": str(real_blurred)}, "train the bgan first"),
        ({"model": "nafnet", "scenes": "dead_leaves", "bgan": "no-such-generator"}, "No trained blur generator"),
        ({"model": "nafnet", "scenes": "dead_leaves", "bgan": str(generator), "in_channels": 3}, "3-channel"),
    ]
    nafnet = save_model(create("nafnet", "small"), tmp_path / "naf.safetensors",
                        {"family": "nafnet", "size": "small", "config": {}, "training": {}})
    cases.append(({"model": "nafnet", "scenes": "dead_leaves", "bgan": str(nafnet)}, "not a blur generator"))
    for settings, message in cases:
        with pytest.raises(ValueError, match=message):
            TrainConfig(**{**TINY, **settings}).validate()


def test_the_critic_sees_real_blurred_crops_and_the_stream_repeats(real_blurred):
    cfg = TrainConfig(model="bgan", scenes="dead_leaves", real_blurred=str(real_blurred), **TINY)
    train, _ = make_datasets(cfg)
    first, again = train[3], train[3]
    assert set(first) == {"blurred", "sharp", "sigma", "real"}
    assert first["real"].shape == first["sharp"].shape == (1, 32, 32)
    assert torch.equal(first["real"], again["real"]) and not torch.equal(first["real"], train[4]["real"])
    module = make_module(cfg)
    assert isinstance(module, BGANModule)
    generator_input, target, real = module.gan_batch({k: v[None] for k, v in first.items()})
    assert torch.equal(generator_input[0], first["sharp"]) and torch.equal(target[0], first["blurred"])
    assert torch.equal(real[0], first["real"])


def test_stage_two_trains_on_the_generators_blur(generator):
    cfg = TrainConfig(model="nafnet", scenes="dead_leaves", bgan=str(generator), bgan_fraction=1.0, **TINY)
    module = make_module(cfg)
    sharp, synthetic = torch.rand(2, 1, 32, 32), torch.zeros(2, 1, 32, 32)
    reference = load_blur_generator(str(generator))  # built first: building draws random numbers
    torch.manual_seed(5)
    blurred, target = module.training_pair({"blurred": synthetic, "sharp": sharp})
    torch.manual_seed(5)
    assert torch.allclose(blurred, reference(sharp)) and torch.equal(target, sharp)
    none = make_module(cfg.replace(bgan_fraction=0.0)).training_pair({"blurred": synthetic, "sharp": sharp})[0]
    assert torch.equal(none, synthetic)


def test_a_reloaded_generator_blurs_alike_and_learned_blur_keeps_shape_and_dtype(tmp_path, generator):
    from skimage import data

    x = torch.rand(1, 1, 36, 52)
    original = load_model(generator)
    reloaded = load_model(save_model(original, tmp_path / "g.safetensors", dict(original.card)))
    assert torch.equal(original(x, seed=7), reloaded(x, seed=7))
    assert not torch.equal(reloaded(x, seed=7), reloaded(x, seed=8))
    camera = data.camera()[:96, :128]
    blurred, kernel = nd.synthesize_blur(camera, "learned", model=str(generator), seed=1)
    assert blurred.shape == camera.shape and blurred.dtype == np.uint8 and kernel is None
    assert np.array_equal(blurred, nd.synthesize_blur(camera, "learned", model=str(generator), seed=1)[0])
    assert not np.array_equal(blurred, camera)
    colour, _ = nd.synthesize_blur(data.astronaut()[:64, :80], "learned", model=str(generator), seed=1)
    assert colour.shape == (64, 80, 3) and colour.dtype == np.uint8
    tifffile.imwrite(tmp_path / "in.tif", camera)
    assert cli_main(["blur", str(tmp_path / "in.tif"), str(tmp_path / "out.tif"), "--kind", "learned",
                     "--generator", str(generator), "--seed", "1"]) == 0
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "out.tif"), blurred)


def test_learned_blur_refuses_what_is_not_a_blur_generator(tmp_path):
    nafnet = save_model(create("nafnet", "small"), tmp_path / "naf.safetensors",
                        {"family": "nafnet", "size": "small", "config": {}, "training": {}})
    image = np.zeros((32, 32), np.uint8)
    with pytest.raises(ValueError, match="not a blur generator"):
        nd.synthesize_blur(image, "learned", model=str(nafnet))
    with pytest.raises(ValueError, match="needs model="):
        nd.synthesize_blur(image, "learned")
    bgan = save_model(create("bgan", "small"), tmp_path / "g.safetensors",
                      {"family": "bgan", "size": "small", "config": {}, "training": {}})
    with pytest.raises(ValueError, match="makes blur rather than removing it"):
        nd.deblur(image, str(bgan))
    with pytest.raises(SystemExit, match="--kind learned needs --generator"):
        cli_main(["blur", str(tmp_path / "x.tif"), str(tmp_path / "y.tif"), "--kind", "learned"])
