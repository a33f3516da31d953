"""``nanoenv bench run``: every method × family × seed on a frozen suite, at fixed budgets.

:func:`run_bench` runs the jobs through :func:`agents.sweep.sweep` (restarts skip finished
jobs), then :func:`aggregate` turns their rows into one row per method × family ×
budget:

==================  =================================================================
``method``          designer name
``track``           ``search`` or ``amortised``
``family``, ``tier`` task family and its tier (``standard`` or ``hard``)
``budget``          simulator calls ``K``
``score``           IQM of the normalised score over targets × seeds
``ci_low/ci_high``  its 95 % interval (targets resampled, :mod:`agents.bench.stats`)
``success_f2_50``   share of runs whose best f2 by ``K`` is ≥ 50 (and ``_75``: ≥ 75)
``poi_vs_random``   probability of improvement over random search at ``K``, interval
``train_sim_calls`` simulator calls spent training (amortised methods; mean over seeds)
==================  =================================================================

:func:`write_outputs` writes ``bench.json`` and ``bench.md`` with plots: normalised score
against calls per family, performance profiles at ``K = 10`` per tier, and the
probability of improvement over random search.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from agents.bench.stats import iqm_ci, performance_profile, probability_of_improvement
from nanoenv.bench import BUDGETS, DEFAULT_SUITE, load_suite

__all__ = [
    "QUICK",
    "STANDARD_METHODS",
    "aggregate",
    "run_bench",
    "write_outputs",
]

#: The methods of a full bench run.
STANDARD_METHODS = ("random", "cmaes", "gradient", "bo", "prior", "ppo", "sac", "prior+ppo")
#: The ``--quick`` subset: targets per family, seeds, budgets, training steps.
QUICK = {
    "n": 8,
    "seeds": (0,),
    "budgets": (1, 3, 10, 30, 100),
    "steps": {"ppo": 4096, "sac": 1024, "prior+ppo": 4096},
}
#: Training steps of a full run (per family and seed).
FULL_STEPS = {"ppo": 30_000, "sac": 5_000, "prior+ppo": 20_000, "prior+ppo-kl": 20_000}
HEADLINE_BUDGET = 10


def _matrix(rows: list[dict[str, Any]], k: int, key: str = "normalized_at") -> np.ndarray:
    """``(targets, seeds)`` of ``row[key][k]`` (targets in suite order, seeds sorted)."""
    seeds = sorted({r["seed"] for r in rows})
    targets = sorted({r["target"] for r in rows})
    out = np.full((len(targets), len(seeds)), np.nan)
    ti = {t: i for i, t in enumerate(targets)}
    si = {s: i for i, s in enumerate(seeds)}
    for r in rows:
        value = r[key][k]
        out[ti[r["target"]], si[r["seed"]]] = np.nan if value is None else float(value)
    return out


def aggregate(
    results: Sequence[Path | dict[str, Any]], tiers: dict[str, str], n_boot: int = 2000
) -> list[dict[str, Any]]:
    """One row per method × family × budget from the jobs' ``results.json`` (see the
    module text); ``tiers`` maps family to tier."""
    payloads = [json.loads(Path(p).read_text()) if not isinstance(p, dict) else p for p in results]
    cells: dict[tuple[str, str], dict[str, Any]] = {}
    for data in payloads:
        rows = data["rows"]
        if not rows:
            continue
        if "normalized_at" not in rows[0]:
            raise ValueError(
                "results without normalised scores: run them on a suite with "
                "references (nanoenv bench run)"
            )
        key = (rows[0]["method"], rows[0]["family"])
        cell = cells.setdefault(
            key, {"rows": [], "train_sim_calls": [], "track": None, "budgets": rows[0]["budgets"]}
        )
        if rows[0]["budgets"] != cell["budgets"]:
            raise ValueError(f"jobs of {key} were scored at different budgets")
        cell["rows"] += rows
        cell["track"] = data["settings"].get("track", rows[0].get("track", "search"))
        calls = data["settings"].get("train_sim_calls")
        if calls is not None:
            cell["train_sim_calls"].append(calls)
    random = {fam: c for (m, fam), c in cells.items() if m == "random"}
    out = []
    for (method, family), cell in cells.items():
        rows, budgets = cell["rows"], cell["budgets"]
        for k, budget in enumerate(budgets):
            score, lo, hi = iqm_ci(_matrix(rows, k), n_boot=n_boot)
            row = {
                "method": method,
                "track": cell["track"],
                "family": family,
                "tier": tiers.get(family, "standard"),
                "budget": budget,
                "score": score,
                "ci_low": lo,
                "ci_high": hi,
                "success_f2_50": float(np.mean([r["success_f2_50_at"][k] for r in rows])),
                "success_f2_75": float(np.mean([r["success_f2_75_at"][k] for r in rows])),
                "train_sim_calls": (
                    float(np.mean(cell["train_sim_calls"])) if cell["train_sim_calls"] else None
                ),
                "runs": len(rows),
                "seeds": len({r["seed"] for r in rows}),
            }
            base = random.get(family)
            if base is not None and method != "random" and budget in base["budgets"]:
                kb = base["budgets"].index(budget)
                p, plo, phi = probability_of_improvement(
                    _matrix(rows, k), _matrix(base["rows"], kb), n_boot=n_boot
                )
                row.update(poi_vs_random=p, poi_ci_low=plo, poi_ci_high=phi)
            out.append(row)
    return out


def run_bench(
    suite: str = DEFAULT_SUITE,
    methods: Sequence[str] = STANDARD_METHODS,
    families: Sequence[str] | None = None,
    seeds: Sequence[int] = (0,),
    out: str | os.PathLike[str] = "runs/bench",
    *,
    workers: int = 2,
    quick: bool = False,
    steps: dict[str, int] | None = None,
    device: str = "cpu",
    configs_dir: str = "experiments/configs",
    progress: bool = True,
    echo: Callable[[str], Any] = print,
    backend: str = "local",
    address: str | None = None,
    cpus_per_job: float = 1.0,
    gpus_per_job: float = 0.0,
) -> dict[str, Any]:
    """Run the bench and write ``<out>/bench.json`` and ``bench.md``; returns the JSON.

    Arguments are validated (suite, references, methods, families, seeds, backend) before
    any job runs. ``quick`` takes :data:`QUICK`'s targets, seeds, budgets and steps.
    ``backend``, ``address``, ``cpus_per_job`` and ``gpus_per_job`` are
    :func:`agents.sweep.sweep`'s (``backend="ray"``: Ray tasks, local or on a cluster).
    """
    from agents.sweep import SweepSettings, check_backend, make_jobs, sweep

    backend_kw = {
        "backend": backend,
        "address": address,
        "cpus_per_job": cpus_per_job,
        "gpus_per_job": gpus_per_job,
    }
    check_backend(workers, **backend_kw)

    s = load_suite(suite)
    families = list(families or s.family_names)
    missing = [f for f in families if not s.has_references(f)]
    if missing:
        raise ValueError(
            f"suite {s.version!r} has no references for {missing}; build them with "
            "`nanoenv bench references`"
        )
    n = QUICK["n"] if quick else None
    if quick:
        seeds = QUICK["seeds"]
    budgets = QUICK["budgets"] if quick else BUDGETS
    steps = {**(QUICK["steps"] if quick else FULL_STEPS), **(steps or {})}
    settings = SweepSettings(
        n=n,
        steps=steps,
        configs_dir=configs_dir,
        device=device,
        threads=1,
        suite=suite,
        budgets=budgets,
    )
    jobs = make_jobs(list(methods), families, list(seeds))
    out = Path(out)
    echo(
        f"nanoenv bench: {len(jobs)} jobs ({len(methods)} methods × {len(families)} families × "
        f"{len(seeds)} seeds) on {s.version} [{s.content_hash[:12]}] → {out}"
    )
    started = time.perf_counter()
    files = sweep(
        jobs, settings, out / "jobs", workers=workers, progress=progress, echo=echo, **backend_kw
    )
    wall = time.perf_counter() - started
    tiers = {f: s.tier(f) for f in families}
    table = aggregate(files, tiers)
    import torch

    result = {
        "suite": {"version": s.version, "content_hash": s.content_hash},
        "settings": {
            "command": " ".join(["nanoenv", *sys.argv[1:]]) if sys.argv else "",
            "methods": list(methods),
            "families": families,
            "seeds": list(seeds),
            "budgets": list(budgets),
            "steps": steps,
            "quick": quick,
            "workers": workers,
            "backend": backend_kw,
            "device": device,
            "targets_per_family": n or len(s.targets(families[0])),
            "machine": {
                "cores": os.cpu_count(),
                "torch": torch.__version__,
                "python": platform.python_version(),
            },
        },
        "wall_s": wall,
        "jobs_process_s": sum(
            json.loads(f.read_text())["settings"]["timings_s"]["total_s"] for f in files
        ),
        "tiers": tiers,
        "rows": table,
    }
    write_outputs(result, out, files)
    return result


def _fmt(x: float | None, spec: str = ".2f") -> str:
    return "–" if x is None else format(x, spec)


def markdown(result: dict[str, Any]) -> str:
    """The bench's tables: the headline at ``K = 10``, then score against calls."""
    rows = result["rows"]
    st = result["settings"]
    budgets = st["budgets"]
    head = HEADLINE_BUDGET if HEADLINE_BUDGET in budgets else budgets[len(budgets) // 2]
    lines = [
        f"# nanoenv-bench: {result['suite']['version']}",
        "",
        f"Suite `{result['suite']['version']}` (content hash "
        f"`{result['suite']['content_hash'][:16]}`), {st['targets_per_family']} targets per "
        f"family, seeds {st['seeds']}, budgets {budgets} simulator calls. Score: IQM of the "
        "normalised score (score − floor)/(reference − floor) over targets × seeds, 0 = median "
        "random design, 1 = the oracle's reference; [95 % interval, targets resampled]. "
        f"Wall time {result['wall_s'] / 60:.1f} min; the jobs' processes "
        f"{result['jobs_process_s'] / 60:.1f} min.",
        "",
        f"## Normalised score at K = {head} calls",
        "",
    ]
    methods = list(dict.fromkeys(r["method"] for r in rows))
    families = list(dict.fromkeys(r["family"] for r in rows))
    at = {(r["method"], r["family"]): r for r in rows if r["budget"] == head}
    lines.append(
        "| method | track | "
        + " | ".join(f"{f} ({result['tiers'].get(f, 'standard')})" for f in families)
        + " |"
    )
    lines.append("|---|---|" + "---:|" * len(families))
    for m in methods:
        track = next(r["track"] for r in rows if r["method"] == m)
        cells = []
        for f in families:
            r = at.get((m, f))
            cells.append(
                "–" if r is None else f"{r['score']:.2f} [{r['ci_low']:.2f}, {r['ci_high']:.2f}]"
            )
        lines.append(f"| {m} | {track} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "## Every budget",
        "",
        "| method | family | K | score [95 % CI] | f2 ≥ 50 | f2 ≥ 75 | P(> random) "
        "[95 % CI] | training calls |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        poi = (
            f"{r['poi_vs_random']:.2f} [{r['poi_ci_low']:.2f}, {r['poi_ci_high']:.2f}]"
            if "poi_vs_random" in r
            else "–"
        )
        lines.append(
            f"| {r['method']} | {r['family']} | {r['budget']} | {r['score']:.2f} "
            f"[{r['ci_low']:.2f}, {r['ci_high']:.2f}] | {r['success_f2_50']:.0%} | "
            f"{r['success_f2_75']:.0%} | {poi} | {_fmt(r['train_sim_calls'], ',.0f')} |"
        )
    if result.get("plots"):
        lines += ["", "## Plots", ""]
        lines += [f"![{name}]({Path(p).name})" for name, p in result["plots"].items()]
    return "\n".join(lines) + "\n"


def _save(fig: Any, path: Path) -> str:
    """Lay out, write atomically (:func:`nanoenv.plotting.save_figure`) and close ``fig``."""
    import matplotlib.pyplot as plt

    from nanoenv.plotting import save_figure

    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)
    return str(path)


def plot(result: dict[str, Any], files: Sequence[Path], out: Path) -> dict[str, str]:
    """Score against calls per family, performance profiles at K = 10, P(> random)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result["rows"]
    families = list(dict.fromkeys(r["family"] for r in rows))
    methods = list(dict.fromkeys(r["method"] for r in rows))
    colors = {m: plt.cm.tab10(i % 10) for i, m in enumerate(methods)}
    plots: dict[str, str] = {}
    cols = min(4, len(families))
    nrows = -(-len(families) // cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(4 * cols, 3.2 * nrows), squeeze=False)
    for ax, family in zip(axes.ravel(), families, strict=False):
        for m in methods:
            rs = [r for r in rows if r["method"] == m and r["family"] == family]
            if not rs:
                continue
            k = [r["budget"] for r in rs]
            ax.plot(k, [r["score"] for r in rs], marker="o", ms=3, label=m, color=colors[m])
            ax.fill_between(
                k,
                [r["ci_low"] for r in rs],
                [r["ci_high"] for r in rs],
                alpha=0.15,
                color=colors[m],
            )
        ax.set_xscale("log")
        ax.set_title(f"{family} ({result['tiers'].get(family, 'standard')})", fontsize=9)
        ax.set_xlabel("simulator calls")
        ax.set_ylabel("normalised score (IQM)")
        ax.axhline(1.0, color="grey", lw=0.5, ls="--")
        ax.axhline(0.0, color="grey", lw=0.5)
    for ax in axes.ravel()[len(families) :]:
        ax.axis("off")
    axes.ravel()[0].legend(fontsize=7)
    plots["score_vs_calls"] = _save(fig, out / "bench_score_vs_calls.png")

    budgets = result["settings"]["budgets"]
    head = HEADLINE_BUDGET if HEADLINE_BUDGET in budgets else budgets[len(budgets) // 2]
    k = budgets.index(head)
    values: dict[tuple[str, str], list[float]] = {}
    for f in files:
        for r in json.loads(Path(f).read_text())["rows"]:
            tier = result["tiers"].get(r["family"], "standard")
            values.setdefault((r["method"], tier), []).append(r["normalized_at"][k])
    tiers = sorted({t for _, t in values})
    taus = np.linspace(-0.5, 1.5, 81)
    fig, axes = plt.subplots(1, len(tiers), figsize=(5 * len(tiers), 3.5), squeeze=False)
    for ax, tier in zip(axes.ravel(), tiers, strict=True):
        for m in methods:
            if (m, tier) in values:
                ax.plot(
                    taus, performance_profile(values[(m, tier)], taus), label=m, color=colors[m]
                )
        ax.set_title(f"performance profile, {tier} tier, K = {head}", fontsize=9)
        ax.set_xlabel("normalised score τ")
        ax.set_ylabel("fraction of runs > τ")
    axes.ravel()[0].legend(fontsize=7)
    plots["profiles"] = _save(fig, out / "bench_profiles.png")

    poi = [r for r in rows if r["budget"] == head and "poi_vs_random" in r]
    if poi:
        fig, ax = plt.subplots(figsize=(7, 0.25 * len(poi) + 1.2))
        labels = [f"{r['method']} / {r['family']}" for r in poi]
        y = np.arange(len(poi))
        p = np.array([r["poi_vs_random"] for r in poi])
        err = np.array(
            [
                [r["poi_vs_random"] - r["poi_ci_low"] for r in poi],
                [r["poi_ci_high"] - r["poi_vs_random"] for r in poi],
            ]
        )
        ax.errorbar(p, y, xerr=err, fmt="o", ms=3, color="k")
        ax.axvline(0.5, color="grey", ls="--", lw=0.5)
        ax.set_yticks(y, labels, fontsize=6)
        ax.set_xlabel(f"P(method > random search) at K = {head}")
        plots["probability_of_improvement"] = _save(fig, out / "bench_poi.png")
    return plots


def write_outputs(result: dict[str, Any], out: Path, files: Sequence[Path]) -> None:
    """``bench.json``, ``bench.md`` and the plots, into ``out``."""
    from nanoenv.files import atomic_write

    out.mkdir(parents=True, exist_ok=True)
    result["plots"] = plot(result, files, out)
    atomic_write(out / "bench.json", json.dumps(result, indent=1))
    atomic_write(out / "bench.md", markdown(result))
