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
from napari_deblur.bioimageio import TRACEABLE_FAMILIES, run_bioimageio_test  # noqa: E402
from napari_deblur.cli import main  # noqa: E402
from napari_deblur.zoo import create, save_model  # noqa: E402
from napari_deblur.zoo.weights import shipped_weight_dirs  # noqa: E402

SHIPPED = sorted(p.stem for folder in shipped_weight_dirs() if folder.is_dir() for p in folder.glob("*.safetensors"))
#: SRN and the Swin U-Net do not trace at every size yet (issue 19's closing note): they are refused, tested below.
EXPORTABLE = [name for name in SHIPPED if name.split("-")[0] in TRACEABLE_FAMILIES]


@pytest.mark.parametrize("name", EXPORTABLE)
def test_every_shipped_model_exports_validates_and_passes_the_zoo_test(name, tmp_path):
    package = nd.export_bioimageio(name, tmp_path / f"{name}.zip")
    description = load_description(package)
    assert isinstance(description, ModelDescr), description  # an invalid one loads as InvalidDescr
    names = set(zipfile.ZipFile(package).namelist())
    assert {"rdf.yaml", "weights.pt", "test_input.npy", "test_output.npy", "README.md", "cover.png"} <= names
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


def test_what_cannot_be_exported_is_refused(tmp_path):
    bgan = save_model(create("bgan", "small"), tmp_path / "g.safetensors",
                      {"family": "bgan", "size": "small", "config": {}, "training": {}})
    with pytest.raises(ValueError, match="makes blur rather than removing it"):
        nd.export_bioimageio(str(bgan), tmp_path / "g.zip")
    srn = save_model(create("srn", "small"), tmp_path / "s.safetensors",
                     {"family": "srn", "size": "small", "config": {}, "training": {}})
    with pytest.raises(ValueError, match="srn networks cannot be exported to TorchScript"):
        nd.export_bioimageio(str(srn), tmp_path / "s.zip")
    with pytest.raises(ValueError, match="No model"):
        nd.export_bioimageio("no-such-model", tmp_path / "x.zip")
    with pytest.raises(ValueError, match=r"\.zip"):
        nd.export_bioimageio("nafnet-small", tmp_path / "x.tar")
    (tmp_path / "exists.zip").write_bytes(b"")
    assert main(["export", "nafnet-small", str(tmp_path / "exists.zip"), "--no-test"]) == 2  # not overwritten
    assert main(["export", "nafnet-small", str(tmp_path / "exists.zip"), "--no-test", "--overwrite"]) == 0
    assert isinstance(load_description(tmp_path / "exists.zip"), ModelDescr)
