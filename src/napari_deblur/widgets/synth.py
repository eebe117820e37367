"""The "Synthesize blur" dock widget: blur a layer realistically, with a live kernel preview.

Kind fields come from the blur-kind specs (as the deblur widget's come from the method registry); kind "learned"
runs a trained blur generator instead (zoo/learned_blur.py). Apply adds the blurred layer and its kernel; "Make N
variants" stacks N seeded variants along a new axis (training data).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from magicgui.widgets import ComboBox, FloatSpinBox, Label, LineEdit, PushButton, SpinBox

from napari_deblur.synth.degrade import stack_kernels
from napari_deblur.synth.kinds import get_kind, list_kinds
from napari_deblur.synth.synthesize import blur_variants, synthesize_blur
from napari_deblur.widgets._dock import Dock
from napari_deblur.widgets._kernel_preview import KernelPreview
from napari_deblur.widgets._layers import check_image_layer, guess_axes
from napari_deblur.widgets._params import ParamPanel, float_box, show_zero_as
from napari_deblur.widgets._run import start
from napari_deblur.widgets._settings import load_settings, restore_fields, save_settings, saved_dict
from napari_deblur.zoo.bgan import BGAN
from napari_deblur.zoo.learned_blur import LEARNED
from napari_deblur.zoo.registration import family_models

if TYPE_CHECKING:
    import napari

SETTINGS = "synth_widget"
MAX_SEED = 2**31 - 1
LEARNED_HELP = ("Blur made by a blur generator trained on real blurred images (no kernel): looks like the "
                "camera or microscope it learned from.")


def _blur_steps(fn, *args, **kwargs):
    """One-step generator, so the work runs in the same worker machinery as deblurring."""
    yield None
    return fn(*args, **kwargs)


class SynthesizeBlurWidget(Dock):
    """Dock widget: image, kind and its parameters, noise, JPEG, seed, preview, Apply / Make N variants."""

    def __init__(self, napari_viewer: napari.Viewer) -> None:
        super().__init__(napari_viewer)
        self._settings = load_settings(SETTINGS)
        names = [k.name for k in list_kinds() if not k.needs_kernel] + ["custom", LEARNED]
        kind = self._settings.get("kind") if self._settings.get("kind") in names else names[0]

        self.image = ComboBox(label="image", choices=self._image_layers, nullable=False)
        self.kind = ComboBox(label="kind", choices=names, value=kind)
        self.kind_help = Label(value="")
        self.kernel_layer = ComboBox(label="kernel", choices=self._image_layers, nullable=True,
                                     tooltip="For kind 'custom': the kernel, as an image layer.")
        self.generator = ComboBox(label="blur generator", choices=lambda _w: family_models(BGAN), nullable=True,
                                  tooltip="For kind 'learned': a blur generator trained on real blurred images "
                                          "(Train dock, 'sharp folder + learned blur', model bgan).")
        self.noise = float_box(0.01, min=0, max=1, step=0.005, decimals=4, zero="off",
                               label="noise", tooltip="Gaussian noise sigma, as a fraction of the range.")
        self.photons = float_box(0.0, min=0, max=1e6, step=100, zero="off",
                                 label="photons", tooltip="Poisson shot noise: photons at the white level.")
        self.jpeg = SpinBox(label="JPEG quality", value=0, min=0, max=100,
                            tooltip="JPEG-compress the result at this quality.")
        show_zero_as(self.jpeg, "off")
        self.depth = ComboBox(label="depth map", choices=self._image_layers, nullable=True,
                              tooltip="Optional depth map or mask in [0, 1]: spatially varying blur.")
        self.focus = FloatSpinBox(label="focus", value=0.0, min=0, max=1, step=0.05,
                                  tooltip="With a depth map: the depth that stays sharp.")
        self.seed = SpinBox(label="seed", value=0, min=0, max=MAX_SEED)
        self.new_seed = PushButton(text="New seed")
        self.axes = LineEdit(label="axes", tooltip="One letter per dimension from TCZYX; blank = guess.")
        self.apply_button = PushButton(text="Apply")
        self.variants = SpinBox(label="variants", value=8, min=2, max=1000,
                                tooltip="How many seeded variants 'Make N variants' stacks.")
        self.variants_button = PushButton(text="Make N variants")
        restore_fields(self._settings, {"noise": self.noise, "photons": self.photons, "jpeg": self.jpeg,
                                        "seed": self.seed})
        self.status = Label(value="")
        self.preview = KernelPreview()

        self.params = ParamPanel()
        self.extend([self.image, self.kind, self.kind_help, self.kernel_layer, self.generator, self.params.basic,
                     self.noise, self.photons, self.jpeg, self.depth, self.focus, self.seed, self.new_seed, self.axes])
        self.pin(self.apply_button, [self.variants, self.variants_button], self.status)
        self.params.place(self)
        self.form_layout.insertWidget(self.index(self.kind_help) + 1, self.preview)

        self.kind.changed.connect(self._on_kind_changed)
        self.image.changed.connect(self._on_image_changed)
        self.kernel_layer.changed.connect(self.update_preview)
        self.seed.changed.connect(self.update_preview)
        self.new_seed.clicked.connect(self.roll_seed)
        self.apply_button.clicked.connect(self.apply)
        self.variants_button.clicked.connect(self.make_variants)
        for event in ("inserted", "removed", "reordered", "changed"):
            getattr(self.viewer.layers.events, event).connect(self._refresh_layers)
        self._on_kind_changed(kind)
        self._on_image_changed(self.image.value)

    # -- choices -----------------------------------------------------------------------------------
    def _refresh_layers(self, _event: Any = None) -> None:
        for combo in (self.image, self.kernel_layer, self.depth):
            combo.reset_choices()

    def _on_image_changed(self, layer: Any) -> None:
        self.axes.value = guess_axes(layer) if layer is not None and layer.data.ndim > 2 else ""

    def _on_kind_changed(self, name: str) -> None:
        learned = name == LEARNED
        self.generator.visible = learned
        for field in (self.noise, self.photons, self.jpeg, self.depth, self.focus):
            field.visible = not learned  # the generator makes its own noise and has no depth-varying mode
        if learned:
            self.generator.reset_choices()
            self.kind_help.value = LEARNED_HELP
            self.kernel_layer.visible = False
            self.params.show((), {}, self.update_preview)
            self.update_preview()
            return
        kind = get_kind(name)
        self.kind_help.value = kind.description
        self.kernel_layer.visible = kind.needs_kernel
        self.params.show(kind.params, saved_dict(saved_dict(self._settings, "params"), name), self.update_preview)
        self.update_preview()
        self.fit_contents(self.params.advanced)

    def param_values(self) -> dict[str, Any]:
        return self.params.values()

    def roll_seed(self) -> None:
        self.seed.value = int(np.random.default_rng().integers(MAX_SEED))

    # -- preview -----------------------------------------------------------------------------------
    def current_kernel(self) -> np.ndarray:
        """The kernel the current fields make (2D; the 3D PSF when the image is a z-stack)."""
        from napari_deblur.synth.kinds import make_kernel

        kind = get_kind(self.kind.value)
        kernel = np.asarray(self.kernel_layer.value.data) if kind.needs_kernel and self.kernel_layer.value else None
        ndim = 3 if kind.supports_3d and "Z" in self.axes.value.upper() else 2
        return make_kernel(kind.name, seed=self.seed.value, ndim=ndim, kernel=kernel, **self.param_values())

    def update_preview(self, _value: Any = None) -> None:
        if self.kind.value == LEARNED:
            self.preview.show_kernel(None, "no kernel: the blur generator blurs the image itself")
            return
        try:
            self.preview.show_kernel(self.current_kernel())
        except (ValueError, TypeError) as err:
            self.preview.show_kernel(None, f"no kernel: {err}")

    # -- applying ----------------------------------------------------------------------------------
    def _request(self) -> dict[str, Any]:
        layer = self.image.value
        if layer is None:
            raise ValueError("No image layer: open an image first.")
        check_image_layer(layer)
        if self.kind.value == LEARNED:
            if self.generator.value is None:
                raise ValueError("Kind 'learned' needs a blur generator: train one in the Train dock (model bgan) "
                                 "and choose it here.")
            return {"layer": layer, "kind": LEARNED, "kwargs": {
                "seed": self.seed.value, "axes": self.axes.value.strip().upper() or None, "rgb": layer.rgb or None,
                "model": self.generator.value}}
        kind = get_kind(self.kind.value)
        kwargs: dict[str, Any] = {
            "seed": self.seed.value, "noise": self.noise.value, "photons": self.photons.value or None,
            "jpeg_quality": self.jpeg.value or None, "axes": self.axes.value.strip().upper() or None,
            "rgb": layer.rgb or None, **self.param_values(),
        }
        if kind.needs_kernel:
            if self.kernel_layer.value is None:
                raise ValueError("Kind 'custom' needs a kernel layer; add one and select it as kernel.")
            kwargs["kernel"] = np.asarray(self.kernel_layer.value.data)
        if self.depth.value is not None:
            kwargs["depth"] = np.asarray(self.depth.value.data, dtype=np.float32)
            kwargs["focus"] = self.focus.value
        return {"layer": layer, "kind": kind.name, "kwargs": kwargs}

    def _save(self) -> None:
        params = dict(saved_dict(self._settings, "params"))
        if self.kind.value != LEARNED:
            params[self.kind.value] = self.param_values()
        self._settings = {"kind": self.kind.value, "params": params, "noise": self.noise.value,
                          "photons": self.photons.value, "jpeg": self.jpeg.value, "seed": self.seed.value}
        save_settings(SETTINGS, self._settings)

    def apply(self) -> None:
        """Add ``<input> blurred (<kind>)`` and its kernel as new layers."""
        self._run(variants=None)

    def make_variants(self) -> None:
        """Add N seeded variants stacked along a new first axis (seeds seed .. seed + N - 1)."""
        self._run(variants=self.variants.value)

    def _run(self, variants: int | None) -> None:
        try:
            req = self._request()
        except (ValueError, TypeError) as err:
            self._show_error(err)
            return
        self._save()
        layer, kind, kwargs = req["layer"], req["kind"], req["kwargs"]
        data = np.asarray(layer.data)
        if variants is None:
            steps = lambda: _blur_steps(synthesize_blur, data, kind, **kwargs)  # noqa: E731
        else:
            seed = kwargs.pop("seed")
            steps = lambda: _blur_steps(blur_variants, data, variants, kind, seed=seed, **kwargs)  # noqa: E731

        def on_return(result: tuple[np.ndarray, Any]) -> None:
            blurred, kernel = result
            self._add_layers(layer, kind, kwargs, blurred, kernel, variants)

        self.apply_button.enabled = self.variants_button.enabled = False
        self.status.value = f"Blurring {layer.name} ({kind})..."
        self._worker = start(steps, on_yield=lambda _e: None, on_return=on_return, on_error=self._show_error,
                             on_finish=self._on_finish)

    def _add_layers(self, layer: Any, kind: str, kwargs: dict[str, Any], blurred: np.ndarray, kernel: Any,
                    variants: int | None) -> None:
        params = {k: v for k, v in kwargs.items() if k not in ("kernel", "depth", "rgb")}
        meta = {"napari_deblur": {"synthesized": kind, "params": params, "source": layer.name,
                                  "variants": variants}}
        scale, translate = list(layer.scale), list(layer.translate)
        name = f"{layer.name} blurred ({kind})"
        if variants is not None:
            scale, translate, name = [1.0, *scale], [0.0, *translate], f"{name} x{variants}"
        self.viewer.add_image(blurred, name=name, scale=scale, translate=translate, rgb=layer.rgb,
                              colormap=None if layer.rgb else layer.colormap.name, metadata=meta)
        if kind != LEARNED:  # a learned blur has no kernel to show
            kernels = kernel if variants is None else stack_kernels(kernel)
            self.viewer.add_image(np.asarray(kernels, np.float32), name=f"{layer.name} kernel ({kind})",
                                  colormap="magma", metadata=meta)
        self.status.value = f"Done: {name}"

    def _on_finish(self) -> None:
        self._worker = None
        self.apply_button.enabled = self.variants_button.enabled = True

