"""Aggregate evaluation results over seeds: ``nanoenv report RUN_DIR... [--out DIR]``.

Every ``results.json`` found under the given folders (as written by ``nanoenv evaluate``,
:func:`agents.rl.evaluate_run` / :func:`~agents.rl.evaluate_baseline` or
``nanoenv demo``) contributes one *run* per method it holds. Runs are grouped by
method × family and summarised over runs and targets:

* success rate (best f2 ≥ ``success_f2``, 50 by default) and best f2, each with its
  mean, interquartile mean (IQM, :func:`iqm`) and a stratified-bootstrap 95 % confidence
  interval (:func:`stratified_bootstrap_ci`): the runs are resampled with replacement
  within each target (the strata), as rliable does; a cell with a single run has no
  run-to-run spread, so its interval comes from resampling the targets instead
  (``ci_over`` says which);
* the median number of simulator calls to success (over the successes).

:func:`write_report` writes ``report.md`` (a Markdown table), ``report.json`` and PNG
plots: best f2 against simulator calls per method (from the per-target ``history`` of
the rows when they carry one, else the fraction solved against calls, from
``calls_to_success``), when the rows carry curves (``times_h``, ``target_release``,
``release``) the best designs' release curves against their targets, and, when the
folders hold training runs, their learning curves (from ``logs/*/progress.csv``).

>>> iqm([1, 2, 3, 4, 5, 6, 7, 8])
4.5
"""

from __future__ import annotations

import argparse
import json
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from nanoenv.files import atomic_write

__all__ = [
    "aggregate",
    "find_results",
    "find_training_logs",
    "iqm",
    "iqm_cell",
    "load_runs",
    "markdown_table",
    "plot_learning_curves",
    "stratified_bootstrap_ci",
    "success_cell",
    "write_report",
]

SUCCESS_F2 = 50.0
N_BOOT = 2000


# -- statistics -----------------------------------------------------------------------------


def iqm(values: Any, axis: int | None = None) -> Any:
    """Interquartile mean: the mean of the middle 50 % of ``values`` (25 % trimmed from
    each end, :func:`scipy.stats.trim_mean`); along ``axis``, or over all values."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.size == 0:
        raise ValueError("iqm of no values")
    out = stats.trim_mean(arr if axis is not None else arr.ravel(), 0.25, axis=axis or 0)
    return float(out) if np.ndim(out) == 0 else out


def _mean(values: np.ndarray, axis: int = 0) -> Any:
    return np.mean(values, axis=axis)


def stratified_bootstrap_ci(
    strata: Sequence[Sequence[float]],
    statistic: Callable[..., Any] = iqm,
    *,
    n_boot: int = N_BOOT,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile confidence interval of ``statistic`` by stratified bootstrap.

    :param strata: one sequence of values per stratum (for example the scores of every
        run on one target); each bootstrap sample draws, with replacement, as many values
        from each stratum as it holds, and ``statistic`` is taken over all of them.
    :param statistic: ``f(values, axis=1)`` on an ``(n_boot, n_values)`` array (like
        :func:`iqm` or :func:`numpy.mean`).
    :param n_boot: bootstrap samples.
    :param confidence: coverage of the interval.
    :param seed: seed of the resampling (same seed, same interval).
    """
    groups = [np.asarray(s, dtype=np.float64).ravel() for s in strata]
    groups = [g for g in groups if g.size]
    if not groups:
        raise ValueError("no values to bootstrap")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1); got {confidence}")
    rng = np.random.default_rng(seed)
    samples = np.concatenate(
        [g[rng.integers(0, g.size, size=(n_boot, g.size))] for g in groups], axis=1
    )
    values = np.asarray(statistic(samples, axis=1), dtype=np.float64)
    alpha = (1 - confidence) / 2
    lo, hi = np.percentile(values, [100 * alpha, 100 * (1 - alpha)])
    return float(lo), float(hi)


# -- loading --------------------------------------------------------------------------------


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
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value))  # fmt: skip


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
        ("target", lambda v: isinstance(v, str | int) and not isinstance(v, bool),
         "a target id (string or integer)"),
        ("best_f2", _number, "a finite number (f2)"),
        ("sim_calls", lambda v: _number(v) and v >= 0, "a number of simulator calls >= 0"),
    )  # fmt: skip
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
    from agents.rl import model_identity

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


# -- output ---------------------------------------------------------------------------------


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


def _figure(figsize: tuple[float, float]) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, dpi=110, facecolor="white")
    FigureCanvasAgg(fig)
    return fig


def _style(ax: Any) -> None:
    ax.grid(True, color="#E3E3E3", linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _best_so_far(history: list[Sequence[float]], grid: np.ndarray) -> np.ndarray:
    """Best f2 after each call count of ``grid`` from a ``(calls, best f2)`` history."""
    calls = np.array([h[0] for h in history], dtype=np.float64)
    best = np.maximum.accumulate(np.array([h[1] for h in history], dtype=np.float64))
    idx = np.searchsorted(calls, grid, side="right") - 1
    out = np.where(idx >= 0, best[np.clip(idx, 0, None)], np.nan)
    return out


def plot_score_vs_calls(
    runs: list[dict[str, Any]], path: Path, success_f2: float = SUCCESS_F2
) -> Path:
    """Best f2 against simulator calls per method and family (median over runs and
    targets, interquartile band) from the rows' histories; without histories, the
    fraction of targets solved within a number of calls (from ``calls_to_success``)."""
    from matplotlib.ticker import FuncFormatter

    from nanoenv.plotting import CURVE_COLORS, save_figure

    families = list(dict.fromkeys(r["family"] for run in runs for r in run["rows"]))
    methods = list(dict.fromkeys(run["method"] for run in runs))
    fig = _figure((6.2 * len(families), 4.4))
    for k, family in enumerate(families):
        ax = fig.add_subplot(1, len(families), k + 1)
        _style(ax)
        any_history = False
        for m, method in enumerate(methods):
            rows = [
                r
                for run in runs
                if run["method"] == method
                for r in run["rows"]
                if r["family"] == family
            ]
            if not rows:
                continue
            color = CURVE_COLORS[m % len(CURVE_COLORS)]
            style = ("-", "--", ":")[(m // len(CURVE_COLORS)) % 3]  # more methods than colours
            max_calls = max(int(r["sim_calls"]) for r in rows)
            grid = np.arange(1, max(max_calls, 1) + 1, dtype=np.float64)
            if all(r.get("history") for r in rows):
                any_history = True
                # NaN before a row's first design (a method that screens a batch first,
                # or a policy whose episode starts after its proposer's calls); a row that
                # stopped (on success) keeps its best f2 to the end of the grid
                curves = np.stack([_best_so_far(r["history"], grid) for r in rows])
                keep = np.isfinite(curves).any(axis=0)
                grid_k, curves = grid[keep], curves[:, keep]
                med = np.nanmedian(curves, axis=0)
                q1, q3 = np.nanpercentile(curves, [25, 75], axis=0)
                ax.plot(grid_k, med, color=color, lw=2, ls=style, label=method)
                ax.fill_between(grid_k, q1, q3, color=color, alpha=0.18, lw=0)
            else:
                solved = np.array(
                    [r["calls_to_success"] for r in rows if r.get("calls_to_success") is not None],
                    dtype=float,
                )
                frac = [(solved <= g).sum() / len(rows) for g in grid]
                ax.step(grid, np.array(frac) * 100, where="post", color=color, lw=2, ls=style,
                        label=method)
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}"))
        ax.set_xlabel("simulator calls")
        if any_history:
            ax.axhline(success_f2, color="#777777", ls="--", lw=1)
            ax.set_ylabel("best f2 so far (median, IQR band)")
        else:
            ax.set_ylabel("targets solved (%)")
        ax.set_title(family)
        ax.legend(frameon=False, fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)


def find_training_logs(paths: Sequence[str | os.PathLike[str]]) -> dict[str, dict[str, Any]]:
    """Training runs under ``paths`` (folders holding ``config.yaml`` and
    ``logs/*/progress.csv``, as :func:`agents.rl.train` writes them), each as
    ``{"label": "<algo> <task>", "steps": array, "success": array, "reward": array}``;
    the sessions of a resumed run are joined in step order."""
    import csv

    found: dict[str, dict[str, Any]] = {}
    for p in map(Path, paths):
        if not p.is_dir():
            continue
        for config in sorted(p.rglob("config.yaml")):
            run = config.parent
            logs = sorted((run / "logs").glob("*/progress.csv"))
            if not logs:
                continue
            algo = task = "?"
            for line in config.read_text().splitlines():
                key, _, value = line.partition(":")
                if key == "algo":
                    algo = value.strip()
                elif key == "task":
                    task = value.strip()
            points: dict[float, tuple[float, float]] = {}
            for log in logs:
                with log.open() as f:
                    for row in csv.DictReader(f):
                        try:
                            step = float(row["time/total_timesteps"])
                        except (KeyError, ValueError):
                            continue
                        points[step] = (
                            float(row.get("rollout/success_rate") or "nan"),
                            float(row.get("rollout/ep_rew_mean") or "nan"),
                        )
            prior = run / "prior.json"  # a prior-guided policy (agents.prior)
            if prior.is_file():
                penalty = json.loads(prior.read_text()).get("edit_penalty", 0.0)
                algo = "prior+ppo-kl" if penalty > 0 else "prior+ppo"
            if points:
                steps = np.array(sorted(points))
                vals = np.array([points[k] for k in steps])
                found[str(run)] = {"label": f"{algo} {task}", "steps": steps,
                                   "success": vals[:, 0], "reward": vals[:, 1]}  # fmt: skip
    return found


def plot_learning_curves(logs: dict[str, dict[str, Any]], path: Path) -> Path | None:
    """Training success rate (share of episodes reaching the success f2) and mean
    episode return against environment steps, one colour per algorithm × task (thin
    lines: runs; thick: their mean on a common grid); ``None`` when there is no log."""
    from nanoenv.plotting import CURVE_COLORS, save_figure

    if not logs:
        return None
    labels = list(dict.fromkeys(v["label"] for v in logs.values()))
    fig = _figure((11.0, 4.2))
    axes = [fig.add_subplot(1, 2, i + 1) for i in range(2)]
    for ax, key, ylabel in zip(axes, ("success", "reward"),
                               ("training episodes solved (%)", "mean episode return"),
                               strict=True):  # fmt: skip
        _style(ax)
        for m, label in enumerate(labels):
            color = CURVE_COLORS[m % len(CURVE_COLORS)]
            runs = [v for v in logs.values() if v["label"] == label]
            scale = 100.0 if key == "success" else 1.0
            for v in runs:
                ax.plot(v["steps"], scale * v[key], color=color, lw=0.8, alpha=0.35)
            end = min(v["steps"][-1] for v in runs)
            grid = np.linspace(max(v["steps"][0] for v in runs), end, 50)
            mean = np.nanmean([np.interp(grid, v["steps"], v[key]) for v in runs], axis=0)
            ax.plot(grid, scale * mean, color=color, lw=2, label=f"{label} ({len(runs)})")
        ax.set_xlabel("environment steps")
        ax.set_ylabel(ylabel)
        ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_best_designs(runs: list[dict[str, Any]], path: Path, max_targets: int = 6) -> Path | None:
    """Release curves of each method's best design against the target, for the first
    ``max_targets`` targets of the first run of each method; ``None`` (nothing drawn)
    when the rows carry no curves."""
    from nanoenv.plotting import plot_release, save_figure

    firsts: dict[str, dict[str, Any]] = {}
    for run in runs:
        firsts.setdefault(run["method"], run)
    keys = ("times_h", "target_release", "release")
    by_target: dict[tuple[str, Any], dict[str, dict[str, Any]]] = {}
    for method, run in firsts.items():
        for r in run["rows"]:
            if all(r.get(k) is not None for k in keys):
                by_target.setdefault((r["family"], r["target"]), {})[method] = r
    if not by_target:
        return None
    chosen = list(by_target)[:max_targets]
    cols = min(3, len(chosen))
    nrows = math.ceil(len(chosen) / cols)
    fig = _figure((5.0 * cols, 3.8 * nrows))
    for k, key in enumerate(chosen):
        ax = fig.add_subplot(nrows, cols, k + 1)
        entries = by_target[key]
        first = next(iter(entries.values()))
        times = np.asarray(first["times_h"], dtype=np.float64)
        curves = np.stack([np.asarray(r["release"], dtype=np.float64) for r in entries.values()])
        labels = [f"{m} (f2 {r['best_f2']:.0f})" for m, r in entries.items()]
        plot_release(
            times,
            curves,
            labels=labels,
            target=first["target_release"],
            ax=ax,
            title=f"{key[0]} target {key[1]}",
        )
        ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)


def write_report(
    paths: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    *,
    success_f2: float = SUCCESS_F2,
    n_boot: int = N_BOOT,
    seed: int = 0,
    title: str = "Evaluation report",
) -> dict[str, Any]:
    """Aggregate the results under ``paths`` and write ``report.md``, ``report.json`` and
    ``plots/*.png`` into ``out``; returns the report (what ``report.json`` holds)."""
    files = find_results(paths)
    runs = load_runs(files)
    dropped = sum(len(r["duplicates"]) for r in runs)
    summary = aggregate(runs, success_f2, n_boot, seed)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    plots: dict[str, str] = {}
    plots["score_vs_calls"] = str(
        plot_score_vs_calls(runs, out / "plots" / "score_vs_calls.png", success_f2)
    )
    designs = plot_best_designs(runs, out / "plots" / "best_designs.png")
    if designs is not None:
        plots["best_designs"] = str(designs)
    curves = plot_learning_curves(find_training_logs(paths), out / "plots" / "learning.png")
    if curves is not None:
        plots["learning_curves"] = str(curves)
    report = {
        "sources": [str(f) for f in files],
        "duplicates_dropped": [d for r in runs for d in r["duplicates"]],
        "success_f2": success_f2,
        "bootstrap": {
            "samples": n_boot,
            "seed": seed,
            "confidence": 0.95,
            "statistic": "IQM (best f2), mean (success)",
        },
        "summary": summary,
        "plots": plots,
    }
    atomic_write(out / "report.json", json.dumps(report, indent=1))
    md = [
        f"# {title}\n",
        f"{len(runs)} run(s) from {len(files)} results file(s)"
        + (f" ({dropped} repeated evaluation(s) of a model or seeded search already counted "
           "were left out: one model is one run)" if dropped else "")
        + f". Success: best f2 ≥ "
        f"{success_f2:g}. IQM = interquartile mean; 95 % intervals by stratified bootstrap "
        f"({n_boot} samples, seed {seed}; runs resampled within each target, or targets "
        "resampled when a cell has a single run). Calls = simulator calls.\n",
        markdown_table(summary, success_f2),
    ]
    for name, p in plots.items():
        md.append(f"![{name}]({Path(p).relative_to(out).as_posix()})\n")
    md.append("Sources:\n\n" + "".join(f"- `{f}`\n" for f in files))
    atomic_write(out / "report.md", "\n".join(md))
    return report


# -- command --------------------------------------------------------------------------------


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths",
        nargs="+",
        metavar="RUN_DIR",
        help="run or evaluation folders (searched for results.json) or files",
    )
    parser.add_argument(
        "--out",
        metavar="DIR",
        default=None,
        help="report folder (default: RUN_DIR itself when one folder is given, else a new "
        "runs/report_<UTC timestamp>)",
    )
    parser.add_argument("--success-f2", type=float, default=SUCCESS_F2, metavar="F2")
    parser.add_argument(
        "--bootstrap",
        type=int,
        default=N_BOOT,
        metavar="N",
        help="bootstrap samples of the confidence intervals",
    )
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed")


def run(args: argparse.Namespace) -> int:
    if args.bootstrap < 1:
        raise ValueError("--bootstrap must be positive")
    first = Path(args.paths[0])
    if args.out is not None:
        out = Path(args.out)
    elif len(args.paths) == 1:
        out = first if first.is_dir() else first.parent
    else:  # several runs: a new folder, never one of the runs'
        import datetime as dt

        from agents.rl import new_folder

        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        out = new_folder("runs", f"report_{stamp}")
    report = write_report(
        args.paths, out, success_f2=args.success_f2, n_boot=args.bootstrap, seed=args.seed
    )
    print(markdown_table(report["summary"], args.success_f2), end="")
    print(f"\nreport: {out / 'report.md'} (and report.json)")
    for path in report["plots"].values():
        print(f"plot:   {path}")
    return 0
