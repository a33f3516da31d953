"""Targets of hidden-design families drawn ahead of time, in bulk, per environment.

A ``realisable`` target costs a screening of candidate designs (3–32 ms for one target
alone, ~0.5 ms each in a batch of hundreds): drawn one at a time on reset, it made
training slow down as episodes shortened. :class:`TargetPool` instead draws ``size``
targets per environment at once, whenever that environment's pool is empty.

Target ``k`` of an environment comes from the ``k``-th child stream of its generator
(``Generator.spawn``, which does not advance the parent's state), drawn by the family's
batch sampler, whose draws depend on each generator only. So the targets do not depend
on the pool size or on which environments refill together: a vector environment with
any pool size equals single environments step for step, and the same seed gives the
same targets. Child streams have spawn keys ``(k,)``, never the suites'
``(SUITE_STREAM, i)``, so training still never meets a suite target. Other families
(cheap analytic ones, measured curves) draw from the generator itself, as before (in one
batched call where they have a batch sampler).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nanoenv.design_space import DesignSpace
from nanoenv.kinetics import SimulatorConstants
from nanoenv.tasks import Target, TaskFamily

__all__ = ["TargetPool"]


class TargetPool:
    """Per-generator queues of targets of ``family``, refilled ``size`` at a time.

    :param family: the task family.
    :param space: the environments' design space.
    :param constants: the environments' simulator constants.
    :param size: targets drawn per environment when its queue is empty (the work per
        refill; results do not depend on it).
    """

    def __init__(
        self, family: TaskFamily, space: DesignSpace, constants: SimulatorConstants, size: int
    ) -> None:
        if size < 1:
            raise ValueError(f"target pool size={size} must be a positive number of targets")
        self.family, self.space, self.constants, self.size = family, space, constants, size
        self._queues: dict[int, tuple[np.random.Generator, list[Target]]] = {}

    @property
    def pooled(self) -> bool:
        """Whether the family's targets are pooled: built around hidden designs
        (``simulated``) and drawn by a batch sampler. The analytic families' batch samplers
        are cheap and draw from the generators themselves, as their single samplers do."""
        return self.family.simulated and self.family.batch_sampler is not None

    def draw(self, rngs: Sequence[np.random.Generator]) -> list[Target]:
        """The next target of each generator (distinct generators), refilling the empty
        queues in one batched sampler call."""
        if not self.pooled:
            return self.family.sample_many(list(rngs), self.space, self.constants)
        empty = [g for g in rngs if not self._queues.get(id(g), (None, []))[1]]
        if empty:
            children = [c for g in empty for c in g.spawn(self.size)]
            drawn = self.family.sample_many(children, self.space, self.constants)
            for j, g in enumerate(empty):
                self._queues[id(g)] = (g, drawn[j * self.size : (j + 1) * self.size])
        return [self._queues[id(g)][1].pop(0) for g in rngs]

    def retain(self, rngs: Sequence[np.random.Generator]) -> None:
        """Forget the queues of generators not in ``rngs`` (replaced by a reseed)."""
        keep = {id(g) for g in rngs}
        for key in [k for k in self._queues if k not in keep]:
            del self._queues[key]
