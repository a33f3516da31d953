"""PPO and SAC (stable-baselines3) trained on the native vector environment.

Training runs on :class:`~nanoenv.envs.FormulationDesignVectorEnv` seen through
:class:`~nanoenv.envs.sb3.SB3VecEnvAdapter` and wrapped in ``VecMonitor`` (episode
return, length and success rate in the logs). A run is described by a
:class:`TrainConfig`, read from YAML with :func:`load_config` and validated strictly
before anything is trained: an unknown key, a value of the wrong type, an unknown
algorithm, device or task, or an algorithm hyperparameter that the SB3 class does not
take raises ``ValueError`` naming the key and what is allowed.

:func:`train` writes a new run folder (never an existing one)::

    runs/<algo>_<task>_<UTC timestamp>_s<seed>[_<n>]/
        config.yaml          the full, validated configuration
        meta.json            seed, package versions, git commit, start time, device
        checkpoints/         model_<steps>_steps.zip (+ SAC replay buffer .npz), atomic
        logs/<session>/      progress.csv (+ TensorBoard events when tensorboard is installed)
        final_model.zip      the trained model
        eval/                held-out evaluation at the end (``eval.at_end``)

and :func:`train` with ``resume=RUN_DIR`` continues such a run from its last
checkpoint (the step count carries on). The training itself is :func:`train_model`, which
other trainers call on a run folder of their own, with an initial-design proposer or a
reward wrapper for the environments (:func:`agents.prior.train_prior_guided`).
:func:`evaluate_run` and :func:`evaluate_baseline` run the seeded
:func:`~nanoenv.tasks.benchmark_suite` and save per-target results as JSON and CSV.

>>> cfg = TrainConfig(algo="ppo", task="realisable", total_steps=256, num_envs=4)
>>> cfg.algo, cfg.env.max_edits
('ppo', 20)
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as _dt
import importlib.util
import inspect
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import yaml

from nanoenv.files import atomic_open, atomic_write
from nanoenv.kinetics import CONSTANTS_NAMES
from nanoenv.tasks import TASK_FAMILIES, get_family

if TYPE_CHECKING:
    from nanoenv.envs.problem import InitialDesigner

__all__ = [
    "ALGORITHMS",
    "DEVICES",
    "EnvConfig",
    "EvalConfig",
    "TrainConfig",
    "check_evaluation_size",
    "evaluate_baseline",
    "evaluate_run",
    "last_checkpoint",
    "load_config",
    "load_model",
    "make_vec_env",
    "train",
    "train_model",
]

#: Algorithms :func:`train` knows (name -> stable-baselines3 class name).
ALGORITHMS = ("ppo", "sac", "ppo-torch")  # ppo-torch: agents/rl/ppo_torch.py
#: Devices a config may name.
DEVICES = ("cpu", "cuda", "auto")
#: Constructor arguments of the SB3 classes that the config sets itself (not hyperparameters).
_RESERVED = {"self", "policy", "env", "device", "seed", "verbose", "tensorboard_log",
             "_init_setup_model", "kwargs", "args"}  # fmt: skip
_ACTIVATIONS = {"tanh": torch.nn.Tanh, "relu": torch.nn.ReLU, "elu": torch.nn.ELU,
                "leaky_relu": torch.nn.LeakyReLU, "gelu": torch.nn.GELU}  # fmt: skip
FINAL_MODEL = "final_model.zip"
#: Most held-out targets per family an evaluation may ask for (``eval.n``, ``--n``).
MAX_EVAL_TARGETS = 10_000
#: Most simulator calls per target an evaluation may ask for (``--budget``).
MAX_EVAL_BUDGET = 1_000_000
CHECKPOINT_PREFIX = "model"


# -- configuration --------------------------------------------------------------------------


@dataclass
class EnvConfig:
    """Environment keywords of the training (and evaluation) environments.

    :param max_edits: edit budget per episode.
    :param max_step: largest coordinate change per edit.
    :param success_f2: f2 that ends an episode in success.
    :param success_bonus: reward added on success.
    :param initial_design: ``"random"`` or ``"center"`` (a proposer such as a prior's
        screened designs is not configuration: :func:`train_model` takes it).
    :param device: torch device of the simulator (``"cpu"``, ``"cuda"``, ``"auto"``).
    :param constants: simulator constants, ``"literature"`` or ``"calibrated"``
        (``None``: the task family's default, see :mod:`nanoenv.tasks`); held-out
        ``realisable`` targets are drawn under the same constants.
    :param reward_model: a registered reward model (:data:`nanoenv.rewards.REWARD_MODELS`)
        or ``"module:Class"`` of your own, built with no arguments (``None``: the task
        family's default reward).
    """

    max_edits: int = 20
    max_step: float = 0.25
    success_f2: float = 50.0
    success_bonus: float = 1.0
    initial_design: str = "random"
    device: str = "cpu"
    constants: str | None = None
    reward_model: str | None = None

    def __post_init__(self) -> None:
        if self.constants is not None and self.constants not in CONSTANTS_NAMES:
            raise ValueError(
                f"env.constants={self.constants!r}; allowed: {list(CONSTANTS_NAMES)} or null "
                "(the task family's default)"
            )
        if self.reward_model is not None:
            _reward_model(self.reward_model)  # unknown names fail before any folder is made

    def kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :class:`~nanoenv.envs.FormulationDesignEnv`."""
        out = dataclasses.asdict(self)
        if self.reward_model is not None:
            out["reward_model"] = _reward_model(self.reward_model)
        return out


def _reward_model(spec: str) -> Any:
    """A registered reward model's name, or an instance of ``"module:Class"``."""
    import importlib

    from nanoenv.rewards import REWARD_MODELS

    if ":" not in spec:
        if spec not in REWARD_MODELS:
            raise ValueError(f"env.reward_model={spec!r}; allowed: {sorted(REWARD_MODELS)} or "
                             "module:Class")  # fmt: skip
        return spec
    module, _, attr = spec.partition(":")
    try:
        factory = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"env.reward_model={spec!r} cannot be loaded: {exc}") from None
    return factory()


@dataclass
class EvalConfig:
    """Held-out evaluation on ``benchmark_suite(family, n, seed)``.

    :param families: families evaluated (``None``: the training task).
    :param n: targets per family.
    :param seed: suite seed (keep it away from training seeds).
    :param budget: simulator calls per target (``None``: one episode, ``1 + max_edits``).
    :param repeat: roll out further episodes while budget is left and none succeeded.
    :param at_end: evaluate when training finishes.
    """

    families: list[str] | None = None
    n: int = 16
    seed: int = 1000
    budget: int | None = None
    repeat: bool = False
    at_end: bool = True


@dataclass
class TrainConfig:
    """Everything that defines a training run.

    :param algo: ``"ppo"``, ``"sac"`` or ``"ppo-torch"`` (:mod:`agents.rl.ppo_torch`).
    :param task: task family trained on (:data:`nanoenv.tasks.TASK_FAMILIES`).
    :param total_steps: environment steps in total (over all environments).
    :param num_envs: environments stepped as one batch.
    :param seed: seed of the model and of the environments.
    :param device: device of the networks: ``"cpu"``, ``"cuda"`` or ``"auto"``.
    :param env: environment keywords (:class:`EnvConfig`).
    :param hyperparameters: keyword arguments of the SB3 class (``learning_rate``,
        ``n_steps``, ``policy_kwargs``, …), checked against its constructor.
    :param checkpoint_every: environment steps between checkpoints (0: none).
    :param eval: held-out evaluation settings (:class:`EvalConfig`).
    :param runs_dir: folder in which new run folders are made.
    """

    algo: str = "ppo"
    task: str = "realisable"
    total_steps: int = 50_000
    num_envs: int = 8
    seed: int = 0
    device: str = "cpu"
    env: EnvConfig = field(default_factory=EnvConfig)
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    checkpoint_every: int = 10_000
    eval: EvalConfig = field(default_factory=EvalConfig)
    runs_dir: str = "runs"

    def __post_init__(self) -> None:
        if isinstance(self.env, dict):
            self.env = _build(EnvConfig, self.env, "env")
        if isinstance(self.eval, dict):
            self.eval = _build(EvalConfig, self.eval, "eval")
        for f in dataclasses.fields(self):
            if f.name not in ("env", "eval"):
                setattr(self, f.name, _check_type(f.name, getattr(self, f.name), str(f.type)))
        for prefix, sub in (("env", self.env), ("eval", self.eval)):
            if not isinstance(sub, EnvConfig | EvalConfig):
                raise ValueError(f"config key {prefix!r} must be a mapping; got {sub!r}")
            for f in dataclasses.fields(sub):
                key = f"{prefix}.{f.name}"
                setattr(sub, f.name, _check_type(key, getattr(sub, f.name), str(f.type)))
        _validate(self)

    @classmethod
    def from_dict(cls, data: Any) -> TrainConfig:
        """Build and validate a config from a mapping (as read from YAML)."""
        return _build(cls, data, "")

    def to_dict(self) -> dict[str, Any]:
        """The config as plain data (what ``config.yaml`` holds)."""
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> TrainConfig:
        """A validated copy with ``changes`` applied (``None`` values are ignored)."""
        changes = {k: v for k, v in changes.items() if v is not None}
        return TrainConfig.from_dict({**self.to_dict(), **changes})

    @property
    def eval_families(self) -> list[str]:
        """The families evaluated (the training task unless set)."""
        return list(self.eval.families or [self.task])


def _type_name(tp: Any) -> str:
    return {int: "an integer", float: "a number", str: "a string", bool: "true/false",
            dict: "a mapping", list: "a list"}.get(tp, str(tp))  # fmt: skip


def _check_type(key: str, value: Any, annotation: str) -> Any:
    """Check ``value`` against the (string) annotation of a config field; ints are
    accepted where floats are expected."""
    optional = annotation.endswith("| None")
    base = annotation.removesuffix("| None").strip()
    if value is None:
        if optional:
            return None
        raise ValueError(f"config key {key!r} must not be empty (null)")
    expected = {"int": int, "float": float, "str": str, "bool": bool,
                "dict[str, Any]": dict, "list[str]": list}.get(base)  # fmt: skip
    if expected is None:  # nested dataclass, handled by the caller
        return value
    ok = isinstance(value, expected) and not (expected is int and isinstance(value, bool))
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        value, ok = float(value), True
    if not ok:
        raise ValueError(
            f"config key {key!r} must be {_type_name(expected)}"
            f"{' or null' if optional else ''}; got {type(value).__name__} {value!r}"
        )
    if base == "list[str]" and not all(isinstance(v, str) for v in value):
        raise ValueError(f"config key {key!r} must be a list of strings; got {value!r}")
    return value


def _build(cls: type, data: Any, prefix: str) -> Any:
    """Instantiate the config dataclass ``cls`` from ``data`` with strict key/type checks."""
    where = f"config key {prefix!r}" if prefix else "the config"
    if not isinstance(data, dict):
        raise ValueError(f"{where} must be a mapping; got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields), key=str)
    if unknown:
        name = f"{prefix}.{unknown[0]}" if prefix else str(unknown[0])
        raise ValueError(f"unknown config key {name!r}; allowed: {sorted(fields)}")
    values: dict[str, Any] = {}
    for name, value in data.items():
        key = f"{prefix}.{name}" if prefix else name
        annotation = str(fields[name].type)
        if annotation in ("EnvConfig", "EvalConfig"):
            sub = EnvConfig if annotation == "EnvConfig" else EvalConfig
            values[name] = value if isinstance(value, sub) else _build(sub, value, key)
        else:
            values[name] = _check_type(key, value, annotation)
    return cls(**values)


def _algo_class(algo: str) -> type:
    from stable_baselines3 import PPO, SAC

    return {"ppo": PPO, "sac": SAC}[algo]


def _validate_policy_kwargs(algo: str, policy_kwargs: Any) -> None:
    if not isinstance(policy_kwargs, dict):
        raise ValueError(f"config key 'hyperparameters.policy_kwargs' must be a mapping; "
                         f"got {policy_kwargs!r}")  # fmt: skip
    policy_cls = _algo_class(algo).policy_aliases["MlpPolicy"]
    allowed = set(inspect.signature(policy_cls.__init__).parameters) - {
        "self", "observation_space", "action_space", "lr_schedule"}  # fmt: skip
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
        if key == "activation_fn" and value not in _ACTIVATIONS:
            raise ValueError(
                f"config key 'hyperparameters.policy_kwargs.activation_fn' is {value!r}; "
                f"allowed: {sorted(_ACTIVATIONS)}"
            )


#: Allowed ranges of numeric hyperparameters: ``(low, high, low_open, high_open)``.
_HP_RANGES: dict[str, tuple[float, float, bool, bool]] = {
    "learning_rate": (0.0, math.inf, True, True), "gamma": (0.0, 1.0, False, False),
    "gae_lambda": (0.0, 1.0, False, False), "clip_range": (0.0, math.inf, True, True),
    "clip_range_vf": (0.0, math.inf, True, True), "vf_coef": (0.0, math.inf, False, True),
    "max_grad_norm": (0.0, math.inf, True, True), "target_kl": (0.0, math.inf, True, True),
    "tau": (0.0, 1.0, True, False), "n_steps": (1, math.inf, False, True),
    "batch_size": (1, math.inf, False, True), "n_epochs": (1, math.inf, False, True),
    "buffer_size": (1, math.inf, False, True), "learning_starts": (0, math.inf, False, True),
    "target_update_interval": (1, math.inf, False, True),
    "stats_window_size": (1, math.inf, False, True), "train_freq": (1, math.inf, False, True),
    "sde_sample_freq": (-1, math.inf, False, True),
}  # fmt: skip


def _range_text(low: float, high: float, low_open: bool, high_open: bool) -> str:
    return f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"


def _check_number(key: str, value: Any) -> None:
    """Finite, and inside :data:`_HP_RANGES` when listed there."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return
    name = key.rsplit(".", 1)[-1]
    if not math.isfinite(value):
        raise ValueError(f"config key {key!r} must be a finite number; got {value}")
    if name == "gradient_steps" and not (value == -1 or value >= 1):
        raise ValueError(f"config key {key!r} is {value}; allowed: -1 (as many as environment "
                         "steps) or >= 1")  # fmt: skip
    if name == "ent_coef" and value < 0:
        raise ValueError(f"config key {key!r} is {value}; allowed: >= 0 (or 'auto' for SAC)")
    if name in _HP_RANGES:
        low, high, low_open, high_open = _HP_RANGES[name]
        inside = (value > low if low_open else value >= low) and (
            value < high if high_open else value <= high)  # fmt: skip
        if not inside:
            raise ValueError(f"config key {key!r} is {value}; allowed: "
                             f"{_range_text(low, high, low_open, high_open)}")  # fmt: skip


def _check_net_arch(algo: str, value: Any) -> None:
    """``net_arch``: a list of positive layer widths, or (per network) a mapping of such
    lists (``pi``/``vf`` for PPO, ``pi``/``qf`` for SAC)."""
    key = "hyperparameters.policy_kwargs.net_arch"
    heads = ("pi", "vf") if algo == "ppo" else ("pi", "qf")

    def widths(where: str, layers: Any) -> None:
        ok = isinstance(layers, list) and all(
            isinstance(w, int) and not isinstance(w, bool) and 1 <= w <= 1_000_000
            for w in layers)  # fmt: skip
        if not ok:
            raise ValueError(f"config key {where!r} is {layers!r}; allowed: a list of layer "
                             "widths, integers in [1, 1000000] (e.g. [64, 64])")  # fmt: skip

    if isinstance(value, dict):
        unknown = sorted(set(value) - set(heads), key=str)
        if unknown:
            raise ValueError(f"config key {key!r} names {unknown[0]!r}; allowed: {list(heads)}")
        for head, layers in value.items():
            widths(f"{key}.{head}", layers)
    else:
        widths(key, value)


def _validate_hyperparameters(algo: str, hp: dict[str, Any]) -> None:
    if algo == "ppo-torch":
        from agents.rl.ppo_torch import PPOTorchConfig

        PPOTorchConfig.from_hyperparameters(hp)
        return
    signature = inspect.signature(_algo_class(algo).__init__)
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
                f"config key 'hyperparameters.{key}' must be {_type_name(type(default))} "
                f"(default {default!r}); got {type(value).__name__} {value!r}"
            )
        _check_number(f"hyperparameters.{key}", value)


def _validate(cfg: TrainConfig) -> None:
    """Value checks of a built config (types were checked by :func:`_build`)."""
    if cfg.algo not in ALGORITHMS:
        raise ValueError(f"config key 'algo' is {cfg.algo!r}; allowed: {list(ALGORITHMS)}")
    for key, device in (("device", cfg.device), ("env.device", cfg.env.device)):
        if device not in DEVICES:
            raise ValueError(f"config key {key!r} is {device!r}; allowed: {list(DEVICES)}")
    if cfg.task not in TASK_FAMILIES:
        raise ValueError(f"config key 'task' is {cfg.task!r}; allowed: {sorted(TASK_FAMILIES)}")
    for family in cfg.eval.families or []:
        if family not in TASK_FAMILIES:
            raise ValueError(
                f"config key 'eval.families' names {family!r}; allowed: {sorted(TASK_FAMILIES)}"
            )
        if get_family(family).carrier is not get_family(cfg.task).carrier:
            raise ValueError(
                f"config key 'eval.families' names {family!r}, whose design space differs "
                f"from that of the training task {cfg.task!r}"
            )
    positive = {"total_steps": cfg.total_steps, "num_envs": cfg.num_envs,
                "env.max_edits": cfg.env.max_edits, "eval.n": cfg.eval.n}  # fmt: skip
    for key, value in positive.items():
        if value < 1:
            raise ValueError(f"config key {key!r} must be positive; got {value}")
    if cfg.checkpoint_every < 0:
        raise ValueError(f"config key 'checkpoint_every' must be >= 0; got {cfg.checkpoint_every}")
    if cfg.eval.budget is not None and not 1 <= cfg.eval.budget <= MAX_EVAL_BUDGET:
        raise ValueError(f"config key 'eval.budget' is {cfg.eval.budget}; allowed: [1, "
                         f"{MAX_EVAL_BUDGET}] simulator calls")  # fmt: skip
    if not 0 < cfg.env.max_step <= 2:
        raise ValueError(f"config key 'env.max_step' must be in (0, 2]; got {cfg.env.max_step}")
    if cfg.env.initial_design not in ("random", "center"):
        raise ValueError(f"config key 'env.initial_design' is {cfg.env.initial_design!r}; "
                         "allowed: ['center', 'random']")  # fmt: skip
    _validate_hyperparameters(cfg.algo, cfg.hyperparameters)
    if not math.isfinite(cfg.env.success_f2):
        raise ValueError(f"config key 'env.success_f2' is {cfg.env.success_f2}; allowed: a "
                         "finite f2 (50: similar curves)")  # fmt: skip
    if not math.isfinite(cfg.env.success_bonus):
        raise ValueError(f"config key 'env.success_bonus' is {cfg.env.success_bonus}; allowed: "
                         "a finite reward")  # fmt: skip
    if cfg.eval.n > MAX_EVAL_TARGETS:
        raise ValueError(f"config key 'eval.n' is {cfg.eval.n}; allowed: [1, "
                         f"{MAX_EVAL_TARGETS}] targets per family")  # fmt: skip
    if cfg.algo == "ppo":
        n_steps = cfg.hyperparameters.get("n_steps", 2048)
        if n_steps * cfg.num_envs < 2:
            raise ValueError(f"config keys 'hyperparameters.n_steps' x 'num_envs' = "
                             f"{n_steps} x {cfg.num_envs} must be > 1 (PPO's rollout)")  # fmt: skip


class _Loader(yaml.SafeLoader):
    """Safe YAML loader that also reads ``1e-3`` (no dot) as a float, as YAML 1.2 does,
    and refuses a key given twice in one mapping (PyYAML silently keeps the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)  # type: ignore[no-untyped-call]
            line = key_node.start_mark.line + 1
            if key in seen:
                raise ValueError(f"config key {key!r} is given twice (lines {seen[key]} and "
                                 f"{line}); give each key once")  # fmt: skip
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def load_config(path: str | os.PathLike[str]) -> TrainConfig:
    """Read and validate a YAML training config (``ValueError`` on any problem)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"config file {str(path)!r} does not exist")
    try:
        data = yaml.load(path.read_text(encoding="utf-8-sig"), Loader=_Loader)
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ValueError(f"config file {str(path)!r} is not valid YAML: {exc}") from None
    try:
        return TrainConfig.from_dict(data if data is not None else {})
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


# -- environments and models ----------------------------------------------------------------


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
    native = FormulationDesignVectorEnv(num_envs=cfg.num_envs, task=cfg.task,
                                        autoreset_mode="SameStep", **kwargs)  # fmt: skip
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
            pk["activation_fn"] = _ACTIVATIONS[pk["activation_fn"]]
        hp["policy_kwargs"] = pk
    return hp


def _resolve_device(device: str) -> str:
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("config key 'device' is 'cuda' but no CUDA device is available")
    return "cuda" if device == "auto" and torch.cuda.is_available() else (
        "cpu" if device == "auto" else device)  # fmt: skip


def last_checkpoint(run_dir: str | os.PathLike[str]) -> tuple[Path, Path | None, int] | None:
    """``(model, replay buffer or None, steps)`` of the latest checkpoint of a run.

    A checkpoint's replay buffer (``.npz``) is written before its model zip, so the
    latest model always comes with its buffer when one was saved; a crash between the
    two leaves the previous checkpoint as the latest."""
    folder = Path(run_dir) / "checkpoints"
    best: tuple[int, Path] | None = None
    for path in folder.glob(f"{CHECKPOINT_PREFIX}_*_steps.zip"):
        m = re.fullmatch(rf"{CHECKPOINT_PREFIX}_(\d+)_steps\.zip", path.name)
        if m and (best is None or int(m.group(1)) > best[0]):
            best = (int(m.group(1)), path)
    if best is None:
        return None
    steps, model = best
    for suffix in ("npz", "pkl"):  # a .pkl (older runs) is found so that it can be refused
        buffer = folder / f"{CHECKPOINT_PREFIX}_replay_buffer_{steps}_steps.{suffix}"
        if buffer.is_file():
            return model, buffer, steps
    return model, None, steps


def _new_model(cfg: TrainConfig, env: Any, device: str, **overrides: Any) -> Any:
    """A fresh SB3 model of ``cfg`` on ``env`` (``overrides``: hyperparameters)."""
    if cfg.algo == "ppo-torch":
        from agents.rl.ppo_torch import new_model

        return new_model(cfg, device)
    hp = {**_hyperparameters(cfg), **overrides}
    try:
        return _algo_class(cfg.algo)("MlpPolicy", env, seed=cfg.seed, device=device, verbose=0,
                                     **hp)  # fmt: skip
    except (AssertionError, ValueError, TypeError) as exc:  # SB3's own checks
        raise ValueError(f"stable-baselines3 rejects the config's hyperparameters: "
                         f"{' '.join(str(exc).split()) or type(exc).__name__}") from None


def load_model(run_dir: str | os.PathLike[str], device: str = "cpu") -> Any:
    """The final model of a run (its latest checkpoint if it has none yet).

    Nothing in the run folder is unpickled: the model is rebuilt from the run's
    validated ``config.yaml`` and the zip's weights are read as plain tensors
    (:func:`agents.checkpoints.load_model_file`); a crafted file is refused with a
    ``ValueError``. A SAC model gets a one-slot replay buffer (evaluation needs none).
    """
    from agents.checkpoints import load_model_file

    run_dir = Path(run_dir)
    if not (run_dir / "config.yaml").is_file():
        raise ValueError(f"{str(run_dir)!r} is not a run folder (no config.yaml)")
    cfg = load_config(run_dir / "config.yaml")
    path = run_dir / FINAL_MODEL
    if not path.is_file():
        last = last_checkpoint(run_dir)
        if last is None:
            raise ValueError(f"run folder {str(run_dir)!r} has neither {FINAL_MODEL} nor a "
                             "checkpoint")  # fmt: skip
        path = last[0]
    env = make_vec_env(cfg)
    overrides = {"buffer_size": 1, "learning_starts": 0} if cfg.algo == "sac" else {}
    try:
        return load_model_file(_new_model(cfg, env, _resolve_device(device), **overrides), path)
    finally:
        env.close()


# -- run folders ----------------------------------------------------------------------------


def _utc_stamp() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def new_folder(parent: str | os.PathLike[str], name: str) -> Path:
    """Create and return ``parent/name`` or, if it exists, ``parent/name_<n>`` (never an
    existing folder)."""
    parent = Path(parent)
    parent.mkdir(parents=True, exist_ok=True)
    for n in range(10_000):
        path = parent / (name if n == 0 else f"{name}_{n}")
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path
    raise OSError(f"could not make a new folder {name!r} in {str(parent)!r}")


def make_run_folder(
    run_dir: str | os.PathLike[str] | None,
    parent: str | os.PathLike[str],
    prefix: str,
    seed: int,
) -> Path:
    """``run_dir`` (created; it must not hold anything: runs are never overwritten), or a
    new folder ``<parent>/<prefix>_<UTC timestamp>_s<seed>[_n]``."""
    if run_dir is None:
        return new_folder(parent, f"{prefix}_{_utc_stamp()}_s{seed}")
    run = Path(run_dir)
    if run.exists() and any(run.iterdir()):
        raise ValueError(f"run folder {str(run)!r} exists and is not empty; runs are never "
                         "overwritten")  # fmt: skip
    run.mkdir(parents=True, exist_ok=True)
    return run


def _package_versions() -> dict[str, str | None]:
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str | None] = {"python": sys.version.split()[0]}
    for name in ("torch", "stable-baselines3", "gymnasium", "nanoenv", "numpy"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def _git_commit() -> str | None:
    root = Path(__file__).resolve().parent.parent
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                             text=True, timeout=10, check=True)  # fmt: skip
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=root, capture_output=True, text=True, timeout=10)  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def _rich_available() -> bool:
    return importlib.util.find_spec("rich") is not None


def _tensorboard_available() -> bool:
    return importlib.util.find_spec("tensorboard") is not None


# -- callbacks ------------------------------------------------------------------------------


#: Replay buffers kept in ``checkpoints/`` (those of the latest checkpoints; older ones,
#: up to ~100 MB each, are deleted).
KEEP_REPLAY_BUFFERS = 2


class _StopRequested(Exception):
    """SIGTERM arrived: stop at the next step, save and exit (like Ctrl-C)."""


def _checkpoint_callback_class() -> type:
    from stable_baselines3.common.callbacks import CheckpointCallback

    class AtomicCheckpointCallback(CheckpointCallback):
        """SB3's ``CheckpointCallback`` with safe, atomic checkpoints: the replay buffer
        (SAC) as ``.npz`` first, then the model zip, each written atomically
        (:mod:`nanoenv.files`), so a checkpoint whose model exists is complete; buffers
        older than the last :data:`KEEP_REPLAY_BUFFERS` checkpoints are deleted. It
        also ends training at the next step once ``stop_requested`` is set (SIGTERM)."""

        stop_requested = False

        def save_now(self) -> None:
            """Save a checkpoint at the current step count."""
            from agents.checkpoints import prune_replay_buffers, save_model, save_replay_buffer

            buffer = getattr(self.model, "replay_buffer", None)
            with_buffer = self.save_replay_buffer and buffer is not None
            if with_buffer:
                save_replay_buffer(buffer, self._checkpoint_path("replay_buffer_", "npz"))
            save_model(self.model, self._checkpoint_path(extension="zip"))
            if with_buffer:
                steps = sorted(
                    int(m.group(1))
                    for p in Path(self.save_path).glob(f"{self.name_prefix}_*_steps.zip")
                    if (m := re.fullmatch(rf"{self.name_prefix}_(\d+)_steps\.zip", p.name))
                )
                prune_replay_buffers(self.save_path, set(steps[-KEEP_REPLAY_BUFFERS:]))

        def _on_step(self) -> bool:
            if self.save_freq > 0 and self.n_calls % self.save_freq == 0:
                self.save_now()
            if self.stop_requested:
                raise _StopRequested
            return True

    return AtomicCheckpointCallback


def _progress_callback(total: int, initial: int) -> Any:
    """A tqdm progress bar over environment steps (SB3's own bar needs ``rich`` too)."""
    from stable_baselines3.common.callbacks import BaseCallback
    from tqdm.auto import tqdm

    class TqdmCallback(BaseCallback):
        def _on_training_start(self) -> None:
            self.bar = tqdm(total=total, initial=initial, unit="step", dynamic_ncols=True)

        def _on_step(self) -> bool:
            self.bar.update(self.model.num_timesteps - self.bar.n)
            return True

        def _on_training_end(self) -> None:
            self.bar.close()

    return TqdmCallback()


# -- training -------------------------------------------------------------------------------


def _write_run_files(run_dir: Path, cfg: TrainConfig, notes: list[str]) -> None:
    atomic_write(run_dir / "config.yaml", yaml.safe_dump(cfg.to_dict(), sort_keys=False))
    meta = {
        "seed": cfg.seed,
        "algo": cfg.algo,
        "task": cfg.task,
        "started_utc": _utc_stamp(),
        "versions": _package_versions(),
        "git_commit": _git_commit(),
        "device": _resolve_device(cfg.device),
        "torch_threads": torch.get_num_threads(),
        "command": sys.argv,
        "notes": notes,
    }
    atomic_write(run_dir / "meta.json", json.dumps(meta, indent=1, default=str))


def train(
    config: TrainConfig | str | os.PathLike[str] | None,
    run_dir: str | os.PathLike[str] | None = None,
    resume: str | os.PathLike[str] | None = None,
    progress: bool = True,
) -> Path:
    """Train ``config`` (a :class:`TrainConfig` or a YAML path) and return the run folder.

    :param config: the run's configuration; with ``resume`` it may be ``None`` (the run's
        own ``config.yaml`` is used) or a config whose ``total_steps`` is the new total.
    :param run_dir: the new run folder (must not exist or be empty); default
        ``<runs_dir>/<algo>_<task>_<UTC timestamp>_s<seed>[_n]``.
    :param resume: a run folder to continue from its last checkpoint (or final model),
        with the step count carried on (``reset_num_timesteps=False``). For SAC the
        replay buffer is restored when it was checkpointed.
    :param progress: show a progress bar.

    The training is :func:`train_model`'s; the held-out evaluation (``eval.at_end``)
    follows it. A ``KeyboardInterrupt`` or SIGTERM saves one more (atomic) checkpoint and
    raises ``KeyboardInterrupt``; earlier checkpoints are never touched. A new run that
    fails before its first checkpoint (a config that SB3 rejects, say) leaves no run
    folder behind. While it trains, the run folder is locked: a second ``train`` or
    ``--resume`` of it fails at once with a ``ValueError``.
    """
    if resume is not None:
        resume = Path(resume)
        if not (resume / "config.yaml").is_file():
            raise ValueError(f"--resume {str(resume)!r} is not a run folder (no config.yaml)")
        saved = load_config(resume / "config.yaml")
        if config is None:
            cfg = saved
        else:
            cfg = load_config(config) if not isinstance(config, TrainConfig) else config
            if (cfg.algo, cfg.task) != (saved.algo, saved.task):
                raise ValueError(f"cannot resume a {saved.algo} run on {saved.task!r} with a "
                                 f"{cfg.algo} config on {cfg.task!r}")  # fmt: skip
        if last_checkpoint(resume) is None and not (resume / FINAL_MODEL).is_file():
            raise ValueError(f"run folder {str(resume)!r} has no checkpoint to resume from")
        run = resume
    else:
        if config is None:
            raise ValueError("a config is needed unless resuming")
        cfg = config if isinstance(config, TrainConfig) else load_config(config)
        existed = run_dir is not None and Path(run_dir).exists()
        first_new = _first_missing(Path(run_dir) if run_dir is not None else Path(cfg.runs_dir))
        run = make_run_folder(run_dir, cfg.runs_dir, f"{cfg.algo}_{cfg.task}", cfg.seed)
        from agents.checkpoints import run_lock

        with run_lock(run):  # taken first: a process that loses the race deletes nothing
            try:
                _train_locked(cfg, run, False, progress, [], None, None, True)
            except Exception:
                # nothing trained yet (no checkpoint, no model): leave no half-made folder
                if last_checkpoint(run) is None and not (run / FINAL_MODEL).exists():
                    if existed:
                        for child in run.iterdir():
                            shutil.rmtree(child) if child.is_dir() else child.unlink()
                    else:  # the run folder, and the parents made for it while still empty
                        shutil.rmtree(run, ignore_errors=True)
                        for parent in run.parents if first_new is not None else ():
                            if parent == first_new.parent or not _remove_empty(parent):
                                break
                raise
        if cfg.eval.at_end:
            evaluate_run(run, out=run, progress=False)
        return run
    train_model(cfg, run, resume=True, progress=progress)
    if cfg.eval.at_end:
        evaluate_run(run, out=run, progress=False)
    return run


def _remove_empty(folder: Path) -> bool:
    """Remove ``folder`` if it is empty (another process may be using it otherwise)."""
    try:
        folder.rmdir()
    except OSError:
        return False
    return True


def _first_missing(path: Path) -> Path | None:
    """The outermost folder of ``path`` (itself included) that does not exist yet."""
    missing = None
    for folder in (path, *path.parents):
        if folder.exists():
            break
        missing = folder
    return missing


def train_model(
    cfg: TrainConfig,
    run: Path,
    *,
    resume: bool = False,
    progress: bool = True,
    notes: Sequence[str] = (),
    initial_design: InitialDesigner | None = None,
    env_wrapper: Callable[[Any], Any] | None = None,
    final_checkpoint: bool = True,
) -> Any:
    """Train the model of ``cfg`` in the run folder ``run`` and return it (no evaluation).

    A new run gets ``config.yaml`` and ``meta.json``; every call gets a new
    ``logs/session[_n]`` (``progress.csv``, TensorBoard events when tensorboard is
    installed), checkpoints every ``cfg.checkpoint_every`` environment steps in
    ``checkpoints/`` and ``final_model.zip``, all written atomically.

    :param cfg: the run's configuration (``total_steps`` is the total, resumed steps
        included).
    :param run: the run folder, already made (:func:`make_run_folder`).
    :param resume: continue the run's last checkpoint (or final model) with its step count
        carried on, rather than start a new model.
    :param progress: show a progress bar.
    :param notes: lines for ``meta.json``'s ``notes`` (new runs).
    :param initial_design: proposer of the episodes' first designs (see
        :func:`make_vec_env`); ``None``: ``cfg.env.initial_design``.
    :param env_wrapper: wrapper of the SB3 vector environment inside ``VecMonitor`` (see
        :func:`make_vec_env`), e.g. a training-reward shaping.
    :param final_checkpoint: also save a checkpoint at the last step (what
        :func:`train` resumes from; it carries SAC's replay buffer).

    A ``KeyboardInterrupt`` or SIGTERM (in the main thread) saves one more (atomic)
    checkpoint and raises ``KeyboardInterrupt``; earlier checkpoints are never touched.
    The run folder is locked while this runs (:func:`agents.checkpoints.run_lock`); nothing
    in it is unpickled on resume (:mod:`agents.checkpoints`).
    """
    from agents.checkpoints import run_lock

    with run_lock(run):
        return _train_locked(cfg, run, resume, progress, list(notes), initial_design,
                             env_wrapper, final_checkpoint)  # fmt: skip


def _restore(cfg: TrainConfig, run: Path, model: Any) -> Path:
    """Load the run's last checkpoint (or final model) and, for SAC, its replay buffer into
    the fresh ``model``; returns the model file. Nothing is unpickled."""
    from agents.checkpoints import load_model_file, load_replay_buffer

    last = last_checkpoint(run)
    path, buffer = (last[0], last[1]) if last is not None else (run / FINAL_MODEL, None)
    if buffer is not None and buffer.suffix != ".npz":
        raise ValueError(
            f"replay buffer {str(buffer)!r} is a pickle, which nanoenv never loads (it can run "
            "code); delete it to resume with an empty replay buffer"
        )
    load_model_file(model, path)
    if hasattr(model, "replay_buffer"):
        if buffer is None:
            warnings.warn(
                f"resuming {cfg.algo} from {str(path)!r} with an EMPTY replay buffer: no "
                "buffer was saved with it", stacklevel=3,
            )  # fmt: skip
        else:
            load_replay_buffer(model.replay_buffer, buffer)
    return path


def _sigterm_stops(checkpoint: Any) -> Any:
    """Make SIGTERM stop training like Ctrl-C (checkpoint saved); returns the previous
    handler (``None`` outside the main thread, where signals cannot be handled)."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def stop(signum: int, frame: Any) -> None:
        checkpoint.stop_requested = True

    return signal.signal(signal.SIGTERM, stop)


def _train_locked(
    cfg: TrainConfig,
    run: Path,
    resume: bool,
    progress: bool,
    notes: list[str],
    initial_design: InitialDesigner | None,
    env_wrapper: Callable[[Any], Any] | None,
    final_checkpoint: bool,
) -> Any:
    from stable_baselines3.common.callbacks import CallbackList
    from stable_baselines3.common.logger import configure

    if cfg.algo == "ppo-torch":  # the torch-native trainer (no proposer / wrapper hooks)
        from agents.rl.ppo_torch import train_run

        if initial_design is not None or env_wrapper is not None:
            raise ValueError("algo ppo-torch takes no initial-design proposer or env wrapper")
        return train_run(cfg, run, resume, progress, notes, final_checkpoint)
    device = _resolve_device(cfg.device)
    formats = ["csv"]
    if _tensorboard_available():
        formats.append("tensorboard")
    else:
        notes.append("tensorboard is not installed: no TensorBoard logs")
    env = make_vec_env(cfg, initial_design=initial_design, wrapper=env_wrapper)
    try:
        # built before anything is written: a config SB3 rejects leaves no files behind
        model = _new_model(cfg, env, device)
        if resume:
            for stale in (run / "checkpoints").glob(".*.tmp"):  # a killed writer's (lock held)
                stale.unlink(missing_ok=True)
            path = _restore(cfg, run, model)
            # fresh environment randomness: not the targets of the first segment again
            model.set_random_seed(cfg.seed + model.num_timesteps)
    except BaseException:
        env.close()
        raise
    logs = new_folder(run / "logs", "session")
    if not resume:
        _write_run_files(run, cfg, notes)
    else:
        record = {"from": str(path), "steps": model.num_timesteps, "utc": _utc_stamp(),
                  "total_steps": cfg.total_steps}  # fmt: skip
        atomic_write(logs / "resume.json", json.dumps(record, indent=1))
    model.set_logger(configure(str(logs), formats))
    remaining = cfg.total_steps - model.num_timesteps
    checkpoint = _checkpoint_callback_class()(
        save_freq=max(cfg.checkpoint_every // cfg.num_envs, 1) if cfg.checkpoint_every else 0,
        save_path=str(run / "checkpoints"), name_prefix=CHECKPOINT_PREFIX,
        save_replay_buffer=cfg.algo == "sac",
    )  # fmt: skip
    callbacks: list[Any] = [checkpoint]
    # SB3's own bar needs tqdm and rich; without rich, a small tqdm callback does it
    sb3_bar = progress and _rich_available()
    if progress and not sb3_bar:
        callbacks.append(_progress_callback(cfg.total_steps, model.num_timesteps))
    previous = _sigterm_stops(checkpoint)
    try:
        if remaining > 0:
            model.learn(total_timesteps=remaining, callback=CallbackList(callbacks),
                        reset_num_timesteps=not resume, progress_bar=sb3_bar)  # fmt: skip
    except (KeyboardInterrupt, _StopRequested) as exc:
        if getattr(checkpoint, "model", None) is not None:  # learning had started
            checkpoint.save_now()
        env.close()
        if isinstance(exc, _StopRequested):
            raise KeyboardInterrupt("SIGTERM: checkpoint saved") from None
        raise
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    _record_training_cost(run, model.num_timesteps, env.get_attr("total_sim_calls")[0])
    from agents.checkpoints import save_model

    save_model(model, run / FINAL_MODEL)
    if cfg.checkpoint_every and final_checkpoint:
        if getattr(checkpoint, "model", None) is None:  # nothing left to learn on a resume
            checkpoint.init_callback(model)
        checkpoint.save_now()
    env.close()
    return model


TRAINING_COST = "training_cost.json"


def _record_training_cost(run: Path, env_steps: int, sim_calls: int) -> None:
    """Add this session's simulator calls to the run's ``training_cost.json``."""
    path = run / TRAINING_COST
    before = json.loads(path.read_text())["sim_calls"] if path.is_file() else 0
    atomic_write(path, json.dumps({"env_steps": int(env_steps),
                                         "sim_calls": int(before) + int(sim_calls)}))


def training_cost(run: str | os.PathLike[str]) -> dict[str, int] | None:
    """``{"env_steps", "sim_calls"}`` the run's training has spent (``None`` if unknown)."""
    path = Path(run) / TRAINING_COST
    return json.loads(path.read_text()) if path.is_file() else None


# -- evaluation -----------------------------------------------------------------------------

#: Columns of ``results.csv`` (``results.json`` rows carry more: per-budget scores,
#: histories, curves and designs).
RESULT_COLUMNS = ["method", "family", "target", "seed", "best_f2", "success",
                  "calls_to_success", "edits_to_success", "sim_calls", "cost",
                  "score"]  # fmt: skip


def save_results(
    folder: Path, rows: list[dict[str, Any]], settings: dict[str, Any]
) -> dict[str, Any]:
    """Write ``results.json`` (settings, a summary per family, every row) and
    ``results.csv`` atomically into ``folder``; returns the summary."""
    from agents.baselines import summarize

    families = list(dict.fromkeys(r["family"] for r in rows))
    summary = {f: summarize([r for r in rows if r["family"] == f]) for f in families}
    for f in families:
        edits = [
            r["edits_to_success"]
            for r in rows
            if r["family"] == f and r.get("edits_to_success") is not None
        ]
        summary[f]["median_edits_to_success"] = float(np.median(edits)) if edits else None
    payload = {"settings": settings, "summary": summary, "rows": rows}
    atomic_write(folder / "results.json", json.dumps(payload, indent=1))
    with atomic_open(folder / "results.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=RESULT_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return summary


def _evaluate(
    method: Any,
    families: list[str],
    n: int,
    seed: int,
    budget: int,
    progress: bool,
    trains: bool,
    constants: str | None = None,
) -> list[dict[str, Any]]:
    from agents.bench.runner import method_seed, score_designer
    from nanoenv.tasks import benchmark_suite

    rows: list[dict[str, Any]] = []
    for family in families:
        targets = benchmark_suite(family, n, seed, constants=constants)
        rows += score_designer(method, targets, seed=method_seed(seed), budgets=(budget,),
                               trains=trains, progress=progress,
                               desc=f"{method.name} {family}")  # fmt: skip
    return rows


def evaluate_run(
    run_dir: str | os.PathLike[str],
    families: list[str] | None = None,
    n: int | None = None,
    seed: int | None = None,
    budget: int | None = None,
    out: str | os.PathLike[str] | None = None,
    device: str = "cpu",
    repeat: bool | None = None,
    progress: bool = True,
) -> Path:
    """Roll out a run's model (:class:`~agents.baselines.PolicyRollout`) on the seeded
    benchmark suite of each family and save ``results.json`` / ``results.csv`` in a new
    folder ``<out or run_dir>/eval_<UTC timestamp>``; returns that folder. Unset
    arguments come from the run's ``eval`` settings."""
    from agents.baselines import PolicyRollout

    run_dir = Path(run_dir)
    if not (run_dir / "config.yaml").is_file():
        raise ValueError(f"--run {str(run_dir)!r} is not a run folder (no config.yaml)")
    cfg = load_config(run_dir / "config.yaml")
    families = families or cfg.eval_families
    for family in families:
        get_family(family)
        if get_family(family).carrier is not get_family(cfg.task).carrier:
            raise ValueError(f"family {family!r} has another design space than the run's "
                             f"task {cfg.task!r}")  # fmt: skip
    n = cfg.eval.n if n is None else n
    seed = cfg.eval.seed if seed is None else seed
    budget = budget or cfg.eval.budget or 1 + cfg.env.max_edits
    check_evaluation_size(n, budget)
    _check_out_folder(out)
    repeat = cfg.eval.repeat if repeat is None else repeat
    model = load_model(run_dir, device=device)
    env_kwargs = {k: v for k, v in cfg.env.kwargs().items() if k != "device"}
    method = PolicyRollout(model, env_kwargs, repeat=repeat, device=cfg.env.device,
                           name=cfg.algo)  # fmt: skip
    from agents.bench.runner import method_seed

    rows = _evaluate(method, families, n, seed, budget, progress, True, cfg.env.constants)
    folder = new_folder(Path(out) if out is not None else run_dir, f"eval_{_utc_stamp()}")
    settings = {"run": str(run_dir.resolve()), "model": model_identity(run_dir),
                "families": families, "n": n, "seed": seed,
                "method_seed": method_seed(seed), "budget": budget,
                "repeat": repeat, "constants": cfg.env.constants}  # fmt: skip
    save_results(folder, rows, settings)
    return folder


def _check_out_folder(out: str | os.PathLike[str] | None) -> None:
    """An evaluation's ``--out`` is a folder (existing or new), checked before the work."""
    if out is not None and Path(out).exists() and not Path(out).is_dir():
        raise ValueError(f"--out {str(out)!r} exists and is not a folder; give a folder for "
                         "the results folder")  # fmt: skip


def check_evaluation_size(n: int, budget: int) -> None:
    """``n`` targets per family in ``[1, MAX_EVAL_TARGETS]`` and ``budget`` simulator calls
    per target in ``[1, MAX_EVAL_BUDGET]`` (``ValueError`` naming the flag otherwise)."""
    for flag, value, high in (("--n", n, MAX_EVAL_TARGETS), ("--budget", budget, MAX_EVAL_BUDGET)):
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
            raise ValueError(f"{flag}={value!r} must be an integer in [1, {high}]")


def evaluate_baseline(
    method: str,
    families: list[str],
    n: int = 16,
    seed: int = 0,
    budget: int = 500,
    out: str | os.PathLike[str] = "runs",
    device: str = "cpu",
    progress: bool = True,
    constants: str | None = None,
) -> Path:
    """Run an untrained designer of :mod:`agents.bench.registry` (``random``, ``cmaes``,
    ``gradient``, ``bo``, ``prior``, an installed plug-in or ``module:Class``) on the seeded
    benchmark suites and save the results in a new folder
    ``<out>/eval_<method>_<UTC timestamp>`` (``constants``: ``"literature"``,
    ``"calibrated"`` or ``None`` for each family's default)."""
    import tempfile

    from agents.bench.registry import BuildContext, get_method
    from agents.bench.runner import method_seed

    entry = get_method(method)
    if entry.trains:
        raise ValueError(f"method {method!r} is trained per family; train it (nanoenv train) "
                         "and evaluate the run with --run, or use nanoenv bench run")  # fmt: skip
    for family in families:
        get_family(family)
    check_evaluation_size(n, budget)
    _check_out_folder(out)
    with tempfile.TemporaryDirectory() as scratch:
        ctx = BuildContext(method, families[0], seed, Path(scratch), device,
                           constants=constants)  # fmt: skip
        designer = entry.build(ctx).designer
    rows = _evaluate(designer, families, n, seed, budget, progress, False, constants)
    folder = new_folder(out, f"eval_{method.replace(':', '.')}_{_utc_stamp()}")
    settings = {
        "method": method,
        "families": families,
        "n": n,
        "seed": seed,
        "method_seed": method_seed(seed),
        "budget": budget,
        "constants": constants,
    }
    save_results(folder, rows, settings)
    return folder


def model_identity(run_dir: str | os.PathLike[str]) -> str:
    """A name of the model a run trains that survives copies, resumes and re-evaluations
    (algorithm, task, seed and the run's start time, from its ``meta.json``)."""
    path = Path(run_dir) / "meta.json"
    try:
        meta = json.loads(path.read_text())
        return f"{meta['algo']}:{meta['task']}:seed{meta['seed']}:{meta['started_utc']}"
    except (OSError, ValueError, KeyError, TypeError):
        return f"run:{Path(run_dir).resolve()}"
