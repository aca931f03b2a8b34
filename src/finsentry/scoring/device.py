"""Device choice and CPU threads for scoring and training (torch is imported only when asked)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

DEVICES = ("auto", "cuda", "cpu")


def select_device(preference: str = "auto") -> torch.device:
    """``auto`` takes CUDA when a GPU is visible, else the CPU; ``cuda``/``cpu`` force one."""
    import torch

    choice = preference.strip().lower()
    if choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if choice.startswith("cuda"):
        if not torch.cuda.is_available():
            raise RuntimeError(
                "FINSENTRY_DEVICE asks for cuda but torch sees no GPU: set it to auto or cpu"
            )
        return torch.device(choice)
    if choice == "cpu":
        return torch.device("cpu")
    raise ValueError(f"unknown device {preference!r}: use auto, cuda or cpu")


def available_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


def configure_cpu_threads(requested: int) -> int:
    """Set torch's intra-op threads: ``requested``, or the cores this process may use when 0."""
    import torch

    threads = requested if requested > 0 else available_cores()
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return threads


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """bf16 on GPUs that have it, else fp16 on CUDA; ``None`` (fp32) on the CPU."""
    if device.type != "cuda":
        return None
    import torch

    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
