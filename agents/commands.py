"""``nanoenv train``, ``evaluate``, ``report`` and ``demo``, registered through the
``nanoenv.commands`` entry-point group (so that :mod:`nanoenv` never imports :mod:`agents`).

Each object here is a :class:`nanoenv.cli.Subcommand`; stable-baselines3 is imported only
when a command runs.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from nanoenv.cli import Subcommand

__all__ = ["DEMO", "EVALUATE", "REPORT", "TRAIN"]


def _configure_train(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="YAML training config (see experiments/configs/); optional with --resume",
    )
    parser.add_argument("--seed", type=int, default=None, help="override the config's seed")
    parser.add_argument(
        "--device",
        default=None,
        choices=["cpu", "cuda", "auto"],
        help="override the config's network device",
    )
    parser.add_argument(
        "--total-steps",
        type=int,
        default=None,
        metavar="N",
        help="override the config's total environment steps",
    )
    parser.add_argument(
        "--resume",
        metavar="RUN_DIR",
        default=None,
        help="continue this run from its last checkpoint",
    )
    parser.add_argument(
        "--run-dir",
        metavar="DIR",
        default=None,
        help="the new run folder (default: runs/<algo>_<task>_<time>_s<seed>)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _run_train(args: argparse.Namespace) -> int:
    from agents.rl import load_config, train

    if args.config is None and args.resume is None:
        raise ValueError("train needs --config FILE (or --resume RUN_DIR)")
    if args.resume is not None and args.run_dir is not None:
        raise ValueError(
            "--run-dir and --resume exclude each other (a resumed run stays in its folder)"
        )
    if args.resume is not None and args.seed is not None:
        raise ValueError("--seed cannot change when resuming a run")
    if args.resume is not None and not (Path(args.resume) / "config.yaml").is_file():
        raise ValueError(
            f"--resume {args.resume!r} is not a run folder (no config.yaml): a "
            "run stopped before it saved anything; start it again with --config"
        )
    source = args.config if args.config is not None else Path(args.resume) / "config.yaml"
    cfg = load_config(source)
    cfg = cfg.replace(seed=args.seed, device=args.device, total_steps=args.total_steps)
    run = train(cfg, run_dir=args.run_dir, resume=args.resume, progress=not args.no_progress)
    print(f"run folder: {run}")
    return 0


def _configure_evaluate(parser: argparse.ArgumentParser) -> None:
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--run", metavar="RUN_DIR", help="evaluate the model of this run")
    which.add_argument(
        "--method",
        help="evaluate an untrained designer: random, cmaes, gradient, bo, prior, prior-flow, "
        "an installed plug-in, or module:Class (nanoenv bench list)",
    )
    parser.add_argument(
        "--families",
        nargs="+",
        default=None,
        help="task families (default: the run's task, or realisable)",
    )
    parser.add_argument("--n", type=int, default=16, help="targets per family")
    parser.add_argument("--seed", type=int, default=0, help="benchmark suite seed")
    parser.add_argument("--budget", type=int, default=500, help="simulator calls per target")
    parser.add_argument(
        "--repeat",
        action="store_true",
        help="policies: roll out further episodes while budget is left",
    )
    parser.add_argument(
        "--out",
        metavar="DIR",
        default=None,
        help="parent folder of the "
        "results folder (default: the run folder, or runs/ for baselines)",
    )
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    parser.add_argument(
        "--constants",
        choices=["literature", "calibrated"],
        default=None,
        help="search baselines: simulator constants (default: each family's own; a run "
        "uses its config's env.constants)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _run_evaluate(args: argparse.Namespace) -> int:
    from agents.rl import check_evaluation_size, evaluate_baseline, evaluate_run

    check_evaluation_size(args.n, args.budget)
    if args.run is not None and args.constants is not None:
        raise ValueError(
            "--constants applies to --method designers; a run evaluates with "
            "its config's env.constants"
        )
    progress = not args.no_progress
    if args.run is not None:
        folder = evaluate_run(
            args.run,
            args.families,
            args.n,
            args.seed,
            args.budget,
            out=args.out,
            device=args.device,
            repeat=args.repeat,
            progress=progress,
        )
    else:
        folder = evaluate_baseline(
            args.method,
            args.families or ["realisable"],
            args.n,
            args.seed,
            args.budget,
            out=args.out or "runs",
            device=args.device,
            progress=progress,
            constants=args.constants,
        )
    summary = json.loads((folder / "results.json").read_text())["summary"]
    for family, s in summary.items():
        print(
            f"{family:22s} success {s['success_rate']:5.0%}  median calls to success "
            f"{s['median_calls_to_success']}  mean best f2 {s['mean_best_f2']:5.1f}  "
            f"mean calls {s['mean_sim_calls']:5.1f}"
        )
    print(f"results: {folder / 'results.json'} and results.csv")
    return 0


TRAIN = Subcommand(
    help="train a PPO or SAC agent from a YAML config",
    description="Train PPO or SAC (stable-baselines3) on the batched formulation-design "
    "environment. The config is validated before training; a new run folder holds the "
    "config, seed, package versions, git commit, checkpoints, logs and the final model. "
    "--resume RUN_DIR continues a run from its last checkpoint.",
    configure=_configure_train,
    run=_run_train,
)

EVALUATE = Subcommand(
    help="evaluate a trained run or a search baseline on the seeded benchmark suites",
    description="Run a trained policy (--run) or a search baseline (--method) on "
    "benchmark_suite(family, n, seed) of each family and save per-target results (best f2, "
    "success, simulator calls to success, cost) as JSON and CSV.",
    configure=_configure_evaluate,
    run=_run_evaluate,
)


def _configure_report(parser: argparse.ArgumentParser) -> None:
    from agents.report import configure

    configure(parser)


def _run_report(args: argparse.Namespace) -> int:
    from agents.report import run

    return run(args)


def _configure_demo(parser: argparse.ArgumentParser) -> None:
    from agents.demo import configure

    configure(parser)


def _run_demo(args: argparse.Namespace) -> int:
    from agents.demo import run

    return run(args)


REPORT = Subcommand(
    help="aggregate evaluation results over seeds into a report (tables and plots)",
    description="Read every results.json under the given run or evaluation folders and "
    "summarise each method x family over runs (seeds) and targets: success rate (best f2 "
    ">= 50) and interquartile mean (IQM) of the best f2, with stratified-bootstrap 95 % "
    "confidence intervals, and the median number of simulator calls to success. Writes "
    "report.md (a Markdown table), report.json and plots/*.png (best f2 against simulator "
    "calls; best designs against their targets when the results carry curves).",
    configure=_configure_report,
    run=_run_report,
)

DEMO = Subcommand(
    help="train PPO and compare it with random search and CMA-ES (under a minute on a 2-core CPU)",
    description="The quickest way to see the whole pipeline: train PPO on the 'realisable' "
    "task family (the settings of experiments/configs/ppo_realisable.yaml), evaluate it "
    "against random search and CMA-ES on the same 16 seeded targets "
    "(benchmark_suite('realisable', 16, seed=1000); 200 simulator calls per target for the "
    "baselines, one episode of at most 20 edits for the policy), print a results table and "
    "write the config, model, results (JSON, CSV), report.md and plots to a new run folder.",
    configure=_configure_demo,
    run=_run_demo,
)
