"""Design baselines: search the design space directly, with a simulator-call budget.

Every method implements :class:`DesignMethod`: ``design(target, budget, seed=...)``
returns a :class:`DesignResult` (the best design found, its curve and scores, and
how many simulator calls it took). Trained policies share the interface through
:class:`PolicyRollout`, so RL agents and baselines are compared on the same
:func:`benchmark_suite <nanoenv.tasks.benchmark_suite>` with :func:`run_suite`
and :func:`results_table`.

The search methods work in the design space's normalised coordinates
``z ∈ [-1, 1]^dim`` and score designs with the environment's own machinery
(:func:`nanoenv.envs.problem.evaluate` on a :class:`~nanoenv.targets.TargetBatch`
holding the target once per candidate), so ``f2``, ``score`` and ``cost`` are
exactly what :class:`~nanoenv.envs.FormulationDesignEnv` reports for the same
design. One simulated candidate is one simulator call; a batch of ``N``
candidates is simulated in one batched call and counts ``N``.

========================  ==========================================================
:class:`RandomSearch`     uniform draws of ``z``, in batches
:class:`CMAES`            CMA-ES (the ``cma`` package) on ``z`` with bounds, restarts
:class:`GradientDescent`  multi-start Adam through the differentiable simulator
:class:`PolicyRollout`    a trained policy rolled out in ``FormulationDesignEnv``
========================  ==========================================================

>>> from nanoenv.tasks import benchmark_suite
>>> target = benchmark_suite("realisable", 1, seed=0)[0]
>>> result = RandomSearch(batch_size=16).design(target, budget=32, seed=0)
>>> result.sim_calls <= 32
True
"""

from __future__ import annotations

from agents.baselines.methods import CMAES, GradientDescent, RandomSearch
from agents.baselines.rollout import PolicyRollout
from agents.baselines.search import (
    DesignMethod,
    DesignResult,
    ProblemCache,
    Search,
    SearchMethod,
    best_at,
    check_budget,
)
from agents.baselines.suites import main, results_table, run_suite, summarize

__all__ = [
    "CMAES",
    "DesignMethod",
    "DesignResult",
    "GradientDescent",
    "PolicyRollout",
    "ProblemCache",
    "RandomSearch",
    "Search",
    "SearchMethod",
    "best_at",
    "check_budget",
    "main",
    "results_table",
    "run_suite",
    "summarize",
]
