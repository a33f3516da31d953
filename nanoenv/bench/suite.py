"""Frozen, versioned benchmark suites: held-out targets with reference optima and floors.

A :class:`Suite` is the fixed set of targets every method is scored on (for each task
family, ``n`` targets drawn once from the family's generator with
:func:`nanoenv.tasks.benchmark_suite` and stored verbatim), plus, for every target, a
**reference** (the best score a strong oracle found with a large simulator budget, and
the design that reached it) and a **floor** (the median score of uniformly random
designs). Scores are the score of the family's reward model (``f2 / 100`` for the
``f2`` reward; the fraction of the horizon in the therapeutic window for
``therapeutic_window``), so the :func:`normalized_score`

    (score − floor) / (reference − floor)

puts every family on one scale: 0 is a random guess, 1 the oracle; above 1 is reported,
never clipped (Design-Bench, Trabucco et al., ICML 2022, normalises the same way).

Suites ship as package data (``nanoenv/bench/suites/<version>.json``), so a fresh
install scores the same targets on any machine; :attr:`Suite.content_hash` (SHA-256 of
the canonical JSON of targets and references) identifies the content, and a new
version string is due whenever targets, physics or scoring change.

>>> suite = load_suite()  # doctest: +SKIP
>>> suite.version, len(suite.targets("realisable"))  # doctest: +SKIP
('nanoenv-bench-v1', 64)
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import torch

from nanoenv.kinetics import Carrier, Drug, Formulation, ReleaseConditions
from nanoenv.tasks import Patient, Target, get_family

__all__ = [
    "BUDGETS",
    "DEFAULT_SUITE",
    "Reference",
    "Suite",
    "available_suites",
    "load_suite",
    "normalized_score",
    "shipped_suite_path",
    "target_from_dict",
    "target_to_dict",
]

#: The suite every table uses unless told otherwise.
DEFAULT_SUITE = "nanoenv-bench-v1"
#: Simulator-call budgets at which every method is scored (best-so-far design).
BUDGETS: tuple[int, ...] = (1, 3, 10, 30, 100, 300, 1000)
#: A reference must beat its floor by this much (score units) to normalise by it.
MIN_SPREAD = 1e-3


def normalized_score(score: Any, floor: Any, reference: Any) -> Any:
    """``(score − floor) / (reference − floor)``: 0 for a median random design, 1 for
    the oracle's best; values above 1 (a method beating the oracle) are kept.

    Works elementwise on floats, numpy arrays or tensors.
    """
    return (score - floor) / (reference - floor)


@dataclass(frozen=True)
class Reference:
    """The oracle's best and the random floor for one suite target.

    :param score: the best reward-model score the oracle found (the reference).
    :param f2: that design's f2 similarity to the target curve.
    :param floor: median score of ``floor_samples`` uniformly random designs.
    :param floor_f2: median f2 of those random designs.
    :param design: the reference design, physical units (``Formulation.to_dicts`` row).
    :param z: the reference design's normalised coordinates in the family's space.
    :param oracle_calls: simulator calls the oracle spent on this target.
    :param floor_samples: random designs behind the floor.
    """

    score: float
    f2: float
    floor: float
    floor_f2: float
    design: dict[str, Any]
    z: list[float]
    oracle_calls: int
    floor_samples: int

    def normalize(self, score: Any) -> Any:
        """:func:`normalized_score` of ``score`` against this target's floor and reference."""
        return normalized_score(score, self.floor, self.score)


def _tensor_list(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().double().tolist()
    return value


def target_to_dict(target: Target) -> dict[str, Any]:
    """A JSON-ready dict of ``target`` (float64 values round-trip exactly)."""
    conditions = {
        f.name: _tensor_list(getattr(target.conditions, f.name))
        for f in dataclasses.fields(target.conditions)
        if getattr(target.conditions, f.name) is not None
    }
    drug = {
        f.name: _tensor_list(getattr(target.drug, f.name)) for f in dataclasses.fields(target.drug)
    }
    return {
        "family": target.family,
        "carrier": target.carrier.name.lower(),
        "times_h": _tensor_list(target.times_h),
        "release": _tensor_list(target.release),
        "conditions": conditions,
        "drug": drug,
        "formulation": target.formulation.to_dicts()[0] if target.formulation is not None else None,
        "patient": dataclasses.asdict(target.patient) if target.patient is not None else None,
    }


def _f64(values: Any) -> torch.Tensor:
    return torch.as_tensor(values, dtype=torch.float64)


def target_from_dict(data: Mapping[str, Any]) -> Target:
    """The :class:`~nanoenv.tasks.Target` stored by :func:`target_to_dict`."""
    conditions = ReleaseConditions(**{k: _f64(v) for k, v in data["conditions"].items()})
    drug = Drug(**data["drug"])
    formulation = (
        Formulation.from_dict(data["formulation"], dtype=torch.float64)
        if data.get("formulation") is not None
        else None
    )
    patient = Patient(**data["patient"]) if data.get("patient") is not None else None
    return Target(
        family=data["family"],
        times_h=_f64(data["times_h"]),
        release=_f64(data["release"]),
        conditions=conditions,
        drug=drug,
        carrier=Carrier.parse(data["carrier"]),
        formulation=formulation,
        patient=patient,
    )


def _canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


@dataclass(frozen=True)
class Suite:
    """A frozen benchmark suite (see the module text).

    :param version: the suite's name, e.g. ``"nanoenv-bench-v1"``.
    :param families: ``{family: {"tier", "constants", "reward", "seed", "targets",
        "references"}}`` as stored; use :meth:`targets` and :meth:`references`.
    :param meta: how the suite was built (generator seed, oracle, package versions).
    """

    version: str
    families: dict[str, dict[str, Any]]
    meta: dict[str, Any]

    @property
    def content_hash(self) -> str:
        """SHA-256 of the canonical JSON of every family's targets and references."""
        return hashlib.sha256(_canonical(self.families)).hexdigest()

    @property
    def family_names(self) -> list[str]:
        return list(self.families)

    def _family(self, family: str) -> dict[str, Any]:
        if family not in self.families:
            raise ValueError(
                f"suite {self.version!r} has no family {family!r}; allowed: {self.family_names}"
            )
        return self.families[family]

    def tier(self, family: str) -> str:
        """``"standard"`` or ``"hard"``."""
        return str(self._family(family)["tier"])

    def targets(self, family: str, n: int | None = None) -> list[Target]:
        """The family's frozen targets (the first ``n`` when given)."""
        rows = self._family(family)["targets"]
        if n is not None:
            if not 1 <= n <= len(rows):
                raise ValueError(
                    f"n={n} targets asked of {family!r} in {self.version!r}; allowed: 1 to "
                    f"{len(rows)}"
                )
            rows = rows[:n]
        return [target_from_dict(r) for r in rows]

    def references(self, family: str) -> list[Reference]:
        """The family's references, one per target; an error if not built yet."""
        refs = self._family(family).get("references")
        if not refs:
            raise ValueError(
                f"suite {self.version!r} has no references for {family!r} yet; build them with "
                "`nanoenv bench references`"
            )
        return [Reference(**r) for r in refs]

    def has_references(self, family: str) -> bool:
        return bool(self._family(family).get("references"))

    def with_references(self, family: str, references: Sequence[Reference]) -> Suite:
        """A copy with ``family``'s references replaced."""
        fam = self._family(family)
        if len(references) != len(fam["targets"]):
            raise ValueError(
                f"{len(references)} references for {len(fam['targets'])} targets of {family!r}"
            )
        for i, r in enumerate(references):
            if not (math.isfinite(r.score) and math.isfinite(r.floor)):
                raise ValueError(f"reference {i} of {family!r} is not finite: {r}")
        families = dict(self.families)
        families[family] = {**fam, "references": [dataclasses.asdict(r) for r in references]}
        return Suite(self.version, families, self.meta)

    def to_json(self) -> str:
        return json.dumps(
            {
                "version": self.version,
                "content_hash": self.content_hash,
                "meta": self.meta,
                "families": self.families,
            },
            indent=1,
            allow_nan=False,
        )

    @classmethod
    def from_json(cls, text: str, source: str = "<string>") -> Suite:
        data = json.loads(text)
        for key in ("version", "families", "meta"):
            if key not in data:
                raise ValueError(f"suite file {source} lacks the key {key!r}")
        suite = cls(data["version"], data["families"], data["meta"])
        stored = data.get("content_hash")
        if stored is not None and stored != suite.content_hash:
            raise ValueError(
                f"suite file {source} is corrupt or edited: content hash {suite.content_hash} "
                f"does not match the stored {stored}"
            )
        return suite

    @classmethod
    def generate(
        cls,
        version: str,
        families: Sequence[str],
        n: int,
        seed: int,
        meta: Mapping[str, Any] | None = None,
    ) -> Suite:
        """Draw ``n`` targets per family with ``benchmark_suite(family, n, seed)`` under
        each family's default constants and design space (no references yet)."""
        from nanoenv.tasks import benchmark_suite

        out: dict[str, dict[str, Any]] = {}
        for family in families:
            fam = get_family(family)
            out[family] = {
                "tier": fam.tier,
                "version": fam.version,
                "constants": fam.constants,
                "reward": fam.reward,
                "seed": int(seed),
                "targets": [target_to_dict(t) for t in benchmark_suite(family, n, seed)],
                "references": [],
            }
        return cls(version, out, {"generator_seed": int(seed), "n": int(n), **(meta or {})})


def _suite_dir() -> Any:
    return resources.files("nanoenv.bench") / "suites"


def available_suites() -> list[str]:
    """Versions of the suites shipped with the package."""
    folder = _suite_dir()
    return sorted(p.name[: -len(".json")] for p in folder.iterdir() if p.name.endswith(".json"))


def load_suite(name: str | Path = DEFAULT_SUITE) -> Suite:
    """A shipped suite by version (``"nanoenv-bench-v1"``) or a suite file by path."""
    text_name = str(name)
    if text_name.endswith(".json") or Path(text_name).is_file():
        path = Path(text_name)
        if not path.is_file():
            raise ValueError(f"suite file {text_name!r} does not exist")
        return Suite.from_json(path.read_text(), text_name)
    resource = _suite_dir() / f"{text_name}.json"
    if not resource.is_file():
        raise ValueError(f"unknown suite {text_name!r}; shipped: {available_suites()}")
    return Suite.from_json(resource.read_text(), text_name)


def shipped_suite_path(version: str) -> Path:
    """Where the package keeps suite ``version`` (for ``nanoenv bench freeze``)."""
    return Path(str(_suite_dir())) / f"{version}.json"
