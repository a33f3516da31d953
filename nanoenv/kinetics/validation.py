"""Input checks shared by every public entry point of :mod:`nanoenv.kinetics`.

Each check raises :class:`ValueError` whose message names the parameter, the
offending value, the allowed range and the unit, so that a user can fix the
call without reading the source. Checks synchronise with the device (they read
values back), so hot loops that already validated their inputs pass
``validate=False`` to the functions that offer it.
"""

from __future__ import annotations

import math
from dataclasses import fields
from typing import Any, TypeVar

import torch

__all__ = [
    "check_finite",
    "check_in_range",
    "check_sorted_times",
    "unchecked",
]

T = TypeVar("T")


def unchecked(cls: type[T], values: dict[str, Any]) -> T:
    """An instance of the frozen dataclass ``cls`` with every field taken from ``values``,
    bypassing ``__init__``/``__post_init__`` checks: only for values that come from
    instances already validated (moved, stacked, selected or merged rows)."""
    out = cls.__new__(cls)
    for f in fields(cls):  # type: ignore[arg-type]
        object.__setattr__(out, f.name, values[f.name])
    return out


def _first_bad(values: torch.Tensor, bad: torch.Tensor) -> tuple[float, tuple[int, ...]]:
    index = tuple(int(i) for i in torch.nonzero(bad)[0].tolist())
    value = float(values[index]) if values.dim() else float(values)
    # a position only helps the reader when there is more than one value
    return value, index if values.numel() > 1 else ()


def _where(index: tuple[int, ...]) -> str:
    return f" at index {list(index)}" if index else ""


def check_finite(name: str, values: torch.Tensor, unit: str = "") -> None:
    """Raise ``ValueError`` if ``values`` holds a NaN or an infinity.

    :param name: parameter name used in the message.
    :param values: tensor to check.
    :param unit: unit shown in the message (``""`` for dimensionless).
    """
    values = torch.as_tensor(values)
    if not torch.is_floating_point(values):
        return
    bad = ~torch.isfinite(values.detach())
    if bool(bad.any()):
        value, index = _first_bad(values.detach(), bad)
        raise ValueError(f"{name} must be a finite number{_unit(unit)}; got {value}{_where(index)}")


def check_in_range(
    name: str,
    values: torch.Tensor | float,
    low: float,
    high: float,
    unit: str = "",
) -> None:
    """Raise ``ValueError`` unless every element of ``values`` lies in ``[low, high]``.

    NaN and infinities are rejected too.

    :param name: parameter name used in the message.
    :param values: tensor or number to check.
    :param low: smallest allowed value (``-inf`` for none).
    :param high: largest allowed value (``inf`` for none).
    :param unit: unit shown in the message.
    """
    values = torch.as_tensor(values).detach()
    check_finite(name, values, unit)
    bad = (values < low) | (values > high)
    if bool(bad.any()):
        value, index = _first_bad(values, bad)
        raise ValueError(
            f"{name}={value:g}{_where(index)} is outside the allowed range "
            f"[{_fmt(low)}, {_fmt(high)}]{_unit(unit)}"
        )


def check_sorted_times(name: str, times: torch.Tensor, unit: str = "h") -> None:
    """Raise ``ValueError`` unless ``times`` is a finite, non-negative, non-decreasing 1-D
    (or batched ``(B, T)``) tensor.

    :param name: parameter name used in the message.
    :param times: time points, last dimension is time.
    :param unit: unit shown in the message.
    """
    times = torch.as_tensor(times).detach()
    if times.dim() not in (1, 2) or times.shape[-1] == 0:
        raise ValueError(
            f"{name} must be a non-empty 1-D tensor (T,) or 2-D tensor (B, T) of times in "
            f"{unit}; got shape {tuple(times.shape)}"
        )
    check_in_range(name, times, 0.0, math.inf, unit)
    if times.shape[-1] > 1:
        step = times[..., 1:] - times[..., :-1]
        if bool((step < 0).any()):
            _, index = _first_bad(step, step < 0)
            raise ValueError(
                f"{name} must be sorted in increasing order ({unit}); "
                f"element {index[-1] + 1} ({float(times[(*index[:-1], index[-1] + 1)]):g}) "
                f"comes before a larger value ({float(times[index]):g})"
            )


def _unit(unit: str) -> str:
    return f" ({unit})" if unit else ""


def _fmt(x: float) -> str:
    return "inf" if x == math.inf else "-inf" if x == -math.inf else f"{x:g}"
