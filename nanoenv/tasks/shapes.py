"""Analytic target families: curves written down in closed form (``sustained``,
``thermal_triggered``, ``burst_then_sustained`` and its strict variant).

Each has a batch sampler (``*_batch``): the same draws from each generator, in the same
order, with the curves of the whole batch computed as ``(N, N_TIMES)`` tensors instead of
one target at a time; the targets equal the single sampler's bit for bit (tested).
"""

from __future__ import annotations

import numpy as np
import torch

from nanoenv.design_space import DesignSpace
from nanoenv.kinetics import (
    Drug,
    ReleaseConditions,
)
from nanoenv.tasks.base import Target, log_uniform, random_drug, time_grid

__all__ = [
    "burst_then_sustained",
    "burst_then_sustained_batch",
    "burst_then_sustained_strict",
    "burst_then_sustained_strict_batch",
    "sustained",
    "sustained_batch",
    "thermal_triggered",
    "thermal_triggered_batch",
]


def _columns(draws: list[tuple[float, ...]]) -> list[torch.Tensor]:
    """Per-generator scalar draws as float64 ``(N, 1)`` columns, one per draw."""
    values = torch.tensor(draws, dtype=torch.float64)
    return [v.unsqueeze(1) for v in values.unbind(1)]


def _grids(horizon_h: torch.Tensor) -> torch.Tensor:
    """:func:`~nanoenv.tasks.base.time_grid` of each ``(N, 1)`` horizon (hours), ``(N, T)``."""
    return horizon_h * time_grid(1.0).unsqueeze(0)


def sustained(rng: np.random.Generator, space: DesignSpace) -> Target:
    horizon_d = log_uniform(rng, 7.0, 90.0)
    burst = rng.uniform(0.0, 0.1)
    shape = rng.uniform(0.8, 1.0)
    t = time_grid(horizon_d * 24.0)
    release = burst + (1.0 - burst) * (t / t[-1]) ** shape
    release[0] = 0.0
    return Target(
        "sustained", t, release, ReleaseConditions.preset("sink"), random_drug(rng), space.carrier
    )


#: ``thermal_triggered``'s draws, in order: pulse start (h), leak, jump and tail fractions.
_THERMAL_BOUNDS = ((12.0, 48.0), (0.0, 0.1), (0.3, 0.7), (0.0, 0.15))


def thermal_triggered(rng: np.random.Generator, space: DesignSpace) -> Target:
    pulse_h = rng.uniform(12.0, 48.0)
    leak = rng.uniform(0.0, 0.1)
    jump = rng.uniform(0.3, 0.7)
    tail = rng.uniform(0.0, 0.15)
    t = time_grid(pulse_h + 48.0)
    conditions = ReleaseConditions.hyperthermia(start_h=pulse_h, duration_h=1.0)
    before = leak * t / pulse_h
    during = leak + jump * ((t - pulse_h) / 1.0).clamp(0.0, 1.0)
    after = tail * ((t - pulse_h - 1.0) / 47.0).clamp(0.0, 1.0)
    release = torch.where(t < pulse_h, before, during + after).clamp(max=1.0)
    return Target(
        "thermal_triggered", t, release, conditions, Drug.preset("doxorubicin"), space.carrier
    )


def burst_then_sustained(rng: np.random.Generator, space: DesignSpace) -> Target:
    burst = rng.uniform(0.2, 0.5)
    burst_h = rng.uniform(1.0, 6.0)
    horizon_d = rng.uniform(7.0, 28.0)
    t = time_grid(horizon_d * 24.0)
    release = burst * -torch.expm1(-t / burst_h) + (1.0 - burst) * t / t[-1]
    return Target(
        "burst_then_sustained",
        t,
        release,
        ReleaseConditions.preset("sink"),
        random_drug(rng),
        space.carrier,
    )


def burst_then_sustained_strict(rng: np.random.Generator, space: DesignSpace) -> Target:
    burst = rng.uniform(0.2, 0.5)
    burst_h = rng.uniform(1.0, 6.0)
    horizon_d = rng.uniform(14.0, 56.0)
    t = time_grid(horizon_d * 24.0)
    release = burst * -torch.expm1(-t / burst_h) + (1.0 - burst) * t / t[-1]
    sink = ReleaseConditions.preset("sink")
    return Target("burst_then_sustained_strict", t, release, sink, random_drug(rng), space.carrier)


def sustained_batch(rngs: list[np.random.Generator], space: DesignSpace) -> list[Target]:
    """:func:`sustained` for each generator, the curves computed as one batch."""
    draws, drugs = [], []
    for rng in rngs:
        draws.append((log_uniform(rng, 7.0, 90.0), rng.uniform(0.0, 0.1), rng.uniform(0.8, 1.0)))
        drugs.append(random_drug(rng))
    horizon_d, burst, shape = _columns(draws)
    t = _grids(horizon_d * 24.0)
    release = burst + (1.0 - burst) * (t / t[:, -1:]) ** shape
    release[:, 0] = 0.0
    sink = ReleaseConditions.preset("sink")
    return [
        Target("sustained", t[i], release[i], sink, drugs[i], space.carrier)
        for i in range(len(rngs))
    ]


def thermal_triggered_batch(rngs: list[np.random.Generator], space: DesignSpace) -> list[Target]:
    """:func:`thermal_triggered` for each generator, the curves computed as one batch."""
    draws = [tuple(rng.uniform(*bounds) for bounds in _THERMAL_BOUNDS) for rng in rngs]
    pulse_h, leak, jump, tail = _columns(draws)
    t = _grids(pulse_h + 48.0)
    before = leak * t / pulse_h
    during = leak + jump * ((t - pulse_h) / 1.0).clamp(0.0, 1.0)
    after = tail * ((t - pulse_h - 1.0) / 47.0).clamp(0.0, 1.0)
    release = torch.where(t < pulse_h, before, during + after).clamp(max=1.0)
    drug = Drug.preset("doxorubicin")
    return [
        Target(
            "thermal_triggered",
            t[i],
            release[i],
            ReleaseConditions.hyperthermia(start_h=d[0], duration_h=1.0),
            drug,
            space.carrier,
        )
        for i, d in enumerate(draws)
    ]


def _burst_batch(
    name: str,
    horizon_days: tuple[float, float],
    rngs: list[np.random.Generator],
    space: DesignSpace,
) -> list[Target]:
    """The ``burst_then_sustained`` families' curves (horizon drawn in ``horizon_days``)."""
    draws, drugs = [], []
    for rng in rngs:
        draws.append((rng.uniform(0.2, 0.5), rng.uniform(1.0, 6.0), rng.uniform(*horizon_days)))
        drugs.append(random_drug(rng))
    burst, burst_h, horizon_d = _columns(draws)
    t = _grids(horizon_d * 24.0)
    release = burst * -torch.expm1(-t / burst_h) + (1.0 - burst) * t / t[:, -1:]
    sink = ReleaseConditions.preset("sink")
    return [Target(name, t[i], release[i], sink, drugs[i], space.carrier) for i in range(len(rngs))]


def burst_then_sustained_batch(rngs: list[np.random.Generator], space: DesignSpace) -> list[Target]:
    """:func:`burst_then_sustained` for each generator, the curves computed as one batch."""
    return _burst_batch("burst_then_sustained", (7.0, 28.0), rngs, space)


def burst_then_sustained_strict_batch(
    rngs: list[np.random.Generator], space: DesignSpace
) -> list[Target]:
    """:func:`burst_then_sustained_strict` for each generator, the curves as one batch."""
    return _burst_batch("burst_then_sustained_strict", (14.0, 56.0), rngs, space)
