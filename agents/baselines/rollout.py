"""A trained policy as a design method: roll it out in the environment with a budget."""

from __future__ import annotations

import math
from typing import Any

import torch

from agents.baselines.search import DesignResult, check_budget
from nanoenv.envs.formulation_design import FormulationDesignDiscreteEnv, FormulationDesignEnv
from nanoenv.envs.problem import InitialDesigner
from nanoenv.tasks import Target

Tensor = torch.Tensor


class PolicyRollout:
    """A trained policy rolled out in :class:`~nanoenv.envs.FormulationDesignEnv`.

    The policy is anything with ``predict(obs, deterministic=True) -> (action, state)``
    (stable-baselines3 models, for instance). One episode is run on the target (the
    environment draws the initial design from ``seed``): ``1 + max_edits`` simulator
    calls at most, cut at ``budget``; with ``repeat=True`` further episodes (new
    initial designs) are run until the budget is spent or, with ``stop_on_success``,
    one succeeds. The best design seen (by score) is returned.

    :param policy: the trained policy.
    :param env_kwargs: keyword arguments of the environment (``task`` defaults to the
        target's family).
    :param discrete: use :class:`~nanoenv.envs.FormulationDesignDiscreteEnv`.
    :param repeat: run further episodes while budget is left (and, with
        ``stop_on_success``, none succeeded).
    :param device: ``"cpu"``, ``"cuda"`` or ``"auto"`` (overrides ``env_kwargs``).
    :param name: the method's name in result tables.
    :param stop_on_success: stop repeating episodes after the first success (the
        benchmark sets ``False`` and ``repeat=True``: the whole budget is spent).
    """

    def __init__(
        self,
        policy: Any,
        env_kwargs: dict[str, Any] | None = None,
        *,
        discrete: bool = False,
        repeat: bool = False,
        device: str | torch.device | None = None,
        name: str = "policy",
        stop_on_success: bool = True,
    ) -> None:
        if not callable(getattr(policy, "predict", None)):
            raise ValueError(
                f"policy must have predict(obs, deterministic=True) -> (action, state); got "
                f"{type(policy).__name__}"
            )
        self.policy = policy
        self.env_kwargs = dict(env_kwargs or {})
        if device is not None:
            self.env_kwargs["device"] = device
        self.discrete = discrete
        self.repeat = repeat
        self.name = name
        self.stop_on_success = bool(stop_on_success)

    def reset_calls(self, env: FormulationDesignEnv) -> int:
        """Simulator calls a reset of ``env`` spends (its first design; a proposer's
        screening too): a further episode starts only if the budget left covers them."""
        designer = env.spec_.initial_design
        if isinstance(designer, InitialDesigner):
            return 1 + int(designer.max_calls_per_design)
        return 1

    def make_env(self, target: Target, budget: int) -> FormulationDesignEnv:
        """The environment an episode on ``target`` runs in (subclasses change how the
        first design is proposed, for instance)."""
        env_cls = FormulationDesignDiscreteEnv if self.discrete else FormulationDesignEnv
        return env_cls(**{"task": target.family, **self.env_kwargs})

    def design(self, target: Target, budget: int, *, seed: int = 0) -> DesignResult:
        """Roll out episodes on ``target`` within ``budget`` simulator calls, counted as
        the environment counts them (``info["sim_calls"]``: the first design, every edit,
        and whatever the environment's initial-design proposer spent)."""
        budget = check_budget(budget)
        env = self.make_env(target, budget)
        space = env.spec_.design_space
        spent, calls, calls_to_success = 0, 0, None  # spent: calls of finished episodes
        history: list[tuple[int, float]] = []
        score_history: list[tuple[int, float]] = []
        best_f2, best = -math.inf, None
        first = True
        while (first or budget - calls >= self.reset_calls(env)) and (
            first or (self.repeat and not (self.stop_on_success and calls_to_success is not None))
        ):
            obs, info = env.reset(seed=seed if first else None, options={"target": target})
            first = False
            done = False
            while True:
                calls = spent + int(info["sim_calls"])
                if info["f2"] > best_f2:
                    best_f2 = info["f2"]
                    history.append((calls, best_f2))
                if calls_to_success is None and info["is_success"]:
                    calls_to_success = calls
                if best is None or info["score"] > best[0]:
                    best = (info["score"], obs[: space.dim].copy(), info)
                    score_history.append((calls, float(info["score"])))
                if done or calls >= budget:
                    break
                action, _ = self.policy.predict(obs, deterministic=True)
                obs, _, terminated, truncated, info = env.step(action)
                done = terminated or truncated
            spent = calls
            if not history or history[-1][0] != calls:
                history.append((calls, best_f2))
            if score_history[-1][0] != calls:
                score_history.append((calls, score_history[-1][1]))
        env.close()
        assert best is not None
        score, z, info = best
        z_t = torch.as_tensor(z, dtype=torch.float32)
        return DesignResult(
            target,
            space.to_formulation(z_t[None], validate=False),
            torch.as_tensor(info["release_curve"]),
            info["f2"],
            score,
            info["cost"],
            calls,
            calls_to_success,
            history,
            self.name,
            z_t,
            score_history,
        )
