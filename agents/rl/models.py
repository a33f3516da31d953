"""The environments and models of a training run: the SB3 vector environment over
nanoenv's native vector env, a fresh SB3 model of a config, and a run's trained model
(rebuilt from its config, weights read without unpickling)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from agents.checkpoints import load_model_file
from agents.rl import ppo_torch
from agents.rl.config import TrainConfig, load_config
from agents.rl.hyperparameters import ACTIVATIONS, algo_class
from agents.rl.run_folder import FINAL_MODEL, last_checkpoint
from nanoenv.devices import resolve_device

if TYPE_CHECKING:
    from nanoenv.envs.problem import InitialDesigner

__all__ = ["load_model", "make_vec_env", "new_model"]


def make_vec_env(
    cfg: TrainConfig,
    seed: int | None = None,
    *,
    initial_design: InitialDesigner | None = None,
    wrapper: Callable[[Any], Any] | None = None,
) -> Any:
    """The training environment: ``VecMonitor(SB3VecEnvAdapter(FormulationDesignVectorEnv))``.

    :param cfg: the run's configuration (``num_envs``, ``task``, ``env``).
    :param seed: seed of the environments (``None``: ``cfg.seed``).
    :param initial_design: proposer of the episodes' first designs
        (:class:`~nanoenv.envs.problem.InitialDesigner`), used instead of
        ``cfg.env.initial_design``.
    :param wrapper: applied to the SB3 vector environment inside ``VecMonitor`` (a reward
        wrapper, for instance: the logged returns are then the wrapped rewards).
    """
    from stable_baselines3.common.vec_env import VecMonitor

    from nanoenv.envs import FormulationDesignVectorEnv
    from nanoenv.envs.sb3 import SB3VecEnvAdapter

    kwargs = cfg.env.kwargs()
    if initial_design is not None:
        kwargs["initial_design"] = initial_design
    native = FormulationDesignVectorEnv(
        num_envs=cfg.num_envs, task=cfg.task, autoreset_mode="SameStep", **kwargs
    )
    inner: Any = SB3VecEnvAdapter(native)
    if wrapper is not None:
        inner = wrapper(inner)
    env = VecMonitor(inner, info_keywords=("is_success", "f2"))
    env.seed(cfg.seed if seed is None else seed)
    return env


def _hyperparameters(cfg: TrainConfig) -> dict[str, Any]:
    hp = dict(cfg.hyperparameters)
    if "policy_kwargs" in hp:
        pk = dict(hp["policy_kwargs"])
        if isinstance(pk.get("activation_fn"), str):
            pk["activation_fn"] = ACTIVATIONS[pk["activation_fn"]]
        hp["policy_kwargs"] = pk
    return hp


def new_model(cfg: TrainConfig, env: Any, device: str | torch.device, **overrides: Any) -> Any:
    """A fresh SB3 model of ``cfg`` on ``env`` (``overrides``: hyperparameters), its
    hyperparameters checked by SB3 itself (``ValueError`` when it rejects them). For
    ``algo: ppo-torch``, a fresh :class:`~agents.rl.ppo_torch.PPOTorchModel` (``env`` is
    not used: it builds its own)."""
    if cfg.algo == "ppo-torch":
        return ppo_torch.new_model(cfg, device)
    hp = {**_hyperparameters(cfg), **overrides}
    try:
        return algo_class(cfg.algo)("MlpPolicy", env, seed=cfg.seed, device=device, verbose=0, **hp)
    except (AssertionError, ValueError, TypeError) as exc:  # SB3's own checks
        raise ValueError(
            f"stable-baselines3 rejects the config's hyperparameters: "
            f"{' '.join(str(exc).split()) or type(exc).__name__}"
        ) from None


def load_model(run_dir: str | os.PathLike[str], device: str = "cpu") -> Any:
    """The final model of a run (its latest checkpoint if it has none yet).

    Nothing in the run folder is unpickled: the model is rebuilt from the run's
    validated ``config.yaml`` and the zip's weights are read as plain tensors
    (:func:`agents.checkpoints.load_model_file`); a crafted file is refused with a
    ``ValueError``. A SAC model gets a one-slot replay buffer (evaluation needs none).
    """
    run_dir = Path(run_dir)
    if not (run_dir / "config.yaml").is_file():
        raise ValueError(f"{str(run_dir)!r} is not a run folder (no config.yaml)")
    cfg = load_config(run_dir / "config.yaml")
    path = run_dir / FINAL_MODEL
    if not path.is_file():
        last = last_checkpoint(run_dir)
        if last is None:
            raise ValueError(
                f"run folder {str(run_dir)!r} has neither {FINAL_MODEL} nor a checkpoint"
            )
        path = last[0]
    env = make_vec_env(cfg)
    overrides = {"buffer_size": 1, "learning_starts": 0} if cfg.algo == "sac" else {}
    try:
        return load_model_file(new_model(cfg, env, resolve_device(device), **overrides), path)
    finally:
        env.close()
