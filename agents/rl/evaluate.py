"""Held-out evaluation: a run's model, or an untrained designer, on the seeded
:func:`~nanoenv.tasks.benchmark_suite` of each family, through the one evaluation
pipeline (:func:`agents.bench.runner.score_designer`), saved as ``results.json`` and
``results.csv`` in a new ``eval_*`` folder."""

from __future__ import annotations

import csv
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from agents.baselines import PolicyRollout, summarize
from agents.bench.registry import BuildContext, get_method
from agents.bench.runner import method_seed, score_designer
from agents.rl.config import MAX_EVAL_BUDGET, MAX_EVAL_TARGETS, load_config
from agents.rl.models import load_model
from agents.rl.run_folder import model_identity, new_folder, utc_stamp
from nanoenv.files import atomic_open, atomic_write
from nanoenv.tasks import benchmark_suite, get_family

__all__ = [
    "RESULT_COLUMNS",
    "check_evaluation_size",
    "evaluate_baseline",
    "evaluate_run",
    "save_results",
]

#: Columns of ``results.csv`` (``results.json`` rows carry more: per-budget scores,
#: histories, curves and designs).
RESULT_COLUMNS = [
    "method",
    "family",
    "target",
    "seed",
    "best_f2",
    "success",
    "calls_to_success",
    "edits_to_success",
    "sim_calls",
    "cost",
    "score",
]


def save_results(
    folder: Path, rows: list[dict[str, Any]], settings: dict[str, Any]
) -> dict[str, Any]:
    """Write ``results.json`` (settings, a summary per family, every row) and
    ``results.csv`` atomically into ``folder``; returns the summary."""
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
    rows: list[dict[str, Any]] = []
    for family in families:
        targets = benchmark_suite(family, n, seed, constants=constants)
        rows += score_designer(
            method,
            targets,
            seed=method_seed(seed),
            budgets=(budget,),
            trains=trains,
            progress=progress,
            desc=f"{method.name} {family}",
        )
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
    run_dir = Path(run_dir)
    if not (run_dir / "config.yaml").is_file():
        raise ValueError(f"--run {str(run_dir)!r} is not a run folder (no config.yaml)")
    cfg = load_config(run_dir / "config.yaml")
    families = families or cfg.eval_families
    for family in families:
        get_family(family)
        if get_family(family).carrier is not get_family(cfg.task).carrier:
            raise ValueError(
                f"family {family!r} has another design space than the run's task {cfg.task!r}"
            )
    n = cfg.eval.n if n is None else n
    seed = cfg.eval.seed if seed is None else seed
    budget = budget or cfg.eval.budget or 1 + cfg.env.max_edits
    check_evaluation_size(n, budget)
    _check_out_folder(out)
    repeat = cfg.eval.repeat if repeat is None else repeat
    model = load_model(run_dir, device=device)
    env_kwargs = {k: v for k, v in cfg.env.kwargs().items() if k != "device"}
    method = PolicyRollout(model, env_kwargs, repeat=repeat, device=cfg.env.device, name=cfg.algo)
    rows = _evaluate(method, families, n, seed, budget, progress, True, cfg.env.constants)
    folder = new_folder(Path(out) if out is not None else run_dir, f"eval_{utc_stamp()}")
    settings = {
        "run": str(run_dir.resolve()),
        "model": model_identity(run_dir),
        "families": families,
        "n": n,
        "seed": seed,
        "method_seed": method_seed(seed),
        "budget": budget,
        "repeat": repeat,
        "constants": cfg.env.constants,
    }
    save_results(folder, rows, settings)
    return folder


def _check_out_folder(out: str | os.PathLike[str] | None) -> None:
    """An evaluation's ``--out`` is a folder (existing or new), checked before the work."""
    if out is not None and Path(out).exists() and not Path(out).is_dir():
        raise ValueError(
            f"--out {str(out)!r} exists and is not a folder; give a folder for the results folder"
        )


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
    entry = get_method(method)
    if entry.trains:
        raise ValueError(
            f"method {method!r} is trained per family; train it (nanoenv train) "
            "and evaluate the run with --run, or use nanoenv bench run"
        )
    for family in families:
        get_family(family)
    check_evaluation_size(n, budget)
    _check_out_folder(out)
    with tempfile.TemporaryDirectory() as scratch:
        ctx = BuildContext(method, families[0], seed, Path(scratch), device, constants=constants)
        designer = entry.build(ctx).designer
    rows = _evaluate(designer, families, n, seed, budget, progress, False, constants)
    folder = new_folder(out, f"eval_{method.replace(':', '.')}_{utc_stamp()}")
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
