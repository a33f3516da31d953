"""PPO in plain torch on the native vector environment, everything on one device.

In the style of CleanRL's ``ppo_continuous_action.py`` (Huang et al. 2022, "The 37
Implementation Details of PPO"): a config dataclass, a small actor-critic, and the
training loop read top to bottom in :func:`train_ppo_torch`. The environment
(:class:`~nanoenv.envs.FormulationDesignVectorEnv` with ``return_torch=True``), the
networks and the rollout buffers live on one torch device (CPU or CUDA); observations,
rewards and episode ends never leave it as numpy arrays. Continuous (``Box``) and
discrete (``Discrete``) edits.

It is ``algo: ppo-torch`` of ``nanoenv train`` (:mod:`agents.rl.training`): the same run
folders, ``progress.csv`` and TensorBoard logs (SB3's logger), atomic checkpoints
``checkpoints/model_<steps>_steps.zip`` read without unpickling
(:mod:`agents.checkpoints`), resume, and ``final_model.zip``. Hyperparameters take
stable-baselines3's PPO names and defaults (:class:`PPOTorchConfig`), so one YAML
trains either implementation on the same network, rollout length and epochs.

Next-step autoreset (Gymnasium's default): the step after an episode ends only resets
that environment (its action is ignored, reward 0). Those steps are masked out of the
loss, and the advantage of the last real step bootstraps from the value of its final
observation when the episode was truncated (it is the next stored observation), so
truncation is handled as SB3 does it with ``TimeLimit.truncated``.
"""

from __future__ import annotations

import dataclasses
import io
import itertools
import json
import math
import signal
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from torch import nn
from torch.distributions import Categorical, Normal

from agents.checkpoints import load_model_file, save_model
from agents.rl.callbacks import sigterm_stops, tensorboard_available
from agents.rl.run_folder import (
    CHECKPOINT_PREFIX,
    FINAL_MODEL,
    last_checkpoint,
    record_training_cost,
    remove_stale_checkpoints,
    start_session,
)
from nanoenv.devices import resolve_device

__all__ = ["PPOTorchConfig", "PPOTorchModel", "make_env", "train_ppo_torch"]

ACTIVATIONS = {
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "elu": nn.ELU,
    "leaky_relu": nn.LeakyReLU,
    "gelu": nn.GELU,
}


@dataclass
class PPOTorchConfig:
    """PPO hyperparameters (stable-baselines3's names and defaults).

    :param learning_rate: Adam step size (constant).
    :param n_steps: rollout length per environment (a rollout is ``n_steps × num_envs``
        environment steps).
    :param batch_size: minibatch size, environment steps.
    :param n_epochs: passes over each rollout.
    :param gamma: discount per edit.
    :param gae_lambda: GAE λ (Schulman et al. 2016).
    :param clip_range: PPO ratio clip ε (Schulman et al. 2017).
    :param normalize_advantage: standardise advantages per minibatch.
    :param ent_coef: entropy bonus weight.
    :param vf_coef: value loss weight.
    :param max_grad_norm: global gradient-norm clip.
    :param target_kl: stop the epochs of a rollout once the approximate KL exceeds
        ``1.5 × target_kl`` (``None``: never).
    :param net_arch: hidden widths of the actor and of the critic (separate networks, as
        SB3's ``MlpPolicy``).
    :param activation_fn: ``tanh``, ``relu``, ``elu``, ``leaky_relu`` or ``gelu``.
    :param log_std_init: initial log standard deviation of continuous actions.
    :param ortho_init: orthogonal initialisation (gains √2, 0.01 for the actor head, 1
        for the critic head).
    """

    learning_rate: float = 3e-4
    n_steps: int = 2048
    batch_size: int = 64
    n_epochs: int = 10
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_range: float = 0.2
    normalize_advantage: bool = True
    ent_coef: float = 0.0
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    target_kl: float | None = None
    net_arch: list[int] = field(default_factory=lambda: [64, 64])
    activation_fn: str = "tanh"
    log_std_init: float = 0.0
    ortho_init: bool = True

    @classmethod
    def from_hyperparameters(cls, hp: dict[str, Any]) -> PPOTorchConfig:
        """Build from a config's ``hyperparameters`` (SB3's layout: ``net_arch``,
        ``activation_fn``, ``log_std_init`` and ``ortho_init`` may sit in
        ``policy_kwargs``); ``ValueError`` naming the key on anything unknown or out of
        range."""
        hp = dict(hp)
        policy = hp.pop("policy_kwargs", None) or {}
        if not isinstance(policy, dict):
            raise ValueError(
                f"config key 'hyperparameters.policy_kwargs' must be a mapping; got {policy!r}"
            )
        names = {f.name: f for f in dataclasses.fields(cls)}
        policy_keys = ("net_arch", "activation_fn", "log_std_init", "ortho_init")
        for key in policy:
            if key not in policy_keys:
                raise ValueError(
                    f"unknown config key 'hyperparameters.policy_kwargs.{key}' for "
                    f"ppo-torch; allowed: {list(policy_keys)}"
                )
        for key in hp:
            if key not in names:
                raise ValueError(
                    f"unknown config key 'hyperparameters.{key}' for ppo-torch; "
                    f"allowed: {sorted(names)}"
                )
        values = {**hp, **policy}
        arch = values.get("net_arch")
        if isinstance(arch, dict):  # SB3's dict(pi=[...], vf=[...]): one width list for both
            if arch.get("pi") != arch.get("vf") or set(arch) - {"pi", "vf"}:
                raise ValueError(
                    "config key 'hyperparameters.policy_kwargs.net_arch' for "
                    "ppo-torch: pi and vf must be the same list"
                )
            values["net_arch"] = arch["pi"]
        out = cls()
        for key, value in values.items():
            default = getattr(out, key)
            number = isinstance(value, int | float) and not isinstance(value, bool)
            if key == "target_kl" or isinstance(default, float):
                ok = number or (key == "target_kl" and value is None)
                value = float(value) if number else value
            elif key == "net_arch":
                ok = (
                    isinstance(value, list)
                    and len(value) > 0
                    and all(isinstance(w, int) and not isinstance(w, bool) and w > 0 for w in value)
                )
            else:  # bool, int, str: exactly that type
                ok = type(value) is type(default)
            if not ok:
                raise ValueError(
                    f"config key 'hyperparameters.{key}' for ppo-torch must be "
                    f"like {default!r}; got {value!r}"
                )
            setattr(out, key, value)
        out.check()
        return out

    def check(self) -> None:
        """Ranges of the values (``ValueError`` naming the key)."""
        ranges = {
            "learning_rate": (self.learning_rate, 0, 1),
            "gamma": (self.gamma, 0, 1),
            "gae_lambda": (self.gae_lambda, 0, 1),
            "clip_range": (self.clip_range, 0, 10),
            "max_grad_norm": (self.max_grad_norm, 0, math.inf),
        }
        for key, (value, low, high) in ranges.items():
            if not (math.isfinite(value) or high == math.inf) or not low < value <= high:
                raise ValueError(
                    f"config key 'hyperparameters.{key}'={value} must be in ({low}, {high}]"
                )
        for key in ("n_steps", "batch_size", "n_epochs"):
            if getattr(self, key) < 1:
                raise ValueError(
                    f"config key 'hyperparameters.{key}'={getattr(self, key)} "
                    "must be a positive integer"
                )
        for key in ("ent_coef", "vf_coef"):
            if not math.isfinite(getattr(self, key)) or getattr(self, key) < 0:
                raise ValueError(
                    f"config key 'hyperparameters.{key}'={getattr(self, key)} "
                    "must be finite and >= 0"
                )
        if self.target_kl is not None and not self.target_kl > 0:
            raise ValueError(
                f"config key 'hyperparameters.target_kl'={self.target_kl} must be > 0 or null"
            )
        if self.activation_fn not in ACTIVATIONS:
            raise ValueError(
                f"config key 'hyperparameters.policy_kwargs.activation_fn'="
                f"{self.activation_fn!r}; allowed: {sorted(ACTIVATIONS)}"
            )


# -- the actor-critic -------------------------------------------------------------------------


def _mlp(
    sizes: list[int], activation: type[nn.Module], gain_out: float, ortho: bool
) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        linear = nn.Linear(a, b)
        last = i == len(sizes) - 2
        if ortho:
            nn.init.orthogonal_(linear.weight, gain_out if last else math.sqrt(2))
            nn.init.zeros_(linear.bias)
        layers += [linear] if last else [linear, activation()]
    return nn.Sequential(*layers)


class ActorCritic(nn.Module):
    """Separate actor and critic MLPs (SB3's ``MlpPolicy`` layout); a state-independent
    log standard deviation for continuous actions, logits for discrete ones."""

    def __init__(self, obs_dim: int, action_space: spaces.Space, cfg: PPOTorchConfig) -> None:
        super().__init__()
        act = ACTIVATIONS[cfg.activation_fn]
        self.discrete = isinstance(action_space, spaces.Discrete)
        out = int(action_space.n) if self.discrete else int(np.prod(action_space.shape))
        self.critic = _mlp([obs_dim, *cfg.net_arch, 1], act, 1.0, cfg.ortho_init)
        self.actor = _mlp([obs_dim, *cfg.net_arch, out], act, 0.01, cfg.ortho_init)
        self.log_std = nn.Parameter(
            torch.full((out,), float(cfg.log_std_init)), requires_grad=not self.discrete
        )

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        return self.critic(obs).squeeze(-1)

    def distribution(self, obs: torch.Tensor) -> Normal | Categorical:
        head = self.actor(obs)
        if self.discrete:
            return Categorical(logits=head)
        return Normal(head, self.log_std.exp().expand_as(head))

    def act(
        self, obs: torch.Tensor, action: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(action, log-probability, entropy, value)``; samples when ``action`` is None."""
        dist = self.distribution(obs)
        if action is None:
            action = dist.sample()
        logp, entropy = dist.log_prob(action), dist.entropy()
        if not self.discrete:
            logp, entropy = logp.sum(-1), entropy.sum(-1)
        return action, logp, entropy, self.value(obs)

    def deterministic(self, obs: torch.Tensor) -> torch.Tensor:
        head = self.actor(obs)
        return head.argmax(-1) if self.discrete else head.clamp(-1.0, 1.0)


class PPOTorchModel:
    """The trained agent: actor-critic, optimiser and step counters, with the interface
    that :mod:`agents.checkpoints` and :class:`agents.baselines.PolicyRollout` use
    (``save``, ``set_parameters``, ``predict``)."""

    def __init__(
        self,
        obs_dim: int,
        action_space: spaces.Space,
        cfg: PPOTorchConfig,
        device: str | torch.device = "cpu",
        seed: int = 0,
    ) -> None:
        torch.manual_seed(seed)
        self.device = torch.device(device)
        self.config = cfg
        self.action_space = action_space
        self.policy = ActorCritic(obs_dim, action_space, cfg).to(self.device)
        self.policy.optimizer = torch.optim.Adam(
            self.policy.parameters(), lr=cfg.learning_rate, eps=1e-5
        )
        self.num_timesteps = 0
        self._n_updates = 0
        self._episode_num = 0
        #: Where the last :func:`train_ppo_torch` call left its environment: ``(env,
        #: next observations, rows whose next step resets)``; a call with ``seed=None`` on
        #: the same env continues from there instead of resetting it.
        self.rollout: tuple[Any, torch.Tensor, torch.Tensor] | None = None

    # the checkpoint interface (agents.checkpoints, SB3's zip layout)
    def _get_torch_save_params(self) -> tuple[list[str], list[str]]:
        return ["policy", "policy.optimizer"], []

    def save(self, handle: Any) -> None:
        """Write an SB3-layout zip: JSON counters in ``data``, tensors in ``*.pth``."""
        data = {
            "num_timesteps": self.num_timesteps,
            "_n_updates": self._n_updates,
            "_episode_num": self._episode_num,
            "algo": "ppo-torch",
        }
        with zipfile.ZipFile(handle, "w") as archive:
            archive.writestr("data", json.dumps(data))
            states = {
                "policy": self.policy.state_dict(),
                "policy.optimizer": self.policy.optimizer.state_dict(),
            }
            for name, state in states.items():
                buffer = io.BytesIO()
                torch.save(state, buffer)
                archive.writestr(f"{name}.pth", buffer.getvalue())

    def set_parameters(
        self, tensors: dict[str, Any], exact_match: bool = True, device: Any = None
    ) -> None:
        self.policy.load_state_dict(tensors["policy"], strict=exact_match)
        self.policy.optimizer.load_state_dict(tensors["policy.optimizer"])

    @torch.no_grad()
    def predict(self, obs: Any, deterministic: bool = True) -> tuple[np.ndarray, None]:
        """Actions for ``obs`` (one observation or a batch, numpy or torch), as numpy;
        the mean (continuous) or most likely (discrete) action when ``deterministic``."""
        x = torch.as_tensor(np.asarray(obs, dtype=np.float32), device=self.device)
        single = x.dim() == 1
        x = x.unsqueeze(0) if single else x
        a = self.policy.deterministic(x) if deterministic else self.policy.act(x)[0]
        if not self.policy.discrete:
            a = a.clamp(-1.0, 1.0)
        out = a.cpu().numpy()
        return (out[0] if single else out), None


def make_env(num_envs: int, task: str, device: torch.device, env_kwargs: dict[str, Any]) -> Any:
    """The training environment: the native vector env with torch outputs on ``device``
    and next-step autoreset."""
    from nanoenv.envs import FormulationDesignVectorEnv

    kwargs = {k: v for k, v in env_kwargs.items() if k != "device"}
    return FormulationDesignVectorEnv(
        num_envs=num_envs,
        task=task,
        device=device,
        return_torch=True,
        autoreset_mode="NextStep",
        **kwargs,
    )


# -- the training loop ------------------------------------------------------------------------


def train_ppo_torch(
    model: PPOTorchModel,
    env: Any,
    total_steps: int,
    *,
    seed: int | None = 0,
    logger: Any = None,
    on_rollout: Any = None,
    log_every: int = 1,
) -> PPOTorchModel:
    """Train ``model`` on ``env`` until ``model.num_timesteps ≥ total_steps``.

    :param model: the agent (its ``num_timesteps`` carries on when resuming).
    :param env: a :class:`~nanoenv.envs.FormulationDesignVectorEnv` with
        ``return_torch=True`` and next-step autoreset on ``model.device`` (:func:`make_env`).
    :param total_steps: environment steps in total (over all environments).
    :param seed: environment seed of the first reset; ``None`` continues the episodes the
        previous call left on the same ``env`` (:attr:`PPOTorchModel.rollout`), as SB3's
        ``learn(reset_num_timesteps=False)`` does, and resets only a new env.
    :param logger: an SB3 logger (``record`` / ``dump``), or ``None``.
    :param on_rollout: called as ``on_rollout(model)`` after each update (checkpoints,
        stop requests); may raise to stop.
    :param log_every: dump the logs every this many updates.
    """
    cfg, device, agent = model.config, model.device, model.policy
    optimizer = agent.optimizer
    n_envs, n_steps = env.num_envs, cfg.n_steps
    obs_dim = env.single_observation_space.shape[0]
    act_shape = () if agent.discrete else env.single_action_space.shape
    # rollout buffers, on the device
    obs_buf = torch.zeros((n_steps, n_envs, obs_dim), device=device)
    act_buf = torch.zeros(
        (n_steps, n_envs, *act_shape),
        device=device,
        dtype=torch.long if agent.discrete else torch.float32,
    )
    logp_buf = torch.zeros((n_steps, n_envs), device=device)
    rew_buf = torch.zeros((n_steps, n_envs), device=device)
    term_buf = torch.zeros((n_steps, n_envs), device=device)
    done_buf = torch.zeros((n_steps, n_envs), device=device)
    valid_buf = torch.zeros((n_steps, n_envs), dtype=torch.bool, device=device)
    val_buf = torch.zeros((n_steps, n_envs), device=device)
    # episode statistics, on the device
    ep_return = torch.zeros(n_envs, device=device)
    ep_length = torch.zeros(n_envs, device=device)
    finished = torch.zeros(3, device=device)  # episodes, return sum, length sum
    successes = torch.zeros((), device=device)

    if seed is None and model.rollout is not None and model.rollout[0] is env:
        next_obs, resetting = model.rollout[1], model.rollout[2]
    else:
        next_obs, _ = env.reset(seed=seed)
        resetting = torch.zeros(n_envs, dtype=torch.bool, device=device)  # next step resets
    start, start_steps, iteration = time.perf_counter(), model.num_timesteps, 0
    while model.num_timesteps < total_steps:
        iteration += 1
        # 1. collect a rollout
        for t in range(n_steps):
            obs_buf[t] = next_obs
            valid_buf[t] = ~resetting
            with torch.no_grad():
                action, logp, _, value = agent.act(next_obs)
            act_buf[t], logp_buf[t], val_buf[t] = action, logp, value
            next_obs, reward, terminated, truncated, infos = env.step(action)
            done = terminated | truncated
            rew_buf[t], term_buf[t], done_buf[t] = reward, terminated.float(), done.float()
            ep_return += reward
            ep_length += (~resetting).float()
            # on CPU, skip the bookkeeping when nothing ended; on CUDA never sync to ask
            if device.type != "cpu" or bool(done.any()):
                success = torch.as_tensor(infos["is_success"], device=device) & done
                finished += torch.stack([done.sum(), ep_return[done].sum(), ep_length[done].sum()])
                successes += success.sum()
                ep_return[done], ep_length[done] = 0.0, 0.0
            resetting = done
            model.num_timesteps += n_envs

        # 2. advantages (GAE) with next-step autoreset: a step that only resets is masked
        #    out; an episode's last step bootstraps from its final observation's value
        #    when truncated (the next stored observation) and not when terminated
        with torch.no_grad():
            next_value = agent.value(next_obs)
            advantages = torch.zeros_like(rew_buf)
            last = torch.zeros(n_envs, device=device)
            for t in reversed(range(n_steps)):
                v_next = next_value if t == n_steps - 1 else val_buf[t + 1]
                delta = rew_buf[t] + cfg.gamma * v_next * (1.0 - term_buf[t]) - val_buf[t]
                last = delta + cfg.gamma * cfg.gae_lambda * (1.0 - done_buf[t]) * last
                last = torch.where(valid_buf[t], last, torch.zeros_like(last))
                advantages[t] = last
            returns = advantages + val_buf

        # 3. optimise the clipped surrogate on the valid steps, in minibatches
        keep = valid_buf.reshape(-1)
        b_obs, b_act = obs_buf.reshape(-1, obs_dim)[keep], act_buf.reshape(-1, *act_shape)[keep]
        b_logp, b_adv = logp_buf.reshape(-1)[keep], advantages.reshape(-1)[keep]
        b_ret, b_val = returns.reshape(-1)[keep], val_buf.reshape(-1)[keep]
        n = b_obs.shape[0]
        clip_fracs, approx_kl = [], torch.zeros((), device=device)
        pg_loss = v_loss = entropy_loss = torch.zeros((), device=device)
        for _epoch in range(cfg.n_epochs):
            order = torch.randperm(n, device=device)
            for lo in range(0, n, cfg.batch_size):
                mb = order[lo : lo + cfg.batch_size]
                if mb.numel() < 2 and cfg.normalize_advantage:
                    continue
                _, new_logp, entropy, new_value = agent.act(b_obs[mb], b_act[mb])
                log_ratio = new_logp - b_logp[mb]
                ratio = log_ratio.exp()
                with torch.no_grad():
                    approx_kl = ((ratio - 1) - log_ratio).mean()  # Schulman's k3 estimator
                    clip_fracs.append(((ratio - 1.0).abs() > cfg.clip_range).float().mean())
                adv = b_adv[mb]
                if cfg.normalize_advantage:
                    adv = (adv - adv.mean()) / (adv.std() + 1e-8)
                pg_loss = torch.max(
                    -adv * ratio, -adv * ratio.clamp(1 - cfg.clip_range, 1 + cfg.clip_range)
                ).mean()
                v_loss = ((new_value - b_ret[mb]) ** 2).mean()  # MSE, unclipped (SB3's default)
                entropy_loss = -entropy.mean()
                loss = pg_loss + cfg.ent_coef * entropy_loss + cfg.vf_coef * v_loss
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                nn.utils.clip_grad_norm_(agent.parameters(), cfg.max_grad_norm)
                optimizer.step()
                model._n_updates += 1
            if cfg.target_kl is not None and float(approx_kl) > 1.5 * cfg.target_kl:
                break

        # 4. log (one device sync per update)
        if logger is not None and iteration % log_every == 0:
            episodes, ret_sum, len_sum = finished.tolist()
            if episodes > 0:
                logger.record("rollout/ep_rew_mean", ret_sum / episodes)
                logger.record("rollout/ep_len_mean", len_sum / episodes)
                logger.record("rollout/success_rate", float(successes) / episodes)
            model._episode_num += int(episodes)
            finished.zero_()
            successes.zero_()
            var_y = b_ret.var()
            explained = float("nan") if var_y == 0 else float(1 - (b_ret - b_val).var() / var_y)
            elapsed = time.perf_counter() - start
            logger.record("time/fps", int((model.num_timesteps - start_steps) / max(elapsed, 1e-9)))
            logger.record("time/total_timesteps", model.num_timesteps)
            logger.record("train/policy_gradient_loss", float(pg_loss.detach()))
            logger.record("train/value_loss", float(v_loss.detach()))
            logger.record("train/entropy_loss", float(entropy_loss.detach()))
            logger.record("train/approx_kl", float(approx_kl))
            logger.record(
                "train/clip_fraction", float(torch.stack(clip_fracs).mean()) if clip_fracs else 0.0
            )
            logger.record("train/explained_variance", explained)
            logger.record("train/learning_rate", cfg.learning_rate)
            logger.record("train/n_updates", model._n_updates)
            logger.dump(model.num_timesteps)
        model.rollout = (env, next_obs, resetting)
        if on_rollout is not None:
            on_rollout(model)
    return model


# -- run folders (``nanoenv train`` with ``algo: ppo-torch``) ---------------------------------


def new_model(cfg: Any, device: str | torch.device) -> PPOTorchModel:
    """A fresh :class:`PPOTorchModel` for the :class:`~agents.rl.config.TrainConfig`
    ``cfg`` (its spaces come from a one-environment instance of the task)."""
    hp = PPOTorchConfig.from_hyperparameters(cfg.hyperparameters)
    probe = make_env(1, cfg.task, torch.device("cpu"), cfg.env.kwargs())
    obs_dim = probe.single_observation_space.shape[0]
    return PPOTorchModel(obs_dim, probe.single_action_space, hp, device, seed=cfg.seed)


class _Stop:
    """Set by SIGTERM (:func:`agents.rl.callbacks.sigterm_stops`): stop after the update."""

    stop_requested = False


def train_run(
    cfg: Any, run: Path, resume: bool, progress: bool, notes: list[str], final_checkpoint: bool
) -> PPOTorchModel:
    """Train ``cfg`` in the run folder ``run`` (locked by the caller), as
    :func:`agents.rl.training.train_model` does for SB3: checkpoints every
    ``cfg.checkpoint_every`` steps, logs, ``final_model.zip``, resume from the last
    checkpoint, a checkpoint on Ctrl-C or SIGTERM (then ``KeyboardInterrupt``)."""
    from stable_baselines3.common.logger import configure

    device = torch.device(resolve_device(cfg.device))
    if torch.device(resolve_device(cfg.env.device)) != device:
        raise ValueError(
            f"ppo-torch keeps environment and networks on one device: config keys "
            f"'device' ({cfg.device!r}) and 'env.device' ({cfg.env.device!r}) "
            "must name the same one"
        )
    model = new_model(cfg, device)
    path = None
    if resume:
        remove_stale_checkpoints(run)
        last = last_checkpoint(run)
        path = last[0] if last is not None else run / FINAL_MODEL
        load_model_file(model, path)
    env = make_env(cfg.num_envs, cfg.task, device, cfg.env.kwargs())
    logs = start_session(run, cfg, notes, path, model.num_timesteps)
    formats = ["csv"] + (["tensorboard"] if tensorboard_available() else [])
    logger = configure(str(logs), formats)
    folder = run / "checkpoints"
    folder.mkdir(exist_ok=True)

    def checkpoint(m: PPOTorchModel) -> None:
        save_model(m, folder / f"{CHECKPOINT_PREFIX}_{m.num_timesteps}_steps.zip")

    stop, saved_at = _Stop(), [model.num_timesteps]
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=cfg.total_steps, initial=model.num_timesteps, unit="step")

    def on_rollout(m: PPOTorchModel) -> None:
        if bar is not None:
            bar.update(m.num_timesteps - bar.n)
        if cfg.checkpoint_every and m.num_timesteps - saved_at[0] >= cfg.checkpoint_every:
            checkpoint(m)
            saved_at[0] = m.num_timesteps
        if stop.stop_requested:
            raise KeyboardInterrupt("SIGTERM: checkpoint saved")

    previous = sigterm_stops(stop)
    try:
        # fresh environment randomness on a resume: not the first segment's targets again
        train_ppo_torch(
            model,
            env,
            cfg.total_steps,
            seed=cfg.seed + model.num_timesteps,
            logger=logger,
            on_rollout=on_rollout,
        )
    except KeyboardInterrupt:
        checkpoint(model)
        raise
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        if bar is not None:
            bar.close()
        logger.close()
    record_training_cost(run, model.num_timesteps, env.total_sim_calls)
    save_model(model, run / FINAL_MODEL)
    if cfg.checkpoint_every and final_checkpoint and saved_at[0] != model.num_timesteps:
        checkpoint(model)
    env.close()
    return model
