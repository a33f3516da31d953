"""Where nanoenv's torch work runs: thread defaults and device checks.

nanoenv's tensors are small (thousands of rows of a few dozen columns): torch's intra-op
thread pool costs more in synchronisation than it gains, and on a shared machine extra
threads oversubscribe the cores. Measured on a busy 2-core machine (issue 13), the native
vector environment ran 221k vs 13.8k steps/s at 4,096 environments with 1 vs 2 torch
threads, and ``nanoenv train`` took 7.9 s vs 58.6 s. So nanoenv uses **one** intra-op
thread unless told otherwise.

The rule (:func:`configure_threads` with ``n=None``), applied when an environment is built
and by every ``nanoenv`` command: the thread count is left alone when

* the user chose it: ``OMP_NUM_THREADS`` or ``MKL_NUM_THREADS`` is set, or
  ``torch.set_num_threads`` was called after ``import nanoenv`` (the count differs from
  the one torch had at import);
* or a previous call already chose it.

Otherwise it is set to 1, once. An explicit ``n`` (``--threads N``, the environments'
``num_threads=N``) always applies.

:func:`check_device` refuses a CUDA device when none is available, with one line and
before any work (environments, ``nanoenv train/evaluate/bench --device cuda``).
"""

from __future__ import annotations

import os

import torch

__all__ = ["THREAD_ENV_VARS", "check_device", "configure_threads"]

#: Environment variables through which a user chooses the thread count.
THREAD_ENV_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")

#: torch's intra-op thread count when this module was imported (``import nanoenv``).
_AT_IMPORT = torch.get_num_threads()
_chosen = False


def configure_threads(n: int | None = None) -> int:
    """Set torch's intra-op threads for nanoenv's batched work; returns the count in force.

    :param n: threads to use (a positive integer); ``None`` applies the default rule of
        the module docstring (1 thread unless the user chose a count).
    """
    global _chosen
    if n is not None:
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"threads={n!r} must be a positive integer number of threads")
        torch.set_num_threads(n)
        _chosen = True
        return n
    user_set = any(os.environ.get(k) for k in THREAD_ENV_VARS)
    if not (_chosen or user_set or torch.get_num_threads() != _AT_IMPORT):
        torch.set_num_threads(1)
    _chosen = True
    return torch.get_num_threads()


def check_device(device: str | torch.device) -> torch.device:
    """``device`` as a ``torch.device``, refused with one line (``ValueError``) before any
    work when it names CUDA and no CUDA device is available, or is not a device at all.

    :param device: ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or a ``torch.device``.
    """
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"device={device!r} is not a torch device; allowed: 'cpu', 'cuda', "
                         "'cuda:N' or 'auto'") from None  # fmt: skip
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device={str(device)!r} but no CUDA device is available "
                             "(torch.cuda.is_available() is False); use 'cpu'")  # fmt: skip
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"device={str(device)!r} but only {torch.cuda.device_count()} "
                             "CUDA device(s) exist")  # fmt: skip
    return dev
