"""Environment throughput: env steps per second of the single, Sync-vector and native envs.

What it measures (random actions drawn and seeded before timing, every env seeded,
autoresets included, median of repeats after a warm-up):

1. the single environment through ``gymnasium.make("nanoenv/FormulationDesign-v0")``
   (Gymnasium's passive checker and order-enforcing wrappers) and the unwrapped
   :class:`~nanoenv.envs.FormulationDesignEnv` (the difference is the wrapper
   overhead), resetting whenever an episode ends;
2. Gymnasium's ``SyncVectorEnv`` of single environments (same-step autoreset) at 8,
   64 and 256 environments;
3. the native :class:`~nanoenv.envs.FormulationDesignVectorEnv` (one simulator call per
   step for all environments) at 64 … 65536 environments on CPU, and on CUDA when
   available with numpy and with torch outputs (``return_torch=True``);
4. the stable-baselines3 adapter (``step_async`` + ``step_wait``) at 64 and 4096;

for the ``realisable`` and the ``sustained`` task (autoresets draw new targets, and
drawing a realisable target costs simulator calls). Hidden-design targets are drawn
ahead in per-environment pools of ``min(16, 2048 // N)`` (:mod:`nanoenv.envs.target_pool`):
the untimed first reset fills them, so at ``N < 2048`` a 20-step window sees fewer
refills than a long run and overstates its amortised rate (``bench_training.py`` and
long runs include the refills).

Env steps/s = environments × vector steps/s. Episodes last at most ``max_edits = 20``
edits, so every timed window of the vector envs is 20 vector steps long: each
environment ends (and autoresets) about as often in the window as in a long run.
Ratios compare rows measured in the same run. ``SyncVectorEnv`` steps one Python
environment after another, so its cost per env step does not depend on the number of
environments (the run checks it: 64 vs 256); the ratio at 4096 environments uses the
per-env Sync throughput measured at 256 environments (64 with ``--quick``), and the
Markdown says so.

Run: ``python benchmarks/bench_env.py [--quick] [--device cpu|cuda|auto]
[--task realisable|sustained|all|<family>] [--out DIR]`` (default task: ``realisable``
with ``--quick``, ``all`` otherwise). Writes ``env.json`` and ``env.md`` to ``DIR``
(``env_quick.*`` with ``--quick``; default ``benchmarks/results``).
``--profile`` instead prints the top cProfile entries (cumulative time) of native
vector steps at 4096 environments and writes nothing.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AutoresetMode, SyncVectorEnv

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import nanoenv  # noqa: E402, F401  (registers the gym ids)
from benchmarks.machine_info import cpu_model  # noqa: E402
from nanoenv.envs import FormulationDesignEnv, FormulationDesignVectorEnv  # noqa: E402
from nanoenv.envs.sb3 import SB3VecEnvAdapter  # noqa: E402
from nanoenv.files import atomic_write  # noqa: E402
from nanoenv.tasks import TASK_FAMILIES  # noqa: E402

ENV_ID = "nanoenv/FormulationDesign-v0"
SEED = 0
WINDOW = 20  # vector steps per timed window = default max_edits
#: Issue 13's goals: single env >= 3,000 env steps/s; native vector env at 4,096 envs
#: >= 250,000 on `realisable` and on `sustained` (1 torch thread, 2-core CPU).
GOAL_SINGLE = 3_000
GOAL_NATIVE_4096 = 250_000
GOAL_NATIVE_VS_SYNC = 50
BUSY_LOAD = 1.0  # 1-min load average before the run above which the report flags contention


# -- helpers (same conventions as bench_simulator.py) -----------------------------------
def machine() -> dict:
    cpu = cpu_model()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "numpy": np.__version__,
        "gymnasium": gym.__version__,
        "python": platform.python_version(),
        "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
    }


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def seed_everything(seed: int = SEED) -> None:
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002  (legacy global state, for completeness)
    torch.manual_seed(seed)


def random_actions(steps: int, n: int | None, dim: int) -> np.ndarray:
    shape = (steps, dim) if n is None else (steps, n, dim)
    return np.random.default_rng(SEED).uniform(-1.0, 1.0, shape).astype(np.float32)


def measure(
    step: Callable[[int], int],
    window: int,
    warmup: int,
    repeats: int,
    sync: Callable[[], None] = lambda: None,
) -> dict:
    """Time ``repeats`` windows of ``window`` calls of ``step(i)`` after ``warmup`` calls.

    ``step`` returns the number of episodes that ended; returns the median rate of
    calls per second, every window's rate and episode ends per call.
    """
    i = 0
    for _ in range(warmup):
        step(i)
        i += 1
    sync()
    rates, ends = [], 0
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(window):
            ends += step(i)
            i += 1
        sync()
        rates.append(window / (time.perf_counter() - start))
    return {
        "calls_per_s": statistics.median(rates),
        "window_rates": rates,
        "ends_per_call": ends / (window * repeats),
    }


# -- the environments ---------------------------------------------------------------------
def bench_single(task: str, wrapped: bool, steps: int, repeats: int) -> dict:
    seed_everything()
    start = time.perf_counter()
    env = gym.make(ENV_ID, task=task) if wrapped else FormulationDesignEnv(task=task)
    env.reset(seed=SEED)
    env.action_space.seed(SEED)
    setup = time.perf_counter() - start
    actions = random_actions(steps, None, env.action_space.shape[0])

    def step(i: int) -> int:
        _, _, terminated, truncated, _ = env.step(actions[i % steps])
        if terminated or truncated:
            env.reset()
            return 1
        return 0

    m = measure(step, steps, warmup=min(50, steps), repeats=repeats)
    env.close()
    return {**m, "env_steps_per_s": m["calls_per_s"], "setup_s": setup}


def bench_vector(make: Callable[[], object], n: int, repeats: int, device: torch.device) -> dict:
    """A Gymnasium vector env (Sync or native) or the SB3 adapter, ``n`` environments."""
    seed_everything()
    start = time.perf_counter()
    env = make()
    sb3 = isinstance(env, SB3VecEnvAdapter)
    if sb3:
        env.seed(SEED)
        env.reset()
        dim = env.action_space.shape[0]
    else:
        env.reset(seed=SEED)
        dim = env.single_action_space.shape[0]
    setup = time.perf_counter() - start
    actions = random_actions(WINDOW, n, dim)
    torch_out = getattr(env, "return_torch", False)
    if torch_out:
        actions = torch.as_tensor(actions, device=device)
    # episode ends are summed on the device for torch outputs (no sync per step)
    ends_on_device = torch.zeros((), dtype=torch.long, device=device) if torch_out else None

    def step(i: int) -> int:
        a = actions[i % WINDOW]
        if sb3:
            env.step_async(a)
            return int(env.step_wait()[2].sum())
        _, _, terminated, truncated, _ = env.step(a)
        if torch_out:
            ends_on_device.add_((terminated | truncated).sum())
            return 0
        return int(np.count_nonzero(terminated | truncated))

    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    m = measure(step, WINDOW, warmup=2, repeats=repeats, sync=sync)
    if torch_out:
        m["ends_per_call"] = int(ends_on_device) / (2 + WINDOW * repeats)  # warm-up too
    env.close()
    return {
        **m,
        "env_steps_per_s": n * m["calls_per_s"],
        "vector_steps_per_s": m["calls_per_s"],
        "ends_per_call": m["ends_per_call"] / n,
        "setup_s": setup,
    }


def native_repeats(n: int, quick: bool) -> int:
    """Timed windows of the native env at ``n`` envs (a window is 20 vector steps)."""
    if quick:
        return 3 if n <= 256 else 1
    return 5 if n <= 1024 else 3 if n <= 4096 else 2 if n <= 16384 else 1


def bench_task(task: str, quick: bool, devices: list[torch.device]) -> list[dict]:
    rows: list[dict] = []
    cpu = torch.device("cpu")

    def add(kind: str, n: int, m: dict, device: str = "cpu", outputs: str = "numpy") -> None:
        row = {
            "task": task,
            "env": kind,
            "device": device,
            "outputs": outputs,
            "num_envs": n,
            "env_steps_per_s": m["env_steps_per_s"],
            "vector_steps_per_s": m.get("vector_steps_per_s"),
            "window_env_steps_per_s": [r * n for r in m["window_rates"]],
            "episode_ends_per_env_step": m["ends_per_call"],
            "setup_s": m["setup_s"],
        }
        rows.append(row)
        print(
            f"{task:11s} {kind:20s} {device:4s} {outputs:5s} N={n:6d} "
            f"{row['env_steps_per_s']:12,.0f} env steps/s  "
            f"(ends/step {row['episode_ends_per_env_step']:.3f}, setup {m['setup_s']:.1f} s)",
            flush=True,
        )

    single_steps = 200 if quick else 500
    single_repeats = 3
    add("single (gym.make)", 1, bench_single(task, True, single_steps, single_repeats))
    add("single (unwrapped)", 1, bench_single(task, False, single_steps, single_repeats))

    for n in [8, 64] if quick else [8, 64, 256]:

        def make_sync(n: int = n) -> SyncVectorEnv:
            return SyncVectorEnv(
                [lambda: FormulationDesignEnv(task=task) for _ in range(n)],
                autoreset_mode=AutoresetMode.SAME_STEP,
            )

        repeats = 1 if quick and n > 8 else (2 if n > 64 else 3)
        add("SyncVectorEnv", n, bench_vector(make_sync, n, repeats, cpu))

    sizes = [64, 256, 1024, 4096] if quick else [64, 256, 1024, 4096, 16384, 65536]
    for device in devices:
        outputs = ["numpy", "torch"] if device.type == "cuda" else ["numpy"]
        for out in outputs:
            for n in sizes:

                def make_native(n: int = n, device: torch.device = device, out: str = out):
                    return FormulationDesignVectorEnv(
                        num_envs=n, task=task, device=device, return_torch=out == "torch"
                    )

                repeats = native_repeats(n, quick)
                add(
                    "native vector",
                    n,
                    bench_vector(make_native, n, repeats, device),
                    device.type,
                    out,
                )

    for n in [64, 4096]:

        def make_sb3(n: int = n) -> SB3VecEnvAdapter:
            return SB3VecEnvAdapter(
                FormulationDesignVectorEnv(num_envs=n, task=task, autoreset_mode="SameStep")
            )

        add("SB3 adapter", n, bench_vector(make_sb3, n, 1 if quick else 3, cpu))
    return rows


# -- ratios, goals, report ----------------------------------------------------------------
def summary(rows: list[dict], task: str) -> dict:
    def rate(kind: str, n: int, device: str = "cpu", outputs: str = "numpy") -> float | None:
        for r in rows:
            if (r["task"], r["env"], r["num_envs"], r["device"], r["outputs"]) == (
                task,
                kind,
                n,
                device,
                outputs,
            ):
                return r["env_steps_per_s"]
        return None

    single, unwrapped = rate("single (gym.make)", 1), rate("single (unwrapped)", 1)
    sync_sizes = sorted(
        r["num_envs"] for r in rows if r["task"] == task and r["env"] == "SyncVectorEnv"
    )
    sync_ref_n = sync_sizes[-1]
    sync_ref = rate("SyncVectorEnv", sync_ref_n)
    native = rate("native vector", 4096)
    same_n = {
        str(n): rate("native vector", n) / rate("SyncVectorEnv", n)
        for n in sync_sizes
        if rate("native vector", n) is not None
    }
    native_cpu = {
        r["num_envs"]: r["env_steps_per_s"]
        for r in rows
        if r["task"] == task and r["env"] == "native vector" and r["device"] == "cpu"
    }
    best_n = max(native_cpu, key=native_cpu.get)
    sb3 = rate("SB3 adapter", 4096)
    out = {
        "single_env_steps_per_s": single,
        "single_unwrapped_env_steps_per_s": unwrapped,
        "wrapper_overhead": 1.0 - single / unwrapped,
        "sync_env_steps_per_s": {str(n): rate("SyncVectorEnv", n) for n in sync_sizes},
        "sync_flatness": rate("SyncVectorEnv", sync_sizes[-1]) / rate("SyncVectorEnv", 64),
        "native_vs_sync_same_n": same_n,
        "native_4096_env_steps_per_s": native,
        "sync_reference_num_envs": sync_ref_n,
        "native_4096_vs_sync": native / sync_ref,
        "native_4096_vs_single": native / single,
        "native_best_cpu": {"num_envs": best_n, "env_steps_per_s": native_cpu[best_n]},
        "sb3_4096_vs_native_4096": sb3 / native,
    }
    ratio = out["native_4096_vs_sync"]
    out["goals"] = [
        {
            "goal": "single env (gym.make), env steps/s",
            "measured": single,
            "target": GOAL_SINGLE,
            "unit": "",
            "met": single >= GOAL_SINGLE,
        },
        {
            "goal": "native vector env, 4096 envs, CPU, env steps/s",
            "measured": native,
            "target": GOAL_NATIVE_4096,
            "unit": "",
            "met": native >= GOAL_NATIVE_4096,
        },
        {
            "goal": f"native(4096) / SyncVectorEnv (per-env throughput at {sync_ref_n} envs)",
            "measured": ratio,
            "target": GOAL_NATIVE_VS_SYNC,
            "unit": "×",
            "met": ratio >= GOAL_NATIVE_VS_SYNC,
        },
    ]
    if rate("native vector", 4096, "cuda", "torch") is not None:
        out["cuda_torch_4096_env_steps_per_s"] = rate("native vector", 4096, "cuda", "torch")
    return out


def _fmt(x: float) -> str:
    return f"{x:,.0f}" if x >= 100 else f"{x:,.1f}"


def markdown(result: dict) -> str:
    m = result["machine"]
    lines = [
        "# Environment benchmark" + (" (quick)" if result["quick"] else ""),
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, torch {m['torch']} ({m['threads']} threads), "
        f"gymnasium {m['gymnasium']}, Python {m['python']}, CUDA: {m['cuda'] or 'not available'}. "
        f"Load average before / after: {result['load_average_before']} / "
        f"{result['load_average_after']}. Total time {result['total_s']:.0f} s.",
        "",
    ]
    load = result["load_average_before"]
    if load and load[0] >= BUSY_LOAD:
        lines += [
            f"**The machine was busy** (1-min load average {load[0]} before the run on "
            f"{m['cores']} cores): other processes competed for the CPU, which slows torch's "
            "multi-threaded kernels much more than single-threaded Python; treat these "
            "numbers as lower bounds.",
            "",
        ]
    lines += [
        "| task | env | device | outputs | envs | env steps/s | vector steps/s "
        "| timed windows: min–max env steps/s | episode ends per env step |",
        "|---|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        vec = _fmt(r["vector_steps_per_s"]) if r["vector_steps_per_s"] is not None else "–"
        w = r["window_env_steps_per_s"]
        spread = f"{len(w)}: {_fmt(min(w))}–{_fmt(max(w))}" if len(w) > 1 else "1"
        lines.append(
            f"| {r['task']} | {r['env']} | {r['device']} | {r['outputs']} | {r['num_envs']} | "
            f"{_fmt(r['env_steps_per_s'])} | {vec} | {spread} | "
            f"{r['episode_ends_per_env_step']:.3f} |"
        )
    for task, s in result["summary"].items():
        ref = s["sync_reference_num_envs"]
        lines += [
            "",
            f"## {task}: ratios and goals",
            "",
            "| metric | measured | goal | met |",
            "|---|---:|---:|---|",
        ]
        for g in s["goals"]:
            unit = g["unit"]
            lines.append(
                f"| {g['goal']} | {_fmt(g['measured'])}{unit} | ≥ {g['target']:,}{unit} | "
                f"{'yes' if g['met'] else 'no'} |"
            )
        for n, ratio in s["native_vs_sync_same_n"].items():
            lines.append(f"| native / SyncVectorEnv, both at {n} envs | {ratio:,.1f}× | | |")
        lines += [
            f"| native(4096) / single env (gym.make) | {s['native_4096_vs_single']:,.1f}× | | |",
            f"| wrapper overhead of gym.make (1 − wrapped/unwrapped) | "
            f"{100 * s['wrapper_overhead']:.1f} % | | |",
            f"| SyncVectorEnv per-env flatness: rate({ref}) / rate(64) | "
            f"{s['sync_flatness']:.2f} | | |",
            f"| SB3 adapter / native, 4096 envs | {s['sb3_4096_vs_native_4096']:.2f} | | |",
            f"| best native CPU throughput | {_fmt(s['native_best_cpu']['env_steps_per_s'])} "
            f"at {s['native_best_cpu']['num_envs']} envs | | |",
        ]
        if "cuda_torch_4096_env_steps_per_s" in s:
            lines.append(
                f"| native, 4096 envs, CUDA, torch outputs | "
                f"{_fmt(s['cuda_torch_4096_env_steps_per_s'])} | | |"
            )
    ref = next(iter(result["summary"].values()))["sync_reference_num_envs"]
    lines += [
        "",
        "## How measured",
        "",
        "Random actions uniform in [−1, 1], drawn with a seeded generator before timing; "
        f"every env reset with seed {SEED} (vector envs: env i gets seed {SEED} + i). "
        "Autoresets are included: the single env is reset whenever an episode ends, the "
        "SyncVectorEnv and the SB3 adapter autoreset in the same step, the native vector "
        "env in the next step (its default; default `max_edits=20`, success at "
        "f2 ≥ 50); the last column is the share of env steps that ended an episode. "
        f"Single env: {result['config']['single_steps']} steps per window after 50 warm-up "
        f"steps. Vector envs: windows of {WINDOW} vector steps (one episode length, so each "
        "window holds its share of autoresets although all envs start together) after "
        "2 warm-up steps. Each row is the median over its timed windows (the table gives "
        "their number and spread; fewer windows at the largest sizes to bound the run time). "
        "Env steps/s = envs × vector steps/s; ratios use rows of this run. "
        "`SyncVectorEnv` steps one Python env after another, so its env steps/s do not "
        f"depend on the number of envs (flatness row above); **the ratio at 4096 envs uses "
        f"the per-env SyncVectorEnv throughput measured at {ref} envs, not a run of 4096 "
        "Sync envs** (that would take minutes); the same-N ratios are measured directly. "
        "Setup (construction + first reset) is not timed. Other processes on the machine "
        "(see load average) slow every row. `python benchmarks/bench_env.py` reproduces "
        "this file; `--quick` writes `env_quick.*`.",
    ]
    return "\n".join(lines) + "\n"


def profile(task: str, n: int = 4096, top: int = 10) -> str:
    """cProfile of ``WINDOW`` native vector steps at ``n`` envs (cumulative time)."""
    seed_everything()
    env = FormulationDesignVectorEnv(num_envs=n, task=task)
    env.reset(seed=SEED)
    actions = random_actions(WINDOW, n, env.single_action_space.shape[0])
    for a in actions[:2]:
        env.step(a)
    prof = cProfile.Profile()
    start = time.perf_counter()
    prof.enable()
    for a in actions:
        env.step(a)
    prof.disable()
    elapsed = time.perf_counter() - start
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(top)
    return (
        f"{task}: {WINDOW} native steps at {n} envs under cProfile, {elapsed:.2f} s "
        f"({1000 * elapsed / WINDOW:.1f} ms per step)\n{buf.getvalue()}"
    )


def compare_checks(task: str, n: int = 4096, repeats: int = 6) -> str:
    """Same-process A/B of the autoreset path (:func:`~nanoenv.envs.problem.place_rows`
    for ~6 % of ``n`` rows, what one step resets on average at ``max_edits = 20``): rows
    of validated targets rebuilt through ``from_validated`` (what the envs do) against
    the checking constructors (what they did before issue 13's speed work), alternated,
    median CPU time (``time.process_time``, less sensitive to other processes)."""
    from nanoenv.envs.problem import place_rows
    from nanoenv.kinetics import Drug, ReleaseConditions

    fast = {cls: cls.__dict__["from_validated"] for cls in (ReleaseConditions, Drug)}
    checked = classmethod(lambda cls, **values: cls(**values))
    env = FormulationDesignVectorEnv(num_envs=n, task=task)
    env.reset(seed=SEED)
    rows = list(range(0, n, 17))
    targets = [env.targets[i] for i in rows]
    z = np.zeros((len(rows), env.spec_.design_space.dim), dtype=np.float32)
    times: dict[str, list[float]] = {"checked": [], "from_validated": []}
    try:
        for _ in range(repeats):
            for mode in times:
                for cls, method in fast.items():
                    cls.from_validated = checked if mode == "checked" else method
                start = time.process_time()
                for _ in range(10):
                    place_rows(env.spec_, env._state, rows, targets, z)
                times[mode].append((time.process_time() - start) / 10)
    finally:
        for cls, method in fast.items():
            cls.from_validated = method
    ms = {k: 1000 * statistics.median(v) for k, v in times.items()}
    return (
        f"{task}: place_rows of {len(rows)} of {n} rows, CPU ms per call: checking "
        f"constructors {ms['checked']:.2f}, from_validated {ms['from_validated']:.2f}"
    )


def main(argv: list[str] | None = None) -> dict | None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter run (< 1 min)")
    parser.add_argument("--device", default="auto", choices=["cpu", "cuda", "auto"])
    parser.add_argument(
        "--task",
        default=None,
        choices=["all", *TASK_FAMILIES],
        help="task family, or all = realisable and sustained (default: realisable with "
        "--quick, all otherwise)",
    )
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    parser.add_argument(
        "--threads", type=int, default=None, help="torch.set_num_threads (default: torch's default)"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="print a cProfile of native steps at 4096 envs and exit",
    )
    parser.add_argument(
        "--compare-checks",
        action="store_true",
        help="print a same-process A/B of the reset path with and without "
        "re-validating targets, and exit",
    )
    args = parser.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    task = args.task or ("realisable" if args.quick else "all")
    tasks = ["realisable", "sustained"] if task == "all" else [task]
    if args.profile:
        for t in tasks:
            print(profile(t))
        return None
    if args.compare_checks:
        for t in tasks:
            print(compare_checks(t), flush=True)
        return None
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: CUDA is not available")
    devices = [torch.device("cpu")]
    if args.device in ("cuda", "auto") and torch.cuda.is_available():
        devices.append(torch.device("cuda"))

    start, load_before = time.perf_counter(), load_average()
    if load_before and load_before[0] >= BUSY_LOAD:
        print(
            f"warning: load average {load_before} before the run: other processes share "
            "the CPU and will slow every row",
            flush=True,
        )
    rows = []
    for t in tasks:
        rows += bench_task(t, args.quick, devices)
    result = {
        "quick": args.quick,
        "machine": machine(),
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "total_s": time.perf_counter() - start,
        "config": {
            "seed": SEED,
            "window_vector_steps": WINDOW,
            "single_steps": 200 if args.quick else 500,
            "tasks": tasks,
            "devices": [d.type for d in devices],
        },
        "rows": rows,
        "summary": {t: summary(rows, t) for t in tasks},
    }
    text = markdown(result)
    print(text)
    name = "env_quick" if args.quick else "env"
    atomic_write(Path(args.out) / f"{name}.json", json.dumps(result, indent=2))
    atomic_write(Path(args.out) / f"{name}.md", text)
    return result


if __name__ == "__main__":
    main()
