"""Reward models: score simulated release curves against targets.

A reward model is any callable with the signature of :class:`RewardModel`:
batched torch in, per-design score (higher is better) and an optional
constraint cost out. The environment uses score differences as its shaped
reward, so a score only needs to be a potential: bounded above, larger when
closer to the goal.

Pass a registered name or your own object:

>>> import gymnasium as gym, nanoenv
>>> env = gym.make("nanoenv/FormulationDesign-v0", reward_model="rmse")
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch

from nanoenv.kinetics import PARAMETER_INDEX, Drug, Formulation, ReleaseConditions
from nanoenv.kinetics.pk import concentration_from_release, smooth_therapeutic_window_time
from nanoenv.metrics import f2_similarity, rmse

__all__ = [
    "REWARD_MODELS",
    "F2Reward",
    "FeasibleF2Reward",
    "RMSEReward",
    "RewardModel",
    "RewardOutput",
    "TargetBatch",
    "TherapeuticWindowReward",
    "make_reward_model",
    "stability_cost",
]


@dataclass(frozen=True)
class TargetBatch:
    """The targets of ``B`` environments as tensors on the simulator's device.

    :param times_h: ``(B, T)`` time grids, hours.
    :param release: ``(B, T)`` target cumulative fractions.
    :param patient: ``(B, 5)`` dose (mg), clearance (L/h), volume (L), MEC and
        MTC (mg/L) for PK targets, else ``None``.
    :param conditions: the ``B`` release-medium schedules (reward models that simulate,
        e.g. ``robust_f2``), or ``None``.
    :param drug: the ``B`` drugs (batched :class:`~nanoenv.kinetics.Drug`), or ``None``.
    """

    times_h: torch.Tensor
    release: torch.Tensor
    patient: torch.Tensor | None = None
    conditions: ReleaseConditions | None = None
    drug: Drug | None = None


@dataclass(frozen=True)
class RewardOutput:
    """What a reward model returns.

    :param score: ``(B,)`` potential, higher is better.
    :param cost: ``(B,)`` non-negative constraint cost, or ``None``.
    """

    score: torch.Tensor
    cost: torch.Tensor | None = None


@runtime_checkable
class RewardModel(Protocol):
    """Protocol of reward models.

    :param release: ``(B, T)`` simulated cumulative fractions on the targets' grids.
    :param targets: the targets.
    :param formulation: the ``B`` designs that produced ``release`` (physical units).
    :returns: a :class:`RewardOutput`, or a ``(B,)`` score tensor.
    """

    def __call__(
        self, release: torch.Tensor, targets: TargetBatch, formulation: Formulation
    ) -> RewardOutput | torch.Tensor: ...


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
        return RewardOutput(
            f2_similarity(release, targets.release, validate=False) / 100.0,
            stability_cost(formulation),
        )


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
        if not (isinstance(cost_scale, int | float) and math.isfinite(cost_scale)
                and cost_scale > 0):  # fmt: skip
            raise ValueError(
                f"cost_scale={cost_scale!r} must be a positive finite number (dimensionless "
                "stability cost)"
            )
        self.cost_scale = float(cost_scale)

    def __call__(
        self, release: torch.Tensor, targets: TargetBatch, formulation: Formulation
    ) -> RewardOutput:
        cost = stability_cost(formulation)
        f2 = f2_similarity(release, targets.release, validate=False) / 100.0
        return RewardOutput(f2 * torch.exp(-cost / self.cost_scale), cost)


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
        dose, clearance, volume, mec, mtc = targets.patient.unbind(1)
        conc = concentration_from_release(
            targets.times_h, release, dose, clearance, volume, validate=False
        )
        window = smooth_therapeutic_window_time(
            targets.times_h, conc, mec, mtc, mec * self.sharpness_fraction,
            validate=False,
        )  # fmt: skip
        horizon = targets.times_h[:, -1] - targets.times_h[:, 0]
        return RewardOutput(window / horizon, stability_cost(formulation))


def _surrogate_reward() -> RewardModel:
    """:class:`nanoenv.surrogate.SurrogateReward`, imported on demand (trains on first call)."""
    from nanoenv.surrogate import SurrogateReward

    return SurrogateReward()


def _delivery(name: str) -> Callable[[], RewardModel]:
    """A reward model of :mod:`nanoenv.delivery_rewards`, imported on demand (it imports
    this module)."""

    def make() -> RewardModel:
        from nanoenv.delivery_rewards import DELIVERY_REWARDS

        return DELIVERY_REWARDS[name]()

    return make


#: Built-in reward models by name.
REWARD_MODELS: dict[str, Callable[[], RewardModel]] = {
    "f2": F2Reward,
    "f2_feasible": FeasibleF2Reward,
    "rmse": RMSEReward,
    "therapeutic_window": TherapeuticWindowReward,
    "surrogate": _surrogate_reward,
    "targeted": _delivery("targeted"),
    "theranostic": _delivery("theranostic"),
    "robust_f2": _delivery("robust_f2"),
    "population_window": _delivery("population_window"),
}


def make_reward_model(spec: str | RewardModel | None) -> RewardModel:
    """A reward model from a registered name, or ``spec`` itself if it is callable."""
    if spec is None:
        return F2Reward()
    if isinstance(spec, str):
        if spec not in REWARD_MODELS:
            raise ValueError(f"unknown reward model {spec!r}; allowed: {sorted(REWARD_MODELS)}")
        return REWARD_MODELS[spec]()
    if not callable(spec):
        raise ValueError(
            f"reward_model must be a name in {sorted(REWARD_MODELS)} or a callable "
            f"(release, targets, formulation) -> RewardOutput; got {type(spec).__name__}"
        )
    return spec


def evaluate_reward(
    model: RewardModel, release: torch.Tensor, targets: TargetBatch, formulation: Formulation
) -> RewardOutput:
    """Call ``model`` and check what it returned: shape ``(B,)``, finite, cost ≥ 0."""
    out = model(release, targets, formulation)
    if isinstance(out, torch.Tensor):
        out = RewardOutput(out)
    if not isinstance(out, RewardOutput):
        raise ValueError(
            f"reward model {type(model).__name__} returned {type(out).__name__}; expected a "
            "RewardOutput or a (B,) tensor of scores"
        )
    batch = release.shape[0]
    for name, value in (("score", out.score), ("cost", out.cost)):
        if value is None:
            continue
        if not isinstance(value, torch.Tensor) or value.shape != (batch,):
            shape = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
            raise ValueError(
                f"reward model {type(model).__name__} returned {name} of shape {shape}; "
                f"expected ({batch},), one value per environment"
            )
        if not bool(torch.isfinite(value).all()):
            raise ValueError(
                f"reward model {type(model).__name__} returned a non-finite {name} "
                f"({value.tolist()[:4]}…); scores and costs must be finite"
            )
    if out.cost is not None and bool((out.cost < 0).any()):
        raise ValueError(
            f"reward model {type(model).__name__} returned a negative cost "
            f"(min {float(out.cost.min()):g}); costs must be >= 0 (0: no constraint violated)"
        )
    return out
