"""The native batched vector environment."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from nanoenv.design_space import DesignSpace
from nanoenv.envs.problem import (
    DesignState,
    Evaluation,
    InitialDesigner,
    ProblemSpec,
    action_to_delta,
    draw_episodes,
    make_infos,
    observation_space,
    observe,
    place_rows,
    reset_rows,
    step,
)
from nanoenv.envs.target_pool import TargetPool
from nanoenv.kinetics import PARAMETER_NAMES, SimulatorConstants
from nanoenv.rewards import RewardModel
from nanoenv.tasks import Target
from nanoenv.threads import configure_threads

__all__ = ["FormulationDesignVectorEnv"]


class FormulationDesignVectorEnv(VectorEnv):
    """
    ## Description

    ``num_envs`` formulation-design environments stepped as one torch batch: the
    MDP of :class:`~nanoenv.envs.FormulationDesignEnv`, with one simulator call per
    step for all environments, each with its own target, on any torch device.
    Environment ``i`` seeded with ``seed`` behaves exactly like a single
    environment seeded with ``seed + i`` (tested against ``SyncVectorEnv``).

    ## Action Space

    ``Box(-1, 1, (num_envs, dim), float32)``, or ``MultiDiscrete`` of
    ``2·dim + 1`` per environment with ``discrete=True`` (see the single envs).

    ## Observation Space

    ``Box(float32)`` of shape ``(num_envs, dim + 4·24 + 10)``, laid out as in
    :class:`~nanoenv.envs.FormulationDesignEnv`.

    ## Rewards

    As the single environment: change of the reward model's score plus the success bonus.

    ## Starting State

    As the single environment, drawn from each environment's own generator;
    ``reset(options={"targets": [Target, ...]})`` fixes every target.

    ## Episode End

    Terminated at ``f2 ≥ success_f2`` (or on the stop action), truncated after
    ``max_edits``. ``autoreset_mode`` (``gymnasium.vector.AutoresetMode`` or its value):

    * ``NEXT_STEP`` (default, as Gymnasium's own vector environments and wrappers
      expect): the step that ends an episode returns its last observation; the next
      step ignores that environment's action and returns the first observation of a new
      episode with reward 0 and ``terminated = truncated = False`` (the new first designs
      are simulated in the same batch as the other environments' edits:
      :func:`~nanoenv.envs.problem.place_rows`, one simulation per step);
    * ``SAME_STEP`` (what :class:`~nanoenv.envs.SB3VecEnvAdapter` needs): the
      observation returned for an environment that ended is the first of its next
      episode, and ``infos["final_obs"][i]`` / ``infos["final_info"]`` hold the last ones.

    ## Arguments

    The single environment's keywords, plus ``num_envs``; ``discrete`` (discrete
    edits); ``return_torch`` (observations, rewards and flags as torch tensors on
    ``device``, for on-device training, instead of numpy arrays); ``autoreset_mode``
    (above); ``num_threads`` (torch threads, :mod:`nanoenv.threads`).

    ``info`` holds per-environment arrays ``f2``, ``rmse``, ``score``, ``cost``,
    ``is_success``, ``sim_calls``, ``release_curve`` ``(N, T)`` and
    ``formulation`` ``(N, P)`` (physical units, columns
    :data:`nanoenv.kinetics.PARAMETER_NAMES`), each with its ``_key`` mask.

    ## Vectorized environment

    This is it: ``gymnasium.make_vec("nanoenv/FormulationDesign-v0", num_envs=N,
    vectorization_mode="vector_entry_point")``; :class:`~nanoenv.envs.SB3VecEnvAdapter`
    presents it to stable-baselines3.

    ## Version History

    * v0: initial version.
    """

    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP, "render_modes": []}  # the default

    def __init__(
        self,
        num_envs: int = 8,
        task: str = "realisable",
        reward_model: str | RewardModel | None = None,
        max_edits: int = 20,
        max_step: float = 0.25,
        design_space: DesignSpace | None = None,
        device: str | torch.device = "cpu",
        render_mode: str | None = None,
        success_f2: float = 50.0,
        success_bonus: float = 1.0,
        initial_design: str | InitialDesigner = "random",
        constants: SimulatorConstants | str | None = None,
        discrete: bool = False,
        return_torch: bool = False,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        num_threads: int | None = None,
    ) -> None:
        modes = (AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP)
        mode = next((m for m in modes if autoreset_mode in (m, m.value)), None)
        if mode is None:
            allowed = [m.value for m in modes]
            raise ValueError(
                f"autoreset_mode={autoreset_mode!r}; allowed: {allowed} "
                "(gymnasium.vector.AutoresetMode)"
            )
        configure_threads(num_threads)
        if num_envs < 1:
            raise ValueError(f"num_envs={num_envs} must be a positive number of environments")
        if render_mode is not None:
            raise ValueError("the vector environment does not render; use a single environment")
        self.spec_ = ProblemSpec.create(
            task=task,
            reward_model=reward_model,
            max_edits=max_edits,
            max_step=max_step,
            design_space=design_space,
            device=device,
            success_f2=success_f2,
            success_bonus=success_bonus,
            initial_design=initial_design,
            constants=constants,
        )
        self.num_envs = num_envs
        self.autoreset_mode = mode
        self.metadata = {**type(self).metadata, "autoreset_mode": mode}
        self.discrete = discrete
        self.return_torch = return_torch
        self.render_mode = None
        dim = self.spec_.design_space.dim
        self.single_observation_space = observation_space(self.spec_)
        self.single_action_space = (
            spaces.Discrete(2 * dim + 1) if discrete else spaces.Box(-1, 1, (dim,), np.float32)
        )
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self.parameter_names = PARAMETER_NAMES
        self._rngs: list[np.random.Generator] = [
            seeding.np_random(None)[0] for _ in range(num_envs)
        ]
        # hidden-design targets drawn ahead in bulk: ~2,048 per refill, at most 16 per env
        pool_size = max(1, min(16, 2048 // num_envs))
        self._pool = TargetPool(
            self.spec_.family, self.spec_.design_space, self.spec_.constants, pool_size
        )
        self._state: DesignState | None = None
        self._sim_calls = np.zeros(num_envs, dtype=np.int64)
        self._autoreset = torch.zeros(num_envs, dtype=torch.bool, device=self.spec_.device)
        #: Simulator calls since construction, over every environment (resets, proposers'
        #: screening and steps): the training cost reported beside amortised methods.
        self.total_sim_calls = 0

    # -- episodes -----------------------------------------------------------------------
    def _seed(self, seed: int | Sequence[int | None] | None) -> None:
        if seed is None:
            return
        seeds = [seed + i for i in range(self.num_envs)] if isinstance(seed, int) else list(seed)
        if len(seeds) != self.num_envs:
            raise ValueError(f"got {len(seeds)} seeds for {self.num_envs} environments")
        for i, s in enumerate(seeds):
            if s is not None:
                self._rngs[i] = seeding.np_random(s)[0]
        self._pool.retain(self._rngs)

    def _draw(
        self, rows: Sequence[int], options: dict[str, Any]
    ) -> tuple[list[Target], np.ndarray, np.ndarray]:
        """Targets, initial designs and the simulator calls spent proposing them for
        ``rows``, each from that environment's generator in the order a single environment
        draws them."""
        given = options.get("targets")
        chosen = None if given is None else [given[i] for i in rows]
        return draw_episodes(self.spec_, self._pool, [self._rngs[i] for i in rows], chosen)

    def reset(
        self,
        *,
        seed: int | Sequence[int | None] | None = None,
        options: dict[str, Any] | None = None,
    ) -> tuple[Any, dict[str, Any]]:
        """Reset every environment (``options={"targets": [Target, ...]}`` fixes the targets)."""
        self._seed(seed)
        options = options or {}
        targets, z, extra = self._draw(range(self.num_envs), options)
        self._state, ev = reset_rows(self.spec_, None, None, targets, z)
        self._sim_calls[:] = 1 + extra
        self.total_sim_calls += int(self._sim_calls.sum())
        self._autoreset.zero_()
        return self._out(observe(self.spec_, self._state)), self._infos(ev)

    def step(self, actions: Any) -> tuple[Any, Any, Any, Any, dict[str, Any]]:
        if self._state is None:
            raise gym.error.ResetNeeded("call reset() before step()")
        if not isinstance(actions, torch.Tensor):
            actions = np.asarray(actions)
        actions = torch.as_tensor(actions, device=self.spec_.device)
        if actions.shape[:1] != (self.num_envs,):
            raise ValueError(
                f"actions must have a leading dimension of num_envs={self.num_envs}; got shape "
                f"{tuple(actions.shape)}"
            )
        delta, stop = action_to_delta(self.spec_, actions, self.discrete)
        if self.autoreset_mode is AutoresetMode.NEXT_STEP:
            return self._step_next(delta, stop)
        tr = step(self.spec_, self._state, delta, stop)
        self._sim_calls += 1
        self.total_sim_calls += self.num_envs
        self._state = tr.state
        obs = observe(self.spec_, self._state)
        infos = self._infos(tr.evaluation)
        done = tr.terminated | tr.truncated
        rows = torch.nonzero(done).flatten().tolist()
        if rows:
            infos["final_obs"] = np.full(self.num_envs, None, dtype=object)
            final = obs[rows].cpu().numpy()  # one device copy, not one per row
            for j, i in enumerate(rows):
                infos["final_obs"][i] = final[j]
            infos["final_info"] = {k: v.copy() for k, v in infos.items() if k != "final_obs"}
            for key in list(infos["final_info"]):
                if key.startswith("_"):
                    infos["final_info"][key] = done.cpu().numpy().copy()
            infos["_final_obs"] = infos["_final_info"] = done.cpu().numpy()
            obs = self._reset_rows(rows, infos)
        return (
            self._out(obs),
            self._out(tr.reward),
            self._out(tr.terminated),
            self._out(tr.truncated),
            infos,
        )

    def _step_next(
        self, delta: torch.Tensor, stop: torch.Tensor
    ) -> tuple[Any, Any, Any, Any, dict[str, Any]]:
        """A next-step-autoreset step: rows that ended last step start a new episode (their
        action is ignored; reward 0, not done) and the others edit, all in one simulation:
        the new episodes' first designs are put in place of the edits (:func:`place_rows`)."""
        rows = torch.nonzero(self._autoreset).flatten().tolist()
        if rows:
            index = torch.as_tensor(rows, device=self.spec_.device)
            targets, z, extra = self._draw(rows, {})
            self._state = place_rows(self.spec_, self._state, rows, targets, z)
            delta, stop = delta.clone(), stop.clone()
            delta[index], stop[index] = 0.0, False
            self._sim_calls[rows] = extra  # + 1 below: the first design's simulation
            self.total_sim_calls += int(extra.sum())
        tr = step(self.spec_, self._state, delta, stop)
        self._sim_calls += 1
        self.total_sim_calls += self.num_envs
        self._state = tr.state
        reward, terminated, truncated = tr.reward, tr.terminated, tr.truncated
        if rows:
            reward[index], terminated[index], truncated[index] = 0.0, False, False
        self._autoreset = terminated | truncated
        obs = observe(self.spec_, self._state)
        return (
            self._out(obs),
            self._out(reward),
            self._out(terminated),
            self._out(truncated),
            self._infos(tr.evaluation),
        )

    def _reset_rows(self, rows: list[int], infos: dict[str, Any]) -> torch.Tensor:
        """Start new episodes in ``rows`` (same-step autoreset); the new observations. The
        rows' ``infos`` become the resets' (as ``SyncVectorEnv``'s; ``final_info`` keeps the
        last step's)."""
        targets, z, extra = self._draw(rows, {})
        self._state, ev = reset_rows(self.spec_, self._state, rows, targets, z)
        self._sim_calls[rows] = 1 + extra
        self.total_sim_calls += int(self._sim_calls[rows].sum())
        for key, value in make_infos(self.spec_, ev, self._sim_calls[rows]).items():
            infos[key] = infos[key].copy()
            infos[key][rows] = value
        return observe(self.spec_, self._state)

    # -- outputs ------------------------------------------------------------------------
    def _out(self, x: torch.Tensor) -> Any:
        return x if self.return_torch else x.detach().cpu().numpy()

    def _infos(self, ev: Evaluation) -> dict[str, Any]:
        infos = make_infos(self.spec_, ev, self._sim_calls)
        mask = np.ones(self.num_envs, dtype=bool)
        for key in list(infos):
            infos["_" + key] = mask
        return infos

    @property
    def targets(self) -> list[Target]:
        """The current target of each environment."""
        if self._state is None:
            raise gym.error.ResetNeeded("call reset() before reading the targets")
        return list(self._state.targets.targets)
