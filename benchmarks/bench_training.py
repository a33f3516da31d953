"""Training throughput and learning of the torch-native PPO against stable-baselines3's PPO.

What it measures, in one process (so rows compare under the same load):

1. **training env-steps/s** (rollout collection + updates) of
   :mod:`agents.rl.ppo_torch` and of SB3's ``PPO("MlpPolicy")`` on the native vector
   environment (SB3 through :class:`~nanoenv.envs.SB3VecEnvAdapter` + ``VecMonitor``,
   as ``nanoenv train`` runs it) at 64, 1,024 and 4,096 environments, ``realisable``
   task; both with the same network, rollout length (``n_steps``), epochs and minibatch
   count (:data:`SPEED_HP`). One rollout + update of warm-up, then the timed updates.
2. **held-out normalised score at equal env steps**: both trained for the same number of
   env steps at 1,024 environments with the shipped config's hyperparameters
   (``experiments/configs/ppo_realisable.yaml``: network, γ, learning rate; rollout of
   :data:`SCORE_HP`), then scored by the bench pipeline
   (:func:`agents.bench.runner.score_designer` with
   :class:`~agents.baselines.PolicyRollout`) on nanoenv-bench-v1's frozen ``realisable``
   targets at one episode's budget (``1 + max_edits`` simulator calls), normalised by the
   suite's references; IQM with a 95 % stratified-bootstrap interval over targets.

Run: ``python benchmarks/bench_training.py [--quick] [--device cpu|cuda] [--out DIR]``.
Writes ``training.json``, ``training.md`` and ``training.png`` to ``DIR``
(``training_quick.*`` with ``--quick``; default ``benchmarks/results``). Torch threads
follow :mod:`nanoenv.threads` (1 unless ``OMP_NUM_THREADS`` is set).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_env import load_average, machine  # noqa: E402
from nanoenv.files import atomic_write  # noqa: E402

TASK = "realisable"
ENV = {"max_edits": 20, "max_step": 0.25, "success_f2": 50.0}
#: Throughput rows: same network, rollout length, epochs and 4 minibatches for both.
SPEED_HP = {
    "n_steps": 16,
    "n_epochs": 4,
    "learning_rate": 3e-4,
    "gamma": 0.95,
    "policy_kwargs": {"net_arch": [64, 64], "activation_fn": "tanh"},
}
MINIBATCHES = 4
#: Score rows: 1,024 environments, rollouts of 16 steps, 4 epochs of 4 minibatches, on top
#: of the shipped PPO config's network and learning settings.
SCORE_ENVS = 1024
SCORE_HP = {"n_steps": 16, "n_epochs": 4, "batch_size": SCORE_ENVS * 16 // MINIBATCHES}


def _config(algo: str, n: int, hp: dict[str, Any], steps: int, device: str, seed: int) -> Any:
    from agents.rl import TrainConfig

    return TrainConfig.from_dict(
        {
            "algo": algo,
            "task": TASK,
            "num_envs": n,
            "total_steps": steps,
            "seed": seed,
            "device": device,
            "env": {**ENV, "device": device},
            "hyperparameters": hp,
            "checkpoint_every": 0,
            "eval": {"at_end": False},
        }
    )


def _trainer(algo: str, cfg: Any) -> tuple[Any, Any]:
    """``(model, learn(steps))`` for ``cfg``: SB3's PPO or the torch PPO, fresh."""
    from agents.rl import make_vec_env
    from agents.rl.models import new_model as new_sb3_model

    if algo == "ppo":
        model = new_sb3_model(cfg, make_vec_env(cfg), cfg.device)

        def learn(steps: int) -> None:
            model.learn(total_timesteps=steps, reset_num_timesteps=False)

        return model, learn
    from agents.rl.ppo_torch import make_env, new_model, train_ppo_torch

    model = new_model(cfg, cfg.device)
    env = make_env(cfg.num_envs, cfg.task, model.device, cfg.env.kwargs())

    def learn(steps: int) -> None:
        # the first call resets the env with the seed; later ones continue its episodes,
        # as SB3's learn(reset_num_timesteps=False) does (no reseed, no new target pools)
        seed = cfg.seed if model.rollout is None else None
        train_ppo_torch(model, env, model.num_timesteps + steps, seed=seed)

    return model, learn


def speed(algo: str, n: int, updates: int, device: str) -> dict[str, Any]:
    """Training env-steps/s of ``algo`` at ``n`` environments over ``updates`` updates."""
    hp = {**SPEED_HP, "batch_size": n * SPEED_HP["n_steps"] // MINIBATCHES}
    per_update = n * SPEED_HP["n_steps"]
    cfg = _config(algo, n, hp, per_update * (updates + 1), device, 0)
    _, learn = _trainer(algo, cfg)
    learn(per_update)  # warm-up: one rollout + update
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    learn(per_update * updates)
    if device == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    steps = per_update * updates
    return {
        "algo": algo,
        "num_envs": n,
        "env_steps": steps,
        "seconds": seconds,
        "env_steps_per_s": steps / seconds,
    }


def score(algo: str, steps: int, device: str, seed: int = 0) -> dict[str, Any]:
    """Train ``algo`` for ``steps`` env steps at :data:`SCORE_ENVS` environments and score
    it on nanoenv-bench-v1's ``realisable`` targets (normalised, IQM + 95 % interval)."""
    from agents.baselines import PolicyRollout
    from agents.bench.runner import method_seed, score_designer
    from agents.bench.stats import iqm_ci
    from agents.rl import load_config
    from nanoenv.bench import load_suite

    shipped = load_config(ROOT / "experiments" / "configs" / "ppo_realisable.yaml")
    hp = {**shipped.hyperparameters, **SCORE_HP}
    cfg = _config(algo, SCORE_ENVS, hp, steps, device, seed)
    model, learn = _trainer(algo, cfg)
    start = time.perf_counter()
    learn(steps)
    train_s = time.perf_counter() - start
    suite = load_suite()
    targets, refs = suite.targets(TASK), suite.references(TASK)
    budget = 1 + ENV["max_edits"]
    designer = PolicyRollout(
        model, dict(ENV), device=device, name=algo, repeat=True, stop_on_success=False
    )
    rows = score_designer(
        designer,
        targets,
        seed=method_seed(suite.families[TASK]["seed"]),
        budgets=(budget,),
        references=refs,
        trains=True,
    )
    values = np.array([r["normalized_at"][0] for r in rows])
    mid, lo, hi = iqm_ci(values[:, None])
    return {
        "algo": algo,
        "env_steps": int(model.num_timesteps),
        "train_s": train_s,
        "targets": len(rows),
        "budget": budget,
        "iqm": mid,
        "ci95": [lo, hi],
        "mean_best_f2": float(np.mean([r["best_f2"] for r in rows])),
    }


def markdown(result: dict[str, Any]) -> str:
    m = result["machine"]
    lines = [
        "# Training throughput: torch-native PPO vs stable-baselines3 PPO",
        "",
        f"`python benchmarks/bench_training.py{' --quick' if result['quick'] else ''}"
        f"{' --device cuda' if result['device'] == 'cuda' else ''}` — {m['cpu']}, "
        f"{m['cores']} cores, torch {m['torch']} ({m['threads']} thread(s)), device "
        f"{result['device']}; load average {result['load_average_before']} → "
        f"{result['load_average_after']}; {result['total_s']:.0f} s.",
        "",
        f"Task `{TASK}`; same network ({SPEED_HP['policy_kwargs']['net_arch']}, tanh), "
        f"rollout {SPEED_HP['n_steps']} steps per environment, {SPEED_HP['n_epochs']} epochs "
        f"of {MINIBATCHES} minibatches; {result['updates']} timed updates after one warm-up.",
        "",
        "| envs | SB3 PPO env-steps/s | torch PPO env-steps/s | torch / SB3 |",
        "|---:|---:|---:|---:|",
    ]
    for n, pair in result["speedup"].items():
        lines.append(
            f"| {int(n):,} | {pair['ppo']:,.0f} | {pair['ppo-torch']:,.0f} | {pair['ratio']:.1f}× |"
        )
    s = result["score"]
    if s:
        lines += [
            "",
            f"Held-out normalised score at equal env steps ({s[0]['env_steps']:,} steps, "
            f"{SCORE_ENVS:,} envs, shipped `ppo_realisable.yaml` network and learning "
            f"settings, rollout {SCORE_HP['n_steps']}, {SCORE_HP['n_epochs']} epochs): "
            f"nanoenv-bench-v1 `{TASK}`, {s[0]['targets']} targets, budget {s[0]['budget']} "
            "simulator calls, IQM [95 % interval].",
            "",
            "| method | IQM normalised score | 95 % interval | mean best f2 | train s |",
            "|---|---:|---:|---:|---:|",
        ]
        for row in s:
            lines.append(
                f"| {row['algo']} | {row['iqm']:.3f} | [{row['ci95'][0]:.3f}, "
                f"{row['ci95'][1]:.3f}] | {row['mean_best_f2']:.1f} | "
                f"{row['train_s']:.0f} |"
            )
        lines.append(f"\nTorch PPO's IQM inside SB3's interval: {result['score_within_sb3_ci']}.")
    return "\n".join(lines) + "\n"


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from nanoenv.plotting import save_figure

    ns = list(result["speedup"])
    x = np.arange(len(ns))
    fig, ax = plt.subplots(figsize=(5, 3.2))
    for k, algo in enumerate(("ppo", "ppo-torch")):
        ax.bar(
            x + (k - 0.5) * 0.38,
            [result["speedup"][n][algo] for n in ns],
            0.38,
            label={"ppo": "SB3 PPO", "ppo-torch": "torch PPO"}[algo],
        )
    ax.set_xticks(x, [f"{int(n):,}" for n in ns])
    ax.set_yscale("log")
    ax.set_xlabel("environments")
    ax.set_ylabel("training env steps / s")
    ax.legend()
    fig.tight_layout()
    save_figure(fig, path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run (~2 min)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    parser.add_argument(
        "--score-steps",
        type=int,
        default=None,
        help="env steps of the score runs (default 32,768 with --quick, "
        "196,608 otherwise; 0 skips them)",
    )
    args = parser.parse_args(argv)
    from nanoenv.devices import resolve_device
    from nanoenv.threads import configure_threads

    try:
        resolve_device(args.device, "--device")
    except ValueError as exc:
        parser.error(str(exc))
    configure_threads()
    updates = 1 if args.quick else 3
    score_steps = args.score_steps
    if score_steps is None:
        score_steps = 32 * SCORE_ENVS if args.quick else 192 * SCORE_ENVS
    start, load_before = time.perf_counter(), load_average()
    rows = []
    for n in (64, 1024, 4096):
        for algo in ("ppo", "ppo-torch"):
            rows.append(speed(algo, n, updates, args.device))
            print(
                f"{algo:>9} {n:>5} envs: {rows[-1]['env_steps_per_s']:>10,.0f} env-steps/s",
                flush=True,
            )
    speedup = {}
    for n in (64, 1024, 4096):
        pair = {r["algo"]: r["env_steps_per_s"] for r in rows if r["num_envs"] == n}
        speedup[str(n)] = {**pair, "ratio": pair["ppo-torch"] / pair["ppo"]}
    scores = []
    if score_steps > 0:
        for algo in ("ppo", "ppo-torch"):
            scores.append(score(algo, score_steps, args.device))
            s = scores[-1]
            print(
                f"{algo:>9} score after {s['env_steps']:,} steps: IQM {s['iqm']:.3f} "
                f"[{s['ci95'][0]:.3f}, {s['ci95'][1]:.3f}]",
                flush=True,
            )
    result = {
        "quick": args.quick,
        "device": args.device,
        "machine": machine(),
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "total_s": time.perf_counter() - start,
        "updates": updates,
        "speed_hyperparameters": SPEED_HP,
        "rows": rows,
        "speedup": speedup,
        "score": scores,
        "score_within_sb3_ci": (
            bool(scores[0]["ci95"][0] <= scores[1]["iqm"] <= scores[0]["ci95"][1])
            if scores
            else None
        ),
    }
    text = markdown(result)
    print(text)
    name = "training_quick" if args.quick else "training"
    out = Path(args.out)
    atomic_write(out / f"{name}.json", json.dumps(result, indent=2))
    atomic_write(out / f"{name}.md", text)
    plot(result, out / f"{name}.png")
    return result


if __name__ == "__main__":
    main()
