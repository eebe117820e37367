"""The contract every zoo family keeps: any size in, same size out; gradients everywhere; exact save/load;
it can learn; devices/precisions; parameter counts as documented in docs/models.md."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

import napari_deblur as nd
from napari_deblur.restore.methods import list_methods
from napari_deblur.zoo import FAMILIES, create, deblurring_families, load_model, save_model
from napari_deblur.zoo.blocks import count_parameters

list_methods()  # registers the built-in families
NAMES = sorted(FAMILIES)
SIZED = [(name, size) for name in NAMES for size in FAMILIES[name].sizes]
MODELS_DOC = Path(__file__).resolve().parents[2] / "docs" / "models.md"
#: Keywords that make a family's forward pass repeatable: the blur generator draws a noise map.
SEEDED = {"bgan": {"seed": 0}}


@pytest.fixture(autouse=True)
def _few_threads():
    torch.manual_seed(0)


def test_all_five_families_are_registered():
    assert deblurring_families() == ["deblurgan", "msdf_unet", "nafnet", "srn", "swin_unet"]
    assert not FAMILIES["bgan"].deblurs and "bgan" not in {m.name for m in nd.list_methods()}
    for name in NAMES:
        assert {"small", "base"} <= set(FAMILIES[name].sizes)


@pytest.mark.parametrize("name, size", SIZED)
def test_odd_sizes_keep_shape(name, size):
    model = create(name, size).eval()
    with torch.inference_mode():
        for shape in [(1, 1, 37, 53), (2, 1, 64, 80)]:
            out = model(torch.rand(shape))
            assert out.shape == shape and torch.isfinite(out).all()
        scales = model(torch.rand(1, 1, 37, 53), return_all_scales=True)
        assert isinstance(scales, list) and scales[-1].shape == (1, 1, 37, 53)


@pytest.mark.parametrize("name, size", SIZED)
def test_every_parameter_gets_a_gradient(name, size):
    model = create(name, size).train()
    x = torch.rand(1, 1, 32, 48)
    outputs = model(x, return_all_scales=True)
    sum(o.mean() for o in outputs).backward()
    missing = [n for n, p in model.named_parameters() if p.requires_grad and (p.grad is None)]
    assert not missing, f"no gradient for {missing[:5]}"


@pytest.mark.parametrize("name", NAMES)
def test_save_load_round_trip_is_bit_exact(name, tmp_path):
    model = create(name, "small").eval()
    path = save_model(model, tmp_path / f"{name}.safetensors",
                      {"family": name, "size": "small", "config": dict(FAMILIES[name].sizes["small"]),
                       "training": {"command": "test"}})
    loaded = load_model(path)
    x = torch.rand(1, 1, 40, 44)
    with torch.inference_mode():  # the same random numbers for both (the blur generator draws a noise map)
        torch.manual_seed(1)
        first = model(x)
        torch.manual_seed(1)
        assert torch.equal(first, loaded(x))
    assert loaded.card["parameters"] == count_parameters(model)
    for (k, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), k


@pytest.mark.parametrize("name", deblurring_families())
def test_rgb_image_through_the_engine(name):
    rgb = (np.random.default_rng(0).random((45, 61, 3)) * 255).astype(np.uint8)
    out = nd.deblur(rgb, name, weights="random", rgb=True, tile_size=32, tile_overlap=8)
    assert out.shape == rgb.shape and out.dtype == np.uint8


@pytest.mark.parametrize("name", NAMES)
def test_bf16_autocast_and_channels_last(name):
    model = create(name, "small").eval()
    x = torch.rand(1, 1, 48, 40)
    with torch.inference_mode():  # each call with the same random numbers (the blur generator draws noise)
        ref = model(x, **SEEDED.get(name, {}))
        cl = model.to(memory_format=torch.channels_last)(x.contiguous(memory_format=torch.channels_last),
                                                          **SEEDED.get(name, {}))
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = model(x, **SEEDED.get(name, {})).float()
    assert torch.allclose(ref, cl, atol=1e-4)
    assert low.shape == ref.shape and (low - ref).abs().mean() < 0.05


@pytest.mark.parametrize("name", NAMES)
def test_small_model_overfits_one_pair(name):
    """A 1-channel small model fits one blurred/sharp pair: the L1 loss halves within 100 steps."""
    from scipy import ndimage
    from skimage import data

    sharp = torch.from_numpy(data.camera()[200:248, 200:248].astype(np.float32) / 255)[None, None]
    blurred = torch.from_numpy(ndimage.uniform_filter(sharp[0, 0].numpy(), 7, mode="reflect"))[None, None]
    model = create(name, "small").train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(100):
        optimizer.zero_grad()
        loss = (model(blurred) - sharp).abs().mean()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert min(losses[-10:]) < 0.5 * losses[0], (losses[0], losses[-1])


def test_documented_parameter_counts_match():
    """docs/models.md states each family's parameter counts; they must be the real ones."""
    text = MODELS_DOC.read_text()
    rows = re.findall(r"^\|\s*`(\w+)`\s*\|\s*(\w+)\s*\|\s*([\d,]+)\s*\|", text, flags=re.M)
    documented = {(name, size): int(count.replace(",", "")) for name, size, count in rows}
    for name, size in SIZED:
        assert documented.get((name, size)) == count_parameters(create(name, size)), (name, size)


def test_pickles_are_refused_and_mismatches_explained(tmp_path):
    model = create("nafnet", "small")
    torch.save({"state_dict": model.state_dict(), "card": {"family": "nafnet", "size": "small", "config": {}}},
               tmp_path / "m.pt")
    with pytest.raises(ValueError, match="pickled checkpoint.*trust=True"):
        load_model(tmp_path / "m.pt")
    assert isinstance(load_model(tmp_path / "m.pt", trust=True), torch.nn.Module)
    path = save_model(model, tmp_path / "wrong.safetensors", {"family": "nafnet", "size": "base", "config": {}})
    with pytest.raises(ValueError, match="does not match the nafnet \\(base\\) network"):
        load_model(path)
    with pytest.raises(ValueError, match="No model file or name 'nope'"):
        load_model("nope")


def test_named_models_are_found_in_the_user_folder(tmp_path, monkeypatch, no_shipped_weights):
    monkeypatch.setenv("NAPARI_DEBLUR_MODEL_DIR", str(tmp_path))
    model = create("nafnet", "small")
    save_model(model, tmp_path / "my-model.safetensors",
               {"family": "nafnet", "size": "small", "config": {}}, half=True)
    spec = nd.get_method("nafnet")
    assert spec.why_unavailable({"weights": "my-model"}) is None
    assert "untrained" in spec.why_unavailable({})
    out = nd.deblur(np.random.default_rng(1).random((33, 47)).astype(np.float32), "nafnet", weights="my-model")
    assert out.shape == (33, 47)
    assert (tmp_path / "my-model.safetensors").stat().st_size < 0.6 * 4 * count_parameters(model)
