"""A BioImage Model Zoo package of an image-to-image model as a deblurring method: ``deblur(image, "model.zip")``,
``--method model.zip``, through our tiling, lazy and progress paths like any zoo network.

What is read from the rdf: the input's axes (batch, optional channel of size 1, y, x), the sizes it accepts (a
minimum and step, or one fixed size: each tile is reflect-padded up to the next valid size and cropped back), the
output's halo (the tiles' context) and the preprocessing. Supported preprocessing: ``scale_range``,
``scale_linear``, ``zero_mean_unit_variance``, ``fixed_zero_mean_unit_variance``, ``clip`` and ``ensure_dtype``.

Units. Our engine hands a method tiles normalized by its intensity policy and maps the result back
(restore/intensity.py). The package's affine preprocessing is applied to each tile and undone on the output, so a
restoration model's result comes back in the data's own units; statistics-based steps (percentiles, mean and
variance) are computed per tile, which equals the whole image when it fits one tile (the default up to 1024 px)
and approximates it beyond. A package we exported ourselves carries our model card: its preprocessing *is* the
engine's policy, so it runs without any, and gives what the original model gives.

Weights: TorchScript when the package has them. A package with ``pytorch_state_dict`` weights only runs the
package's own Python code (its architecture, from a file in the package or an imported library), so it runs only
with ``trust_code=True`` (``--trust-code``, the dock's *trust code* box), as our pickled checkpoints need
``trust=True``; bioimageio.core builds the network and loads the weights (``weights_only``).

Refused, each with the reason: several inputs or outputs, 3D or multi-channel inputs, outputs of another shape
(segmentation, super-resolution), postprocessing, and packages with neither TorchScript nor ``pytorch_state_dict``
weights (``onnx`` and TensorFlow need other runtimes).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from napari_deblur.params import Param
from napari_deblur.restore.methods import MethodSpec, add_resolver
from napari_deblur.restore.network import NetworkRestorer
from napari_deblur.zoo.registration import precision_param

PACKAGE_SUFFIXES = (".zip",)
RDF_NAMES = ("rdf.yaml", "bioimageio.yaml")
STAT_OPS = ("scale_range", "zero_mean_unit_variance")
SUPPORTED_OPS = (*STAT_OPS, "scale_linear", "fixed_zero_mean_unit_variance", "clip", "ensure_dtype")
#: The switch a package with ``pytorch_state_dict`` weights only needs: loading them runs the package's own code.
TRUST_CODE = Param("trust_code", bool, False, "Run a BioImage Model Zoo package whose weights are pytorch_state_dict "
                   "only: that runs the package's own Python code (its architecture). Only for packages you know.")


def is_package(name: str) -> bool:
    path = Path(name).expanduser()
    return path.is_file() and (path.suffix.lower() in PACKAGE_SUFFIXES or path.name.endswith(RDF_NAMES))


class _PackagedNetwork(nn.Module):
    """The package's network (TorchScript, or built from its code) with its preprocessing, on the engine's
    (N, 1, H, W) tiles."""

    def __init__(self, network: nn.Module, ops: list[tuple[str, dict[str, Any]]], size: tuple[int, int],
                 halo: int, channel: bool) -> None:
        super().__init__()
        self.network, self.ops, self.channel = network, ops, channel
        self.min_side, self.step = size  # step 0: exactly min_side
        self.receptive_field = max(halo, 1)

    def _valid(self, side: int) -> int:
        if self.step == 0:
            if side > self.min_side:
                raise ValueError(f"This model takes tiles of {self.min_side} px at most; got {side}.")
            return self.min_side
        return self.min_side + max(0, -(-(side - self.min_side) // self.step)) * self.step

    def _preprocess(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``x`` preprocessed, and the overall affine map (gain, offset) its affine steps applied."""
        gain, offset = torch.ones(x.shape[0], 1, 1, 1), torch.zeros(x.shape[0], 1, 1, 1)
        for op, kw in self.ops:
            if op == "scale_range":
                flat = x.flatten(1).float()
                low = torch.quantile(flat, kw["min_percentile"] / 100, dim=1).view(-1, 1, 1, 1)
                high = torch.quantile(flat, kw["max_percentile"] / 100, dim=1).view(-1, 1, 1, 1)
                a, b = 1 / (high - low + kw["eps"]), -low / (high - low + kw["eps"])
            elif op == "zero_mean_unit_variance":
                mean, std = x.mean((1, 2, 3), keepdim=True), x.std((1, 2, 3), keepdim=True)
                a, b = 1 / (std + kw["eps"]), -mean / (std + kw["eps"])
            elif op in ("scale_linear", "fixed_zero_mean_unit_variance"):
                a, b = torch.full_like(gain, kw["gain"]), torch.full_like(gain, kw["offset"])
            else:  # clip, ensure_dtype: not affine, nothing to undo
                if op == "clip":
                    x = x.clamp(kw["min"], kw["max"])
                continue
            x, gain, offset = x * a + b, gain * a, offset * a + b
        return x, gain, offset

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        vh, vw = self._valid(h), self._valid(w)
        pre, gain, offset = self._preprocess(x.float())
        if (vh, vw) != (h, w):
            mode = "reflect" if vh - h < h and vw - w < w else "replicate"
            pre = F.pad(pre, (0, vw - w, 0, vh - h), mode=mode)
        out = self.network(pre if self.channel else pre[:, 0])
        out = (out if self.channel else out[:, None])[..., :h, :w]
        return (out - offset) / gain  # back to the engine's units


def _axes(tensor: Any) -> list[str]:
    return [str(a.type) for a in tensor.axes]


def _check(descr: Any, path: Path) -> None:
    problems = []
    if len(descr.inputs) != 1 or len(descr.outputs) != 1:
        problems.append(f"{len(descr.inputs)} inputs and {len(descr.outputs)} outputs (one of each is supported)")
    else:
        inp, out = descr.inputs[0], descr.outputs[0]
        kinds = [k for k in _axes(inp) if k != "batch"]
        if kinds not in (["channel", "space", "space"], ["space", "space"]):
            problems.append(f"input axes {', '.join(_axes(inp))} (2D images, batch, one channel, y, x are supported)")
        for axis in inp.axes:
            if str(axis.type) == "channel" and axis.size != 1:
                problems.append(f"{axis.size} input channels (one is supported: colours go channel by channel)")
        if _axes(out) != _axes(inp):
            problems.append(f"output axes {', '.join(_axes(out))} differ from the input's: not image to image")
        for axis in out.axes:
            if str(axis.type) == "space" and getattr(getattr(axis, "size", None), "tensor_id", None) != inp.id:
                problems.append(f"output axis {axis.id} does not keep the input's size (segmentation or resizing "
                                "models are not deblurrers)")
            if str(axis.type) == "channel" and len(axis.channel_names) != 1:
                problems.append(f"{len(axis.channel_names)} output channels")
        unsupported = [p.id for p in inp.preprocessing if p.id not in SUPPORTED_OPS]
        if unsupported:
            problems.append(f"preprocessing {', '.join(unsupported)} (supported: {', '.join(SUPPORTED_OPS)})")
        if out.postprocessing and any(p.id != "ensure_dtype" for p in out.postprocessing):
            problems.append("postprocessing (" + ", ".join(p.id for p in out.postprocessing) + ")")
    if descr.weights.torchscript is None and descr.weights.pytorch_state_dict is None:
        formats = [name for name in ("onnx", "tensorflow_saved_model_bundle", "keras_hdf5", "keras_v3",
                                     "tensorflow_js") if getattr(descr.weights, name, None) is not None]
        problems.append(f"weights in {', '.join(formats) or 'no format'} only (TorchScript and pytorch_state_dict "
                        "are supported)")
    if problems:
        raise ValueError(f"The BioImage Model Zoo package {path} cannot run here: " + "; ".join(problems) + ".")


def _input_size(inp: Any) -> tuple[int, int]:
    sizes = []
    for axis in inp.axes:
        if str(axis.type) == "space":
            size = axis.size
            sizes.append((int(size), 0) if isinstance(size, int) else (int(size.min), int(size.step)))
    (m1, s1), (m2, s2) = sizes
    if (m1, s1) != (m2, s2):
        raise ValueError(f"Sizes differ between y ({m1}, step {s1}) and x ({m2}, step {s2}); square rules only.")
    return m1, s1


def load_package(name: str) -> tuple[Any, dict[str, Any]]:
    """The package's checked description, and our model card when we exported it."""
    try:
        from bioimageio.spec import load_description
        from bioimageio.spec.model.v0_5 import ModelDescr
    except ImportError:
        raise ImportError("Running BioImage Model Zoo packages needs bioimageio.spec: "
                          "pip install 'napari-deblur[bioimageio]'.") from None
    path = Path(name).expanduser()
    try:
        descr = load_description(path, perform_io_checks=False)
    except Exception as err:  # noqa: BLE001 - any reader failure: say which file and why
        raise ValueError(f"{path} is not a readable BioImage Model Zoo package ({err}).") from None
    if not isinstance(descr, ModelDescr):
        summary = getattr(descr, "validation_summary", None)
        raise ValueError(f"{path} is not a valid model package of spec 0.5 "
                         f"({summary.format() if summary is not None else type(descr).__name__}).")
    _check(descr, path)
    return descr, our_config(descr)


#: Why the dock's Run stays grey for such a package until its box is ticked (short: it is the button's text).
NEEDS_TRUST = "tick 'trust code': the package runs its own Python code"


def runs_own_code(descr: Any) -> str | None:
    """Why running ``descr`` needs ``trust_code`` (its weights are pytorch_state_dict only), or None."""
    if descr.weights.torchscript is not None:
        return None
    arch = descr.weights.pytorch_state_dict.architecture
    where = f"{arch.callable} from {arch.source}" if hasattr(arch, "source") else f"{arch.import_from}.{arch.callable}"
    return (f"{descr.name}: its weights are pytorch_state_dict only, and loading them runs the package's own Python "
            f"code ({where}). If you know where the package comes from, pass trust_code=True (--trust-code; tick "
            "'trust code' in the Deblur dock).")


def package_network(descr: Any, config: dict[str, Any], *, trust_code: bool = False) -> nn.Module:
    """The package's network as an engine module: TorchScript, or built by the package's code when trusted."""
    from bioimageio.spec.utils import get_reader

    if descr.weights.torchscript is not None:
        weights = io.BytesIO(get_reader(descr.weights.torchscript.source).read())  # from inside the zip, too
        network = torch.jit.load(weights, map_location="cpu")
    else:
        reason = runs_own_code(descr)
        if not trust_code:
            raise ValueError(reason)
        from bioimageio.core.backends.pytorch_backend import load_torch_model

        network = load_torch_model(descr.weights.pytorch_state_dict, load_state=True, devices=["cpu"])
    inp, out = descr.inputs[0], descr.outputs[0]
    ops = [] if config else [(p.id, _kwargs(p)) for p in inp.preprocessing]
    halo = max([int(getattr(a, "halo", 0) or 0) for a in out.axes] + [0])
    # Ours: padded as the network itself pads, with its own context, so the package gives what the model gives.
    size = (int(config["pad_multiple"]),) * 2 if config else _input_size(inp)
    return _PackagedNetwork(network.eval(), ops, size, int(config.get("receptive_field", halo)),
                            channel="channel" in _axes(inp))


def our_config(descr: Any) -> dict[str, Any]:
    """What a package we exported tells our engine (bioimageio/export.py); empty for anyone else's."""
    config = getattr(descr.config, "napari_deblur", None) or {}
    return dict(config) if config.get("card") and "pad_multiple" in config else {}


def _kwargs(op: Any) -> dict[str, Any]:
    kw = {k: v for k, v in (op.kwargs.model_dump() if hasattr(op, "kwargs") else {}).items() if v is not None}
    if op.id in ("scale_range", "zero_mean_unit_variance"):
        kw.setdefault("eps", 1e-6)
    if op.id == "scale_range":
        kw.setdefault("min_percentile", 0.0)
        kw.setdefault("max_percentile", 100.0)
    if op.id in ("scale_linear", "fixed_zero_mean_unit_variance"):
        if op.id == "fixed_zero_mean_unit_variance":
            mean, std = float(kw["mean"]), float(kw["std"])
            kw = {"gain": 1 / std, "offset": -mean / std}
        elif not isinstance(kw.get("gain", 1.0), (int, float)):
            raise ValueError("scale_linear with a gain per channel is not supported (one channel only).")
    return kw


def package_method(name: str) -> MethodSpec | None:
    """A BioImage Model Zoo package path as a method (the registry's resolver); ``None`` for other names."""
    if not is_package(name):
        return None
    descr, config = load_package(name)
    inp = descr.inputs[0]
    least, step = _input_size(inp)
    # A fixed size (step 0) is every tile's size; else tiles are the engine's choice, aligned to the step.
    step, tile = (step, None) if step else (least, least)
    if config:
        step, tile = int(config["tile_alignment"]), int(config["tile_size"])

    own_code = runs_own_code(descr)

    def build(*, psf: Any, device: torch.device, precision: str = "float32",
              trust_code: bool = False) -> NetworkRestorer:
        from napari_deblur.hardware import inference_dtype

        module = package_network(descr, config, trust_code=trust_code)
        return NetworkRestorer(module, device, inference_dtype(precision, torch.device(device)))

    return MethodSpec(name=name, kind="network", build=build,
                      params=(precision_param(), TRUST_CODE) if own_code else (precision_param(),),
                      description=f"BioImage Model Zoo package: {descr.name}" + (" (napari-deblur)" if config else ""),
                      default_tile_size=tile, tile_alignment=step,
                      unavailable=(lambda params: None if params["trust_code"] else NEEDS_TRUST) if own_code else None)


add_resolver(package_method)
