"""The GPU check of issue 13: simulator, native vector env and torch PPO, all on one CUDA
device, in under 8 minutes; writes ``benchmarks/results/gpu.md`` (and ``gpu.json``).

1. simulator throughput, float32, polymer particles in the three-segment ``tumour``
   medium, 32 time points, batch 65,536 … 1,048,576 (``simulate_release``, inference
   mode, CUDA synchronised before each clock read);
2. the native vector environment at 65,536 environments with torch outputs on the device
   (``return_torch=True``), random actions, autoresets included: ``sustained`` (analytic
   targets) and ``realisable`` (hidden-design targets, screened on the CPU);
3. the torch-native PPO (:mod:`agents.rl.ppo_torch`) on the device for a fixed number of
   updates at 16,384 and 65,536 environments (``sustained``): training env-steps/s.

Goals (issue 13): ≥ 5M env steps/s for the vector env, ≥ 1M training env-steps/s.
Run: ``bash benchmarks/gpu_check.sh`` (exit 2 with one line when no CUDA device exists).
The measuring functions take any device (the tests run them on the CPU, tiny).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(fn: Any, repeats: int, device: torch.device) -> float:
    """Seconds per call of ``fn`` (after one warm-up), the device synchronised."""
    fn()
    _sync(device)
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    _sync(device)
    return (time.perf_counter() - start) / repeats


def simulator(device: torch.device, sizes: list[int]) -> list[dict[str, Any]]:
    from nanoenv.kinetics import Drug, Formulation, ReleaseConditions, simulate_release

    rows = []
    times = torch.linspace(0.0, 720.0, 32, device=device)
    conditions, drug = ReleaseConditions.preset("tumour"), Drug.preset("doxorubicin")
    for n in sizes:
        try:
            f = Formulation.sample(
                n, generator=torch.Generator().manual_seed(0), device=device, dtype=torch.float32
            )
            with torch.inference_mode():
                s = _timed(
                    lambda f=f: simulate_release(f, times, conditions, drug, validate=False),
                    5,
                    device,
                )
            rows.append({"batch": n, "seconds_per_call": s, "profiles_per_s": n / s})
        except torch.OutOfMemoryError as exc:
            rows.append({"batch": n, "error": f"out of memory: {str(exc)[:120]}"})
        if device.type == "cuda":
            torch.cuda.empty_cache()
        print("simulator", rows[-1], flush=True)
    return rows


def vector_env(device: torch.device, n: int, task: str, steps: int) -> dict[str, Any]:
    from nanoenv.envs import FormulationDesignVectorEnv

    start = time.perf_counter()
    env = FormulationDesignVectorEnv(num_envs=n, task=task, device=device, return_torch=True)
    env.reset(seed=0)
    setup = time.perf_counter() - start
    gen = torch.Generator(device=device).manual_seed(0)
    actions = (
        torch.rand((steps, n, env.single_action_space.shape[0]), generator=gen, device=device) * 2
        - 1
    )
    ends = torch.zeros((), device=device, dtype=torch.long)
    env.step(actions[0])
    _sync(device)
    start = time.perf_counter()
    for a in actions:
        _, _, term, trunc, _ = env.step(a)
        ends += (term | trunc).sum()
    _sync(device)
    seconds = time.perf_counter() - start
    row = {
        "task": task,
        "num_envs": n,
        "vector_steps": steps,
        "seconds": seconds,
        "env_steps_per_s": n * steps / seconds,
        "setup_s": setup,
        "ends_per_env_step": int(ends) / (n * steps),
    }
    print("vector env", row, flush=True)
    return row


def ppo(device: torch.device, n: int, task: str, updates: int) -> dict[str, Any]:
    from agents.rl.ppo_torch import PPOTorchConfig, PPOTorchModel, make_env, train_ppo_torch

    cfg = PPOTorchConfig(n_steps=16, n_epochs=4, batch_size=n * 16 // 4)
    env = make_env(n, task, device, {})
    model = PPOTorchModel(
        env.single_observation_space.shape[0], env.single_action_space, cfg, device
    )
    per_update = n * cfg.n_steps
    train_ppo_torch(model, env, per_update)  # warm-up
    _sync(device)
    start = time.perf_counter()
    train_ppo_torch(model, env, model.num_timesteps + per_update * updates)
    _sync(device)
    seconds = time.perf_counter() - start
    row = {
        "task": task,
        "num_envs": n,
        "env_steps": per_update * updates,
        "seconds": seconds,
        "env_steps_per_s": per_update * updates / seconds,
    }
    print("ppo-torch", row, flush=True)
    return row


def markdown(result: dict[str, Any]) -> str:
    lines = [
        f"# GPU check ({result['gpu']}, torch {result['torch']}, {result['total_s']:.0f} s)",
        "",
        "`bash benchmarks/gpu_check.sh`",
        "",
        "## Simulator, float32, tumour medium, 32 points",
        "",
        "| batch | profiles/s |",
        "|---:|---:|",
    ]
    for r in result["simulator"]:
        value = f"{r['profiles_per_s']:,.0f}" if "profiles_per_s" in r else r["error"]
        lines.append(f"| {r['batch']:,} | {value} |")
    lines += [
        "",
        "## Native vector env, torch outputs on the device (goal ≥ 5M env steps/s)",
        "",
        "| task | envs | env steps/s | reset s | episode ends per env step |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in result["vector_env"]:
        lines.append(
            f"| {r['task']} | {r['num_envs']:,} | {r['env_steps_per_s']:,.0f} | "
            f"{r['setup_s']:.1f} | {r['ends_per_env_step']:.3f} |"
        )
    lines += [
        "",
        "## Torch PPO training (goal ≥ 1M env steps/s)",
        "",
        "| task | envs | training env steps/s |",
        "|---|---:|---:|",
    ]
    for r in result["ppo"]:
        lines.append(f"| {r['task']} | {r['num_envs']:,} | {r['env_steps_per_s']:,.0f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print(
            "gpu_check: no CUDA device is available (torch.cuda.is_available() is False); "
            "nothing measured, nothing written",
            file=sys.stderr,
        )
        return 2
    from nanoenv.files import atomic_write
    from nanoenv.threads import configure_threads

    configure_threads()
    device = torch.device("cuda")
    start = time.perf_counter()
    result: dict[str, Any] = {"gpu": torch.cuda.get_device_name(), "torch": torch.__version__}
    result["simulator"] = simulator(device, [65_536, 262_144, 1_048_576])
    result["vector_env"] = [
        vector_env(device, 65_536, "sustained", 40),
        vector_env(device, 65_536, "realisable", 10),
    ]
    result["ppo"] = [ppo(device, 16_384, "sustained", 4), ppo(device, 65_536, "sustained", 2)]
    result["total_s"] = time.perf_counter() - start
    text = markdown(result)
    print(text)
    atomic_write(Path(args.out) / "gpu.md", text)
    atomic_write(Path(args.out) / "gpu.json", json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
