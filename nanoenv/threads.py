"""Thread defaults for nanoenv's torch work.

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
``num_threads=N``) always applies. Devices are checked by
:func:`nanoenv.devices.resolve_device`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

__all__ = ["CHOICE", "THREAD_ENV_VARS", "ThreadChoice", "configure_threads"]

#: Environment variables through which a user chooses the thread count.
THREAD_ENV_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


@dataclass
class ThreadChoice:
    """What the default rule remembers.

    :param at_import: torch's intra-op thread count when nanoenv was imported.
    :param chosen: whether a count has been chosen (by the rule or explicitly).
    """

    at_import: int
    chosen: bool = False


#: This process's thread choice (a test may swap in a fresh :class:`ThreadChoice`).
CHOICE = ThreadChoice(torch.get_num_threads())


def configure_threads(n: int | None = None) -> int:
    """Set torch's intra-op threads for nanoenv's batched work; returns the count in force.

    :param n: threads to use (a positive integer); ``None`` applies the default rule of
        the module docstring (1 thread unless the user chose a count).
    :raises ValueError: (one line) when ``n`` is not a positive integer.
    """
    if n is not None:
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"threads={n!r} must be a positive integer number of threads")
        torch.set_num_threads(n)
        CHOICE.chosen = True
        return n
    user_set = any(os.environ.get(k) for k in THREAD_ENV_VARS)
    if not (CHOICE.chosen or user_set or torch.get_num_threads() != CHOICE.at_import):
        torch.set_num_threads(1)
    CHOICE.chosen = True
    return torch.get_num_threads()
