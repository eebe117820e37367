"""The npe2 manifest is valid and contributes the widget and the Layers > Filter menu entry."""

from __future__ import annotations

import pytest

npe2 = pytest.importorskip("npe2")


def test_manifest_is_valid_and_complete():
    manifest = npe2.PluginManifest.from_distribution("napari-deblur")
    widgets = {w.display_name for w in manifest.contributions.widgets}
    assert "Deblur" in widgets
    menus = manifest.contributions.menus
    assert any(item.command == "napari-deblur.deblur_widget" for item in menus["napari/layers/filter"])
    for command in manifest.contributions.commands:
        module, _, attr = command.python_name.partition(":")
        assert hasattr(__import__(module, fromlist=[attr]), attr)


def test_core_does_not_import_napari():
    import subprocess
    import sys

    code = ("import sys, napari_deblur, napari_deblur.cli, napari_deblur.restore.engine, napari_deblur.io;"
            "bad = [m for m in sys.modules if m.split('.')[0] in ('napari', 'qtpy', 'PyQt5', 'PyQt6', 'PySide6')];"
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)
