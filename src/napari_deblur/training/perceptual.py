"""The perceptual (VGG feature) loss, from a weights file the user already has: nothing is downloaded.

DeblurGAN and many deblurring papers add an L1 distance between VGG-19 features of the output and of the
sharp image (here after ``relu3_3``, the third block, as DeblurGAN's content loss): it rewards sharp texture
more than pixel losses do. The network is written out here with torchvision's layer numbering, so the
ImageNet-trained ``vgg19-dcbb9e9d.pth`` that torchvision caches (``~/.cache/torch/hub/checkpoints``) loads as
it is, and so does a ``.safetensors`` file with the same names; ``features.`` prefixes are accepted too.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

#: VGG-19's first three blocks: output channels of each 3x3 convolution, "M" for a 2x2 max pool.
LAYERS = (64, 64, "M", 128, 128, "M", 256, 256, 256)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def vgg19_to_relu3_3() -> nn.Sequential:
    """The layers (conv, ReLU, pool) in torchvision's order and numbering, randomly initialized."""
    layers: list[nn.Module] = []
    channels = 3
    for width in LAYERS:
        if width == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(channels, int(width), 3, padding=1), nn.ReLU(inplace=True)]
            channels = int(width)
    return nn.Sequential(*layers)


def _read_state(path: Path) -> dict[str, torch.Tensor]:
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(path)
    # weights_only: a weights file must not be able to run code; mmap: only the first layers are read.
    state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ValueError(f"{path} holds a {type(state).__name__}, not a state dict of VGG-19 weights.")
    return state


def load_vgg_features(path: str | Path) -> nn.Sequential:
    """VGG-19 up to relu3_3 with the weights in ``path`` (frozen, in eval mode).

    Raises ``ValueError`` naming the file and the problem when it is missing, unreadable, or not VGG-19.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise ValueError(f"VGG weights file {path} does not exist; give a local VGG-19 weights file "
                         "(e.g. torchvision's vgg19-dcbb9e9d.pth) or leave vgg_weights empty.")
    try:
        state = _read_state(path)
    except ValueError:
        raise
    except Exception as err:  # any reader failure: name the file and what went wrong
        raise ValueError(f"Cannot read VGG weights from {path}: {err}") from None
    net = vgg19_to_relu3_3()
    wanted = net.state_dict()
    found = {}
    for name, target in wanted.items():
        tensor = state.get(f"features.{name}", state.get(name))
        if tensor is None or tuple(tensor.shape) != tuple(target.shape):
            got = "missing" if tensor is None else f"shape {tuple(tensor.shape)}"
            raise ValueError(f"{path} is not VGG-19 weights: features.{name} should have shape "
                             f"{tuple(target.shape)}, {got}.")
        found[name] = tensor.float()
    net.load_state_dict(found)
    return net.eval().requires_grad_(False)


class PerceptualLoss(nn.Module):
    """Mean absolute difference of VGG-19 relu3_3 features; grey images are repeated to three channels."""

    def __init__(self, features: nn.Sequential) -> None:
        super().__init__()
        self.features = features
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def train(self, mode: bool = True) -> PerceptualLoss:
        return super().train(False)  # a fixed feature extractor: never in training mode

    def _embed(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        return self.features((x - self.mean) / self.std)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            target_features = self._embed(target)
        return F.l1_loss(self._embed(pred), target_features)
