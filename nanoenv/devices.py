"""Torch devices by name: the one place where ``"cpu"``, ``"cuda"`` and ``"auto"`` are
resolved (the environments, the agents and the command line all call it).

>>> resolve_device("cpu")
device(type='cpu')
>>> resolve_device("auto").type in ("cpu", "cuda")
True
"""

from __future__ import annotations

import torch

__all__ = ["DEVICES", "resolve_device"]

#: Device names accepted everywhere (``"cuda:N"`` picks one GPU of several).
DEVICES = ("cpu", "cuda", "auto")


def resolve_device(device: str | torch.device, name: str = "device") -> torch.device:
    """The torch device that ``device`` names.

    :param device: ``"cpu"``, ``"cuda"`` (or ``"cuda:N"``), or ``"auto"`` (CUDA when
        torch finds a GPU, else the CPU); a :class:`torch.device` of those types.
    :param name: how the caller's user calls the parameter (``"--device"``, ``"config key
        'device'"``), for the error message.
    :raises ValueError: (one line, naming ``name``) for any other value, and for
        ``"cuda"`` when torch finds no CUDA device.
    """
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    resolved = None
    if isinstance(device, str | torch.device):
        try:
            resolved = torch.device(device)
        except (RuntimeError, TypeError):
            pass
    if resolved is None or resolved.type not in ("cpu", "cuda"):
        raise ValueError(
            f"{name}={device!r}; allowed: 'cpu', 'cuda', 'cuda:N' or 'auto' (CUDA when present)"
        )
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"{name}={device!r} but torch finds no CUDA device here; allowed: 'cpu', or "
            "'auto' (CUDA when present)"
        )
    if resolved.type == "cuda" and (resolved.index or 0) >= torch.cuda.device_count():
        raise ValueError(
            f"{name}={device!r} but torch finds {torch.cuda.device_count()} CUDA device(s); "
            f"allowed: 'cuda:0' to 'cuda:{torch.cuda.device_count() - 1}', 'cpu' or 'auto'"
        )
    return resolved
