"""Measure the priors on the seeded benchmark suites (the numbers of the prior's report)::

    python -m agents.prior.evaluate --families realisable sustained --n 16 --seed 1000 \
        --ms 8 16 64 [--ppo-steps 30000 --run-dir runs/prior_ppo]

For each family and ``M``: one-shot prior screening (best of ``M``, shipped ``cvae``,
``flow`` and ``gan`` priors) against uniform random sampling with the same ``M`` — success
rate (f2 ≥ 50), mean best f2, validity (in bounds, a finite curve in [0, 1] —
``physical`` — and zero stability cost — ``feasible``) and diversity of the ``M`` samples.
With ``--ppo-steps``, a prior-guided PPO policy (:func:`train_prior_guided`) is trained per
family and evaluated with a budget of ``m + 1 + max_edits`` (20) simulator calls.
Methods are seeded with ``seed + 7919`` as ``agents.rl`` does.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numpy as np
import torch

from agents.baselines import results_table, summarize
from agents.bench.runner import METHOD_SEED_OFFSET
from agents.prior.methods import train_prior_guided
from agents.prior.screen import sample_and_screen, screen_designs
from agents.prior.train import KINDS, load_default_prior
from nanoenv.design_space import DesignSpace
from nanoenv.tasks import benchmark_suite, get_family

__all__ = ["main", "screen_table"]


def screen_table(
    family: str, n: int, seed: int, m: int, kinds: tuple[str, ...] = KINDS
) -> dict[str, dict[str, float]]:
    """One-shot screening statistics of each prior kind and of uniform random sampling on
    ``benchmark_suite(family, n, seed)`` with ``m`` candidates per target."""
    targets = benchmark_suite(family, n, seed)
    carrier = get_family(family).carrier.name.lower()
    space = DesignSpace.for_carrier(carrier)
    method_seed = seed + METHOD_SEED_OFFSET
    out: dict[str, dict[str, float]] = {}
    runs: dict[str, list[Any]] = {}
    for kind in kinds:
        prior = load_default_prior(carrier, kind)
        runs[kind] = [
            sample_and_screen(prior, t, m, 1, seed=method_seed + i) for i, t in enumerate(targets)
        ]
    gen = torch.Generator().manual_seed(method_seed)
    runs["random"] = [screen_designs(t, space.sample(m, generator=gen), 1) for t in targets]
    for name, res in runs.items():
        out[name] = {
            "success_rate": float(np.mean([float(r.f2[0]) >= 50.0 for r in res])),
            "mean_best_f2": float(np.mean([float(r.f2[0]) for r in res])),
            "validity": float(np.mean([r.validity for r in res])),
            "in_bounds": float(np.mean([r.in_bounds for r in res])),
            "physical": float(np.mean([r.physical for r in res])),
            "feasible": float(np.mean([r.feasible for r in res])),
            "diversity": float(np.mean([r.diversity for r in res])),
        }
    return out


def main(argv: list[str] | None = None) -> None:
    """Print (and optionally save as JSON) the screening and prior+PPO measurements."""
    parser = argparse.ArgumentParser(prog="agents.prior.evaluate", description=__doc__)
    parser.add_argument("--families", nargs="+", default=["realisable", "sustained"])
    parser.add_argument("--n", type=int, default=16)
    parser.add_argument("--seed", type=int, default=1000)
    parser.add_argument("--ms", type=int, nargs="*", default=[8, 16, 64])
    parser.add_argument("--kinds", nargs="+", default=list(KINDS), choices=list(KINDS))
    parser.add_argument("--ppo-steps", type=int, default=0, help="0: skip prior+PPO")
    parser.add_argument("--ppo-m", type=int, default=8)
    parser.add_argument("--ppo-edits", type=int, default=11)
    parser.add_argument("--ppo-max-step", type=float, default=0.25)
    parser.add_argument(
        "--ppo-edit-penalty",
        type=float,
        nargs="+",
        default=[0.0],
        help="train one policy per value (> 0: the prior+ppo-kl variant)",
    )
    parser.add_argument("--run-dir", default=None, help="parent folder of the PPO runs")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    report: dict[str, Any] = {"screen": {}, "prior+ppo": {}}
    for family in args.families:
        for m in args.ms:
            start = time.perf_counter()
            table = screen_table(family, args.n, args.seed, m, tuple(args.kinds))
            report["screen"][f"{family}/M={m}"] = table
            for name, s in table.items():
                print(
                    f"{family:11s} M={m:3d} {name:6s} success {s['success_rate']:5.0%} "
                    f"mean best f2 {s['mean_best_f2']:5.1f} validity {s['validity']:.2f} "
                    f"(in bounds {s['in_bounds']:.2f}, physical {s['physical']:.2f}, "
                    f"feasible {s['feasible']:.2f}) "
                    f"diversity {s['diversity']:.2f}"
                )
            print(f"  ({time.perf_counter() - start:.1f} s)")
    if args.ppo_steps:
        for family, penalty in [(f, p) for f in args.families for p in args.ppo_edit_penalty]:
            start = time.perf_counter()
            run_dir = None
            if args.run_dir:
                from agents.rl import new_folder

                run_dir = new_folder(args.run_dir, f"prior_ppo_{family}")
            method = train_prior_guided(
                family,
                args.ppo_steps,
                seed=0,
                run_dir=run_dir,
                m=args.ppo_m,
                max_edits=args.ppo_edits,
                max_step=args.ppo_max_step,
                progress=False,
                edit_penalty=penalty,
            )
            trained = time.perf_counter() - start
            budget = args.ppo_m + 1 + args.ppo_edits
            targets = benchmark_suite(family, args.n, args.seed)
            results = [
                method.design(t, budget, seed=args.seed + METHOD_SEED_OFFSET) for t in targets
            ]
            s = summarize(results_table(results))
            report["prior+ppo"][f"{method.name}/{family}"] = {
                **s,
                "train_seconds": trained,
                "budget": budget,
                "m": args.ppo_m,
                "max_edits": args.ppo_edits,
                "run_dir": str(method.run_dir),
            }
            print(
                f"{family:11s} {method.name} ({args.ppo_steps} steps, {trained:.0f} s; budget "
                f"{budget}) success {s['success_rate']:5.0%} median calls to success "
                f"{s['median_calls_to_success']} mean best f2 {s['mean_best_f2']:5.1f} "
                f"mean calls {s['mean_sim_calls']:5.1f}"
            )
    if args.json:
        from nanoenv.files import atomic_write

        atomic_write(args.json, json.dumps(report, indent=1), name="--json")


if __name__ == "__main__":
    main()
