"""Sweep scheduling overhead: the local process pool against a local Ray instance.

Runs the same ≥ 200 short jobs (``random`` search, a tiny budget, on several task
families × seeds; :mod:`agents.sweep`) through both backends of
:func:`agents.sweep.sweep` in one process, on fresh folders, and checks that every job's
result rows are identical. Per backend it reports:

* ``wall_s``: wall time of the sweep (the local pool's includes spawning its ``workers``
  processes and their imports; Ray's excludes ``ray.init``, reported apart as
  ``ray_init_s``, and includes Ray's own worker start-up);
* ``job_s``: the jobs' own time, the sum of each job's ``timings_s.total_s`` (measured
  inside :func:`~agents.sweep.run_job`);
* ``overhead_per_job_s = (workers × wall_s − job_s) / jobs``: the worker-seconds per job
  spent outside the jobs (scheduling, transfers, start-up, idle tails), i.e. what a job
  costs beyond its own work when the pool is kept busy.

Run: ``python benchmarks/bench_ray.py [--seeds 40] [--families ...] [--workers 2]
[--budget 4] [--n 2]`` (default: 5 families × 40 seeds = 200 jobs). Writes
``benchmarks/results/ray.json`` and ``ray.md``. Needs the ``ray`` extra.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agents.sweep import SweepSettings, make_jobs, sweep  # noqa: E402
from benchmarks.machine_info import cpu_model  # noqa: E402
from nanoenv.files import atomic_write  # noqa: E402

FAMILIES = ("realisable", "sustained", "ph_triggered", "thermal_triggered", "burst_then_sustained")


def _measure(files: list[Path], wall_s: float, workers: int) -> dict[str, Any]:
    job_s = sum(json.loads(f.read_text())["settings"]["timings_s"]["total_s"] for f in files)
    n = len(files)
    return {
        "wall_s": wall_s,
        "job_s": job_s,
        "jobs": n,
        "wall_per_job_s": wall_s / n,
        "job_per_job_s": job_s / n,
        "overhead_per_job_s": (workers * wall_s - job_s) / n,
    }


def markdown(result: dict[str, Any]) -> str:
    st = result["settings"]
    lines = [
        "# Sweep scheduling overhead: local process pool vs a local Ray instance",
        "",
        f"`{st['command']}` on {st['machine']['cpu']} ({st['machine']['cores']} cores, "
        f"shared), ray {st['machine']['ray']}, torch {st['machine']['torch']}.",
        "",
        f"{result['jobs']} jobs: `random` search, budget {st['budget']} simulator calls, "
        f"{st['n']} targets per job, families {', '.join(st['families'])} × "
        f"{len(st['seeds'])} seeds; {st['workers']} workers (processes / Ray CPUs), "
        "1 torch thread each. Overhead per job = (workers × wall − the jobs' own time) / "
        "jobs: worker-seconds per job spent outside `run_job`.",
        "",
        "| backend | wall (s) | wall / job (s) | job's own time / job (s) | overhead / job (s) |",
        "|---|---:|---:|---:|---:|",
    ]
    for name in ("local", "ray"):
        m = result[name]
        lines.append(
            f"| {name} | {m['wall_s']:.1f} | {m['wall_per_job_s']:.3f} | "
            f"{m['job_per_job_s']:.3f} | {m['overhead_per_job_s']:.3f} |"
        )
    lines += [
        "",
        f"Ray start-up (`ray.init`, not in the table): {result['ray_init_s']:.1f} s. "
        f"Identical result rows in every job: **{result['identical_rows']}** "
        f"({result['jobs']} of {result['jobs']} jobs compared).",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    import ray
    import torch

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--families", nargs="+", default=list(FAMILIES))
    parser.add_argument("--seeds", type=int, default=40, help="seeds 0 … N-1 per family")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--budget", type=int, default=4, help="simulator calls per target")
    parser.add_argument("--n", type=int, default=2, help="targets per job")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = parser.parse_args(argv)

    settings = SweepSettings(
        n=args.n, budget=args.budget, threads=1, configs_dir=str(ROOT / "experiments" / "configs")
    )
    jobs = make_jobs(["random"], args.families, list(range(args.seeds)))
    work = Path(tempfile.mkdtemp(prefix="bench_ray_"))
    try:
        t0 = time.perf_counter()
        local = sweep(jobs, settings, work / "local", workers=args.workers, progress=False)
        local_wall = time.perf_counter() - t0

        t0 = time.perf_counter()
        ray.init(
            address="local",
            num_cpus=args.workers,
            include_dashboard=False,
            log_to_driver=False,
            runtime_env={"env_vars": {"PYTHONPATH": str(ROOT)}},
        )
        ray_init = time.perf_counter() - t0
        try:
            t0 = time.perf_counter()
            on_ray = sweep(
                jobs, settings, work / "ray", workers=args.workers, progress=False, backend="ray"
            )
            ray_wall = time.perf_counter() - t0
        finally:
            ray.shutdown()
        rows = [[json.loads(f.read_text())["rows"] for f in files] for files in (local, on_ray)]
        command = "python benchmarks/bench_ray.py " + " ".join(
            argv if argv is not None else sys.argv[1:]
        )
        machine = {
            "cpu": cpu_model(),
            "cores": os.cpu_count(),
            "torch": torch.__version__,
            "ray": ray.__version__,
            "python": platform.python_version(),
        }
        result = {
            "settings": {
                "command": command.strip(),
                "families": args.families,
                "seeds": list(range(args.seeds)),
                "workers": args.workers,
                "budget": args.budget,
                "n": args.n,
                "machine": machine,
            },
            "jobs": len(jobs),
            "identical_rows": rows[0] == rows[1],
            "ray_init_s": ray_init,
            "local": _measure(local, local_wall, args.workers),
            "ray": _measure(on_ray, ray_wall, args.workers),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    out = Path(args.out)
    atomic_write(out / "ray.json", json.dumps(result, indent=1))
    atomic_write(out / "ray.md", markdown(result))
    print(markdown(result))
    if not result["identical_rows"]:
        raise SystemExit("bench_ray: the backends' result rows differ")
    return result


if __name__ == "__main__":
    main()
