"""Task family ``theranostic``: a release curve, by a particle the MRI scanner can see.

## Description

A multifunctional particle combines therapy with a diagnostic signal: an iron-oxide
core makes it visible on T2-weighted MRI where it accumulates (a tumour), while the
matrix releases the drug. The core takes up particle mass and the signal depends on the
core's size and on how many particles reach the tumour (size, PEG, ζ), so signal and
release compete for the same design parameters.

## Target

As ``realisable``: the curve of a hidden random design (medium sink, tumour or
hyperthermia; a drug preset), to 60-95 % release — but in the design space with a free
``magnetic_core_fraction`` (0-0.4), so the hidden design carries a core too.

## Reward

:class:`nanoenv.rewards.delivery.TheranosticReward` (``"theranostic"``): ``f2/100`` ×
T2 contrast in the tumour 24 h after a 100 mg dose (:mod:`nanoenv.kinetics.imaging`);
objectives ``(release_f2, t2_contrast)``. Cost: stability plus over-filled particles
(drug + magnetite + PEG above 70 % of the mass).

## Version History

* v0: initial version.
"""

from __future__ import annotations

from nanoenv.design_space import DesignSpace
from nanoenv.tasks.base import one_at_a_time, relabelled
from nanoenv.tasks.hidden import realisable_batch

__all__ = ["theranostic", "theranostic_batch", "theranostic_space"]


def theranostic_space() -> DesignSpace:
    """PLGA nanoparticles with a free magnetic core fraction (0-0.4)."""
    return DesignSpace.polymer_nanoparticle(magnetic_core_fraction=(0.0, 0.4))


#: ``theranostic`` targets: :func:`~nanoenv.tasks.hidden.realisable_batch` (in the family's
#: space), relabelled.
theranostic_batch = relabelled(realisable_batch, "theranostic")
#: One ``theranostic`` target.
theranostic = one_at_a_time(theranostic_batch)
