"""Widget settings that persist between napari sessions, as a small JSON file per widget.

Kept in the user config folder from platformdirs (``NAPARI_DEBLUR_CONFIG_DIR`` overrides it, which tests
use). A corrupt or unreadable file, or one holding values of the wrong type or out of range (edited by hand,
written by another version), is ignored value by value with a warning rather than breaking the widget.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

from platformdirs import user_config_dir

from napari_deblur._atomic import atomic_path


def config_dir() -> Path:
    return Path(os.environ.get("NAPARI_DEBLUR_CONFIG_DIR") or user_config_dir("napari-deblur"))


def load_settings(name: str) -> dict[str, Any]:
    path = config_dir() / f"{name}.json"
    try:
        values = json.loads(path.read_text())
    except OSError:
        return {}
    except ValueError:
        values = None
    if not isinstance(values, dict):
        warnings.warn(f"Ignoring the widget settings in {path}: not a JSON object.", RuntimeWarning, stacklevel=2)
        return {}
    return values


def restore_fields(settings: dict[str, Any], fields: dict[str, Any]) -> None:
    """Give each field (a magicgui value widget, by setting name) its saved value. The field checks it (type,
    range, choices); a value it refuses is skipped with a warning and the field keeps its default."""
    for key, field in fields.items():
        if key not in settings:
            continue
        try:
            field.value = settings[key]
        except (TypeError, ValueError) as err:
            warnings.warn(f"Ignoring the saved {key}={settings[key]!r}: {err}", RuntimeWarning, stacklevel=2)


def saved_dict(settings: dict[str, Any], key: str) -> dict[str, Any]:
    """``settings[key]`` if it is a JSON object (e.g. the saved parameters per method), else empty."""
    value = settings.get(key, {})
    return value if isinstance(value, dict) else {}


def save_settings(name: str, values: dict[str, Any]) -> None:
    path = config_dir() / f"{name}.json"
    try:
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(values, indent=1, sort_keys=True))
    except OSError:
        pass  # settings are a convenience; never fail a run over them
