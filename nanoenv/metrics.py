"""Batched, differentiable metrics that compare drug-release curves.

Every release input is a **cumulative fraction released** (dimensionless, 0 = nothing
released, 1 = the whole dose), shaped ``(T,)`` or ``(B, T)`` or anything that broadcasts,
with time on the last dimension. Results have the broadcast batch shape (the time
dimension is reduced), so ``(T,)`` inputs give a 0-d tensor and ``(B, T)`` inputs a ``(B,)``
tensor. All functions are pure torch and differentiable wherever the formula is.

Measured dissolution data often exceed 100 % of label claim slightly, so values in
``[-0.5, 1.5]`` are accepted; anything outside (typically a curve given in percent) raises a
:class:`ValueError`. Checks read values back from the device; hot loops that already
validated their inputs pass ``validate=False``.

Sources
-------
* FDA, *Guidance for Industry: Dissolution Testing of Immediate Release Solid Oral Dosage
  Forms* (1997), and Moore, J. W. & Flanner, H. H., "Mathematical comparison of
  dissolution profiles", *Pharmaceutical Technology* 20(6), 64-74 (1996): ``f1`` and ``f2``.
* Costa, P. & Sousa Lobo, J. M., "Modeling and comparison of dissolution profiles",
  *Eur. J. Pharm. Sci.* 13, 123-133 (2001): mean dissolution time.
* Khan, K. A., "The concept of dissolution efficiency", *J. Pharm. Pharmacol.* 27, 48-49
  (1975): dissolution efficiency.
"""

from __future__ import annotations

import math

import torch

from nanoenv.kinetics.validation import check_finite, check_sorted_times

__all__ = [
    "FRACTION_RANGE",
    "dissolution_efficiency",
    "f1_difference",
    "f2_similarity",
    "mae",
    "mean_dissolution_time",
    "rmse",
]

#: Accepted range for cumulative fractions released (dimensionless). Wider than ``[0, 1]``
#: to tolerate assay noise and over-label-claim content; a curve given in percent falls
#: outside it as soon as more than 1.5 % has been released.
FRACTION_RANGE: tuple[float, float] = (-0.5, 1.5)

_EPS = 1e-12
_LN10 = math.log(10.0)

Tensor = torch.Tensor


# ---------------------------------------------------------------------------------------
# Input handling
# ---------------------------------------------------------------------------------------


def _as_float(x: Tensor | float) -> Tensor:
    x = torch.as_tensor(x)
    if not torch.is_floating_point(x):
        x = x.to(torch.get_default_dtype())
    return x


def _check_fractions(name: str, values: Tensor) -> None:
    """Raise ``ValueError`` unless ``values`` is finite and inside :data:`FRACTION_RANGE`.

    One device synchronisation on the happy path.
    """
    low, high = FRACTION_RANGE
    v = values.detach()
    bad = ~torch.isfinite(v) | (v < low) | (v > high)
    if not bool(bad.any()):
        return
    check_finite(name, v)  # NaN / inf gets its own message
    index = [int(i) for i in torch.nonzero(bad)[0].tolist()]
    value = float(v[tuple(index)]) if v.dim() else float(v)
    where = f" at index {index}" if index else ""
    hint = (
        "; it looks like a percentage: divide percent values by 100"
        if float(v.max()) > high
        else ""
    )
    raise ValueError(
        f"{name} must hold cumulative fractions released in [0, 1] (dimensionless; values "
        f"in [{low:g}, {high:g}] are tolerated); got {name}={value:g}{where}{hint}"
    )


def _broadcast(name_a: str, a: Tensor, name_b: str, b: Tensor) -> torch.Size:
    try:
        shape = torch.broadcast_shapes(a.shape, b.shape)
    except RuntimeError:
        raise ValueError(
            f"{name_a} with shape {tuple(a.shape)} and {name_b} with shape "
            f"{tuple(b.shape)} do not broadcast (time must be the last dimension)"
        ) from None
    if len(shape) == 0 or shape[-1] == 0:
        raise ValueError(
            f"{name_a} and {name_b} need a non-empty time dimension (the last one); got "
            f"shapes {tuple(a.shape)} and {tuple(b.shape)}"
        )
    return shape


def _pair(
    pred: Tensor | float,
    target: Tensor | float,
    weights: Tensor | None,
    validate: bool,
) -> tuple[Tensor, Tensor, Tensor | None]:
    pred = _as_float(pred)
    target = _as_float(target)
    if weights is not None:
        weights = _as_float(weights)
    if validate:
        shape = _broadcast("pred", pred, "target", target)
        _check_fractions("pred", pred)
        _check_fractions("target", target)
        if weights is not None:
            try:
                torch.broadcast_shapes(shape, weights.shape)
            except RuntimeError:
                raise ValueError(
                    f"weights with shape {tuple(weights.shape)} does not broadcast with the "
                    f"curves' shape {tuple(shape)} (time must be the last dimension)"
                ) from None
            w = weights.detach()
            if bool((~torch.isfinite(w) | (w < 0)).any()):
                check_finite("weights", w)
                raise ValueError("weights must be non-negative (dimensionless)")
            total = torch.broadcast_to(w, torch.broadcast_shapes(shape, w.shape)).sum(-1)
            if bool((total <= 0).any()):
                raise ValueError(
                    "weights must have a positive sum over the time dimension for every curve"
                )
    return pred, target, weights


def _mean_last(x: Tensor, weights: Tensor | None) -> Tensor:
    """(Weighted) mean over the last dimension."""
    if weights is None:
        return x.mean(dim=-1)
    w = torch.broadcast_to(weights, torch.broadcast_shapes(x.shape, weights.shape))
    x = torch.broadcast_to(x, w.shape)
    return (w * x).sum(-1) / w.sum(-1).clamp_min(_EPS)


def _safe_sqrt(x: Tensor) -> Tensor:
    """``sqrt`` whose gradient at 0 is 0 instead of NaN (``x`` is non-negative)."""
    positive = x > 0
    safe = torch.where(positive, x, torch.ones_like(x))
    return torch.where(positive, torch.sqrt(safe), torch.zeros_like(x))


# ---------------------------------------------------------------------------------------
# Profile comparison: f2, f1, RMSE, MAE
# ---------------------------------------------------------------------------------------


def f2_similarity(
    pred: Tensor,
    target: Tensor,
    weights: Tensor | None = None,
    *,
    validate: bool = True,
) -> Tensor:
    """Similarity factor f2 between two cumulative release curves.

    ``f2 = 50·log10(100 / sqrt(1 + mean_t (R_t − T_t)²))`` with ``R`` and ``T`` in percent
    released (the fractions are multiplied by 100 here), i.e. ``f2 = 100 − 25·log10(1 + MSD)``.
    Identical curves give exactly 100; ``f2 ≥ 50`` (an average difference of at most about
    10 percentage points) is the regulatory criterion for similar profiles. The metric is
    symmetric in its arguments.

    The regulatory conditions of use (at least three time points, at most one point above
    85 % dissolved, coefficient of variation limits) are not enforced here; select the time
    points with ``weights`` (a 0/1 mask) if needed.

    Sources: FDA Guidance for Industry, Dissolution Testing of Immediate Release Solid Oral
    Dosage Forms (1997); Moore & Flanner, Pharmaceutical Technology 20(6), 64-74 (1996).

    :param pred: cumulative fraction released, ``(..., T)``, dimensionless.
    :param target: reference cumulative fraction released, broadcastable with ``pred``.
    :param weights: optional non-negative weights (or 0/1 mask) over the time points,
        broadcastable with the curves; the mean becomes ``Σ w·d² / Σ w``.
    :param validate: check the inputs (shapes, NaN, fraction range); ``False`` skips the
        checks in hot loops.
    :return: f2 (dimensionless, ≤ 100) with the broadcast batch shape.
    """
    pred, target, weights = _pair(pred, target, weights, validate)
    msd = _mean_last((100.0 * (pred - target)) ** 2, weights)  # percent²
    return 100.0 - 25.0 * torch.log1p(msd) / _LN10


def f1_difference(
    pred: Tensor,
    target: Tensor,
    weights: Tensor | None = None,
    *,
    validate: bool = True,
) -> Tensor:
    """Difference factor f1 of ``pred`` (test) relative to ``target`` (reference).

    ``f1 = 100 · Σ_t |R_t − T_t| / Σ_t R_t`` with the reference ``R = target``; 0 means
    identical, ``f1 ≤ 15`` is the usual criterion for similar profiles. The factor is not
    symmetric. The denominator is clamped at ``1e-12`` so a reference that releases nothing
    gives a large finite value (never inf or NaN); f1 is not meaningful in that case.

    Source: Moore & Flanner, Pharmaceutical Technology 20(6), 64-74 (1996); FDA Guidance
    for Industry (1997).

    :param pred: test cumulative fraction released, ``(..., T)``, dimensionless.
    :param target: reference cumulative fraction released, broadcastable with ``pred``.
    :param weights: optional non-negative weights (or 0/1 mask) over the time points,
        applied to both sums.
    :param validate: check the inputs; ``False`` skips the checks.
    :return: f1 in percent with the broadcast batch shape.
    """
    pred, target, weights = _pair(pred, target, weights, validate)
    diff = (pred - target).abs()
    ref = torch.broadcast_to(target, torch.broadcast_shapes(diff.shape, target.shape))
    if weights is not None:
        w = torch.broadcast_to(weights, torch.broadcast_shapes(diff.shape, weights.shape))
        diff = w * diff
        ref = w * ref
    return 100.0 * diff.sum(-1) / ref.sum(-1).clamp_min(_EPS)


def rmse(
    pred: Tensor,
    target: Tensor,
    weights: Tensor | None = None,
    *,
    validate: bool = True,
) -> Tensor:
    """Root-mean-square error over time, in fraction units.

    The gradient at a perfect fit (RMSE = 0) is defined as 0 instead of NaN.

    :param pred: cumulative fraction released, ``(..., T)``, dimensionless.
    :param target: cumulative fraction released, broadcastable with ``pred``.
    :param weights: optional non-negative weights (or 0/1 mask) over the time points.
    :param validate: check the inputs; ``False`` skips the checks.
    :return: RMSE (fraction released) with the broadcast batch shape.
    """
    pred, target, weights = _pair(pred, target, weights, validate)
    return _safe_sqrt(_mean_last((pred - target) ** 2, weights))


def mae(
    pred: Tensor,
    target: Tensor,
    weights: Tensor | None = None,
    *,
    validate: bool = True,
) -> Tensor:
    """Mean absolute error over time, in fraction units.

    :param pred: cumulative fraction released, ``(..., T)``, dimensionless.
    :param target: cumulative fraction released, broadcastable with ``pred``.
    :param weights: optional non-negative weights (or 0/1 mask) over the time points.
    :param validate: check the inputs; ``False`` skips the checks.
    :return: MAE (fraction released) with the broadcast batch shape.
    """
    pred, target, weights = _pair(pred, target, weights, validate)
    return _mean_last((pred - target).abs(), weights)


# ---------------------------------------------------------------------------------------
# Single-curve descriptors: MDT, DE
# ---------------------------------------------------------------------------------------


def _curve(
    times_h: Tensor,
    release: Tensor,
    validate: bool,
    min_points: int,
) -> tuple[Tensor, Tensor]:
    release = _as_float(release)
    times_h = _as_float(times_h).to(release.dtype)
    if validate:
        check_sorted_times("times_h", times_h, "h")
        shape = _broadcast("times_h", times_h, "release", release)
        if times_h.shape[-1] != shape[-1] or release.shape[-1] != shape[-1]:
            raise ValueError(
                f"times_h with shape {tuple(times_h.shape)} and release with shape "
                f"{tuple(release.shape)} must have the same number of time points (last "
                "dimension)"
            )
        if shape[-1] < min_points:
            raise ValueError(f"at least {min_points} time points are needed; got {shape[-1]}")
        _check_fractions("release", release)
    return times_h, release


def mean_dissolution_time(
    times_h: Tensor,
    release: Tensor,
    *,
    validate: bool = True,
) -> Tensor:
    """Mean dissolution time ``MDT = Σ_j t̂_j ΔF_j / Σ_j ΔF_j``.

    ``t̂_j = (t_{j−1} + t_j)/2`` is the midpoint and ``ΔF_j = F_j − F_{j−1}`` the fraction
    released during interval ``j`` of the sampling grid. Only release inside the grid
    counts: a non-zero ``F`` at the first time point (e.g. a burst before the first sample)
    is ignored, and the result is the mean time of the release observed up to the last
    sample. The denominator ``F_end − F_0`` is clamped at ``1e-12``, so with
    ``validate=False`` a flat curve gives 0 instead of NaN; with ``validate=True`` a curve
    whose net release over the grid is not positive raises :class:`ValueError`.

    Source: Costa & Sousa Lobo, Eur. J. Pharm. Sci. 13, 123-133 (2001), eq. for MDT.

    :param times_h: sampling times in hours, ``(T,)`` or ``(B, T)``, non-negative and sorted.
    :param release: cumulative fraction released, ``(..., T)``, dimensionless.
    :param validate: check the inputs; ``False`` skips the checks.
    :return: MDT in hours with the broadcast batch shape.
    """
    times_h, release = _curve(times_h, release, validate, 2)
    mid = 0.5 * (times_h[..., 1:] + times_h[..., :-1])
    d_f = release[..., 1:] - release[..., :-1]
    total = d_f.sum(-1)
    if validate and bool((total.detach() <= 0).any()):
        raise ValueError(
            "mean_dissolution_time needs a net positive release over the grid "
            "(release[..., -1] > release[..., 0]) for every curve; MDT is undefined otherwise"
        )
    return (mid * d_f).sum(-1) / total.clamp_min(_EPS)


def dissolution_efficiency(
    times_h: Tensor,
    release: Tensor,
    *,
    validate: bool = True,
) -> Tensor:
    """Dissolution efficiency ``DE = ∫ F dt / ((t_end − t_0) · 1)``.

    The area under the cumulative release curve (trapezoidal rule) divided by the area of
    the rectangle of 100 % release over the same span; a fraction in ``[0, 1]`` for a curve
    in ``[0, 1]``. With the grid starting at ``t_0 = 0`` (the usual case) this is Khan's
    ``DE = ∫_0^{t_end} F dt / (t_end · 100 %)``. A grid of zero span gives 0 (the
    denominator is clamped at ``1e-12`` h); ``validate=True`` rejects it.

    Source: Khan, J. Pharm. Pharmacol. 27, 48-49 (1975).

    :param times_h: sampling times in hours, ``(T,)`` or ``(B, T)``, non-negative and sorted.
    :param release: cumulative fraction released, ``(..., T)``, dimensionless.
    :param validate: check the inputs; ``False`` skips the checks.
    :return: DE (dimensionless fraction) with the broadcast batch shape.
    """
    times_h, release = _curve(times_h, release, validate, 2)
    span = times_h[..., -1] - times_h[..., 0]
    if validate and bool((span.detach() <= 0).any()):
        raise ValueError("times_h must span a positive duration (h) for dissolution_efficiency")
    dt = times_h[..., 1:] - times_h[..., :-1]
    area = (0.5 * (release[..., 1:] + release[..., :-1]) * dt).sum(-1)
    return area / span.clamp_min(_EPS)
