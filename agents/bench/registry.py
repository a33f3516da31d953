"""Designers by name: the one registry behind the bench, sweeps, ``nanoenv evaluate`` and
the demo.

A **designer** is anything with a ``name`` and ``design(target, budget, *, seed) ->``
:class:`~agents.baselines.DesignResult` (the :class:`~agents.baselines.DesignMethod`
protocol). A :class:`MethodEntry` says how to build one for a job (a method on a family
with a seed), whether it trains first, and its track:

* ``search``: designs each target from scratch (random, CMA-ES, gradient, BO);
* ``amortised``: trained on the family's generator before it sees the suite (PPO, SAC,
  the generative prior and the prior-guided policies); its training simulator calls are
  reported beside its score.

Names come from three places, looked up in this order:

1. entries registered in this process with :func:`register_method`;
2. the entry-point group ``nanoenv.designers`` of every installed distribution (nanoenv's
   own built-ins are declared there in ``pyproject.toml``; a package adds its own with
   ``[project.entry-points."nanoenv.designers"] mine = "mypkg.designers:ENTRY"``);
3. ``module:attribute``: a :class:`MethodEntry`, a designer class, or a factory,
   imported on demand (``nanoenv bench run --methods random mypkg.es:TinyES``).

A class or factory is called with the keywords it accepts among ``device``,
``success_f2``, ``stop_on_success``, ``constants``, ``seed`` and ``family``; its instance must have
``name`` and ``design``. This module imports nothing from :mod:`agents` at import time,
so any module can register into it without a cycle.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

__all__ = [
    "ENTRY_POINT_GROUP",
    "TRACKS",
    "BuildContext",
    "Built",
    "MethodEntry",
    "available_methods",
    "get_method",
    "register_method",
]

ENTRY_POINT_GROUP = "nanoenv.designers"
TRACKS = ("search", "amortised")


@dataclass(frozen=True)
class BuildContext:
    """What a designer is built for.

    :param method: the name it was asked by.
    :param family: the task family it will design for.
    :param seed: the job's seed (training seed of trained designers).
    :param job_dir: a folder of its own (run folders of trained designers).
    :param device: ``"cpu"`` or ``"cuda"``.
    :param success_f2: f2 that counts as success.
    :param stop_on_success: ``False`` for fixed-budget scoring (the bench): the designer
        spends its whole budget.
    :param steps: training steps per trained method (``{"ppo": 50000}``).
    :param configs_dir: folder of the ``<algo>_<family>.yaml`` training configs.
    :param constants: simulator constants (``"literature"``, ``"calibrated"``; ``None``:
        each family's own).
    """

    method: str
    family: str
    seed: int
    job_dir: Path
    device: str = "cpu"
    success_f2: float = 50.0
    stop_on_success: bool = True
    steps: dict[str, int] | None = None
    configs_dir: str = "experiments/configs"
    constants: str | None = None


@dataclass
class Built:
    """A built designer and what to record about it.

    :param designer: the designer.
    :param budget: simulator calls it gets per target when the caller imposes no fixed
        budgets (one episode for a policy, for instance); ``None``: the caller's search
        budget.
    :param info: provenance (run folder, ``train_s``, ``train_sim_calls``, …).
    """

    designer: Any
    budget: int | None
    info: dict[str, Any]


@dataclass(frozen=True)
class MethodEntry:
    """How to build a designer.

    :param build: ``(BuildContext) -> Built``.
    :param trains: whether it is trained per job (scheduled first: the longest jobs).
    :param track: ``"search"`` or ``"amortised"``.
    :param description: one line for listings.
    :param max_budget: the largest budget it is run with under fixed budgets (a method
        whose cost grows too fast, like a GP's); larger budgets are left out of its rows.
    """

    build: Callable[[BuildContext], Built]
    trains: bool = False
    track: str = "search"
    description: str = ""
    max_budget: int | None = None

    def __post_init__(self) -> None:
        if self.track not in TRACKS:
            raise ValueError(f"track={self.track!r}; allowed: {list(TRACKS)}")


_REGISTERED: dict[str, MethodEntry] = {}
#: Keywords a designer class or factory may take; the first four are SearchMethod's.
_ACCEPTED = ("device", "success_f2", "stop_on_success", "constants", "seed", "family")


def register_method(name: str, entry: MethodEntry) -> None:
    """Make ``name`` available to every table (in this process)."""
    if not isinstance(entry, MethodEntry):
        raise TypeError(f"register_method({name!r}, ...) needs a MethodEntry; got {entry!r}")
    _REGISTERED[name] = entry


def _entry_points() -> dict[str, Any]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def available_methods() -> list[str]:
    """Every registered and installed designer name (``module:attribute`` works too)."""
    return sorted(set(_REGISTERED) | set(_entry_points()))


def _from_factory(name: str, factory: Callable[..., Any]) -> MethodEntry:
    """A :class:`MethodEntry` of the search track around a designer class or factory."""
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        params = {}
    takes_all = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())

    def build(ctx: BuildContext) -> Built:
        values = {
            "device": ctx.device,
            "success_f2": ctx.success_f2,
            "stop_on_success": ctx.stop_on_success,
            "constants": ctx.constants,
            "seed": ctx.seed,
            "family": ctx.family,
        }
        # ``**kwargs`` is taken to be SearchMethod's settings: no seed or family there
        kwargs = {
            k: v for k, v in values.items() if k in params or (takes_all and k in _ACCEPTED[:4])
        }
        designer = factory(**kwargs)
        for attr in ("name", "design"):
            if not hasattr(designer, attr):
                raise ValueError(
                    f"designer {name!r} built {type(designer).__name__}, which has no "
                    f"{attr!r}; a designer needs name and design(target, budget, *, seed)"
                )
        return Built(designer, None, {})

    return MethodEntry(build, track=getattr(factory, "track", "search"))


def _as_entry(name: str, obj: Any) -> MethodEntry:
    if isinstance(obj, MethodEntry):
        return obj
    if callable(obj):
        return _from_factory(name, obj)
    raise ValueError(
        f"designer {name!r} resolves to {type(obj).__name__}; expected a MethodEntry, a "
        "designer class or a factory"
    )


def get_method(name: str) -> MethodEntry:
    """The entry for ``name``: registered, installed, or ``module:attribute``."""
    if name in _REGISTERED:
        return _REGISTERED[name]
    eps = _entry_points()
    if name in eps:
        entry = _as_entry(name, eps[name].load())
        _REGISTERED[name] = entry
        return entry
    if ":" in name:
        module, _, attr = name.partition(":")
        try:
            obj = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            raise ValueError(f"cannot load designer {name!r}: {exc}") from None
        entry = _as_entry(name, obj)
        _REGISTERED[name] = entry
        return entry
    raise ValueError(f"unknown method {name!r}; allowed: {available_methods()} or module:Class")
