"""Model files: one ``.safetensors`` per model, with its model card as JSON in the file's metadata.

Loading rebuilds the module from the card (family, size, config) and loads the tensors strictly, so a file
always comes back as exactly the network that was saved. Pickled checkpoints (``.pt``/``.pth``/``.ckpt``) can
run arbitrary code when loaded, so they are refused unless the caller passes ``trust=True``.

Where models are found, by name: the user model folder (``NAPARI_DEBLUR_MODEL_DIR`` or platformdirs'
user data folder + ``models``), then the weights shipped with the package (``weights/``).
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from platformdirs import user_data_dir
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from napari_deblur._atomic import atomic_path
from napari_deblur.zoo.family import create

PICKLE_SUFFIXES = {".pt", ".pth", ".ckpt", ".bin"}


def user_model_dir() -> Path:
    return Path(os.environ.get("NAPARI_DEBLUR_MODEL_DIR") or Path(user_data_dir("napari-deblur")) / "models")


def shipped_weight_dirs() -> list[Path]:
    """``weights/`` inside the installed package (wheel) and at the repository root (editable install)."""
    here = Path(__file__).resolve().parent.parent
    return [here / "weights", here.parents[1] / "weights"]


def model_files() -> dict[str, Path]:
    """All model files by name (file stem); user models shadow shipped ones of the same name."""
    found: dict[str, Path] = {}
    for folder in [*shipped_weight_dirs(), user_model_dir()]:
        if folder.is_dir():
            found.update({p.stem: p for p in sorted(folder.glob("*.safetensors"))})
    return found


def find_weights(name_or_path: str) -> Path | None:
    """A model file given its name or path, or ``None`` when there is none."""
    path = Path(name_or_path).expanduser()
    if path.suffix and path.is_file():
        return path
    return model_files().get(name_or_path)


def read_card(path: str | os.PathLike) -> dict[str, Any]:
    """The model card stored in a ``.safetensors`` file's metadata; ``ValueError`` for anything else (another
    format renamed, a damaged file, a card that is not JSON or names no network)."""
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except (SafetensorError, OSError) as err:
        raise ValueError(f"{path} is not a readable .safetensors file ({err}).") from None
    if "card" not in meta:
        raise ValueError(f"{path} has no model card in its metadata; it was not saved by napari-deblur.")
    try:
        card = json.loads(meta["card"])
    except ValueError:
        raise ValueError(f"{path}: its model card is not valid JSON.") from None
    missing = {"family", "size"} - set(card) if isinstance(card, dict) else {"family", "size"}
    if missing:
        raise ValueError(f"{path}: its model card does not say the network's {' and '.join(sorted(missing))}.")
    return card


def save_model(module: nn.Module, path: str | os.PathLike, card: dict[str, Any], half: bool = False) -> Path:
    """Write ``module``'s weights and ``card`` to ``path`` atomically; ``half`` stores fp16 (smaller files).

    The card needs ``family``, ``size`` and ``config``; the parameter count and the date are added.
    """
    missing = {"family", "size", "config"} - set(card)
    if missing:
        raise ValueError(f"The model card lacks {', '.join(sorted(missing))}.")
    card = {**card, "parameters": sum(p.numel() for p in module.parameters()),
            "date": card.get("date") or datetime.now(timezone.utc).isoformat(timespec="seconds")}
    tensors = {k: (v.half() if half and v.is_floating_point() else v).detach().cpu().contiguous()
               for k, v in module.state_dict().items()}
    path = Path(path)
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={"card": json.dumps(card, default=str)})
    return path


def load_model(name_or_path: str | os.PathLike, *, trust: bool = False, device: str | torch.device = "cpu"
               ) -> nn.Module:
    """Rebuild a model from its file (or name) and load its weights strictly; returns it in eval mode."""
    path = find_weights(str(name_or_path))
    if path is None:
        names = ", ".join(sorted(model_files())) or "none yet"
        raise ValueError(f"No model file or name {str(name_or_path)!r}. Known models: {names}.")
    if path.suffix.lower() in PICKLE_SUFFIXES:
        if not trust:
            raise ValueError(
                f"{path} is a pickled checkpoint, which can run arbitrary code when loaded. Convert it to "
                ".safetensors, or pass trust=True if you know where it comes from."
            )
        state = torch.load(path, map_location="cpu", weights_only=False)
        card = state.get("card") if isinstance(state, dict) else None
        if card is None:
            raise ValueError(f"{path} carries no napari-deblur model card; cannot tell which network it is.")
        tensors = state["state_dict"]
    elif path.suffix.lower() == ".safetensors":
        card = read_card(path)
        try:
            tensors = load_file(str(path))
        except (SafetensorError, OSError) as err:
            raise ValueError(f"{path}: its weights cannot be read ({err}); the file is damaged.") from None
    else:
        raise ValueError(f"{path}: unknown model format {path.suffix!r}; use .safetensors.")
    try:
        module = create(card["family"], card["size"], **card.get("config", {}))
    except TypeError as err:  # a config key the network does not take (another version's card)
        raise ValueError(f"{path}: its card's config does not fit the {card['family']} network ({err}).") from None
    broken = sorted(k for k, v in tensors.items() if v.is_floating_point() and not torch.isfinite(v).all())
    if broken:  # a diverged or damaged training: it would turn every image into NaN
        raise ValueError(f"{path} holds NaN or infinite weights ({', '.join(broken[:3])}{', ...' * (len(broken) > 3)}"
                         "); it cannot deblur. Retrain it or resume from an earlier checkpoint.")
    dtype = next(module.parameters()).dtype
    tensors = {k: v.to(dtype) if v.is_floating_point() else v for k, v in tensors.items()}
    try:
        module.load_state_dict(tensors, strict=True)
    except RuntimeError as err:
        raise ValueError(f"{path} does not match the {card['family']} ({card['size']}) network: {err}") from None
    module.card = card
    return module.eval().to(device)
