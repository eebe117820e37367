"""BioImage Model Zoo export (issue 19): every shipped model becomes a package that bioimageio.spec validates and
bioimageio.core's own test passes, offline; what cannot be exported is refused with the reason."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

pytest.importorskip("bioimageio.core")

from bioimageio.spec import load_description  # noqa: E402
from bioimageio.spec.model.v0_5 import ModelDescr  # noqa: E402

import napari_deblur as nd  # noqa: E402
from napari_deblur.bioimageio import run_bioimageio_test  # noqa: E402
from napari_deblur.cli import main  # noqa: E402
from napari_deblur.zoo import create, save_model  # noqa: E402
from napari_deblur.zoo.weights import shipped_weight_dirs  # noqa: E402
from tests.sharpen_package import sharpen_package  # noqa: E402

SHIPPED = sorted(p.stem for folder in shipped_weight_dirs() if folder.is_dir() for p in folder.glob("*.safetensors"))


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_model_exports_validates_and_passes_the_zoo_test(name, tmp_path):
    package = nd.export_bioimageio(name, tmp_path / f"{name}.zip")
    description = load_description(package)
    assert isinstance(description, ModelDescr), description  # an invalid one loads as InvalidDescr
    names = set(zipfile.ZipFile(package).namelist())
    assert {"rdf.yaml", "weights.pt", "state_dict.pt", "environment.yaml", "test_input.npy", "test_output.npy",
            "README.md", "cover.png"} <= names
    assert description.weights.torchscript is not None and description.weights.pytorch_state_dict is not None
    assert description.config.napari_deblur["card"]["family"] in name  # the model card travels along
    assert [str(a.id) for a in description.inputs[0].axes] == ["batch", "channel", "y", "x"]
    assert run_bioimageio_test(package)


def test_the_test_output_is_our_engine_in_normalized_units(tmp_path):
    package = nd.export_bioimageio("nafnet-small", tmp_path / "m.zip")
    with zipfile.ZipFile(package) as z:
        z.extractall(tmp_path / "unpacked")
    image = np.load(tmp_path / "unpacked" / "test_input.npy")[0, 0]
    expected = np.load(tmp_path / "unpacked" / "test_output.npy")[0, 0]
    low, high = np.percentile(image, [0.1, 99.9])
    ours = nd.deblur(image, "nafnet", precision="float32", output_dtype="float32")
    np.testing.assert_allclose((ours - low) / (high - low), expected, atol=1e-5)


def test_what_cannot_be_exported_is_refused(tmp_path, capsys):
    bgan = save_model(create("bgan", "small"), tmp_path / "g.safetensors",
                      {"family": "bgan", "size": "small", "config": {}, "training": {}})
    with pytest.raises(ValueError, match="makes blur rather than removing it"):
        nd.export_bioimageio(str(bgan), tmp_path / "g.zip")
    with pytest.raises(ValueError, match="No model"):
        nd.export_bioimageio("no-such-model", tmp_path / "x.zip")
    with pytest.raises(ValueError, match=r"\.zip"):
        nd.export_bioimageio("nafnet-small", tmp_path / "x.tar")
    (tmp_path / "exists.zip").write_bytes(b"")
    assert main(["export", "nafnet-small", str(tmp_path / "exists.zip"), "--no-test"]) == 2  # not overwritten
    capsys.readouterr()
    assert main(["export", "nafnet-small", str(tmp_path / "exists.zip"), "--no-test", "--overwrite"]) == 0
    assert isinstance(load_description(tmp_path / "exists.zip"), ModelDescr)
    stages = [line for line in capsys.readouterr().out.splitlines() if line.startswith("[")]
    assert len(stages) >= 5 and "tracing" in stages[2] and "validating" in stages[-1]  # never minutes of silence


@pytest.mark.parametrize("family", ["nafnet", "srn"])  # SRN: its scales on sides that are not multiples of 16
def test_an_exported_model_imported_back_gives_what_the_model_gives(family, tmp_path):
    import dask.array as da

    package = str(nd.export_bioimageio(f"{family}-small", tmp_path / f"{family}.zip"))
    image = np.random.default_rng(1).random((150, 170)).astype(np.float32) * 3000 + 100  # camera counts
    for kwargs in ({}, {"tile_size": 64}):
        ours = nd.deblur(image, family, precision="float32", output_dtype="float32", **kwargs)
        theirs = nd.deblur(image, package, precision="float32", output_dtype="float32", **kwargs)
        assert np.abs(ours - theirs).max() <= 1e-4 * np.abs(ours).max(), kwargs
    lazy = nd.deblur(da.from_array(image, chunks=(75, 85)), package, precision="float32", output_dtype="float32")
    np.testing.assert_allclose(lazy.compute(), nd.deblur(image, family, precision="float32",
                                                         output_dtype="float32"), atol=1e-4 * np.abs(image).max())
    out = tmp_path / "out.tif"
    import tifffile

    tifffile.imwrite(tmp_path / "in.tif", image)
    assert main(["deblur", str(tmp_path / "in.tif"), str(out), "--method", package, "--float32"]) == 0
    assert tifffile.imread(out).shape == image.shape


def test_a_swin_unet_package_follows_the_window_layout_of_every_size(tmp_path):
    """The Swin U-Net picks its windows, padding and shift from each map's size in Python (compiled with TorchScript
    in the package): whole images with a windowed bottleneck (300 px) and tiles with a global one must both match."""
    swin = save_model(create("swin_unet", "small"), tmp_path / "s.safetensors",
                      {"family": "swin_unet", "size": "small", "config": {}, "training": {}})
    package = str(nd.export_bioimageio(str(swin), tmp_path / "s.zip"))
    assert run_bioimageio_test(package)
    image = np.random.default_rng(3).random((300, 170)).astype(np.float32) * 3000 + 100
    for kwargs in ({}, {"tile_size": 64}):
        ours = nd.deblur(image, str(swin), precision="float32", output_dtype="float32", **kwargs)
        theirs = nd.deblur(image, package, precision="float32", output_dtype="float32", **kwargs)
        assert np.abs(ours - theirs).max() <= 1e-4 * np.abs(ours).max(), kwargs


def test_a_package_made_without_our_code_runs_with_its_preprocessing(tmp_path):
    from scipy import ndimage

    package = str(sharpen_package(tmp_path / "sharpen"))
    image = (np.random.default_rng(2).random((90, 110)) * 4000 + 200).astype(np.uint16)
    expected = ndimage.convolve(image.astype(np.float64), np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]]),
                                mode="mirror")
    # Sharpening is affine-equivariant: undoing the declared preprocessing gives it in the data's own units.
    for kwargs in ({}, {"tile_size": 48}):
        out = nd.deblur(image, package, output_dtype="float32", precision="float32", **kwargs)
        np.testing.assert_allclose(out, expected, rtol=1e-4, atol=0.05 * image.std())
    assert "BioImage Model Zoo package: sharpen" in nd.get_method(package).description


def test_a_package_that_runs_its_own_code_needs_trust(tmp_path):
    """pytorch_state_dict weights are built by the package's Python file: refused until the user trusts it."""
    package = str(sharpen_package(tmp_path / "code", weights="pytorch_state_dict"))
    image = (np.random.default_rng(4).random((60, 70)) * 4000 + 200).astype(np.float32)
    assert "trust_code" in [p.name for p in nd.get_method(package).params]
    assert "trust code" in nd.get_method(package).why_unavailable()
    assert nd.get_method(package).why_unavailable({"trust_code": True}) is None
    with pytest.raises(ValueError, match=r"own Python code \(Sharpen from .*sharpen_arch.py\).*trust_code=True"):
        nd.deblur(image, package)
    trusted = nd.deblur(image, package, trust_code=True, output_dtype="float32", precision="float32")
    torchscript = str(sharpen_package(tmp_path / "script"))
    np.testing.assert_allclose(trusted, nd.deblur(image, torchscript, output_dtype="float32", precision="float32"),
                               rtol=1e-5, atol=1e-3)
    out = tmp_path / "out.tif"
    import tifffile

    tifffile.imwrite(tmp_path / "in.tif", image)
    assert main(["deblur", str(tmp_path / "in.tif"), str(out), "--method", package, "--float32"]) == 2
    assert not out.exists()
    assert main(["deblur", str(tmp_path / "in.tif"), str(out), "--method", package, "--float32",
                 "--trust-code", "--precision", "float32"]) == 0
    np.testing.assert_allclose(tifffile.imread(out), trusted, rtol=1e-5, atol=1e-3)


def test_packages_that_are_not_image_to_image_restorers_are_refused(tmp_path):
    segmentation = str(sharpen_package(tmp_path / "two", out_channels=2))
    with pytest.raises(ValueError, match="2 output channels"):
        nd.deblur(np.zeros((32, 32), np.float32), segmentation)
    with pytest.raises(ValueError, match="not a readable BioImage Model Zoo package"):
        (tmp_path / "broken.zip").write_bytes(b"not a zip")
        nd.deblur(np.zeros((32, 32), np.float32), str(tmp_path / "broken.zip"))
