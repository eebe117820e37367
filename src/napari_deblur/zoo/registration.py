"""Families and model files as deblurring methods: what ``deblur(image, "nafnet")`` and a model's name run.

``register_family`` records a :class:`~napari_deblur.zoo.family.Family` and registers it as a method whose
parameters are its named ``size`` and the ``weights`` to load. Model files (trained in the user folder, shipped
ones not named ``<family>-<size>``, or any ``.safetensors`` path) become methods of their own, named by their
file stem or path, through the registry's provider and resolver.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError

from napari_deblur.hardware import PRECISIONS, inference_dtype
from napari_deblur.params import Param
from napari_deblur.restore.methods import MethodSpec, add_provider, add_resolver, register
from napari_deblur.restore.network import NetworkRestorer
from napari_deblur.zoo.family import FAMILIES, Family, create
from napari_deblur.zoo.weights import find_weights, load_model, model_files, read_card

RANDOM_WEIGHTS = "random"


def _build(family: Family, *, psf: Any, device: torch.device, size: str, weights: str,
           precision: str) -> NetworkRestorer:
    if weights == RANDOM_WEIGHTS:
        module = create(family.name, size)
    else:
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
    return NetworkRestorer(module, device, inference_dtype(precision, torch.device(device)),
                           family.bytes_per_pixel(size))


def untrained_reason(family: Family, params: Mapping[str, Any]) -> str | None:
    """Why ``family`` cannot run with ``params`` (no weights for that size/name), or ``None``."""
    weights = params.get("weights") or f"{family.name}-{params['size']}"
    if weights == RANDOM_WEIGHTS or find_weights(weights) is not None:
        return None
    return f"untrained: no weights {weights!r} yet"


def precision_param() -> Param:
    return Param("precision", str, "auto", "Arithmetic: auto = bfloat16 where the CPU/GPU computes it natively "
                 "(2-8x faster), else float32.", choices=PRECISIONS, advanced=True)


def _build_trained(path: Any, *, psf: Any, device: torch.device, precision: str) -> NetworkRestorer:
    card = read_card(path)
    return NetworkRestorer(load_model(path), device, inference_dtype(precision, torch.device(device)),
                           FAMILIES[card["family"]].bytes_per_pixel(card.get("size")))


def _zoo_card(path: Any) -> dict[str, Any] | None:
    """The card of a deblurring zoo model's file, or ``None`` for any other file (a blur generator too)."""
    try:
        card = read_card(path)
    except (ValueError, OSError, SafetensorError):
        return None
    family = FAMILIES.get(card.get("family"))
    return card if family is not None and family.deblurs else None


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
        params=(precision_param(),),
        default_tile_size=family.tile_size,
        tile_alignment=family.tile_alignment,
    )


def trained_model_methods() -> list[MethodSpec]:
    """Every model file in the user folder (and shipped ones not named ``<family>-<size>``) as a method of its
    own, named by its file stem: what a training run saves appears in the widget, CLI and API at once."""
    methods = []
    for name, path in model_files().items():
        card = _zoo_card(path)
        # A file named <family>-<size> is that family's default weights, not a method of its own.
        if card is not None and name != f"{card['family']}-{card.get('size')}":
            methods.append(_model_file_method(name, path, card))
    return methods


def model_path_method(name: str) -> MethodSpec | None:
    """A path to a ``.safetensors`` model file works wherever a method name does (API, CLI, evaluate)."""
    path = Path(name).expanduser()
    if path.suffix.lower() != ".safetensors" or not path.is_file():
        return None
    card = read_card(path)  # ValueError saying what is wrong with the file
    if card.get("family") not in FAMILIES:
        raise ValueError(f"{path} is a model of an unknown network {card.get('family')!r}; known networks: "
                         f"{', '.join(sorted(FAMILIES))}.")
    family = FAMILIES[card["family"]]
    if family.noise_conditioned:
        raise ValueError(f"{path} is a denoiser ({family.name}): run it as the weights of the pnp or denoise method "
                         f"(weights='{path}').")
    if family.makes_blur:
        raise ValueError(f"{path} is a {card['family']} model, which makes blur rather than removing it: use it "
                         "with synthesize_blur(..., kind='learned', model=...) or to train a deblurring model.")
    return _model_file_method(name, path, card)


add_provider(trained_model_methods)
add_resolver(model_path_method)


def card_purpose(card: Mapping[str, Any]) -> str:
    """What a model is for, in a few words: the card's ``purpose`` (shipped models), else its family and size and
    how far it trained ("1200 of 20000 steps, stopped" for a run stopped early)."""
    if card.get("purpose"):
        return str(card["purpose"])
    training = card.get("training") or {}
    steps, planned = training.get("steps"), (training.get("config") or {}).get("steps")
    progress = ""
    if isinstance(steps, int):
        progress = (f", {steps} of {planned} steps, stopped" if isinstance(planned, int) and steps < planned
                    else f", {steps} steps")
    return f"Trained {card.get('family')} ({card.get('size')}){progress}"


def family_models(family: str) -> list[tuple[str, str]]:
    """(``"name: purpose"``, name) of every model file of ``family``, shipped and trained, for a drop-down."""
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
    family = FAMILIES.get(name)
    stem = f"{name}-{size or family.default_size}" if family else name
    path = find_weights(stem)
    try:
        return card_purpose(read_card(path)) if path is not None else None
    except (ValueError, OSError):
        return None


def register_family(family: Family) -> Family:
    """Record ``family``; a deblurring one also becomes a method (its name, sizes and weights as parameters)."""
    FAMILIES[family.name] = family
    if not family.deblurs:
        return family
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
            precision_param(),
        ),
        size_multiple=1,
        default_tile_size=family.tile_size,
        tile_alignment=family.tile_alignment,
        unavailable=lambda params, _f=family: untrained_reason(_f, params),
        weights_family=family.name,
    ))
    return family
