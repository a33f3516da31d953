"""Calibration of the release simulator against measured release curves.

Three layers, each usable on its own:

1. :func:`calibrate_constants` fits a chosen subset of :class:`SimulatorConstants`
   (diffusivity law, hydrolysis rates, erosion onset, burst law, liposome permeability
   law) by Adam through the differentiable simulator. Every fittable constant has a
   documented plausible range (:data:`CONSTANT_BOUNDS`, with its source or physical
   argument) and is fitted through a scaled sigmoid between its bounds (in log space for
   positive quantities spanning decades), so no fit can leave the range; the older
   unbounded parameterisation (log / logit / linear, :data:`CONSTANT_TRANSFORMS`) is
   kept behind ``bounded=False``. The loss is the masked mean squared error of the
   cumulative fraction released plus a tiny L2 pull toward the literature defaults (so
   that constants the data cannot see stay where the literature put them).
2. :class:`MechanismCorrection` is a small MLP from a curve's formulation features
   (standardised) to bounded additive corrections of the mechanism parameters
   (log transport rate, log hydrolysis rate, burst logit, log critical erosion
   molecular weight, log burst time, log erosion width). The correction only moves the
   *parameters* of the physics, so every corrected curve is still a physical release
   curve (monotone, in ``[0, 1]``, burst + diffusion + erosion or membrane leakage).
   :func:`fit_correction` trains an ensemble of them (the prediction is the mean of the
   members' curves); :func:`fit_calibration` runs constants then corrections.
3. :func:`cross_validate` scores a method by grouped K-fold cross-validation (folds by
   drug–polymer group or by drug, never by row; ``by="drug", n_splits=None`` is
   leave-one-drug-out): the uncalibrated simulator, the calibrated constants, calibrated
   constants + correction, and a gradient-boosted tree baseline that sees the same
   features plus time. ``given_until_h`` scores few-shot prediction instead
   (:mod:`nanoenv.few_shot`: each held-out curve conditioned on its first points, the
   later points scored).

The polyester hydrolysis rates are parameterised so that their order holds for any
fitted values: ``hydrolysis_pla_per_day`` plus the non-negative
``hydrolysis_glycolide_gain`` = ln(k_50:50/k_PLA), so k_PLA ≤ k_75:25 ≤ k_50:50 (Makadia &
Siegel, Polymers 3 (2011) 1377); PCL, PVL and PEA have their own rates and diffusivity
offsets (``Formulation.polymer_family``).

:func:`predict_curves` is the zero-shot predictor: a curve from the formulation
features alone (no measured point of the curve is used). The fitted constants (and the
per-dataset corrections) ship with the package as
``nanoenv/kinetics/calibrated_constants.json``, read by :func:`load_calibrated_constants`
and :func:`load_calibrated_model`.

Reference points: for the PLAI data, Bannigan et al. report a light gradient boosting
model with MAE 0.114 on held-out data (Nat. Commun. 14, 35 (2023), Table 1; see
:data:`PUBLISHED_PLAI_MAE`). That model also saw the measured release at 0.25, 0.5 and
1 day as inputs (few-shot); the zero-shot models here do not. Their zero-shot models
(formulation only) reach MAE 0.172 (random forest) and 0.173 (light gradient boosting),
the means of the out-of-fold errors in ``zero_shot_models/Figure_1_dataset_zero_shot.xlsx``
of their repository (:data:`PUBLISHED_PLAI_ZERO_SHOT_MAE`).

Modules: :mod:`~nanoenv.calibration.bounds` (plausible ranges),
:mod:`~nanoenv.calibration.parameters` (constants as optimiser variables),
:mod:`~nanoenv.calibration.correction` (the learned correction),
:mod:`~nanoenv.calibration.predict` (models and zero-shot prediction),
:mod:`~nanoenv.calibration.fit` (fitting), :mod:`~nanoenv.calibration.tree` (the tree
baseline), :mod:`~nanoenv.calibration.cross_validation` (full calibration and
cross-validation), :mod:`~nanoenv.calibration.io` (saving and loading). Everything public
is re-exported here.
"""

from __future__ import annotations

from nanoenv.calibration.bounds import (
    CONSTANT_BOUNDS,
    CONSTANT_TRANSFORMS,
    ConstantBound,
    check_in_bounds,
    constants_outside_bounds,
)
from nanoenv.calibration.correction import (
    DEFAULT_CORRECTION_OPTIONS,
    DEFAULT_MEMBERS,
    PREVIOUS_CORRECTION_OPTIONS,
    MechanismCorrection,
)
from nanoenv.calibration.cross_validation import (
    METHODS,
    PUBLISHED_PLAI_MAE,
    PUBLISHED_PLAI_ZERO_SHOT_MAE,
    Calibration,
    CrossValidationResult,
    Method,
    cross_validate,
    curve_metrics,
    fit_calibration,
    fit_model,
)
from nanoenv.calibration.fit import (
    CalibrationResult,
    Loss,
    Weighting,
    calibrate_constants,
    fit_correction,
    point_weights,
)
from nanoenv.calibration.io import (
    calibrated_constants_path,
    load_calibrated_constants,
    load_calibrated_model,
    save_calibration,
    save_constants,
)
from nanoenv.calibration.parameters import (
    DEFAULT_FIT_NAMES,
    FIT_START,
    ConstantParameters,
    from_bounded_free,
    to_bounded_free,
)
from nanoenv.calibration.predict import (
    CalibratedModel,
    predict_curves,
)
from nanoenv.calibration.tree import (
    TreeBaseline,
)

__all__ = [
    "CONSTANT_BOUNDS",
    "CONSTANT_TRANSFORMS",
    "DEFAULT_CORRECTION_OPTIONS",
    "DEFAULT_FIT_NAMES",
    "DEFAULT_MEMBERS",
    "FIT_START",
    "METHODS",
    "PREVIOUS_CORRECTION_OPTIONS",
    "PUBLISHED_PLAI_MAE",
    "PUBLISHED_PLAI_ZERO_SHOT_MAE",
    "CalibratedModel",
    "Calibration",
    "CalibrationResult",
    "ConstantBound",
    "ConstantParameters",
    "CrossValidationResult",
    "Loss",
    "MechanismCorrection",
    "Method",
    "TreeBaseline",
    "Weighting",
    "calibrate_constants",
    "calibrated_constants_path",
    "check_in_bounds",
    "constants_outside_bounds",
    "cross_validate",
    "curve_metrics",
    "fit_calibration",
    "fit_correction",
    "fit_model",
    "from_bounded_free",
    "load_calibrated_constants",
    "load_calibrated_model",
    "point_weights",
    "predict_curves",
    "save_calibration",
    "save_constants",
    "to_bounded_free",
]
