"""Fitting: the simulator constants (:func:`calibrate_constants`) and the correction
ensemble (:func:`fit_correction`) by AdamW through the differentiable simulator.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch

from nanoenv.calibration.correction import MechanismCorrection
from nanoenv.calibration.parameters import FIT_START, ConstantParameters, check_names, default_names
from nanoenv.calibration.predict import CalibratedModel
from nanoenv.kinetics.constants import (
    DEFAULT_CONSTANTS,
    SimulatorConstants,
)

if TYPE_CHECKING:  # pragma: no cover
    from nanoenv.data import CurveSet


@dataclass
class CalibrationResult:
    """Outcome of a fit.

    :param constants: fitted constants (plain floats).
    :param names: names of the fitted constants.
    :param loss_history: training loss per step (masked MSE + prior), fraction².
    :param initial_loss: masked MSE of the starting model, fraction².
    :param final_loss: masked MSE of the returned model, fraction².
    :param corrections: the trained correction members (empty for a constants-only fit).
    :param datasets: names of the curve sets fitted.
    :param seconds: wall-clock time of the fit.
    :param bounded: whether the constants were fitted inside :data:`CONSTANT_BOUNDS`.
    """

    constants: SimulatorConstants
    names: list[str]
    loss_history: list[float]
    initial_loss: float
    final_loss: float
    corrections: list[MechanismCorrection] = field(default_factory=list)
    datasets: list[str] = field(default_factory=list)
    seconds: float = 0.0
    bounded: bool = True

    @property
    def model(self) -> CalibratedModel:
        """The fitted model (constants plus corrections, if any)."""
        return CalibratedModel(self.constants, tuple(self.corrections))


def as_curve_sets(curves: CurveSet | Sequence[CurveSet]) -> list[CurveSet]:
    """``curves`` as a non-empty list of curve sets (one set or several), each holding at
    least one curve (``ValueError`` otherwise)."""
    if isinstance(curves, list | tuple):
        out = list(curves)
    else:
        out = [curves]
    if not out:
        raise ValueError("need at least one CurveSet to calibrate against; got none")
    for cs in out:
        if len(cs.curve_ids) == 0:
            raise ValueError(f"CurveSet {cs.name!r} holds no curves")
    return out


Weighting = Literal["points", "curves", "groups"]


def point_weights(curves: CurveSet, weighting: Weighting = "points") -> torch.Tensor:
    """``(B, T)`` weights of the measured points in the loss (0 on padding).

    ``"points"``: every measured point weighs the same (the pooled MSE that the
    cross-validated MAE and RMSE mirror); ``"curves"``: every curve weighs the same;
    ``"groups"``: every group (drug–polymer pair or drug) weighs the same, its curves
    equally, so that one heavily sampled group does not dominate the fit.
    """
    w = curves.mask.to(torch.float64)
    if weighting == "points":
        return w
    if weighting not in ("curves", "groups"):
        raise ValueError(f"weighting={weighting!r} is not one of 'points', 'curves', 'groups'")
    w = w / w.sum(-1, keepdim=True).clamp(min=1.0)
    if weighting == "groups":
        counts: dict[str, int] = {}
        for g in curves.groups:
            counts[g] = counts.get(g, 0) + 1
        per_curve = torch.tensor([1.0 / counts[g] for g in curves.groups], dtype=torch.float64)
        w = w * per_curve[:, None]
    return w


Loss = Literal["mse", "mae"]

#: Smoothing of the ``"mae"`` loss, fraction released: ``√(d² + ε²) − ε`` is quadratic
#: for errors well below ε and linear (the MAE) above it.
_MAE_EPS = 0.01


def _masked_mse(
    pred: torch.Tensor, curves: CurveSet, weights: torch.Tensor, loss: Loss = "mse"
) -> torch.Tensor:
    """Weighted mean over the measured points of the squared error (``"mse"``) or of the
    smoothed absolute error (``"mae"``)."""
    target = torch.where(curves.mask, curves.release.to(pred.dtype), pred.detach())
    diff = torch.where(curves.mask, pred - target, torch.zeros_like(pred))
    if loss == "mse":
        err = diff**2
    elif loss == "mae":
        err = torch.sqrt(diff**2 + _MAE_EPS**2) - _MAE_EPS
    else:
        raise ValueError(f"loss={loss!r} is not one of 'mse', 'mae'")
    return (weights * err).sum() / weights.sum().clamp(min=1e-12)


def data_loss(
    curve_sets: Sequence[CurveSet],
    constants: SimulatorConstants,
    corrections: Mapping[str, Sequence[MechanismCorrection]] | None = None,
    weighting: Weighting = "points",
    loss: Loss = "mse",
) -> torch.Tensor:
    """Mean over the data sets of each set's weighted masked loss (every set weighs the
    same): MSE in fraction², or smoothed MAE in fraction (``loss``)."""
    total = torch.zeros((), dtype=torch.float64)
    for cs in curve_sets:
        members = () if corrections is None else tuple(corrections.get(cs.name, ()))
        pred = CalibratedModel(constants, members).predict(cs)
        total = total + _masked_mse(pred, cs, point_weights(cs, weighting), loss)
    return total / len(curve_sets)


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Fixed torch seed and one intra-op thread for the duration (restored afterwards).

    The fits are thousands of steps on tensors of a few thousand elements, where
    thread start-up and contention with other processes dominate: one thread is 5-10×
    faster on a busy 2-core machine, and keeps the results bit-for-bit reproducible.
    """
    threads = torch.get_num_threads()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        torch.set_num_threads(1)
        try:
            yield
        finally:
            torch.set_num_threads(threads)


def _progress(steps: int, progress: bool, desc: str):
    from tqdm.auto import tqdm

    return tqdm(range(steps), desc=desc, disable=not progress, leave=False, dynamic_ncols=True)


def calibrate_constants(
    curves: CurveSet | Sequence[CurveSet],
    names: Sequence[str] | None = None,
    steps: int = 400,
    lr: float = 0.05,
    progress: bool = True,
    init: SimulatorConstants | None = None,
    *,
    seed: int = 0,
    prior_weight: float = 1e-4,
    weighting: Weighting = "points",
    bounded: bool = True,
) -> CalibrationResult:
    """Fit simulator constants to measured release curves by Adam through the simulator.

    :param curves: one curve set or several (each set's masked MSE weighs the same).
    :param names: constants to fit (default: :data:`DEFAULT_FIT_NAMES` of the sets'
        names, united); every other constant stays at ``init``.
    :param steps: Adam steps (full batch).
    :param lr: initial learning rate, in optimiser units (log units for positive
        constants, decades for ``log10_diffusivity_ref``); cosine-decayed to 5 %.
    :param progress: show a tqdm progress bar.
    :param init: starting constants (default: the literature defaults, with the fitted
        constants of :data:`FIT_START` moved off their bound).
    :param seed: random seed (the fit itself is deterministic; the seed fixes any
        randomness of the torch state used).
    :param prior_weight: weight of the L2 pull toward the literature defaults
        (:data:`DEFAULT_CONSTANTS`), in optimiser units², added to the MSE.
    :param weighting: how measured points are weighted in the MSE (:func:`point_weights`).
    :param bounded: keep every fitted constant inside its :data:`CONSTANT_BOUNDS` range
        (scaled-sigmoid parameterisation; default). ``False`` is the older unbounded fit
        (:data:`CONSTANT_TRANSFORMS`), which can leave the physically plausible range.
    :returns: the fitted constants, the loss history and the initial/final masked MSE.
    :raises ValueError: for unknown or non-fittable names, or (bounded) a fitted
        constant of ``init`` outside its range.
    """
    start = time.perf_counter()
    curve_sets = as_curve_sets(curves)
    names = list(names) if names is not None else default_names(curve_sets)
    check_names(names)
    if init is None:
        off_bound = {n: v for n, v in FIT_START.items() if n in names}
        init = dataclasses.replace(DEFAULT_CONSTANTS, **off_bound)
    with seeded(seed):
        params = ConstantParameters(names, init, DEFAULT_CONSTANTS, bounded)

        def closure() -> tuple[torch.Tensor, torch.Tensor]:
            data = data_loss(curve_sets, params.constants(), None, weighting)
            return data + prior_weight * params.prior_penalty(), data

        with torch.no_grad():
            initial = float(data_loss(curve_sets, init, None, weighting))
        history = _optimise(
            [{"params": [params.free], "lr": lr, "weight_decay": 0.0}],
            closure,
            steps=steps,
            progress=progress,
            desc="calibrating constants",
            snapshot=lambda: params.free.detach().clone(),
            restore=lambda v: params.free.data.copy_(v),
        )
        fitted = params.frozen()
        with torch.no_grad():
            final = float(data_loss(curve_sets, fitted, None, weighting))
    return CalibrationResult(
        constants=fitted,
        names=names,
        loss_history=history,
        initial_loss=initial,
        final_loss=final,
        datasets=[cs.name for cs in curve_sets],
        seconds=time.perf_counter() - start,
        bounded=bounded,
    )


def fit_correction(
    curves: CurveSet,
    constants: SimulatorConstants = DEFAULT_CONSTANTS,
    *,
    members: int = 1,
    steps: int = 300,
    lr: float = 0.01,
    hidden: int = 8,
    weight_decay: float = 1.0,
    joint: bool = False,
    names: Sequence[str] | None = None,
    constants_lr: float = 0.01,
    prior_weight: float = 1e-4,
    seed: int = 0,
    progress: bool = True,
    weighting: Weighting = "groups",
    bounded: bool = True,
    scales: Sequence[float] | None = None,
    loss: Loss = "mse",
    subsample: float | None = None,
    validate_every: int = 10,
) -> CalibrationResult:
    """Train an ensemble of :class:`MechanismCorrection` on ``curves`` (weighted masked
    MSE, AdamW, full batch).

    Members differ only in their random initialisation (seeds ``seed, seed + 1, …``);
    averaging their curves reduces the variance that dominates the error on unseen
    drug–polymer groups (grouped CV on PLAI: MAE 0.21 for one member, 0.18 for five).

    :param curves: training curves (their ``features`` feed the MLP).
    :param constants: simulator constants (typically from :func:`calibrate_constants`).
    :param members: ensemble size.
    :param steps: optimiser steps per member.
    :param lr: learning rate of the MLP.
    :param hidden: width of the MLP's hidden layers (0: linear map).
    :param weight_decay: decoupled weight decay of the MLP (pulls it toward the
        identity correction).
    :param joint: also keep fitting the constants ``names`` (at ``constants_lr``);
        only with ``members=1``.
    :param names: constants fitted jointly (default as in :func:`calibrate_constants`).
    :param constants_lr: learning rate of the constants when ``joint``.
    :param prior_weight: L2 pull of the constants toward the literature defaults.
    :param seed: seed of the first member's initialisation.
    :param progress: show a tqdm progress bar.
    :param weighting: how measured points are weighted in the MSE (:func:`point_weights`;
        default ``"groups"``, so that no single heavily sampled group dominates).
    :param bounded: with ``joint``, keep the constants in :data:`CONSTANT_BOUNDS`.
    :param scales: bounds of the correction channels (default
        :attr:`MechanismCorrection.DEFAULT_SCALES`).
    :param loss: ``"mse"`` (squared error, default) or ``"mae"`` (absolute error,
        smoothed below 0.01; the metric the cross-validation reports).
    :param subsample: if given, each member trains on this share (0-1, exclusive) of
        the groups, drawn at random (a bagged ensemble), and keeps the iterate with the
        lowest point-weighted MAE on its held-out groups (checked every
        ``validate_every`` steps): early stopping by inner grouped validation.
    :param validate_every: steps between validations when ``subsample`` is given.
    """
    if members < 1:
        raise ValueError(f"members={members} must be at least 1")
    if subsample is not None and not 0.0 < subsample < 1.0:
        raise ValueError(f"subsample={subsample} must be in (0, 1) (share of the groups)")
    if validate_every < 1:
        raise ValueError(f"validate_every={validate_every} must be at least 1 (steps)")
    n_groups = len(set(curves.groups))
    if subsample is not None and n_groups < 2:
        raise ValueError(f"subsample needs at least 2 groups; the curves have {n_groups}")
    if joint and members > 1:
        raise ValueError("joint=True fits one set of constants per member; use members=1")
    start = time.perf_counter()
    names = list(names) if names is not None else default_names([curves])
    check_names(names)
    trained: list[MechanismCorrection] = []
    history: list[float] = []
    fitted = constants
    with torch.no_grad():
        initial = float(data_loss([curves], constants, None, weighting))
    for k in range(members):
        train, held_out = curves, None
        if subsample is not None:
            train, held_out = _group_split(curves, subsample, seed + k)
        with seeded(seed + k):
            correction = MechanismCorrection(
                curves.features.shape[-1],
                hidden=hidden,
                scales=MechanismCorrection.DEFAULT_SCALES if scales is None else scales,
                feature_names=curves.feature_names,
            )
            correction.fit_scaler(train.features)
            params = ConstantParameters(
                names if joint else [], constants, DEFAULT_CONSTANTS, bounded
            )
            current = {curves.name: [correction]}

            def closure(
                params: ConstantParameters = params,
                current: dict[str, list[MechanismCorrection]] = current,
                train: CurveSet = train,
            ) -> tuple[torch.Tensor, torch.Tensor]:
                data = data_loss([train], params.constants(), current, weighting, loss)
                return data + prior_weight * params.prior_penalty(), data

            validation = None
            if held_out is not None:

                def validation(
                    params: ConstantParameters = params,
                    current: dict[str, list[MechanismCorrection]] = current,
                    held_out: CurveSet = held_out,
                ) -> float:
                    with torch.no_grad():
                        c = params.constants()
                        return float(data_loss([held_out], c, current, "points", "mae"))

            groups: list[dict[str, Any]] = [
                {"params": list(correction.parameters()), "lr": lr, "weight_decay": weight_decay}
            ]
            if joint and names:
                groups.append({"params": [params.free], "lr": constants_lr, "weight_decay": 0.0})
            all_params = [p for g in groups for p in g["params"]]

            def snapshot(all_params: list[torch.Tensor] = all_params) -> Any:
                return [p.detach().clone() for p in all_params]

            def restore(values: Any, all_params: list[torch.Tensor] = all_params) -> None:
                with torch.no_grad():
                    for p, v in zip(all_params, values, strict=True):
                        p.copy_(v)

            history += _optimise(
                groups,
                closure,
                steps=steps,
                progress=progress,
                desc=f"fitting correction {k + 1}/{members}",
                snapshot=snapshot,
                restore=restore,
                validation=validation,
                validate_every=validate_every,
            )
            correction.eval()
            trained.append(correction)
            if joint:
                fitted = params.frozen()
    with torch.no_grad():
        final = float(data_loss([curves], fitted, {curves.name: trained}, weighting))
    return CalibrationResult(
        constants=fitted,
        names=names if joint else [],
        loss_history=history,
        initial_loss=initial,
        final_loss=final,
        corrections=trained,
        datasets=[curves.name],
        seconds=time.perf_counter() - start,
    )


def _optimise(
    groups: list[dict[str, Any]],
    closure: Callable[[], tuple[torch.Tensor, torch.Tensor]],
    *,
    steps: int,
    progress: bool,
    desc: str,
    snapshot: Callable[[], Any],
    restore: Callable[[Any], None],
    validation: Callable[[], float] | None = None,
    validate_every: int = 10,
) -> list[float]:
    """AdamW over parameter groups (each with its own ``lr`` and ``weight_decay``) with a
    cosine learning-rate decay to 5 %; keeps the best iterate by training objective, or,
    with ``validation`` (a held-out loss evaluated every ``validate_every`` steps and
    after the last), by that.

    ``closure`` returns ``(objective, data_loss)``. Stops early (restoring the best
    iterate) if the objective turns non-finite.
    """
    optimiser = torch.optim.AdamW(groups)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser,
        lambda s: 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(s / max(steps, 1), 1.0))),
    )
    parameters = [p for g in groups for p in g["params"]]
    history: list[float] = []
    best = (math.inf, snapshot())
    bar = _progress(steps, progress, desc)
    for step in bar:
        optimiser.zero_grad(set_to_none=True)
        objective, data = closure()
        value = float(objective.detach())
        if not math.isfinite(value):
            break
        history.append(value)
        if validation is None:
            if value < best[0]:
                best = (value, snapshot())
        elif step % validate_every == 0:
            score = validation()
            if score < best[0]:
                best = (score, snapshot())
        objective.backward()
        for p in parameters:
            if p.grad is not None:
                torch.nan_to_num_(p.grad, nan=0.0, posinf=0.0, neginf=0.0)
        torch.nn.utils.clip_grad_norm_(parameters, 10.0)
        optimiser.step()
        schedule.step()
        if progress and step % 10 == 0:
            bar.set_postfix(mse=f"{float(data):.4f}")
    if validation is not None and history:
        score = validation()  # the iterate after the last step
        if score < best[0]:
            best = (score, snapshot())
    restore(best[1])
    return history


def _group_split(curves: CurveSet, share: float, seed: int) -> tuple[CurveSet, CurveSet]:
    """Random split of ``curves`` by group: about ``share`` of the groups (at least one,
    and at least one left over) for training, the rest held out."""
    labels = sorted(set(curves.groups))
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(labels))
    n_train = min(max(round(share * len(labels)), 1), len(labels) - 1)
    chosen = {labels[i] for i in order[:n_train]}
    inside = np.array([g in chosen for g in curves.groups])
    return curves.subset(np.flatnonzero(inside)), curves.subset(np.flatnonzero(~inside))
