"""Which targets can designs reach? Each task family under literature and calibrated constants.

For every task family, the held-out suite ``benchmark_suite(family, N, seed=1000)`` (the
agents benchmark's targets) is searched by uniform random search, ``BUDGET`` designs per
target (seeded, batched), once with the literature constants and once with the
calibrated ones (``nanoenv.kinetics.calibrated_constants()``); ``realisable`` targets are
redrawn under each set, so their optimum stays f2 = 100. The table reports the median
best f2 and the shares of targets reached at f2 >= 50 and >= 75 — a lower bound on what
the design space can do for the family, and the measurement behind each family's
default constants (``TaskFamily.constants``, see ``nanoenv.tasks``).

    python benchmarks/bench_tasks.py                      # 32 targets x 4096 designs, ~15 s
    python benchmarks/bench_tasks.py --n 12 --budget 1024

Writes ``benchmarks/results/tasks.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agents.baselines import RandomSearch  # noqa: E402
from benchmarks.machine_info import cpu_model  # noqa: E402
from benchmarks.output import write_atomic  # noqa: E402
from nanoenv.kinetics import CONSTANTS_NAMES, resolve_constants  # noqa: E402
from nanoenv.tasks import TASK_FAMILIES, benchmark_suite  # noqa: E402

SUITE_SEED = 1000


def reach(family: str, constants: str, n: int, budget: int) -> dict:
    """Best f2 of random search on each of the family's ``n`` suite targets."""
    targets = benchmark_suite(family, n, SUITE_SEED, constants=constants)
    search = RandomSearch(batch_size=256, stop_on_success=False, constants=constants)
    best = [search.design(t, budget, seed=i).f2 for i, t in enumerate(targets)]
    return {
        "family": family,
        "constants": constants,
        "default": TASK_FAMILIES[family].constants == constants,
        "best_f2": best,
        "median_best_f2": statistics.median(best),
        "reached_50": sum(b >= 50.0 for b in best) / len(best),
        "reached_75": sum(b >= 75.0 for b in best) / len(best),
    }


def markdown(result: dict) -> str:
    c = result["config"]
    lines = [
        "# Reachable targets per task family, literature vs calibrated constants",
        "",
        f"Command: `python benchmarks/bench_tasks.py --n {c['n']} --budget {c['budget']}` "
        f"({result['total_s']:.0f} s, {result['machine']['cpu']}, torch "
        f"{result['machine']['torch']}).",
        "",
        f"Targets: `benchmark_suite(family, {c['n']}, seed={SUITE_SEED})`; uniform random "
        f"search, {c['budget']} designs per target; `realisable` targets are drawn under "
        "each constant set. `*` marks the family's default constants "
        "(`TaskFamily.constants`).",
        "",
        "| family | constants | median best f2 | reached f2 >= 50 | reached f2 >= 75 |",
        "|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        star = " *" if r["default"] else ""
        lines.append(
            f"| {r['family']} | {r['constants']}{star} | {r['median_best_f2']:.1f} | "
            f"{r['reached_50']:.0%} | {r['reached_75']:.0%} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=32, help="targets per family (default 32)")
    parser.add_argument("--budget", type=int, default=4096,
                        help="random designs per target (default 4096)")  # fmt: skip
    parser.add_argument("--families", nargs="+", default=list(TASK_FAMILIES),
                        choices=list(TASK_FAMILIES), metavar="FAMILY")  # fmt: skip
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    parser.add_argument("--name", default="tasks", help="output file stem (default tasks)")
    args = parser.parse_args(argv)
    if args.n < 1 or args.budget < 1:
        parser.error(f"--n={args.n} and --budget={args.budget} must be positive counts")
    for name in CONSTANTS_NAMES:
        resolve_constants(name)  # fail before the run if the shipped file is broken
    start = time.perf_counter()
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # data-cleaning notes are documented in nanoenv.data
        for family in args.families:
            for constants in CONSTANTS_NAMES:
                row = reach(family, constants, args.n, args.budget)
                rows.append(row)
                print(f"{family:22s} {constants:10s} median best f2 {row['median_best_f2']:6.1f}"
                      f"  f2>=50 {row['reached_50']:4.0%}  f2>=75 {row['reached_75']:4.0%}",
                      flush=True)  # fmt: skip
    result = {
        "config": {
            "n": args.n,
            "budget": args.budget,
            "suite_seed": SUITE_SEED,
            "families": args.families,
        },
        "machine": {
            "cpu": cpu_model(),
            "python": platform.python_version(),
            "torch": torch.__version__,
        },
        "total_s": time.perf_counter() - start,
        "rows": rows,
    }
    out = Path(args.out)
    write_atomic(out / f"{args.name}.json", json.dumps(result, indent=2))
    write_atomic(out / f"{args.name}.md", markdown(result))
    return result


if __name__ == "__main__":
    main()
