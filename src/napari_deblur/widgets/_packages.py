"""BioImage Model Zoo packages opened in the Deblur dock: they join its method list (every dock's, for the session)
and run through the engine like any network (napari_deblur/bioimageio/run.py)."""

from __future__ import annotations

from pathlib import Path

from magicgui.widgets import FileEdit

from napari_deblur.restore.methods import get_method

#: Package paths opened this session, in the order they were opened.
OPENED: list[str] = []
#: The method list's last entry: choosing it shows the *zoo package* field, to open one (never a method's name:
#: names have no spaces).
NEW_PACKAGE = "open a package"
NEW_PACKAGE_HELP = ("Runs an image-to-image model from the BioImage Model Zoo (bioimage.io): choose its .zip, or "
                    "the rdf.yaml of an unpacked one, in the zoo package field.")


def package_choices() -> list[tuple[str, str]]:
    """(label, path) of each opened package, then the entry that opens another, for the method list."""
    opened = [(f"{Path(path).name}: BioImage Model Zoo package", path) for path in OPENED]
    return [*opened, ("BioImage Model Zoo package (open a .zip)...", NEW_PACKAGE)]


def uses_package(method: str) -> bool:
    """Whether the *zoo package* field applies to ``method``: an opened package, or the entry to open one."""
    return method == NEW_PACKAGE or method in OPENED


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
