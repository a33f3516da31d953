"""Multi-objective formulation design, following MO-Gymnasium's conventions.

:class:`MOFormulationDesignEnv` is :class:`~nanoenv.envs.FormulationDesignEnv` whose
reward is a vector: one entry per objective of the task family's reward model
(``reward_model.objective_names``, e.g. ``("efficacy", "selectivity")`` for
``targeted``; :mod:`nanoenv.rewards.delivery`). Reward models without objectives give
two: the score and the negated constraint cost. As the scalar environment, the reward is
potential-based: the change of each objective since the last step.

The environment has MO-Gymnasium's ``reward_space`` (a ``Box`` of the objective count)
and ``reward_dim``, so ``mo_gymnasium``'s wrappers apply, e.g. ``mo_gymnasium.wrappers.
LinearReward(env, weight)`` for a single-objective agent. With ``scalarize=True`` the
environment returns ``weights · reward`` itself (``info["vector_reward"]`` keeps the
vector); with ``weights="random"`` a preference vector is drawn per episode from a flat
Dirichlet distribution (``self.np_random``) and appended to the observation, so a policy
can be conditioned on it (Abels et al., ICML 2019).

>>> import gymnasium as gym, nanoenv
>>> env = gym.make("nanoenv/MOFormulationDesign-v0", task="targeted")
>>> obs, info = env.reset(seed=0)
>>> env.unwrapped.reward_space.shape, info["objective_names"]
((2,), ('efficacy', 'selectivity'))

## Version History

* v0: initial version.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from gymnasium import spaces

from nanoenv.envs.formulation_design import FormulationDesignEnv
from nanoenv.envs.problem import DesignState, ProblemSpec
from nanoenv.kinetics import Formulation
from nanoenv.targets import TargetBatch

__all__ = ["MOFormulationDesignEnv", "objective_names", "objective_values", "state_objectives"]

Tensor = torch.Tensor


def objective_names(reward_model: Any) -> tuple[str, ...]:
    """The objectives of ``reward_model`` (``("score", "neg_cost")`` when it names none)."""
    return tuple(getattr(reward_model, "objective_names", ("score", "neg_cost")))


def objective_values(
    reward_model: Any, release: Tensor, targets: TargetBatch, formulation: Formulation
) -> Tensor:
    """``(B, m)`` objectives (higher is better) of designs ``formulation`` whose curves are
    ``release`` on ``targets``."""
    if hasattr(reward_model, "objectives"):
        return reward_model.objectives(release, targets, formulation)
    out = reward_model(release, targets, formulation)
    score = out if isinstance(out, torch.Tensor) else out.score
    cost = getattr(out, "cost", None)
    cost = torch.zeros_like(score) if cost is None else cost
    return torch.stack([score, -cost], 1)


def state_objectives(spec: ProblemSpec, state: DesignState) -> Tensor:
    """``(B, m)`` objectives of the designs of ``state`` (:func:`nanoenv.envs.problem.step`'s
    state; its curves, no new simulator call)."""
    formulation = spec.design_space.to_formulation(state.z, validate=False)
    return objective_values(spec.reward_model, state.release, state.targets, formulation)


class MOFormulationDesignEnv(FormulationDesignEnv):
    """
    ## Description

    :class:`~nanoenv.envs.FormulationDesignEnv` with a vector reward (module docstring).

    ## Rewards

    ``reward[i]``: change of objective ``i`` since the previous step (the objectives of
    the initial design at reset). ``reward_space``: ``Box(-1, 1, (m,))`` for objectives in
    ``[0, 1]``, unbounded for reward models without objectives.

    ## Observation Space

    That of the scalar environment, followed by the ``m`` preference weights when
    ``weights="random"``.

    ## Arguments

    ======================  ===========================================================
    ``weights``             ``None`` (equal, fixed), an array of ``m`` non-negative
                            weights, or ``"random"`` (Dirichlet per episode, observed)
    ``scalarize``           return ``weights · reward`` (float) instead of the vector
    other keywords          as :class:`~nanoenv.envs.FormulationDesignEnv`
    ======================  ===========================================================

    ## Version History

    * v0: initial version.
    """

    def __init__(self, *, weights: Any = None, scalarize: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        model = self.spec_.reward_model
        self.objective_names = objective_names(model)
        self.reward_dim = len(self.objective_names)
        bounded = hasattr(model, "objectives")
        low, high = (-1.0, 1.0) if bounded else (-np.inf, np.inf)
        self.reward_space = spaces.Box(low, high, (self.reward_dim,), dtype=np.float32)
        self.random_weights = isinstance(weights, str)
        if self.random_weights and weights != "random":
            raise ValueError(
                f"weights={weights!r}; allowed: None, 'random' or {self.reward_dim} "
                "non-negative numbers"
            )
        if weights is None or self.random_weights:
            w = np.full(self.reward_dim, 1.0 / self.reward_dim)
        else:
            w = np.asarray(weights, dtype=np.float64)
            if w.shape != (self.reward_dim,) or not np.all(np.isfinite(w)) or np.any(w < 0):
                raise ValueError(
                    f"weights={weights!r} must be {self.reward_dim} non-negative finite numbers "
                    f"(one per objective {self.objective_names})"
                )
        self.weights = w.astype(np.float32)
        self.scalarize = bool(scalarize)
        if self.random_weights:
            base = self.observation_space
            self.observation_space = spaces.Box(
                np.concatenate([base.low, np.zeros(self.reward_dim, np.float32)]),
                np.concatenate([base.high, np.ones(self.reward_dim, np.float32)]),
                dtype=np.float32,
            )
        self._objectives: np.ndarray | None = None
        self._episode_over = False

    def _current_objectives(self) -> np.ndarray:
        with torch.no_grad():
            values = state_objectives(self.spec_, self.state)
        return values[0].double().cpu().numpy()

    def _observe(self, obs: np.ndarray) -> np.ndarray:
        if not self.random_weights:
            return obs
        return np.concatenate([obs, self.weights]).astype(np.float32)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        obs, info = super().reset(seed=seed, options=options)
        if self.random_weights:
            self.weights = self.np_random.dirichlet(np.ones(self.reward_dim)).astype(np.float32)
        self._objectives = self._current_objectives()
        self._episode_over = False
        info.update(
            objectives=self._objectives.astype(np.float32),
            objective_names=self.objective_names,
            weights=self.weights.copy(),
        )
        return self._observe(obs), info

    def step(self, action: Any) -> tuple[np.ndarray, Any, bool, bool, dict[str, Any]]:
        was_over = self._episode_over
        obs, scalar, terminated, truncated, info = super().step(action)
        now = self._current_objectives()
        vector = np.zeros(self.reward_dim) if was_over else now - self._objectives
        self._objectives = now
        self._episode_over = bool(terminated or truncated)
        vector = vector.astype(np.float32)
        info.update(
            objectives=now.astype(np.float32),
            objective_names=self.objective_names,
            weights=self.weights.copy(),
            scalar_reward=scalar,
            vector_reward=vector,
        )
        reward: Any = float(self.weights @ vector) if self.scalarize else vector
        return self._observe(obs), reward, terminated, truncated, info
