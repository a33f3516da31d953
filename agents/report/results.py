"""Evaluation results over seeds: loading every ``results.json`` under some folders
(one *run* per file and method, repeated evaluations of one model counted once) and
summarising them per method × family, as a table.

* success rate (best f2 ≥ ``success_f2``, 50 by default) and best f2, each with its
  mean, interquartile mean (IQM, :func:`agents.bench.stats.iqm`) and a
  stratified-bootstrap 95 % confidence interval
  (:func:`agents.bench.stats.stratified_bootstrap_ci`): the runs are resampled with
  replacement within each target (the strata), as rliable does; a cell with a single
  run has no run-to-run spread, so its interval comes from resampling the targets
  instead (``ci_over`` says which);
* the median number of simulator calls to success (over the successes).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from agents.bench.stats import N_BOOT, iqm, stratified_bootstrap_ci
from agents.rl.run_folder import model_identity

__all__ = [
    "SUCCESS_F2",
    "aggregate",
    "find_results",
    "iqm_cell",
    "load_runs",
    "markdown_table",
    "success_cell",
]

#: Best f2 that counts as a success.
SUCCESS_F2 = 50.0


def _mean(values: np.ndarray, axis: int = 0) -> Any:
    return np.mean(values, axis=axis)


def find_results(paths: Sequence[str | os.PathLike[str]]) -> list[Path]:
    """The ``results.json`` files given or found (recursively) under the given folders."""
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_file():
            found.append(p)
        elif p.is_dir():
            found.extend(sorted(p.rglob("results.json")))
        else:
            raise ValueError(f"{str(p)!r} is neither a folder nor a results.json file")
    unique = list(dict.fromkeys(f.resolve() for f in found))
    if not unique:
        raise ValueError(f"no results.json under {', '.join(map(str, paths))}")
    return unique


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_row(source: Path, i: int, row: Any) -> None:
    """A results row has what the report reads: ``method`` and ``family`` (strings),
    ``target``, ``best_f2`` (finite), ``sim_calls`` (>= 0) and ``calls_to_success``
    (an integer or null); a one-line ``ValueError`` names the file, row and field."""
    where = f"{str(source)!r} row {i}"
    if not isinstance(row, dict):
        raise ValueError(f"{where} is {type(row).__name__}, not an object")
    checks = (
        ("method", lambda v: isinstance(v, str) and v != "", "a non-empty string"),
        ("family", lambda v: isinstance(v, str) and v != "", "a non-empty string"),
        (
            "target",
            lambda v: isinstance(v, str | int) and not isinstance(v, bool),
            "a target id (string or integer)",
        ),
        ("best_f2", _number, "a finite number (f2)"),
        ("sim_calls", lambda v: _number(v) and v >= 0, "a number of simulator calls >= 0"),
    )
    for key, ok, text in checks:
        if row.get(key) is None:
            raise ValueError(f"{where} has no {key!r} (missing or null); expected {text}")
        if not ok(row[key]):
            raise ValueError(f"{where}: {key}={row[key]!r}; expected {text}")
    calls = row.get("calls_to_success")
    if calls is not None and not (_number(calls) and calls >= 0):
        raise ValueError(f"{where}: calls_to_success={calls!r}; expected a number >= 0 or null")


def _identity(f: Path, settings: dict[str, Any], method: str) -> str:
    """What a results file evaluated: the trained model (whatever folder the evaluation
    was written to, however often it was repeated or resumed), else the method with its
    seed and settings."""
    if settings.get("model"):
        return str(settings["model"])
    if settings.get("run"):
        return model_identity(settings["run"])
    if (f.parent / "meta.json").is_file() and (f.parent / "config.yaml").is_file():
        return model_identity(f.parent)  # results written into a run folder (the demo)
    keys = ("method_seed", "families", "n", "budget", "budgets", "suite", "job")
    if not any(k in settings for k in keys):  # nothing says what ran: the file is the run
        return f"file:{f.resolve()}"
    return json.dumps([method, {k: settings.get(k) for k in keys}], sort_keys=True, default=str)


def load_runs(files: Sequence[Path], dedupe: bool = True) -> list[dict[str, Any]]:
    """One run per (file, method): ``{"source", "method", "rows", "identity"}``.

    With ``dedupe``, results of one trained model (or one seeded search) evaluated more
    than once — the evaluation at the end of training, a later ``nanoenv evaluate``, a
    resumed run — count as one run: the newest file is kept and the others are listed
    under its ``"duplicates"``.
    """
    runs: list[dict[str, Any]] = []
    for f in files:
        try:
            data = json.loads(Path(f).read_text())
            rows = data["rows"]
            settings = data.get("settings") or {}
            if not isinstance(settings, dict):
                raise TypeError("settings is not a mapping")
        except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ValueError(f"{str(f)!r} is not a results.json file: {exc}") from None
        if not isinstance(rows, list) or not rows:
            raise ValueError(f"{str(f)!r}: 'rows' must be a non-empty list of result rows")
        for i, row in enumerate(rows):
            _check_row(f, i, row)
        for method in dict.fromkeys(r["method"] for r in rows):
            runs.append(
                {
                    "source": str(f),
                    "method": method,
                    "rows": [r for r in rows if r["method"] == method],
                    "identity": _identity(Path(f), settings, method),
                    "mtime": Path(f).stat().st_mtime_ns,
                    "duplicates": [],
                }
            )
    if not dedupe:
        return runs
    kept: dict[tuple[str, str], dict[str, Any]] = {}
    for run in sorted(runs, key=lambda r: r["mtime"], reverse=True):
        key = (run["method"], run["identity"])
        if key in kept:
            kept[key]["duplicates"].append(run["source"])
        else:
            kept[key] = run
    return [r for r in runs if kept.get((r["method"], r["identity"])) is r]


# -- aggregation ----------------------------------------------------------------------------


def _strata(runs: list[list[dict[str, Any]]], key: Callable[[dict[str, Any]], float]) -> list:
    """Values per target index (stratum) over runs."""
    by_target: dict[Any, list[float]] = {}
    for rows in runs:
        for r in rows:
            by_target.setdefault(r["target"], []).append(key(r))
    return [by_target[t] for t in sorted(by_target, key=str)]


def _cell(
    runs: list[list[dict[str, Any]]], success_f2: float, n_boot: int, seed: int
) -> dict[str, Any]:
    rows = [r for rs in runs for r in rs]
    f2 = np.array([r["best_f2"] for r in rows], dtype=np.float64)
    success = (f2 >= success_f2).astype(np.float64)
    calls = [
        r["calls_to_success"]
        for r in rows
        if r.get("calls_to_success") is not None and r["best_f2"] >= success_f2
    ]
    if len(runs) > 1:
        ci_over = "runs within targets"
        f2_strata = _strata(runs, lambda r: r["best_f2"])
        s_strata = _strata(runs, lambda r: float(r["best_f2"] >= success_f2))
    else:  # one run: no spread between runs, resample the targets
        ci_over = "targets (single run)"
        f2_strata, s_strata = [f2], [success]
    return {
        "runs": len(runs),
        "targets": len({r["target"] for r in rows}),
        "n": len(rows),
        "success_rate": float(success.mean()),
        "success_rate_ci": stratified_bootstrap_ci(s_strata, _mean, n_boot=n_boot, seed=seed),
        "best_f2_mean": float(f2.mean()),
        "best_f2_iqm": iqm(f2),
        "best_f2_iqm_ci": stratified_bootstrap_ci(f2_strata, iqm, n_boot=n_boot, seed=seed),
        "median_calls_to_success": float(np.median(calls)) if calls else None,
        "mean_sim_calls": float(np.mean([r["sim_calls"] for r in rows])),
        "ci_over": ci_over,
    }


def aggregate(
    runs: list[dict[str, Any]],
    success_f2: float = SUCCESS_F2,
    n_boot: int = N_BOOT,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """One summary per method × family (in order of appearance), see the module text."""
    cells: dict[tuple[str, str], list[list[dict[str, Any]]]] = {}
    for run in runs:
        for family in dict.fromkeys(r["family"] for r in run["rows"]):
            rows = [r for r in run["rows"] if r["family"] == family]
            cells.setdefault((run["method"], family), []).append(rows)
    return [
        {"method": m, "family": f, **_cell(rs, success_f2, n_boot, seed)}
        for (m, f), rs in cells.items()
    ]


def _fmt_calls(value: float | None) -> str:
    return "–" if value is None else f"{value:g}"


def success_cell(s: dict[str, Any]) -> str:
    """A summary row's success rate with its 95 % interval, as a table cell."""
    lo, hi = s["success_rate_ci"]
    return f"{s['success_rate']:.0%} [{lo:.0%}, {hi:.0%}]"


def iqm_cell(s: dict[str, Any]) -> str:
    """A summary row's best-f2 IQM with its 95 % interval, as a table cell."""
    lo, hi = s["best_f2_iqm_ci"]
    return f"{s['best_f2_iqm']:.1f} [{lo:.1f}, {hi:.1f}]"


def markdown_table(summary: list[dict[str, Any]], success_f2: float = SUCCESS_F2) -> str:
    """The summary as a Markdown table (one row per method × family)."""
    head = (
        f"| method | family | runs × targets | success (f2 ≥ {success_f2:g}) [95 % CI] | "
        "best f2 IQM [95 % CI] | mean best f2 | median calls to success | mean calls |"
    )
    lines = [head, "|---|---|---:|---:|---:|---:|---:|---:|"]
    for s in summary:
        lines.append(
            f"| {s['method']} | {s['family']} | {s['runs']} × {s['targets']} | "
            f"{success_cell(s)} | {iqm_cell(s)} | {s['best_f2_mean']:.1f} | "
            f"{_fmt_calls(s['median_calls_to_success'])} | {s['mean_sim_calls']:.1f} |"
        )
    return "\n".join(lines) + "\n"
