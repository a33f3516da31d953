"""nanoenv-bench v1: every shipped method on the frozen suite, and the benchmark's goals.

Runs :func:`agents.bench.run.run_bench` (the same as ``nanoenv bench run``) over the
suite ``nanoenv-bench-v1`` and checks the goals of the benchmark issue at ``K = 10``
simulator calls:

* **discrimination**: on every standard-tier family, the 95 % intervals of random search
  and of the best method do not overlap;
* **best method**: one shipped method reaches normalised score ≥ 0.9 on ``realisable``
  and ≥ 0.8 averaged over the standard tier;
* **amortisation pays**: at some ``K ≤ 10``, an amortised method (trained policy or
  prior) beats the best per-target search (``bo`` or ``cmaes``) by ≥ 0.1 on ≥ 3 families;
* **headroom**: on the hard tier no method exceeds 0.8;
* the whole run takes ≤ 60 minutes on a 2-core CPU.

Run: ``python benchmarks/bench_agents.py [--quick] [--workers 2] [--methods ...]
[--families ...] [--seeds 0] [--backend ray [--address auto]]``. Writes ``bench_v1.json``,
``bench_v1.md`` and ``bench_v1_*.png`` to ``benchmarks/results`` (``bench_v1_quick*`` with
``--quick``); job folders go to ``runs/bench_v1[_quick]`` and a rerun skips finished jobs
(``--fresh`` starts over).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agents.bench.run import STANDARD_METHODS, markdown, run_bench  # noqa: E402
from agents.sweep import add_backend_arguments, backend_options  # noqa: E402
from benchmarks.machine_info import cpu_model  # noqa: E402
from nanoenv.files import atomic_write  # noqa: E402

K = 10
SEARCHES = ("bo", "cmaes")
TIME_GOAL_S = 3600


def _at(rows: list[dict[str, Any]], budget: int) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["method"], r["family"]): r for r in rows if r["budget"] == budget}


def check_goals(result: dict[str, Any]) -> dict[str, Any]:
    """The issue's goals on a bench result (see the module text); every goal is a dict
    with ``met`` and the numbers behind it."""
    rows, tiers = result["rows"], result["tiers"]
    at = _at(rows, K)
    methods = list(dict.fromkeys(r["method"] for r in rows))
    standard = [f for f, t in tiers.items() if t == "standard"]
    hard = [f for f, t in tiers.items() if t == "hard"]
    goals: dict[str, Any] = {}

    disc = []
    for f in standard:
        cells = [at[(m, f)] for m in methods if (m, f) in at and m != "random"]
        if (("random", f) not in at) or not cells:
            continue
        best = max(cells, key=lambda r: r["score"])
        rnd = at[("random", f)]
        disc.append(
            {
                "family": f,
                "best": best["method"],
                "best_ci": [best["ci_low"], best["ci_high"]],
                "random_ci": [rnd["ci_low"], rnd["ci_high"]],
                "separated": best["ci_low"] > rnd["ci_high"],
            }
        )
    goals["discrimination"] = {
        "met": bool(disc) and all(d["separated"] for d in disc),
        "families": disc,
    }

    best_method = None
    for m in methods:
        if (m, "realisable") not in at:
            continue
        scores = [at[(m, f)]["score"] for f in standard if (m, f) in at]
        if len(scores) != len(standard):
            continue
        mean = sum(scores) / len(scores)
        cand = {"method": m, "realisable": at[(m, "realisable")]["score"], "standard_mean": mean}
        if best_method is None or mean > best_method["standard_mean"]:
            best_method = cand
    goals["best_method"] = {
        "met": best_method is not None
        and best_method["realisable"] >= 0.9
        and best_method["standard_mean"] >= 0.8,
        **(best_method or {}),
    }

    wins = []
    budgets = [b for b in result["settings"]["budgets"] if b <= K]
    for f in tiers:
        for b in budgets:
            here = _at(rows, b)
            search = [here[(s, f)]["score"] for s in SEARCHES if (s, f) in here]
            amortised = [
                (r["score"], r["method"])
                for (m, fam), r in here.items()
                if fam == f and r["track"] == "amortised"
            ]
            if search and amortised:
                score, m = max(amortised)
                if score - max(search) >= 0.1:
                    wins.append(
                        {"family": f, "budget": b, "method": m, "margin": score - max(search)}
                    )
                    break
    goals["amortisation"] = {"met": len({w["family"] for w in wins}) >= 3, "wins": wins}

    over = [
        {"method": m, "family": f, "score": r["score"]}
        for (m, f), r in at.items()
        if f in hard and r["score"] > 0.8
    ]
    goals["headroom"] = {"met": bool(hard) and not over, "hard_families": hard, "over": over}
    goals["time"] = {"met": result["wall_s"] <= TIME_GOAL_S, "wall_s": result["wall_s"]}
    return goals


def goals_markdown(goals: dict[str, Any]) -> str:
    yes = {True: "met", False: "**not met**"}
    d, b, a, h, t = (
        goals[k] for k in ("discrimination", "best_method", "amortisation", "headroom", "time")
    )
    lines = ["## Goals (K = 10)", ""]
    lines.append(
        f"* Discrimination ({yes[d['met']]}): "
        + "; ".join(
            f"{x['family']}: {x['best']} [{x['best_ci'][0]:.2f}, {x['best_ci'][1]:.2f}] vs random "
            f"[{x['random_ci'][0]:.2f}, {x['random_ci'][1]:.2f}]"
            for x in d["families"]
        )
    )
    if b.get("method"):
        lines.append(
            f"* Best method ({yes[b['met']]}): {b['method']}, realisable "
            f"{b['realisable']:.2f} (≥ 0.9), standard-tier mean {b['standard_mean']:.2f} "
            "(≥ 0.8)"
        )
    lines.append(
        f"* Amortisation pays ({yes[a['met']]}): "
        + (
            ", ".join(
                f"{w['family']} at K={w['budget']}: {w['method']} +{w['margin']:.2f}"
                for w in a["wins"]
            )
            or "no family"
        )
    )
    lines.append(
        f"* Headroom ({yes[h['met']]}): hard tier {h['hard_families']}; above 0.8: "
        + (", ".join(f"{o['method']}/{o['family']} {o['score']:.2f}" for o in h["over"]) or "none")
    )
    lines.append(f"* Time ({yes[t['met']]}): {t['wall_s'] / 60:.1f} min (≤ 60)")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="the bench's --quick subset")
    parser.add_argument("--methods", nargs="+", default=list(STANDARD_METHODS))
    parser.add_argument("--families", nargs="+", default=None)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--suite", default="nanoenv-bench-v1")
    parser.add_argument("--runs", default=None, help="job folders (default runs/bench_v1)")
    parser.add_argument("--fresh", action="store_true", help="delete earlier job folders first")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    add_backend_arguments(parser)
    args = parser.parse_args(argv)
    tag = "_quick" if args.quick else ""
    runs = Path(args.runs or ROOT / "runs" / f"bench_v1{tag}")
    if args.fresh and runs.exists():
        shutil.rmtree(runs)
    result = run_bench(
        args.suite,
        args.methods,
        args.families,
        args.seeds,
        runs,
        workers=args.workers,
        quick=args.quick,
        configs_dir=str(ROOT / "experiments" / "configs"),
        **backend_options(args),
    )
    result["settings"]["command"] = "python benchmarks/bench_agents.py " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )
    result["settings"]["machine"]["cpu"] = cpu_model()
    result["goals"] = check_goals(result)
    out = Path(args.out)
    stem = f"bench_v1{tag}"
    plots = {}
    for name, p in result["plots"].items():
        dest = out / f"{stem}_{Path(p).name.removeprefix('bench_')}"
        shutil.copyfile(p, dest)
        plots[name] = str(dest.relative_to(ROOT)) if dest.is_relative_to(ROOT) else str(dest)
    result["plots"] = plots
    md = markdown(result).replace(
        "## Normalised score", goals_markdown(result["goals"]) + "\n## Normalised score", 1
    )
    md = md.replace("# nanoenv-bench:", f"# nanoenv-bench ({result['settings']['command']}):", 1)
    atomic_write(out / f"{stem}.json", json.dumps(result, indent=1))
    atomic_write(out / f"{stem}.md", md)
    print(goals_markdown(result["goals"]))
    print(f"wrote {out / (stem + '.json')} and {out / (stem + '.md')}")
    return result


if __name__ == "__main__":
    main()
