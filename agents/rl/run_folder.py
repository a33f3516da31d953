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
from datetime import datetime, timezone
from pathlib import Path

from nanoenv.files import atomic_write

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


#: Environment steps and simulator calls a run's training has spent.
TRAINING_COST = "training_cost.json"


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
