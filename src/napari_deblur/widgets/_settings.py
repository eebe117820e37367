"""Widget settings that persist between napari sessions, as a small JSON file per widget.

Kept in the user config folder from platformdirs (``NAPARI_DEBLUR_CONFIG_DIR`` overrides it, which tests
use). A corrupt or unreadable file is ignored rather than breaking the widget.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from platformdirs import user_config_dir

from napari_deblur._atomic import atomic_path


def config_dir() -> Path:
    return Path(os.environ.get("NAPARI_DEBLUR_CONFIG_DIR") or user_config_dir("napari-deblur"))


def load_settings(name: str) -> dict[str, Any]:
    try:
        return json.loads((config_dir() / f"{name}.json").read_text())
    except (OSError, ValueError):
        return {}


def save_settings(name: str, values: dict[str, Any]) -> None:
    path = config_dir() / f"{name}.json"
    try:
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(values, indent=1, sort_keys=True))
    except OSError:
        pass  # settings are a convenience; never fail a run over them
