"""Export a zoo model as a BioImage Model Zoo package (bioimage.io, model spec 0.5), which Fiji (deepImageJ),
ilastik, QuPath and napari plugins can run.

The package holds TorchScript weights traced from the model, the same weights as a ``pytorch_state_dict`` whose
architecture is our class imported from the napari-deblur library (with an environment.yaml naming it), test input
and output tensors made by our own engine, the axes (batch, one channel, y, x; colour images go channel by channel,
as in our engine), our intensity
normalization written as the spec's preprocessing (``scale_range`` from the 0.1th to the 99.9th percentile of each
image, restore/intensity.py's policy for scientific data), the model card as documentation (recipe, data, scores,
license, the family's paper) and a cover (blurred | deblurred). ``bioimageio.spec`` builds and validates it and
``bioimageio.core`` tests it (the optional extra ``napari-deblur[bioimageio]``; the core install stays light).

Sizes: a network traced once runs at any multiple of 16 when its forward pass has no size-dependent Python logic;
the parts that have it (NAFNet's local pooling, the Swin U-Net's window layout and shift) are compiled with
TorchScript instead (``export_script = True``). The export checks that the graph matches the model at other sizes.
The output is in the normalized units (0 and 1 at the input's percentiles): the spec has no inverse of
``scale_range``.
"""

from __future__ import annotations

import copy
import json
import tempfile
import warnings
from collections.abc import Generator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from napari_deblur.zoo.family import FAMILIES
from napari_deblur.zoo.weights import find_weights, load_model

#: Input sides are multiples of this (the networks downsample by up to 16), at least this.
SIZE_STEP = 16
TEST_SIDE = 128
LICENSE = "MIT"  # the project's license, which our trained weights share


def _require() -> None:
    try:
        import bioimageio.core  # noqa: F401
        import bioimageio.spec  # noqa: F401
    except ImportError:
        raise ImportError("Exporting to the BioImage Model Zoo needs bioimageio.spec and bioimageio.core: "
                          "pip install 'napari-deblur[bioimageio]'.") from None


def _trace(module: torch.nn.Module) -> torch.jit.ScriptModule:
    """TorchScript of ``module`` that matches it at several multiples of 16, or ValueError saying why not.

    Submodules whose behaviour depends on the input size in Python (``export_script = True``: NAFNet's local
    pooling, the Swin U-Net's stages) are compiled with ``torch.jit.script`` first; a trace keeps them as they are.
    ``module`` itself stays as it was: the check compares the graph against it.
    """
    reference, module = module, copy.deepcopy(module)
    for parent in list(module.modules()):
        for name, child in list(parent.named_children()):
            if getattr(child, "export_script", False):
                setattr(parent, name, torch.jit.script(child))
    example = torch.rand(1, 1, 4 * SIZE_STEP, 4 * SIZE_STEP)
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # TracerWarnings: checked below against the model itself
            traced = torch.jit.trace(module, example, check_trace=False)
            # Sizes below and above the traced one, where size-dependent code takes other branches (above 256 px the
            # Swin U-Net's bottleneck turns from one global window into several).
            for shape in [(1, 1, 6 * SIZE_STEP, 8 * SIZE_STEP), (2, 1, 3 * SIZE_STEP, 5 * SIZE_STEP),
                          (1, 1, 20 * SIZE_STEP, 17 * SIZE_STEP)]:
                x = torch.rand(shape)
                ours, theirs = reference(x), traced(x)
                if ours.shape != theirs.shape or float((ours - theirs).abs().max()) > 1e-4:
                    raise ValueError(f"the traced graph differs from the model at {shape[-2]}x{shape[-1]}")
    except (RuntimeError, TypeError, ValueError) as err:
        raise ValueError(f"This network cannot be exported to TorchScript at any size ({err}).") from None
    return traced


def _test_image(denoiser: bool = False) -> np.ndarray:
    """A blurred (or, for a denoiser, noisy) 128x128 image in camera counts (float32), so the percentile
    preprocessing has work to do."""
    from skimage import data

    from napari_deblur.synth.synthesize import synthesize_blur

    sharp = data.camera()[160:160 + TEST_SIDE, 180:180 + TEST_SIDE].astype(np.float32) / 255
    if denoiser:
        degraded = sharp + np.random.default_rng(3).normal(0, 0.05, sharp.shape).astype(np.float32)
    else:
        degraded, _ = synthesize_blur(sharp, "camera_shake", seed=3, noise=0.01, output_dtype="float32")
    return (100 + 3000 * degraded).astype(np.float32)


#: What the package calls its tensors and work, for deblurring models (False) and denoisers (True).
TENSOR_WORDS = {
    False: {"input": "blurred", "output": "deblurred", "in": "A blurred image, one channel.",
            "out": "The deblurred image, in the input's normalized units.",
            "tags": ["deblurring", "deconvolution", "restoration"]},
    True: {"input": "noisy", "output": "denoised", "in": "A noisy image, one channel (its noise level is measured).",
           "out": "The denoised image, in the input's normalized units.", "tags": ["denoising", "restoration"]},
}


def _readme(name: str, card: dict[str, Any], family: Any) -> str:
    training = card.get("training") or {}
    lines = [f"# {name}", "", str(card.get("purpose") or family.description), "",
             f"A `{card['family']}` ({card.get('size')}) network from napari-deblur's model zoo: {family.description}",
             "", "## Input and output",
             "One channel, y, x, any side that is a multiple of 16. The input is normalized from its 0.1th to its "
             "99.9th percentile (the preprocessing); the output is in those normalized units. Colour images go "
             "channel by channel.", "", "## Training", "",
             f"- data: {training.get('data', 'not recorded')}", f"- steps: {training.get('steps', 'not recorded')}",
             f"- command: `{training.get('command', 'not recorded')}`", "", "## Scores", "",
             "```json", json.dumps(card.get("metrics") or {}, indent=1), "```", "", "## Citation", "",
             family.citation, ""]
    return "\n".join(lines)


def _architecture(module: torch.nn.Module, card: dict[str, Any]) -> Any:
    """The network as the spec describes a ``pytorch_state_dict``'s architecture: our class, imported from the
    napari-deblur library, with the keyword arguments that build it (the size's settings and the card's config)."""
    from bioimageio.spec.model import v0_5 as bmz

    family = FAMILIES[card["family"]]
    kwargs = json.loads(json.dumps({**family.sizes[card["size"]], **card.get("config", {})}))  # tuples as lists
    cls = type(module)
    return bmz.ArchitectureFromLibraryDescr(callable=bmz.Identifier(cls.__name__), import_from=cls.__module__,
                                            kwargs=kwargs)


def _environment(path: Path) -> Path:
    """The conda environment the ``pytorch_state_dict`` weights need: PyTorch and napari-deblur (their classes)."""
    from importlib.metadata import version

    pins = [f"torch=={torch.__version__.split('+')[0]}", f"napari-deblur=={version('napari-deblur')}"]
    path.write_text("name: napari-deblur\ndependencies:\n  - python>=3.10\n  - pip\n  - pip:\n"
                    + "".join(f"    - {pin}\n" for pin in pins), encoding="utf-8")
    return path


def _package_name(stem: str, family: str) -> str:
    """The package's name: the model's, with its family in front when it is shorter than the spec's 5 characters."""
    name = stem if len(stem) >= 5 else f"{family}-{stem}"
    return name.replace("_", "-")[:128]


def _cover(blurred: np.ndarray, deblurred: np.ndarray, path: Path) -> Path:
    from PIL import Image

    def grey(x: np.ndarray) -> np.ndarray:
        return np.round(255 * np.clip(x, 0, 1)).astype(np.uint8)

    Image.fromarray(np.concatenate([grey(blurred), grey(deblurred)], axis=1)).save(path)  # 2:1, as the zoo asks
    return path


def export_bioimageio(model: str, output: str | Path, *, overwrite: bool = False) -> Path:
    """Write the zoo model ``model`` (a shipped or trained model's name, or a ``.safetensors`` path) as a BioImage
    Model Zoo package ``output`` (.zip), validated by bioimageio.spec; returns its path.

    Raises ``ValueError`` for a model that is not a deblurring network of the zoo, a network that cannot be traced,
    or an existing ``output`` (unless ``overwrite``); ``ImportError`` without the ``bioimageio`` extra.
    """
    from napari_deblur.restore.progress import drain

    return drain(export_steps(model, output, overwrite=overwrite))


def export_steps(model: str, output: str | Path, *, overwrite: bool = False) -> Generator[str, None, Path]:
    """:func:`export_bioimageio`, yielding each stage's name as it starts (the export takes minutes, most of it in
    bioimageio.spec's import and validation: the CLI and the dock show where it is)."""
    _require()
    yield "importing bioimageio.spec"
    from bioimageio.spec import save_bioimageio_package
    from bioimageio.spec.model import v0_5 as bmz

    from napari_deblur.restore.engine import deblur_steps, drain

    output = Path(output).expanduser()
    if output.suffix.lower() != ".zip":
        raise ValueError(f"The package is a .zip file; got {output}.")
    if output.exists() and not overwrite:
        raise ValueError(f"{output} exists; pass overwrite=True (--overwrite) to replace it.")
    path = find_weights(model)
    if path is None:
        raise ValueError(f"No model {model!r}: give a shipped or trained model's name or a .safetensors path.")
    yield f"loading {path.name}"
    module = load_model(path).float().eval()
    card = dict(module.card)
    family = FAMILIES[card["family"]]
    if family.makes_blur:
        raise ValueError(f"{model!r} is a {family.name} model, which makes blur rather than removing it: only "
                         "deblurring models and denoisers are exported.")
    if card.get("config", {}).get("in_channels", 1) != 1:
        raise ValueError(f"{model!r} takes colour images jointly (in_channels 3); only one-channel models are "
                         "exported so far.")
    yield "tracing the network (TorchScript)"
    traced = _trace(module)
    denoiser = family.noise_conditioned
    yield "running the test image"
    image = _test_image(denoiser)
    low, high = np.percentile(image, [0.1, 99.9])
    if denoiser:  # the packaged network measures the noise level itself, from the normalized input
        with torch.no_grad():
            normalized = torch.from_numpy(((image - low) / (high - low)).astype(np.float32))[None, None]
            deblurred = module(normalized)[0, 0].numpy() * (high - low) + low
    else:
        deblurred = drain(deblur_steps(image, str(path), precision="float32", output_dtype="float32"))
    words = TENSOR_WORDS[denoiser]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        traced.save(str(folder / "weights.pt"))
        torch.save(module.state_dict(), folder / "state_dict.pt")
        np.save(folder / "test_input.npy", image[None, None])
        np.save(folder / "test_output.npy", ((deblurred - low) / (high - low)).astype(np.float32)[None, None])
        (folder / "README.md").write_text(_readme(path.stem, card, family), encoding="utf-8")
        cover = _cover((image - low) / (high - low), (deblurred - low) / (high - low), folder / "cover.png")
        y, x = bmz.AxisId("y"), bmz.AxisId("x")
        version = bmz.Version(torch.__version__.split("+")[0])
        channel = bmz.ChannelAxis(channel_names=[bmz.Identifier("intensity")])
        halo = min(int(getattr(module, "receptive_field", 32)), 4 * SIZE_STEP) // 2
        # A consumer crops the halo off each tile: a tile must be larger than both halos.
        size = bmz.ParameterizedSize(min=SIZE_STEP * (2 * halo // SIZE_STEP + 1), step=SIZE_STEP)
        inputs = bmz.InputTensorDescr(
            id=bmz.TensorId(words["input"]), description=words["in"],
            axes=[bmz.BatchAxis(), channel, bmz.SpaceInputAxis(id=y, size=size),
                  bmz.SpaceInputAxis(id=x, size=size)],
            test_tensor=bmz.FileDescr(source=folder / "test_input.npy"),
            data=bmz.IntervalOrRatioDataDescr(type="float32"),
            preprocessing=[bmz.ScaleRangeDescr(kwargs=bmz.ScaleRangeKwargs(
                axes=[y, x], min_percentile=0.1, max_percentile=99.9))])
        reference = bmz.TensorId(words["input"])
        outputs = bmz.OutputTensorDescr(
            id=bmz.TensorId(words["output"]), description=words["out"],
            axes=[bmz.BatchAxis(), channel,
                  bmz.SpaceOutputAxisWithHalo(id=y, halo=halo, size=bmz.SizeReference(tensor_id=reference, axis_id=y)),
                  bmz.SpaceOutputAxisWithHalo(id=x, halo=halo, size=bmz.SizeReference(tensor_id=reference, axis_id=x))],
            test_tensor=bmz.FileDescr(source=folder / "test_output.npy"),
            data=bmz.IntervalOrRatioDataDescr(type="float32"))
        description = bmz.ModelDescr(
            name=_package_name(path.stem, card["family"]),
            description=str(card.get("purpose") or family.description)[:1024],
            authors=[bmz.Author(name="napari-deblur")],
            cite=[bmz.CiteEntry(text=family.citation, url=family.paper_url or None)],
            license=bmz.LicenseId(LICENSE),
            documentation=bmz.FileDescr(source=folder / "README.md"),
            covers=[bmz.FileDescr(source=cover)],
            tags=[*words["tags"], "2d", card["family"], "napari-deblur"],
            inputs=[inputs], outputs=[outputs],
            weights=bmz.WeightsDescr(
                torchscript=bmz.TorchscriptWeightsDescr(source=folder / "weights.pt", pytorch_version=version),
                pytorch_state_dict=bmz.PytorchStateDictWeightsDescr(
                    source=folder / "state_dict.pt", pytorch_version=version, architecture=_architecture(module, card),
                    dependencies=bmz.FileDescr(source=_environment(folder / "environment.yaml")))),
            # What our engine needs to run the package exactly as the model (bioimageio/run.py): the card, the
            # tiles' context and alignment, and the side the network pads its input to.
            config={"napari_deblur": {"card": json.loads(json.dumps(card, default=str)),
                                      "receptive_field": int(getattr(module, "receptive_field", 32)),
                                      "tile_alignment": family.tile_alignment, "tile_size": family.tile_size,
                                      "pad_multiple": int(getattr(module, "multiple", SIZE_STEP))}},
        )
        output.parent.mkdir(parents=True, exist_ok=True)
        if output.exists():
            output.unlink()
        yield "validating and writing the package (bioimageio.spec)"
        return Path(save_bioimageio_package(description, output_path=output))


def run_bioimageio_test(package: str | Path) -> bool:
    """Run bioimageio.core's test of the package (its test input through the weights, against its test output)
    and return whether it passed; the details are printed when it did not."""
    _require()
    from bioimageio.core import test_model

    summary = test_model(Path(package))
    if summary.status != "passed":
        print(summary.format() if hasattr(summary, "format") else summary)
    return summary.status == "passed"
