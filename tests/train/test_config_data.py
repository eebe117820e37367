"""TrainConfig (JSON, defaults, validation) and the training datasets, on tiny folders written per test."""

from __future__ import annotations

import json
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import tifffile
import torch
from scipy import ndimage
from torch.utils.data import DataLoader

from napari_deblur.restore.intensity import HIGH_PERCENTILE, LOW_PERCENTILE
from napari_deblur.synth.kinds import make_kernel
from napari_deblur.training.config import TrainConfig
from napari_deblur.training.data import (
    find_pairs,
    image_shape,
    layer_pairs_to_folder,
    make_datasets,
)

P = 32  # patch side of these tests: small enough to be fast, above the 16-pixel minimum


def _texture(seed: int, shape: tuple[int, ...] = (48, 56)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def _pairs(root: Path, names: list[str], blur_of=lambda s: s, shape=(48, 56)) -> Path:
    """``root/blur/<name>.png`` = blur_of(sharp), ``root/sharp/<name>.png``."""
    for sub in ("blur", "sharp"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names):
        sharp = _texture(i, shape)
        iio.imwrite(root / "blur" / f"{name}.png", blur_of(sharp))
        iio.imwrite(root / "sharp" / f"{name}.png", sharp)
    return root


def _samples(ds, n: int = 12) -> list[dict[str, torch.Tensor]]:
    return [ds[i] for i in range(n)]


# -- config --------------------------------------------------------------------------------------------------
def test_json_round_trip(tmp_path):
    cfg = TrainConfig(scenes="dead_leaves", blur_params={"size": 15, "anxiety": 0.01}, lr=3e-4, steps=50,
                      val_pairs=tmp_path)  # a Path is stored as a string
    path = cfg.save(tmp_path / "run" / "config.json")
    assert json.loads(path.read_text())["blur_params"] == {"size": 15, "anxiety": 0.01}
    assert TrainConfig.load(path) == cfg
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
    assert not list(path.parent.glob(".*"))  # the temporary file was renamed away
    # JSON has one number type: whole numbers become floats where the field is a float, and back.
    loaded = TrainConfig.from_dict({"lr": 1, "steps": 10.0})
    assert loaded.lr == 1.0 and isinstance(loaded.lr, float) and loaded.steps == 10 and isinstance(loaded.steps, int)
    assert cfg.replace(batch=2).batch == 2 and cfg.batch == 8


@pytest.mark.parametrize(("data", "match"), [
    ({"epochs": 3}, "Unknown training setting.*epochs"),
    ({"steps": 1.5}, "whole number"),
    ({"steps": "many"}, "must be a number"),
    ({"model": 3}, "must be a string"),
    ({"blur_params": [1]}, "must be a dict"),
])
def test_from_dict_rejects_bad_settings(data, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig.from_dict(data)


def test_load_errors(tmp_path):
    with pytest.raises(ValueError, match="No training config"):
        TrainConfig.load(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{nope")
    with pytest.raises(ValueError, match="not valid JSON"):
        TrainConfig.load(tmp_path / "bad.json")


def test_default_name_out_and_run_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("NAPARI_DEBLUR_MODEL_DIR", str(tmp_path))
    cfg = TrainConfig(model="srn", size="small")
    assert cfg.model_name == "srn-small-custom"
    assert cfg.model_path == tmp_path / "srn-small-custom.safetensors"
    assert cfg.run_dir == tmp_path / "srn-small-custom.run"
    assert TrainConfig(name="mine").model_path == tmp_path / "mine.safetensors"
    out = TrainConfig(out=str(tmp_path / "x" / "y.safetensors"))
    assert out.model_name == "y" and out.run_dir == tmp_path / "x" / "y.run"


@pytest.fixture
def scenes_cfg() -> TrainConfig:
    return TrainConfig(scenes="fluorescence", patch=P, batch=2, steps=4, val_size=2)


@pytest.mark.parametrize(("changes", "match"), [
    ({"model": "unet9000"}, "Unknown model 'unet9000'.*nafnet"),
    ({"size": "huge"}, "nafnet has no size 'huge'"),
    ({"steps": 0}, "'steps' must be >= 1.*Training steps"),
    ({"batch": 0}, "'batch' must be >= 1"),
    ({"patch": 8}, "'patch' must be >= 16"),
    ({"scenes": ""}, "no data source is set"),
    ({"sharp": "/somewhere"}, r"several are set \(sharp, scenes\)"),
    ({"scenes": "cats"}, "scenes must be one of dead_leaves, fluorescence"),
    ({"blur": "wobble"}, "Unknown blur kind 'wobble'"),
    ({"blur_params": {"wobble": 1}}, "unknown parameter.*wobble"),
    ({"blur_params": {"size": 500}}, "'size' must be <= 101"),
    ({"blur": "custom"}, "needs kernel=.*blur_params=\\{'kernel'"),
    ({"loss": "ssim"}, "'loss' must be one of"),
    ({"precision": "64-true"}, "'precision' must be one of"),
    ({"device": "tpu"}, "'device' must be one of"),
    ({"in_channels": 2}, "in_channels must be 1"),
    ({"noise": -1.0}, "'noise' must be >= 0"),
    ({"out": "model.pt"}, r"out must be a \.safetensors file"),
    ({"out": "a/b.safetensors", "name": "c"}, "disagree"),
    ({"name": "a/b"}, "not a valid file name"),
])
def test_validate_names_the_problem(scenes_cfg, changes, match):
    with pytest.raises(ValueError, match=match):
        scenes_cfg.replace(**changes).validate()


def test_validate_passes_and_chains(scenes_cfg):
    assert scenes_cfg.validate() is scenes_cfg


def test_unwritable_output(tmp_path, scenes_cfg):
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(ValueError, match="is a file, not a folder"):
        scenes_cfg.replace(out=str(tmp_path / "file" / "sub" / "m.safetensors")).validate()
    (tmp_path / "m.safetensors").mkdir()
    with pytest.raises(ValueError, match="is a folder"):
        scenes_cfg.replace(out=str(tmp_path / "m.safetensors")).validate()


def test_folder_errors(tmp_path, scenes_cfg):
    base = scenes_cfg.replace(scenes="")
    with pytest.raises(ValueError, match="does not exist"):
        base.replace(pairs=str(tmp_path / "nowhere")).validate()
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="No pairs in"):
        base.replace(pairs=str(tmp_path / "empty")).validate()
    with pytest.raises(ValueError, match="No images in"):
        base.replace(sharp=str(tmp_path / "empty")).validate()
    (tmp_path / "empty" / "blur").mkdir()
    (tmp_path / "empty" / "sharp").mkdir()
    with pytest.raises(ValueError, match="hold no images"):
        base.replace(pairs=str(tmp_path / "empty")).validate()


def test_unmatched_pair_names_are_listed(tmp_path, scenes_cfg):
    root = _pairs(tmp_path, ["a", "b", "c"])
    (root / "blur" / "b.png").rename(root / "blur" / "b2.png")
    with pytest.raises(ValueError, match=r"2 file\(s\) in .* have no partner") as err:
        scenes_cfg.replace(scenes="", pairs=str(root)).validate()
    assert "blur/b2.png" in str(err.value) and "sharp/b.png" in str(err.value)


def test_images_smaller_than_the_patch(tmp_path, scenes_cfg):
    _pairs(tmp_path / "p", ["big"])
    iio.imwrite(tmp_path / "p" / "blur" / "tiny.png", _texture(0, (20, 60)))
    iio.imwrite(tmp_path / "p" / "sharp" / "tiny.png", _texture(0, (20, 60)))
    with pytest.raises(ValueError, match=r"tiny\.png \(20x60\) is smaller than the patch \(32x32\)"):
        scenes_cfg.replace(scenes="", pairs=str(tmp_path / "p")).validate()
    (tmp_path / "s").mkdir()
    iio.imwrite(tmp_path / "s" / "small.png", _texture(0, (31, 40)))
    with pytest.raises(ValueError, match=r"small\.png \(31x40\) is smaller than the patch \(32x32\)"):
        scenes_cfg.replace(scenes="", sharp=str(tmp_path / "s")).validate()


def test_pairs_of_different_shapes(tmp_path, scenes_cfg):
    root = _pairs(tmp_path, ["a"])
    iio.imwrite(root / "blur" / "a.png", _texture(0, (48, 60)))
    with pytest.raises(ValueError, match="differ in shape"):
        scenes_cfg.replace(scenes="", pairs=str(root)).validate()


# -- data -----------------------------------------------------------------------------------------------------
def test_paired_crops_are_aligned(tmp_path):
    # The blurred image is the negative of the sharp one: any misaligned crop, flip or rotation breaks it.
    root = _pairs(tmp_path, [f"im{i}" for i in range(6)], blur_of=lambda s: 255 - s)
    cfg = TrainConfig(pairs=str(root), patch=P, batch=2, steps=20)
    train, val = make_datasets(cfg)
    assert len(train) == 40 and len(val) == cfg.val_size
    samples = _samples(train, 16)
    for s in samples + _samples(val, 4):
        assert s["sharp"].dtype == torch.float32 and s["sharp"].shape[0] == 1
        assert 0 <= s["sharp"].min() and s["sharp"].max() <= 1
        torch.testing.assert_close(s["blurred"], 1 - s["sharp"], atol=1e-6, rtol=0)
    assert all(s["sharp"].shape == (1, P, P) for s in samples)
    assert not torch.equal(samples[0]["sharp"], samples[1]["sharp"])
    assert torch.equal(train[3]["sharp"], samples[3]["sharp"])  # the same index gives the same sample


def test_held_out_validation_pairs(tmp_path):
    root = _pairs(tmp_path, [f"im{i:02d}" for i in range(10)])
    train, val = make_datasets(TrainConfig(pairs=str(root), patch=P, steps=2, val_size=8))
    # At most a fifth is held out: the last two pairs, validated on the largest common centre crop.
    assert [s.stem for _, s in val.pairs] == ["im08", "im09"]
    assert [s.stem for _, s in train.pairs] == [f"im{i:02d}" for i in range(8)]
    assert len(val) == 8 and val[0]["sharp"].shape == (1, 48, 48)
    expected = _texture(8)[:, 4:52].astype(np.float32) / 255  # image im08, centred 48x48 crop
    np.testing.assert_allclose(val[0]["sharp"][0].numpy(), expected)


def test_gopro_layout(tmp_path):
    for seq in ("GOPR01", "GOPR02"):
        _pairs(tmp_path / "train" / seq, ["000001", "000002"])
    pairs = find_pairs(tmp_path)
    assert [(b.parent.parent.name, b.name, s.parent.name, s.name) for b, s in pairs] == [
        (seq, f"00000{i}.png", "sharp", f"00000{i}.png") for seq in ("GOPR01", "GOPR02") for i in (1, 2)]
    assert all(b.parent.name == "blur" for b, _ in pairs)
    train, _ = make_datasets(TrainConfig(pairs=str(tmp_path), patch=P, steps=2))
    assert torch.equal(train[0]["blurred"], train[0]["sharp"])


def test_flat_gt_naming(tmp_path):
    for i in (1, 2):
        iio.imwrite(tmp_path / f"frame-{i}.png", _texture(i))
        iio.imwrite(tmp_path / f"frame-{i}_gt.png", _texture(i))
    iio.imwrite(tmp_path / "alone.png", _texture(3))  # no partner: not a pair, not an error
    pairs = find_pairs(tmp_path)
    assert [(b.name, s.name) for b, s in pairs] == [("frame-1.png", "frame-1_gt.png"),
                                                   ("frame-2.png", "frame-2_gt.png")]
    train, _ = make_datasets(TrainConfig(pairs=str(tmp_path), patch=P, steps=2))
    assert torch.equal(train[0]["blurred"], train[0]["sharp"])


def test_shared_gopro_pairs_are_found():
    folder = Path(__file__).parents[2].parent / "shared" / "data" / "gopro_frameavg_GOPR0374"
    if not folder.is_dir():
        pytest.skip("../shared/data is not beside the repository")
    pairs = find_pairs(folder)
    assert len(pairs) == 4 and all(s.stem == b.stem + "_gt" for b, s in pairs)


def test_uint16_pairs_share_the_sharp_images_range(tmp_path):
    root = tmp_path / "p"
    sharp = (np.random.default_rng(0).random((40, 40)) * 3000 + 500).astype(np.uint16)
    for sub, img in (("blur", sharp // 2), ("sharp", sharp)):
        (root / sub).mkdir(parents=True)
        tifffile.imwrite(root / sub / "a.tif", img)
    s = make_datasets(TrainConfig(pairs=str(root), patch=P, steps=1))[0][0]
    assert s["sharp"].max() == 1 and s["sharp"].min() == 0  # robust percentiles, clipped
    assert s["blurred"].mean() < s["sharp"].mean() - 0.3  # halved intensities stay darker


def _sharp_folder(tmp_path: Path, images: dict[str, np.ndarray]) -> Path:
    folder = tmp_path / "sharp"
    folder.mkdir()
    for name, img in images.items():
        if name.endswith(".tif"):  # minisblack: a stack of grey planes, never guessed to be planar RGB
            tifffile.imwrite(folder / name, img, photometric="minisblack")
        else:
            iio.imwrite(folder / name, img)
    return folder


def test_sharp_folder_with_online_camera_shake(tmp_path):
    folder = _sharp_folder(tmp_path, {"a.png": _texture(0, (64, 64)), "b.png": _texture(1, (70, 64))})
    cfg = TrainConfig(sharp=str(folder), patch=P, steps=10, blur_params={"size": 9})
    train, val = make_datasets(cfg)
    samples = _samples(train, 6)
    for s in samples:
        assert s["blurred"].shape == s["sharp"].shape == (1, P, P)
        assert (s["blurred"] - s["sharp"]).abs().mean() > 0.05  # blurred, not a copy
    assert not torch.equal(samples[0]["blurred"], samples[1]["blurred"])
    again, _ = make_datasets(cfg)
    assert all(torch.equal(again[i]["blurred"], samples[i]["blurred"]) for i in (0, 5))
    assert val[0]["sharp"].shape == (1, 2 * P, 2 * P)


def test_online_blur_is_made_from_real_surroundings(tmp_path):
    folder = _sharp_folder(tmp_path, {"a.png": _texture(0, (96, 96))})
    cfg = TrainConfig(sharp=str(folder), patch=P, steps=4, blur="defocus", blur_params={"radius": 2.0}, noise=0)
    s = make_datasets(cfg)[0][1]
    blurred, sharp = s["blurred"][0].numpy(), s["sharp"][0].numpy()
    kernel = make_kernel("defocus", radius=2.0)  # symmetric, so flips and rotations do not change it
    m = kernel.shape[0] // 2
    inside = ndimage.convolve(sharp, kernel, mode="reflect")[m:-m, m:-m]
    np.testing.assert_allclose(blurred[m:-m, m:-m], inside, atol=1e-5)
    # At the border the blur saw the image's own neighbours, not a mirrored patch.
    edge = ndimage.convolve(sharp, kernel, mode="reflect")[:m]
    assert np.abs(blurred[:m] - edge).max() > 0.01


def test_3d_stacks_give_2d_slices(tmp_path):
    stack = np.stack([np.full((40, 40), 50 * z, np.uint8) for z in range(4)])
    folder = _sharp_folder(tmp_path, {"stack.tif": stack})
    assert image_shape(folder / "stack.tif") == (4, 1, 40, 40)
    cfg = TrainConfig(sharp=str(folder), patch=P, steps=10, noise=0, blur="gaussian")
    seen = set()
    for s in _samples(make_datasets(cfg)[0], 10):
        assert s["sharp"].shape == (1, P, P)
        values = torch.unique(s["sharp"])
        assert len(values) == 1  # one constant plane, not a mix across z
        seen.add(round(values.item() * 255))
    assert len(seen) > 1 and seen <= {0, 50, 100, 150}


def test_rgb_images_give_one_colour_channel_or_three(tmp_path):
    rgb = np.empty((40, 40, 3), np.uint8)
    rgb[...] = (10, 100, 200)
    folder = _sharp_folder(tmp_path, {"c.png": rgb})
    assert image_shape(folder / "c.png") == (1, 3, 40, 40)
    cfg = TrainConfig(sharp=str(folder), patch=P, steps=10, noise=0, blur="gaussian")
    seen = {round(s["sharp"].unique().item() * 255) for s in _samples(make_datasets(cfg)[0], 10)}
    assert len(seen) > 1 and seen <= {10, 100, 200}
    tifffile.imwrite(tmp_path / "planar.tif", np.moveaxis(rgb, -1, 0), photometric="rgb", planarconfig="separate")
    assert image_shape(tmp_path / "planar.tif") == (1, 3, 40, 40)
    colour = make_datasets(cfg.replace(in_channels=3))[0][0]["sharp"]
    assert colour.shape == (3, P, P)
    np.testing.assert_allclose(colour[:, 0, 0].numpy() * 255, [10, 100, 200], atol=1e-3)


@pytest.mark.parametrize(("scenes", "channels"), [("dead_leaves", 1), ("dead_leaves", 3), ("fluorescence", 1)])
def test_procedural_scenes(scenes, channels):
    cfg = TrainConfig(scenes=scenes, patch=P, steps=5, in_channels=channels, photons=200.0, jpeg_quality=90)
    train, val = make_datasets(cfg)
    a, b = train[0], train[1]
    assert a["sharp"].shape == a["blurred"].shape == (channels, P, P)
    if scenes == "fluorescence":  # mapped like microscopy data at inference: by the blurred crop's percentiles
        low, high = np.percentile(a["blurred"].numpy(), [LOW_PERCENTILE, HIGH_PERCENTILE])
        assert abs(low) < 1e-5 and abs(high - 1) < 1e-5
    else:
        assert 0 <= a["blurred"].min() and a["blurred"].max() <= 1
    assert not torch.equal(a["sharp"], b["sharp"])
    assert not torch.equal(a["sharp"], a["blurred"])
    assert val[0]["sharp"].shape == (channels, 2 * P, 2 * P)


def test_custom_kernel_file(tmp_path):
    kernel = np.zeros((5, 5), np.float32)
    kernel[2] = 1  # horizontal motion: columns mix, a horizontal stripe pattern stays as it is
    tifffile.imwrite(tmp_path / "k.tif", kernel)
    cfg = TrainConfig(scenes="fluorescence", patch=P, steps=2, noise=0, blur="custom",
                      blur_params={"kernel": str(tmp_path / "k.tif")}).validate()
    s = make_datasets(cfg)[0][0]
    expected = ndimage.convolve(s["sharp"][0].numpy(), kernel / 5, mode="reflect")
    np.testing.assert_allclose(s["blurred"][0, :, 2:-2].numpy(), expected[:, 2:-2], atol=1e-5)


def test_validation_set_is_fixed():
    cfg = TrainConfig(scenes="dead_leaves", patch=P, steps=5, val_size=3)
    first, second = make_datasets(cfg)[1], make_datasets(cfg)[1]
    assert len(first) == 3
    for i in range(3):
        assert torch.equal(first[i]["blurred"], second[i]["blurred"])
        assert torch.equal(first[i]["sharp"], second[i]["sharp"])
    # Validation samples are not training samples.
    assert not torch.equal(make_datasets(cfg)[0][0]["sharp"][:, :P, :P], first[0]["sharp"][:, :P, :P])


def test_dataloader_with_workers_matches_the_main_process():
    cfg = TrainConfig(scenes="fluorescence", patch=P, batch=4, steps=3, blur_params={"size": 9})
    train, _ = make_datasets(cfg)
    in_process = list(DataLoader(train, batch_size=4, num_workers=0))
    with_workers = list(DataLoader(train, batch_size=4, num_workers=2))
    assert len(with_workers) == 3 and with_workers[0]["blurred"].shape == (4, 1, P, P)
    for a, b in zip(in_process, with_workers):
        assert torch.equal(a["blurred"], b["blurred"]) and torch.equal(a["sharp"], b["sharp"])


def test_layer_pairs_to_folder(tmp_path):
    blurred = [_texture(0, (40, 40)), np.zeros((36, 50, 3), np.uint8)]
    sharp = [_texture(1, (40, 40)), np.ones((36, 50, 3), np.uint8)]
    folder = layer_pairs_to_folder(blurred, sharp, tmp_path / "layers")
    pairs = find_pairs(folder)
    assert [(b.name, s.name) for b, s in pairs] == [("layer_000.tif", "layer_000.tif"),
                                                   ("layer_001.tif", "layer_001.tif")]
    assert image_shape(pairs[1][0]) == (1, 3, 36, 50)
    layer_pairs_to_folder(blurred[:1], sharp[:1], folder)  # earlier layer pairs are replaced
    assert len(find_pairs(folder)) == 1
    with pytest.raises(ValueError, match="differ in shape"):
        layer_pairs_to_folder([blurred[0]], [sharp[1]], folder)
    with pytest.raises(ValueError, match="as many sharp as blurred"):
        layer_pairs_to_folder(blurred, sharp[:1], folder)


# -- the recipe's data: the blur mixture on natural images, one intensity policy ------------------------------
def test_natural_scenes_with_the_blur_mixture():
    from napari_deblur.training.natural import VAL_IMAGES, natural_images

    cfg = TrainConfig(scenes="natural", blur="random_mix", patch=P, steps=4, batch=4, val_size=4).validate()
    train, val = make_datasets(cfg)
    assert "photographs" in train.description and "random_mix" in train.description
    samples = _samples(train, 12) + _samples(val, 4)
    for s in samples:
        assert s["blurred"].shape == s["sharp"].shape and s["blurred"].shape[0] == 1
        assert torch.isfinite(s["blurred"]).all() and 0 <= float(s["sharp"].min()) <= float(s["sharp"].max()) <= 1
    assert any(float((s["blurred"] - s["sharp"]).abs().mean()) > 0.01 for s in samples)  # blur happened
    # Validation crops come from the held-out photographs only, which training never sees.
    assert len(natural_images("val")) == len(VAL_IMAGES)
    assert not set(VAL_IMAGES) & set(__import__("napari_deblur.training.natural", fromlist=["x"]).TRAIN_IMAGES)
    assert [float(v["blurred"].sum()) for v in _samples(val, 4)] == [float(v["blurred"].sum()) for v in
                                                                      _samples(make_datasets(cfg)[1], 4)]


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "float_unit", "float_wide"])
def test_training_and_inference_normalize_alike(tmp_path, dtype):
    """The planes training reads from a file are exactly the planes the engine normalizes for inference."""
    from napari_deblur.restore.intensity import intensity_map
    from napari_deblur.training.files import load_planes, normalize

    rng = np.random.default_rng(0)
    image = {"uint8": lambda: rng.integers(0, 256, (40, 50), dtype=np.uint8),
             "uint16": lambda: rng.integers(100, 4000, (40, 50)).astype(np.uint16),
             "float_unit": lambda: rng.random((40, 50)).astype(np.float32),
             "float_wide": lambda: (rng.random((40, 50)) * 500 - 20).astype(np.float32)}[dtype]()
    path = tmp_path / "image.tif"
    tifffile.imwrite(path, image)
    planes, low, high = load_planes(path)
    training = normalize(planes, low, high)[:, 0]
    inference = np.clip(intensity_map(image[None], None).forward(image[None]), 0, 1)
    np.testing.assert_array_equal(training, inference)
    if dtype == "float_unit":  # [0, 1] floats are kept as they are at both ends
        np.testing.assert_array_equal(training[0], image)


def test_init_must_be_a_model_of_the_same_family(tmp_path):
    from napari_deblur.zoo.family import create
    from napari_deblur.zoo.weights import save_model

    path = save_model(create("srn", "small"), tmp_path / "srn.safetensors", {"family": "srn", "size": "small",
                                                                            "config": {}})
    with pytest.raises(ValueError, match="neither a model name"):
        TrainConfig(scenes="dead_leaves", init="no-such-model").validate()
    with pytest.raises(ValueError, match="same family and size"):
        TrainConfig(scenes="dead_leaves", model="nafnet", init=str(path)).validate()


def test_compile_is_a_boolean_setting():
    assert TrainConfig.from_dict({"compile": True}).compile is True
    with pytest.raises(ValueError, match="true or false"):
        TrainConfig.from_dict({"compile": "yes"})


def test_every_setting_is_declared_once_and_its_flag_and_check_come_from_it():
    import argparse
    import dataclasses

    from napari_deblur.cli import build_parser
    from napari_deblur.training.config import TRAIN_PARAMS

    declared = {p.name: p for p in TRAIN_PARAMS}
    assert set(declared) | {"blur_params"} == {f.name for f in dataclasses.fields(TrainConfig)}
    assert all(p.default == getattr(TrainConfig(), p.name) for p in TRAIN_PARAMS)
    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    train = commands.choices["train"]
    flags = {a.dest[len("cfg_"):]: a for a in train._actions if a.dest.startswith("cfg_")}
    assert set(flags) == set(declared) | {"blur_params"}
    assert all(p.help in flags[p.name].help.replace("%%", "%") for p in TRAIN_PARAMS)
    with pytest.raises(ValueError, match="'batch' must be <= 1024"):  # a declared maximum is a check too
        TrainConfig(batch=2000, scenes="dead_leaves").validate()
