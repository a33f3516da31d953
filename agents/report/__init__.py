"""Aggregate evaluation results over seeds: ``nanoenv report RUN_DIR... [--out DIR]``.

Every ``results.json`` found under the given folders (as written by ``nanoenv evaluate``,
:func:`agents.rl.evaluate_run` / :func:`~agents.rl.evaluate_baseline` or
``nanoenv demo``) contributes one *run* per method it holds. Runs are grouped by
method × family and summarised over runs and targets (:mod:`agents.report.results`:
success rate and best f2 with IQM and stratified-bootstrap 95 % intervals, median calls
to success).

:func:`write_report` writes ``report.md`` (a Markdown table), ``report.json`` and PNG
plots (:mod:`agents.report.plots`): best f2 against simulator calls per method (from the
per-target ``history`` of the rows when they carry one, else the fraction solved against
calls, from ``calls_to_success``), when the rows carry curves (``times_h``,
``target_release``, ``release``) the best designs' release curves against their
targets, and, when the folders hold training runs, their learning curves (from
``logs/*/progress.csv``).
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agents.bench.stats import N_BOOT
from agents.report.plots import (
    find_training_logs,
    plot_best_designs,
    plot_learning_curves,
    plot_score_vs_calls,
)
from agents.report.results import (
    SUCCESS_F2,
    aggregate,
    find_results,
    iqm_cell,
    load_runs,
    markdown_table,
    success_cell,
)
from agents.rl.run_folder import new_folder, utc_stamp
from nanoenv.files import atomic_write

__all__ = [
    "aggregate",
    "configure",
    "find_results",
    "find_training_logs",
    "iqm_cell",
    "load_runs",
    "markdown_table",
    "plot_learning_curves",
    "run",
    "success_cell",
    "write_report",
]


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
        + (
            f" ({dropped} repeated evaluation(s) of a model or seeded search already counted "
            "were left out: one model is one run)"
            if dropped
            else ""
        )
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


def configure(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``nanoenv report``."""
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
    """``nanoenv report``: write the report and print its table."""
    if args.bootstrap < 1:
        raise ValueError("--bootstrap must be positive")
    first = Path(args.paths[0])
    if args.out is not None:
        out = Path(args.out)
    elif len(args.paths) == 1:
        out = first if first.is_dir() else first.parent
    else:  # several runs: a new folder, never one of the runs'
        out = new_folder("runs", f"report_{utc_stamp()}")
    report = write_report(
        args.paths, out, success_f2=args.success_f2, n_boot=args.bootstrap, seed=args.seed
    )
    print(markdown_table(report["summary"], args.success_f2), end="")
    print(f"\nreport: {out / 'report.md'} (and report.json)")
    for path in report["plots"].values():
        print(f"plot:   {path}")
    return 0
