"""Where training runs and in what precision: `--device auto|cpu|cuda|mps` and
`--precision auto|fp32|bf16`.

`auto` takes the best that is present: a CUDA GPU (cuDNN's fused RNN kernels), then
Apple's MPS, then the CPU; bf16 autocast only where the GPU computes in it natively
(CPU oneDNN refuses bf16 RNNs without AVX-512, so fp32 there). Checkpoints always hold
CPU tensors, so a run trained on one device loads and resumes on another.
"""

from __future__ import annotations

import contextlib

import torch

from charrnn.config import setting_error

DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "fp32", "bf16")


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """The device `name` asks for (for CUDA, this machine's GPU number `local_rank`, one
    per process under torchrun); an absent one is a clear error, not a fallback."""
    if name not in DEVICES:
        raise setting_error(f"device must be one of {', '.join(DEVICES)}, not {name!r}")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "mps" if _mps_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise setting_error("device cuda: no CUDA GPU is available to this torch "
                          f"({torch.__version__}); use `device` cpu")
    if name == "mps" and not _mps_available():
        raise setting_error("device mps: Apple's MPS backend is not available here; "
                          "use `device` cpu")
    return torch.device(name, local_rank) if name == "cuda" else torch.device(name)


def resolve_precision(name: str, device: torch.device) -> torch.dtype:
    """fp32 or bf16 for autocast on `device`; bf16 only where the device supports it."""
    if name not in PRECISIONS:
        raise setting_error(f"precision must be one of {', '.join(PRECISIONS)}, not {name!r}")
    bf16_ok = device.type == "cuda" and torch.cuda.is_bf16_supported()
    if name == "bf16" and not bf16_ok:
        raise setting_error(f"precision bf16 needs a CUDA GPU that computes in bf16; "
                          f"{device.type} trains in fp32")
    return torch.bfloat16 if name == "bf16" or (name == "auto" and bf16_ok) else torch.float32


def autocast(device: torch.device, dtype: torch.dtype):
    """Mixed precision for the forward pass and loss, or nothing for fp32."""
    if dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def to_device(t: torch.Tensor, device: torch.device) -> torch.Tensor:
    """A CPU batch onto `device`: through pinned memory without blocking, for CUDA."""
    if device.type == "cuda":
        return t.pin_memory().to(device, non_blocking=True)
    return t.to(device)


def use_threads(threads: int | None) -> None:
    """Compute with `threads` CPU threads (None: torch's choice, one per physical core)."""
    if threads is None:
        return
    if not isinstance(threads, int) or isinstance(threads, bool) or threads < 1:
        raise setting_error(f"threads must be >= 1, not {threads}")
    torch.set_num_threads(threads)
