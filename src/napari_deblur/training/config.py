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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from napari_deblur._atomic import atomic_path
from napari_deblur.hardware import PRECISION_ALIASES, PRECISIONS
from napari_deblur.training.data_check import check_data
from napari_deblur.training.files import check_writable, image_shape
from napari_deblur.training.perceptual import load_vgg_features
from napari_deblur.zoo.family import FAMILIES
from napari_deblur.zoo.weights import find_weights, read_card, user_model_dir

LOSSES = ("l1", "charbonnier", "psnr")
DEVICES = ("auto", "cpu", "cuda", "mps")
MIN_PATCH = 16  # the networks downsample by up to 16; a smaller patch has no coarsest scale left
MODEL_SUFFIX = ".safetensors"

#: What each TrainConfig field does, in one sentence: the CLI's --help for each flag and the widget's tooltips read it
#: (a field without an entry gets a generic line).
FIELD_HELP = {
    "model": "Network family to train (see `napari-deblur methods`).",
    "size": "Model size (small is fast on a CPU, base is the paper's).",
    "name": "Model name (file stem); deblur with `--weights NAME`. Default: <model>-<size>-custom.",
    "out": "Output .safetensors file. Default: the user model folder, so the model is found by name.",
    "pairs": "Folder of blur/ + sharp/ pairs with matching names (or the GoPro layout).",
    "sharp": "Folder of sharp images, blurred on the fly (2D, RGB, or z-stacks).",
    "scenes": "Built-in sharp images, blurred on the fly: natural (scikit-image's photographs plus dead leaves), "
              "dead_leaves or fluorescence.",
    "real_blurred": "Training the blur generator (model bgan): a folder of real real blurred with the "
                    "sharp ones, whose blur it learns.",
    "bgan": "A trained blur generator (name or .safetensors path): the deblurring model trains on its blur of the "
            "sharp images (realistic mode, stage 2).",
    "bgan_fraction": "With bgan: the fraction of each batch blurred by the blur generator (the rest: the blur kind).",
    "init": "Start from this trained model (name or .safetensors path) of the same family and size: fine-tuning.",
    "compile": "torch.compile the network for training (true/false): 1.5x faster on a CPU after a minute of "
               "compiling.",
    "blur": "Blur kind for --sharp/--scenes (see `napari-deblur kinds`); its parameters are --blur-* flags.",
    "blur_params": "The blur kind's parameters as JSON, e.g. '{\"size\": 15}' (or use the --blur-* flags).",
    "noise": "Gaussian noise: each sample draws sigma uniformly up to this.",
    "photons": "Poisson noise: photons at the white level (0 = none).",
    "jpeg_quality": "JPEG-compress the blurred samples at this quality (0 = off).",
    "val_pairs": "Held-out pairs folder for validation (default: held out from --pairs, or synthetic).",
    "val_size": "Validation images.",
    "preview_image": "An image to deblur with the current model at every validation (centre crop; written to "
                     "the run folder's previews/output_step_N.tif).",
    "weight_decay": "AdamW weight decay.",
    "fft_weight": "Weight of the FFT loss (0 = off).",
    "vgg_weights": "Local VGG-19 weights file (torchvision's vgg19-*.pth or .safetensors) for the perceptual "
                   "loss; nothing is downloaded. Empty = no perceptual loss.",
    "perceptual_weight": "Weight of the perceptual loss (with --vgg-weights).",
    "adv_weight": "GAN and bgan only: weight of the adversarial loss.",
    "gan_pretrain": "GAN and bgan only: fraction of the steps trained with pixel losses (bgan: the content term) "
                    "before the critic joins.",
    "ema": "GAN only: decay of the generator's moving average (the saved weights).",
    "seed": "Seed of the data stream and the initialization.",
    "in_channels": "1 (grayscale; colour images train channel by channel) or 3 (RGB jointly).",
    "steps": "Training steps (optimizer updates).",
    "patch": "Training crop side in pixels.",
    "batch": "Crops per step (per device).",
    "lr": "Peak learning rate (AdamW, cosine decay to 0).",
    "loss": "Pixel loss: l1, charbonnier or psnr.",
    "device": "auto, cpu, cuda or mps.",
    "devices": "GPUs to train on per machine (DDP when more than one in all).",
    "nodes": "Machines to train on together (DDP; started by SLURM or torchrun, docs/training.md).",
    "precision": "auto (bfloat16 on GPUs that support it, else float32), float32, bfloat16 or float16 (mixed).",
    "val_every": "Validate (and write a preview) every N steps.",
    "checkpoint_every": "Save the run folder's last.ckpt every N steps.",
    "workers": "Data-loading worker processes.",
}


@dataclass
class TrainConfig:
    """A training run: model, data, degradation, optimization and hardware settings.

    Exactly one data source is set: ``pairs`` (a folder of blurred/sharp pairs), ``sharp`` (sharp images,
    blurred on the fly) or ``scenes`` (procedural sharp images, blurred on the fly). Realistic mode
    (training/realistic.py) adds ``real_blurred`` (stage 1, ``model="bgan"``) or ``bgan`` (stage 2). See the
    training guide (docs/training.md) for what each field does; :meth:`validate` explains every bad value.
    """

    model: str = "nafnet"
    size: str = "small"
    name: str = ""
    out: str = ""
    pairs: str = ""
    sharp: str = ""
    scenes: str = ""
    blur: str = "camera_shake"
    blur_params: dict[str, Any] = field(default_factory=dict)
    noise: float = 0.01
    photons: float = 0.0
    jpeg_quality: int = 0
    val_pairs: str = ""
    val_size: int = 8
    preview_image: str = ""
    patch: int = 128
    batch: int = 8
    steps: int = 20000
    lr: float = 1e-3
    weight_decay: float = 1e-4
    loss: str = "charbonnier"
    fft_weight: float = 0.1
    vgg_weights: str = ""
    perceptual_weight: float = 0.05
    adv_weight: float = 0.005
    gan_pretrain: float = 0.5
    ema: float = 0.999
    precision: str = "auto"
    device: str = "auto"
    devices: int = 1
    nodes: int = 1
    seed: int = 0
    val_every: int = 500
    checkpoint_every: int = 500
    workers: int = 2
    in_channels: int = 1
    init: str = ""
    compile: bool = False
    real_blurred: str = ""
    bgan: str = ""
    bgan_fraction: float = 0.75

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
        self._validate_numbers()
        self._validate_choices()
        self._validate_output()
        self._validate_preview()
        self._validate_vgg()
        self._validate_init()
        # Degradation and folder checks live with the data code that must agree with them.
        check_data(self)
        return self

    def _validate_model(self) -> None:
        if self.model not in FAMILIES:
            raise ValueError(f"Unknown model {self.model!r}; trainable models: {', '.join(sorted(FAMILIES))}.")
        sizes = FAMILIES[self.model].sizes
        if self.size not in sizes:
            raise ValueError(f"{self.model} has no size {self.size!r}; sizes: {', '.join(sizes)}.")

    def _validate_numbers(self) -> None:
        checks = [
            (self.steps > 0, f"steps must be positive (training iterations); got {self.steps}."),
            (self.batch >= 1, f"batch must be at least 1 image per step; got {self.batch}."),
            (self.patch >= MIN_PATCH, f"patch must be at least {MIN_PATCH} pixels (the networks downsample by "
                                      f"up to 16); got {self.patch}. 128 or 256 is typical."),
            (self.lr > 0, f"lr (learning rate) must be positive; got {self.lr}. 1e-3 is a good start."),
            (self.weight_decay >= 0, f"weight_decay must be >= 0; got {self.weight_decay}."),
            (self.noise >= 0, f"noise must be >= 0 (a Gaussian sigma, fraction of white); got {self.noise}."),
            (self.photons >= 0, f"photons must be >= 0 (0 = no Poisson noise); got {self.photons}."),
            (0 <= self.jpeg_quality <= 100, f"jpeg_quality must be 0 (off) or 1-100; got {self.jpeg_quality}."),
            (self.val_size >= 1, f"val_size must be at least 1 validation sample; got {self.val_size}."),
            (self.fft_weight >= 0, f"fft_weight must be >= 0 (0 = no FFT loss); got {self.fft_weight}."),
            (self.adv_weight >= 0, f"adv_weight must be >= 0; got {self.adv_weight}."),
            (self.perceptual_weight >= 0, f"perceptual_weight must be >= 0; got {self.perceptual_weight}."),
            (0 <= self.gan_pretrain <= 1, f"gan_pretrain must be a fraction in [0, 1]; got {self.gan_pretrain}."),
            (0 <= self.ema < 1, f"ema must be in [0, 1) (a decay such as 0.999); got {self.ema}."),
            (self.devices >= 1, f"devices must be at least 1; got {self.devices}."),
            (self.nodes >= 1, f"nodes must be at least 1; got {self.nodes}."),
            (self.val_every >= 1, f"val_every must be at least 1 step; got {self.val_every}."),
            (self.checkpoint_every >= 1, f"checkpoint_every must be at least 1 step; got {self.checkpoint_every}."),
            (self.workers >= 0, f"workers must be >= 0 (0 = load data in the training process); got "
                                f"{self.workers}."),
            (self.in_channels in (1, 3), f"in_channels must be 1 (grayscale) or 3 (RGB); got {self.in_channels}."),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    def _validate_choices(self) -> None:
        for name, value, choices in (("loss", self.loss, LOSSES), ("precision", self.precision, PRECISIONS),
                                     ("device", self.device, DEVICES)):
            if value not in choices:
                raise ValueError(f"{name} must be one of {', '.join(choices)}; got {value!r}.")
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
