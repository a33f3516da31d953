"""Analytic target families: curves written down in closed form (``sustained``,
``thermal_triggered``, ``burst_then_sustained`` and its strict variant)."""

from __future__ import annotations

import numpy as np
import torch

from nanoenv.design_space import DesignSpace
from nanoenv.kinetics import (
    Drug,
    ReleaseConditions,
)
from nanoenv.tasks.base import Target, log_uniform, random_drug, time_grid


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
