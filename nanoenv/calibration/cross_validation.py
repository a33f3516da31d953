"""The full calibration (:func:`fit_calibration`), one fitted predictor per method
(:func:`fit_model`) and grouped cross-validation (:func:`cross_validate`), with the
published reference errors it is compared against.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch

from nanoenv.calibration.correction import (
    DEFAULT_CORRECTION_OPTIONS,
    DEFAULT_MEMBERS,
    MechanismCorrection,
)
from nanoenv.calibration.fit import (
    CalibrationResult,
    as_curve_sets,
    calibrate_constants,
    fit_correction,
)
from nanoenv.calibration.predict import CalibratedModel, predict_curves
from nanoenv.calibration.tree import TreeBaseline
from nanoenv.kinetics.constants import (
    DEFAULT_CONSTANTS,
    SimulatorConstants,
)
from nanoenv.metrics import f2_similarity

if TYPE_CHECKING:  # pragma: no cover
    from nanoenv.data import CurveSet

#: Held-out MAE (cumulative fraction released) of the light gradient boosting model of
#: Bannigan et al., Nat. Commun. 14, 35 (2023), Table 1, on the PLAI data set.
PUBLISHED_PLAI_MAE = 0.114

#: Held-out MAE of the published *zero-shot* models (formulation only) on the PLAI data:
#: the means of the 8,012 out-of-fold absolute errors per model in
#: ``zero_shot_models/Figure_1_dataset_zero_shot.xlsx`` of github.com/aspuru-guzik-group/
#: long-acting-injectables (commit 0df9c4a; nested CV holding out drug–polymer groups).
PUBLISHED_PLAI_ZERO_SHOT_MAE: dict[str, float] = {
    "random forest": 0.172,
    "light gradient boosting": 0.173,
}

#: Cross-validated methods, in the order tables list them.
METHODS: tuple[str, ...] = ("uncalibrated", "calibrated", "calibrated+correction", "tree")

Method = Literal["uncalibrated", "calibrated", "calibrated+correction", "tree"]


@dataclass
class Calibration:
    """Constants fitted on one or more curve sets plus a correction ensemble per set.

    :param constants_fit: the constants fit (:func:`calibrate_constants`).
    :param corrections: correction members per curve-set name (empty lists when the
        correction was skipped).
    :param correction_losses: final training MSE of each set's corrected model
        (group-weighted), fraction².
    :param seconds: wall-clock time of the whole fit.
    :param correction_options: the :func:`fit_correction` settings used.
    """

    constants_fit: CalibrationResult
    corrections: dict[str, list[MechanismCorrection]]
    correction_losses: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    correction_options: dict[str, Any] = field(default_factory=dict)

    @property
    def constants(self) -> SimulatorConstants:
        """The fitted constants."""
        return self.constants_fit.constants

    def model(self, dataset: str | None = None) -> CalibratedModel:
        """The calibrated model for curve set ``dataset`` (constants alone for ``None`` or
        a set without a correction)."""
        members = self.corrections.get(dataset, []) if dataset is not None else []
        return CalibratedModel(self.constants, tuple(members))


def fit_calibration(
    curves: CurveSet | Sequence[CurveSet],
    *,
    steps: int = 400,
    correction_steps: int = 300,
    members: int = DEFAULT_MEMBERS,
    seed: int = 0,
    progress: bool = True,
    names: Sequence[str] | None = None,
    bounded: bool = True,
    correction_options: Mapping[str, Any] | None = None,
) -> Calibration:
    """The full calibration: constants on all sets together, then a correction ensemble
    for each set with the constants frozen (what ``nanoenv calibrate`` runs and ships,
    and what :func:`cross_validate` scores as ``"calibrated+correction"``).

    :param curves: one curve set or several (the constants are shared by all).
    :param steps: Adam steps of the constants fit (:func:`calibrate_constants`,
        point-weighted MSE).
    :param correction_steps: Adam steps per correction member (:func:`fit_correction`,
        group-weighted MSE); 0 skips the correction.
    :param members: correction ensemble size.
    :param seed: random seed.
    :param progress: show tqdm progress bars.
    :param names: constants to fit (default: :data:`DEFAULT_FIT_NAMES`).
    :param bounded: keep the constants inside :data:`CONSTANT_BOUNDS` (default).
    :param correction_options: keyword arguments of :func:`fit_correction` that
        override :data:`DEFAULT_CORRECTION_OPTIONS`, ``members`` and ``correction_steps``
        (e.g. ``{"hidden": 16}``, or :data:`PREVIOUS_CORRECTION_OPTIONS`).
    """
    start = time.perf_counter()
    curve_sets = as_curve_sets(curves)
    fit = calibrate_constants(
        curve_sets, names=names, steps=steps, progress=progress, seed=seed, bounded=bounded
    )
    corrections: dict[str, list[MechanismCorrection]] = {}
    losses: dict[str, float] = {}
    options: dict[str, Any] = {}
    if correction_steps > 0:
        for cs in curve_sets:
            options = {
                "members": members,
                "steps": correction_steps,
                "seed": seed,
                "progress": progress,
                **DEFAULT_CORRECTION_OPTIONS,
                **dict(correction_options or {}),
            }
            result = fit_correction(cs, fit.constants, **options)
            corrections[cs.name] = result.corrections
            losses[cs.name] = result.final_loss
    used = {k: v for k, v in options.items() if k != "progress"}
    return Calibration(fit, corrections, losses, time.perf_counter() - start, used)


def fit_model(
    curves: CurveSet,
    method: Method,
    *,
    steps: int = 400,
    correction_steps: int = 300,
    members: int = DEFAULT_MEMBERS,
    seed: int = 0,
    progress: bool = False,
    bounded: bool = True,
    correction_options: Mapping[str, Any] | None = None,
    names: Sequence[str] | None = None,
) -> CalibratedModel | TreeBaseline:
    """Fit one of :data:`METHODS` on ``curves`` and return the predictor.

    ``"uncalibrated"`` returns the literature constants; ``"calibrated"`` fits the
    constants (:func:`calibrate_constants`); ``"calibrated+correction"`` runs
    :func:`fit_calibration` (constants, then a correction ensemble of ``members``);
    ``"tree"`` fits a :class:`TreeBaseline`. ``bounded``, ``correction_options`` and
    ``names`` (the constants to fit; default :data:`DEFAULT_FIT_NAMES`) are passed to
    :func:`fit_calibration`.
    """
    if method == "uncalibrated":
        return CalibratedModel(DEFAULT_CONSTANTS)
    if method == "tree":
        return TreeBaseline(seed).fit(curves)
    if method == "calibrated":
        return calibrate_constants(
            curves, names=names, steps=steps, progress=progress, seed=seed, bounded=bounded
        ).model
    if method == "calibrated+correction":
        return fit_calibration(
            curves,
            steps=steps,
            correction_steps=correction_steps,
            members=members,
            seed=seed,
            progress=progress,
            bounded=bounded,
            correction_options=correction_options,
            names=names,
        ).model(curves.name)
    raise ValueError(f"unknown method {method!r}; allowed: {list(METHODS)}")


def curve_metrics(
    pred: torch.Tensor, release: torch.Tensor, mask: torch.Tensor
) -> dict[str, float]:
    """MAE and RMSE over the masked points and the share of curves with f2 ≥ 50.

    f2 (Moore & Flanner 1996) is computed on each curve's own measured points.

    :param pred: ``(B, T)`` predicted cumulative fraction released.
    :param release: ``(B, T)`` measured cumulative fraction released.
    :param mask: ``(B, T)`` which points are measured.
    :returns: ``mae``, ``rmse`` (fraction released), ``f2_share`` (0-1), ``n_curves``,
        ``n_points``.
    """
    pred = pred.to(torch.float64)
    y = torch.where(mask, release.to(torch.float64), pred)
    err = torch.where(mask, pred - y, torch.zeros_like(pred))
    n = int(mask.sum())
    keep = mask.any(-1)
    f2 = f2_similarity(pred[keep], y[keep], mask[keep].to(torch.float64), validate=False)
    return {
        "mae": float(err.abs().sum() / max(n, 1)),
        "rmse": math.sqrt(float((err**2).sum() / max(n, 1))),
        "f2_share": float((f2 >= 50.0).to(torch.float64).mean()) if len(f2) else math.nan,
        "n_curves": int(keep.sum()),
        "n_points": n,
    }


@dataclass
class CrossValidationResult:
    """Grouped cross-validation of one method on one curve set.

    :param dataset: curve set name.
    :param method: one of :data:`METHODS`.
    :param folds: per-fold metrics (:func:`curve_metrics` plus ``n_groups`` and
        ``fit_seconds``).
    :param overall: metrics pooled over every held-out curve.
    :param predictions: ``(B, T)`` out-of-fold predictions, aligned with the curve set.
    """

    dataset: str
    method: str
    folds: list[dict[str, float]]
    overall: dict[str, float]
    predictions: torch.Tensor

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable summary (without the predictions)."""
        return {
            "dataset": self.dataset,
            "method": self.method,
            "folds": self.folds,
            "overall": self.overall,
        }


def cross_validate(
    curves: CurveSet,
    method: Method,
    n_splits: int | None = 5,
    seed: int = 0,
    *,
    steps: int = 400,
    correction_steps: int = 300,
    members: int = DEFAULT_MEMBERS,
    progress: bool = False,
    bounded: bool = True,
    correction_options: Mapping[str, Any] | None = None,
    names: Sequence[str] | None = None,
    train_group_share: float = 1.0,
    by: Literal["group", "drug"] = "group",
    given_until_h: float | None = None,
    few_shot_options: Mapping[str, Any] | None = None,
    early_features: bool = False,
) -> CrossValidationResult:
    """Grouped K-fold cross-validation of ``method`` on ``curves``.

    Folds come from :func:`nanoenv.data.grouped_folds` on ``curves.groups`` (``by="group"``:
    a drug–polymer pair, or a drug for liposomes) or on ``curves.drugs`` (``by="drug"``:
    every curve of a drug, whatever its polymer, is held out together); a label is never
    in both the training and the test part. ``n_splits=None`` makes one fold per label
    (leave-one-group-out, or with ``by="drug"`` leave-one-drug-out). Each
    fold's model is fitted on the training curves only and predicts the test curves from
    their formulations alone. ``bounded``, ``correction_options`` and ``names`` are passed
    to :func:`fit_model`. ``train_group_share`` < 1 fits each fold's model on a seeded
    random share of its training groups (at least one), the test part unchanged: a
    learning curve in the number of groups seen.

    ``given_until_h`` switches to few-shot prediction: each held-out curve is conditioned
    on its own measured points up to that time (:func:`nanoenv.few_shot.predict_few_shot`,
    with the fold's model as the prior; ``few_shot_options`` are passed to it, plus
    ``learned_prior=True`` to learn the shifts' prior from the fold's training curves,
    :func:`nanoenv.few_shot.fit_shift_prior`) and the
    metrics cover the later points only (not available for ``"tree"``). With
    ``early_features`` the fold's correction also sees each curve's release over the given
    period as features (:func:`nanoenv.few_shot.with_early_release`).

    :returns: per-fold metrics and metrics pooled over all held-out curves: MAE and RMSE
        of the fraction released over the measured points, and the share of curves
        whose prediction has f2 ≥ 50 against the measurement.
    """
    from nanoenv.data import grouped_folds

    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; allowed: {list(METHODS)}")
    if not 0.0 < train_group_share <= 1.0:
        raise ValueError(
            f"train_group_share={train_group_share} must be in (0, 1] (share of the "
            "training groups each fold fits on)"
        )
    if given_until_h is not None and method == "tree":
        raise ValueError("given_until_h (few-shot) needs a simulator method, not 'tree'")
    if by not in ("group", "drug"):
        raise ValueError(f"by={by!r} is not one of 'group', 'drug'")
    if given_until_h is not None and early_features:
        from nanoenv.few_shot import with_early_release

        curves = with_early_release(curves, given_until_h)
    labels = curves.groups if by == "group" else curves.drugs
    if n_splits is None:
        n_splits = len(set(labels))
    rng = np.random.default_rng(seed)
    predictions = torch.zeros(curves.times_h.shape, dtype=torch.float64)
    covered = torch.zeros(len(curves.curve_ids), dtype=torch.bool)
    folds: list[dict[str, float]] = []
    splits = grouped_folds(labels, n_splits=n_splits, seed=seed)
    iterator = splits
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(splits, desc=f"{curves.name} {method}", leave=False)
    for train_idx, test_idx in iterator:
        if train_group_share < 1.0:
            groups = sorted({curves.groups[int(i)] for i in train_idx})
            n_keep = max(1, round(train_group_share * len(groups)))
            kept = set(rng.choice(len(groups), size=n_keep, replace=False).tolist())
            chosen = {g for k, g in enumerate(groups) if k in kept}
            train_idx = [i for i in train_idx if curves.groups[int(i)] in chosen]
        train = curves.subset(train_idx)
        test = curves.subset(test_idx)
        start = time.perf_counter()
        model = fit_model(
            train,
            method,
            steps=steps,
            correction_steps=correction_steps,
            members=members,
            seed=seed,
            bounded=bounded,
            correction_options=correction_options,
            names=names,
        )
        if given_until_h is None:
            pred = predict_curves(model, test)
            scored = test.mask
        else:
            from nanoenv.few_shot import fit_shift_prior, later_points, predict_few_shot

            assert isinstance(model, CalibratedModel)
            options = {"seed": seed, **dict(few_shot_options or {})}
            if options.pop("learned_prior", False):
                options["prior"] = fit_shift_prior(model, train)
            pred = predict_few_shot(model, test, given_until_h, **options)
            scored = later_points(test, given_until_h)
        seconds = time.perf_counter() - start
        index = torch.as_tensor(np.asarray(test_idx), dtype=torch.long)
        width = pred.shape[-1]  # subset() trims the padding to its longest curve
        predictions[index, :width] = pred
        predictions[index, width:] = pred[:, -1:]
        covered[index] = True
        metrics = curve_metrics(pred, test.release, scored)
        metrics["n_groups"] = len(set(test.groups))
        metrics["n_train_groups"] = len(set(train.groups))
        metrics["n_drugs"] = len(set(test.drugs))
        metrics["fit_seconds"] = seconds
        folds.append(metrics)
    keep = torch.nonzero(covered)[:, 0]
    scored_all = curves.mask
    if given_until_h is not None:
        from nanoenv.few_shot import later_points

        scored_all = later_points(curves, given_until_h)
    overall = curve_metrics(predictions[keep], curves.release[keep], scored_all[keep])
    overall["n_groups"] = len({curves.groups[int(i)] for i in keep})
    overall["n_drugs"] = len({curves.drugs[int(i)] for i in keep})
    overall["n_folds"] = len(folds)
    overall["fit_seconds"] = float(sum(f["fit_seconds"] for f in folds))
    return CrossValidationResult(curves.name, method, folds, overall, predictions)
