"""Statistics of the bench, after rliable (Agarwal et al., NeurIPS 2021).

Scores come as a matrix ``(targets, seeds)`` of normalised scores for one method on one
family at one budget. Intervals resample **targets** (with all their seeds) with
replacement: the uncertainty a reader cares about is over which targets a family holds,
and with few seeds a bootstrap over seeds within targets would be far too narrow.

* :func:`iqm`: the interquartile mean; :func:`stratified_bootstrap_ci`: a percentile
  interval by stratified bootstrap (``nanoenv report``'s, over runs within targets);
* :func:`iqm_ci`: interquartile mean and its percentile interval;
* :func:`performance_profile`: share of runs whose normalised score exceeds each ``τ``;
* :func:`probability_of_improvement`: ``P(X > Y)`` of one method's score over another's
  on the same target (ties count half), averaged over targets, with an interval.

>>> iqm([1, 2, 3, 4, 5, 6, 7, 8])
4.5
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from scipy.stats import trim_mean

__all__ = [
    "N_BOOT",
    "iqm",
    "iqm_ci",
    "performance_profile",
    "probability_of_improvement",
    "stratified_bootstrap_ci",
]

#: Bootstrap samples of every interval (the bench's and the report's).
N_BOOT = 2000


def iqm(values: Any, axis: int | None = None) -> Any:
    """Interquartile mean: the mean of the middle 50 % of ``values`` (25 % trimmed from
    each end, :func:`scipy.stats.trim_mean`); along ``axis``, or over all values."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.size == 0:
        raise ValueError("iqm of no values")
    out = trim_mean(arr if axis is not None else arr.ravel(), 0.25, axis=axis or 0)
    return float(out) if np.ndim(out) == 0 else out


def stratified_bootstrap_ci(
    strata: Sequence[Sequence[float]],
    statistic: Callable[..., Any] = iqm,
    *,
    n_boot: int = N_BOOT,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile confidence interval of ``statistic`` by stratified bootstrap.

    :param strata: one sequence of values per stratum (for example the scores of every
        run on one target); each bootstrap sample draws, with replacement, as many values
        from each stratum as it holds, and ``statistic`` is taken over all of them.
    :param statistic: ``f(values, axis=1)`` on an ``(n_boot, n_values)`` array (like
        :func:`iqm` or :func:`numpy.mean`).
    :param n_boot: bootstrap samples.
    :param confidence: coverage of the interval.
    :param seed: seed of the resampling (same seed, same interval).
    """
    groups = [np.asarray(s, dtype=np.float64).ravel() for s in strata]
    groups = [g for g in groups if g.size]
    if not groups:
        raise ValueError("no values to bootstrap")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1); got {confidence}")
    rng = np.random.default_rng(seed)
    samples = np.concatenate(
        [g[rng.integers(0, g.size, size=(n_boot, g.size))] for g in groups], axis=1
    )
    values = np.asarray(statistic(samples, axis=1), dtype=np.float64)
    alpha = (1 - confidence) / 2
    lo, hi = np.percentile(values, [100 * alpha, 100 * (1 - alpha)])
    return float(lo), float(hi)


def _matrix(scores: Sequence[Sequence[float]] | np.ndarray) -> np.ndarray:
    arr = np.asarray(scores, dtype=np.float64)
    if arr.ndim != 2 or arr.size == 0:
        raise ValueError(
            f"scores must be a non-empty (targets, seeds) matrix; got shape {arr.shape}"
        )
    if not np.isfinite(arr).all():
        raise ValueError("scores hold NaN or infinite values")
    return arr


def _target_draws(n_targets: int, n_boot: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, n_targets, size=(n_boot, n_targets))


def iqm_ci(
    scores: Sequence[Sequence[float]] | np.ndarray,
    *,
    n_boot: int = N_BOOT,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """``(IQM, low, high)`` of a ``(targets, seeds)`` score matrix; the interval is the
    percentile interval of the IQM over ``n_boot`` resamplings of the targets."""
    arr = _matrix(scores)
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1); got {confidence}")
    draws = _target_draws(arr.shape[0], n_boot, seed)
    samples = arr[draws].reshape(n_boot, -1)
    boot = iqm(samples, axis=1)
    alpha = 100 * (1 - confidence) / 2
    lo, hi = np.percentile(boot, [alpha, 100 - alpha])
    return iqm(arr), float(lo), float(hi)


def performance_profile(values: Sequence[float] | np.ndarray, taus: np.ndarray) -> np.ndarray:
    """Share of ``values`` (normalised scores of every run) strictly above each ``τ``."""
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size == 0:
        raise ValueError("performance_profile of no values")
    return (v[None, :] > np.asarray(taus, dtype=np.float64)[:, None]).mean(axis=1)


def _pairwise(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per target: P(x > y) over all pairs of x's and y's seeds, ties counting half."""
    gt = (x[:, :, None] > y[:, None, :]).mean(axis=(1, 2))
    eq = (x[:, :, None] == y[:, None, :]).mean(axis=(1, 2))
    return gt + 0.5 * eq


def probability_of_improvement(
    x: Sequence[Sequence[float]] | np.ndarray,
    y: Sequence[Sequence[float]] | np.ndarray,
    *,
    n_boot: int = N_BOOT,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """``(P(X > Y), low, high)`` for two ``(targets, seeds)`` matrices on the same targets
    (rliable's probability of improvement; the interval resamples targets)."""
    a, b = _matrix(x), _matrix(y)
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"x has {a.shape[0]} targets and y {b.shape[0]}; they must match")
    per_target = _pairwise(a, b)
    draws = _target_draws(len(per_target), n_boot, seed)
    boot = per_target[draws].mean(axis=1)
    alpha = 100 * (1 - confidence) / 2
    lo, hi = np.percentile(boot, [alpha, 100 - alpha])
    return float(per_target.mean()), float(lo), float(hi)
