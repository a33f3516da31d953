"""The reward-model interface: :class:`RewardModel`, :class:`RewardOutput`, the registry
:data:`REWARD_MODELS` and :func:`make_reward_model` / :func:`evaluate_reward`.

A reward model is any callable with the signature of :class:`RewardModel`:
batched torch in, per-design score (higher is better) and an optional
constraint cost out. The environment uses score differences as its shaped
reward, so a score only needs to be a potential: bounded above, larger when
closer to the goal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch

from nanoenv.kinetics import Formulation
from nanoenv.targets import TargetBatch

__all__ = [
    "REWARD_MODELS",
    "RewardModel",
    "RewardOutput",
    "evaluate_reward",
    "make_reward_model",
    "register_reward_model",
]


@dataclass(frozen=True)
class RewardOutput:
    """What a reward model returns.

    :param score: ``(B,)`` potential, higher is better.
    :param cost: ``(B,)`` non-negative constraint cost, or ``None``.
    :param f2: ``(B,)`` f2 similarity of ``release`` to the target when the model computed
        it (the environments then report it instead of computing it again), or ``None``.
    """

    score: torch.Tensor
    cost: torch.Tensor | None = None
    f2: torch.Tensor | None = None


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


#: Reward models by name: a factory returning a new model (:func:`register_reward_model`).
REWARD_MODELS: dict[str, Callable[[], RewardModel]] = {}


def register_reward_model(name: str, factory: Callable[[], RewardModel]) -> None:
    """Make ``reward_model=name`` build ``factory()`` (environments, baselines, families)."""
    if not name or not isinstance(name, str):
        raise ValueError(f"reward model name must be a non-empty string; got {name!r}")
    if not callable(factory):
        raise ValueError(f"factory for reward model {name!r} must be callable; got {factory!r}")
    REWARD_MODELS[name] = factory


def make_reward_model(spec: str | RewardModel | None) -> RewardModel:
    """A reward model from a registered name, or ``spec`` itself if it is callable
    (``None``: ``"f2"``; environments use their task family's default instead)."""
    if spec is None:
        return REWARD_MODELS["f2"]()
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
    for name, value in (("score", out.score), ("cost", out.cost), ("f2", out.f2)):
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
