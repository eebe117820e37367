"""The Synthesize-blur dock widget under Xvfb: kind fields, live kernel preview, blurred and kernel layers with
provenance, seeded variants; and the npe2 sample data."""

from __future__ import annotations

import numpy as np
import pytest

napari = pytest.importorskip("napari")

import napari_deblur as nd  # noqa: E402
from napari_deblur.samples import blurred_cells_3d, blurred_photo  # noqa: E402
from napari_deblur.widgets.synth import SynthesizeBlurWidget  # noqa: E402

pytestmark = pytest.mark.gui


@pytest.fixture
def viewer_with_sharp(make_napari_viewer, sharp):
    viewer = make_napari_viewer()
    viewer.add_image(sharp, name="sharp", scale=(0.5, 0.25), translate=(3, 4), colormap="viridis")
    return viewer


def test_apply_adds_blurred_and_kernel_layers_with_metadata(viewer_with_sharp, sharp):
    viewer = viewer_with_sharp
    widget = SynthesizeBlurWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.kind.value = "linear_motion"
    widget.params.basic["length"].value = 9.0
    widget.seed.value = 5
    widget.noise.value = 0.02
    widget.apply()

    blurred = viewer.layers["sharp blurred (linear_motion)"]
    kernel = viewer.layers["sharp kernel (linear_motion)"]
    expected, expected_kernel = nd.synthesize_blur(sharp, "linear_motion", seed=5, noise=0.02, length=9.0)
    np.testing.assert_allclose(blurred.data, expected, atol=1e-6)
    np.testing.assert_allclose(kernel.data, expected_kernel)
    np.testing.assert_allclose(blurred.scale, (0.5, 0.25))
    np.testing.assert_allclose(blurred.translate, (3, 4))
    for layer in (blurred, kernel):
        meta = layer.metadata["napari_deblur"]
        assert meta["synthesized"] == "linear_motion" and meta["source"] == "sharp"
        assert meta["params"]["length"] == 9.0 and meta["params"]["seed"] == 5 and meta["params"]["noise"] == 0.02
    assert widget.apply_button.enabled


def test_preview_follows_fields_and_new_seed(viewer_with_sharp):
    widget = SynthesizeBlurWidget(viewer_with_sharp)
    widget.kind.value = "camera_shake"
    widget.seed.value = 1
    first = widget.current_kernel()
    assert widget.preview.pixmap() is not None and not widget.preview.pixmap().isNull()
    widget.roll_seed()
    assert not np.array_equal(first, widget.current_kernel())
    widget.kind.value = "defocus"
    widget.params.basic["radius"].value = 3.0
    np.testing.assert_allclose(widget.current_kernel(), nd.make_kernel("defocus", radius=3.0))
    assert "disk" in widget.kind_help.value.lower()
    widget.kind.value = "custom"
    assert not widget.kernel_layer.native.isHidden()  # shown for custom (the dock itself is not shown)
    assert "no kernel" in widget.preview.text()


def test_variants_stack_along_a_new_axis(viewer_with_sharp, sharp):
    viewer = viewer_with_sharp
    widget = SynthesizeBlurWidget(viewer)
    widget.kind.value = "camera_shake"
    widget.variants.value = 3
    widget.seed.value = 10
    widget.make_variants()
    layer = viewer.layers["sharp blurred (camera_shake) x3"]
    assert layer.data.shape == (3, *sharp.shape)
    np.testing.assert_allclose(layer.scale, (1.0, 0.5, 0.25))
    np.testing.assert_allclose(layer.data[2], nd.synthesize_blur(sharp, "camera_shake", seed=12)[0], atol=1e-6)
    assert viewer.layers["sharp kernel (camera_shake)"].data.shape[0] == 3


def test_custom_kind_without_kernel_reports_error(viewer_with_sharp):
    widget = SynthesizeBlurWidget(viewer_with_sharp)
    widget.kind.value = "custom"
    widget.apply()
    assert "needs a kernel layer" in widget.status.value
    assert len(viewer_with_sharp.layers) == 1


def test_sample_data():
    sharp, blurred, kernel = blurred_photo()
    assert blurred[0].shape == sharp[0].shape and blurred[0].dtype == np.uint8
    assert kernel[0].sum() == pytest.approx(1.0, abs=1e-5)
    assert blurred[1]["rgb"] and not np.array_equal(blurred[0], sharp[0])
    truth, stack, psf = blurred_cells_3d()
    assert stack[0].shape == truth[0].shape and stack[0].ndim == 3 and stack[0].dtype == np.uint16
    assert psf[0].ndim == 3 and stack[1]["scale"] == truth[1]["scale"]
    np.testing.assert_array_equal(blurred_photo()[1][0], blurred[0])  # seeded: the same every time


def test_learned_kind_blurs_with_a_trained_blur_generator(viewer_with_sharp, sharp, tmp_path, monkeypatch):
    import torch

    from napari_deblur.zoo import create, save_model

    monkeypatch.setenv("NAPARI_DEBLUR_MODEL_DIR", str(tmp_path))
    generator = create("bgan", "small")
    torch.nn.init.normal_(generator.tail.weight, std=0.01)
    save_model(generator, tmp_path / "my-camera.safetensors", {"family": "bgan", "size": "small", "config": {},
                                                                "training": {}})
    viewer = viewer_with_sharp
    widget = SynthesizeBlurWidget(viewer)
    widget.kind.value = "learned"
    assert widget.generator.visible or not widget.generator.native.isHidden()
    assert widget.noise.native.isHidden() and "blur generator" in widget.kind_help.value
    widget.apply()  # no generator chosen yet: says what to do
    assert "needs a blur generator" in widget.status.value
    widget.generator.value = "my-camera"
    widget.seed.value = 4
    widget.apply()
    blurred = viewer.layers["sharp blurred (learned)"]
    expected, _ = nd.synthesize_blur(sharp, "learned", model="my-camera", seed=4)
    np.testing.assert_allclose(blurred.data, expected, atol=1e-6)
    assert "sharp kernel (learned)" not in viewer.layers  # a learned blur has no kernel
    assert blurred.metadata["napari_deblur"]["params"]["model"] == "my-camera"
