"""Where computation runs: the device names ttv accepts and how ``"auto"`` is resolved."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import ConfigError

if TYPE_CHECKING:
    import torch

DEVICES = ("auto", "cpu", "cuda")  # or "cuda:<index>"


def resolve_device(device: str) -> "torch.device":
    """``"auto"`` -> CUDA when present, else the CPU; anything else as given (never a fixed index)."""
    import torch  # here, so that the config can name the devices without loading torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r} was asked for, but PyTorch sees no CUDA GPU; use device='auto' or 'cpu'.")
    return torch.device(device)
