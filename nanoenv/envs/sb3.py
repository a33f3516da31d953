"""A stable-baselines3 ``VecEnv`` view of the native vector environment."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode
from stable_baselines3.common.vec_env import VecEnv
from stable_baselines3.common.vec_env.base_vec_env import VecEnvIndices, VecEnvStepReturn

from nanoenv.envs.vector import FormulationDesignVectorEnv

__all__ = ["SB3VecEnvAdapter"]


class SB3VecEnvAdapter(VecEnv):
    """Present :class:`~nanoenv.envs.FormulationDesignVectorEnv` as an SB3 ``VecEnv``.

    SB3 wants ``done = terminated or truncated``, the first observation of the
    next episode in place of the last one, the last one in
    ``infos[i]["terminal_observation"]`` and ``infos[i]["TimeLimit.truncated"]`` (and
    a finished environment's info its last step's, from ``final_info``)
    so that truncated episodes are bootstrapped — exactly what the native
    environment's same-step autoreset provides. Seeds given with ``seed()`` and
    options with ``set_options()`` apply at the next ``reset()``, as in SB3.

    :param env: the native vector environment (numpy outputs).
    """

    def __init__(self, env: FormulationDesignVectorEnv) -> None:
        if env.return_torch:
            raise ValueError("SB3VecEnvAdapter needs a vector env with return_torch=False")
        if env.autoreset_mode is not AutoresetMode.SAME_STEP:
            raise ValueError(
                "SB3VecEnvAdapter needs a vector env with autoreset_mode="
                "'SameStep' (SB3's VecEnv semantics)"
            )
        self.env = env
        super().__init__(env.num_envs, env.single_observation_space, env.single_action_space)
        self._actions: np.ndarray | None = None

    def reset(self) -> np.ndarray:
        seeds = self._seeds if any(s is not None for s in self._seeds) else None
        obs, infos = self.env.reset(seed=seeds, options=self._options[0] or None)
        self.reset_infos = self._split(infos)
        self._reset_seeds()
        self._reset_options()
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = actions

    def step_wait(self) -> VecEnvStepReturn:
        obs, rewards, terminated, truncated, infos = self.env.step(self._actions)
        dones = terminated | truncated
        per_env = self._split(infos)
        final = self._split(infos["final_info"]) if dones.any() else per_env
        for i in np.flatnonzero(dones):
            per_env[i] = final[i]  # SB3: a finished environment's info is its last step's
            per_env[i]["terminal_observation"] = infos["final_obs"][i]
            per_env[i]["TimeLimit.truncated"] = bool(truncated[i] and not terminated[i])
        return obs, rewards.astype(np.float32), dones, per_env

    def _split(self, infos: dict[str, Any]) -> list[dict[str, Any]]:
        keys = [k for k in infos if not k.startswith("_") and k not in ("final_obs", "final_info")]
        return [{k: infos[k][i] for k in keys} for i in range(self.num_envs)]

    def close(self) -> None:
        self.env.close()

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        return [getattr(self.env, attr_name) for _ in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        setattr(self.env, attr_name, value)

    def env_method(
        self,
        method_name: str,
        *method_args: Any,
        indices: VecEnvIndices = None,
        **method_kwargs: Any,
    ) -> list[Any]:
        method = getattr(self.env, method_name)
        return [method(*method_args, **method_kwargs) for _ in self._get_indices(indices)]

    def env_is_wrapped(
        self, wrapper_class: type[gym.Wrapper], indices: VecEnvIndices = None
    ) -> list[bool]:
        return [False for _ in self._get_indices(indices)]

    def _get_indices(self, indices: VecEnvIndices) -> Sequence[int]:
        if indices is None:
            return range(self.num_envs)
        return [indices] if isinstance(indices, int) else list(indices)
