"""The "Train a deblurring model" dock widget: data, model and steps in; a live loss plot and a model file out.

Training runs in a subprocess (:class:`~napari_deblur.training.process.TrainingProcess`), so napari never freezes
and a crash or out-of-memory never takes it down; a QTimer polls its JSON events into the progress bar, the
plot and a "training preview" layer. Stop is graceful (the last checkpoint is kept); Resume continues from it.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from magicgui.widgets import (
    ComboBox,
    Container,
    FileEdit,
    Label,
    LineEdit,
    ProgressBar,
    PushButton,
    SpinBox,
)
from qtpy.QtCore import QTimer
from qtpy.QtWidgets import QSizePolicy
from superqt import QCollapsible

from napari_deblur.hardware import training_device_text
from napari_deblur.restore.methods import methods_changed
from napari_deblur.synth.kinds import get_kind, list_kinds
from napari_deblur.synth.scenes import KINDS as SCENES
from napari_deblur.training.config import FIELD_HELP, LOSSES, TrainConfig, train_param
from napari_deblur.training.estimate import TimeLeft, default_steps
from napari_deblur.training.events import ENDINGS, Error, Event, Finished, Started, Step, Stopped, Validation
from napari_deblur.training.process import CHECKPOINT, CONFIG_FILE, STOP_FILE, TrainingProcess
from napari_deblur.widgets._dock import Dock
from napari_deblur.widgets._export import ExportBox
from napari_deblur.widgets._params import ParamPanel, float_box
from napari_deblur.widgets._plot import TrainingPlot
from napari_deblur.widgets._settings import load_settings, restore_fields, save_settings, saved_dict
from napari_deblur.widgets._train_estimate import EstimateBox
from napari_deblur.widgets._train_layers import PREVIEW_LAYER, show_preview, write_preview_source
from napari_deblur.widgets._train_sources import REALISTIC, SCENES_SOURCE, SHOWN_FOR, SOURCES, SYNTHETIC, DataSources
from napari_deblur.zoo import FAMILIES
from napari_deblur.zoo.bgan import BGAN
from napari_deblur.zoo.registration import family_models

if TYPE_CHECKING:
    import napari

SETTINGS = "train_widget"
POLL_MS = 200
SAVED = ("source", "scenes", "blur", "noise", "model", "size", "steps", "batch", "patch", "lr", "fft_weight", "loss",
         "seed", "val_every")


def _limits(name: str) -> dict[str, Any]:
    """A setting's range (and, for a float with a special 0, its word) for its dock field."""
    p = train_param(name)
    limits = {"min": p.min, "max": p.max}
    if p.type is float and p.zero:
        limits["zero"] = p.zero
    return limits


class TrainWidget(DataSources, Dock):
    """Dock widget: data source, blur, model, steps, Start / Stop / Resume, progress, live plot, preview."""

    own_layer = PREVIEW_LAYER  # the model's preview is never training data

    def __init__(self, napari_viewer: napari.Viewer) -> None:
        super().__init__(napari_viewer)
        self.process = None
        self._config: TrainConfig | None = None
        self._time_left = TimeLeft(0)  # the time left of the run on show, from its step events
        s = self._settings = load_settings(SETTINGS)
        d = TrainConfig()

        def saved(name: str, choices: Any = None) -> Any:
            """The saved choice of a drop-down if still offered, else its first; numbers start at the TrainConfig
            default and get their saved values from restore_fields below, which checks their ranges."""
            if choices is None:
                return getattr(d, name)
            value = s.get(name, getattr(d, name))
            return value if value in choices else choices[0]

        fams, kinds = sorted(FAMILIES), [k.name for k in list_kinds() if not k.needs_kernel]
        source = s.get("source") if s.get("source") in SOURCES else SCENES_SOURCE
        self.source = ComboBox(label="data", choices=SOURCES, value=source)
        self.blurred_layer = ComboBox(label="blurred layer", choices=self._image_layers)
        self.sharp_layer = ComboBox(label="sharp layer", choices=self._image_layers)
        self.pairs_folder = FileEdit(label="pairs folder", mode="d", tooltip="blur/ + sharp/ with matching "
                                     "names, or the GoPro layout (*/blur/*, */sharp/*).")
        self.sharp_folder = FileEdit(label="sharp folder", mode="d", tooltip="Sharp images (2D, RGB or stacks).")
        self.real_folder = FileEdit(label="real blurred", mode="d", tooltip=FIELD_HELP["real_blurred"])
        self.generator = ComboBox(label="blur generator", choices=lambda _w: family_models(BGAN), nullable=True,
                                  tooltip=FIELD_HELP["bgan"])
        for folder in ("pairs_folder", "sharp_folder", "real_folder"):
            if s.get(folder) and isinstance(s[folder], str):  # never "": FileEdit makes it the current directory
                getattr(self, folder).value = s[folder]
        self.scenes = ComboBox(label="scenes", choices=SCENES, value=saved("scenes", SCENES))
        self.blur = ComboBox(label="blur", choices=kinds, value=saved("blur", kinds))
        self.blur_help = Label(value="")
        self.noise = float_box(saved("noise"), **_limits("noise"), step=0.005, decimals=4, label="noise")
        self.model = ComboBox(label="model", choices=fams, value=saved("model", fams))
        self.size = ComboBox(label="size", choices=list(FAMILIES[self.model.value].sizes))
        self.name = LineEdit(label="model name", tooltip="The file name in the user model folder; "
                             "use it later as deblur(image, <family>, weights=<name>).")
        # Ranges, zero words and tooltips from the settings' declarations (training/config.py), as the CLI's flags.
        # On a CPU a run of about half an hour, not TrainConfig's GPU-sized default (training/estimate.py).
        self.steps = SpinBox(label="steps", value=default_steps(), **_limits("steps"), step=1000)
        self.batch = SpinBox(label="batch", value=saved("batch"), **_limits("batch"))
        self.patch = SpinBox(label="patch", value=saved("patch"), **_limits("patch"), step=16)
        self.lr = float_box(saved("lr"), **_limits("lr"), step=1e-4, decimals=7, label="learning rate")
        self.fft_weight = float_box(saved("fft_weight"), **_limits("fft_weight"), step=0.05, label="FFT loss weight")
        self.loss = ComboBox(label="loss", choices=LOSSES, value=saved("loss", LOSSES))
        self.seed = SpinBox(label="seed", value=saved("seed"), **_limits("seed"))
        self.val_every = SpinBox(label="validate every", value=saved("val_every"), **_limits("val_every"),
                                 tooltip="Steps between validations (and checkpoints).")
        for name in ("scenes", "noise", "model", "size", "steps", "batch", "patch", "lr", "fft_weight", "loss", "seed"):
            getattr(self, name).tooltip = FIELD_HELP[name]  # one description per setting, shared with the CLI
        self.device = Label(label="device", value=training_device_text())
        # magicgui fixes a Label's width to its text's before the dock narrows it: let it take the row instead.
        self.device.native.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.start_button, self.stop_button = PushButton(text="Start"), PushButton(text="Stop", enabled=False)
        self.resume_button = PushButton(text="Resume")
        restore_fields(s, {name: getattr(self, name) for name in ("noise", "steps", "batch", "patch", "lr",
                                                                  "fft_weight", "seed", "val_every")})
        self.progress = ProgressBar(label="progress", value=0, min=0, max=1)
        self.eta = Label(value="")
        self.status = Label(value="")
        self.plot = TrainingPlot()
        self.exporter = ExportBox(report=lambda text: setattr(self.status, "value", text), on_error=self._show_error)
        paced_by = [self.source, self.scenes, self.blur, self.model, self.size, self.batch, self.patch]
        self.estimator = EstimateBox(lambda: self.build_config(write_layers=False), self.steps, paced_by,
                                     self._show_error)
        self.preview_on = ComboBox(label="preview on", choices=self._preview_choices, tooltip="At each "
                                   "validation, show the model's output on this layer's current plane (a centre "
                                   "crop); 'validation images' shows blurred | output | sharp.")

        self.blur_panel = ParamPanel(folded=False)  # its advanced fields join the training's Advanced section
        self._advanced = Container(widgets=[self.lr, self.fft_weight, self.loss, self.seed, self.val_every,
                                            self.blur_panel.advanced])
        self._advanced_box = QCollapsible("Advanced")
        self._advanced_box.addWidget(self._advanced.native)
        self.extend([self.source, self.blurred_layer, self.sharp_layer, self.pairs_folder, self.sharp_folder,
                     self.real_folder, self.generator, self.scenes, self.blur, self.blur_help, self.blur_panel.basic,
                     self.noise, self.model, self.size, self.name, self.steps, self.batch, self.patch,
                     self.preview_on, self.device, *self.exporter.fields()])
        # How long the run would take, beside Start: seen before Start is pressed.
        self.pin(*self.estimator.fields(), [self.start_button, self.stop_button, self.resume_button], self.progress,
                 self.eta, self.status)
        layout = self.form_layout
        # A plain Qt collapsible (magicgui has none) under the basic fields; the plot at the bottom.
        layout.insertWidget(self.index(self.patch) + 1, self._advanced_box)
        layout.addWidget(self.plot)

        self._timer = QTimer(self.native)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self.poll)
        # Closing napari (or the dock) asks a running training to stop gracefully, without waiting for it.
        self.native.destroyed.connect(self._request_stop)
        self.source.changed.connect(self._on_source_changed)
        self.blur.changed.connect(self._on_blur_changed)
        self.model.changed.connect(self._on_model_changed)
        self.size.changed.connect(self._update_name)
        self.start_button.clicked.connect(self.start)
        self.stop_button.clicked.connect(self.stop)
        self.resume_button.clicked.connect(lambda: self.start(resume=True))
        for event in ("inserted", "removed", "reordered"):
            getattr(self.viewer.layers.events, event).connect(self._refresh_layers)
        self._default_name = ""
        self._on_model_changed(self.model.value)
        if s.get("size") in self.size.choices:
            self.size.value = s["size"]
        self._on_blur_changed(self.blur.value)
        self._on_source_changed(self.source.value)

    # -- fields ------------------------------------------------------------------------------------
    def _preview_choices(self, _widget: Any = None) -> list[tuple[str, Any]]:
        return [("validation images", None), *((layer.name, layer) for layer in self._image_layers())]

    def _refresh_layers(self, _event: Any = None) -> None:
        for combo in (self.blurred_layer, self.sharp_layer, self.preview_on):
            combo.reset_choices()

    def _on_source_changed(self, source: str) -> None:
        for name, sources in SHOWN_FOR.items():
            getattr(self, name).visible = source in sources
        self.blur_panel.basic.visible = self.blur_panel.advanced.visible = source in SYNTHETIC
        self._show_realistic_fields()

    def _show_realistic_fields(self) -> None:
        """Realistic mode: the unpaired blurred folder to learn from (model bgan), or the generator to train on."""
        realistic, learning = self.source.value == REALISTIC, FAMILIES[self.model.value].makes_blur
        self.real_folder.visible = realistic and learning
        self.generator.visible = realistic and not learning
        if realistic and not learning:  # a generator trained since the last look is offered
            self.generator.reset_choices()

    def _on_blur_changed(self, name: str) -> None:
        kind = get_kind(name)
        self.blur_help.value = kind.description
        self.blur_panel.show(kind.params, saved_dict(saved_dict(self._settings, "blur_params"), name))
        self.fit_contents(self._advanced)

    def _on_model_changed(self, family: str) -> None:
        self.size.choices = list(FAMILIES[family].sizes)
        self.size.value = FAMILIES[family].default_size
        self._update_name()
        self._show_realistic_fields()

    def _update_name(self, _value: Any = None) -> None:
        """Follow the family and size with the default name, unless the user typed their own."""
        default = f"{self.model.value}-{self.size.value}-custom"
        if self.name.value in ("", self._default_name):
            self.name.value = default
        self._default_name = default

    def blur_params(self) -> dict[str, Any]:
        return self.blur_panel.values()

    # -- config ------------------------------------------------------------------------------------
    def build_config(self, *, write_layers: bool = True) -> TrainConfig:
        """The TrainConfig the fields describe; layer sources are written to a temporary folder first."""
        kw: dict[str, Any] = dict(
            model=self.model.value, size=self.size.value, name=self.name.value.strip(), steps=self.steps.value,
            batch=self.batch.value, patch=self.patch.value, lr=self.lr.value, fft_weight=self.fft_weight.value,
            loss=self.loss.value, seed=self.seed.value, val_every=self.val_every.value,
            checkpoint_every=self.val_every.value)
        kw.update(self.source_kwargs(write_layers))
        if write_layers and self.preview_on.value is not None:
            kw["preview_image"] = str(write_preview_source(self.preview_on.value, self.viewer))
        return TrainConfig(**kw)

    def _resume_config(self) -> TrainConfig:
        run_dir = self.build_config(write_layers=False).run_dir
        if not (run_dir / CHECKPOINT).exists():
            raise ValueError(f"Nothing to resume: no checkpoint in {run_dir}. Press Start for a new run.")
        saved = run_dir / CONFIG_FILE
        return TrainConfig.load(saved) if saved.exists() else self._config

    def _save(self) -> None:
        blur_params = {**saved_dict(self._settings, "blur_params"), self.blur.value: self.blur_params()}
        self._settings = {name: getattr(self, name).value for name in SAVED} | {
            "blur_params": blur_params, "pairs_folder": self.pairs_folder.line_edit.value,
            "sharp_folder": self.sharp_folder.line_edit.value, "real_folder": self.real_folder.line_edit.value}
        save_settings(SETTINGS, self._settings)

    # -- running -----------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.process is not None

    def start(self, resume: bool = False) -> None:
        """Validate the fields and start training (``resume``: continue the named run from its checkpoint)."""
        if self.running:
            return
        try:
            cfg = self._resume_config() if resume else self.build_config()
            cfg.validate()
            self._save()
            process = TrainingProcess(cfg, resume=resume)
            process.start()
        except (ValueError, TypeError, OSError) as err:
            self._show_error(err)
            return
        self.process, self._config, self._ended, self._idle_polls = process, cfg, False, 0
        self._time_left = TimeLeft(cfg.steps)
        if not resume:
            self.plot.clear()
        self.progress.max, self.progress.value = max(cfg.steps, 1), 0
        self.eta.value = ""
        self.status.value = f"{'Resuming' if resume else 'Starting'} {cfg.model_name}..."
        self._set_buttons()
        self._timer.start()

    def stop(self) -> None:
        """Ask for a graceful stop: the subprocess saves its checkpoint and ends (Resume continues it)."""
        if self.process is None:
            return
        self.status.value = "Stopping after the current step..."
        self.stop_button.enabled = False
        # stop() waits for the subprocess; the UI keeps polling its events meanwhile.
        threading.Thread(target=self.process.stop, daemon=True).start()

    def _request_stop(self, *_args: Any) -> None:
        if self.process is not None and self.process.running:
            (self.process.run_dir / STOP_FILE).touch()

    def poll(self) -> None:
        """Handle new events; reset the buttons once the subprocess has ended and its last event is in."""
        if self.process is None:
            return
        for event in self.process.poll():
            self._ended |= isinstance(event, ENDINGS)
            self.handle_event(event)
        if self.process.running:
            return
        # TrainingProcess always ends with a final event (an "error" one if the process died silently); the
        # count of polls is only a safety net.
        self._idle_polls += 1
        if self._ended or self._idle_polls > 50:
            self._timer.stop()
            self.process = None
            self._set_buttons()

    def handle_event(self, event: Event) -> None:
        if isinstance(event, Started):
            self.progress.max, self.progress.value = max(event.steps, 1), event.step
            self._time_left = TimeLeft(event.steps)
            self.status.value = f"Training on {event.device} (run folder {event.run_dir})"
        elif isinstance(event, Step):
            self.progress.value = min(event.step, self.progress.max)
            self.plot.add_loss(event.step, event.loss)
            self._update_eta(event.step)
        elif isinstance(event, Validation):
            self.plot.add_psnr(event.step, event.psnr)
            self.status.value = (f"Step {event.step}: validation PSNR {event.psnr:.2f} dB "
                                 f"(input {event.input_psnr:.2f} dB)")
            show_preview(self.viewer, event, self.preview_on.value)
        elif isinstance(event, Stopped):
            self.status.value = (f"Stopped at step {event.step}; the model so far is saved ({event.model}) and listed "
                                 f"in the Deblur dock. Resume continues from {event.checkpoint}.")
            methods_changed()
        elif isinstance(event, Finished):
            self.progress.value = self.progress.max
            self.status.value = f"Saved {event.model}"
            methods_changed()  # the Deblur docks list the new model at once
            self.exporter.set_model(Path(event.model))
        elif isinstance(event, Error):
            self._show_error(RuntimeError(event.message))

    def _update_eta(self, step: int) -> None:
        pace = self._time_left.update(step)
        if pace:
            self.eta.value = f"step {step:,} / {self.progress.max:,} · {pace}"

    def _set_buttons(self) -> None:
        self.start_button.enabled = self.resume_button.enabled = not self.running
        self.stop_button.enabled = self.running
        self.estimator.button.enabled = not self.running  # timing beside a training would measure both
