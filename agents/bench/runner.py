"""The one evaluation pipeline: a designer on a list of targets, scored at fixed budgets.

:func:`score_designer` is what the bench, sweeps, ``nanoenv evaluate`` and ``nanoenv
demo`` call, so a number means the same wherever it is printed:

* **one run per target**, with the largest budget ``max(budgets)`` and the method seed
  :func:`method_seed` (one rule: the suite seed, an offset, and the job's seed);
* **scored at every budget K** on the best design among the first ``K`` simulator calls
  it evaluated (``DesignResult.score_history`` / ``history``): a batch's designs are
  counted one call each in the order they were simulated, and a designer's proposals
  within a batch do not depend on the batch's results, so this equals scoring the
  designer stopped after call ``K``. A designer that has evaluated nothing by ``K``
  (a prior-guided policy still screening) scores the floor there (normalised 0);
* **success** is best f2 ≥ 50 (and ≥ 75) by ``K``; **edits to success** count, for
  trained (episodic) designers only, the calls after the first evaluated design.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from agents.baselines import DesignResult, best_at
from nanoenv.bench import BUDGETS, Reference
from nanoenv.tasks import Target

__all__ = [
    "METHOD_SEED_OFFSET",
    "SUCCESS_THRESHOLDS",
    "check_budgets",
    "method_seed",
    "result_row",
    "score_designer",
]

#: Offset between the suite seed and the seed of the methods run on it: suites draw from
#: their own spawned streams (:data:`nanoenv.tasks.SUITE_STREAM`); the offset keeps the
#: method seeds recorded in earlier results meaningful.
METHOD_SEED_OFFSET = 7919
#: f2 thresholds of the success columns (FDA's "similar" and a stricter one).
SUCCESS_THRESHOLDS = (50.0, 75.0)


def method_seed(suite_seed: int, seed: int = 0) -> int:
    """The seed a designer gets on a suite drawn with ``suite_seed``, for job seed ``seed``."""
    return (int(suite_seed) + METHOD_SEED_OFFSET + int(seed)) % 2**32


def check_budgets(budgets: Sequence[int]) -> tuple[int, ...]:
    """Budgets as a sorted tuple of distinct positive integers (an error otherwise)."""
    out = []
    for b in budgets:
        if isinstance(b, bool) or int(b) != b or b < 1:
            raise ValueError(f"budget {b!r} must be a positive number of simulator calls")
        out.append(int(b))
    if not out or len(set(out)) != len(out):
        raise ValueError(f"budgets {list(budgets)} must be distinct and not empty")
    return tuple(sorted(out))


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def result_row(
    result: DesignResult,
    index: int,
    budgets: Sequence[int] = BUDGETS,
    reference: Reference | None = None,
    trains: bool = False,
) -> dict[str, Any]:
    """One JSON-ready row: the designer's result on target ``index``, scored at every
    budget (``score_at``, ``f2_at``, ``normalized_at``, ``success_f2_<X>_at``)."""
    target = result.target
    score_at: list[float | None] = [_finite(best_at(result.score_history, k)) for k in budgets]
    f2_at = [_finite(best_at(result.history, k)) for k in budgets]
    row: dict[str, Any] = {
        "method": result.method,
        "family": target.family,
        "target": index,
        "best_f2": float(result.f2),
        "score": float(result.score),
        "success": result.success,
        "calls_to_success": result.calls_to_success,
        "edits_to_success": None,
        "sim_calls": int(result.sim_calls),
        "cost": float(result.cost),
        "budgets": list(budgets),
        "score_at": score_at,
        "f2_at": f2_at,
    }
    for threshold in SUCCESS_THRESHOLDS:
        row[f"success_f2_{threshold:g}_at"] = [f is not None and f >= threshold for f in f2_at]
    if trains and result.calls_to_success is not None and result.history:
        row["edits_to_success"] = result.calls_to_success - result.history[0][0]
    if reference is not None:
        row["reference"], row["floor"] = reference.score, reference.floor
        row["normalized_at"] = [
            0.0 if s is None else float(reference.normalize(s)) for s in score_at
        ]
    row["history"] = [list(h) for h in result.history]
    row["score_history"] = [list(h) for h in result.score_history]
    row["times_h"] = target.times_h.tolist()
    row["target_release"] = target.release.tolist()
    row["release"] = result.release.tolist()
    row["design"] = result.formulation.to_dicts()[0]
    return row


def score_designer(
    designer: Any,
    targets: Sequence[Target],
    *,
    seed: int,
    budgets: Sequence[int] = BUDGETS,
    references: Sequence[Reference] | None = None,
    trains: bool = False,
    progress: bool = False,
    desc: str | None = None,
) -> list[dict[str, Any]]:
    """Run ``designer`` on every target with ``max(budgets)`` simulator calls and the same
    ``seed`` (common random numbers across targets); one :func:`result_row` per target.

    :param designer: anything with ``name`` and ``design(target, budget, *, seed)``.
    :param targets: the targets, in suite order.
    :param seed: the designer's seed (use :func:`method_seed`).
    :param budgets: simulator-call budgets to score at.
    :param references: one per target, to add normalised scores.
    :param trains: the designer is a trained, episodic one (edits to success are counted).
    :param progress: show a progress bar.
    :param desc: the progress bar's label.
    """
    budgets = check_budgets(budgets)
    if references is not None and len(references) != len(targets):
        raise ValueError(f"{len(references)} references for {len(targets)} targets")
    iterator: Any = targets
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(targets, desc=desc or designer.name, unit="target", dynamic_ncols=True)
    rows = []
    for i, target in enumerate(iterator):
        result = designer.design(target, budgets[-1], seed=seed)
        if result.sim_calls > budgets[-1]:
            raise RuntimeError(
                f"designer {designer.name!r} used {result.sim_calls} simulator calls on target "
                f"{i}, over its budget of {budgets[-1]}"
            )
        ref = references[i] if references is not None else None
        rows.append(result_row(result, i, budgets, ref, trains))
    return rows
