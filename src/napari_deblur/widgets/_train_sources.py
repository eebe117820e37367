"""The training dock's data sources: what each shows, and the TrainConfig fields each one sets."""

from __future__ import annotations

from typing import Any

from magicgui.widgets import FileEdit

from napari_deblur.widgets._train_layers import write_layer_sources
from napari_deblur.zoo import FAMILIES

LAYER_PAIRS, PAIRED_FOLDER = "layer pairs", "paired folder"
SHARP_FOLDER, SHARP_LAYER, SCENES_SOURCE = ("sharp folder + synthetic blur", "sharp layer + synthetic blur",
                                            "procedural scenes")
#: Realistic mode (training/realistic.py): with model bgan, the blur generator learns from an unpaired folder of
#: real blurred images; with a deblurring model, it trains on a trained generator's blur.
REALISTIC = "sharp folder + learned blur"
SOURCES = (LAYER_PAIRS, PAIRED_FOLDER, SHARP_FOLDER, SHARP_LAYER, SCENES_SOURCE, REALISTIC)
SYNTHETIC = (SHARP_FOLDER, SHARP_LAYER, SCENES_SOURCE, REALISTIC)
#: Per-field visibility by data source (the blur widgets show for every synthetic source).
SHOWN_FOR = {"blurred_layer": (LAYER_PAIRS,), "sharp_layer": (LAYER_PAIRS, SHARP_LAYER),
             "pairs_folder": (PAIRED_FOLDER,), "sharp_folder": (SHARP_FOLDER, REALISTIC), "scenes": (SCENES_SOURCE,),
             "blur": SYNTHETIC, "blur_help": SYNTHETIC, "noise": SYNTHETIC}


class DataSources:
    """The training dock's part that turns its data-source fields into TrainConfig fields (a mixin: the fields
    are the dock's)."""

    def source_kwargs(self, write_layers: bool) -> dict[str, Any]:
        """The TrainConfig fields of the dock's data source; layer sources are written to a temporary folder first
        (unless not ``write_layers``: Resume reads the run's own config)."""
        source = self.source.value
        kw: dict[str, Any] = {}
        if source in SYNTHETIC:
            kw.update(blur=self.blur.value, blur_params=self.blur_params(), noise=self.noise.value)
        if source == PAIRED_FOLDER:
            kw["pairs"] = _folder(self.pairs_folder, "pairs folder (blur/ + sharp/)")
        elif source == SHARP_FOLDER:
            kw["sharp"] = _folder(self.sharp_folder, "sharp folder")
        elif source == SCENES_SOURCE:
            kw["scenes"] = self.scenes.value
        elif source == REALISTIC:
            kw["sharp"] = _folder(self.sharp_folder, "sharp folder")
            if FAMILIES[self.model.value].makes_blur:
                kw["real_blurred"] = _folder(self.real_folder, "folder of real blurred images")
            elif self.generator.value is None:
                raise ValueError("No blur generator chosen: train one first (model bgan, with a folder of real "
                                 "blurred images), then choose it as blur generator.")
            else:
                kw["bgan"] = self.generator.value
        elif write_layers:
            folder = write_layer_sources(self.blurred_layer.value, self.sharp_layer.value, source == LAYER_PAIRS)
            kw["pairs" if source == LAYER_PAIRS else "sharp"] = str(folder)
        return kw


def _folder(widget: FileEdit, what: str) -> str:
    text = widget.line_edit.value.strip()
    if not text:
        raise ValueError(f"No {what} chosen: pick a folder first.")
    return text
