"""``nanoenv demo``: train PPO and compare it with the generative prior, random search and
CMA-ES.

The quickest tour of the project, sized for a 2-core CPU (about a minute with the
defaults): PPO is trained on the ``realisable`` task family with the settings of
``experiments/configs/ppo_realisable.yaml`` (:data:`DEMO_CONFIG`), then the trained
policy (one episode of at most 20 edits per target), the shipped generative prior (best of
16 proposals, :class:`agents.prior.PriorScreen`), random search and CMA-ES (200
simulator calls per target) design for the same held-out targets,
``benchmark_suite("realisable", 16, seed=1000)``. A results table is printed and
everything is written to a new run folder::

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
import csv
import datetime as _dt
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from nanoenv.files import atomic_open, atomic_write

__all__ = ["DEMO_CONFIG", "configure", "format_table", "run", "run_demo"]

#: The values of ``experiments/configs/ppo_realisable.yaml`` (the demo does not need the
#: repository checkout; a test keeps the two equal).
DEMO_CONFIG: dict[str, Any] = {
    "algo": "ppo",
    "task": "realisable",
    "total_steps": 50000,
    "num_envs": 8,
    "seed": 0,
    "device": "cpu",
    "env": {"max_edits": 20, "max_step": 0.25, "success_f2": 50.0},
    "hyperparameters": {
        "learning_rate": 3.0e-4,
        "n_steps": 128,
        "batch_size": 256,
        "n_epochs": 10,
        "gamma": 0.95,
        "gae_lambda": 0.95,
        "clip_range": 0.2,
        "ent_coef": 0.0,
        "max_grad_norm": 0.5,
        "policy_kwargs": {"net_arch": [128, 128], "activation_fn": "tanh", "log_std_init": -0.5},
    },
    "checkpoint_every": 10000,
    "eval": {"n": 16, "seed": 1000, "at_end": True},
}

DEFAULT_STEPS = 20_000
SUITE_SEED = 1000
N_TARGETS = 16
BASELINE_BUDGET = 200
FAMILY = "realisable"
_PRETTY = {"random": "random search", "cmaes": "CMA-ES", "ppo": "PPO",
           "prior": "the generative prior"}  # fmt: skip
#: Candidates the shipped generative prior (agents.prior) proposes and screens per target.
PRIOR_M = 16


# -- helpers --------------------------------------------------------------------------------


def _utc_stamp() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")


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
    from agents.sb3_agents import new_folder

    if out is None:
        return new_folder("runs", f"demo_{_utc_stamp()}")
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


def _rows(results: list[Any]) -> list[dict[str, Any]]:
    """Result rows (see :func:`agents.baselines.results_table`) with the per-target
    history and the curves of the best design and the target, for the report's plots."""
    from agents.baselines import results_table

    rows = results_table(results)
    for row, r in zip(rows, results, strict=True):
        c = row["calls_to_success"]
        row["edits_to_success"] = (c - 1 if c is not None else None) if r.method == "ppo" else None
        row["history"] = [[int(n), round(float(f), 4)] for n, f in r.history]
        row["times_h"] = [round(float(t), 6) for t in r.target.times_h]
        row["target_release"] = [round(float(v), 6) for v in r.target.release]
        row["release"] = [round(float(v), 6) for v in r.release]
    return rows


# -- table ----------------------------------------------------------------------------------


def format_table(summary: dict[str, dict[str, Any]], budgets: dict[str, int]) -> str:
    """A box-drawn table: one line per method (success rate, median simulator calls to
    success, mean best f2, IQM best f2 with its 95 % interval, calls allowed)."""
    head = ["method", "success", "median calls", "mean best f2", "IQM best f2 [95% CI]", "budget"]
    lines = []
    for method, s in summary.items():
        lo, hi = s["best_f2_iqm_ci"]
        calls = s["median_calls_to_success"]
        lines.append(
            [
                method,
                f"{s['success_rate']:.0%} ({round(s['success_rate'] * s['n'])}/{s['n']})",
                "–" if calls is None else f"{calls:g}",
                f"{s['mean_best_f2']:.1f}",
                f"{s['best_f2_iqm']:.1f} [{lo:.1f}, {hi:.1f}]",
                f"{budgets[method]} calls",
            ]
        )
    widths = [max(len(h), *(len(r[i]) for r in lines)) for i, h in enumerate(head)]

    def line(cells: list[str]) -> str:
        out = [
            c.ljust(w) if i == 0 else c.rjust(w)
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
    from agents.baselines import CMAES, PolicyRollout, RandomSearch, summarize
    from agents.report import aggregate, write_report
    from agents.sb3_agents import (
        METHOD_SEED_OFFSET,
        TrainConfig,
        _resolve_device,
        load_model,
        train,
    )
    from nanoenv.tasks import benchmark_suite

    if steps < 1 or n_targets < 1 or budget < 1:
        raise ValueError("--steps, --targets and the budget must be positive")
    data = json.loads(json.dumps(DEMO_CONFIG))
    # PPO learns in whole rollouts (n_steps x num_envs steps): train and record as many
    rollout = data["hyperparameters"]["n_steps"] * data["num_envs"]
    steps = -(-steps // rollout) * rollout
    data.update(total_steps=steps, seed=seed, device=device, checkpoint_every=0)
    data["env"]["device"] = device
    data["eval"].update(n=n_targets, seed=SUITE_SEED, at_end=False)
    cfg = TrainConfig.from_dict(data)  # validated before any folder is made
    _resolve_device(device)  # no CUDA: an error before any folder is made
    if device != "cpu":
        threads = None
    run = _run_folder(out)
    timings: dict[str, float] = {}
    started = time.perf_counter()

    echo(f"nanoenv demo: PPO against the generative prior, random search and CMA-ES on the "
         f"{FAMILY!r} task family")  # fmt: skip
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

    targets = benchmark_suite(FAMILY, n_targets, SUITE_SEED)
    policy_budget = 1 + cfg.env.max_edits
    env_kwargs = {k: v for k, v in cfg.env.kwargs().items() if k != "device"}
    model = load_model(run, device=device)
    from agents.prior import PriorScreen

    methods = [
        (PolicyRollout(model, env_kwargs, device=device, name="ppo"), policy_budget),
        (PriorScreen(m=PRIOR_M, device=device, name="prior"), min(PRIOR_M, budget)),
        (RandomSearch(device=device), budget),
        (CMAES(device=device), budget),
    ]
    # seed 0 draws as `nanoenv evaluate` does; other seeds vary the methods' draws too
    method_seed = (SUITE_SEED + METHOD_SEED_OFFSET + seed) % 2**32
    echo(
        f"[2/3] Designing for {n_targets} held-out targets: benchmark_suite({FAMILY!r}, "
        f"{n_targets}, seed={SUITE_SEED})"
    )
    echo(
        f"      ppo: one episode of <= {cfg.env.max_edits} edits ({policy_budget} simulator calls)"
    )
    echo(f"      prior: best of {min(PRIOR_M, budget)} designs proposed by the pretrained "
         "conditional VAE (one batched simulation)")  # fmt: skip
    echo(f"      random search, CMA-ES: {budget} simulator calls per target")
    rows: list[dict[str, Any]] = []
    budgets: dict[str, int] = {}
    t0 = time.perf_counter()
    with _torch_threads(threads):
        for method, b in methods:
            iterator: Any = targets
            if progress:
                from tqdm.auto import tqdm

                iterator = tqdm(
                    targets, desc=f"      {method.name:7s}", unit="target", dynamic_ncols=True
                )
            results = [method.design(t, b, seed=method_seed) for t in iterator]
            rows.extend(_rows(results))
            budgets[method.name] = b
    timings["evaluate_s"] = time.perf_counter() - t0
    echo(f"      done in {_fmt_seconds(timings['evaluate_s'])}\n")

    echo("[3/3] Writing results, report and plots")
    summary: dict[str, dict[str, Any]] = {}
    for name in budgets:
        s = summarize([r for r in rows if r["method"] == name])
        summary[name] = {FAMILY: s}
    settings = {
        "family": FAMILY,
        "n": n_targets,
        "seed": SUITE_SEED,
        "method_seed": method_seed,
        "budgets": budgets,
        "train_steps": steps,
        "train_seed": seed,
        "device": device,
        "torch_threads": threads,
        "timings_s": timings,
    }
    payload = {"settings": settings, "summary": summary, "rows": rows}
    atomic_write(run / "results.json", json.dumps(payload, indent=1))
    from agents.sb3_agents import _COLUMNS

    with atomic_open(run / "results.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    report = write_report([run / "results.json"], run, title="nanoenv demo")
    table_summary = {
        s["method"]: {**s, **summary[s["method"]][FAMILY]}
        for s in aggregate(
            [{"method": m, "rows": [r for r in rows if r["method"] == m]} for m in budgets]
        )
    }
    timings["total_s"] = time.perf_counter() - started
    payload["settings"]["timings_s"] = timings
    atomic_write(run / "results.json", json.dumps(payload, indent=1))

    table = format_table(table_summary, budgets)
    echo(
        f"\nResults on {n_targets} held-out targets (success: best f2 >= "
        f"{cfg.env.success_f2:g}; calls: simulator calls)"
    )
    echo(table)
    ppo, best_base = (
        table_summary["ppo"],
        max((s for m, s in table_summary.items() if m != "ppo"), key=lambda s: s["success_rate"]),
    )
    calls_note = ""
    if ppo["median_calls_to_success"] is not None:
        calls_note = f", in a median {ppo['median_calls_to_success']:g} calls where it succeeded"
    base_calls = best_base["median_calls_to_success"]
    echo(
        f"\nPPO ({steps:,} training steps) solved {ppo['success_rate']:.0%} of the targets "
        f"in one episode of at most {policy_budget} calls{calls_note}; the best baseline, "
        f"{_PRETTY.get(best_base['method'], best_base['method'])}, solved "
        f"{best_base['success_rate']:.0%} with up to {budgets[best_base['method']]} "
        f"calls (median {'–' if base_calls is None else f'{base_calls:g}'})."
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
        "\nNext: nanoenv train --config experiments/configs/ppo_realisable.yaml (50k steps), "
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
