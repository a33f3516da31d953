"""``nanoenv demo``: train PPO and compare it with the generative prior, random search and
CMA-ES on the benchmark's normalised score.

The quickest tour of the project, sized for a 2-core CPU (about a minute with the
defaults): PPO is trained on the ``realisable`` task family with the shipped PPO defaults
(``agents/rl/configs/ppo.yaml``, :data:`DEMO_CONFIG`), then the trained
policy (episodes of at most 20 edits, repeated from new starts), the shipped generative
prior (:class:`agents.prior.PriorScreen`), random search and CMA-ES design for the first
16 ``realisable`` targets of the frozen suite ``nanoenv-bench-v1``, through the bench's
one evaluation pipeline (:func:`agents.bench.runner.score_designer`): each method gets
100 simulator calls per target and is scored on its best design after 1, 3, 10, 30 and
100 calls, normalised between a random design (0) and the suite's reference optimum (1).
A results table is printed and everything is written to a new run folder::

    runs/demo_<UTC timestamp>/
        config.yaml, meta.json   the training config and provenance (seed, versions, commit)
        final_model.zip          the trained PPO policy
        logs/                    training logs (progress.csv)
        results.json, .csv       per-target results of every method (+ summary, timings)
        report.md, report.json   aggregated table (see :mod:`agents.report`)
        plots/                   score_vs_calls.png, best_designs.png
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from agents.rl.config import default_config

__all__ = ["DEMO_CONFIG", "configure", "format_table", "run", "run_demo"]

#: The shipped PPO defaults (``agents/rl/configs/ppo.yaml``, which
#: ``experiments/configs/ppo_realisable.yaml`` takes as they are).
DEMO_CONFIG: dict[str, Any] = default_config("ppo")

DEFAULT_STEPS = 20_000
SUITE = "nanoenv-bench-v1"
N_TARGETS = 16
#: Simulator calls per target of every method (scored at each of :data:`BUDGETS` up to it).
BASELINE_BUDGET = 100
BUDGETS = (1, 3, 10, 30, 100)
#: The budget of the headline column.
HEADLINE = 10
FAMILY = "realisable"
_PRETTY = {
    "random": "random search",
    "cmaes": "CMA-ES",
    "ppo": "PPO",
    "prior": "the generative prior",
}


# -- helpers --------------------------------------------------------------------------------


@contextlib.contextmanager
def _torch_threads(n: int | None) -> Iterator[None]:
    """Run with ``n`` torch threads (unchanged when ``None``)."""
    import torch

    before = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _run_folder(out: str | None) -> Path:
    from agents.rl.run_folder import new_folder, utc_stamp

    if out is None:
        return new_folder("runs", f"demo_{utc_stamp()}")
    path = Path(out)
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise ValueError(
            f"--out {out!r} exists and is not an empty folder; the demo never "
            "overwrites a run (leave --out out for a new runs/demo_<time> folder)"
        )
    path.mkdir(parents=True, exist_ok=True)
    return path


def _fmt_seconds(s: float) -> str:
    return f"{s:.1f} s" if s < 90 else f"{int(s // 60)} min {s % 60:04.1f} s"


# -- table ----------------------------------------------------------------------------------


def format_table(summary: dict[str, dict[str, Any]]) -> str:
    """A box-drawn table: one line per method (normalised score at :data:`HEADLINE` calls
    and at the largest budget, IQM with its 95 % interval; success at ``HEADLINE``; the
    simulator calls its training took)."""
    head = [
        "method",
        "track",
        f"score @ {HEADLINE} calls [95% CI]",
        "score @ max [95% CI]",
        f"f2 ≥ 50 @ {HEADLINE}",
        "training calls",
    ]
    lines = []
    for method, s in summary.items():
        lines.append(
            [
                method,
                s["track"],
                f"{s['score']:.2f} [{s['ci'][0]:.2f}, {s['ci'][1]:.2f}]",
                f"{s['score_max']:.2f} [{s['ci_max'][0]:.2f}, {s['ci_max'][1]:.2f}]",
                f"{s['success']:.0%}",
                "–" if s["train_sim_calls"] is None else f"{s['train_sim_calls']:,}",
            ]
        )
    widths = [max(len(h), *(len(r[i]) for r in lines)) for i, h in enumerate(head)]

    def line(cells: list[str]) -> str:
        out = [
            c.ljust(w) if i < 2 else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "│ " + " │ ".join(out) + " │"

    def rule(left: str, mid: str, right: str) -> str:
        return left + mid.join("─" * (w + 2) for w in widths) + right

    return "\n".join(
        [
            rule("┌", "┬", "┐"),
            line(head),
            rule("├", "┼", "┤"),
            *(line(r) for r in lines),
            rule("└", "┴", "┘"),
        ]
    )


# -- the demo -------------------------------------------------------------------------------


def run_demo(
    out: str | None = None,
    steps: int = DEFAULT_STEPS,
    seed: int = 0,
    device: str = "cpu",
    n_targets: int = N_TARGETS,
    budget: int = BASELINE_BUDGET,
    progress: bool = True,
    threads: int | None = 1,
    echo: Any = print,
) -> Path:
    """Train, evaluate and report (see the module text); returns the run folder.

    :param threads: torch threads while training and evaluating on the CPU (1 is the
        fastest for this small network on a busy 2-core machine); ``None``: unchanged.
    """
    from agents.baselines import CMAES, PolicyRollout, RandomSearch
    from agents.bench.runner import method_seed, score_designer
    from agents.bench.stats import iqm_ci
    from agents.prior import PriorScreen
    from agents.report import write_report
    from agents.rl import (
        TrainConfig,
        load_model,
        save_results,
        train,
        training_cost,
    )
    from nanoenv.bench import load_suite
    from nanoenv.devices import resolve_device

    if steps < 1 or n_targets < 1 or budget < 1:
        raise ValueError("--steps, --targets and the budget must be positive")
    suite = load_suite(SUITE)
    n_suite = len(suite.families[FAMILY]["targets"])
    if n_targets > n_suite:
        raise ValueError(f"--targets {n_targets}: the suite has {n_suite} {FAMILY} targets")
    budgets = tuple(sorted({b for b in BUDGETS if b < budget} | {budget}))
    data = json.loads(json.dumps(DEMO_CONFIG))
    # PPO learns in whole rollouts (n_steps x num_envs steps): train and record as many
    rollout = data["hyperparameters"]["n_steps"] * data["num_envs"]
    steps = -(-steps // rollout) * rollout
    data.update(total_steps=steps, seed=seed, device=device, checkpoint_every=0)
    data["env"]["device"] = device
    data["eval"].update(n=n_targets, at_end=False)
    cfg = TrainConfig.from_dict(data)  # validated before any folder is made
    resolve_device(device)  # no CUDA: an error before any folder is made
    if device != "cpu":
        threads = None
    run = _run_folder(out)
    timings: dict[str, float] = {}
    started = time.perf_counter()

    echo(
        f"nanoenv demo: PPO against the generative prior, random search and CMA-ES on the "
        f"{FAMILY!r} task family"
    )
    echo(f"run folder: {run}\n")
    thread_note = f", {threads} torch thread" if threads else ""
    echo(
        f"[1/3] Training PPO for {steps:,} environment steps ({cfg.num_envs} environments, "
        f"seed {seed}, {device}{thread_note})"
    )
    t0 = time.perf_counter()
    with _torch_threads(threads):
        train(cfg, run_dir=run, progress=progress)
    timings["train_s"] = time.perf_counter() - t0
    echo(f"      done in {_fmt_seconds(timings['train_s'])}\n")

    targets = suite.targets(FAMILY, n_targets)
    references = suite.references(FAMILY)[:n_targets]
    env_kwargs = {k: v for k, v in cfg.env.kwargs().items() if k != "device"}
    model = load_model(run, device=device)
    train_calls = (training_cost(run) or {}).get("sim_calls")
    from agents.prior.train import load_default_prior

    # the prior's training pairs are simulated designs: one simulator call each
    prior_calls = getattr(load_default_prior("polymer", "cvae"), "meta", {}).get("n_pairs")
    common = {"device": device, "stop_on_success": False}
    methods = [
        (
            PolicyRollout(
                model, env_kwargs, device=device, name="ppo", repeat=True, stop_on_success=False
            ),
            True,
            "amortised",
        ),
        (PriorScreen(m=None, device=device, name="prior"), False, "amortised"),
        (RandomSearch(**common), False, "search"),
        (CMAES(**common), False, "search"),
    ]
    mseed = method_seed(int(suite.families[FAMILY]["seed"]), seed)
    echo(
        f"[2/3] Designing for {n_targets} held-out targets: the first {n_targets} "
        f"{FAMILY!r} targets of {suite.version} [{suite.content_hash[:12]}]"
    )
    echo(
        f"      every method: {budget} simulator calls per target, scored on its best design "
        f"after {', '.join(map(str, budgets))} calls"
    )
    echo(
        f"      ppo: episodes of <= {cfg.env.max_edits} edits from new starts; prior: samples "
        "of the pretrained conditional VAE; random search; CMA-ES"
    )
    rows: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    with _torch_threads(threads):
        for method, trains, track in methods:
            new = score_designer(
                method,
                targets,
                seed=mseed,
                budgets=budgets,
                references=references,
                trains=trains,
                progress=progress,
                desc=f"      {method.name:7s}",
            )
            for r in new:
                r.update(seed=seed, track=track)
            rows += new
    timings["evaluate_s"] = time.perf_counter() - t0
    echo(f"      done in {_fmt_seconds(timings['evaluate_s'])}\n")

    echo("[3/3] Writing results, report and plots")
    head = budgets.index(HEADLINE) if HEADLINE in budgets else 0
    summary: dict[str, dict[str, Any]] = {}
    for method, _, track in methods:
        mine = [r for r in rows if r["method"] == method.name]
        score, lo, hi = iqm_ci([[r["normalized_at"][head]] for r in mine])
        smax, lmax, hmax = iqm_ci([[r["normalized_at"][-1]] for r in mine])
        summary[method.name] = {
            "track": track,
            "score": score,
            "ci": [lo, hi],
            "score_max": smax,
            "ci_max": [lmax, hmax],
            "success": sum(r["success_f2_50_at"][head] for r in mine) / len(mine),
            "train_sim_calls": {"ppo": train_calls, "prior": prior_calls}.get(method.name),
        }
    settings = {
        "family": FAMILY,
        "suite": {"version": suite.version, "content_hash": suite.content_hash},
        "n": n_targets,
        "method_seed": mseed,
        "budgets": list(budgets),
        "train_steps": steps,
        "train_seed": seed,
        "device": device,
        "torch_threads": threads,
        "timings_s": timings,
    }
    settings["normalised_scores"] = summary
    save_results(run, rows, settings)
    report = write_report([run / "results.json"], run, title="nanoenv demo")
    timings["total_s"] = time.perf_counter() - started
    save_results(run, rows, settings)

    k = budgets[head]
    echo(
        f"\nNormalised score on {n_targets} held-out targets (IQM over targets; 0 = a random "
        "design, 1 = the suite's reference optimum)"
    )
    echo(format_table(summary))
    rnd = summary["random"]
    best = max((m for m in summary if m != "random"), key=lambda m: summary[m]["score"])
    b = summary[best]
    separated = b["ci"][0] > rnd["ci"][1]
    echo(
        f"\nAt {k} simulator calls, {_PRETTY.get(best, best)} scores {b['score']:.2f} "
        f"[{b['ci'][0]:.2f}, {b['ci'][1]:.2f}] against random search's {rnd['score']:.2f} "
        f"[{rnd['ci'][0]:.2f}, {rnd['ci'][1]:.2f}]: the intervals "
        f"{'do not overlap' if separated else 'overlap'}."
    )
    echo(
        f"Total time {_fmt_seconds(timings['total_s'])} (training "
        f"{_fmt_seconds(timings['train_s'])}, evaluation "
        f"{_fmt_seconds(timings['evaluate_s'])})."
    )
    files = [
        ("config.yaml", "training config (rerun: nanoenv train --config ...)"),
        ("meta.json", "seed, package versions, git commit"),
        ("final_model.zip", "the trained PPO policy"),
        ("results.json/.csv", "per-target results of every method, summary, timings"),
        ("report.md", "aggregated table with 95% intervals (also report.json)"),
        *(
            (f"plots/{Path(p).name}", what)
            for p, what in zip(
                report["plots"].values(),
                ["best f2 against simulator calls", "best designs against their targets"],
                strict=False,
            )
        ),
    ]
    echo(f"\nFiles in {run}{os.sep}")
    width = max(len(f) for f, _ in files)
    for name, what in files:
        echo(f"  {name.ljust(width)}  {what}")
    echo(
        "\nNext: nanoenv bench run --quick (every method on every family), "
        f"nanoenv evaluate --run {run}, nanoenv report {run} [more runs ...]"
    )
    sys.stdout.flush()
    return run


# -- command --------------------------------------------------------------------------------


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out",
        metavar="DIR",
        default=None,
        help="the new run folder (must not exist or be empty; default: runs/demo_<UTC timestamp>)",
    )
    parser.add_argument(
        "--steps",
        type=int,
        default=DEFAULT_STEPS,
        metavar="N",
        help=f"PPO training steps (default {DEFAULT_STEPS})",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the training and of the methods' random draws (the targets stay "
        "fixed; default 0)",
    )
    parser.add_argument(
        "--device",
        default="cpu",
        choices=["cpu", "cuda", "auto"],
        help="device of the networks and the simulator (default cpu)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    # smaller suites for tests
    parser.add_argument("--targets", type=int, default=N_TARGETS, help=argparse.SUPPRESS)
    parser.add_argument("--budget", type=int, default=BASELINE_BUDGET, help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    run_demo(
        args.out,
        args.steps,
        args.seed,
        args.device,
        args.targets,
        args.budget,
        progress=not args.no_progress,
    )
    return 0
