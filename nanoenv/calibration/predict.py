"""Calibrated models and zero-shot prediction: :class:`CalibratedModel` (constants plus
an optional correction ensemble) and :func:`predict_curves`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

import torch

from nanoenv.calibration.correction import MechanismCorrection
from nanoenv.data.curve_set import padded_times
from nanoenv.kinetics.constants import (
    DEFAULT_CONSTANTS,
    SimulatorConstants,
)
from nanoenv.kinetics.simulate import MechanismParameters, mechanism_parameters, release_curve

if TYPE_CHECKING:  # pragma: no cover
    from nanoenv.calibration.tree import TreeBaseline
    from nanoenv.data import CurveSet


@dataclass
class CalibratedModel:
    """Simulator constants plus an optional ensemble of :class:`MechanismCorrection`.

    With corrections, the prediction is the mean of the members' curves; every member's
    curve is a physical release curve (monotone, in ``[0, 1]``), and so is their mean.

    :param constants: simulator constants (literature or fitted).
    :param corrections: learned corrections from formulation features (ensemble
        members; a single correction is accepted too), or empty.
    """

    constants: SimulatorConstants = DEFAULT_CONSTANTS
    corrections: tuple[MechanismCorrection, ...] | MechanismCorrection = ()

    def __post_init__(self) -> None:
        if isinstance(self.corrections, MechanismCorrection):
            self.corrections = (self.corrections,)
        else:
            self.corrections = tuple(self.corrections or ())

    def mechanism(
        self, curves: CurveSet, correction: MechanismCorrection | None = None
    ) -> MechanismParameters:
        """Mechanism parameters of every curve's formulation, corrected by ``correction``
        (one ensemble member) if given."""
        m = mechanism_parameters(curves.formulation, curves.conditions, curves.drug, self.constants)
        if correction is not None:
            check_features(correction, curves)
            m = MechanismCorrection.apply(m, correction(curves.features))
        return finite_gradients(m)

    def predict(self, curves: CurveSet) -> torch.Tensor:
        """``(B, T)`` predicted cumulative fraction released at ``curves.times_h``."""
        times = padded_times(curves)
        if not self.corrections:
            return release_curve(self.mechanism(curves), times)
        base = mechanism_parameters(
            curves.formulation, curves.conditions, curves.drug, self.constants
        )
        curves_k = []
        for correction in self.corrections:
            check_features(correction, curves)
            m = MechanismCorrection.apply(base, correction(curves.features))
            curves_k.append(release_curve(finite_gradients(m), times))
        return torch.stack(curves_k).mean(0)


def _sanitise(grad: torch.Tensor) -> torch.Tensor:
    return torch.nan_to_num(grad, nan=0.0, posinf=0.0, neginf=0.0)


def finite_gradients(m: MechanismParameters) -> MechanismParameters:
    """Zero non-finite gradient *elements* flowing back into the mechanism parameters.

    Some closed forms have infinite derivatives at extreme arguments that float64
    reaches on real data (e.g. ``arccos(4x − 1)`` of Baker–Lonsdale when ``x`` is so
    small that ``4x − 1`` rounds to −1: centimetre implants at early times). Without
    this guard one such point turns the gradient of every constant into NaN; with it,
    only that curve's element stops contributing.
    """
    for f in fields(m):
        value = getattr(m, f.name)
        if isinstance(value, torch.Tensor) and value.requires_grad:
            value.register_hook(_sanitise)
    return m


def check_features(correction: MechanismCorrection, curves: CurveSet) -> None:
    """``ValueError`` when ``curves`` do not have the feature columns ``correction`` was
    trained on (names, when recorded, and count)."""
    names = correction.feature_names
    if names is not None and list(curves.feature_names) != names:
        raise ValueError(
            f"the correction was trained on features {names} but the curves have "
            f"{list(curves.feature_names)}"
        )
    if curves.features.shape[-1] != correction.n_features:
        raise ValueError(
            f"the correction expects {correction.n_features} features; the curves have "
            f"{curves.features.shape[-1]}"
        )


def predict_curves(
    model: CalibratedModel | SimulatorConstants | TreeBaseline, curves: CurveSet
) -> torch.Tensor:
    """Zero-shot prediction: ``(B, T)`` cumulative fraction released at every time of
    ``curves.times_h``, from the formulation (and its features) alone.

    No measured point of a curve is used. Padded positions (``~curves.mask``) hold the
    prediction at the curve's last time and should be ignored.

    :param model: a :class:`CalibratedModel`, bare constants, or a fitted
        :class:`TreeBaseline`.
    :param curves: the curves' formulations, drugs, media, times and features.
    """
    if isinstance(model, SimulatorConstants):
        model = CalibratedModel(model)
    with torch.no_grad():
        return model.predict(curves).detach()
