"""Task family ``targeted``: deliver the drug to the tumour, not to healthy tissue.

## Description

Where a particle goes depends on its size, PEG shell and surface charge (EPR window about
50-200 nm, PEG lengthens circulation, cationic particles are cleared faster: Blanco, Shen
& Ferrari, Nat. Biotechnol. 33, 941 (2015)); when it lets the drug go decides whether the
drug is released in the tumour or in the blood. The design's release curve (sink
conditions, pH 7.4 and 37 °C) drives the physiologically based model of
:mod:`nanoenv.kinetics.biodistribution` for one patient.

## Target

* ``times_h``: 24 points to a horizon of 3-14 days (log-uniform).
* ``patient``: dose 100 mg; the free drug's clearance (5 L/h, log-normal spread 0.4) and
  volume of distribution (40 L, spread 0.3) — as ``therapeutic_window`` — and ``mec_mg_l``,
  the mean free-drug concentration the tumour needs over the horizon (log-uniform
  0.1-1 mg/L); ``mtc_mg_l`` is 10 × MEC and not scored.
* ``release``: a hint, not scored (``f2`` in ``info`` is measured against it): constant-rate
  release of the share of the dose the MEC calls for by the horizon, from 50 % at
  0.1 mg/L to 100 % at 1 mg/L (log-linear), so the curve tells the agent how demanding
  the target is (the observation holds the curve, not the MEC).
* ``drug``: one of the presets; ``conditions``: sink.

## Reward

:class:`nanoenv.rewards.delivery.TargetedDeliveryReward` (``"targeted"``): efficacy (mean
tumour free-drug concentration against MEC) × selectivity (tumour against plasma and
healthy-tissue exposure); objectives ``(efficacy, selectivity)`` for multi-objective use.
Cost: the stability cost.

## Version History

* v0: initial version.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from nanoenv.design_space import DesignSpace
from nanoenv.kinetics import ReleaseConditions
from nanoenv.targets import Patient, Target
from nanoenv.tasks.base import log_uniform, random_drug, time_grid

__all__ = ["targeted"]


def targeted(rng: np.random.Generator, space: DesignSpace) -> Target:
    """One ``targeted`` target drawn with ``rng`` (module docstring)."""
    horizon_h = log_uniform(rng, 72.0, 336.0)
    clearance = float(5.0 * math.exp(rng.normal(0.0, 0.4)))
    volume = float(40.0 * math.exp(rng.normal(0.0, 0.3)))
    mec = log_uniform(rng, 0.1, 1.0)
    drug = random_drug(rng)
    t = time_grid(horizon_h)
    level = 0.5 + 0.5 * math.log10(mec / 0.1)
    release = (level * t / t[-1]).to(torch.float64)
    patient = Patient(100.0, clearance, volume, mec, 10.0 * mec)
    return Target(
        "targeted",
        t,
        release,
        ReleaseConditions.preset("sink"),
        drug,
        space.carrier,
        patient=patient,
    )
