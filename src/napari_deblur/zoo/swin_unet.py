"""Swin U-Net: a U-shaped hierarchy of (shifted) window-attention blocks for deblurring.

Follows Swin Transformer (Liu et al., ICCV 2021) as used for restoration by Uformer (Wang et al., CVPR 2022):
each block is LayerNorm -> window multi-head self-attention with a learnable relative position bias -> residual
-> LayerNorm -> locally-enhanced feed-forward (LeFF: linear, depthwise 3x3 conv, GELU, linear) -> residual.
Blocks alternate an unshifted and a half-window cyclically shifted partition, so information crosses window
borders. Unlike Uformer (window 8 everywhere) the window widens with depth, and the bottleneck is global.

Any H x W: the input is padded to the total downsampling multiple, each stage pads its map to its own window
multiple (the shift mask is recomputed for that real padded size) and crops back.

Global bottleneck: a relative position bias table is sized for a fixed window, so the bottleneck's table covers
a window of at most ``max_global`` pixels. A map up to that size (in both axes) is attended as one window of
its own (possibly rectangular) size, using the sub-table of the offsets it needs; a larger map (big tiles of
a model with few downsamplings) falls back to non-overlapping ``max_global`` windows, without shift.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from napari_deblur.zoo.blocks import (
    crop_to,
    init_weights,
    pad_to_multiple,
    shifted_window_mask,
    window_partition,
    window_reverse,
)
from napari_deblur.zoo.family import Family
from napari_deblur.zoo.registration import register_family

#: Most attention scores (windows x heads x T x T) held at once; bounds memory on large maps.
ATTENTION_CHUNK = 1 << 23

SIZES: dict[str, dict] = {
    # Uformer-S-like widths with fewer, shallower levels: ~2 M parameters, quick on a CPU.
    "small": {"embed_dim": 16, "depths": (1, 2, 2), "bottleneck_depth": 2, "heads": (1, 2, 4, 8),
              "windows": (8, 16, 32), "max_global": 32, "mlp_ratio": 4.0},
    # Uformer-B: embedding 32, encoder depths 1-2-8-8, bottleneck 2, mirrored decoder, head width 32.
    "base": {"embed_dim": 32, "depths": (1, 2, 8, 8), "bottleneck_depth": 2, "heads": (1, 2, 4, 8, 16),
             "windows": (8, 16, 32, 32), "max_global": 32, "mlp_ratio": 4.0},
}


class WindowAttention(nn.Module):
    """Multi-head self-attention inside windows, plus a learnable bias per relative offset and head.

    The table holds ``(2w - 1)^2`` offsets for the largest window ``w``; smaller or rectangular windows (maps
    smaller than ``w``, the global bottleneck) pick their rows through a sub-grid of the precomputed index.
    """

    def __init__(self, dim: int, heads: int, window: int) -> None:
        super().__init__()
        self.heads, self.window, self.scale = heads, window, (dim // heads) ** -0.5
        self.chunk = ATTENTION_CHUNK  # an attribute, not the global: TorchScript reads no module globals
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.bias_table = nn.Parameter(torch.zeros((2 * window - 1) ** 2, heads))
        nn.init.trunc_normal_(self.bias_table, std=0.02)
        yx = torch.stack(torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")).flatten(1)
        rel = yx[:, :, None] - yx[:, None, :] + window - 1  # (2, w^2, w^2) offsets shifted to >= 0
        self.register_buffer("rel_index", rel[0] * (2 * window - 1) + rel[1], persistent=False)

    def position_bias(self, wh: int, ww: int) -> torch.Tensor:
        """(heads, wh*ww, wh*ww) bias of a wh x ww window (wh, ww <= the table's window)."""
        ids = (torch.arange(wh, device=self.rel_index.device)[:, None] * self.window
               + torch.arange(ww, device=self.rel_index.device)[None, :]).flatten()
        index = self.rel_index if wh == self.window and ww == self.window else self.rel_index[ids][:, ids]
        return self.bias_table[index].permute(2, 0, 1)

    def forward(self, x: torch.Tensor, wh: int, ww: int, mask: torch.Tensor | None = None) -> torch.Tensor:
        """``x``: (batch * windows, wh * ww, C); ``mask``: (windows, T, T) additive, or None.

        Windows are attended in chunks of at most ``ATTENTION_CHUNK`` score entries: the (T x T) score
        matrices of a large map would otherwise all exist at once (gigabytes for 32x32 windows on a
        megapixel), and chunks that fit the CPU's caches are also faster.
        """
        b, t, _ = x.shape
        bias = self.position_bias(wh, ww)
        step = max(1, self.chunk // (self.heads * t * t))
        if b <= step:
            return self._attend(x, bias, mask, 0)
        return torch.cat([self._attend(x[s : s + step], bias, mask, s) for s in range(0, b, step)])

    def _attend(self, x: torch.Tensor, bias: torch.Tensor, mask: torch.Tensor | None, first: int) -> torch.Tensor:
        """Attention for windows ``first .. first + len(x)`` of the batch (their mask rows cycle by window)."""
        b, t, c = x.shape
        qkv = self.qkv(x).view(b, t, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = (q * self.scale) @ k.transpose(-2, -1)
        # In place where autograd allows it: the score matrices are the largest tensors of the model.
        in_place = not torch.is_grad_enabled()
        attn = attn.add_(bias.to(attn.dtype)) if in_place else attn + bias.to(attn.dtype)
        if mask is not None:  # shifted windows: forbid attention between pixels that were not neighbours
            rows = torch.arange(first, first + b, device=mask.device) % mask.shape[0]
            window_mask = mask[rows][:, None].to(attn.dtype)
            attn = attn.add_(window_mask) if in_place else attn + window_mask
        out = (attn.softmax(-1) @ v).transpose(1, 2).reshape(b, t, c)
        return self.proj(out)

    def extra_macs(self, inputs: tuple, output: torch.Tensor) -> int:
        """QK^T and attention-times-V: two (T x T x C) products per window."""
        b, t, c = inputs[0].shape
        return 2 * b * t * t * c


class LeFF(nn.Module):
    """Locally-enhanced feed-forward: a depthwise 3x3 conv on the spatial map between the two linears."""

    def __init__(self, dim: int, ratio: float) -> None:
        super().__init__()
        hidden = int(dim * ratio)
        self.fc1 = nn.Linear(dim, hidden)
        self.dw = nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.dw(self.fc1(x).permute(0, 3, 1, 2)).permute(0, 2, 3, 1)  # NHWC -> NCHW for the conv
        return self.fc2(F.gelu(y))


class SwinBlock(nn.Module):
    """Pre-norm (shifted) window attention and LeFF, both residual, on an (N, H, W, C) map."""

    def __init__(self, dim: int, heads: int, window: int, shifted: bool, mlp_ratio: float) -> None:
        super().__init__()
        self.shifted = shifted  # the stage decides the actual shift (none when the map is a single window)
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, heads, window)
        self.ffn = LeFF(dim, mlp_ratio)

    def forward(self, x: torch.Tensor, window: int | None, shift: int = 0,
                mask: torch.Tensor | None = None) -> torch.Tensor:
        """``window=None`` attends the whole map as one (possibly rectangular) window."""
        n, h, w, c = x.shape
        y = self.norm1(x)
        if shift:
            y = torch.roll(y, (-shift, -shift), dims=(1, 2))
        if window is None:
            y = self.attn(y.reshape(n, h * w, c), h, w).view(n, h, w, c)
        else:
            y = window_reverse(self.attn(window_partition(y, window), window, window, mask), window, h, w)
        if shift:
            y = torch.roll(y, (shift, shift), dims=(1, 2))
        x = x + y
        return x + self.ffn(self.norm2(x))


class SwinStage(nn.Module):
    """Blocks sharing a window on one U-Net level; pads its NCHW map to the window multiple and crops back.

    ``global_=True`` makes ``window`` the cap of a global window: the whole map (if it fits) is one window.
    """

    #: The layout is chosen from the map's size in Python, which a trace would freeze: the BioImage Model Zoo
    #: export compiles each stage with TorchScript instead (bioimageio/export.py).
    export_script = True

    def __init__(self, dim: int, depth: int, heads: int, window: int, mlp_ratio: float,
                 global_: bool = False) -> None:
        super().__init__()
        self.window, self.global_ = window, global_
        self.blocks = nn.ModuleList(
            SwinBlock(dim, heads, window, shifted=(i % 2 == 1 and not global_), mlp_ratio=mlp_ratio)
            for i in range(depth)
        )

    def layout(self, h: int, w: int) -> int | None:
        """The window used on an h x w map: None = the whole map, else a square side (padding multiple)."""
        if self.global_:
            return None if h <= self.window and w <= self.window else self.window
        return min(self.window, max(h, w))  # no point padding a small map up to a huge window

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2], x.shape[-1]
        window = self.layout(h, w)
        if window is None:  # the whole map is one window: no padding, no shift
            y = x.permute(0, 2, 3, 1)
            for block in self.blocks:
                y = block(y, None)
            return y.permute(0, 3, 1, 2)
        y = pad_to_multiple(x, window)[0].permute(0, 2, 3, 1)
        hp, wp = y.shape[1], y.shape[2]
        # Shift only when there are several windows to connect; the mask is rebuilt for this padded size.
        shift = window // 2 if (hp > window or wp > window) and not self.global_ else 0
        mask = shifted_window_mask(hp, wp, window, shift, x.device) if shift else None
        for block in self.blocks:
            y = block(y, window, shift, mask) if block.shifted else block(y, window)
        return crop_to(y.permute(0, 3, 1, 2), (h, w))


class SwinUNet(nn.Module):
    """Uformer-style U-Net of Swin stages with widening windows and a global-attention bottleneck.

    Parameters
    ----------
    in_channels : int
        Image channels (1 for grey microscopy).
    embed_dim : int
        Channels at full resolution; doubled at each downsampling.
    depths : tuple of int
        Blocks per encoder level (the decoder mirrors them); its length is the number of downsamplings.
    bottleneck_depth : int
        Blocks of global attention at the coarsest level.
    heads : tuple of int
        Heads per encoder level plus one for the bottleneck (decoder levels use twice the encoder's).
    windows : tuple of int
        Window side per level, widening with depth.
    max_global : int
        Largest bottleneck map attended as one window (sizes its bias table); larger maps use windows of it.
    mlp_ratio : float
        LeFF hidden expansion.
    """

    def __init__(self, in_channels: int = 1, embed_dim: int = 32, depths: tuple[int, ...] = (1, 2, 8, 8),
                 bottleneck_depth: int = 2, heads: tuple[int, ...] = (1, 2, 4, 8, 16),
                 windows: tuple[int, ...] = (8, 16, 32, 32), max_global: int = 32, mlp_ratio: float = 4.0) -> None:
        super().__init__()
        levels = len(depths)
        if len(windows) != levels or len(heads) != levels + 1:
            raise ValueError("windows needs one entry per level and heads one more (the bottleneck).")
        dims = [embed_dim * 2**i for i in range(levels + 1)]
        self.multiple = 2**levels
        self.receptive_field = 64  # the bottleneck sees the whole tile; capped as the contract asks
        self.inp = nn.Sequential(nn.Conv2d(in_channels, embed_dim, 3, padding=1), nn.LeakyReLU(0.2, inplace=True))
        self.encoders = nn.ModuleList(
            SwinStage(dims[i], depths[i], heads[i], windows[i], mlp_ratio) for i in range(levels))
        self.downs = nn.ModuleList(nn.Conv2d(dims[i], dims[i + 1], 4, stride=2, padding=1) for i in range(levels))
        self.bottleneck = SwinStage(dims[-1], bottleneck_depth, heads[-1], max_global, mlp_ratio, global_=True)
        # Decoder level i works on [upsampled, skip] concatenated: 2 * dims[i] channels (as in Uformer).
        self.ups = nn.ModuleList(
            nn.ConvTranspose2d(dims[-1] if i == levels - 1 else 2 * dims[i + 1], dims[i], 2, stride=2)
            for i in range(levels))
        self.decoders = nn.ModuleList(
            SwinStage(2 * dims[i], depths[i], 2 * heads[i], windows[i], mlp_ratio) for i in range(levels))
        self.out = nn.Conv2d(2 * embed_dim, in_channels, 3, padding=1)
        for m in self.modules():  # transformer-style init for the linears; convs get the shared init below
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)
        init_weights(self)

    def forward(self, x: torch.Tensor, return_all_scales: bool = False) -> torch.Tensor | list[torch.Tensor]:
        """Deblur ``x`` (N, C, H, W) in [0, 1]: input + predicted residual, same shape as ``x``."""
        xp, size = pad_to_multiple(x, self.multiple)
        y = self.inp(xp)
        skips = []
        for stage, down in zip(self.encoders, self.downs):
            y = stage(y)
            skips.append(y)
            y = down(y)
        y = self.bottleneck(y)
        for i in reversed(range(len(self.decoders))):
            y = self.decoders[i](torch.cat([self.ups[i](y), skips[i]], dim=1))
        out = crop_to(xp + self.out(y), size)
        return [out] if return_all_scales else out



register_family(Family(
    name="swin_unet",
    cls=SwinUNet,
    sizes=SIZES,
    description="Swin/Uformer-style U-Net: shifted window attention, windows widening with depth, global bottleneck.",
    citation="Wang et al., Uformer: A General U-Shaped Transformer for Image Restoration, CVPR 2022; "
             "Liu et al., Swin Transformer, ICCV 2021",
    paper_url="https://arxiv.org/abs/2106.03106",
    activation_bytes={"small": 2500, "base": 6800},
))
