"""BioImage Model Zoo packages opened in the Deblur dock: they join its method list (every dock's, for the session)
and run through the engine like any network (napari_deblur/bioimageio/run.py)."""

from __future__ import annotations

from pathlib import Path

from magicgui.widgets import FileEdit

from napari_deblur.restore.methods import get_method

#: Package paths opened this session, in the order they were opened.
OPENED: list[str] = []


def package_choices() -> list[tuple[str, str]]:
    """(label, path) of each opened package, for the method list."""
    return [(f"{Path(path).name}: BioImage Model Zoo package", path) for path in OPENED]


def package_field() -> FileEdit:
    return FileEdit(label="zoo package", mode="r", filter="*.zip *.yaml",
                    tooltip="Open a BioImage Model Zoo package of an image-to-image model (.zip, or the rdf.yaml "
                            "of an unpacked one): it joins the method list (needs napari-deblur[bioimageio]).")


def open_package(path: str) -> str:
    """Check that ``path`` runs here (ValueError or ImportError saying why not) and add it to the list."""
    path = str(Path(path).expanduser().resolve())
    get_method(path)  # reads and checks the rdf: a package that cannot run is refused now, not at Run
    if path not in OPENED:
        OPENED.append(path)
    return path
