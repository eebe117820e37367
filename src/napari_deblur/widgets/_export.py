"""The training dock's *Export to BioImage Model Zoo*: the finished model as a package for Fiji (deepImageJ),
ilastik, QuPath and other napari plugins (napari_deblur/bioimageio.py), written off the UI thread."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from magicgui.widgets import FileEdit, PushButton

from napari_deblur.widgets._run import start


class ExportBox:
    """A package path and the export button; ``model`` is the finished model's file (``None``: nothing to export)."""

    def __init__(self, report: Callable[[str], None], on_error: Callable[[BaseException], None]) -> None:
        self.report, self.on_error = report, on_error
        self.model: Path | None = None
        self.path = FileEdit(label="package", mode="w", filter="*.zip", tooltip="Where to write the BioImage Model "
                             "Zoo package (.zip) of the finished model.")
        self.button = PushButton(text="Export to BioImage Model Zoo", enabled=False,
                                 tooltip="TorchScript weights, test tensors, axes, normalization, the model card and "
                                         "a cover, validated with bioimageio.spec (napari-deblur[bioimageio]).")
        self.button.clicked.connect(self.export)
        self._worker = None

    def fields(self) -> list[Any]:
        return [self.path, self.button]

    def set_model(self, model: Path | None) -> None:
        self.model = model
        self.button.enabled = model is not None
        if model is not None and not str(self.path.value).endswith(".zip"):
            self.path.value = str(Path(model).with_suffix(".zip"))

    def export(self) -> None:
        if self.model is None:
            self.on_error(ValueError("No finished model to export: train one first."))
            return
        from napari_deblur.bioimageio import export_steps

        target, model = Path(str(self.path.value)), self.model

        def steps() -> Iterator[str]:
            return (yield from export_steps(str(model), target, overwrite=True))

        def finished() -> None:
            self.button.enabled, self._worker = True, None

        self.button.enabled = False
        self.report(f"Exporting {model.stem} to {target}...")
        self._worker = start(steps, on_yield=lambda stage: self.report(f"Exporting {model.stem}: {stage}..."),
                             on_error=self.on_error, on_finish=finished,
                             on_return=lambda path: self.report(f"Exported {path} (validated by bioimageio.spec)"))
