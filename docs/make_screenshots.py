"""Make the README's pictures of the widgets on a 1366x768 laptop screen:
python docs/make_screenshots.py [deblur synth train psf] (all four by default; under
xvfb-run -a -s "-screen 0 1366x768x24" if headless)."""

from __future__ import annotations

from pathlib import Path

import napari
import numpy as np

from napari_deblur.widgets._layout import LAPTOP_SCREEN
from napari_deblur.widgets.deblur import DeblurWidget
from napari_deblur.widgets.synth import SynthesizeBlurWidget

OUT = Path(__file__).parent / "images"


def main() -> None:
    """The Deblur widget as a user meets it: the plugin's blurred-photo sample open, defaults untouched (the
    blurred photo; with the sample's kernel layer taken for the PSF, Richardson-Lucy), Run; the canvas shows
    before | after."""
    from napari_deblur.samples import blurred_photo

    viewer = napari.Viewer(title="napari-deblur", show=True)
    viewer.window.resize(*LAPTOP_SCREEN)
    for data, kwargs, _ in blurred_photo():
        viewer.add_image(data, **kwargs)
    widget = DeblurWidget(viewer)
    viewer.window.add_dock_widget(widget, name="Deblur", area="right")
    widget.run()
    blurred = viewer.layers["astronaut blurred (camera_shake)"]
    result = viewer.layers[-1].data
    gap = np.zeros((blurred.data.shape[0], 8, 3), blurred.data.dtype)
    viewer.add_image(np.concatenate([blurred.data, gap, result], axis=1), name="before | after", rgb=True)
    widget.image.value = blurred  # the dock offers the new layer next; the picture shows what was deblurred
    for layer in viewer.layers[:-1]:
        layer.visible = False
    OUT.mkdir(exist_ok=True)
    for _ in range(3):  # the dock settles its width over a few passes; the view fits the canvas left beside it
        napari.qt.get_qapp().processEvents()
    viewer.reset_view()
    napari.qt.get_qapp().processEvents()
    viewer.screenshot(str(OUT / "deblur_widget.png"), canvas_only=False)
    widget.native.grab().save(str(OUT / "deblur_widget_panel.png"))
    viewer.close()


def synth_screenshot() -> None:
    """The Synthesize-blur widget after Apply on the astronaut: blurred layer, kernel preview."""
    from skimage import data

    viewer = napari.Viewer(title="napari-deblur", show=True)
    viewer.window.resize(*LAPTOP_SCREEN)
    viewer.add_image(data.astronaut(), name="astronaut", rgb=True)
    widget = SynthesizeBlurWidget(viewer)
    viewer.window.add_dock_widget(widget, name="Synthesize blur", area="right")
    widget.kind.value = "camera_shake"
    widget.seed.value = 3
    widget.apply()
    viewer.layers["astronaut"].visible = False
    viewer.layers["astronaut kernel (camera_shake)"].visible = False
    napari.qt.get_qapp().processEvents()
    viewer.reset_view()
    napari.qt.get_qapp().processEvents()
    viewer.screenshot(str(OUT / "synth_widget.png"), canvas_only=False)
    viewer.close()


def train_screenshot() -> None:
    """The training widget after a short run on procedural dead leaves: the loss/PSNR plot, and the model's
    output on a blurred photo in the preview layer, over the photo.

    The model and the widget's settings go to temporary folders, so making the picture leaves the user's alone.
    """
    import os
    import tempfile
    import time

    from napari_deblur.widgets.train import TrainWidget

    scratch = Path(tempfile.mkdtemp(prefix="napari-deblur-screenshot-"))
    os.environ["NAPARI_DEBLUR_MODEL_DIR"] = str(scratch / "models")
    os.environ["NAPARI_DEBLUR_CONFIG_DIR"] = str(scratch / "config")
    viewer = napari.Viewer(title="napari-deblur", show=True)
    viewer.window.resize(*LAPTOP_SCREEN)
    from skimage import data

    import napari_deblur as nd

    # The user's own blurred photo, on which the widget previews the model at every validation.
    blurred, _ = nd.synthesize_blur(data.camera(), "camera_shake", seed=3, noise=0.01, size=15)
    photo = viewer.add_image(blurred, name="blurred photo")
    widget = TrainWidget(viewer)
    viewer.window.add_dock_widget(widget, name="Train a deblurring model", area="right")
    widget.source.value = "procedural scenes"
    widget.scenes.value = "dead_leaves"
    widget.blur.value = "camera_shake"
    widget.blur_panel.basic["size"].value = 15
    widget.model.value, widget.size.value = "nafnet", "small"
    widget.steps.value, widget.batch.value, widget.patch.value = 300, 4, 64
    widget.val_every.value = 50
    widget.preview_on.value = photo
    widget.start()
    app = napari.qt.get_qapp()
    deadline = time.monotonic() + 900
    while widget.running and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.05)
    app.processEvents()
    widget.estimator.run()  # the estimate line beside Start (timed inline: workers are synchronous here)
    scroll = widget.root_native_widget.verticalScrollBar()
    scroll.setValue(scroll.maximum())  # the form scrolled to its end: the loss and validation PSNR plot
    viewer.reset_view()
    app.processEvents()
    viewer.screenshot(str(OUT / "train_widget.png"), canvas_only=False)
    viewer.close()


def psf_screenshot() -> None:
    """The Deblur dock on the plugin's 3D cells sample with *PSF from: widefield*: the optics filled in, the pixel
    size and z-step read from the layer's scale, *Add PSF layer*, then Richardson-Lucy; the canvas shows the
    deblurred stack beside the blurred one at the middle plane."""
    from napari_deblur.samples import blurred_cells_3d

    viewer = napari.Viewer(title="napari-deblur", show=True)
    viewer.window.resize(*LAPTOP_SCREEN)
    for data, kwargs, _ in blurred_cells_3d():
        viewer.add_image(data, **kwargs)
    blurred = viewer.layers["cells blurred (widefield)"]
    viewer.layers.remove("widefield PSF")  # the user has no PSF: the dock makes it from the optics
    widget = DeblurWidget(viewer)
    viewer.window.add_dock_widget(widget, name="Deblur", area="right")
    widget.image.value = blurred
    widget.method.value = "richardson_lucy"
    widget.psf_source.source.value = "widefield"
    fields = {w.name: w for w in widget.psf_source.optics.widgets()}
    fields["na"].value, fields["wavelength"].value, fields["ni"].value = 1.2, 0.52, 1.33
    widget._add_psf_layer()
    widget.run()
    result = viewer.layers[-1]
    widget.image.value = blurred  # the dock offers the new layer next; the picture shows what was deblurred
    viewer.grid.enabled = True
    for layer in viewer.layers:
        layer.visible = layer in (blurred, result)
    for layer in (blurred, result):
        layer.contrast_limits = (float(np.percentile(layer.data, 1)), float(np.percentile(layer.data, 99.9)))
    viewer.dims.set_current_step(0, blurred.data.shape[0] // 2)
    napari.qt.get_qapp().processEvents()
    viewer.reset_view()
    napari.qt.get_qapp().processEvents()
    viewer.screenshot(str(OUT / "deblur_psf_widget.png"), canvas_only=False)
    viewer.close()


if __name__ == "__main__":
    import os
    import sys

    os.environ.setdefault("NAPARI_DEBLUR_SYNC_WORKERS", "1")
    shots = {"deblur": main, "synth": synth_screenshot, "train": train_screenshot, "psf": psf_screenshot}
    for name in sys.argv[1:] or shots:
        shots[name]()
