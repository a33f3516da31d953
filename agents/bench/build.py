"""Building suites: draw the targets (``freeze``) and their references (``references``).

Both write the suite file atomically and never replace an existing file with one of a
different version; reference building runs targets in parallel processes with a
progress bar.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any

from agents.bench.references import OracleSettings, build_reference
from nanoenv.bench import Reference, Suite, shipped_suite_path

__all__ = ["carry_references", "freeze_suite", "rebuild_references"]


def _write(suite: Suite, path: Path) -> None:
    from nanoenv.files import atomic_write

    if path.exists():
        existing = Suite.from_json(path.read_text(), str(path))
        if existing.version != suite.version:
            raise ValueError(
                f"{path} holds suite {existing.version!r}, not {suite.version!r}; "
                "choose another --out"
            )
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, suite.to_json())


def freeze_suite(
    name: str,
    families: Sequence[str] | None,
    n: int,
    seed: int,
    out: str | os.PathLike[str] | None = None,
) -> Path:
    """Draw ``n`` targets per family (default: every registered family) and write the new
    suite (no references yet); refuses to overwrite an existing suite file."""
    from nanoenv.tasks import TASK_FAMILIES

    if not 1 <= n <= 4096:
        raise ValueError(f"--n {n}: targets per family must be in [1, 4096]")
    path = Path(out) if out else shipped_suite_path(name)
    if path.exists():
        raise ValueError(
            f"{path} exists; a frozen suite is never redrawn in place (new --version "
            "or another --out)"
        )
    meta = {"nanoenv": version("nanoenv"), "drawn_with": "nanoenv.tasks.benchmark_suite"}
    suite = Suite.generate(name, list(families or TASK_FAMILIES), n, seed, meta)
    _write(suite, path)
    return path


def _one(args: tuple[dict[str, Any], int, OracleSettings]) -> Reference:
    import torch

    from nanoenv.bench import target_from_dict

    torch.set_num_threads(1)
    data, index, settings = args
    return build_reference(target_from_dict(data), index, settings)


def rebuild_references(
    suite: Suite,
    families: Sequence[str] | None,
    out: Path,
    *,
    settings: OracleSettings | None = None,
    workers: int = 2,
    device: str = "cpu",
    progress: bool = True,
) -> Suite:
    """Rebuild the references of ``families`` (default all), writing ``out`` after each
    family so an interruption loses at most one family's work; returns the new suite."""
    from tqdm.auto import tqdm

    settings = settings or OracleSettings(device=device)
    families = list(families or suite.family_names)
    for family in families:
        suite.tier(family)  # unknown family: an error before any work
    if workers < 1:
        raise ValueError(f"workers={workers} must be a positive number of processes")
    meta_oracle = {
        "gradient_calls": settings.gradient_calls,
        "gradient_starts": settings.gradient_starts,
        "cmaes_calls": settings.cmaes_calls,
        "random_calls": settings.random_calls,
        "floor_samples": settings.floor_samples,
    }
    suite = Suite(suite.version, suite.families, {**suite.meta, "oracle": meta_oracle})
    ctx = multiprocessing.get_context("spawn")
    for family in families:
        rows = suite.families[family]["targets"]
        jobs = [(row, i, settings) for i, row in enumerate(rows)]
        bar = tqdm(
            total=len(jobs),
            desc=f"references {family}",
            unit="target",
            disable=not progress,
            dynamic_ncols=True,
        )
        if workers == 1:
            refs = []
            for job in jobs:
                refs.append(_one(job))
                bar.update(1)
        else:
            with cf.ProcessPoolExecutor(workers, mp_context=ctx) as pool:
                refs = []
                for ref in pool.map(_one, jobs, chunksize=4):
                    refs.append(ref)
                    bar.update(1)
        bar.close()
        suite = suite.with_references(family, refs)
        _write(suite, out)
    return suite


def _same_targets(a: Sequence[dict[str, Any]], b: Sequence[dict[str, Any]]) -> bool:
    """Both lists hold the same targets up to round-off (1e-9; the tripwire test's tolerance):
    same grid, curve, medium, drug and patient."""
    import math

    def close(x: Any, y: Any) -> bool:
        if isinstance(x, dict) and isinstance(y, dict):
            return x.keys() == y.keys() and all(close(x[k], y[k]) for k in x)
        if isinstance(x, list) and isinstance(y, list):
            return len(x) == len(y) and all(close(u, v) for u, v in zip(x, y, strict=True))
        if isinstance(x, int | float) and isinstance(y, int | float):
            return math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-9)
        return x == y

    keys = ("family", "carrier", "times_h", "release", "conditions", "drug", "patient")
    return len(a) == len(b) and all(
        close({k: s.get(k) for k in keys}, {k: t.get(k) for k in keys})
        for s, t in zip(a, b, strict=True)
    )


def carry_references(suite: Suite, source: Suite, out: Path) -> Suite:
    """Take ``source``'s entry (targets and references, verbatim) for every family whose
    tier, version, constants and reward are those of ``suite`` and whose targets are the
    same up to round-off — a new suite version that adds families keeps the old families
    as they were frozen instead of rebuilding their references; writes ``out`` and returns
    the new suite. Families that differ are left as they are."""
    carried = []
    families = dict(suite.families)
    for family, new in suite.families.items():
        old = source.families.get(family)
        if not old or not old.get("references"):
            continue
        same = all(new.get(k) == old.get(k) for k in ("tier", "version", "constants", "reward"))
        if same and _same_targets(new["targets"], old["targets"]):
            families[family] = old
            carried.append(family)
    meta = {**suite.meta, "references_from": {"suite": source.version, "families": carried}}
    if "oracle" in source.meta:
        meta["oracle"] = source.meta["oracle"]
    suite = Suite(suite.version, families, meta)
    _write(suite, out)
    return suite
