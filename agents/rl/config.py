"""The configuration of a PPO or SAC training run: :class:`TrainConfig`, read from YAML
with :func:`load_config` and validated strictly before anything is trained.

An unknown key, a value of the wrong type, an unknown algorithm, device or task, or an
algorithm hyperparameter that the SB3 class does not take raises ``ValueError`` naming
the key and what is allowed. The PPO and SAC defaults are shipped once, as package data
(``agents/rl/configs/<name>.yaml``, :func:`default_config`); a config file starts from
one with ``defaults: ppo`` and gives only what differs.

>>> cfg = TrainConfig(algo="ppo", task="realisable", total_steps=256, num_envs=4)
>>> cfg.algo, cfg.env.max_edits
('ppo', 20)
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from agents.rl.hyperparameters import check_hyperparameters, type_name
from nanoenv.devices import DEVICES
from nanoenv.kinetics import CONSTANTS_NAMES
from nanoenv.tasks import TASK_FAMILIES, get_family

__all__ = [
    "ALGORITHMS",
    "DEVICES",
    "MAX_EVAL_BUDGET",
    "MAX_EVAL_TARGETS",
    "EnvConfig",
    "EvalConfig",
    "TrainConfig",
    "default_config",
    "default_names",
    "load_config",
    "with_defaults",
]

#: Algorithms :func:`train` knows (name -> stable-baselines3 class name).
ALGORITHMS = ("ppo", "sac", "ppo-torch")  # ppo-torch: agents/rl/ppo_torch.py
#: Most held-out targets per family an evaluation may ask for (``eval.n``, ``--n``).
MAX_EVAL_TARGETS = 10_000
#: Most simulator calls per target an evaluation may ask for (``--budget``).
MAX_EVAL_BUDGET = 1_000_000


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
            raise ValueError(
                f"env.reward_model={spec!r}; allowed: {sorted(REWARD_MODELS)} or module:Class"
            )
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
        """Build and validate a config from a mapping (as read from YAML); a top-level
        ``defaults: <name>`` starts from the shipped :func:`default_config` ``name``,
        which the mapping's other keys override (mappings merged key by key)."""
        return _build(cls, with_defaults(data), "")

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


def _check_type(key: str, value: Any, annotation: str) -> Any:
    """Check ``value`` against the (string) annotation of a config field; ints are
    accepted where floats are expected."""
    optional = annotation.endswith("| None")
    base = annotation.removesuffix("| None").strip()
    if value is None:
        if optional:
            return None
        raise ValueError(f"config key {key!r} must not be empty (null)")
    expected = {
        "int": int,
        "float": float,
        "str": str,
        "bool": bool,
        "dict[str, Any]": dict,
        "list[str]": list,
    }.get(base)
    if expected is None:  # nested dataclass, handled by the caller
        return value
    ok = isinstance(value, expected) and not (expected is int and isinstance(value, bool))
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        value, ok = float(value), True
    if not ok:
        raise ValueError(
            f"config key {key!r} must be {type_name(expected)}"
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
    positive = {
        "total_steps": cfg.total_steps,
        "num_envs": cfg.num_envs,
        "env.max_edits": cfg.env.max_edits,
        "eval.n": cfg.eval.n,
    }
    for key, value in positive.items():
        if value < 1:
            raise ValueError(f"config key {key!r} must be positive; got {value}")
    if cfg.checkpoint_every < 0:
        raise ValueError(f"config key 'checkpoint_every' must be >= 0; got {cfg.checkpoint_every}")
    if cfg.eval.budget is not None and not 1 <= cfg.eval.budget <= MAX_EVAL_BUDGET:
        raise ValueError(
            f"config key 'eval.budget' is {cfg.eval.budget}; allowed: [1, "
            f"{MAX_EVAL_BUDGET}] simulator calls"
        )
    if not 0 < cfg.env.max_step <= 2:
        raise ValueError(f"config key 'env.max_step' must be in (0, 2]; got {cfg.env.max_step}")
    if cfg.env.initial_design not in ("random", "center"):
        raise ValueError(
            f"config key 'env.initial_design' is {cfg.env.initial_design!r}; "
            "allowed: ['center', 'random']"
        )
    check_hyperparameters(cfg.algo, cfg.hyperparameters)
    if not math.isfinite(cfg.env.success_f2):
        raise ValueError(
            f"config key 'env.success_f2' is {cfg.env.success_f2}; allowed: a "
            "finite f2 (50: similar curves)"
        )
    if not math.isfinite(cfg.env.success_bonus):
        raise ValueError(
            f"config key 'env.success_bonus' is {cfg.env.success_bonus}; allowed: a finite reward"
        )
    if cfg.eval.n > MAX_EVAL_TARGETS:
        raise ValueError(
            f"config key 'eval.n' is {cfg.eval.n}; allowed: [1, "
            f"{MAX_EVAL_TARGETS}] targets per family"
        )
    if cfg.algo == "ppo":
        n_steps = cfg.hyperparameters.get("n_steps", 2048)
        if n_steps * cfg.num_envs < 2:
            raise ValueError(
                f"config keys 'hyperparameters.n_steps' x 'num_envs' = "
                f"{n_steps} x {cfg.num_envs} must be > 1 (PPO's rollout)"
            )


class _Loader(yaml.SafeLoader):
    """Safe YAML loader that also reads ``1e-3`` (no dot) as a float, as YAML 1.2 does,
    and refuses a key given twice in one mapping (PyYAML silently keeps the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)  # type: ignore[no-untyped-call]
            line = key_node.start_mark.line + 1
            if key in seen:
                raise ValueError(
                    f"config key {key!r} is given twice (lines {seen[key]} and "
                    f"{line}); give each key once"
                )
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


#: Folder of the shipped default configs (package data: ``<name>.yaml``).
DEFAULTS_DIR = Path(__file__).resolve().parent / "configs"


def default_names() -> list[str]:
    """Names of the shipped default configs (``["ppo", "sac"]``)."""
    return sorted(p.stem for p in DEFAULTS_DIR.glob("*.yaml"))


def default_config(name: str) -> dict[str, Any]:
    """A fresh copy, as plain data, of the shipped default config ``name``
    (``agents/rl/configs/<name>.yaml``): the one place the PPO (and SAC) defaults are
    written; the experiments' configs, the demo and the prior-guided PPO start from it."""
    if not isinstance(name, str) or name not in default_names():
        raise ValueError(
            f"config key 'defaults' is {name!r}; allowed: {default_names()} "
            "(the configs shipped in agents/rl/configs)"
        )
    return yaml.load((DEFAULTS_DIR / f"{name}.yaml").read_text(encoding="utf-8"), Loader=_Loader)


def _merged(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        both = isinstance(value, dict) and isinstance(out.get(key), dict)
        out[key] = _merged(out[key], value) if both else value
    return out


def with_defaults(data: Any) -> Any:
    """``data`` with its ``defaults: <name>`` key replaced by the shipped config ``name``,
    which ``data``'s other keys override (nested mappings merged key by key); anything
    else is returned as it is."""
    if not isinstance(data, dict) or "defaults" not in data:
        return data
    rest = {k: v for k, v in data.items() if k != "defaults"}
    return _merged(default_config(data["defaults"]), rest)


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
