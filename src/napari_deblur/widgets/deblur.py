"""The "Deblur" dock widget: pick a layer and a method, get a deblurred layer.

Method fields are generated from the registry, so zoo models appear here without widget code. The work
runs in a napari thread worker (Cancel quits it between tiles); settings persist between sessions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from magicgui.widgets import CheckBox, ComboBox, Container, Label, LineEdit, ProgressBar, PushButton, SpinBox

from napari_deblur.hardware import resolve_device
from napari_deblur.psfs import BLIND_METHOD, PSF_METHOD, default_request
from napari_deblur.psfs.named import ENGINE_KEYWORDS, request_steps
from napari_deblur.restore.engine import deblur_steps, drain
from napari_deblur.restore.lazy import is_dask
from napari_deblur.restore.methods import get_method, list_methods, on_methods_changed
from napari_deblur.widgets._dock import Dock
from napari_deblur.widgets._layers import (
    check_image_layer,
    guess_axes,
    layer_psf,
    looks_like_psf,
    output_layer_kwargs,
    preferred_image,
    preferred_psf,
)
from napari_deblur.widgets._packages import (
    NEW_PACKAGE,
    NEW_PACKAGE_HELP,
    open_package,
    package_choices,
    package_field,
    uses_package,
)
from napari_deblur.widgets._params import ParamPanel, show_zero_as
from napari_deblur.widgets._psf_source import PsfSource
from napari_deblur.widgets._run import start
from napari_deblur.widgets._settings import load_settings, restore_fields, save_settings, saved_dict
from napari_deblur.zoo.family import FAMILIES
from napari_deblur.zoo.registration import family_models, method_purpose

if TYPE_CHECKING:
    import napari

SETTINGS = "deblur_widget"


class DeblurWidget(Dock):
    """Dock widget: image, method, PSF, method parameters, tiles, device, Run / Cancel, progress."""

    def __init__(self, napari_viewer: napari.Viewer) -> None:
        super().__init__(napari_viewer)
        self._settings = load_settings(SETTINGS)
        names = [s.name for s in list_methods()]
        method = self._settings.get("method") if self._settings.get("method") in names else _default_method(names)

        self.image = ComboBox(label="image", choices=self._image_layers, nullable=False)
        self.method = ComboBox(label="method", choices=self._method_choices, value=method)
        self.method_help = Label(value="")
        self.psf = ComboBox(label="PSF", choices=self._image_layers, nullable=True,
                            tooltip="The point-spread function, as an image layer (2D, or 3D for z-stacks).")
        self.axes = LineEdit(label="axes", tooltip="One letter per dimension from TCZYX; blank = guess.")
        self.tile_size = SpinBox(label="tile size", value=0, min=0,
                                 max=16384, step=64, tooltip="0 = automatic (whole image for classical).")
        show_zero_as(self.tile_size, "auto")
        restore_fields(self._settings, {"tile_size": self.tile_size})
        resolved = resolve_device("auto").type
        devices = [f"auto ({resolved})", "cpu"] + (["cuda"] if resolved == "cuda" else []) + \
                  (["mps"] if resolved == "mps" else [])
        saved_device = self._settings.get("device")
        self.device = ComboBox(label="device", choices=devices,
                               value=saved_device if saved_device in devices else devices[0])
        self.lazy = CheckBox(label="lazy", value=True, tooltip="For dask-backed layers (e.g. large zarr files): "
                             "the result is a lazy layer, each plane deblurred when napari shows it.")
        self.run_button = PushButton(text="Run")
        self.cancel_button = PushButton(text="Cancel", enabled=False)
        self.progress = ProgressBar(label="progress", value=0, min=0, max=1)
        self.status = Label(value="")

        self.params = ParamPanel()
        self.psf_source = PsfSource(self.viewer, self.psf, self._image_and_axes)
        psf = self.psf_source
        self.package = package_field()
        self.package.changed.connect(self._open_package)
        self.extend([self.image, self.method, self.method_help, self.package, psf.source, self.psf, *psf.fields(),
                     self.params.basic, self.axes, self.tile_size, self.device, self.lazy])
        self.pin([self.run_button, self.cancel_button], self.progress, self.status)
        self.params.place(self)
        self.psf_source.optics.place(self)
        self.psf_source.add_button.clicked.connect(self._add_psf_layer)
        self.psf_source.measure_button.clicked.connect(self._measure_beads)
        self.psf_source.estimate_button.clicked.connect(self._estimate_kernel)

        self.method.changed.connect(self._on_method_changed)
        self.image.changed.connect(self._on_image_changed)
        self.run_button.clicked.connect(self.run)
        self.cancel_button.clicked.connect(self.cancel)
        for event in ("inserted", "removed", "reordered", "changed"):
            getattr(self.viewer.layers.events, event).connect(self._refresh_layers)
        self.viewer.layers.selection.events.active.connect(self._on_active_layer)
        on_methods_changed(self._refresh_methods)
        self._pick_layers()
        if self.psf.value is not None:  # a layer that looks like a PSF is there: take the PSF from it
            self.psf_source.use_layer()  # (without one, the kernel is estimated from the image: the blind default)
            if method == BLIND_METHOD or not get_method(method).needs_psf:  # and the API's method for a given PSF
                method = self.method.value = PSF_METHOD
        self._on_method_changed(method)
        self._on_image_changed(self.image.value)

    def _refresh_methods(self) -> None:
        """Re-read the method list (it changed: a model trained, a package opened), so a new model shows at once."""
        self.method.reset_choices()
        self._update_availability()

    # -- layer choices -------------------------------------------------------------------------
    def _refresh_layers(self, event: Any = None) -> None:
        self.image.reset_choices()
        self.psf.reset_choices()
        self.psf_source.refresh()
        if getattr(event, "type", None) == "inserted":
            self._pick_layers()

    def _pick_layers(self) -> None:
        """Image: what the user looks at; PSF: a layer that looks like one, unless the user chose another."""
        layers = self._image_layers()
        image = preferred_image(self.viewer, layers)
        if image is not None:
            self.image.value = image
        if self.psf.value is None or self.psf.value is image:
            self.psf.value = preferred_psf(layers, image)

    def _on_active_layer(self, event: Any) -> None:
        """Selecting an image layer in napari's layer list makes it the one to deblur (PSF-like ones excepted)."""
        layers = self._image_layers()
        if event.value in layers and not looks_like_psf(event.value, layers):
            self.image.value = event.value

    def _on_image_changed(self, layer: Any) -> None:
        self.axes.value = guess_axes(layer) if layer is not None else ""
        self.psf_source.follow_image(layer)
        self.lazy.visible = layer is not None and is_dask(layer.data)

    @staticmethod
    def _method_choices(_widget: Any = None) -> list[tuple[str, str]]:
        """(label, name) pairs: a network says what its model is for, or that it has no weights yet."""
        choices = []
        for spec in list_methods():
            if spec.why_unavailable():
                label = f"{spec.name} (untrained)"
            elif spec.needs_psf:
                label = f"{spec.name}: needs a PSF"
            else:
                purpose = method_purpose(spec.name)
                label = f"{spec.name}: {purpose}" if purpose else spec.name
            choices.append((label, spec.name))
        return choices + package_choices()

    # -- method parameters ---------------------------------------------------------------------
    def _on_method_changed(self, name: str) -> None:
        self.package.visible = uses_package(name)  # the zoo package field only where a package is the method
        if name == NEW_PACKAGE:  # no package yet: nothing to set until one is opened, and Run says so
            self.method_help.value = NEW_PACKAGE_HELP
            self.psf_source.set_visible(False)
            self.params.show((), {})
            self._update_availability()
            return
        spec = get_method(name)
        self.method_help.value = spec.description
        self.psf_source.set_visible(spec.needs_psf)
        saved = saved_dict(saved_dict(self._settings, "params"), name)
        self.params.show(spec.params, saved)
        if spec.weights_family and "weights" in [w.name for w in self.params.advanced]:
            _weights_drop_down(self.params.advanced, spec.weights_family, saved.get("weights", ""))
        for w in self.params.widgets():
            w.changed.connect(self._update_availability)
        self._update_availability()
        self.fit_contents(self.params.advanced)

    def param_values(self) -> dict[str, Any]:
        return self.params.values()

    def _update_availability(self, _value: Any = None) -> None:
        """Grey out Run, with the reason, when the method cannot run (e.g. an untrained network)."""
        name = self.method.value
        reason = "open a package" if name == NEW_PACKAGE else get_method(name).why_unavailable(self.param_values())
        running = self._worker is not None
        self.run_button.enabled = reason is None and not running
        self.run_button.text = f"Run ({reason})" if reason else "Run"

    # -- running -------------------------------------------------------------------------------
    def _request(self) -> dict[str, Any]:
        layer = self.image.value
        if layer is None:
            raise ValueError("No image layer: open an image first.")
        check_image_layer(layer)
        spec = get_method(self.method.value)
        axes = self.axes.value.strip().upper() or None
        psf = self.psf_source.psf_for(layer, axes) if spec.needs_psf else None
        return {
            "layer": layer, "method": spec.name, "psf": psf, "params": self.param_values(), "axes": axes,
            "tile_size": self.tile_size.value or None,
            "device": "auto" if self.device.value.startswith("auto") else self.device.value,
        }

    def _image_and_axes(self) -> tuple[Any, str | None]:
        return self.image.value, self.axes.value.strip().upper() or None

    def _open_package(self, path: object) -> None:
        if not str(path) or not str(path).endswith((".zip", ".yaml")):
            return
        try:
            name = open_package(str(path))
        except (ValueError, ImportError, OSError) as err:
            self._show_error(err)
            return
        self.method.reset_choices()
        self.method.value = name
        self.status.value = f"Opened {name}: Run uses it."

    def _psf_action(self, action: Callable[[], Any], report: Callable[[Any], str]) -> None:
        """Run one of the PSF buttons' actions; the status line says what it made, or why it could not."""
        try:
            made = action()
        except (ValueError, TypeError) as err:
            self._show_error(err)
            return
        self.status.value = report(made)

    def _add_psf_layer(self) -> None:
        self._psf_action(self.psf_source.add_layer, lambda layer: f"Added {layer.name} "
                         f"{'x'.join(map(str, layer.data.shape))}: Run uses this PSF.")

    def _measure_beads(self) -> None:
        self._psf_action(self.psf_source.measure_beads, lambda result: result.summary())

    def _estimate_kernel(self) -> None:
        self._psf_action(self.psf_source.estimate, lambda layer: f"Estimated a {layer.data.shape[0]}x"
                         f"{layer.data.shape[1]} kernel from the image: Run uses it as the PSF.")

    def _save(self) -> None:
        params = dict(saved_dict(self._settings, "params"))
        params[self.method.value] = self.param_values()
        self._settings = {"method": self.method.value, "params": params, "tile_size": self.tile_size.value,
                          "device": self.device.value}
        save_settings(SETTINGS, self._settings)

    def run(self) -> None:
        """Start deblurring the selected layer (results arrive as a new layer)."""
        try:
            req = self._request()
        except (ValueError, TypeError) as err:
            self._show_error(err)
            return
        self._save()
        layer = req["layer"]

        kwargs = dict(axes=req["axes"], rgb=layer.rgb or None, tile_size=req["tile_size"],
                      device=req["device"], **req["params"])
        lazy = is_dask(layer.data) and self.lazy.value
        # psf="estimate": the plane is read here (the viewer's position), the kernel estimated in the worker.
        plane = self.psf_source.plane(layer, req["axes"]) if isinstance(req["psf"], str) else None

        def make_steps():  # a dask layer stays lazy: only its intensity sampling runs now
            psf = req["psf"] if plane is None else (yield from self.psf_source.estimate_steps(*plane, layer.rgb))
            data = layer.data if lazy else np.asarray(layer.data)
            result = yield from deblur_steps(data, req["method"], psf=psf, **kwargs)
            return result, (psf if plane is not None else None)

        def on_return(outcome: tuple[Any, np.ndarray | None]) -> None:
            result, kernel = outcome
            if kernel is not None:
                self.psf_source.add_kernel_layer(kernel, layer)
            out = output_layer_kwargs(layer, req["method"], req["params"], req["axes"] or "")
            self.viewer.add_image(result, **{k: v for k, v in out.items() if v is not None})
            if layer in self._image_layers():  # napari selects the new layer; the next Run still deblurs the input
                self.image.value = layer
            how = " (lazy: each plane is deblurred when shown)" if lazy else ""
            self.status.value = f"Done: {out['name']}{how}"

        self.run_button.enabled, self.cancel_button.enabled = False, True
        self.progress.value = 0
        self.status.value = f"Running {req['method']} on {layer.name}..."
        self._worker = start(make_steps, on_yield=self._on_progress, on_return=on_return,
                             on_error=self._show_error, on_finish=self._on_finish)

    def cancel(self) -> None:
        if self._worker is not None:
            self._worker.quit()
            self.status.value = "Cancelled."

    def _on_progress(self, event: Any) -> None:
        self.progress.max = max(event.total, 1)
        self.progress.value = event.done
        self.status.value = event.message

    def _on_finish(self) -> None:
        self._worker = None
        self.cancel_button.enabled = False
        self._update_availability()


def _default_method(names: list[str]) -> str:
    """The blind default of the API and the CLI (with *PSF from* "estimate"), else the first method."""
    return BLIND_METHOD if BLIND_METHOD in names else names[0]


def _weights_drop_down(advanced: Container, family: str, saved: str) -> None:
    """Replace the free-text ``weights`` field with a drop-down of the family's shipped and trained models."""
    index = [w.name for w in advanced].index("weights")
    old = advanced[index]
    shipped = "shipped model for the chosen size" if FAMILIES[family].deblurs else "shipped model"
    choices = [(shipped, ""), *family_models(family)]
    if saved and saved not in [value for _, value in choices]:
        choices.append((saved, saved))  # a path typed in an earlier version stays selectable
    advanced.remove(old)
    advanced.insert(index, ComboBox(name="weights", label="weights", choices=choices, value=saved,
                                    tooltip=old.tooltip))


def deblur_layer(layer: Any, method: str | None = None, *, psf: Any = None,
                 viewer: napari.Viewer | None = None, axes: str | None = None, **kwargs: Any):
    """Deblur a napari Image layer from the console; return the new layer (added to ``viewer`` if given).

    ``psf`` may be an array, an Image layer or a name (``"estimate"``, ``"widefield"``, ...); the method and PSF
    default as in :func:`napari_deblur.deblur`. Other keywords go to :func:`napari_deblur.deblur`.
    """
    from napari.layers import Image

    check_image_layer(layer)
    method, psf = default_request(method, psf)  # the method's name is the result layer's
    if psf is not None and not isinstance(psf, np.ndarray | str):
        psf = layer_psf(psf)
    axes = axes or (guess_axes(layer) if layer.data.ndim > 2 else None)
    data = layer.data if is_dask(layer.data) else np.asarray(layer.data)  # dask stays lazy, as napari keeps it
    engine = {k: kwargs.pop(k) for k in ENGINE_KEYWORDS if k in kwargs}
    result, _ = drain(request_steps(data, method, psf, axes=axes, rgb=layer.rgb or None, params=kwargs, **engine))
    spec = get_method(method)
    params = spec.resolve_params({k: v for k, v in kwargs.items() if k in {p.name for p in spec.params}})
    layer_kwargs = output_layer_kwargs(layer, method, params, axes or "")
    new = Image(result, **{k: v for k, v in layer_kwargs.items() if v is not None})
    if viewer is not None:
        viewer.layers.append(new)
    return new
