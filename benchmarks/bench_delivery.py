"""nanoenv-bench v2's delivery families: separation at K = 10, hypervolume, population spread.

On the families issue 15 adds to ``nanoenv-bench-v2`` (``targeted``, ``theranostic``,
``robust``, ``population``; 16 frozen targets each) this script

1. runs the bench's methods (``random cmaes gradient bo nsga2 prior prior-family``) at
   budgets 1-100 over ``--seeds`` with the same pipeline as ``nanoenv bench run`` (jobs via
   :func:`agents.sweep.sweep`, tables via :func:`agents.bench.run.aggregate`) and checks
   the goal: the 95 % intervals of random search and of the best method do not overlap
   at K = 10;
2. measures the **hypervolume** (:mod:`nanoenv.bench.pareto`, reference point 0) of the
   designs random search and NSGA-II (:mod:`agents.nsga2`) evaluate in ``--mo-budget``
   calls, per target, on the multi-objective families;
3. reports the **spread across patients** of ``population``: the share of the horizon
   in the window for each of the 16 virtual patients at the oracle's reference design.

Run: ``python benchmarks/bench_delivery.py [--seeds 0 1 2] [--workers 1]``. Writes
``benchmarks/results/bench_v2_delivery.{json,md}``, the Pareto fronts
(``bench_v2_delivery_fronts.png``) and the bench's plots (in the run folder); job folders go
to ``runs/bench_v2_delivery`` (a rerun skips finished jobs). ``nsga2`` and
``prior-family`` come from the ``nanoenv.designers`` entry points like every designer
(``prior-family``, :mod:`agents.prior.family`: a cVAE trained on reward-selected designs
of the family, shipped for ``targeted`` and ``theranostic``; on ``robust`` and
``population`` it has no weights and is left out).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SUITE = "nanoenv-bench-v2"
FAMILIES = ("targeted", "theranostic", "robust", "population")
METHODS = ("random", "cmaes", "gradient", "bo", "nsga2", "prior", "prior-family")
BUDGETS = (1, 3, 10, 30, 100)
K = 10


def separation(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per family at K: random's interval, the best method's, and whether they overlap."""
    out = {}
    for family in sorted({r["family"] for r in rows}):
        at = [r for r in rows if r["family"] == family and r["budget"] == K]
        rnd = next(r for r in at if r["method"] == "random")
        best = max((r for r in at if r["method"] != "random"), key=lambda r: r["score"])
        out[family] = {
            "random": [rnd["score"], rnd["ci_low"], rnd["ci_high"]],
            "best": best["method"],
            "best_score": [best["score"], best["ci_low"], best["ci_high"]],
            "separated": bool(best["ci_low"] > rnd["ci_high"]),
        }
    return out


def hypervolumes(
    suite_name: str, families: list[str], budget: int, plot_path: Path | None = None
) -> dict[str, Any]:
    """Median hypervolume of random search's and NSGA-II's evaluated designs per family;
    with ``plot_path``, the Pareto fronts on each family's first target."""
    import torch

    from agents.baselines import RandomSearch
    from agents.nsga2 import NSGA2
    from nanoenv.bench import load_suite
    from nanoenv.bench.pareto import hypervolume
    from nanoenv.envs.multi_objective import objective_values
    from nanoenv.envs.problem import target_batch

    suite = load_suite(suite_name)
    out: dict[str, Any] = {}
    fronts: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for family in families:
        rows = {"random": [], "nsga2": []}
        for i, target in enumerate(suite.targets(family)):
            rnd = RandomSearch(batch_size=budget, stop_on_success=False)
            search = rnd.start(target, budget)
            spec = search.spec
            z = spec.design_space.sample(budget, generator=torch.Generator().manual_seed(i))
            with torch.no_grad():
                ev = search.evaluate(z)
                f = objective_values(
                    spec.reward_model,
                    ev.release,
                    target_batch(spec, [target] * budget),
                    ev.formulation,
                )
            rows["random"].append(hypervolume(f.double().numpy()))
            nsga = NSGA2(stop_on_success=False)
            nsga.design(target, budget, seed=i)
            rows["nsga2"].append(hypervolume(nsga.last_front[0]))
            if i == 0:
                fronts[family] = (f.double().numpy(), nsga.last_front[0])
        out[family] = {
            m: {
                "median": float(np.median(v)),
                "iqr": [float(np.percentile(v, 25)), float(np.percentile(v, 75))],
            }
            for m, v in rows.items()
        }
        out[family]["nsga2_better_share"] = float(
            np.mean(np.array(rows["nsga2"]) > np.array(rows["random"]))
        )
    if plot_path is not None and fronts:
        plot_fronts(fronts, budget, plot_path)
    return out


def plot_fronts(fronts: dict[str, tuple[np.ndarray, np.ndarray]], budget: int, path: Path) -> None:
    """Random designs' objectives and NSGA-II's non-dominated set, one panel per family."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from nanoenv.plotting import save_figure
    from nanoenv.rewards.delivery import DELIVERY_REWARDS
    from nanoenv.tasks import get_family

    fig, axes = plt.subplots(1, len(fronts), figsize=(4 * len(fronts), 3.6), squeeze=False)
    for ax, (family, (rnd, front)) in zip(axes[0], fronts.items(), strict=True):
        names = DELIVERY_REWARDS[get_family(family).reward].objective_names
        ax.scatter(rnd[:, 0], rnd[:, 1], s=8, c="0.6", label=f"random ({budget} designs)")
        order = np.argsort(front[:, 0])
        ax.plot(front[order, 0], front[order, 1], "o-", c="C3", ms=4, label="NSGA-II front")
        ax.set(title=f"{family} (target 0)", xlabel=names[0], ylabel=names[1])
        ax.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, path, dpi=120)
    plt.close(fig)


def population_spread(suite_name: str) -> dict[str, Any]:
    """Time-in-window share per virtual patient at each target's reference design."""
    import torch

    from nanoenv.bench import load_suite
    from nanoenv.kinetics import Formulation, simulate_release
    from nanoenv.rewards.delivery import PopulationWindowReward
    from nanoenv.targets import TargetBatch

    suite = load_suite(suite_name)
    reward = PopulationWindowReward()
    lows, highs, means = [], [], []
    for target, ref in zip(
        suite.targets("population"), suite.references("population"), strict=True
    ):
        design = Formulation.from_dict(ref.design, dtype=torch.float64)
        release = simulate_release(design, target.times_h, target.conditions, target.drug)
        shares = reward.shares(release, TargetBatch.from_targets([target]))[0]
        lows.append(float(shares.min()))
        highs.append(float(shares.max()))
        means.append(float(shares.mean()))
    return {
        "targets": len(means),
        "median_mean_share": float(np.median(means)),
        "median_worst_patient": float(np.median(lows)),
        "median_best_patient": float(np.median(highs)),
        "median_spread": float(np.median(np.array(highs) - np.array(lows))),
    }


def markdown(result: dict[str, Any]) -> str:
    lines = [
        f"# {SUITE}: delivery families",
        "",
        f"Command: `{result['command']}`; wall {result['wall_s'] / 60:.1f} min.",
        "",
        f"## Separation at K = {K} (normalised score, IQM [95 % CI])",
        "",
        "| family | random | best method | best | separated |",
        "|---|---|---|---|---|",
    ]
    for fam, s in result["separation"].items():
        r, b = s["random"], s["best_score"]
        lines.append(
            f"| {fam} | {r[0]:.2f} [{r[1]:.2f}, {r[2]:.2f}] | {s['best']} | "
            f"{b[0]:.2f} [{b[1]:.2f}, {b[2]:.2f}] | {'yes' if s['separated'] else 'no'} |"
        )
    lines += [
        "",
        f"## Hypervolume at {result['mo_budget']} calls (median [IQR] over targets)",
        "",
        "| family | random | NSGA-II | NSGA-II better on |",
        "|---|---|---|---|",
    ]
    for fam, h in result["hypervolume"].items():
        r, g = h["random"], h["nsga2"]
        lines.append(
            f"| {fam} | {r['median']:.3f} [{r['iqr'][0]:.3f}, {r['iqr'][1]:.3f}] | "
            f"{g['median']:.3f} [{g['iqr'][0]:.3f}, {g['iqr'][1]:.3f}] | "
            f"{h['nsga2_better_share']:.0%} of targets |"
        )
    p = result["population_spread"]
    if p is None:
        return "\n".join(lines)
    lines += [
        "",
        "## population: spread across the 16 virtual patients (reference designs)",
        "",
        f"median over {p['targets']} targets: mean share in window "
        f"{p['median_mean_share']:.2f}, worst patient {p['median_worst_patient']:.2f}, "
        f"best patient {p['median_best_patient']:.2f} (spread "
        f"{p['median_spread']:.2f})",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--methods", nargs="+", default=list(METHODS))
    parser.add_argument("--families", nargs="+", default=list(FAMILIES))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--mo-budget", type=int, default=100)
    parser.add_argument("--out", default=str(ROOT / "runs" / "bench_v2_delivery"))
    parser.add_argument("--suite", default=SUITE, help="suite version or file (tests: a tiny one)")
    parser.add_argument("--results", default=str(ROOT / "benchmarks" / "results"))
    args = parser.parse_args(argv)

    from agents.bench.run import aggregate, write_outputs
    from agents.prior.family import SHIP_SETTINGS
    from agents.sweep import SweepSettings, make_jobs, sweep
    from nanoenv.bench import load_suite
    from nanoenv.files import atomic_write

    suite = load_suite(args.suite)
    started = time.perf_counter()
    settings = SweepSettings(n=None, threads=1, suite=args.suite, budgets=BUDGETS)
    jobs = [
        job
        for job in make_jobs(args.methods, args.families, args.seeds)
        if job.method != "prior-family" or job.family in SHIP_SETTINGS  # shipped weights only
    ]
    out = Path(args.out)
    files = sweep(jobs, settings, out / "jobs", workers=args.workers, progress=True)
    table = aggregate(files, {f: suite.tier(f) for f in args.families})
    bench = {
        "suite": {"version": suite.version, "content_hash": suite.content_hash},
        "settings": {
            "methods": args.methods,
            "families": args.families,
            "seeds": args.seeds,
            "budgets": list(BUDGETS),
            "workers": args.workers,
            "quick": False,
            "steps": {},
            "device": "cpu",
            "targets_per_family": len(suite.targets(args.families[0])),
        },
        "wall_s": time.perf_counter() - started,
        "tiers": {f: suite.tier(f) for f in args.families},
        "rows": table,
    }
    bench["jobs_process_s"] = sum(
        json.loads(f.read_text())["settings"]["timings_s"]["total_s"] for f in files
    )
    write_outputs(bench, out, files)
    result = {
        "command": " ".join(["python benchmarks/bench_delivery.py", *(argv or sys.argv[1:])]),
        "suite": bench["suite"],
        "separation": separation(table),
        "mo_budget": args.mo_budget,
        "hypervolume": hypervolumes(
            args.suite,
            args.families,
            args.mo_budget,
            Path(args.results) / "bench_v2_delivery_fronts.png",
        ),
        "population_spread": population_spread(args.suite)
        if "population" in args.families
        else None,
        "rows": table,
    }
    result["wall_s"] = time.perf_counter() - started
    results = Path(args.results)
    atomic_write(results / "bench_v2_delivery.json", json.dumps(result, indent=1))
    atomic_write(results / "bench_v2_delivery.md", markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
