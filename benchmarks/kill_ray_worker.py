"""``kill -9`` of the Ray worker running an RL sweep job, mid-training (issue 16).

A one-job sweep (PPO on ``realisable``, 2 environments, 4096 steps, a checkpoint every
256 steps) runs on a local Ray instance (``sweep(..., backend="ray")``). Once two
checkpoints exist, the worker process executing the job (its process title is
``ray::nanoenv-sweep-job``) is sent SIGKILL. Ray retries the task
(:data:`agents.ray_backend.MAX_RETRIES`) and :func:`agents.sweep.run_job` resumes the
run from its newest checkpoint. The check FAILS (exit 1) unless the sweep finishes,
the run was resumed once from a checkpoint no older than the newest one present at
the kill, and the final model has 4096 steps.

Run from the repository root: ``OMP_NUM_THREADS=1 python benchmarks/kill_ray_worker.py``
(about 30 s on 2 cores; needs the ``ray`` extra and ``ps``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agents.rl import load_config, load_model  # noqa: E402
from agents.sweep import SweepSettings, make_jobs, sweep  # noqa: E402

TOTAL_STEPS = 4096


def _steps(path: Path) -> int:
    return int(path.stem.split("_")[1])


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="kill_ray_"))
    cfg = load_config(ROOT / "experiments" / "configs" / "ppo_realisable.yaml").to_dict()
    cfg.update(num_envs=2, checkpoint_every=256, total_steps=TOTAL_STEPS)
    cfg["hyperparameters"].update(n_steps=64, batch_size=64, n_epochs=2)
    (work / "configs").mkdir()
    (work / "configs" / "ppo_realisable.yaml").write_text(yaml.safe_dump(cfg))
    settings = SweepSettings(n=1, configs_dir=str(work / "configs"))
    jobs = make_jobs(["ppo"], ["realisable"], [0])
    out = work / "sweep"
    run = out / jobs[0].name / "run"
    at_kill: dict[str, object] = {}

    def kill_the_worker() -> None:
        ckpt = run / "checkpoints"
        while not (ckpt.is_dir() and len(list(ckpt.glob("model_*_steps.zip"))) >= 2):
            time.sleep(0.2)
        ps = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
        pids = [
            int(line.split()[0]) for line in ps.splitlines() if "ray::nanoenv-sweep-job" in line
        ]
        at_kill["newest"] = max(_steps(p) for p in ckpt.glob("model_*_steps.zip"))
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        at_kill["pids"] = pids

    threading.Thread(target=kill_the_worker, daemon=True).start()
    (results,) = sweep(jobs, settings, out, workers=2, progress=False, backend="ray")
    resumed = [json.loads(p.read_text()) for p in run.glob("logs/*/resume.json")]
    steps = load_model(run).num_timesteps
    ok = (
        results.is_file()
        and bool(at_kill.get("pids"))
        and len(resumed) == 1
        and resumed[0]["steps"] >= at_kill["newest"]
        and steps == TOTAL_STEPS
    )
    print(
        f"killed worker(s) {at_kill.get('pids')} with the newest checkpoint at "
        f"{at_kill.get('newest')} steps; resumed from {[r['steps'] for r in resumed]}; "
        f"final model {steps} steps; results.json {results.is_file()}: "
        f"{'PASS' if ok else 'FAIL'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
