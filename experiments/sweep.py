"""Sweep methods × task families × seeds in parallel processes, then report.

    python experiments/sweep.py --methods ppo cmaes random --families sustained realisable \\
        --seeds 0 1 2 --workers 2 --ppo-steps 20000

writes ``runs/sweep_<UTC time>/<method>_<family>_s<seed>/results.json`` per job (RL jobs
keep their run folder beside it), then ``report.md`` / ``report.json`` and plots over all
jobs (:mod:`agents.report`: IQM, stratified-bootstrap 95 % intervals). Rerun with
``--out`` on the same folder to finish an interrupted sweep: finished jobs are skipped.
The engine is :mod:`agents.sweep`; ``benchmarks/bench_agents.py`` uses the same.

``--backend ray`` runs the jobs as Ray tasks (``pip install -e ".[ray]"``): on a local
Ray instance with ``--workers`` CPUs, or on a running cluster with ``--address auto``
(its nodes must share the ``--out`` folder's filesystem); ``--cpus-per-job`` and
``--gpus-per-job`` (a fraction shares a GPU) are each task's resources.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    from agents.report import markdown_table, write_report
    from agents.rl.run_folder import utc_stamp
    from agents.sweep import (
        SweepSettings,
        add_backend_arguments,
        backend_options,
        check_backend,
        make_jobs,
        sweep,
    )

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--methods",
        nargs="+",
        default=["ppo", "cmaes", "random", "gradient"],
        help="ppo, sac, random, cmaes, gradient (and prior, prior+ppo)",
    )
    parser.add_argument(
        "--families", nargs="+", default=["sustained", "ph_triggered", "realisable"]
    )
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--workers", type=int, default=2, help="parallel processes")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per process")
    parser.add_argument("--n", type=int, default=16, help="held-out targets per family")
    parser.add_argument("--suite-seed", type=int, default=1000)
    parser.add_argument(
        "--budget", type=int, default=500, help="simulator calls per target for search methods"
    )
    parser.add_argument(
        "--ppo-steps", type=int, default=None, help="PPO training steps (default: the config's)"
    )
    parser.add_argument(
        "--sac-steps", type=int, default=None, help="SAC training steps (default: the config's)"
    )
    parser.add_argument(
        "--configs",
        default=str(REPO / "experiments" / "configs"),
        help="folder of <algo>_<family>.yaml training configs",
    )
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    parser.add_argument("--out", default=None, help="sweep folder (default runs/sweep_<time>)")
    parser.add_argument("--no-progress", action="store_true")
    add_backend_arguments(parser)
    args = parser.parse_args(argv)

    steps = {k: v for k, v in (("ppo", args.ppo_steps), ("sac", args.sac_steps)) if v}
    try:
        settings = SweepSettings(
            n=args.n,
            suite_seed=args.suite_seed,
            budget=args.budget,
            steps=steps,
            configs_dir=args.configs,
            device=args.device,
            threads=args.threads,
        )
        jobs = make_jobs(args.methods, args.families, args.seeds)
        backend = backend_options(args)
        check_backend(args.workers, **backend)
    except ValueError as exc:
        print(f"sweep: error: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out or f"runs/sweep_{utc_stamp()}")
    where = (
        f"{args.workers} processes"
        if args.backend == "local"
        else f"Ray ({args.address or f'local instance, {args.workers} CPUs'})"
    )
    print(
        f"sweep: {len(jobs)} jobs ({len(args.methods)} methods × {len(args.families)} "
        f"families × {len(args.seeds)} seeds) on {where} → {out}"
    )
    try:
        files = sweep(
            jobs, settings, out, workers=args.workers, progress=not args.no_progress, **backend
        )
    except ValueError as exc:  # an unreachable Ray cluster (nothing written)
        print(f"sweep: error: {exc}", file=sys.stderr)
        return 2
    report = write_report(files, out, title="nanoenv sweep")
    print(markdown_table(report["summary"]))
    print(f"report: {out / 'report.md'} (also report.json, plots/)")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    raise SystemExit(main())
