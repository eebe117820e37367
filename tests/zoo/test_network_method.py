"""Zoo networks as deblurring methods: registry parameters, precision choice, tiling, CLI listing, untrained
models refused with a way out."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import napari_deblur as nd
from napari_deblur.cli import main as cli_main
from napari_deblur.hardware import cpu_has_native_bf16, inference_dtype, resolve_device
from napari_deblur.restore.network import NetworkRestorer
from napari_deblur.restore.tiling import plan_tiles
from napari_deblur.zoo import create, deblurring_families

nd.list_methods()
NAMES = deblurring_families()


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / np.mean((np.asarray(a, np.float64) - b) ** 2)))


def test_every_family_is_a_network_method_with_size_weights_precision(no_shipped_weights):
    networks = {s.name: s for s in nd.list_methods() if s.kind == "network"}
    families = {"srn", "msdf_unet", "swin_unet", "deblurgan", "nafnet"}
    assert set(networks) == families | {"denoise"}  # the denoiser's own method (zoo/denoising.py)
    for spec in (networks[name] for name in families):
        assert not spec.needs_psf
        assert [p.name for p in spec.params] == ["size", "weights", "precision"]
        assert set(spec.param("size").choices) >= {"small", "base"}


def test_precision_resolution():
    cpu = torch.device("cpu")
    assert inference_dtype("float32", cpu) == torch.float32
    assert inference_dtype("bfloat16", cpu) == torch.bfloat16
    assert inference_dtype("auto", cpu) == (torch.bfloat16 if cpu_has_native_bf16() else torch.float32)
    with pytest.raises(ValueError, match="precision must be one of"):
        inference_dtype("int8", cpu)
    with pytest.raises(ValueError, match="precision"):
        nd.deblur(np.zeros((16, 16), np.float32), "nafnet", weights="random", precision="double")


@pytest.mark.parametrize("name", NAMES)
def test_bfloat16_restorer_agrees_with_float32(name):
    """16-bit arithmetic inside the network, float32 skip outside: the output stays within ~45 dB of float32."""
    torch.manual_seed(0)
    module = create(name, "small")
    x = torch.from_numpy(np.random.default_rng(0).random((1, 1, 72, 88), dtype=np.float32))
    full = NetworkRestorer(module, resolve_device("cpu"), torch.float32)(x)
    low = NetworkRestorer(module, resolve_device("cpu"), torch.bfloat16)(x)
    assert low.dtype == torch.float32 and low.shape == x.shape
    assert low.is_contiguous()
    assert _psnr(low.numpy(), full.numpy()) > 45


@pytest.mark.parametrize("name", ["nafnet", "msdf_unet"])
def test_tiled_network_has_no_seams(name):
    """Aligned, feathered tiles with receptive-field margins reproduce the whole-image result of a network
    away from the image border (where the whole image sees the convs' zero padding, a tile reflected context)."""
    image = np.random.default_rng(3).random((200, 260)).astype(np.float32)
    torch.manual_seed(0)
    whole = nd.deblur(image, name, weights="random", precision="float32")
    torch.manual_seed(0)
    tiled = nd.deblur(image, name, weights="random", precision="float32", tile_size=96, tile_overlap=48)
    assert tiled.shape == image.shape
    assert np.abs(tiled - whole)[16:-16, 16:-16].max() < 2e-3


def test_aligned_tile_plan():
    plan = plan_tiles((200, 260), 96, 48, margin=16, align=16)
    assert plan.shape == (208, 272) and plan.tile == (96, 96)
    for starts, size, tile in zip(plan.starts, plan.shape, plan.tile):
        assert all(s % 16 == 0 for s in starts)
        assert starts[0] == 0 and starts[-1] + tile == size
        assert all(b - a <= tile - 48 for a, b in zip(starts, starts[1:]))  # overlaps of at least 48
    assert plan_tiles((200, 260), 96, 48).shape == (200, 260)  # unaligned plans keep the shape


def test_untrained_network_names_the_way_out(tmp_path, monkeypatch, no_shipped_weights):
    monkeypatch.setenv("NAPARI_DEBLUR_MODEL_DIR", str(tmp_path))
    with pytest.raises(ValueError, match="No trained weights for srn .*weights='random'"):
        nd.deblur(np.zeros((32, 32), np.float32), "srn")


def test_cli_lists_networks_and_marks_untrained(capsys, tmp_path, monkeypatch, no_shipped_weights):
    monkeypatch.setenv("NAPARI_DEBLUR_MODEL_DIR", str(tmp_path))
    assert cli_main(["methods"]) == 0
    out = capsys.readouterr().out
    for name in NAMES:
        assert any(line.startswith(f"{name}  [network") and "untrained" in line for line in out.splitlines())
    assert "--precision" in out


def test_trained_models_are_methods_of_their_own(tmp_path, monkeypatch, capsys):
    """A model file in the user folder is listed, described and runnable by its name, without a restart."""
    from napari_deblur.zoo import save_model

    monkeypatch.setenv("NAPARI_DEBLUR_MODEL_DIR", str(tmp_path))
    assert "cells-nafnet" not in [s.name for s in nd.list_methods()]
    save_model(create("nafnet", "small"), tmp_path / "cells-nafnet.safetensors",
               {"family": "nafnet", "size": "small", "config": {}, "metrics": {"val_psnr": 31.5}})
    spec = nd.get_method("cells-nafnet")
    assert spec.kind == "network" and "31.50 dB" in spec.description
    assert [p.name for p in spec.params] == ["precision"]
    out = nd.deblur(np.random.default_rng(0).random((30, 41)).astype(np.float32), "cells-nafnet")
    assert out.shape == (30, 41)
    assert cli_main(["methods"]) == 0
    assert "cells-nafnet  [network]" in capsys.readouterr().out
    (tmp_path / "notes.safetensors").write_bytes(b"not a model")  # foreign files are skipped, not fatal
    assert "cells-nafnet" in [s.name for s in nd.list_methods()]


def test_a_model_file_path_is_a_method(tmp_path, blurred):
    """Wherever a method name goes (API, CLI), the path of a model file works too, from any folder."""
    from napari_deblur.zoo import save_model

    elsewhere = tmp_path / "shared-models" / "my-model.safetensors"
    save_model(create("nafnet", "small"), elsewhere, {"family": "nafnet", "size": "small", "config": {}})
    by_path = nd.deblur(blurred, str(elsewhere), precision="float32")
    np.testing.assert_array_equal(by_path, nd.deblur(blurred, "nafnet", weights=str(elsewhere), precision="float32"))
    import tifffile

    tifffile.imwrite(tmp_path / "in.tif", blurred)
    assert cli_main(["deblur", str(tmp_path / "in.tif"), str(tmp_path / "out.tif"), "--method", str(elsewhere)]) == 0
    (tmp_path / "notes.safetensors").write_bytes(b"not a model")
    with pytest.raises(ValueError, match="not a readable .safetensors file"):
        nd.get_method(str(tmp_path / "notes.safetensors"))
    with pytest.raises(ValueError, match="Unknown method"):
        nd.get_method(str(tmp_path / "missing.safetensors"))


def test_weights_of_another_family_or_with_nan_are_refused(tmp_path, blurred):
    import torch

    from napari_deblur.zoo import save_model

    naf = tmp_path / "naf.safetensors"
    save_model(create("nafnet", "small"), naf, {"family": "nafnet", "size": "small", "config": {}})
    with pytest.raises(ValueError, match="is a nafnet model, not srn"):
        nd.deblur(blurred, "srn", weights=str(naf))
    broken = create("nafnet", "small")
    with torch.no_grad():
        next(broken.parameters())[0] = float("nan")
    save_model(broken, tmp_path / "diverged.safetensors", {"family": "nafnet", "size": "small", "config": {}})
    with pytest.raises(ValueError, match="NaN or infinite weights"):
        nd.deblur(blurred, str(tmp_path / "diverged.safetensors"))
