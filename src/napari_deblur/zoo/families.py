"""Network families of the model zoo: how each is sized, created, and exposed as a deblurring method.

An architecture file ends with ``register_family(Family(...))``; that one call makes the network available
to ``napari_deblur.zoo.create``, ``deblur(image, name)``, the CLI and the deblur widget. The method's
parameters are the family's named ``size`` and the ``weights`` to load.

Module contract (what every family's class provides):

- ``__init__(in_channels=1, **config)`` where ``config`` is one entry of the family's ``sizes``;
- ``forward(x, return_all_scales=False)``: ``x`` is (N, C, H, W) in [0, 1], any H, W >= 1 (the module pads to
  its own multiple and crops back); returns (N, C, H, W), or with ``return_all_scales`` a list of every
  scale's estimate ordered coarse to fine (the last is full resolution; single-scale models return one);
- ``receptive_field``: an int, about the half-width in pixels an output pixel depends on (tile overlap);
- no ``.cuda()``: the device follows the input; inference never needs train mode.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from napari_deblur.zoo.registry import MethodSpec, Param, add_provider, add_resolver, register

RANDOM_WEIGHTS = "random"
PRECISIONS = ("auto", "float32", "bfloat16", "float16")
#: Peak working memory of one float32 forward pass, in bytes per input pixel: the zoo table's peak RSS at
#: 1024x1024 (docs/benchmarks.md) less the idle process, rounded up. The engine sizes tiles and batches from it
#: and the free memory; 16-bit arithmetic needs about 60 % of it. Unlisted models assume the largest.
ACTIVATION_BYTES = {
    ("deblurgan", "small"): 700, ("deblurgan", "base"): 1500, ("msdf_unet", "small"): 1900,
    ("msdf_unet", "base"): 1900, ("nafnet", "small"): 1000, ("nafnet", "base"): 1600, ("srn", "small"): 1200,
    ("srn", "base"): 1200, ("swin_unet", "small"): 2500, ("swin_unet", "base"): 6800,
}


def activation_bytes(family: Any, size: Any) -> int:
    """:data:`ACTIVATION_BYTES` of a family and size; the largest entry for anything unlisted."""
    return ACTIVATION_BYTES.get((family, size), max(ACTIVATION_BYTES.values()))


@dataclass(frozen=True)
class Family:
    """One architecture family: its class, its named sizes and what to tell users about it."""

    name: str
    cls: type[nn.Module]
    sizes: Mapping[str, Mapping[str, Any]]
    description: str
    citation: str
    default_size: str = "small"
    #: Default tile side: whole 1024x1024 images in one pass (no overlap recomputed), bounded memory beyond.
    tile_size: int = 1024
    #: Tile origins snap to multiples of this (the networks downsample by up to 16), see restore.tiling.
    tile_alignment: int = 16
    extras: Mapping[str, Any] = field(default_factory=dict)


FAMILIES: dict[str, Family] = {}


def create(name: str, size: str = "small", **overrides: Any) -> nn.Module:
    """A randomly initialized module of family ``name`` at a named ``size``, with config ``overrides``."""
    from napari_deblur.zoo.registry import get_method

    get_method(name)  # imports the built-in families, and names the valid methods if ``name`` is unknown
    if name not in FAMILIES:
        raise ValueError(f"{name!r} is not a network; networks: {', '.join(sorted(FAMILIES))}.")
    family = FAMILIES[name]
    if size not in family.sizes:
        raise ValueError(f"{name} has no size {size!r}; sizes: {', '.join(family.sizes)}.")
    config = {**family.sizes[size], **overrides}
    return family.cls(**config)


def _cpu_has_native_bf16() -> bool:
    """Whether oneDNN runs bfloat16 convolutions natively here (AVX512-BF16 or AMX), so they are faster."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def resolve_precision(precision: str, device: torch.device) -> torch.dtype:
    """The compute dtype for ``precision`` on ``device``; ``"auto"`` picks bfloat16 only where it is native.

    bfloat16 with channels-last memory was 2-8x faster than float32 for every family on an AVX512-BF16 CPU
    (docs/benchmarks.md). Convolutions then run in bfloat16 while each model's global skip (input + residual)
    stays in float32, so 16-bit microscopy data keeps its precision.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}.")
    if precision != "auto":
        return getattr(torch, precision)
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "cpu" and _cpu_has_native_bf16():
        return torch.bfloat16
    return torch.float32


class NetworkRestorer:
    """Runs a zoo module on the engine's normalized tiles (N, 1, H, W), in eval mode, without autograd.

    Tensors are channels-last (NHWC): with it oneDNN ran every family 1.3-1.8x faster in float32 and
    faster still in bfloat16, and tensor cores want it too. With a 16-bit ``dtype`` the module runs under
    autocast. The result is always a contiguous float32 tensor.
    """

    spatial_ndim = 2

    def __init__(self, module: nn.Module, device: torch.device, dtype: torch.dtype = torch.float32,
                 bytes_per_pixel: int | None = None) -> None:
        self.device = torch.device(device)
        self.dtype = dtype
        self.module = module.eval().to(self.device, memory_format=torch.channels_last)
        self.receptive_field = int(getattr(module, "receptive_field", 32))
        #: Working memory per input pixel of a forward pass (the engine's tile and batch sizes follow it).
        per_pixel = activation_bytes(None, None) if bytes_per_pixel is None else bytes_per_pixel
        self.bytes_per_pixel = int(per_pixel * (1.0 if dtype == torch.float32 else 0.6))

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        x = batch.to(self.device, torch.float32).contiguous(memory_format=torch.channels_last)
        low = self.dtype != torch.float32
        with torch.inference_mode(), torch.autocast(self.device.type, dtype=self.dtype, enabled=low):
            return self.module(x).float().contiguous()


def _build(family: Family, *, psf: Any, device: torch.device, size: str, weights: str,
           precision: str) -> NetworkRestorer:
    if weights == RANDOM_WEIGHTS:
        module = create(family.name, size)
    else:
        from napari_deblur.zoo.weights import find_weights, load_model

        path = find_weights(weights or f"{family.name}-{size}")
        if path is None:
            raise ValueError(
                f"No trained weights for {family.name} ({size}) yet: train a model (napari-deblur train), pass "
                f"weights=<name or .safetensors path>, or weights='{RANDOM_WEIGHTS}' to test an untrained network."
            )
        module = load_model(path)
        card = module.card
        if card.get("family") != family.name:
            raise ValueError(f"{path} is a {card.get('family')} model, not {family.name}: run it as its own "
                             f"method ({path.stem!r}) or as {card.get('family')!r} with these weights.")
        size = card.get("size", size)
    return NetworkRestorer(module, device, resolve_precision(precision, torch.device(device)),
                           activation_bytes(family.name, size))


def untrained_reason(family: Family, params: Mapping[str, Any]) -> str | None:
    """Why ``family`` cannot run with ``params`` (no weights for that size/name), or ``None``."""
    from napari_deblur.zoo.weights import find_weights

    weights = params.get("weights") or f"{family.name}-{params['size']}"
    if weights == RANDOM_WEIGHTS or find_weights(weights) is not None:
        return None
    return f"untrained: no weights {weights!r} yet"


def _precision_param() -> Param:
    return Param("precision", str, "auto", "Arithmetic: auto = bfloat16 where the CPU/GPU computes it natively "
                 "(2-8x faster), else float32.", choices=PRECISIONS, advanced=True)


def _build_trained(path: Any, *, psf: Any, device: torch.device, precision: str) -> NetworkRestorer:
    from napari_deblur.zoo.weights import load_model, read_card

    card = read_card(path)
    return NetworkRestorer(load_model(path), device, resolve_precision(precision, torch.device(device)),
                           activation_bytes(card.get("family"), card.get("size")))


def _zoo_card(path: Any) -> dict[str, Any] | None:
    """The card of a zoo model's file, or ``None`` for any other file."""
    from safetensors import SafetensorError

    from napari_deblur.zoo.weights import read_card

    try:
        card = read_card(path)
    except (ValueError, OSError, SafetensorError):
        return None
    return card if card.get("family") in FAMILIES else None


def _model_file_method(name: str, path: Any, card: Mapping[str, Any]) -> MethodSpec:
    """The model file at ``path`` (a zoo model with ``card``) as a method called ``name``."""
    family = FAMILIES[card["family"]]
    metrics = card.get("metrics") or {}
    psnr = f", validation PSNR {metrics['val_psnr']:.2f} dB" if "val_psnr" in metrics else ""
    return MethodSpec(
        name=name,
        kind="network",
        description=f"{card_purpose(card)}{psnr}: {path}",
        build=lambda *, psf, device, precision, _p=path: _build_trained(_p, psf=psf, device=device,
                                                                       precision=precision),
        params=(_precision_param(),),
        default_tile_size=family.tile_size,
        tile_alignment=family.tile_alignment,
    )


def trained_model_methods() -> list[MethodSpec]:
    """Every model file in the user folder (and shipped ones not named ``<family>-<size>``) as a method of its
    own, named by its file stem: what a training run saves appears in the widget, CLI and API at once."""
    from napari_deblur.zoo.weights import model_files

    methods = []
    for name, path in model_files().items():
        card = _zoo_card(path)
        # A file named <family>-<size> is that family's default weights, not a method of its own.
        if card is not None and name != f"{card['family']}-{card.get('size')}":
            methods.append(_model_file_method(name, path, card))
    return methods


def model_path_method(name: str) -> MethodSpec | None:
    """A path to a ``.safetensors`` model file works wherever a method name does (API, CLI, evaluate)."""
    from pathlib import Path

    path = Path(name).expanduser()
    if path.suffix.lower() != ".safetensors" or not path.is_file():
        return None
    from napari_deblur.zoo.weights import read_card

    card = read_card(path)  # ValueError saying what is wrong with the file
    if card.get("family") not in FAMILIES:
        raise ValueError(f"{path} is a model of an unknown network {card.get('family')!r}; known networks: "
                         f"{', '.join(sorted(FAMILIES))}.")
    return _model_file_method(name, path, card)


add_provider(trained_model_methods)
add_resolver(model_path_method)


def card_purpose(card: Mapping[str, Any]) -> str:
    """What a model is for, in a few words: the card's ``purpose`` (shipped models), else its family and size."""
    return str(card.get("purpose") or f"Trained {card.get('family')} ({card.get('size')})")


def family_models(family: str) -> list[tuple[str, str]]:
    """(``"name: purpose"``, name) of every model file of ``family``, shipped and trained, for a drop-down."""
    from safetensors import SafetensorError

    from napari_deblur.zoo.weights import model_files, read_card

    found = []
    for name, path in model_files().items():
        try:
            card = read_card(path)
        except (ValueError, OSError, SafetensorError):
            continue
        if card.get("family") == family:
            found.append((f"{name}: {card_purpose(card)}", name))
    return found


def method_purpose(name: str, size: str | None = None) -> str | None:
    """The purpose of the weights method ``name`` runs by default (a family's shipped model for ``size``, or a
    trained model's own), or ``None`` when it has none (classical methods, untrained families)."""
    from napari_deblur.zoo.weights import find_weights, read_card

    family = FAMILIES.get(name)
    stem = f"{name}-{size or family.default_size}" if family else name
    path = find_weights(stem)
    try:
        return card_purpose(read_card(path)) if path is not None else None
    except (ValueError, OSError):
        return None


def register_family(family: Family) -> Family:
    """Make ``family`` a method in the registry (its name, sizes and weights as parameters)."""
    FAMILIES[family.name] = family
    register(MethodSpec(
        name=family.name,
        kind="network",
        description=family.description,
        build=lambda *, psf, device, _f=family, **values: _build(_f, psf=psf, device=device, **values),
        params=(
            Param("size", str, family.default_size, "Model size: small is fast on a CPU, base is the paper's.",
                  choices=tuple(family.sizes)),
            Param("weights", str, "", "Trained model name or .safetensors path; blank = the shipped weights "
                  f"for this size; '{RANDOM_WEIGHTS}' = untrained (for tests).", advanced=True),
            _precision_param(),
        ),
        size_multiple=1,
        default_tile_size=family.tile_size,
        tile_alignment=family.tile_alignment,
        unavailable=lambda params, _f=family: untrained_reason(_f, params),
    ))
    return family
