"""NSGA-II (Deb et al., IEEE Trans. Evol. Comput. 6, 182 (2002)) as a design baseline,
with pymoo's implementation.

:class:`NSGA2` searches ``z ∈ [-1, 1]^dim`` for the Pareto front of the family's
objectives (``reward_model.objective_names``, e.g. efficacy and selectivity for
``targeted``; score and negated cost for single-objective reward models, see
:func:`nanoenv.envs.multi_objective.objective_values`). Each generation is one batched
simulator call through pymoo's ask-and-tell interface. Like the scalarised searches it
reports the best design by the family's scalar score (what the benchmark scores), and it
keeps the non-dominated designs it evaluated in :attr:`NSGA2.last_front`, for
hypervolume and Pareto-front reports (:mod:`nanoenv.bench.pareto`).

>>> from nanoenv.tasks import sample_target  # doctest: +SKIP
>>> NSGA2(stop_on_success=False).design(sample_target("targeted", rng), 200)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from agents.baselines import DesignResult, SearchMethod
from nanoenv.envs.multi_objective import objective_values
from nanoenv.envs.problem import target_batch
from nanoenv.targets import Target, TargetBatch

__all__ = ["NSGA2"]


class NSGA2(SearchMethod):
    """NSGA-II over the family's objectives (module docstring).

    :param pop_size: designs per generation (one batched simulator call); the last
        generation is cut to the budget left.
    :param kwargs: shared settings (see :class:`~agents.baselines.SearchMethod`).
    """

    name = "nsga2"

    def __init__(self, pop_size: int = 20, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(pop_size, bool) or int(pop_size) != pop_size or pop_size < 4:
            raise ValueError(
                f"pop_size={pop_size!r} must be an integer >= 4 (designs per generation)"
            )
        self.pop_size = int(pop_size)
        #: ``(objectives (n, m), z (n, dim))`` of the non-dominated designs of the last run.
        self.last_front: tuple[np.ndarray, np.ndarray] | None = None

    def design(self, target: Target, budget: int, *, seed: int = 0) -> DesignResult:
        from pymoo.algorithms.moo.nsga2 import NSGA2 as PymooNSGA2
        from pymoo.core.problem import Problem
        from pymoo.operators.sampling.rnd import FloatRandomSampling
        from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

        search = self.start(target, budget)
        spec = search.spec
        dim, device = spec.design_space.dim, spec.device
        one = target_batch(spec, [target])
        batches: dict[int, TargetBatch] = {}  # the target repeated n times, by n
        problem = Problem(n_var=dim, n_obj=2, xl=-1.0, xu=1.0)
        algorithm = PymooNSGA2(pop_size=self.pop_size, sampling=FloatRandomSampling())
        algorithm.setup(problem, seed=int(seed) % 2**31, verbose=False)
        seen_f: list[np.ndarray] = []
        seen_z: list[np.ndarray] = []
        while not self.done(search):
            pop = algorithm.ask()
            x = np.clip(pop.get("X"), -1.0, 1.0)
            n = min(len(x), search.remaining)
            z = torch.as_tensor(x[:n], dtype=self.dtype, device=device)
            with torch.no_grad():
                ev = search.evaluate(z)
                if n not in batches:
                    batches[n] = one.select(torch.zeros(n, dtype=torch.long))
                obj = objective_values(spec.reward_model, ev.release, batches[n], ev.formulation)
            f = obj.double().cpu().numpy()
            if problem.n_obj != f.shape[1]:  # first generation: learn the objective count
                problem.n_obj = f.shape[1]
            seen_f.append(f)
            seen_z.append(x[:n])
            if n < len(x):
                break
            pop.set("F", -f)  # pymoo minimises
            algorithm.tell(infills=pop)
        f_all, z_all = np.concatenate(seen_f), np.concatenate(seen_z)
        front = NonDominatedSorting().do(-f_all, only_non_dominated_front=True)
        self.last_front = (f_all[front], z_all[front])
        return search.result()
