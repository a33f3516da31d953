"""The built-in reward models: ``f2``, ``f2_feasible``, ``rmse``, ``therapeutic_window``,
and the colloidal-stability / manufacturability cost they report."""

from __future__ import annotations

import math

import torch

from nanoenv.kinetics import PARAMETER_INDEX, Formulation
from nanoenv.kinetics.pk import concentration_from_release, smooth_therapeutic_window_time
from nanoenv.metrics import f2_similarity, rmse
from nanoenv.rewards.base import RewardOutput, register_reward_model
from nanoenv.targets import TargetBatch

__all__ = [
    "F2Reward",
    "FeasibleF2Reward",
    "RMSEReward",
    "TherapeuticWindowReward",
    "stability_cost",
]


def stability_cost(formulation: Formulation) -> torch.Tensor:
    """Manufacturability / colloidal-stability cost, 0 when the design is unproblematic.

    * ``|ζ|`` below 25 mV: colloidally unstable without steric help (Honary & Zahir 2013);
      cost ``(25 − |ζ|)/25`` scaled down by a PEG shell.
    * drug loading above ~30 % w/w, more than PLGA particles hold without
      crystallising at the surface; or drug:lipid above 0.5 in liposomes.
    """
    v = formulation.values
    zeta = v[:, PARAMETER_INDEX["zeta_mv"]].abs()
    peg = v[:, PARAMETER_INDEX["peg_fraction"]]
    colloid = torch.relu(25.0 - zeta) / 25.0 * (1.0 - peg / (peg + 0.05))
    loading = torch.where(
        formulation.is_liposome(),
        torch.relu(v[:, PARAMETER_INDEX["drug_lipid_ratio"]] - 0.5) / 0.5,
        torch.relu(v[:, PARAMETER_INDEX["drug_loading"]] - 0.3) / 0.3,
    )
    return colloid + loading


class F2Reward:
    """Score ``f2/100`` (f2 similarity factor; f2 ≥ 50 means similar, FDA 1997) with the
    stability cost."""

    name = "f2"

    def __call__(
        self, release: torch.Tensor, targets: TargetBatch, formulation: Formulation
    ) -> RewardOutput:
        f2 = f2_similarity(release, targets.release, validate=False)
        return RewardOutput(f2 / 100.0, stability_cost(formulation), f2=f2)


class FeasibleF2Reward:
    """Score ``f2/100 · exp(−cost/cost_scale)``: f2 similarity (FDA 1997) of a design that
    must also be stable and manufacturable (:func:`stability_cost` = 0).

    The penalty is smooth, so gradients still lead out of the infeasible region, but heavy:
    with the default ``cost_scale = 0.01`` a design with cost 0.01 (``|ζ| = 24.75 mV``
    without PEG, or 30.3 % drug loading) keeps 37 % of its score, one with cost ≥ 0.05
    (``|ζ| ≤ 23.75 mV`` without PEG) less than 1 %. The score is in ``[0, 1]`` and equals
    ``f2/100`` exactly when the cost is 0. The hard-tier task families use it.

    :param cost_scale: cost at which the score falls to ``1/e`` of ``f2/100``,
        dimensionless, > 0.
    """

    name = "f2_feasible"

    def __init__(self, cost_scale: float = 0.01) -> None:
        if not (
            isinstance(cost_scale, int | float) and math.isfinite(cost_scale) and cost_scale > 0
        ):
            raise ValueError(
                f"cost_scale={cost_scale!r} must be a positive finite number (dimensionless "
                "stability cost)"
            )
        self.cost_scale = float(cost_scale)

    def __call__(
        self, release: torch.Tensor, targets: TargetBatch, formulation: Formulation
    ) -> RewardOutput:
        cost = stability_cost(formulation)
        f2 = f2_similarity(release, targets.release, validate=False)
        return RewardOutput(f2 / 100.0 * torch.exp(-cost / self.cost_scale), cost, f2=f2)


class RMSEReward:
    """Score ``−RMSE`` of the released fraction, with the stability cost."""

    name = "rmse"

    def __call__(
        self, release: torch.Tensor, targets: TargetBatch, formulation: Formulation
    ) -> RewardOutput:
        return RewardOutput(
            -rmse(release, targets.release, validate=False), stability_cost(formulation)
        )


class TherapeuticWindowReward:
    """Score: share of the horizon that plasma concentration spends between MEC and MTC
    (smooth, differentiable version; one-compartment PK with the exact exponential step).

    Needs targets with a patient (the ``therapeutic_window`` family).

    :param sharpness_fraction: smoothing width as a fraction of MEC.
    """

    name = "therapeutic_window"

    def __init__(self, sharpness_fraction: float = 0.05) -> None:
        self.sharpness_fraction = sharpness_fraction

    def __call__(
        self, release: torch.Tensor, targets: TargetBatch, formulation: Formulation
    ) -> RewardOutput:
        if targets.patient is None:
            raise ValueError(
                "the therapeutic_window reward needs targets with a patient; use the "
                "'therapeutic_window' task family"
            )
        p = targets.patient
        dose, clearance, volume, mec, mtc = (
            p.dose_mg,
            p.clearance_l_h,
            p.volume_l,
            p.mec_mg_l,
            p.mtc_mg_l,
        )
        conc = concentration_from_release(
            targets.times_h, release, dose, clearance, volume, validate=False
        )
        window = smooth_therapeutic_window_time(
            targets.times_h,
            conc,
            mec,
            mtc,
            mec * self.sharpness_fraction,
            validate=False,
        )
        horizon = targets.times_h[:, -1] - targets.times_h[:, 0]
        return RewardOutput(window / horizon, stability_cost(formulation))


for _model in (F2Reward, FeasibleF2Reward, RMSEReward, TherapeuticWindowReward):
    register_reward_model(_model.name, _model)
