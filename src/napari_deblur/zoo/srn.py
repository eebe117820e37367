"""SRN-DeblurNet: a scale-recurrent encoder-decoder (Tao et al., CVPR 2018).

One encoder-decoder, with one set of weights, is applied coarse to fine over an image pyramid (factor 0.5).
At each scale it sees the blurred image at that scale next to the upsampled estimate of the coarser scale,
and a ConvLSTM at 1/4 resolution carries its hidden and cell states from scale to scale, so what was learnt
about the blur at a coarse scale informs the finer ones. Sharing the weights is the paper's point: the
deblurring step is the same operation at every scale, so it needs no extra parameters per scale and trains
on every scale at once.

Unlike the paper (which predicts the sharp image directly), each scale here predicts a residual on its own
blurred input, from a last conv initialized small: an untrained network starts close to the identity (and
gradients still reach every layer), so training converges faster.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from napari_deblur.zoo.blocks import ConvLSTMCell, ResBlock, crop_to, init_weights, pad_to_multiple, resize_to
from napari_deblur.zoo.family import Family
from napari_deblur.zoo.registration import register_family

#: Named configurations. "base" is the paper's: 5x5 kernels, widths 32/64/128, 3 ResBlocks per block and
#: 3 scales. "small" keeps the widths and the scale recurrence but uses 3x3 kernels and 2 ResBlocks per block.
SIZES: dict[str, dict] = {
    "small": {"widths": (32, 64, 128), "n_resblocks": 2, "kernel_size": 3, "n_scales": 3, "lstm_kernel": 3},
    "base": {"widths": (32, 64, 128), "n_resblocks": 3, "kernel_size": 5, "n_scales": 3, "lstm_kernel": 3},
}

#: Each scale is this fraction of the next finer one.
SCALE_FACTOR = 0.5
#: Two stride-2 levels: each scale's input is padded to a multiple of 4 so the skips line up exactly.
MULTIPLE = 4


def _conv(cin: int, cout: int, kernel_size: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel_size, stride=stride, padding=kernel_size // 2)


def _resblocks(channels: int, n: int, kernel_size: int) -> list[nn.Module]:
    return [ResBlock(channels, kernel_size) for _ in range(n)]


class SRN(nn.Module):
    """Scale-recurrent network: one ResBlock encoder-decoder with a ConvLSTM, shared across scales.

    Parameters
    ----------
    in_channels : int
        Image channels C (the network itself sees 2C: the blurred image and the coarser estimate).
    widths : sequence of 3 int
        Feature channels at full, 1/2 and 1/4 resolution (paper: 32, 64, 128).
    n_resblocks : int
        ResBlocks in each of the In/E/D/Out blocks (paper: 3).
    kernel_size : int
        Kernel of every convolution except the ConvLSTM's and the transposed convs (paper: 5).
    n_scales : int
        Pyramid levels, each half the size of the next (paper: 3). Does not change the parameter count.
    lstm_kernel : int
        Kernel of the ConvLSTM's gate convolution (3 in the authors' implementation).
    """

    def __init__(
        self,
        in_channels: int = 1,
        widths: Sequence[int] = (32, 64, 128),
        n_resblocks: int = 3,
        kernel_size: int = 5,
        n_scales: int = 3,
        lstm_kernel: int = 3,
    ) -> None:
        super().__init__()
        if len(widths) != 3:
            raise ValueError(f"SRN needs 3 widths (full, 1/2, 1/4 resolution), got {tuple(widths)}.")
        if n_scales < 1:
            raise ValueError(f"n_scales must be >= 1, got {n_scales}.")
        w0, w1, w2 = (int(w) for w in widths)
        k, b = kernel_size, n_resblocks
        self.in_channels = in_channels
        self.n_scales = n_scales
        relu = nn.ReLU(inplace=True)
        # The plain convs are followed by a ReLU (as the authors' slim layers are); the ResBlocks are linear at
        # their output so the identity path stays clean.
        self.in_block = nn.Sequential(_conv(2 * in_channels, w0, k), relu, *_resblocks(w0, b, k))
        self.enc1 = nn.Sequential(_conv(w0, w1, k, stride=2), relu, *_resblocks(w1, b, k))
        self.enc2 = nn.Sequential(_conv(w1, w2, k, stride=2), relu, *_resblocks(w2, b, k))
        self.lstm = ConvLSTMCell(w2, w2, lstm_kernel)
        # A 4x4 stride-2 transposed conv with padding 1 doubles the size exactly (no checkerboard offset).
        self.dec1 = nn.Sequential(*_resblocks(w2, b, k), nn.ConvTranspose2d(w2, w1, 4, 2, padding=1), relu)
        self.dec2 = nn.Sequential(*_resblocks(w1, b, k), nn.ConvTranspose2d(w1, w0, 4, 2, padding=1), relu)
        self.out_block = nn.Sequential(*_resblocks(w0, b, k), _conv(w0, in_channels, k))
        init_weights(self)
        with torch.no_grad():  # small, not zero: the residual starts near 0, yet the body still gets gradients
            self.out_block[-1].weight.mul_(0.01)

        # Half-width of one scale's footprint, in pixels of that scale: each conv adds k//2 pixels at its own
        # resolution (x1, x2, x4), the transposed convs about one. Coarser scales only widen it, and the total
        # is capped at 64 because it is used as a tile overlap.
        p, lp = k // 2, lstm_kernel // 2
        per_level = p * (1 + 2 * b)
        one_scale = per_level * (1 + 2 + 4) + 4 * lp + 2 * b * p * (4 + 2 + 1) + 4 + 2
        self.receptive_field = int(min(64, one_scale))

    #: The input is padded to a multiple of this first: every scale is then an exact halving and a multiple of
    #: MULTIPLE, so no size is rounded, and a traced graph (the BioImage Model Zoo export) computes exactly what
    #: this module does at every size.
    multiple = 4 * MULTIPLE

    def _scale_steps(self) -> list[int]:
        """The downsampling of every scale, coarse to fine (4, 2, 1 for three scales)."""
        return [round(1 / SCALE_FACTOR**s) for s in reversed(range(self.n_scales))]

    def step(
        self,
        blurred: torch.Tensor,
        estimate: torch.Tensor,
        state: tuple[torch.Tensor, torch.Tensor] | None,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """One scale: the shared encoder-decoder on ``[blurred, estimate]``.

        Parameters
        ----------
        blurred, estimate : torch.Tensor
            (N, C, h, w) blurred image at this scale and the coarser scale's upsampled estimate.
        state : tuple of torch.Tensor or None
            ConvLSTM (hidden, cell) from the coarser scale at any size (resized here), or None at the coarsest.

        Returns
        -------
        torch.Tensor, tuple of torch.Tensor
            The estimate at this scale (N, C, h, w) and the ConvLSTM state for the next scale.
        """
        x, size = pad_to_multiple(torch.cat([blurred, estimate], dim=1), MULTIPLE)
        e0 = self.in_block(x)
        e1 = self.enc1(e0)
        e2 = self.enc2(e1)
        if state is not None:
            # The coarser scale's state is half this scale's 1/4-resolution map (up to rounding and padding).
            state = (resize_to(state[0], e2.shape[-2:]), resize_to(state[1], e2.shape[-2:]))
        h, state = self.lstm(e2, state)
        # Additive skips (not concatenation) between encoder and decoder at the same resolution, as in SRN.
        d1 = self.dec1(h) + e1
        d0 = self.dec2(d1) + e0
        residual = crop_to(self.out_block(d0), size)
        return blurred + residual, state

    def forward(self, x: torch.Tensor, return_all_scales: bool = False) -> torch.Tensor | list[torch.Tensor]:
        """Deblur ``x`` coarse to fine.

        Parameters
        ----------
        x : torch.Tensor
            (N, C, H, W) blurred images in [0, 1], any H, W >= 1.
        return_all_scales : bool
            Return every scale's estimate (coarse to fine) instead of only the full-resolution one.

        Returns
        -------
        torch.Tensor or list of torch.Tensor
            (N, C, H, W), or a list of ``n_scales`` estimates whose last is (N, C, H, W).
        """
        h, w = x.shape[-2:]
        xp, _ = pad_to_multiple(x, self.multiple)
        estimates: list[torch.Tensor] = []
        estimate: torch.Tensor | None = None
        state: tuple[torch.Tensor, torch.Tensor] | None = None
        for step in self._scale_steps():
            size = (xp.shape[-2] // step, xp.shape[-1] // step)
            blurred = resize_to(xp, size)
            # At the coarsest scale there is no estimate yet: the blurred image stands in for it.
            previous = blurred if estimate is None else resize_to(estimate, size)
            estimate, state = self.step(blurred, previous, state)
            estimates.append(crop_to(estimate, (-(-h // step), -(-w // step))))  # the padding's share cropped off
        return estimates if return_all_scales else estimates[-1]



register_family(Family(
    name="srn",
    cls=SRN,
    sizes=SIZES,
    description="SRN-DeblurNet: one encoder-decoder with a ConvLSTM, shared across 3 scales, coarse to fine.",
    citation="Tao, Gao, Shen, Wang, Jia, Scale-recurrent Network for Deep Image Deblurring, CVPR 2018",
    paper_url="https://arxiv.org/abs/1802.01770",
    activation_bytes={"small": 1200, "base": 1200},
))
