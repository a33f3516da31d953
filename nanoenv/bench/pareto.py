"""Pareto fronts and hypervolume of multi-objective design results.

Objectives are maximised and lie in ``[0, 1]`` (:mod:`nanoenv.rewards.delivery`), so the
hypervolume is measured against the reference point 0 (the worst value of every
objective): the share of the unit box a front dominates, 1 for a design perfect in
every objective. pymoo's exact indicator does the computation (Zitzler & Thiele, IEEE
Trans. Evol. Comput. 3, 257 (1999); pymoo: Blank & Deb, IEEE Access 8, 89497 (2020)).
"""

from __future__ import annotations

import numpy as np

__all__ = ["hypervolume", "pareto_front"]


def _check(objectives: np.ndarray) -> np.ndarray:
    f = np.asarray(objectives, dtype=np.float64)
    if f.ndim != 2 or f.shape[0] == 0:
        raise ValueError(f"objectives must have shape (n, m) with n >= 1; got {f.shape}")
    if not np.all(np.isfinite(f)):
        raise ValueError("objectives must be finite; got NaN or inf")
    return f


def pareto_front(objectives: np.ndarray) -> np.ndarray:
    """Indices of the non-dominated rows of ``objectives`` (``(n, m)``, maximised)."""
    from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

    f = _check(objectives)
    return np.asarray(NonDominatedSorting().do(-f, only_non_dominated_front=True))


def hypervolume(objectives: np.ndarray, reference: np.ndarray | float = 0.0) -> float:
    """Hypervolume dominated by ``objectives`` (``(n, m)``, maximised) above ``reference``
    (a point or one value for every objective, default 0); rows not above it count 0."""
    from pymoo.indicators.hv import HV

    f = _check(objectives)
    ref = np.broadcast_to(np.asarray(reference, dtype=np.float64), (f.shape[1],))
    above = f[np.all(f > ref, axis=1)]
    if len(above) == 0:
        return 0.0
    return float(HV(ref_point=-ref)(-above))
