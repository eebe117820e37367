"""The Deblur dock widget under Xvfb: layers in, a deblurred layer out, with geometry and provenance."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio as psnr

napari = pytest.importorskip("napari")

from napari_deblur.widgets.deblur import DeblurWidget, deblur_layer  # noqa: E402

pytestmark = pytest.mark.gui


@pytest.fixture
def viewer_with_data(make_napari_viewer, blurred, motion_kernel):
    viewer = make_napari_viewer()
    viewer.add_image(blurred, name="blurry", scale=(0.5, 0.25), translate=(3, 4), colormap="magma")
    viewer.add_image(motion_kernel, name="psf")
    return viewer


def test_widget_runs_richardson_lucy_and_adds_layer(viewer_with_data, sharp):
    viewer = viewer_with_data
    widget = DeblurWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.image.value = viewer.layers["blurry"]
    widget.method.value = "richardson_lucy"
    widget.psf.value = viewer.layers["psf"]
    widget.params.basic["iterations"].value = 15
    widget.run()

    name = "blurry deblurred (richardson_lucy)"
    assert name in viewer.layers
    out = viewer.layers[name]
    assert out.data.shape == viewer.layers["blurry"].data.shape
    assert out.data.dtype == np.float32
    np.testing.assert_allclose(out.scale, (0.5, 0.25))
    np.testing.assert_allclose(out.translate, (3, 4))
    assert out.colormap.name == "magma"
    meta = out.metadata["napari_deblur"]
    assert meta["method"] == "richardson_lucy"
    assert meta["params"]["iterations"] == 15
    assert meta["source"] == "blurry"
    blurry = viewer.layers["blurry"].data
    assert psnr(sharp, np.clip(out.data, 0, 1), data_range=1) > psnr(sharp, blurry, data_range=1) + 1
    assert widget.progress.value == widget.progress.max
    assert widget.run_button.enabled and not widget.cancel_button.enabled
    assert widget.image.value is viewer.layers["blurry"]  # not the result napari selected: Run again, same input


def test_layer_choices_follow_viewer(make_napari_viewer):
    viewer = make_napari_viewer()
    widget = DeblurWidget(viewer)
    assert widget.image.choices == ()
    layer = viewer.add_image(np.zeros((32, 32), np.float32), name="late")
    assert layer in widget.image.choices
    viewer.add_labels(np.zeros((32, 32), np.uint8), name="labels")
    assert all(isinstance(c, napari.layers.Image) for c in widget.image.choices)
    viewer.layers.remove(layer)
    assert layer not in widget.image.choices


def test_defaults_are_what_is_on_screen_and_the_kernel(make_napari_viewer):
    """With the blurred-photo sample open: the visible blurred image (not the hidden original) and its kernel;
    selecting another image in the layer list makes it the one to deblur."""
    from napari_deblur.samples import blurred_photo

    viewer = make_napari_viewer()
    for data, kwargs, _ in blurred_photo():
        viewer.add_image(data, **kwargs)
    widget = DeblurWidget(viewer)
    assert widget.image.value is viewer.layers["astronaut blurred (camera_shake)"]
    assert widget.psf.value is viewer.layers["camera_shake kernel"]
    assert widget.method.value == "richardson_lucy"  # with a PSF at hand, the classical default (as the API)
    viewer.layers.selection.active = viewer.layers["astronaut (sharp)"]
    assert widget.image.value is viewer.layers["astronaut (sharp)"]
    viewer.layers.selection.active = viewer.layers["camera_shake kernel"]  # a PSF is never the image
    assert widget.image.value is viewer.layers["astronaut (sharp)"]
    # A layer added later: an unnamed small array beside a large image is taken for the PSF too.
    other = make_napari_viewer()
    late = DeblurWidget(other)
    big = other.add_image(np.zeros((256, 256), np.float32), name="scan")
    small = other.add_image(np.ones((15, 15), np.float32), name="measured")
    assert late.image.value is big and late.psf.value is small


def test_the_dock_hears_of_methods_registered_and_removed_after_it_opened(make_napari_viewer, request):
    """A model trained or a package opened while the dock is open shows in its list at once."""
    from napari_deblur.restore.methods import unregister

    widget = DeblurWidget(make_napari_viewer())
    assert "test_linear" not in widget.method.choices
    spec = request.getfixturevalue("identity_method")  # registered now, after the dock opened
    assert spec.name in widget.method.choices
    unregister(spec.name)
    assert spec.name not in widget.method.choices


def test_method_fields_come_from_registry(make_napari_viewer):
    widget = DeblurWidget(make_napari_viewer())
    widget.method.value = "wiener"
    assert set(widget.param_values()) == {"balance", "regularizer", "psf_scale", "psf_scale_z", "psf_centering"}
    # No PSF layer: the PSF is estimated from the image (the blind default); the layer field shows for "a layer".
    assert not widget.psf_source.source.native.isHidden() and widget.psf.native.isHidden()
    widget.psf_source.source.value = "a layer"
    assert not widget.psf.native.isHidden()
    assert widget.params.basic["balance"].native.text() == "0.0100"  # the decimals the value needs, not 0.010000
    widget.method.value = "richardson_lucy"
    assert "iterations" in widget.param_values() and "balance" not in widget.param_values()
    tv = widget.params.basic["tv_weight"]
    tv.value = 0.0
    assert tv.native.text() == "auto" and widget.param_values()["tv_weight"] == 0.0  # 0 says what it means
    tv.value = 0.002
    assert tv.native.text() == "0.0020"
    assert widget.tile_size.label == "tile size (0 = auto)"  # an integer box says it in its label


def test_blind_method_hides_psf_and_appears_without_widget_code(make_napari_viewer, identity_method):
    widget = DeblurWidget(make_napari_viewer())
    assert identity_method.name in widget.method.choices
    widget.method.value = identity_method.name
    assert widget.psf.native.isHidden()
    assert set(widget.param_values()) == {"gain", "mode"}


def test_settings_persist_between_sessions(viewer_with_data, make_napari_viewer):
    widget = DeblurWidget(viewer_with_data)
    widget.method.value = "wiener"
    widget.params.basic["balance"].value = 0.0042
    widget.psf.value = viewer_with_data.layers["psf"]
    widget.run()
    again = DeblurWidget(make_napari_viewer())
    assert again.method.value == "wiener"
    assert again.params.basic["balance"].value == pytest.approx(0.0042)


def test_missing_psf_reports_error_and_keeps_running(viewer_with_data):
    widget = DeblurWidget(viewer_with_data)
    widget.method.value = "wiener"
    widget.psf.value = None
    n_layers = len(viewer_with_data.layers)
    widget.run()
    assert "needs a PSF" in widget.status.value
    assert len(viewer_with_data.layers) == n_layers
    assert widget.run_button.enabled


def test_non_image_layer_is_refused(make_napari_viewer, motion_kernel):
    viewer = make_napari_viewer()
    labels = viewer.add_labels(np.zeros((32, 32), np.uint8), name="cells")
    with pytest.raises(TypeError, match="Labels layer.*choose an Image layer"):
        deblur_layer(labels, "wiener", psf=motion_kernel)


def test_console_helper_returns_layer_with_geometry(viewer_with_data):
    viewer = viewer_with_data
    new = deblur_layer(viewer.layers["blurry"], "wiener", psf=viewer.layers["psf"], viewer=viewer, balance=0.02)
    assert new.name == "blurry deblurred (wiener)"
    assert new in viewer.layers
    np.testing.assert_allclose(new.scale, (0.5, 0.25))
    assert new.metadata["napari_deblur"]["params"]["balance"] == 0.02


def test_threaded_run_and_cancel(viewer_with_data, qtbot, monkeypatch):
    """The real thread worker: a run finishes and adds its layer; Cancel stops a long run early."""
    monkeypatch.setenv("NAPARI_DEBLUR_SYNC_WORKERS", "0")
    viewer = viewer_with_data
    widget = DeblurWidget(viewer)
    widget.image.value = viewer.layers["blurry"]
    widget.method.value = "wiener"
    widget.psf.value = viewer.layers["psf"]
    widget.run()
    qtbot.waitUntil(lambda: "blurry deblurred (wiener)" in viewer.layers, timeout=30000)
    qtbot.waitUntil(lambda: widget._worker is None, timeout=10000)

    big = viewer.add_image(np.random.default_rng(0).random((1024, 1024), dtype=np.float32), name="big")
    widget.image.value = big
    widget.method.value = "richardson_lucy"
    widget.params.basic["iterations"].value = 100
    widget.tile_size.value = 128
    widget.run()
    qtbot.waitUntil(lambda: widget.progress.value > 0, timeout=30000)
    widget.cancel()
    qtbot.waitUntil(lambda: widget._worker is None, timeout=30000)
    assert "big deblurred (richardson_lucy)" not in viewer.layers
    assert widget.run_button.enabled


def _save_model(folder, name, family, purpose):
    from napari_deblur.zoo.family import create
    from napari_deblur.zoo.weights import save_model

    card = {"family": family, "size": "small", "config": {}, "purpose": purpose}
    return save_model(create(family, "small"), folder / f"{name}.safetensors", card)


def test_untrained_network_is_marked_and_models_are_offered_by_name(make_napari_viewer, tmp_path, monkeypatch,
                                                                  no_shipped_weights):
    from magicgui.widgets import ComboBox

    monkeypatch.setenv("NAPARI_DEBLUR_MODEL_DIR", str(tmp_path / "models"))
    viewer = make_napari_viewer()
    viewer.add_image(np.random.default_rng(0).random((40, 40), dtype=np.float32), name="img")
    widget = DeblurWidget(viewer)
    labels = dict((name, label) for label, name in widget._method_choices())
    assert labels["srn"] == "srn (untrained)" and labels["wiener"] == "wiener: needs a PSF"
    widget.method.value = "srn"
    assert not widget.run_button.enabled and "untrained" in widget.run_button.text
    # A model trained for the family is offered in a drop-down, by name and purpose (no path to type).
    _save_model(tmp_path / "models", "my-srn", "srn", "Deblurs my confocal stacks")
    widget.method.value = "wiener"
    widget.method.value = "srn"
    weights = widget.params.advanced["weights"]
    assert isinstance(weights, ComboBox)
    assert "my-srn" in weights.choices
    assert "my-srn: Deblurs my confocal stacks" in [weights.native.itemText(i) for i in range(weights.native.count())]
    weights.value = "my-srn"
    assert widget.run_button.enabled
    widget.run()
    assert "img deblurred (srn)" in viewer.layers


def test_the_general_network_is_listed_with_its_purpose(make_napari_viewer, tmp_path, monkeypatch):
    monkeypatch.setenv("NAPARI_DEBLUR_MODEL_DIR", str(tmp_path / "models"))
    _save_model(tmp_path / "models", "nafnet-small", "nafnet", "General deblurring: photographs")
    widget = DeblurWidget(make_napari_viewer())
    assert widget.method.value == "hyper_laplacian"  # the blind default measured best (docs/benchmarks.md)
    widget.method.value = "nafnet"
    assert not widget.psf.visible and not widget.psf_source.source.visible
    labels = dict((name, label) for label, name in widget._method_choices())
    assert labels["nafnet"] == "nafnet: General deblurring: photographs"


def test_dask_layer_gives_a_lazy_result_layer(make_napari_viewer, qtbot):
    import dask.array as da

    from napari_deblur.widgets.deblur import deblur_layer

    viewer = make_napari_viewer()
    rng = np.random.default_rng(0)
    stack = da.from_array(rng.random((4, 96, 96), dtype=np.float32), chunks=(1, 96, 96))
    layer = viewer.add_image(stack, name="stack")
    viewer.add_image(np.ones((3, 3), np.float32), name="psf")
    widget = DeblurWidget(viewer)
    widget.image.value = layer
    assert not widget.lazy.native.isHidden() and widget.lazy.value  # offered, and on, for dask layers
    widget.method.value = "wiener"
    widget.psf.value = viewer.layers["psf"]
    widget.axes.value = "ZYX"
    widget.run()
    qtbot.waitUntil(lambda: "stack deblurred (wiener)" in viewer.layers, timeout=30000)
    result = viewer.layers["stack deblurred (wiener)"]
    assert isinstance(result.data, da.Array) and result.data.chunks == stack.chunks
    assert "lazy" in widget.status.value
    console = deblur_layer(layer, "wiener", psf=np.ones((3, 3)), axes="ZYX")
    assert isinstance(console.data, da.Array)
    np.testing.assert_allclose(np.asarray(result.data[2]), console.data[2].compute())

    widget.image.value = viewer.layers["psf"]  # an in-memory layer: nothing lazy to offer
    assert widget.lazy.native.isHidden()


def test_psf_from_the_microscope_at_the_layers_pixel_size(make_napari_viewer):
    from scipy import signal

    from napari_deblur.psfs import optics_psf
    from napari_deblur.synth.scenes import random_scene

    viewer = make_napari_viewer()
    sharp = random_scene((96, 96), "fluorescence", seed=3)
    psf = optics_psf("widefield", ndim=2, na=1.2, wavelength=0.6, pixel_size=0.1)
    blurred = (signal.fftconvolve(sharp, psf, mode="same") * 1000 + 100).astype(np.uint16)
    layer = viewer.add_image(blurred, name="cells", scale=(0.1, 0.1))
    widget = DeblurWidget(viewer)
    widget.image.value = layer
    widget.method.value = "richardson_lucy"
    widget.psf_source.source.value = "widefield"
    assert not widget.psf_source.optics.basic.native.isHidden() and widget.psf.native.isHidden()
    fields = {w.name: w for w in widget.psf_source.optics.widgets()}
    widget._on_image_changed(layer)
    assert fields["pixel_size"].value == pytest.approx(0.1)  # from the layer's scale
    assert widget.psf_source.sampling.value == "Pixel size from the image layer's scale."
    uncalibrated = viewer.add_image(blurred, name="no scale")
    widget._on_image_changed(uncalibrated)
    assert "carries no pixel size" in widget.psf_source.sampling.value  # the field's value is shown as unsure
    viewer.layers.remove(uncalibrated)
    widget.image.value = layer
    assert widget.psf_source.sampling.value == "Pixel size from the image layer's scale."
    fields["na"].value, fields["wavelength"].value = 1.2, 0.6
    widget._add_psf_layer()
    added = viewer.layers["PSF (widefield)"]
    np.testing.assert_allclose(added.data, psf, atol=1e-6)
    assert tuple(added.scale) == pytest.approx((0.1, 0.1))
    request = widget._request()
    np.testing.assert_allclose(request["psf"], psf, atol=1e-6)
    fields["pixel_size"].value = 0.65  # the camera's pixel, not divided by the magnification
    widget.run()
    assert "narrower than one pixel" in widget.status.value


def test_psf_measured_from_a_bead_layer_becomes_the_psf(make_napari_viewer):
    from napari_deblur.synth.psf import widefield_psf
    from tests.helpers import ncc, render_beads

    rng = np.random.default_rng(4)
    truth = widefield_psf(na=1.2, wavelength=0.6, pixel_size=0.1, ndim=2)
    truth = truth / truth.sum()
    beads = [(np.array([30 + 45 * i + rng.random(), 30 + 45 * j + rng.random()]), 1e4)
             for i in range(3) for j in range(3)]
    image = render_beads((160, 160), truth, beads, rng).astype(np.uint16)
    viewer = make_napari_viewer()
    layer = viewer.add_image(image, name="beads", scale=(0.1, 0.1))
    widget = DeblurWidget(viewer)
    widget.method.value = "richardson_lucy"
    widget.psf_source.source.value = "beads (measure)"
    assert not widget.psf_source.measure_button.native.isHidden() and widget.psf.native.isHidden()
    widget.psf_source.bead_image.value = layer
    widget._measure_beads()
    psf_layer = viewer.layers["PSF (beads)"]
    side = psf_layer.data.shape[0]  # five FWHM across, chosen from the beads: compare the same window
    cut = slice((truth.shape[0] - side) // 2, (truth.shape[0] + side) // 2)
    assert "9 beads averaged" in widget.status.value and ncc(psf_layer.data, truth[cut, cut]) >= 0.98
    assert tuple(psf_layer.scale) == (0.1, 0.1) and len(viewer.layers["beads used"].data) == 9
    assert widget.psf_source.source.value == "a layer" and widget.psf.value is psf_layer  # Run uses it now
    marks = viewer.add_points([[30.5, 30.5]], name="my bead", scale=(0.1, 0.1))
    widget.psf_source.source.value = "beads (measure)"
    widget.psf_source.bead_points.value = marks
    assert len(widget.psf_source.measure_beads().used) == 1  # only the bead the user marked


def test_the_blind_default_without_a_psf_layer(make_napari_viewer, blurred):
    viewer = make_napari_viewer()
    viewer.add_image(blurred, name="photo")
    widget = DeblurWidget(viewer)
    assert widget.method.value == "hyper_laplacian" and widget.psf_source.source.value == "estimate (from image)"
    widget.run()
    assert "photo deblurred (hyper_laplacian)" in viewer.layers and "PSF (estimated)" in viewer.layers


def test_kernel_estimated_from_the_plane_on_screen_becomes_the_psf(make_napari_viewer):
    from napari_deblur.psfs import estimate_kernel
    from tests.helpers import levin_case

    blurred, _, _ = levin_case(13, 5)
    stack = np.stack([np.zeros_like(blurred), blurred])  # the second plane is the blurred photo
    viewer = make_napari_viewer()
    layer = viewer.add_image(stack, name="blurred", scale=(1.0, 0.5, 0.5))
    viewer.dims.set_current_step(0, 1)
    widget = DeblurWidget(viewer)
    widget.method.value = "wiener"
    widget.image.value = layer
    widget.psf_source.source.value = "estimate (from image)"
    assert not widget.psf_source.estimate_button.native.isHidden() and widget.psf.native.isHidden()
    widget.psf_source.kernel_size.value = 21
    widget.run()  # Run estimates the kernel in its worker, shows it, and deblurs with it
    shown = viewer.layers["PSF (estimated)"]
    np.testing.assert_allclose(shown.data, estimate_kernel(blurred, 21))  # from the plane on screen
    assert "blurred deblurred (wiener)" in viewer.layers and widget.psf_source.source.value == "estimate (from image)"
    viewer.layers.remove(shown)
    widget.image.value = layer  # the dock moved to the result (issue 30): back to the blurred stack
    viewer.dims.set_current_step(0, 1)
    widget._estimate_kernel()
    kernel = viewer.layers["PSF (estimated)"]
    side = kernel.data.shape[0]
    assert kernel.data.shape == (side, side) and side <= 21 and abs(kernel.data.sum() - 1) < 1e-4
    np.testing.assert_allclose(kernel.data, estimate_kernel(blurred, 21))
    assert tuple(kernel.scale) == (0.5, 0.5) and f"{side}x{side} kernel" in widget.status.value
    assert widget.psf_source.source.value == "a layer" and widget.psf.value is kernel


def test_the_zoo_package_field_shows_only_for_the_package_choice(make_napari_viewer):
    from napari_deblur.widgets._packages import NEW_PACKAGE

    widget = DeblurWidget(make_napari_viewer())
    for method in ("richardson_lucy", "nafnet"):
        widget.method.value = method
        assert widget.package.native.isHidden(), method
    widget.method.value = NEW_PACKAGE  # the method list's "BioImage Model Zoo package (open a .zip)..."
    assert not widget.package.native.isHidden() and "BioImage Model Zoo" in widget.method_help.value
    assert widget.param_values() == {} and widget.psf_source.source.native.isHidden()
    assert not widget.run_button.enabled and widget.run_button.text == "Run (open a package)"
    widget.method.value = "richardson_lucy"
    assert widget.package.native.isHidden() and widget.run_button.enabled


def test_a_zoo_package_opened_in_the_dock_joins_the_methods_and_runs(make_napari_viewer, tmp_path):
    pytest.importorskip("bioimageio.spec")
    import napari_deblur as nd
    from napari_deblur.widgets import _packages
    from tests.sharpen_package import sharpen_package

    package = nd.export_bioimageio("nafnet-small", tmp_path / "nafnet.zip")
    viewer = make_napari_viewer()
    image = np.random.default_rng(3).random((64, 80)).astype(np.float32)
    layer = viewer.add_image(image, name="blurred")
    widget = DeblurWidget(viewer)
    widget.image.value = layer
    (tmp_path / "broken.zip").write_bytes(b"no")
    widget.package.value = str(tmp_path / "broken.zip")
    assert "not a readable BioImage Model Zoo package" in widget.status.value
    widget.package.value = str(package)
    try:
        assert widget.method.value == str(package.resolve()) and "Opened" in widget.status.value
        assert not widget.package.native.isHidden()  # a package is the method: its field stays to open another
        assert "nafnet.zip: BioImage Model Zoo package" in [label for label, _ in DeblurWidget._method_choices()]
        widget.run()
        result = viewer.layers[-1].data
        np.testing.assert_allclose(result, nd.deblur(image, str(package)), atol=1e-5)
        # Weights that need the package's own code: a "trust code" box, and Run stays grey until it is ticked.
        widget.package.value = str(sharpen_package(tmp_path / "code", weights="pytorch_state_dict"))
        trust = next(w for w in widget.params.widgets() if w.name == "trust_code")
        assert not widget.run_button.enabled and "trust code" in widget.run_button.text
        trust.value = True
        assert widget.run_button.enabled
    finally:
        _packages.OPENED.clear()  # other tests see the method list as a fresh session does


def test_a_psf_layer_with_a_channel_axis_gives_each_channel_its_psf(make_napari_viewer, blurred, motion_kernel):
    """Two colours, two PSFs: a PSF layer (C, Y, X) beside an image layer whose axes name C."""
    viewer = make_napari_viewer()
    two = np.stack([blurred, blurred[:, ::-1]])
    psfs = np.stack([motion_kernel, motion_kernel[:, ::-1]])
    image = viewer.add_image(two, name="two colours", axis_labels=("c", "y", "x"))
    viewer.add_image(psfs, name="psfs")
    widget = DeblurWidget(viewer)
    widget.image.value, widget.method.value = image, "wiener"
    widget.psf_source.use_layer()  # PSF from: a layer
    widget.psf.value = viewer.layers["psfs"]
    assert widget.axes.value == "CYX"
    widget.run()
    out = viewer.layers["two colours deblurred (wiener)"].data
    expected = [deblur_layer(image, "wiener", psf=p, axes="CYX").data for p in (psfs, psfs[0])]
    np.testing.assert_allclose(out, expected[0], atol=1e-6)
    assert np.abs(out[1] - expected[1][1]).max() > 0.05  # the second channel was not given the first one's PSF
