"""Few-shot release prediction: condition each curve on its first measured points.

The formulator's workflow: run a short release test (a day), then predict the rest of the
curve (weeks to months). :func:`predict_few_shot` takes a calibrated model (constants and,
optionally, a learned-correction ensemble; :class:`~nanoenv.calibration.CalibratedModel`)
and each curve's measured points up to ``given_until_h``, and returns the maximum a
posteriori curve under

* a Gaussian prior on per-curve shifts ``δ`` of the six mechanism channels of
  :class:`~nanoenv.calibration.MechanismCorrection` (log transport rate, log hydrolysis
  rate, burst logit, log critical erosion Mw, log burst time, log erosion width), centred
  on the zero-shot prediction (``δ = 0``) with standard deviations :data:`PRIOR_SCALES`;
* a Gaussian likelihood of the early points with standard deviation ``noise`` (fraction
  released).

All curves are fitted at once, batched through the differentiable simulator (Adam on the
``(B, 6)`` shifts; the problems are independent, so the summed objective separates). The
shifted curves are still physical release curves (burst + diffusion + erosion, or burst +
membrane leakage), so the conditioned prediction stays monotone and in ``[0, 1]``. A curve
without points up to ``given_until_h`` keeps its zero-shot prediction.

:func:`later_points` is the evaluation mask: metrics of a few-shot prediction are computed
on the points *after* ``given_until_h`` only (the given points would flatter it).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, NamedTuple

import torch

from nanoenv.calibration.correction import MechanismCorrection
from nanoenv.calibration.fit import seeded
from nanoenv.calibration.predict import CalibratedModel, finite_gradients
from nanoenv.data.curve_set import padded_times
from nanoenv.kinetics.constants import SimulatorConstants
from nanoenv.kinetics.simulate import mechanism_parameters, release_curve

if TYPE_CHECKING:  # pragma: no cover
    from nanoenv.data import CurveSet

__all__ = [
    "DEFAULT_NOISE",
    "EARLY_FRACTIONS",
    "PRIOR_SCALES",
    "ShiftPrior",
    "fit_shift_prior",
    "given_points",
    "later_points",
    "predict_few_shot",
    "with_early_release",
]

_LN10 = math.log(10.0)

#: Prior standard deviations of the per-curve shifts, in the units of
#: :attr:`MechanismCorrection.CHANNELS` (natural-log units for the rates and times, logit
#: units for the burst): one decade of transport rate, half a decade of hydrolysis rate,
#: 2 logit units of burst, a factor e of critical erosion Mw and of burst time, and
#: e^0.5 of erosion width. A day of data says most about the burst and the transport rate;
#: the hydrolysis and erosion channels, which act over weeks, stay close to the prior.
PRIOR_SCALES: tuple[float, ...] = (1.0 * _LN10, 0.5 * _LN10, 2.0, 1.0, 1.0, 0.5)

#: Standard deviation of a measured point about the model curve, fraction released
#: (digitisation and assay error plus the model's own error).
DEFAULT_NOISE = 0.05


def given_points(curves: CurveSet, given_until_h: float) -> torch.Tensor:
    """``(B, T)`` mask of the measured points at or before ``given_until_h`` (the input)."""
    return curves.mask & (curves.times_h <= given_until_h)


def later_points(curves: CurveSet, given_until_h: float) -> torch.Tensor:
    """``(B, T)`` mask of the measured points after ``given_until_h`` (the evaluation)."""
    return curves.mask & (curves.times_h > given_until_h)


#: Fractions of ``given_until_h`` at which :func:`with_early_release` reads each curve's
#: measured release (6, 12 and 24 h for a one-day test, as the published few-shot model's
#: inputs at 0.25, 0.5 and 1 day; Bannigan et al., Nat. Commun. 14, 35 (2023)).
EARLY_FRACTIONS: tuple[float, ...] = (0.25, 0.5, 1.0)


def with_early_release(curves: CurveSet, given_until_h: float) -> CurveSet:
    """``curves`` with three more feature columns: each curve's measured release at
    :data:`EARLY_FRACTIONS` of ``given_until_h``, linearly interpolated between its given
    points (with ``F(0) = 0``); after its last given point, that point's value (release
    only grows, so a lower bound); NaN where the curve has no given point after ``t = 0``
    to go by (the learned correction imputes NaN with the training mean).

    A correction trained on these features (:func:`~nanoenv.calibration.fit_correction`)
    is *conditioned* on the first day of data: the few-shot counterpart of the
    formulation-only correction.

    :param given_until_h: last time whose measurement is given, hours.
    """
    import dataclasses

    _check(given_until_h, 0, DEFAULT_NOISE, PRIOR_SCALES)
    given = given_points(curves, given_until_h)
    t = curves.times_h.to(torch.float64)
    y = curves.release.to(torch.float64)
    columns = []
    for fraction in EARLY_FRACTIONS:
        at = fraction * given_until_h
        # last given point at or before `at` (or the origin) and first given point after it
        before = given & (t <= at)
        after = given & (t > at)
        t0 = torch.where(before, t, torch.zeros_like(t)).amax(-1)
        y0 = torch.where(before & (t == t0[:, None]), y, torch.zeros_like(y)).amax(-1)
        big = torch.full_like(t, math.inf)
        t1 = torch.where(after, t, big).amin(-1)
        y1 = torch.where(after & (t == t1[:, None]), y, torch.zeros_like(y)).amax(-1)
        exact = before.any(-1) & (t0 == at)
        span = torch.where(torch.isfinite(t1), t1 - t0, torch.ones_like(t1))
        value = y0 + (y1 - y0) * (at - t0) / span
        value = torch.where(exact | ~torch.isfinite(t1), y0, value)
        # no given point after `at`: the last given value (a lower bound); none but the
        # origin before it either: unknown
        known = torch.isfinite(t1) | (t0 > 0.0)
        value = torch.where(known, value, torch.full_like(value, math.nan))
        columns.append(value)
    extra = torch.stack(columns, -1)
    names = [f"release_at_{fraction:g}_of_given" for fraction in EARLY_FRACTIONS]
    return dataclasses.replace(
        curves,
        features=torch.cat([curves.features.to(torch.float64), extra], -1),
        feature_names=[*curves.feature_names, *names],
    )


def _check(given_until_h: float, steps: int, noise: float, scales: tuple[float, ...]) -> None:
    if not (math.isfinite(given_until_h) and given_until_h > 0.0):
        raise ValueError(f"given_until_h={given_until_h} must be a positive, finite time in hours")
    if steps < 0:
        raise ValueError(f"steps={steps} must be >= 0 (Adam steps)")
    if not (math.isfinite(noise) and noise > 0.0):
        raise ValueError(f"noise={noise} must be > 0 (fraction released)")
    if len(scales) != len(MechanismCorrection.CHANNELS) or not all(s > 0 for s in scales):
        raise ValueError(
            f"prior_scales must be {len(MechanismCorrection.CHANNELS)} positive numbers "
            f"(channels {MechanismCorrection.CHANNELS}); got {scales}"
        )


class ShiftPrior(NamedTuple):
    """Gaussian prior of the per-curve mechanism shifts: ``mean`` ``(6,)`` and
    ``covariance`` ``(6, 6)`` in the units of :attr:`MechanismCorrection.CHANNELS`."""

    mean: torch.Tensor
    covariance: torch.Tensor


def fit_shift_prior(
    model: CalibratedModel | SimulatorConstants,
    curves: CurveSet,
    *,
    steps: int = 200,
    lr: float = 0.1,
    noise: float = DEFAULT_NOISE,
    prior_scales: tuple[float, ...] = PRIOR_SCALES,
    shrinkage: float = 0.1,
) -> ShiftPrior:
    """Empirical-Bayes prior of the shifts, learned from training curves: fit every
    training curve's shifts to *all* its points (MAP under the default independent prior),
    and return their mean and covariance (shrunk toward the diagonal by ``shrinkage`` and
    floored at 1 % of :data:`PRIOR_SCALES`² so that it stays invertible).

    The covariance is what lets a day of data inform the slow channels: if curves that
    burst more also hydrolyse faster in the training data, the conditioned prediction
    of a new curve that bursts more expects faster hydrolysis too.

    :param curves: training curves (never the curves to be predicted).
    """
    shifts = _map_shifts(model, curves, curves.mask, steps, lr, noise, prior_scales, None)
    mean = shifts.mean(0)
    centred = shifts - mean
    cov = centred.T @ centred / max(len(shifts) - 1, 1)
    cov = (1.0 - shrinkage) * cov + shrinkage * torch.diag(torch.diagonal(cov))
    floor = 0.01 * torch.tensor(list(prior_scales), dtype=torch.float64) ** 2
    return ShiftPrior(mean, cov + torch.diag(floor))


def predict_few_shot(
    model: CalibratedModel | SimulatorConstants,
    curves: CurveSet,
    given_until_h: float = 24.0,
    *,
    steps: int = 200,
    lr: float = 0.1,
    noise: float = DEFAULT_NOISE,
    prior_scales: tuple[float, ...] = PRIOR_SCALES,
    prior: ShiftPrior | None = None,
    seed: int = 0,
) -> torch.Tensor:
    """``(B, T)`` cumulative fraction released at ``curves.times_h``, each curve conditioned
    on its own measured points up to ``given_until_h`` (MAP of per-curve mechanism shifts;
    see the module docstring).

    :param model: calibrated constants, with or without a correction ensemble.
    :param curves: the curves; their measured release up to ``given_until_h`` is the input.
    :param given_until_h: last time whose measurement is given, hours (24 = a one-day test).
    :param steps: Adam steps of the MAP fit (0 returns the zero-shot prediction).
    :param lr: Adam learning rate, in the channels' units.
    :param noise: likelihood standard deviation of a measured point, fraction released.
    :param prior_scales: prior standard deviation of each channel's shift (independent,
        zero-mean prior) when ``prior`` is not given.
    :param prior: a learned Gaussian prior of the shifts (:func:`fit_shift_prior`), whose
        correlations carry what the first day says about the later channels.
    :param seed: torch seed during the fit (the fit is deterministic; kept for symmetry).
    :raises ValueError: for a non-positive ``given_until_h``, ``noise`` or scale.
    """
    _check(given_until_h, steps, noise, tuple(prior_scales))
    given = given_points(curves, given_until_h)
    shift = _map_shifts(model, curves, given, steps, lr, noise, prior_scales, prior, seed)
    with torch.no_grad():
        return _curves_with_shift(model, curves)(shift)


def _curves_with_shift(model: CalibratedModel | SimulatorConstants, curves: CurveSet):
    """A function of the ``(B, 6)`` shifts giving the ensemble-mean ``(B, T)`` curves."""
    if isinstance(model, SimulatorConstants):
        model = CalibratedModel(model)
    times = padded_times(curves)
    n_channels = len(MechanismCorrection.CHANNELS)
    with torch.no_grad():
        base = mechanism_parameters(
            curves.formulation, curves.conditions, curves.drug, model.constants
        )
        if model.corrections:
            offsets = [member(curves.features) for member in model.corrections]
        else:
            offsets = [torch.zeros(len(curves), n_channels, dtype=torch.float64)]

    def predict(shift: torch.Tensor) -> torch.Tensor:
        out = []
        for offset in offsets:
            m = MechanismCorrection.apply(base, offset + shift)
            out.append(release_curve(finite_gradients(m), times))
        return torch.stack(out).mean(0)

    return predict


def _map_shifts(
    model: CalibratedModel | SimulatorConstants,
    curves: CurveSet,
    given: torch.Tensor,
    steps: int,
    lr: float,
    noise: float,
    prior_scales: tuple[float, ...],
    prior: ShiftPrior | None,
    seed: int = 0,
) -> torch.Tensor:
    """``(B, 6)`` MAP shifts given the points ``given`` (curves without any keep the prior
    mean)."""
    predict = _curves_with_shift(model, curves)
    target = torch.where(
        given, curves.release.to(torch.float64), torch.zeros_like(given, dtype=torch.float64)
    )
    n_channels = len(MechanismCorrection.CHANNELS)
    if prior is None:
        scales = torch.tensor(list(prior_scales), dtype=torch.float64)
        prior = ShiftPrior(torch.zeros(n_channels, dtype=torch.float64), torch.diag(scales**2))
    precision = torch.linalg.inv(prior.covariance)
    shift = prior.mean.expand(len(curves), -1).clone().requires_grad_(True)
    has_data = given.any(-1)
    if steps > 0 and bool(has_data.any()):
        with seeded(seed):
            optimiser = torch.optim.Adam([shift], lr=lr)
            for _ in range(steps):
                optimiser.zero_grad()
                pred = predict(shift)
                resid = torch.where(given, pred - target, torch.zeros_like(pred))
                nll = 0.5 * (resid / noise) ** 2
                d = shift - prior.mean
                penalty = 0.5 * ((d @ precision) * d).sum(-1)
                objective = nll.sum() + penalty[has_data].sum()
                objective.backward()
                with torch.no_grad():
                    shift.grad = torch.nan_to_num(shift.grad, nan=0.0, posinf=0.0, neginf=0.0)
                    shift.grad[~has_data] = 0.0
                optimiser.step()
    return shift.detach()
