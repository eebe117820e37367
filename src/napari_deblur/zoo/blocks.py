"""Layers shared by the zoo's architectures, written once.

Everything here is device-agnostic (no ``.cuda()``), works under ``torch.inference_mode``, channels_last and
bf16 autocast, and uses plain tensor ops where an exporter would otherwise choke (LayerNorm2d).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def pad_to_multiple(x: torch.Tensor, multiple: int | tuple[int, int]) -> tuple[torch.Tensor, tuple[int, int]]:
    """Reflect-pad H and W up to a multiple (replicate when the image is too small to reflect).

    Returns the padded tensor and the original (H, W), so :func:`crop_to` can undo it.
    """
    mh, mw = (multiple, multiple) if isinstance(multiple, int) else multiple
    h, w = x.shape[-2:]
    ph, pw = (-h) % mh, (-w) % mw
    if ph or pw:
        mode = "reflect" if ph < h and pw < w else "replicate"
        x = F.pad(x, (0, pw, 0, ph), mode=mode)
    return x, (h, w)


def crop_to(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    return x[..., : size[0], : size[1]]


def resize_to(x: torch.Tensor, size: tuple[int, int] | torch.Size) -> torch.Tensor:
    """Bilinear resize to an exact (H, W) (not a factor, so odd sizes round-trip across scales)."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False)


def unet_pass(feats: torch.Tensor, encoders: nn.ModuleList, downs: nn.ModuleList, middle: nn.Module,
              ups: nn.ModuleList, decoders: nn.ModuleList) -> torch.Tensor:
    """A U-Net with additive skips: each encoder level is kept as a skip and downsampled, the middle runs at the
    coarsest level, and each decoder level takes the upsampled features plus its skip (NAFNet, DRUNet)."""
    skips = []
    for encoder, down in zip(encoders, downs):
        feats = encoder(feats)
        skips.append(feats)
        feats = down(feats)
    feats = middle(feats)
    for up, decoder, skip in zip(ups, decoders, reversed(skips)):
        feats = decoder(up(feats) + skip)
    return feats


class LayerNorm2d(nn.Module):
    """LayerNorm over channels of an NCHW tensor, in plain ops (mean/var), so it exports and autocasts."""

    def __init__(self, channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mu = x.mean(1, keepdim=True)
        var = (x - mu).pow(2).mean(1, keepdim=True)
        y = (x - mu) / torch.sqrt(var + self.eps)
        return y * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)


class SimpleGate(nn.Module):
    """Split channels in two halves and multiply them: a nonlinearity without an activation function."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = x.chunk(2, dim=1)
        return a * b


class ResBlock(nn.Module):
    """conv-ReLU-conv with an identity skip (no normalization), as in SRN and DeepDeblur."""

    def __init__(self, channels: int, kernel_size: int = 3) -> None:
        super().__init__()
        pad = kernel_size // 2
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, kernel_size, padding=pad),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, kernel_size, padding=pad),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ChannelAttention(nn.Module):
    """Squeeze-and-excitation: global average pool, bottleneck 1x1 convs, sigmoid gate per channel."""

    def __init__(self, channels: int, reduction: int = 4) -> None:
        super().__init__()
        hidden = max(channels // reduction, 4)
        self.gate = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(channels, hidden, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, channels, 1),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(x)


class ConvLSTMCell(nn.Module):
    """Convolutional LSTM cell: all four gates from one conv over [input, hidden].

    ``forward(x, state)`` returns ``(h, (h, c))``; ``state=None`` starts from zeros of the input's size.
    """

    def __init__(self, in_channels: int, hidden_channels: int, kernel_size: int = 3) -> None:
        super().__init__()
        self.hidden_channels = hidden_channels
        self.gates = nn.Conv2d(in_channels + hidden_channels, 4 * hidden_channels, kernel_size,
                               padding=kernel_size // 2)

    def forward(
        self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        if state is None:
            zeros = x.new_zeros(x.shape[0], self.hidden_channels, *x.shape[-2:])
            state = (zeros, zeros)
        h, c = state
        i, f, o, g = self.gates(torch.cat([x, h], dim=1)).chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, (h, c)


def window_partition(x: torch.Tensor, window: int) -> torch.Tensor:
    """(N, H, W, C) with H, W multiples of ``window`` -> (N * windows, window * window, C)."""
    n, h, w, c = x.shape
    x = x.view(n, h // window, window, w // window, window, c)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, window * window, c)


def window_reverse(windows: torch.Tensor, window: int, h: int, w: int) -> torch.Tensor:
    """Inverse of :func:`window_partition`: (N * windows, window * window, C) -> (N, H, W, C)."""
    c = windows.shape[-1]
    n = windows.shape[0] // ((h // window) * (w // window))
    x = windows.view(n, h // window, w // window, window, window, c)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(n, h, w, c)


def _shift_bands(n: int, window: int, shift: int, device: torch.device) -> torch.Tensor:
    """Band of each of ``n`` positions: 0 before the last window, 1 inside it before the shift, 2 after."""
    index = torch.arange(n, device=device)
    return (index >= n - window).long() + (index >= n - shift).long()


def shifted_window_mask(h: int, w: int, window: int, shift: int, device: torch.device) -> torch.Tensor | None:
    """Attention mask for shifted windows on an (h, w) map: -inf-like between pixels from different regions.

    Recomputed for the real (padded) size of each input, so any H x W works. Returns
    ``(windows, window*window, window*window)`` or ``None`` when ``shift`` is 0.
    """
    if shift == 0:
        return None
    # Three bands per axis (before the last window, inside it before the shift, the shifted-in strip): a pixel's
    # region is its row band * 3 + its column band (tensor ops only, so TorchScript compiles it for any size).
    rows, cols = _shift_bands(h, window, shift, device), _shift_bands(w, window, shift, device)
    region = (3 * rows[:, None] + cols[None, :]).to(torch.float32)[None, :, :, None]
    labels = window_partition(region, window).squeeze(-1)
    diff = labels.unsqueeze(1) - labels.unsqueeze(2)
    return diff.masked_fill(diff != 0, -100.0).masked_fill(diff == 0, 0.0)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def conv_macs(module: nn.Module, shape: tuple[int, ...]) -> int:
    """Multiply-accumulates of one forward pass on an input of ``shape``, counted over conv and linear
    layers (and attention matmuls reported by modules that define ``extra_macs``), with forward hooks."""
    total = 0

    def hook(layer, inputs, output):
        nonlocal total
        if isinstance(layer, nn.Conv2d):
            kh, kw = layer.kernel_size
            total += output.numel() * (layer.in_channels // layer.groups) * kh * kw
        elif isinstance(layer, nn.ConvTranspose2d):
            kh, kw = layer.kernel_size
            total += inputs[0].numel() * (layer.out_channels // layer.groups) * kh * kw
        elif isinstance(layer, nn.Linear):
            total += output.numel() * layer.in_features
        extra = getattr(layer, "extra_macs", None)
        if callable(extra):
            total += int(extra(inputs, output))

    handles = [m.register_forward_hook(hook) for m in module.modules()]
    try:
        device = next(module.parameters()).device
        with torch.inference_mode():
            module(torch.zeros(shape, device=device))
    finally:
        for h in handles:
            h.remove()
    return total


def init_weights(module: nn.Module) -> None:
    """Kaiming-uniform convs and zero biases; an architecture may call this once in ``__init__``."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.kaiming_uniform_(m.weight, a=math.sqrt(5))
            if m.bias is not None:
                nn.init.zeros_(m.bias)
