"""Environment throughput: steps per second of the single, Sync-vector, native-vector envs.

What it measures (random actions drawn before timing, autoresets included, median of
repeats after a warm-up):

1. the single environment through ``gymnasium.make`` (with Gymnasium's checker and
   order-enforcing wrappers) and unwrapped;
2. Gymnasium's ``SyncVectorEnv`` of single environments (same-step autoreset);
3. the native ``FormulationDesignVectorEnv`` from 64 to 65536 environments (one
   simulator call per step for all), on CPU and on CUDA when available;
4. the stable-baselines3 adapter.

Env steps per second = environments × vector steps per second. Ratios compare rows
measured in the same run. ``SyncVectorEnv`` costs the same per environment at any
size (one Python env after another), so its throughput at N is taken from the largest
size measured; the Markdown says which.

Run: ``python benchmarks/bench_env.py [--quick] [--device cpu|cuda|auto] [--task all] [--out DIR]``.
Writes ``env.json`` and ``env.md`` to ``DIR`` (default ``benchmarks/results``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AutoresetMode, SyncVectorEnv

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import nanoenv  # noqa: E402, F401
from benchmarks.bench_simulator import machine, write_atomic  # noqa: E402
from nanoenv.envs import FormulationDesignEnv, FormulationDesignVectorEnv  # noqa: E402
from nanoenv.envs.sb3 import SB3VecEnvAdapter  # noqa: E402

GOALS = {"single": 10_000, "native_4096": 200_000, "native_vs_sync": 50}


def _median_rate(run, repeats: int) -> float:
    run(1)  # warm-up
    return statistics.median(run(0) for _ in range(repeats))


def single_env(task: str, wrapped: bool, steps: int, repeats: int) -> float:
    env = (
        gym.make("nanoenv/FormulationDesign-v0", task=task)
        if wrapped
        else FormulationDesignEnv(task=task)
    )
    env.reset(seed=0)
    actions = np.random.default_rng(0).uniform(-1, 1, (steps, env.action_space.shape[0]))
    actions = actions.astype(np.float32)

    def run(_: int) -> float:
        start = time.perf_counter()
        for a in actions:
            _, _, terminated, truncated, _ = env.step(a)
            if terminated or truncated:
                env.reset()
        return steps / (time.perf_counter() - start)

    return _median_rate(run, repeats)


def vector_rate(env, steps: int, repeats: int, device: torch.device | None = None) -> float:
    """Env steps/s of a vector env (gymnasium or SB3 API) over ``steps`` vector steps."""
    n = env.num_envs
    dim = (
        env.single_action_space.shape[0]
        if hasattr(env, "single_action_space")
        else (env.action_space.shape[0])
    )
    actions = np.random.default_rng(0).uniform(-1, 1, (steps, n, dim)).astype(np.float32)
    if device is not None and device.type == "cuda":
        actions = torch.as_tensor(actions, device=device)
    is_sb3 = isinstance(env, SB3VecEnvAdapter)
    env.reset() if is_sb3 else env.reset(seed=0)

    def run(_: int) -> float:
        start = time.perf_counter()
        for a in actions:
            if is_sb3:
                env.step_async(a)
                env.step_wait()
            else:
                env.step(a)
        if device is not None and device.type == "cuda":
            torch.cuda.synchronize()
        return n * steps / (time.perf_counter() - start)

    return _median_rate(run, repeats)


def bench_task(task: str, quick: bool, devices: list[torch.device]) -> list[dict]:
    rows = []
    repeats = 3

    def add(kind: str, n: int, rate: float, device: str = "cpu") -> None:
        rows.append(
            {"task": task, "kind": kind, "num_envs": n, "device": device, "env_steps_per_s": rate}
        )
        print(f"{task:11s} {kind:22s} {device:4s} N={n:6d} {rate:14,.0f} env steps/s")

    add("single (gym.make)", 1, single_env(task, True, 200 if quick else 500, repeats))
    add("single (unwrapped)", 1, single_env(task, False, 200 if quick else 500, repeats))
    for n in [8, 64] if quick else [8, 64, 256]:
        sync = SyncVectorEnv(
            [lambda: FormulationDesignEnv(task=task) for _ in range(n)],
            autoreset_mode=AutoresetMode.SAME_STEP,
        )
        add("SyncVectorEnv", n, vector_rate(sync, 3 if n > 64 else 10, repeats))
    sizes = [64, 256, 1024, 4096] if quick else [64, 256, 1024, 4096, 16384, 65536]
    for device in devices:
        for n in sizes:
            env = FormulationDesignVectorEnv(
                num_envs=n, task=task, device=device, return_torch=device.type == "cuda"
            )
            steps = 20 if n <= 4096 else 5
            add("native vector", n, vector_rate(env, steps, repeats, device), device.type)
    for n in [64, 4096]:
        adapter = SB3VecEnvAdapter(FormulationDesignVectorEnv(num_envs=n, task=task))
        add("SB3 adapter", n, vector_rate(adapter, 20, repeats))
    return rows


def summary(rows: list[dict], task: str) -> dict:
    def rate(kind: str, n: int, device: str = "cpu") -> float:
        return next(
            r["env_steps_per_s"]
            for r in rows
            if r["task"] == task
            and r["kind"] == kind
            and r["num_envs"] == n
            and r["device"] == device
        )

    sync_sizes = sorted(
        r["num_envs"] for r in rows if r["task"] == task and r["kind"] == "SyncVectorEnv"
    )
    sync_largest = sync_sizes[-1]
    native = rate("native vector", 4096)
    return {
        "single_env_steps_per_s": rate("single (gym.make)", 1),
        "native_4096_env_steps_per_s": native,
        "sync_env_steps_per_s": rate("SyncVectorEnv", sync_largest),
        "sync_measured_at": sync_largest,
        "native_4096_vs_sync": native / rate("SyncVectorEnv", sync_largest),
        "native_4096_vs_single": native / rate("single (gym.make)", 1),
    }


def markdown(result: dict) -> str:
    lines = [
        "# Environment benchmark",
        "",
        f"Machine: {result['machine']}",
        "",
        "| task | env | device | envs | env steps/s |",
        "|---|---|---|---:|---:|",
    ]
    for r in result["rows"]:
        lines.append(
            f"| {r['task']} | {r['kind']} | {r['device']} | {r['num_envs']} | "
            f"{r['env_steps_per_s']:,.0f} |"
        )
    lines.append("")
    for task, s in result["summary"].items():
        lines += [
            f"**{task}**: single env {s['single_env_steps_per_s']:,.0f} steps/s "
            f"(goal ≥ {GOALS['single']:,}); native vector env at 4096 envs "
            f"{s['native_4096_env_steps_per_s']:,.0f} steps/s (goal ≥ {GOALS['native_4096']:,}), "
            f"{s['native_4096_vs_sync']:,.0f}× SyncVectorEnv (goal ≥ {GOALS['native_vs_sync']}×; "
            f"SyncVectorEnv throughput measured at {s['sync_measured_at']} envs, where its cost "
            f"per env step is already flat), {s['native_4096_vs_single']:,.0f}× the single env.",
            "",
        ]
    lines.append(
        "How measured: random actions drawn before timing; autoresets included (default "
        "`max_edits=20`, success at f2 ≥ 50); median of 3 repeats after a warm-up; "
        "`python benchmarks/bench_env.py` reproduces this file."
    )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter run (< 1 min per task)")
    parser.add_argument("--device", default="auto", choices=["cpu", "cuda", "auto"])
    parser.add_argument("--task", default="all", help="realisable, sustained or all")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = parser.parse_args(argv)
    tasks = ["realisable", "sustained"] if args.task == "all" else [args.task]
    devices = [torch.device("cpu")]
    if args.device in ("cuda", "auto") and torch.cuda.is_available():
        devices.append(torch.device("cuda"))
    rows = []
    for task in tasks:
        rows += bench_task(task, args.quick, devices)
    result = {
        "machine": machine(),
        "rows": rows,
        "summary": {task: summary(rows, task) for task in tasks},
        "cuda": "available" if len(devices) > 1 else "not available",
    }
    print(markdown(result))
    name = "env_quick" if args.quick else "env"
    write_atomic(Path(args.out) / f"{name}.json", json.dumps(result, indent=2))
    write_atomic(Path(args.out) / f"{name}.md", markdown(result))
    return result


if __name__ == "__main__":
    main()
