"""Task family ``robust``: a release curve that survives manufacturing variability.

## Description

A design whose release swings with a ±10 % change in size is not a design: batches
differ in size, polydispersity and drug loading. Each candidate is simulated as 16
manufactured batches (radius ±10 % log-normal, PDI + |N(0, 0.05)|, loading ±10 %) in one
batched call, and scored on the expected and the worst-decile f2; designs hard to make
at scale (radius below 50 nm, loading above 25 %) and colloidally unstable ones carry a
cost.

## Target

As ``realisable``: the curve of a hidden random design (medium sink, tumour or
hyperthermia; a drug preset), to 60-95 % release. The hidden design matches its curve
only when made exactly; the robust optimum is found by the oracle.

## Reward

:class:`nanoenv.rewards.delivery.RobustF2Reward` (``"robust_f2"``): the mean of the
expected and the worst-decile ``f2/100`` over the batches; objectives ``(expected_f2,
worst_decile_f2)``. Cost: :func:`nanoenv.rewards.delivery.manufacturability_cost`. Each
evaluation costs 16 simulations (one simulator call in the budget).

## Version History

* v0: initial version.
"""

from __future__ import annotations

from nanoenv.tasks.base import one_at_a_time, relabelled
from nanoenv.tasks.hidden import realisable_batch

__all__ = ["robust", "robust_batch"]


#: ``robust`` targets: :func:`~nanoenv.tasks.hidden.realisable_batch`, relabelled.
robust_batch = relabelled(realisable_batch, "robust")
#: One ``robust`` target.
robust = one_at_a_time(robust_batch)
