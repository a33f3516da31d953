"""Run design methods on benchmark suites and summarise the results (the quick comparison
behind ``python -m agents.baselines``; the benchmark proper is ``nanoenv bench run``)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from agents.baselines.methods import CMAES, GradientDescent, RandomSearch
from agents.baselines.search import DesignMethod, DesignResult
from nanoenv.design_space import DesignSpace
from nanoenv.tasks import benchmark_suite

Tensor = torch.Tensor


# -- suites ---------------------------------------------------------------------------------


def run_suite(
    method: DesignMethod,
    family: str,
    n: int = 32,
    seed: int = 0,
    budget: int = 500,
    design_space: DesignSpace | None = None,
) -> list[DesignResult]:
    """Design every target of ``benchmark_suite(family, n, seed)`` with ``budget`` calls
    each; the method is run with ``seed`` on every target (common random numbers)."""
    return [
        method.design(target, budget, seed=seed)
        for target in benchmark_suite(family, n, seed, design_space)
    ]


def results_table(results: list[DesignResult]) -> list[dict[str, Any]]:
    """One JSON-serialisable row per result: method, target index, family, best f2,
    score, success, calls to success, simulator calls and cost."""
    return [
        {
            "method": r.method,
            "target": i,
            "family": r.target.family,
            "best_f2": float(r.f2),
            "score": float(r.score),
            "success": r.success,
            "calls_to_success": r.calls_to_success,
            "sim_calls": int(r.sim_calls),
            "cost": float(r.cost),
        }
        for i, r in enumerate(results)
    ]


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Aggregate :func:`results_table` rows: success rate, median calls to success
    (over the successes), mean best f2 and mean simulator calls."""
    if not rows:
        raise ValueError("no rows to summarize")
    calls = [r["calls_to_success"] for r in rows if r["success"]]
    return {
        "n": len(rows),
        "success_rate": sum(r["success"] for r in rows) / len(rows),
        "median_calls_to_success": float(np.median(calls)) if calls else None,
        "mean_best_f2": float(np.mean([r["best_f2"] for r in rows])),
        "mean_sim_calls": float(np.mean([r["sim_calls"] for r in rows])),
    }


def main(argv: list[str] | None = None) -> None:
    """Compare the baselines on benchmark suites and print one summary line per
    (family, method)::

        python -c "from agents.baselines import main; main()" --families realisable sustained

    or ``python -m agents.baselines --families realisable sustained``.
    """
    import argparse
    import json
    import time

    parser = argparse.ArgumentParser(prog="agents.baselines", description=main.__doc__)
    parser.add_argument("--families", nargs="+", default=["realisable", "sustained"])
    parser.add_argument(
        "--methods",
        nargs="+",
        default=["random", "cmaes", "gradient"],
        choices=["random", "cmaes", "gradient"],
    )
    parser.add_argument("--n", type=int, default=10, help="targets per suite")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--budget", type=int, default=500, help="simulator calls per target")
    parser.add_argument("--success-f2", type=float, default=50.0)
    parser.add_argument("--no-stop", action="store_true", help="spend the whole budget")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--json", default=None, help="write every row to this file")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    common = {
        "success_f2": args.success_f2,
        "stop_on_success": not args.no_stop,
        "device": args.device,
    }
    factories = {"random": RandomSearch, "cmaes": CMAES, "gradient": GradientDescent}
    rows: list[dict[str, Any]] = []
    for family in args.families:
        for name in args.methods:
            start = time.perf_counter()
            table = results_table(
                run_suite(factories[name](**common), family, args.n, args.seed, args.budget)
            )
            s = summarize(table)
            print(
                f"{family:22s} {name:9s} success {s['success_rate']:5.0%}  median calls to "
                f"success {s['median_calls_to_success']}  mean best f2 {s['mean_best_f2']:5.1f}  "
                f"mean calls {s['mean_sim_calls']:5.1f}  ({time.perf_counter() - start:.1f} s)"
            )
            rows += table
    if args.json:
        from nanoenv.files import atomic_write

        atomic_write(args.json, json.dumps(rows, indent=1), name="--json")


if __name__ == "__main__":
    main()
