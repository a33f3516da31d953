"""Reward models: score simulated release curves against targets.

A reward model is any callable with the signature of :class:`RewardModel`:
batched torch in (the simulated curves, a :class:`~nanoenv.targets.TargetBatch`, the
designs), per-design score (higher is better) and an optional constraint cost out. The
environment uses score differences as its shaped reward, so a score only needs to be a
potential: bounded above, larger when closer to the goal.

* :mod:`nanoenv.rewards.base`: the protocol, :class:`RewardOutput`, the registry;
* :mod:`nanoenv.rewards.builtin`: ``f2``, ``f2_feasible``, ``rmse``,
  ``therapeutic_window`` and :func:`stability_cost`;
* :mod:`nanoenv.rewards.delivery`: ``targeted``, ``theranostic``, ``robust_f2``,
  ``population_window`` (the delivery task families; each also returns an objective
  vector for multi-objective agents);
* :mod:`nanoenv.rewards.surrogate`: ``surrogate``, a reward from a release model trained
  on measured curves (imported when first used).

Pass a registered name or your own object:

>>> import gymnasium as gym, nanoenv
>>> env = gym.make("nanoenv/FormulationDesign-v0", reward_model="rmse")
"""

from __future__ import annotations

from nanoenv.rewards.base import (
    REWARD_MODELS,
    RewardModel,
    RewardOutput,
    evaluate_reward,
    make_reward_model,
    register_reward_model,
)
from nanoenv.rewards.builtin import (
    F2Reward,
    FeasibleF2Reward,
    RMSEReward,
    TherapeuticWindowReward,
    stability_cost,
)
from nanoenv.rewards.delivery import (
    DELIVERY_REWARDS,
    PopulationWindowReward,
    RobustF2Reward,
    TargetedDeliveryReward,
    TheranosticReward,
    VirtualPopulation,
    manufacturability_cost,
)
from nanoenv.targets import TargetBatch

__all__ = [
    "DELIVERY_REWARDS",
    "REWARD_MODELS",
    "F2Reward",
    "FeasibleF2Reward",
    "PopulationWindowReward",
    "RMSEReward",
    "RewardModel",
    "RewardOutput",
    "RobustF2Reward",
    "TargetBatch",
    "TargetedDeliveryReward",
    "TheranosticReward",
    "TherapeuticWindowReward",
    "VirtualPopulation",
    "evaluate_reward",
    "make_reward_model",
    "manufacturability_cost",
    "register_reward_model",
    "stability_cost",
]


def _surrogate_reward() -> RewardModel:
    """:class:`nanoenv.rewards.surrogate.SurrogateReward`, imported on demand (its model
    trains on first use)."""
    from nanoenv.rewards.surrogate import SurrogateReward  # on demand: keeps `import nanoenv` light

    return SurrogateReward()


register_reward_model("surrogate", _surrogate_reward)
