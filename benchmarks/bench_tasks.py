"""Are the task families well posed? Reachability, floor and headroom of every family.

For every task family, under its default constants (``TaskFamily.constants``), the
held-out suite ``benchmark_suite(family, N, seed=1000)`` is scored with the family's
default reward model (``TaskFamily.reward``, a score in [0, 1]: f2/100 for the f2 reward;
this score is the benchmark's per-target metric):

* **random**: ``BUDGET`` uniform random designs per target (seeded, batched): the best
  score (what a large random screen reaches) and the median score (the *floor* of the
  normalised score: a uniformly random design);
* **oracle**: multi-start gradient ascent through the differentiable simulator
  (``agents.baselines.GradientDescent``, ``--oracle-starts`` starts, ``--oracle-budget``
  calls), best of it and the random screen: a lower bound on the reference;
* **random at K = 10**: the expected best score of 10 uniform random designs (exactly, from
  the order statistics of the ``BUDGET`` draws), normalised ``(s − floor)/(oracle − floor)``
  — search methods at K = 10 calls are close to this, so it shows the headroom a tier leaves.

The table reports medians over targets, the share of targets whose random best reaches
score 0.5 (f2 >= 50 for the f2 rewards) and whose oracle reaches it, and the share where
the oracle beats the random screen.

    python benchmarks/bench_tasks.py                         # 16 targets x 4096 designs
    python benchmarks/bench_tasks.py --n 8 --budget 1024 --families ph_triggered

Writes ``benchmarks/results/tasks.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agents.baselines import GradientDescent, ProblemCache  # noqa: E402
from benchmarks.machine_info import cpu_model  # noqa: E402
from nanoenv.envs.problem import evaluate, target_batch  # noqa: E402
from nanoenv.files import atomic_write  # noqa: E402
from nanoenv.tasks import TASK_FAMILIES, TIERS, Target, benchmark_suite  # noqa: E402

SUITE_SEED = 1000
K_SMALL = 10
_CHUNK = 1024  # designs per simulator call of the random screen


def random_scores(target: Target, budget: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Scores and f2 of ``budget`` uniform random designs on ``target`` under the family's
    default reward model and constants (as the environment scores them)."""
    spec = ProblemCache(None, None, 50.0, "cpu", None).spec(target)
    generator = torch.Generator().manual_seed(seed)
    table = target_batch(spec, [target])
    scores, f2 = [], []
    for start in range(0, budget, _CHUNK):
        n = min(_CHUNK, budget - start)
        z = spec.design_space.sample(n, generator=generator, dtype=torch.float32)
        with torch.no_grad():
            ev = evaluate(spec, table.select(torch.zeros(n, dtype=torch.long)), z)
        scores.append(ev.reward.score.double())
        f2.append(ev.f2.double())
    return torch.cat(scores), torch.cat(f2)


def expected_best_of(scores: torch.Tensor, k: int) -> float:
    """Expected maximum of ``k`` draws without replacement from ``scores`` (exact order
    statistics: the i-th smallest of n is the maximum with probability C(i−1, k−1)/C(n, k))."""
    s = scores.sort().values
    n = len(s)
    i = torch.arange(1, n + 1, dtype=torch.float64)
    # lgamma is +inf at 0, -1, ...: the weight of i < k is exactly 0
    log_w = (
        torch.lgamma(i)
        - torch.lgamma(i - k + 1)
        - math.lgamma(k)
        - (math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1))
    )
    return float((torch.exp(log_w) * s).sum())


def reach(family: str, n: int, budget: int, oracle_starts: int, oracle_budget: int) -> dict:
    """Random screen, floor, oracle and small-budget headroom on ``n`` suite targets."""
    fam = TASK_FAMILIES[family]
    targets = benchmark_suite(family, n, SUITE_SEED)
    oracle = GradientDescent(starts=oracle_starts, stop_on_success=False)
    rows = []
    for i, target in enumerate(targets):
        scores, f2 = random_scores(target, budget, seed=i)
        best_random = float(scores.max())
        result = oracle.design(target, oracle_budget, seed=i)
        best = max(best_random, float(result.score))
        floor = float(scores.median())
        k_small = expected_best_of(scores, K_SMALL)
        rows.append(
            {
                "random_best": best_random,
                "random_best_f2": float(f2.max()),
                "floor": floor,
                "gradient": float(result.score),
                "oracle": best,
                "random_k10": k_small,
                "random_k10_normalised": (k_small - floor) / (best - floor)
                if best > floor
                else None,
            }
        )

    def med(key: str) -> float:
        values = [r[key] for r in rows if r[key] is not None]
        return statistics.median(values) if values else math.nan

    return {
        "family": family,
        "tier": fam.tier,
        "reward": fam.reward,
        "constants": fam.constants,
        "version": fam.version,
        "targets": rows,
        "median_random_best": med("random_best"),
        "median_floor": med("floor"),
        "median_oracle": med("oracle"),
        "median_random_k10_normalised": med("random_k10_normalised"),
        "random_reached_half": sum(r["random_best"] >= 0.5 for r in rows) / len(rows),
        "oracle_reached_half": sum(r["oracle"] >= 0.5 for r in rows) / len(rows),
        "gradient_beats_random": sum(r["gradient"] > r["random_best"] for r in rows) / len(rows),
    }


def markdown(result: dict) -> str:
    c = result["config"]
    lines = [
        "# Task families: reachability, floor and headroom (default constants and rewards)",
        "",
        f"Command: `python benchmarks/bench_tasks.py --n {c['n']} --budget {c['budget']} "
        f"--oracle-starts {c['oracle_starts']} --oracle-budget {c['oracle_budget']}` "
        f"({result['total_s']:.0f} s, {result['machine']['cpu']}, torch "
        f"{result['machine']['torch']}).",
        "",
        f"Targets: `benchmark_suite(family, {c['n']}, seed={SUITE_SEED})`, each family under "
        "its default constants and scored by its default reward model (`TaskFamily.reward`; "
        "score in [0, 1], f2/100 for `f2`). Columns are medians over targets: *random best* "
        f"of {c['budget']} uniform designs; *floor*, the median random design's score; "
        f"*oracle*, the best of the random screen and multi-start gradient ascent "
        f"({c['oracle_starts']} starts, {c['oracle_budget']} calls); *random K=10 norm.*, the "
        "expected best of 10 random designs as a normalised score (score − floor)/(oracle − "
        "floor). Shares: targets whose random best / oracle reaches score 0.5 (f2 >= 50), "
        "and where gradient ascent beats the random screen.",
        "",
        "| family | tier | reward | v | random best | floor | oracle | random K=10 norm. | "
        "random >= 0.5 | oracle >= 0.5 | gradient > random |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        lines.append(
            f"| {r['family']} | {r['tier']} | {r['reward']} | {r['version']} | "
            f"{r['median_random_best']:.3f} | {r['median_floor']:.3f} | "
            f"{r['median_oracle']:.3f} | {r['median_random_k10_normalised']:.2f} | "
            f"{r['random_reached_half']:.0%} | {r['oracle_reached_half']:.0%} | "
            f"{r['gradient_beats_random']:.0%} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=16, help="targets per family (default 16)")
    parser.add_argument(
        "--budget", type=int, default=4096, help="random designs per target (default 4096)"
    )
    parser.add_argument(
        "--oracle-starts",
        type=int,
        default=16,
        help="gradient-ascent starts per target (default 16)",
    )
    parser.add_argument(
        "--oracle-budget",
        type=int,
        default=1600,
        help="gradient-ascent calls per target (default 1600)",
    )
    parser.add_argument(
        "--families",
        nargs="+",
        default=list(TASK_FAMILIES),
        choices=list(TASK_FAMILIES),
        metavar="FAMILY",
    )
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    parser.add_argument("--name", default="tasks", help="output file stem (default tasks)")
    args = parser.parse_args(argv)
    counts = (args.n, args.budget, args.oracle_starts, args.oracle_budget)
    if min(counts) < 1 or args.budget < K_SMALL or args.oracle_budget < args.oracle_starts:
        parser.error(
            f"--n={args.n}, --budget={args.budget} (>= {K_SMALL}), --oracle-starts="
            f"{args.oracle_starts} and --oracle-budget={args.oracle_budget} (>= starts) must "
            "be positive counts"
        )
    start = time.perf_counter()
    rows = []
    families = sorted(args.families, key=lambda f: TIERS.index(TASK_FAMILIES[f].tier))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # data-cleaning notes are documented in nanoenv.data
        for family in families:
            row = reach(family, args.n, args.budget, args.oracle_starts, args.oracle_budget)
            rows.append(row)
            print(
                f"{family:28s} {row['tier']:8s} random best {row['median_random_best']:.3f}  "
                f"floor {row['median_floor']:.3f}  oracle {row['median_oracle']:.3f}  "
                f"K=10 norm {row['median_random_k10_normalised']:.2f}  "
                f"random>=0.5 {row['random_reached_half']:4.0%}  "
                f"oracle>=0.5 {row['oracle_reached_half']:4.0%}",
                flush=True,
            )
    result = {
        "config": {
            "n": args.n,
            "budget": args.budget,
            "oracle_starts": args.oracle_starts,
            "oracle_budget": args.oracle_budget,
            "suite_seed": SUITE_SEED,
            "families": families,
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
    atomic_write(out / f"{args.name}.json", json.dumps(result, indent=2))
    atomic_write(out / f"{args.name}.md", markdown(result))
    return result


if __name__ == "__main__":
    main()
