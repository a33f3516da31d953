"""The hyperparameters of a training config, checked against the stable-baselines3
class before anything is built: an unknown keyword, a value of the wrong type or out of
range, or bad ``policy_kwargs`` (``net_arch``, ``activation_fn``) is a one-line
``ValueError`` naming the key and what is allowed."""

from __future__ import annotations

import inspect
import math
from typing import Any

import torch

from agents.rl.ppo_torch import PPOTorchConfig

__all__ = ["ACTIVATIONS", "HP_RANGES", "algo_class", "check_hyperparameters", "type_name"]

#: Constructor arguments of the SB3 classes that the config sets itself (not hyperparameters).
_RESERVED = {
    "self",
    "policy",
    "env",
    "device",
    "seed",
    "verbose",
    "tensorboard_log",
    "_init_setup_model",
    "kwargs",
    "args",
}
#: ``policy_kwargs.activation_fn`` names a config may give (name -> torch module class).
ACTIVATIONS = {
    "tanh": torch.nn.Tanh,
    "relu": torch.nn.ReLU,
    "elu": torch.nn.ELU,
    "leaky_relu": torch.nn.LeakyReLU,
    "gelu": torch.nn.GELU,
}


def type_name(tp: Any) -> str:
    """How error messages call a Python type (``int``: "an integer")."""
    return {
        int: "an integer",
        float: "a number",
        str: "a string",
        bool: "true/false",
        dict: "a mapping",
        list: "a list",
    }.get(tp, str(tp))


def algo_class(algo: str) -> type:
    """The stable-baselines3 class of ``algo`` (``"ppo"`` or ``"sac"``)."""
    from stable_baselines3 import PPO, SAC

    return {"ppo": PPO, "sac": SAC}[algo]


def _validate_policy_kwargs(algo: str, policy_kwargs: Any) -> None:
    if not isinstance(policy_kwargs, dict):
        raise ValueError(
            f"config key 'hyperparameters.policy_kwargs' must be a mapping; got {policy_kwargs!r}"
        )
    policy_cls = algo_class(algo).policy_aliases["MlpPolicy"]
    allowed = set(inspect.signature(policy_cls.__init__).parameters) - {
        "self",
        "observation_space",
        "action_space",
        "lr_schedule",
    }
    for key, value in policy_kwargs.items():
        if key not in allowed:
            raise ValueError(
                f"unknown config key 'hyperparameters.policy_kwargs.{key}' for {algo}; "
                f"allowed: {sorted(allowed)}"
            )
        if key == "net_arch":
            _check_net_arch(algo, value)
        elif isinstance(value, int | float):
            _check_number(f"hyperparameters.policy_kwargs.{key}", value)
        if key == "activation_fn" and value not in ACTIVATIONS:
            raise ValueError(
                f"config key 'hyperparameters.policy_kwargs.activation_fn' is {value!r}; "
                f"allowed: {sorted(ACTIVATIONS)}"
            )


#: Allowed ranges of numeric hyperparameters: ``(low, high, low_open, high_open)``.
HP_RANGES: dict[str, tuple[float, float, bool, bool]] = {
    "learning_rate": (0.0, math.inf, True, True),
    "gamma": (0.0, 1.0, False, False),
    "gae_lambda": (0.0, 1.0, False, False),
    "clip_range": (0.0, math.inf, True, True),
    "clip_range_vf": (0.0, math.inf, True, True),
    "vf_coef": (0.0, math.inf, False, True),
    "max_grad_norm": (0.0, math.inf, True, True),
    "target_kl": (0.0, math.inf, True, True),
    "tau": (0.0, 1.0, True, False),
    "n_steps": (1, math.inf, False, True),
    "batch_size": (1, math.inf, False, True),
    "n_epochs": (1, math.inf, False, True),
    "buffer_size": (1, math.inf, False, True),
    "learning_starts": (0, math.inf, False, True),
    "target_update_interval": (1, math.inf, False, True),
    "stats_window_size": (1, math.inf, False, True),
    "train_freq": (1, math.inf, False, True),
    "sde_sample_freq": (-1, math.inf, False, True),
}


def _range_text(low: float, high: float, low_open: bool, high_open: bool) -> str:
    return f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"


def _check_number(key: str, value: Any) -> None:
    """Finite, and inside :data:`HP_RANGES` when listed there."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return
    name = key.rsplit(".", 1)[-1]
    if not math.isfinite(value):
        raise ValueError(f"config key {key!r} must be a finite number; got {value}")
    if name == "gradient_steps" and not (value == -1 or value >= 1):
        raise ValueError(
            f"config key {key!r} is {value}; allowed: -1 (as many as environment steps) or >= 1"
        )
    if name == "ent_coef" and value < 0:
        raise ValueError(f"config key {key!r} is {value}; allowed: >= 0 (or 'auto' for SAC)")
    if name in HP_RANGES:
        low, high, low_open, high_open = HP_RANGES[name]
        inside = (value > low if low_open else value >= low) and (
            value < high if high_open else value <= high
        )
        if not inside:
            raise ValueError(
                f"config key {key!r} is {value}; allowed: "
                f"{_range_text(low, high, low_open, high_open)}"
            )


def _check_net_arch(algo: str, value: Any) -> None:
    """``net_arch``: a list of positive layer widths, or (per network) a mapping of such
    lists (``pi``/``vf`` for PPO, ``pi``/``qf`` for SAC)."""
    key = "hyperparameters.policy_kwargs.net_arch"
    heads = ("pi", "vf") if algo == "ppo" else ("pi", "qf")

    def widths(where: str, layers: Any) -> None:
        ok = isinstance(layers, list) and all(
            isinstance(w, int) and not isinstance(w, bool) and 1 <= w <= 1_000_000 for w in layers
        )
        if not ok:
            raise ValueError(
                f"config key {where!r} is {layers!r}; allowed: a list of layer "
                "widths, integers in [1, 1000000] (e.g. [64, 64])"
            )

    if isinstance(value, dict):
        unknown = sorted(set(value) - set(heads), key=str)
        if unknown:
            raise ValueError(f"config key {key!r} names {unknown[0]!r}; allowed: {list(heads)}")
        for head, layers in value.items():
            widths(f"{key}.{head}", layers)
    else:
        widths(key, value)


def check_hyperparameters(algo: str, hp: dict[str, Any]) -> None:
    """A one-line ``ValueError`` naming the key unless every entry of ``hp`` is a keyword
    of ``algo``'s SB3 class, of the type of its default, inside its range
    (:data:`HP_RANGES`), with valid ``policy_kwargs``; for ``ppo-torch``, what
    :meth:`~agents.rl.ppo_torch.PPOTorchConfig.from_hyperparameters` accepts."""
    if algo == "ppo-torch":
        PPOTorchConfig.from_hyperparameters(hp)
        return
    signature = inspect.signature(algo_class(algo).__init__)
    allowed = {n: p for n, p in signature.parameters.items() if n not in _RESERVED}
    for key, value in hp.items():
        if key not in allowed:
            raise ValueError(
                f"unknown config key 'hyperparameters.{key}' for {algo}; allowed: {sorted(allowed)}"
            )
        if key == "policy_kwargs":
            _validate_policy_kwargs(algo, value)
            continue
        default = allowed[key].default
        bad = False
        if isinstance(default, bool):
            bad = not isinstance(value, bool)
        elif isinstance(default, int):
            bad = isinstance(value, bool) or not isinstance(value, int)
        elif isinstance(default, float):
            bad = isinstance(value, bool) or not isinstance(value, (int, float))
        if bad:
            raise ValueError(
                f"config key 'hyperparameters.{key}' must be {type_name(type(default))} "
                f"(default {default!r}); got {type(value).__name__} {value!r}"
            )
        _check_number(f"hyperparameters.{key}", value)
