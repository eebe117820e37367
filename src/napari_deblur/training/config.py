"""``TrainConfig``: everything a training run needs, validated up front and saved as JSON beside the checkpoint.

The same object travels from the widget or the CLI to the training subprocess (as ``config.json`` in the run
folder), so every field is a plain JSON value and has a default. :meth:`TrainConfig.validate` checks the whole
configuration, the data folders included, before any training starts: a bad folder should cost seconds in the
widget, not a crashed subprocess minutes later.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from napari_deblur._atomic import atomic_path
from napari_deblur.hardware import PRECISION_ALIASES, PRECISIONS
from napari_deblur.params import Param
from napari_deblur.training.files import check_writable, image_shape
from napari_deblur.training.perceptual import load_vgg_features
from napari_deblur.zoo.family import FAMILIES
from napari_deblur.zoo.weights import find_weights, read_card, user_model_dir

LOSSES = ("l1", "charbonnier", "psnr")
DEVICES = ("auto", "cpu", "cuda", "mps")
MIN_PATCH = 16  # the networks downsample by up to 16; a smaller patch has no coarsest scale left
MODEL_SUFFIX = ".safetensors"
#: Checks of a config's data that :meth:`TrainConfig.validate` runs last (registered by training/data_check.py).
DATA_CHECKS: list[Callable[[TrainConfig], object]] = []

def setting(default: Any, help: str, **limits: Any) -> Any:
    """A TrainConfig field described once: its default, one sentence of help (the CLI's ``--help``, the dock's
    tooltip) and its limits (:class:`~napari_deblur.params.Param`'s ``min``, ``max``, ``choices``, ``zero``), from
    which the checks, the CLI flags and the dock's ranges are all made (:data:`TRAIN_PARAMS`)."""
    return field(default=default, metadata={"help": help, **limits})


@dataclass
class TrainConfig:
    """A training run: model, data, degradation, optimization and hardware settings.

    Exactly one data source is set: ``pairs`` (a folder of blurred/sharp pairs), ``sharp`` (sharp images,
    blurred on the fly) or ``scenes`` (procedural sharp images, blurred on the fly). Realistic mode
    (training/realistic.py) adds ``real_blurred`` (stage 1, ``model="bgan"``) or ``bgan`` (stage 2). See the
    training guide (docs/training.md) for what each field does; :meth:`validate` explains every bad value.
    """

    model: str = setting("nafnet", "Network family to train (see `napari-deblur methods`).")
    size: str = setting("small", "Model size (small is fast on a CPU, base is the paper's).")
    name: str = setting("", "Model name (file stem); deblur with `--weights NAME`. Default: <model>-<size>-custom.")
    out: str = setting("", "Output .safetensors file. Default: the user model folder, so the model is found by name.")
    pairs: str = setting("", "Folder of blur/ + sharp/ pairs with matching names (or the GoPro layout).")
    sharp: str = setting("", "Folder of sharp images, blurred on the fly (2D, RGB, or z-stacks).")
    scenes: str = setting("", "Built-in sharp images, blurred on the fly: natural (scikit-image's photographs plus "
                          "dead leaves), dead_leaves or fluorescence.")
    blur: str = setting("camera_shake", "Blur kind for --sharp/--scenes (see `napari-deblur kinds`); its parameters "
                        "are --blur-* flags.")
    blur_params: dict[str, Any] = field(default_factory=dict, metadata={
        "help": "The blur kind's parameters as JSON, e.g. '{\"size\": 15}' (or use the --blur-* flags)."})
    noise: float = setting(0.01, "Gaussian noise: each sample draws sigma uniformly up to this.", min=0.0, max=1.0,
                           zero="off")
    photons: float = setting(0.0, "Poisson noise: photons at the white level (0 = none).", min=0.0, max=1e7,
                             zero="off")
    jpeg_quality: int = setting(0, "JPEG-compress the blurred samples at this quality (0 = off).", min=0, max=100,
                                zero="off")
    val_pairs: str = setting("", "Held-out pairs folder for validation (default: held out from --pairs, or "
                             "synthetic).")
    val_size: int = setting(8, "Validation images.", min=1, max=10_000)
    preview_image: str = setting("", "An image to deblur with the current model at every validation (centre crop; "
                                 "written to the run folder's previews/output_step_N.tif).")
    patch: int = setting(128, "Training crop side in pixels (the networks downsample by up to 16; 128 or 256 is "
                         "typical).", min=MIN_PATCH, max=4096)
    batch: int = setting(8, "Crops per step (per device).", min=1, max=1024)
    steps: int = setting(20000, "Training steps (optimizer updates).", min=1, max=10_000_000)
    lr: float = setting(1e-3, "Peak learning rate (AdamW, cosine decay to 0).", min=1e-7, max=1.0)
    weight_decay: float = setting(1e-4, "AdamW weight decay.", min=0.0, max=1.0)
    loss: str = setting("charbonnier", "Pixel loss: l1, charbonnier or psnr.", choices=LOSSES)
    fft_weight: float = setting(0.1, "Weight of the FFT loss (0 = off).", min=0.0, max=10.0, zero="off")
    vgg_weights: str = setting("", "Local VGG-19 weights file (torchvision's vgg19-*.pth or .safetensors) for the "
                               "perceptual loss; nothing is downloaded. Empty = no perceptual loss.")
    perceptual_weight: float = setting(0.05, "Weight of the perceptual loss (with --vgg-weights).", min=0.0, max=10.0)
    adv_weight: float = setting(0.005, "GAN and bgan only: weight of the adversarial loss.", min=0.0, max=10.0)
    gan_pretrain: float = setting(0.5, "GAN and bgan only: fraction of the steps trained with pixel losses (bgan: "
                                  "the content term) before the critic joins.", min=0.0, max=1.0)
    ema: float = setting(0.999, "GAN only: decay of the generator's moving average (the saved weights); below 1.",
                         min=0.0, max=0.99999)
    precision: str = setting("auto", "auto (bfloat16 on GPUs that support it, else float32), float32, bfloat16 or "
                             "float16 (mixed).", choices=PRECISIONS)
    device: str = setting("auto", "auto, cpu, cuda or mps.", choices=DEVICES)
    devices: int = setting(1, "GPUs to train on per machine (DDP when more than one in all).", min=1, max=1024)
    nodes: int = setting(1, "Machines to train on together (DDP; started by SLURM or torchrun, docs/training.md).",
                         min=1, max=100_000)
    seed: int = setting(0, "Seed of the data stream and the initialization.", min=0, max=2**31 - 1)
    val_every: int = setting(500, "Validate (and write a preview) every N steps.", min=1, max=10_000_000)
    checkpoint_every: int = setting(500, "Save the run folder's last.ckpt every N steps.", min=1, max=10_000_000)
    workers: int = setting(2, "Data-loading worker processes (0 = load data in the training process).", min=0,
                           max=256)
    in_channels: int = setting(1, "1 (grayscale; colour images train channel by channel) or 3 (RGB jointly).",
                               min=1, max=3)
    init: str = setting("", "Start from this trained model (name or .safetensors path) of the same family and "
                        "size: fine-tuning.")
    compile: bool = setting(False, "torch.compile the network for training (true/false): 1.5x faster on a CPU "
                            "after a minute of compiling.")
    real_blurred: str = setting("", "Training the blur generator (model bgan): a folder of real blurred images, "
                                "unpaired with the sharp ones, whose blur it learns.")
    bgan: str = setting("", "A trained blur generator (name or .safetensors path): the deblurring model trains on "
                        "its blur of the sharp images (realistic mode, stage 2).")
    bgan_fraction: float = setting(0.75, "With bgan: the fraction of each batch blurred by the blur generator (the "
                                   "rest: the blur kind).", min=0.0, max=1.0)

    def __post_init__(self) -> None:
        # Callers naturally pass Path objects for folders; store strings so the config stays JSON.
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, os.PathLike):
                setattr(self, f.name, os.fspath(value))
        # Recipes written in Lightning's precision names ("bf16-mixed") read as ours ("bfloat16").
        self.precision = PRECISION_ALIASES.get(self.precision, self.precision)

    # -- derived paths -------------------------------------------------------------------------------------
    @property
    def model_name(self) -> str:
        """The model's name (its file stem): ``name``, else the stem of ``out``, else ``<model>-<size>-custom``."""
        if self.name:
            return self.name
        if self.out:
            return Path(self.out).stem
        return f"{self.model}-{self.size}-custom"

    @property
    def model_path(self) -> Path:
        """Where the trained model is saved: ``out``, else ``<user model folder>/<name>.safetensors``.

        The user model folder is where ``deblur(image, name)`` looks, so a finished model is usable at once.
        """
        if self.out:
            return Path(self.out).expanduser()
        return user_model_dir() / f"{self.model_name}{MODEL_SUFFIX}"

    @property
    def run_dir(self) -> Path:
        """The run folder beside the model: config.json, last.ckpt, previews/, events.jsonl."""
        return self.model_path.with_suffix(".run")

    @property
    def source(self) -> str:
        """Which data source is set: "pairs", "sharp", "scenes", or "" when none (several: the first)."""
        return next((s for s in ("pairs", "sharp", "scenes") if getattr(self, s)), "")

    # -- (de)serialization ---------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Build a config from a dict (missing fields take defaults); unknown names or wrong types raise."""
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(fields))
        if unknown:
            raise ValueError(f"Unknown training setting(s) {', '.join(unknown)}; valid settings: "
                             f"{', '.join(fields)}.")
        defaults = cls()
        return cls(**{k: _coerce(k, v, getattr(defaults, k)) for k, v in data.items()})

    def save(self, path: str | os.PathLike) -> Path:
        """Write the config as JSON to ``path`` atomically (a temporary file renamed into place)."""
        path = Path(path)
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> TrainConfig:
        """Read a config saved by :meth:`save` (or written by hand)."""
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ValueError(f"No training config at {path}.") from None
        except json.JSONDecodeError as e:
            raise ValueError(f"{path} is not valid JSON ({e}); fix or recreate the config file.") from None
        if not isinstance(data, dict):
            raise ValueError(f"{path} must hold a JSON object of settings, not {type(data).__name__}.")
        return cls.from_dict(data)

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with ``changes`` applied (names checked, values coerced as in :meth:`from_dict`)."""
        return type(self).from_dict({**self.to_dict(), **changes})

    # -- validation ----------------------------------------------------------------------------------------
    def validate(self) -> TrainConfig:
        """Check every setting and the data; raise ``ValueError`` naming the problem and the fix.

        Reads the headers of every image in the data folders (sizes, pair names), so it takes a moment on
        large folders. Returns ``self`` so calls chain.
        """
        self._validate_model()
        self._validate_settings()
        self._validate_output()
        self._validate_preview()
        self._validate_vgg()
        self._validate_init()
        # Degradation and folder checks live with the data code that must agree with them (data_check.py), which
        # registers them here: the package's __init__ imports it, so they are in place before any config exists.
        for check in DATA_CHECKS:
            check(self)
        return self

    def _validate_model(self) -> None:
        if self.model not in FAMILIES:
            raise ValueError(f"Unknown model {self.model!r}; trainable models: {', '.join(sorted(FAMILIES))}.")
        sizes = FAMILIES[self.model].sizes
        if self.size not in sizes:
            raise ValueError(f"{self.model} has no size {self.size!r}; sizes: {', '.join(sizes)}.")

    def _validate_settings(self) -> None:
        """Each setting against its declared type and limits (:data:`TRAIN_PARAMS`)."""
        for p in TRAIN_PARAMS:
            try:
                p.validate(getattr(self, p.name))
            except ValueError as err:
                raise ValueError(f"{str(err).removeprefix('Parameter ')} {p.help}") from None
        if self.in_channels not in (1, 3):
            raise ValueError(f"in_channels must be 1 (grayscale) or 3 (RGB); got {self.in_channels}.")
        if not isinstance(self.blur_params, dict):
            raise ValueError(f"blur_params must be a dict of the blur kind's parameters; got {self.blur_params!r}.")

    def _validate_output(self) -> None:
        name = self.model_name
        if not name or name in (".", "..") or any(c in name for c in '/\\:*?"<>|'):
            raise ValueError(f"Model name {name!r} is not a valid file name; use letters, digits, - and _.")
        if self.out:
            out = Path(self.out).expanduser()
            if out.suffix != MODEL_SUFFIX:
                raise ValueError(f"out must be a {MODEL_SUFFIX} file; got {self.out!r}.")
            if self.name and out.stem != self.name:
                raise ValueError(f"name {self.name!r} and out {self.out!r} disagree: the model name is the file's "
                                 "stem; leave one of them empty or make them match.")
        path = self.model_path
        if path.is_dir():
            raise ValueError(f"The output {path} is a folder; give a {MODEL_SUFFIX} file path.")
        check_writable(path)

    def _validate_init(self) -> None:
        if not self.init:
            return
        path = find_weights(self.init)
        if path is None:
            raise ValueError(f"init {self.init!r} is neither a model name nor a .safetensors file; give the model to "
                             "start from, or leave it empty to start from random weights.")
        card = read_card(path)
        if card.get("family") != self.model or card.get("size") != self.size:
            raise ValueError(f"init {self.init!r} is a {card.get('family')} ({card.get('size')}) model, but this run "
                             f"trains {self.model} ({self.size}); start from a model of the same family and size.")

    def _validate_vgg(self) -> None:
        if self.vgg_weights:
            load_vgg_features(self.vgg_weights)  # a wrong file costs seconds here, not a crashed run

    def _validate_preview(self) -> None:
        if not self.preview_image:
            return
        path = Path(self.preview_image).expanduser()
        if not path.is_file():
            raise ValueError(f"preview_image {path} is not a file; give an image to preview the model on, or "
                             "leave it empty.")
        try:
            image_shape(path)
        except Exception as err:  # any reader failure: say which file and why, before training starts
            raise ValueError(f"preview_image {path} cannot be read as an image ({err}).") from None


_TYPES = {"str": str, "int": int, "float": float, "bool": bool}

#: Every TrainConfig setting as a :class:`~napari_deblur.params.Param` (``blur_params``, a dict, aside): the
#: checks, the CLI's flags and the training dock's fields are made from these.
TRAIN_PARAMS: tuple[Param, ...] = tuple(
    Param(f.name, _TYPES[f.type], f.default, **f.metadata)
    for f in dataclasses.fields(TrainConfig) if f.type in _TYPES
)
#: The help of every setting, ``blur_params`` included (the CLI's --help, the dock's tooltips).
FIELD_HELP = {f.name: f.metadata["help"] for f in dataclasses.fields(TrainConfig)}


def train_param(name: str) -> Param:
    """The :class:`~napari_deblur.params.Param` of the setting ``name``."""
    return next(p for p in TRAIN_PARAMS if p.name == name)


def _coerce(name: str, value: Any, default: Any) -> Any:
    """``value`` converted to the type of the field's default (JSON has one number type), or ValueError."""
    if isinstance(default, dict):
        if not isinstance(value, dict):
            raise ValueError(f"Setting {name!r} must be a dict; got {value!r}.")
        return dict(value)
    if isinstance(default, str):
        if isinstance(value, os.PathLike):
            value = os.fspath(value)
        if not isinstance(value, str):
            raise ValueError(f"Setting {name!r} must be a string; got {value!r}.")
        return value
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ValueError(f"Setting {name!r} must be true or false; got {value!r}.")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"Setting {name!r} must be a number; got {value!r}.")
    if isinstance(default, int):
        if float(value) != int(value):
            raise ValueError(f"Setting {name!r} must be a whole number; got {value!r}.")
        return int(value)
    return float(value)
