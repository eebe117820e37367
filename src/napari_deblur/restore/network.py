"""Running a torch module on the engine's tiles: the restorer every network method builds."""

from __future__ import annotations

import torch
from torch import nn

#: Working memory per input pixel assumed for a module nobody described: the largest zoo family's figure.
UNKNOWN_BYTES_PER_PIXEL = 6800


class NetworkRestorer:
    """Runs a zoo module on the engine's normalized tiles (N, 1, H, W), in eval mode, without autograd.

    Tensors are channels-last (NHWC): with it oneDNN ran every family 1.3-1.8x faster in float32 and
    faster still in bfloat16, and tensor cores want it too. With a 16-bit ``dtype`` the module runs under
    autocast. The result is always a contiguous float32 tensor.
    """

    spatial_ndim = 2

    def __init__(self, module: nn.Module, device: torch.device, dtype: torch.dtype = torch.float32,
                 bytes_per_pixel: int | None = None) -> None:
        self.device = torch.device(device)
        self.dtype = dtype
        self.module = module.eval().to(self.device, memory_format=torch.channels_last)
        self.receptive_field = int(getattr(module, "receptive_field", 32))
        #: Working memory per input pixel of a forward pass (the engine's tile and batch sizes follow it).
        per_pixel = UNKNOWN_BYTES_PER_PIXEL if bytes_per_pixel is None else bytes_per_pixel
        self.bytes_per_pixel = int(per_pixel * (1.0 if dtype == torch.float32 else 0.6))

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        x = batch.to(self.device, torch.float32).contiguous(memory_format=torch.channels_last)
        low = self.dtype != torch.float32
        with torch.inference_mode(), torch.autocast(self.device.type, dtype=self.dtype, enabled=low):
            return self.module(x).float().contiguous()
