"""Run folders: their names, their checkpoints, the final model and what training cost.

A run folder (never an existing one: runs are never overwritten)::

    runs/<algo>_<task>_<UTC timestamp>_s<seed>[_<n>]/
        config.yaml          the full, validated configuration
        meta.json            seed, package versions, git commit, start time, device
        checkpoints/         model_<steps>_steps.zip (+ SAC replay buffer .npz), atomic
        logs/<session>/      progress.csv (+ TensorBoard events when tensorboard is installed)
        final_model.zip      the trained model
        training_cost.json   environment steps and simulator calls spent training
        eval_<UTC timestamp>/  held-out evaluations
"""

from __future__ import annotations

import json
import os
import re
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
import yaml

from nanoenv.devices import resolve_device
from nanoenv.files import atomic_write
from nanoenv.provenance import git_commit, package_versions

__all__ = [
    "CHECKPOINT_PREFIX",
    "FINAL_MODEL",
    "TRAINING_COST",
    "last_checkpoint",
    "make_run_folder",
    "model_identity",
    "new_folder",
    "record_training_cost",
    "training_cost",
    "utc_stamp",
    "write_run_files",
]

#: The trained model of a run.
FINAL_MODEL = "final_model.zip"
#: File name prefix of checkpoints (``model_<steps>_steps.zip``).
CHECKPOINT_PREFIX = "model"


def utc_stamp() -> str:
    """Now, in UTC, as run folders name it (``20261129T205800Z``)."""
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def new_folder(parent: str | os.PathLike[str], name: str) -> Path:
    """Create and return ``parent/name`` or, if it exists, ``parent/name_<n>`` (never an
    existing folder)."""
    parent = Path(parent)
    parent.mkdir(parents=True, exist_ok=True)
    for n in range(10_000):
        path = parent / (name if n == 0 else f"{name}_{n}")
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path
    raise OSError(f"could not make a new folder {name!r} in {str(parent)!r}")


def make_run_folder(
    run_dir: str | os.PathLike[str] | None,
    parent: str | os.PathLike[str],
    prefix: str,
    seed: int,
) -> Path:
    """``run_dir`` (created; it must not hold anything: runs are never overwritten), or a
    new folder ``<parent>/<prefix>_<UTC timestamp>_s<seed>[_n]``."""
    if run_dir is None:
        return new_folder(parent, f"{prefix}_{utc_stamp()}_s{seed}")
    run = Path(run_dir)
    if run.exists() and any(run.iterdir()):
        raise ValueError(
            f"run folder {str(run)!r} exists and is not empty; runs are never overwritten"
        )
    run.mkdir(parents=True, exist_ok=True)
    return run


def last_checkpoint(run_dir: str | os.PathLike[str]) -> tuple[Path, Path | None, int] | None:
    """``(model, replay buffer or None, steps)`` of the latest checkpoint of a run.

    A checkpoint's replay buffer (``.npz``) is written before its model zip, so the
    latest model always comes with its buffer when one was saved; a crash between the
    two leaves the previous checkpoint as the latest."""
    folder = Path(run_dir) / "checkpoints"
    best: tuple[int, Path] | None = None
    for path in folder.glob(f"{CHECKPOINT_PREFIX}_*_steps.zip"):
        m = re.fullmatch(rf"{CHECKPOINT_PREFIX}_(\d+)_steps\.zip", path.name)
        if m and (best is None or int(m.group(1)) > best[0]):
            best = (int(m.group(1)), path)
    if best is None:
        return None
    steps, model = best
    for suffix in ("npz", "pkl"):  # a .pkl (older runs) is found so that it can be refused
        buffer = folder / f"{CHECKPOINT_PREFIX}_replay_buffer_{steps}_steps.{suffix}"
        if buffer.is_file():
            return model, buffer, steps
    return model, None, steps


def write_run_files(run_dir: Path, cfg: Any, notes: list[str]) -> None:
    """Write a new run's ``config.yaml`` and ``meta.json`` (atomically).

    :param run_dir: the run folder.
    :param cfg: the run's :class:`~agents.rl.config.TrainConfig` (anything with
        ``to_dict()``, ``seed``, ``algo``, ``task`` and ``device``).
    :param notes: lines for ``meta.json``'s ``notes``.
    """
    atomic_write(run_dir / "config.yaml", yaml.safe_dump(cfg.to_dict(), sort_keys=False))
    meta = {
        "seed": cfg.seed,
        "algo": cfg.algo,
        "task": cfg.task,
        "started_utc": utc_stamp(),
        "versions": package_versions(),
        "git_commit": git_commit(),
        "device": resolve_device(cfg.device),
        "torch_threads": torch.get_num_threads(),
        "command": sys.argv,
        "notes": notes,
    }
    atomic_write(run_dir / "meta.json", json.dumps(meta, indent=1, default=str))


#: Environment steps and simulator calls a run's training has spent.
TRAINING_COST = "training_cost.json"


def remove_stale_checkpoints(run: Path) -> None:
    """Delete the temporary files a killed checkpoint writer left (the run's lock is held)."""
    for stale in (run / "checkpoints").glob(".*.tmp"):
        stale.unlink(missing_ok=True)


def start_session(
    run: Path, cfg: Any, notes: list[str], resumed_from: Path | None, steps: int
) -> Path:
    """A new ``logs/session_*`` folder for one training session: a fresh run writes its run
    files (config, meta), a resumed one records where it resumed from in ``resume.json``.

    :param resumed_from: the checkpoint loaded, or ``None`` for a fresh run.
    :param steps: env steps already done (the loaded model's count).
    """
    logs = new_folder(run / "logs", "session")
    if resumed_from is None:
        write_run_files(run, cfg, notes)
    else:
        record = {
            "from": str(resumed_from),
            "steps": steps,
            "utc": utc_stamp(),
            "total_steps": cfg.total_steps,
        }
        atomic_write(logs / "resume.json", json.dumps(record, indent=1))
    return logs


def record_training_cost(run: Path, env_steps: int, sim_calls: int) -> None:
    """Add this session's simulator calls to the run's ``training_cost.json``."""
    path = run / TRAINING_COST
    before = json.loads(path.read_text())["sim_calls"] if path.is_file() else 0
    atomic_write(
        path, json.dumps({"env_steps": int(env_steps), "sim_calls": int(before) + int(sim_calls)})
    )


def training_cost(run: str | os.PathLike[str]) -> dict[str, int] | None:
    """``{"env_steps", "sim_calls"}`` the run's training has spent (``None`` if unknown)."""
    path = Path(run) / TRAINING_COST
    return json.loads(path.read_text()) if path.is_file() else None


def model_identity(run_dir: str | os.PathLike[str]) -> str:
    """A name of the model a run trains that survives copies, resumes and re-evaluations
    (algorithm, task, seed and the run's start time, from its ``meta.json``)."""
    path = Path(run_dir) / "meta.json"
    try:
        meta = json.loads(path.read_text())
        return f"{meta['algo']}:{meta['task']}:seed{meta['seed']}:{meta['started_utc']}"
    except (OSError, ValueError, KeyError, TypeError):
        return f"run:{Path(run_dir).resolve()}"
