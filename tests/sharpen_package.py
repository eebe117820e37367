"""A BioImage Model Zoo package made without our code (a fixed 3x3 sharpening convolution), for the import tests of
tests/test_bioimageio.py and the Deblur dock's."""

from __future__ import annotations

import numpy as np

SHARPEN_SOURCE = """
import torch


class Sharpen(torch.nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        k = torch.tensor([[0.0, -1.0, 0.0], [-1.0, 5.0, -1.0], [0.0, -1.0, 0.0]])
        self.register_buffer("kernel", k.reshape(1, 1, 3, 3).repeat(channels, 1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.conv2d(torch.nn.functional.pad(x, (1, 1, 1, 1), mode="reflect"),
                                          self.kernel[:, :1].contiguous())
"""


def sharpen_package(folder, *, out_channels: int = 1, preprocessing: bool = True, weights: str = "torchscript"):
    """A package made without our code: a fixed 3x3 sharpening convolution (weights sum to 1), as TorchScript or
    as a ``pytorch_state_dict`` with its architecture in a Python file of the package."""
    import importlib.util

    import torch
    from bioimageio.spec import save_bioimageio_package
    from bioimageio.spec.model import v0_5 as bmz

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sharpen_arch.py").write_text(SHARPEN_SOURCE)
    spec = importlib.util.spec_from_file_location("sharpen_arch", folder / "sharpen_arch.py")
    arch = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(arch)
    Sharpen = arch.Sharpen
    if weights == "torchscript":
        torch.jit.script(Sharpen(out_channels)).save(str(folder / "sharpen.pt"))
        described = bmz.WeightsDescr(torchscript=bmz.TorchscriptWeightsDescr(source=folder / "sharpen.pt",
                                                                             pytorch_version=bmz.Version("2.0")))
    else:
        torch.save(Sharpen(out_channels).state_dict(), folder / "sharpen_state.pt")
        described = bmz.WeightsDescr(pytorch_state_dict=bmz.PytorchStateDictWeightsDescr(
            source=folder / "sharpen_state.pt", pytorch_version=bmz.Version("2.0"),
            architecture=bmz.ArchitectureFromFileDescr(source=folder / "sharpen_arch.py", callable="Sharpen",
                                                       kwargs={"channels": out_channels})))
    x = np.random.default_rng(0).random((1, 1, 64, 64)).astype(np.float32)
    np.save(folder / "in.npy", x)
    np.save(folder / "out.npy", Sharpen(out_channels)(torch.from_numpy(x)).numpy())
    (folder / "README.md").write_text("# sharpen\n")
    y, xa = bmz.AxisId("y"), bmz.AxisId("x")
    size = bmz.ParameterizedSize(min=16, step=8)
    pre = [bmz.ScaleRangeDescr(kwargs=bmz.ScaleRangeKwargs(axes=[y, xa], min_percentile=1.0, max_percentile=99.0))]
    inputs = bmz.InputTensorDescr(
        id=bmz.TensorId("raw"), test_tensor=bmz.FileDescr(source=folder / "in.npy"),
        axes=[bmz.BatchAxis(), bmz.ChannelAxis(channel_names=[bmz.Identifier("c")]),
              bmz.SpaceInputAxis(id=y, size=size), bmz.SpaceInputAxis(id=xa, size=size)],
        preprocessing=pre if preprocessing else [])
    names = [bmz.Identifier(f"class{i}") for i in range(out_channels)]
    outputs = bmz.OutputTensorDescr(
        id=bmz.TensorId("sharp"), test_tensor=bmz.FileDescr(source=folder / "out.npy"),
        axes=[bmz.BatchAxis(), bmz.ChannelAxis(channel_names=names),
              bmz.SpaceOutputAxisWithHalo(id=y, halo=1, size=bmz.SizeReference(tensor_id=bmz.TensorId("raw"),
                                                                                axis_id=y)),
              bmz.SpaceOutputAxisWithHalo(id=xa, halo=1, size=bmz.SizeReference(tensor_id=bmz.TensorId("raw"),
                                                                                 axis_id=xa))])
    descr = bmz.ModelDescr(
        name="sharpen", description="A fixed 3x3 sharpening convolution.", authors=[bmz.Author(name="someone")],
        cite=[bmz.CiteEntry(text="none", url="https://example.com")], license=bmz.LicenseId("MIT"),
        documentation=bmz.FileDescr(source=folder / "README.md"), inputs=[inputs], outputs=[outputs],
        weights=described)
    return save_bioimageio_package(descr, output_path=folder / "sharpen.zip")
