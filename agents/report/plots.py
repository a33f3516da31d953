"""The report's plots: best f2 against simulator calls per method, the best designs'
release curves against their targets, and training learning curves (from the
``logs/*/progress.csv`` of run folders)."""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from agents.report.results import SUCCESS_F2

__all__ = [
    "find_training_logs",
    "plot_best_designs",
    "plot_learning_curves",
    "plot_score_vs_calls",
]


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
                ax.step(
                    grid,
                    np.array(frac) * 100,
                    where="post",
                    color=color,
                    lw=2,
                    ls=style,
                    label=method,
                )
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
                found[str(run)] = {
                    "label": f"{algo} {task}",
                    "steps": steps,
                    "success": vals[:, 0],
                    "reward": vals[:, 1],
                }
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
    for ax, key, ylabel in zip(
        axes,
        ("success", "reward"),
        ("training episodes solved (%)", "mean episode return"),
        strict=True,
    ):
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
