"""The types of the task layer: :class:`TaskFamily` (and :class:`Target`, :class:`Patient`
from :mod:`nanoenv.targets`),
the time grid and the shared random draws (drug, log-uniform)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from nanoenv.design_space import DesignSpace
from nanoenv.kinetics import (
    CONSTANTS_NAMES,
    Carrier,
    Drug,
    SimulatorConstants,
    resolve_constants,
)
from nanoenv.rewards import REWARD_MODELS, RewardModel, make_reward_model
from nanoenv.targets import Patient, Target

__all__ = [
    "DRUGS",
    "N_TIMES",
    "SUITE_STREAM",
    "TIERS",
    "Patient",
    "Target",
    "TaskFamily",
    "log_uniform",
    "one_at_a_time",
    "random_drug",
    "relabelled",
    "time_grid",
]

#: Benchmark tiers of task families (:attr:`TaskFamily.tier`).
TIERS = ("standard", "hard")

#: Spawn key that separates benchmark-suite streams from every other use of a seed.
SUITE_STREAM = 0x5E1EC7

#: Points on every target's time grid (observations have a fixed size).
N_TIMES = 24
#: Drug presets that generated targets draw from.
DRUGS = ("doxorubicin", "paclitaxel", "dexamethasone", "lidocaine", "5-fluorouracil", "ibuprofen")


def time_grid(horizon_h: float, n: int = N_TIMES) -> torch.Tensor:
    """``n`` times from 0 to ``horizon_h`` hours, denser early (``t ∝ s^1.5``), where
    release curves change fastest."""
    s = torch.linspace(0.0, 1.0, n, dtype=torch.float64)
    return horizon_h * s**1.5


@dataclass(frozen=True)
class TaskFamily:
    """A named distribution over targets.

    :param name: registry key.
    :param carrier: the carrier family its targets are designed for.
    :param sampler: ``(rng, design_space) -> Target``.
    :param description: one line for listings.
    :param space_factory: the family's default design space (default: the carrier's).
    :param batch_sampler: optional ``(rngs, design_space) -> targets`` that draws one
        target per generator in batched simulator calls; it must return what
        ``sampler`` returns for each generator.
    :param constants: the simulator constants its environments use unless told
        otherwise (:data:`~nanoenv.kinetics.CONSTANTS_NAMES`): ``"calibrated"`` where
        the calibration is validated on the family's design space (``dataset``),
        ``"literature"`` elsewhere (the module docstring gives the measurements).
    :param simulated: its targets are built from simulator curves of hidden designs
        (``realisable``, ``ph_triggered``, ``therapeutic_window``): ``sampler`` and
        ``batch_sampler`` take the environment's constants as a third argument, so that
        the hidden design keeps its score under other constants.
    :param reward: name of the family's default reward model in
        :data:`nanoenv.rewards.REWARD_MODELS`, used by the environments, the baselines and
        the benchmark when no reward model is given; its score (in ``[0, 1]``) is the
        family's benchmark metric.
    :param tier: ``"standard"`` (good methods approach the reference) or ``"hard"``
        (headroom left at small budgets); the module docstring says why for each family.
    :param version: bumped whenever the family's targets or default reward change.
    """

    name: str
    carrier: Carrier
    sampler: Callable[..., Target]
    description: str
    batch_sampler: Callable[..., list[Target]] | None = None
    space_factory: Callable[[], DesignSpace] | None = None
    constants: str = "literature"
    simulated: bool = False
    reward: str = "f2"
    tier: str = "standard"
    version: int = 0

    def __post_init__(self) -> None:
        if self.constants not in CONSTANTS_NAMES:
            raise ValueError(
                f"task family {self.name!r}: constants={self.constants!r}; allowed: "
                f"{list(CONSTANTS_NAMES)}"
            )
        if self.reward not in REWARD_MODELS:
            raise ValueError(
                f"task family {self.name!r}: reward={self.reward!r}; allowed: "
                f"{sorted(REWARD_MODELS)}"
            )
        if self.tier not in TIERS:
            raise ValueError(f"task family {self.name!r}: tier={self.tier!r}; allowed: {TIERS}")

    def sample(
        self,
        rng: np.random.Generator,
        design_space: DesignSpace | None = None,
        constants: SimulatorConstants | str | None = None,
    ) -> Target:
        """One target drawn with ``rng`` (``constants``: those of the environment, for
        simulated families; default the family's own)."""
        return self.sampler(rng, self._space(design_space), *self._constants(constants))

    def sample_many(
        self,
        rngs: list[np.random.Generator],
        design_space: DesignSpace | None = None,
        constants: SimulatorConstants | str | None = None,
    ) -> list[Target]:
        """One target per generator (batched when the family has a batch sampler)."""
        space = self._space(design_space)
        extra = self._constants(constants)
        if self.batch_sampler is not None:
            return self.batch_sampler(rngs, space, *extra)
        return [self.sampler(rng, space, *extra) for rng in rngs]

    def default_reward(self) -> RewardModel:
        """A new instance of the family's default reward model (:attr:`reward`)."""
        return make_reward_model(self.reward)

    def default_constants(self) -> SimulatorConstants:
        """The constants of this family's environments when none are given."""
        return resolve_constants(self.constants)

    def _constants(self, constants: SimulatorConstants | str | None) -> tuple[Any, ...]:
        if not self.simulated:
            return ()
        return (resolve_constants(self.constants if constants is None else constants),)

    def default_space(self) -> DesignSpace:
        """The design space used when none is given."""
        if self.space_factory is not None:
            return self.space_factory()
        return DesignSpace.for_carrier(self.carrier)

    def _space(self, design_space: DesignSpace | None) -> DesignSpace:
        space = design_space or self.default_space()
        if space.carrier is not self.carrier:
            raise ValueError(
                f"task family {self.name!r} designs {self.carrier.name.lower()} carriers but the "
                f"design space is for {space.carrier.name.lower()}"
            )
        return space


def relabelled(
    batch_sampler: Callable[..., list[Target]], family: str
) -> Callable[..., list[Target]]:
    """A batch sampler drawing what ``batch_sampler`` draws, each target labelled
    ``family`` (a family that shares another's targets and differs in its reward)."""

    def sample_many(
        rngs: list[np.random.Generator], space: DesignSpace, *extra: Any
    ) -> list[Target]:
        return [dataclasses.replace(t, family=family) for t in batch_sampler(rngs, space, *extra)]

    return sample_many


def one_at_a_time(batch_sampler: Callable[..., list[Target]]) -> Callable[..., Target]:
    """The single-target sampler of ``batch_sampler``: its target for one generator."""

    def sample(rng: np.random.Generator, space: DesignSpace, *extra: Any) -> Target:
        return batch_sampler([rng], space, *extra)[0]

    return sample


def log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(math.exp(rng.uniform(math.log(low), math.log(high))))


def random_drug(rng: np.random.Generator) -> Drug:
    return Drug.preset(DRUGS[int(rng.integers(len(DRUGS)))])
