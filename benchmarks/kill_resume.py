"""``kill -9`` during ``nanoenv train`` at random moments, then ``--resume`` (issue 16).

For each algorithm (PPO, SAC: tiny configs) and each trial, ``nanoenv train`` is started
in a fresh run folder, killed with SIGKILL at a random moment (a random delay of up to
two checkpoint intervals after a random one of its checkpoints appears), and resumed
with ``nanoenv train --resume`` to the configured total. A trial FAILS when:

* the resume does not exit 0 (or was needed but found no checkpoint after the kill while
  a complete checkpoint file exists);
* the resume started from fewer steps than the newest complete checkpoint on disk at the
  kill (more than one checkpoint interval of work lost: checkpoints are atomic, so the
  newest model zip on disk is complete and the work since it is under one interval);
* (SAC) the replay buffer was not restored: after the resume the buffer must hold the
  transitions of the checkpoint resumed from plus all those collected since. (SB3 calls
  callbacks between ``env.step`` and storing that step's transition, so a checkpoint at
  step S holds ``S / num_envs - 1`` transitions per environment: the one in flight is
  the only one a kill loses.);
* the final model does not have ``total_steps`` steps.

With ``--algos sweep`` the same is done to ``experiments/sweep.py`` running a PPO, a
SAC and a random-search job (one process, the whole process group killed a random
0-1.5 s after a random one of the RL jobs' checkpoints appeared): the rerun sweep must
finish every job, resuming each interrupted RL job from its newest checkpoint with its
replay buffer.

Run from the repository root::

    OMP_NUM_THREADS=1 python benchmarks/kill_resume.py --trials 20
    OMP_NUM_THREADS=1 python benchmarks/kill_resume.py --trials 3 --algos sac --out /tmp/k
    OMP_NUM_THREADS=1 python benchmarks/kill_resume.py --trials 10 --algos sweep

Writes ``<out>/kill_resume.json`` and ``.md`` (default ``benchmarks/results``).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nanoenv.files import atomic_write  # noqa: E402

#: Tiny configs: a few seconds of training, a checkpoint every ``checkpoint_every`` steps.
CONFIGS: dict[str, dict[str, Any]] = {
    "ppo": {
        "algo": "ppo",
        "task": "realisable",
        "total_steps": 4096,
        "num_envs": 2,
        "seed": 0,
        "env": {"max_edits": 5},
        "hyperparameters": {
            "n_steps": 32,
            "batch_size": 32,
            "n_epochs": 2,
            "policy_kwargs": {"net_arch": [32, 32]},
        },
        "checkpoint_every": 256,
        "eval": {"at_end": False},
    },
    "sac": {
        "algo": "sac",
        "task": "realisable",
        "total_steps": 768,
        "num_envs": 2,
        "seed": 0,
        "env": {"max_edits": 5},
        "hyperparameters": {
            "buffer_size": 100_000,
            "learning_starts": 16,
            "batch_size": 32,
            "policy_kwargs": {"net_arch": [32, 32]},
        },
        "checkpoint_every": 32,
        "eval": {"at_end": False},
    },
}


#: The sweep of ``--algos sweep``: the two RL configs above (shorter) and random search.
SWEEP_METHODS = ("ppo", "sac", "random")
SWEEP_STEPS = {"ppo": 1024, "sac": 384}


def _command(*args: str) -> list[str]:
    if args[0] == "sweep":
        return [
            sys.executable,
            str(ROOT / "experiments" / "sweep.py"),
            "--methods",
            *SWEEP_METHODS,
            "--families",
            "realisable",
            "--seeds",
            "0",
            "--workers",
            "1",
            "--n",
            "2",
            "--budget",
            "16",
            "--ppo-steps",
            str(SWEEP_STEPS["ppo"]),
            "--sac-steps",
            str(SWEEP_STEPS["sac"]),
            *args[1:],
            "--no-progress",
        ]
    return [sys.executable, "-m", "nanoenv", *args, "--no-progress"]


def _sweep_args(work: Path, out: Path) -> list[str]:
    return ["sweep", "--configs", str(work / "configs"), "--out", str(out)]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


def _checkpoint_steps(run: Path) -> list[int]:
    folder = run / "checkpoints"
    if not folder.is_dir():
        return []
    return sorted(int(p.name.split("_")[1]) for p in folder.glob("model_*_steps.zip"))


def _rl_runs(out: Path) -> dict[str, Path]:
    """RL job name -> its run folder, in a sweep folder."""
    return {m: out / f"{m}_realisable_s0" / "run" for m in ("ppo", "sac")}


def reference_run(algo: str, work: Path) -> dict[str, float]:
    """An uninterrupted run: the times (from process start) of its first checkpoint and its
    end, between which the kills are drawn."""
    config = work / f"{algo}.yaml"
    run = work / f"{algo}_reference"
    start = time.monotonic()
    log = (work / f"{algo}_reference.log").open("w")
    argv = _command("train", "--config", str(config), "--run-dir", str(run))
    proc = subprocess.Popen(argv, env=_env(), stdout=subprocess.DEVNULL, stderr=log)
    first = None
    while proc.poll() is None:
        if first is None and _checkpoint_steps(run):
            first = time.monotonic() - start
        time.sleep(0.05)
    end = time.monotonic() - start
    log.close()
    if proc.returncode != 0:
        text = (work / f"{algo}_reference.log").read_text()[-2000:]
        raise RuntimeError(f"reference {algo} run failed: {text}")
    return {"first_checkpoint_s": first if first is not None else 0.0, "end_s": end}


def _buffer_count(run: Path) -> int | None:
    """Transitions per environment in the newest checkpoint's replay buffer."""
    from agents.rl import last_checkpoint

    last = last_checkpoint(run) if run.is_dir() else None
    if last is None or last[1] is None:
        return None
    with np.load(last[1], allow_pickle=False) as b:
        return int(b["buffer_size"]) if bool(b["full"]) else int(b["pos"])


def sweep_trial(work: Path, index: int, rng: random.Random) -> dict[str, Any]:
    """Kill the sweep (its process group) at a random moment of its RL jobs, rerun it to
    the end, check. The moment adapts to the machine's speed: a random delay (0-1.5 s)
    after a random one of the RL jobs' checkpoints appears."""
    out = work / f"sweep_trial{index}"
    total = sum(SWEEP_STEPS[m] // CONFIGS[m]["checkpoint_every"] for m in SWEEP_STEPS)
    after, delay = rng.randint(1, total - 1), rng.uniform(0.0, 1.5)
    proc = subprocess.Popen(
        _command(*_sweep_args(work, out)),
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    start = time.monotonic()
    seen_at = None
    while proc.poll() is None:
        if seen_at is None and sum(len(_checkpoint_steps(r)) for r in _rl_runs(out).values()) >= (
            after
        ):
            seen_at = time.monotonic()
        if seen_at is not None and time.monotonic() - seen_at >= delay:
            break
        time.sleep(0.01)
    kill_at_s = time.monotonic() - start
    finished_before_kill = proc.poll() is not None
    if not finished_before_kill:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    runs = _rl_runs(out)
    at_kill = {m: _checkpoint_steps(r) for m, r in runs.items()}
    done_at_kill = {m: (r.parent / "results.json").is_file() for m, r in runs.items()}
    buffers = {"sac": _buffer_count(runs["sac"])}
    record: dict[str, Any] = {
        "trial": index,
        "kill_at_s": round(kill_at_s, 2),
        "after_checkpoint": after,
        "delay_s": round(delay, 2),
        "finished_before_kill": finished_before_kill,
        "checkpoints_at_kill": at_kill,
        "temporaries_left": len(list(out.rglob("*.tmp"))) if out.exists() else 0,
    }
    if finished_before_kill:
        record.update(outcome="finished before the kill", failed=False)
        return record
    rerun = subprocess.run(
        _command(*_sweep_args(work, out)), env=_env(), capture_output=True, text=True
    )
    record["resume_rc"] = rerun.returncode
    failed = rerun.returncode != 0
    if failed:
        record["resume_error"] = rerun.stderr.strip().splitlines()[-3:]
    jobs_done = all((out / f"{m}_realisable_s0" / "results.json").is_file() for m in SWEEP_METHODS)
    record["all_jobs_done"] = jobs_done
    failed = failed or not jobs_done
    lost = False
    for m, run in runs.items():
        if done_at_kill[m] or not at_kill[m]:
            continue  # finished already, or killed before its first checkpoint
        sessions = sorted(run.glob("logs/*/resume.json"))
        resumed = json.loads(sessions[-1].read_text())["steps"] if sessions else None
        record[f"{m}_resumed_from"] = resumed
        lost = lost or resumed is None or resumed < max(at_kill[m])
        if m == "sac" and resumed is not None:
            new = (SWEEP_STEPS["sac"] - resumed) // CONFIGS["sac"]["num_envs"]
            held = _buffer_count(run)
            record["buffer_restored"] = buffers["sac"] is not None and held == (
                buffers["sac"] + new
            )
            failed = failed or not record["buffer_restored"]
    record["lost_more_than_one_interval"] = lost
    record["failed"] = failed or lost
    record["outcome"] = "FAILED" if record["failed"] else "resumed"
    return record


def trial(
    algo: str, work: Path, index: int, rng: random.Random, interval_s: float
) -> dict[str, Any]:
    """Kill ``train`` a random delay (up to two checkpoint intervals of the reference run)
    after a random one of its checkpoints appears (adapts to the machine's load: a time
    from process start would often fall in the start-up under load), resume, check."""
    cfg = CONFIGS[algo]
    config = work / f"{algo}.yaml"
    run = work / f"{algo}_trial{index}"
    after = rng.randint(1, cfg["total_steps"] // cfg["checkpoint_every"] - 1)
    delay = rng.uniform(0.0, 2.0 * interval_s)
    argv = _command("train", "--config", str(config), "--run-dir", str(run))
    proc = subprocess.Popen(argv, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    start = time.monotonic()
    seen_at = None
    while proc.poll() is None:
        if seen_at is None and len(_checkpoint_steps(run)) >= after:
            seen_at = time.monotonic()
        if seen_at is not None and time.monotonic() - seen_at >= delay:
            break
        time.sleep(0.01)
    kill_at_s = time.monotonic() - start
    finished_before_kill = proc.poll() is not None
    if not finished_before_kill:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    on_disk = _checkpoint_steps(run)
    temporaries = len(list(run.rglob("*.tmp"))) if run.exists() else 0
    buffers_on_disk = (
        len(list((run / "checkpoints").glob("*_replay_buffer_*")))
        if (run / "checkpoints").is_dir()
        else 0
    )
    record: dict[str, Any] = {
        "trial": index,
        "kill_at_s": round(kill_at_s, 2),
        "after_checkpoint": after,
        "delay_s": round(delay, 3),
        "finished_before_kill": finished_before_kill,
        "checkpoints_at_kill": on_disk,
        "temporaries_left": temporaries,
        "buffers_on_disk": buffers_on_disk,
    }
    if finished_before_kill:
        record["outcome"] = "finished before the kill"
        record["failed"] = False
        return record
    at_checkpoint = None
    if algo == "sac" and on_disk:
        from agents.rl import last_checkpoint

        _, buffer, _ = last_checkpoint(run)
        if buffer is not None:
            with np.load(buffer, allow_pickle=False) as b:
                at_checkpoint = int(b["buffer_size"]) if bool(b["full"]) else int(b["pos"])
    record["buffer_at_checkpoint"] = at_checkpoint
    resume = subprocess.run(
        _command("train", "--resume", str(run)), env=_env(), capture_output=True, text=True
    )
    record["resume_rc"] = resume.returncode
    if resume.returncode != 0:
        no_checkpoint = any(
            text in resume.stderr
            for text in ("no checkpoint to resume from", "is not a run folder")
        )
        record["resume_error"] = resume.stderr.strip().splitlines()[-1:] if resume.stderr else []
        # killed before the first checkpoint: nothing to resume, at most one interval lost
        record["failed"] = not (no_checkpoint and not on_disk)
        record["outcome"] = (
            "killed before the first checkpoint" if not record["failed"] else ("resume failed")
        )
        return record
    sessions = sorted((run / "logs").glob("*/resume.json"))
    resumed = json.loads(sessions[-1].read_text())
    record["resumed_from"] = resumed["steps"]
    newest = max(on_disk) if on_disk else 0
    record["lost_more_than_one_interval"] = resumed["steps"] < newest
    from agents.rl import last_checkpoint, load_model

    model = load_model(run)
    record["final_steps"] = int(model.num_timesteps)
    ok = record["final_steps"] == cfg["total_steps"] and not record["lost_more_than_one_interval"]
    if algo == "sac":
        _, buffer, _ = last_checkpoint(run)
        with np.load(buffer, allow_pickle=False) as b:
            held = int(b["buffer_size"]) if bool(b["full"]) else int(b["pos"])
        new = (cfg["total_steps"] - resumed["steps"]) // cfg["num_envs"]
        record["buffer_transitions_per_env"] = held
        record["buffer_restored"] = at_checkpoint is not None and held == at_checkpoint + new
        ok = ok and record["buffer_restored"]
    record["failed"] = not ok
    record["outcome"] = "resumed" if ok else "FAILED"
    return record


def markdown(result: dict[str, Any]) -> str:
    what = (
        "a sweep (`experiments/sweep.py`), then the same sweep again"
        if "sweep" in result["summary"]
        else "`nanoenv train`, then `--resume`"
    )
    lines = [
        f"# kill -9 during {what}\n",
        f"Command: `{result['command']}`\n",
        "| algo | trials | killed mid-run | resumed OK | before 1st checkpoint | lost > 1 "
        "interval | buffer not restored | resume failed | temp files left at kill |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for algo, s in result["summary"].items():
        lines.append(
            f"| {algo} | {s['trials']} | {s['killed']} | {s['resumed_ok']} | "
            f"{s['before_first_checkpoint']} | {s['lost_more_than_one_interval']} | "
            f"{s['buffer_not_restored']} | {s['resume_failed']} | {s['temporaries_left']} |"
        )
    lines.append("")
    lines.append(
        "Temporary files left by a kill (a writer's `.name.<random>.tmp`; the "
        "target file itself is never truncated) are deleted when the run is resumed "
        "(under the run lock) or the sweep job rerun."
    )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20, help="trials per algorithm")
    parser.add_argument("--algos", default="ppo,sac", help="comma-separated: ppo,sac")
    parser.add_argument("--seed", type=int, default=0, help="seed of the kill times")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: temp)")
    args = parser.parse_args(argv)
    algos = [a for a in args.algos.split(",") if a]
    for algo in algos:
        if algo not in (*CONFIGS, "sweep"):
            parser.error(f"--algos names {algo!r}; allowed: {[*CONFIGS, 'sweep']}")
    if args.trials < 1:
        parser.error(f"--trials={args.trials} must be positive")
    rng = random.Random(args.seed)
    work = args.work or Path(tempfile.mkdtemp(prefix="kill_resume_"))
    work.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {
        "command": " ".join(["python", *sys.argv]),
        "configs": CONFIGS,
        "reference": {},
        "trials": {},
        "summary": {},
    }
    (work / "configs").mkdir(exist_ok=True)
    for name, cfg in CONFIGS.items():
        (work / "configs" / f"{name}_realisable.yaml").write_text(yaml.safe_dump(cfg))
    for algo in algos:
        if algo in CONFIGS:
            (work / f"{algo}.yaml").write_text(yaml.safe_dump(CONFIGS[algo]))
        ref = reference_run(algo, work) if algo != "sweep" else {}
        result["reference"][algo] = ref
        if ref:
            print(
                f"{algo}: reference run {ref['end_s']:.1f} s, first checkpoint at "
                f"{ref['first_checkpoint_s']:.1f} s",
                flush=True,
            )
        records = []
        for i in range(args.trials):
            if algo == "sweep":
                record = sweep_trial(work, i, rng)
            else:
                n = CONFIGS[algo]["total_steps"] // CONFIGS[algo]["checkpoint_every"]
                interval = (ref["end_s"] - ref["first_checkpoint_s"]) / max(n - 1, 1)
                record = trial(algo, work, i, rng, interval)
            kill_at = record["kill_at_s"]
            records.append(record)
            details = {
                k: record.get(k)
                for k in (
                    "checkpoints_at_kill",
                    "resumed_from",
                    "ppo_resumed_from",
                    "sac_resumed_from",
                    "buffer_at_checkpoint",
                    "buffer_transitions_per_env",
                    "buffer_restored",
                )
                if record.get(k) is not None
            }
            print(
                f"{algo} trial {i}: kill at {kill_at:.1f} s -> {record['outcome']} {details}",
                flush=True,
            )
        result["trials"][algo] = records
        killed = [r for r in records if not r["finished_before_kill"]]
        result["summary"][algo] = {
            "trials": len(records),
            "killed": len(killed),
            "resumed_ok": sum(r["outcome"] == "resumed" for r in killed),
            "before_first_checkpoint": sum(
                r["outcome"] == "killed before the first checkpoint" for r in killed
            ),
            "lost_more_than_one_interval": sum(
                bool(r.get("lost_more_than_one_interval")) for r in killed
            ),
            "buffer_not_restored": sum(r.get("buffer_restored") is False for r in killed),
            "resume_failed": sum(r.get("resume_rc", 0) != 0 and r["failed"] for r in killed),
            "temporaries_left": sum(r["temporaries_left"] > 0 for r in killed),
            "failed": sum(r["failed"] for r in records),
        }
    stem = "kill_resume" + ("_sweep" if algos == ["sweep"] else "")
    atomic_write(args.out / f"{stem}.json", json.dumps(result, indent=1))
    text = markdown(result)
    atomic_write(args.out / f"{stem}.md", text)
    print(text)
    return result


if __name__ == "__main__":
    main()
