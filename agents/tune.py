"""``nanoenv tune``: hyperparameter search for PPO and SAC with Optuna, in the rl-zoo style.

    nanoenv tune --config experiments/configs/ppo_realisable.yaml --trials 20 \\
        --steps 20000 --out runs/tune_x

Each trial samples hyperparameters (:func:`sample_hyperparameters`, inside the ranges
:func:`agents.rl.load_config` accepts) into the base config, trains it with
:func:`agents.rl.train` for ``--steps`` environment steps (in ``--rungs`` equal
parts, resuming the run between them) and scores the policy after each part with the
bench pipeline, :func:`agents.bench.runner.score_designer`, on the held-out targets
``benchmark_suite(family, n, suite_seed)`` (validation targets: ``suite_seed`` 2000 by
default, not the evaluation suite's 1000). The objective, maximised, is the **mean over
targets of the best score within ``--budget`` simulator calls** (default one episode,
``1 + max_edits``), the policy running further episodes from new initial designs until
the budget is spent (as in the bench). Optuna's TPE sampler proposes, its median pruner
stops a trial whose score after a part is below the median of earlier trials at that
part (``--no-prune`` to keep all).

``<out>`` holds ``study.db`` (the Optuna study in SQLite), ``trials/trial_<n>/`` (each
trial's run folder), ``best_config.yaml`` (the base config with the best trial's
hyperparameters and ``--steps``: ``nanoenv train --config <out>/best_config.yaml``) and
``tune.json`` (every trial's parameters, value and state). **Resumable**: rerunning the
same command on the same ``--out`` continues the study until ``--trials`` trials are
finished (complete or pruned); a trial cut short by ``kill -9`` is marked failed by the
study's heartbeat and tried again with the same parameters. A rerun with other
settings (config, steps, family, targets, budget, seed) is refused.

Optuna is an optional dependency (``pip install -e ".[tune]"``), imported when the
command runs.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nanoenv.cli import Subcommand
from nanoenv.optional import import_optional

__all__ = [
    "MAX_TRIALS",
    "TUNE",
    "VALIDATION_SEED",
    "sample_hyperparameters",
    "trial_config",
    "tune",
]

#: Most trials one study may ask for.
MAX_TRIALS = 10_000
#: Most training steps per trial.
MAX_STEPS = 100_000_000
STUDY_NAME = "nanoenv-tune"
#: Seed of the targets trials are scored on: not 1000, the seed of the held-out suite that
#: ``nanoenv evaluate``, the configs' ``eval`` and sweeps report on, so that a tuned
#: configuration is not chosen on the targets it is then reported on.
VALIDATION_SEED = 2000
_NET_ARCH = {"small": [64, 64], "medium": [128, 128], "large": [256, 256]}


def sample_hyperparameters(trial: Any, algo: str, num_envs: int) -> dict[str, Any]:
    """One trial's SB3 hyperparameters (rl-zoo's search spaces, narrowed to the short
    episodes of nanoenv: at most ~20 edits, so ``gamma`` ≤ 0.99).

    PPO: ``learning_rate`` log-uniform in [1e-5, 1e-2]; ``n_steps`` per environment
    in {32, 64, 128, 256}; ``batch_size`` = rollout (``n_steps × num_envs``) / minibatches,
    minibatches in {1, 2, 4, 8} (a divisor of the rollout, never larger); ``n_epochs`` in
    {3, 5, 10, 20}; ``gamma`` in {0.9, 0.95, 0.98, 0.99}; ``gae_lambda`` in {0.8, 0.9,
    0.95, 0.98}; ``clip_range`` in {0.1, 0.2, 0.3}; ``ent_coef`` log-uniform in
    [1e-8, 1e-2]; ``net_arch`` small/medium/large ([64, 64], [128, 128], [256, 256]);
    ``activation_fn`` tanh or relu.

    SAC: ``learning_rate`` log-uniform in [1e-5, 3e-3]; ``batch_size`` in {64, 128, 256,
    512}; ``gamma`` as PPO; ``tau`` in {0.005, 0.01, 0.02}; ``learning_starts`` in {100,
    1000}; ``gradient_steps`` in {1, 2, 4}; ``ent_coef`` in {auto, 0.001, 0.01, 0.1};
    ``net_arch`` as PPO.

    :param trial: an ``optuna.Trial``.
    :param algo: ``"ppo"`` or ``"sac"``.
    :param num_envs: environments of the config (PPO's rollout is ``n_steps × num_envs``).
    """
    net = _NET_ARCH[trial.suggest_categorical("net_arch", list(_NET_ARCH))]
    gamma = trial.suggest_categorical("gamma", [0.9, 0.95, 0.98, 0.99])
    if algo == "ppo":
        n_steps = trial.suggest_categorical("n_steps", [32, 64, 128, 256])
        minibatches = trial.suggest_categorical("minibatches", [1, 2, 4, 8])
        return {
            "learning_rate": trial.suggest_float("learning_rate", 1e-5, 1e-2, log=True),
            "n_steps": n_steps,
            "batch_size": max(1, n_steps * num_envs // minibatches),
            "n_epochs": trial.suggest_categorical("n_epochs", [3, 5, 10, 20]),
            "gamma": gamma,
            "gae_lambda": trial.suggest_categorical("gae_lambda", [0.8, 0.9, 0.95, 0.98]),
            "clip_range": trial.suggest_categorical("clip_range", [0.1, 0.2, 0.3]),
            "ent_coef": trial.suggest_float("ent_coef", 1e-8, 1e-2, log=True),
            "policy_kwargs": {
                "net_arch": net,
                "activation_fn": trial.suggest_categorical("activation_fn", ["tanh", "relu"]),
            },
        }
    ent = trial.suggest_categorical("ent_coef", ["auto", "0.001", "0.01", "0.1"])
    return {
        "learning_rate": trial.suggest_float("learning_rate", 1e-5, 3e-3, log=True),
        "batch_size": trial.suggest_categorical("batch_size", [64, 128, 256, 512]),
        "gamma": gamma,
        "tau": trial.suggest_categorical("tau", [0.005, 0.01, 0.02]),
        "learning_starts": trial.suggest_categorical("learning_starts", [100, 1000]),
        "gradient_steps": trial.suggest_categorical("gradient_steps", [1, 2, 4]),
        "ent_coef": ent if ent == "auto" else float(ent),
        "policy_kwargs": {"net_arch": net},
    }


def trial_config(base: Any, hp: dict[str, Any], total_steps: int) -> Any:
    """``base`` with ``hp`` merged into its hyperparameters (policy_kwargs merged too),
    validated by :class:`~agents.rl.TrainConfig`."""
    from agents.rl import TrainConfig

    data = base.to_dict()
    merged = {**data["hyperparameters"], **hp}
    merged["policy_kwargs"] = {
        **data["hyperparameters"].get("policy_kwargs", {}),
        **hp.get("policy_kwargs", {}),
    }
    data.update(hyperparameters=merged, total_steps=total_steps)
    return TrainConfig.from_dict(data)


def _check_int(name: str, value: Any, low: int, high: int, unit: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} {value!r}; allowed: an integer in [{low}, {high}] {unit}")


def _score(run: Path, cfg: Any, targets: list[Any], budget: int, seed: int) -> dict[str, float]:
    """Mean best score and f2 within ``budget`` calls of the run's policy on ``targets``."""
    from agents.baselines import PolicyRollout
    from agents.bench.runner import score_designer
    from agents.rl import load_model

    env_kwargs = {k: v for k, v in cfg.env.kwargs().items() if k != "device"}
    designer = PolicyRollout(
        load_model(run, device=cfg.device),
        env_kwargs,
        device=cfg.env.device,
        name=cfg.algo,
        repeat=True,
        stop_on_success=False,
    )
    rows = score_designer(designer, targets, seed=seed, budgets=(budget,), trains=True)
    scores = [r["score_at"][0] for r in rows]
    if any(s is None for s in scores):
        raise RuntimeError(f"a non-finite score on {scores.count(None)} target(s)")
    f2 = [r["f2_at"][0] for r in rows]
    return {
        "score": float(sum(scores) / len(scores)),
        "f2": float(sum(x for x in f2 if x is not None) / len(f2)),
    }


def tune(
    config: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    trials: int = 20,
    steps: int = 20_000,
    rungs: int = 4,
    n: int = 8,
    suite_seed: int = VALIDATION_SEED,
    budget: int | None = None,
    seed: int = 0,
    family: str | None = None,
    device: str | None = None,
    prune: bool = True,
    echo: Callable[[str], Any] = print,
) -> dict[str, Any]:
    """Run (or continue) the study of the module text and return ``tune.json``'s content.

    :param config: the base YAML training config (its algo, task, env and the
        hyperparameters not searched).
    :param out: the study folder (made if missing; a rerun continues its study).
    :param trials: trials to finish in all (complete or pruned), counting earlier runs.
    :param steps: environment steps per trial.
    :param rungs: parts of training, each followed by a score the pruner sees.
    :param n: held-out targets, ``benchmark_suite(family, n, suite_seed)``.
    :param suite_seed: seed of those targets (disjoint from the training generator's).
    :param budget: simulator calls per target (default one episode, ``1 + max_edits``).
    :param seed: seed of the sampler, of every trial's training and of the rollouts.
    :param family: task family trained and scored on (default the config's ``task``).
    :param device: override the config's ``device`` (``cpu``, ``cuda``, ``auto``).
    :param prune: stop unpromising trials with Optuna's median pruner.
    :param echo: where progress lines go.
    """
    from agents.bench.runner import method_seed
    from agents.rl import (
        DEVICES,
        MAX_EVAL_BUDGET,
        MAX_EVAL_TARGETS,
        load_config,
        train,
    )
    from nanoenv.files import atomic_write
    from nanoenv.tasks import TASK_FAMILIES, benchmark_suite

    optuna = import_optional("optuna", "tune", "nanoenv tune")
    _check_int("--trials", trials, 1, MAX_TRIALS, "trials")
    _check_int("--steps", steps, 1, MAX_STEPS, "environment steps")
    _check_int("--rungs", rungs, 1, min(steps, 100), "parts of training")
    _check_int("--n", n, 1, MAX_EVAL_TARGETS, "targets")
    if budget is not None:
        _check_int("--budget", budget, 1, MAX_EVAL_BUDGET, "simulator calls")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"--seed {seed!r}; allowed: an integer >= 0")
    if device is not None and device not in DEVICES:
        raise ValueError(f"--device {device!r}; allowed: {list(DEVICES)}")
    if family is not None and family not in TASK_FAMILIES:
        raise ValueError(f"--family {family!r}; allowed: {sorted(TASK_FAMILIES)}")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {str(out)!r} exists and is not a folder")
    if out.resolve() == Path(config).resolve():
        raise ValueError(f"--out {str(out)!r} is the --config file")
    base = load_config(config)
    base = base.replace(
        task=family,
        device=device,
        seed=seed,
        total_steps=steps,
        eval={**base.to_dict()["eval"], "at_end": False},
    )
    budget = budget if budget is not None else 1 + base.env.max_edits
    settings = {
        "config": str(Path(config).resolve()),
        "algo": base.algo,
        "task": base.task,
        "steps": steps,
        "rungs": rungs,
        "n": n,
        "suite_seed": suite_seed,
        "budget": budget,
        "seed": seed,
        "prune": prune,
    }
    targets = benchmark_suite(base.task, n, suite_seed)  # also checks the family's targets

    out.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():  # the heartbeat is "experimental" since Optuna 2.8
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        storage = optuna.storages.RDBStorage(
            f"sqlite:///{out.resolve() / 'study.db'}",
            heartbeat_interval=60,
            grace_period=180,
            heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(
                max_retry=1
            ),
        )
    pruner = (
        optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=0)
        if prune
        else optuna.pruners.NopPruner()
    )
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        study_name=STUDY_NAME,
        storage=storage,
        direction="maximize",
        pruner=pruner,
        load_if_exists=True,
    )
    earlier = study.user_attrs.get("settings")
    if earlier is None:
        study.set_user_attr("settings", settings)
    elif earlier != settings:
        diff = sorted(k for k in settings if earlier.get(k) != settings[k])
        raise ValueError(
            f"--out {str(out)!r} holds a study with other settings ({diff[0]}: "
            f"{earlier.get(diff[0])!r}, now {settings[diff[0]]!r}); use a new "
            "--out or the same settings"
        )
    # a resumed study must not replay the first trials' draws: seed by the trials so far
    study.sampler = optuna.samplers.TPESampler(seed=seed + len(study.trials))
    rollout_seed = method_seed(suite_seed, seed)
    parts = [steps * (i + 1) // rungs for i in range(rungs)]

    def objective(trial: Any) -> float:
        hp = sample_hyperparameters(trial, base.algo, base.num_envs)
        run = out / "trials" / f"trial_{trial.number:04d}"
        t0 = time.perf_counter()
        value = math.nan
        for k, total in enumerate(parts):
            cfg = trial_config(base, hp, total)
            if k == 0:
                train(cfg, run_dir=run, progress=False)
            else:
                train(cfg, resume=run, progress=False)
            result = _score(run, cfg, targets, budget, rollout_seed)
            value = result["score"]
            trial.set_user_attr("f2", result["f2"])
            trial.report(value, total)
            if trial.should_prune():
                echo(f"tune: trial {trial.number} pruned at {total} steps (score {value:.4g})")
                raise optuna.TrialPruned()
        trial.set_user_attr("train_eval_s", time.perf_counter() - t0)
        echo(
            f"tune: trial {trial.number} score {value:.4g} (mean f2 {result['f2']:.1f}) "
            f"in {time.perf_counter() - t0:.0f} s"
        )
        return value

    finished = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    done = len(study.get_trials(deepcopy=False, states=finished))
    if done:
        echo(f"tune: {done} trial(s) already finished in {out}")
    if done < trials:  # a failed trial (non-finite score) counts here, not in ``done``
        study.optimize(objective, n_trials=trials - done, catch=(RuntimeError,))
    return _write_summary(study, base, out, settings, optuna, atomic_write)


def _write_summary(
    study: Any,
    base: Any,
    out: Path,
    settings: dict[str, Any],
    optuna: Any,
    atomic_write: Callable[..., Any],
) -> dict[str, Any]:
    """``tune.json`` and, once a trial completed, ``best_config.yaml``."""
    import yaml

    rows = [
        {
            "number": t.number,
            "state": t.state.name,
            "value": t.value,
            "params": t.params,
            "f2": t.user_attrs.get("f2"),
            "intermediate": t.intermediate_values,
        }
        for t in study.get_trials(deepcopy=False)
    ]
    summary: dict[str, Any] = {"settings": settings, "trials": rows, "best": None}
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if complete:
        best = study.best_trial
        hp = sample_hyperparameters(optuna.trial.FixedTrial(best.params), base.algo, base.num_envs)
        cfg = trial_config(base, hp, settings["steps"]).to_dict()
        cfg["eval"]["at_end"] = True
        text = (
            f"# nanoenv tune: best of {len(complete)} complete trial(s), trial "
            f"{best.number}, mean best score {best.value:.6g} at {settings['budget']} "
            f"calls on benchmark_suite({base.task!r}, {settings['n']}, "
            f"{settings['suite_seed']})\n" + yaml.safe_dump(cfg, sort_keys=False)
        )
        atomic_write(out / "best_config.yaml", text)
        summary["best"] = {
            "number": best.number,
            "value": best.value,
            "params": best.params,
            "config": str(out / "best_config.yaml"),
        }
    atomic_write(out / "tune.json", json.dumps(summary, indent=1, default=str))
    return summary


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        required=True,
        metavar="FILE",
        help="base YAML training config (experiments/configs/)",
    )
    parser.add_argument("--trials", type=int, default=20, help="trials to finish in all")
    parser.add_argument("--steps", type=int, default=20_000, help="environment steps per trial")
    parser.add_argument(
        "--rungs", type=int, default=4, help="parts of training, each scored for the pruner"
    )
    parser.add_argument("--n", type=int, default=8, help="held-out targets")
    parser.add_argument(
        "--suite-seed",
        type=int,
        default=VALIDATION_SEED,
        help="seed of those targets (default: validation targets, not the "
        "evaluation suite's seed 1000)",
    )
    parser.add_argument(
        "--budget",
        type=int,
        default=None,
        help="simulator calls per target (default 1 + max_edits)",
    )
    parser.add_argument("--seed", type=int, default=0, help="sampler and training seed")
    parser.add_argument("--family", default=None, help="default: the config's task")
    parser.add_argument("--device", default=None, choices=["cpu", "cuda", "auto"])
    parser.add_argument("--no-prune", action="store_true", help="no median pruning")
    parser.add_argument(
        "--out",
        required=True,
        metavar="DIR",
        help="study folder (study.db, trials/, best_config.yaml); a rerun continues the study",
    )


def _run(args: argparse.Namespace) -> int:
    summary = tune(
        args.config,
        args.out,
        trials=args.trials,
        steps=args.steps,
        rungs=args.rungs,
        n=args.n,
        suite_seed=args.suite_seed,
        budget=args.budget,
        seed=args.seed,
        family=args.family,
        device=args.device,
        prune=not args.no_prune,
    )
    best = summary["best"]
    if best is None:
        print(f"tune: no trial completed; see {Path(args.out) / 'tune.json'}")
        return 1
    print(f"best: trial {best['number']}, mean best score {best['value']:.4g}; {best['params']}")
    print(f"wrote {best['config']} (train it: nanoenv train --config {best['config']})")
    return 0


TUNE = Subcommand(
    help="hyperparameter search for PPO/SAC with Optuna (rl-zoo style)",
    description="Sample PPO or SAC hyperparameters with Optuna's TPE sampler, train each "
    "trial from the base --config, score it on held-out targets with the bench pipeline "
    "(mean best score within --budget simulator calls), prune with the median pruner, "
    "keep the study in <out>/study.db (a rerun continues it) and write "
    "<out>/best_config.yaml. Needs the tune extra (optuna).",
    configure=_configure,
    run=_run,
)
