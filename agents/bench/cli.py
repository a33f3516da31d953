"""``nanoenv bench``: run the benchmark, build references, freeze a suite.

* ``nanoenv bench run --suite nanoenv-bench-v1 --methods random cmaes mypkg.es:TinyES
  --families realisable sustained --seeds 0 1 2 --out DIR [--quick]``: writes
  ``DIR/bench.json``, ``DIR/bench.md`` and plots; a rerun on the same ``DIR`` skips
  finished jobs.
* ``nanoenv bench references --suite nanoenv-bench-v1 [--families ...]``: rebuilds the
  reference optimum and floor of every target with the oracle
  (:mod:`agents.bench.references`), with a progress bar, and writes the suite file.
* ``nanoenv bench freeze --version NAME --n 64 --seed S``: draws a new suite's targets.
* ``nanoenv bench list``: shipped suites, their families, tiers and hashes.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from nanoenv.cli import Subcommand

__all__ = ["BENCH"]


def _configure(parser: argparse.ArgumentParser) -> None:
    from agents.bench.run import STANDARD_METHODS
    from agents.sweep import add_backend_arguments
    from nanoenv.bench import DEFAULT_SUITE

    sub = parser.add_subparsers(dest="bench_command", required=True, metavar="ACTION")
    run = sub.add_parser("run", help="score methods on a frozen suite at fixed budgets")
    run.add_argument("--suite", default=DEFAULT_SUITE, help="suite version or file")
    run.add_argument(
        "--methods",
        nargs="+",
        default=list(STANDARD_METHODS),
        help="designer names (nanoenv bench list) or module:Class",
    )
    run.add_argument("--families", nargs="+", default=None, help="default: all of the suite's")
    run.add_argument(
        "--seeds",
        nargs="+",
        type=int,
        default=[0],
        help="method seeds (each multiplies the time; intervals resample targets)",
    )
    run.add_argument("--out", default="runs/bench", help="output folder (reruns resume)")
    run.add_argument("--workers", type=int, default=2, help="parallel processes")
    run.add_argument(
        "--quick", action="store_true", help="8 targets, 1 seed, budgets up to 100, short training"
    )
    run.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    run.add_argument(
        "--configs",
        default="experiments/configs",
        help="folder of <algo>_<family>.yaml training configs",
    )
    run.add_argument("--no-progress", action="store_true")
    add_backend_arguments(run)

    refs = sub.add_parser("references", help="rebuild reference optima and floors (oracle)")
    refs.add_argument("--suite", default=DEFAULT_SUITE, help="suite version or file")
    refs.add_argument("--families", nargs="+", default=None)
    refs.add_argument(
        "--out", default=None, help="suite file to write (default: the suite's own file)"
    )
    refs.add_argument("--workers", type=int, default=2, help="parallel processes")
    refs.add_argument("--device", default="cpu", choices=["cpu", "cuda"])

    freeze = sub.add_parser("freeze", help="draw a new suite's targets")
    freeze.add_argument("--version", required=True, help="suite name, e.g. nanoenv-bench-v2")
    freeze.add_argument(
        "--families", nargs="+", default=None, help="default: every registered family"
    )
    freeze.add_argument("--n", type=int, default=64, help="targets per family")
    freeze.add_argument("--seed", type=int, default=2026, help="suite generator seed")
    freeze.add_argument("--out", default=None, help="default: the package's suites folder")

    sub.add_parser("list", help="shipped suites and designers")


def _run(args: argparse.Namespace) -> int:
    return {"run": _bench_run, "references": _references, "freeze": _freeze, "list": _list}[
        args.bench_command
    ](args)


def _bench_run(args: argparse.Namespace) -> int:
    from agents.bench.run import markdown, run_bench
    from agents.sweep import backend_options

    if args.workers < 1:
        raise ValueError(f"--workers {args.workers}: must be a positive number of processes")
    result = run_bench(
        args.suite,
        args.methods,
        args.families,
        args.seeds,
        args.out,
        workers=args.workers,
        quick=args.quick,
        device=args.device,
        configs_dir=args.configs,
        progress=not args.no_progress,
        **backend_options(args),
    )
    print(markdown(result).split("## Every budget")[0].rstrip())
    print(f"\nwrote {Path(args.out) / 'bench.json'} and bench.md")
    return 0


def _references(args: argparse.Namespace) -> int:
    from agents.bench.build import rebuild_references
    from nanoenv.bench import load_suite, shipped_suite_path

    suite = load_suite(args.suite)
    out = (
        Path(args.out)
        if args.out
        else (Path(args.suite) if Path(args.suite).is_file() else shipped_suite_path(suite.version))
    )
    suite = rebuild_references(suite, args.families, out, workers=args.workers, device=args.device)
    print(f"wrote {out} ({suite.version}, content hash {suite.content_hash[:16]})")
    return 0


def _freeze(args: argparse.Namespace) -> int:
    from agents.bench.build import freeze_suite

    path = freeze_suite(args.version, args.families, args.n, args.seed, args.out)
    print(f"wrote {path}; build its references with: nanoenv bench references --suite {path}")
    return 0


def _list(args: argparse.Namespace) -> int:
    from agents.bench.registry import available_methods, get_method
    from nanoenv.bench import available_suites, load_suite

    for name in available_suites():
        s = load_suite(name)
        print(f"{name}  [{s.content_hash[:16]}]")
        for f in s.family_names:
            refs = "references" if s.has_references(f) else "NO references"
            print(f"  {f:26s} {s.tier(f):8s} {len(s.families[f]['targets'])} targets, {refs}")
    print("designers:")
    for m in available_methods():
        entry = get_method(m)
        print(f"  {m:14s} {entry.track}{' (trains)' if entry.trains else ''}")
    return 0


BENCH = Subcommand(
    help="nanoenv-bench: score designers on frozen suites at fixed simulator-call budgets",
    description="Score designers (built-in, installed plug-ins, or module:Class) on a "
    "frozen, versioned suite of held-out targets at fixed budgets (1 to 1000 simulator "
    "calls), normalised per target between a random design (0) and the oracle's reference "
    "(1), with IQM, 95 % intervals, performance profiles and the probability of "
    "improvement over random search. Actions: run, references, freeze, list.",
    configure=_configure,
    run=_run,
)
