"""Task family ``population``: one design that keeps a whole patient population in the
therapeutic window.

## Description

``therapeutic_window`` serves one patient's clearance and volume; real dosing depends on
covariates. Here the target's patient is the *typical* adult (70 kg, creatinine
clearance 100 mL/min), and the design is scored over 16 virtual patients whose weight
and renal function span an adult population: clearance scales with weight^0.75 and, for
its renal part (60 %), with creatinine clearance; volume with weight
(:class:`nanoenv.rewards.delivery.VirtualPopulation`, with its sources). A curve tuned
to the typical patient overshoots in small patients with poor kidneys and undershoots in
large ones with good kidneys; the population optimum is a compromise. The spread across
patients is the worst-decile objective and
:meth:`~nanoenv.rewards.delivery.PopulationWindowReward.shares`.

## Target

As ``therapeutic_window`` (the typical patient; a window MTC/MEC of 2-5 some hidden
design serves for that patient; the ideal input curve for it).

## Reward

:class:`nanoenv.rewards.delivery.PopulationWindowReward` (``"population_window"``): the
mean share of the horizon in the window over the 16 patients; objectives
``(mean_in_window, worst_decile_in_window)``. Cost: the stability cost.

## Version History

* v0: initial version.
"""

from __future__ import annotations

from nanoenv.tasks.base import one_at_a_time, relabelled
from nanoenv.tasks.hidden import therapeutic_window_batch

__all__ = ["population", "population_batch"]


#: ``population`` targets: :func:`~nanoenv.tasks.hidden.therapeutic_window_batch`, relabelled.
population_batch = relabelled(therapeutic_window_batch, "population")
#: One ``population`` target.
population = one_at_a_time(population_batch)
