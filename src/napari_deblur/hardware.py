"""Where torch runs and in what arithmetic: one decision for inference and for training.

One vocabulary for precision everywhere (API, CLI, widgets, training recipes): ``auto``, ``float32``,
``bfloat16``, ``float16``. Lightning's names (``32-true``, ``bf16-mixed``, ``16-mixed``) are accepted as aliases,
so recipes written with them still load, and are produced only where the Trainer is built.
"""

from __future__ import annotations

import torch

PRECISIONS = ("auto", "float32", "bfloat16", "float16")
#: Lightning's precision plugin for each of ours (mixed precision: float32 weights, 16-bit arithmetic).
LIGHTNING_PRECISION = {"float32": "32-true", "bfloat16": "bf16-mixed", "float16": "16-mixed"}
PRECISION_ALIASES = {lightning: ours for ours, lightning in LIGHTNING_PRECISION.items()}


def _mps_available() -> bool:
    return bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` picks CUDA, then Apple MPS, then the CPU; a named device must be available."""
    if isinstance(device, torch.device):
        return device
    name = str(device).strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps") if _mps_available() else torch.device("cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise ValueError(f"Unknown device {device!r}: use auto, cpu, cuda, cuda:N or mps.") from None
    if dev.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"Unsupported device {device!r}: use auto, cpu, cuda, cuda:N or mps.")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"Device {device!r} was requested but CUDA is not available; use 'auto' or 'cpu'.")
    if dev.type == "mps" and not _mps_available():
        raise ValueError(f"Device {device!r} was requested but MPS is not available; use 'auto' or 'cpu'.")
    return dev


def cpu_has_native_bf16() -> bool:
    """Whether oneDNN runs bfloat16 convolutions natively here (AVX512-BF16 or AMX), so they are faster."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def canonical_precision(precision: str) -> str:
    """``precision`` in our vocabulary (Lightning's names translated), or ``ValueError`` naming the choices."""
    name = PRECISION_ALIASES.get(precision, precision)
    if name not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}.")
    return name


def inference_dtype(precision: str, device: torch.device) -> torch.dtype:
    """The compute dtype for ``precision`` on ``device``; ``"auto"`` picks bfloat16 only where it is native.

    bfloat16 with channels-last memory was 2-8x faster than float32 for every family on an AVX512-BF16 CPU
    (docs/benchmarks.md). Convolutions then run in bfloat16 while each model's global skip (input + residual)
    stays in float32, so 16-bit microscopy data keeps its precision.
    """
    name = canonical_precision(precision)
    if name != "auto":
        return getattr(torch, name)
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "cpu" and cpu_has_native_bf16():
        return torch.bfloat16
    return torch.float32


def training_precision(precision: str, device: torch.device) -> str:
    """Lightning's precision for training at ``precision`` on ``device``.

    ``"auto"`` trains in bf16 mixed precision on GPUs that compute it natively and in float32 elsewhere: on the
    CPU the gain depends on the family (1.1x for NAFNet, 2-2.3x for the others, docs/benchmarks.md), so recipes
    ask for ``bfloat16`` where it was measured to pay.
    """
    name = canonical_precision(precision)
    if name == "auto":
        name = "bfloat16" if device.type == "cuda" and torch.cuda.is_bf16_supported() else "float32"
    return LIGHTNING_PRECISION[name]


def training_device_text() -> str:
    """Where a training started now would run, in words for the training widget."""
    if torch.cuda.is_available():
        return f"GPU: {torch.cuda.get_device_name(0)}"
    return "CPU — training will be slow"
