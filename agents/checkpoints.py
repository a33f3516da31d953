"""Checkpoints of stable-baselines3 models that are read without unpickling anything.

A run folder may come from anyone (a colleague, a download, a shared drive), so nothing
in it is ever unpickled. stable-baselines3's own ``Model.load`` decodes the
``:serialized:`` (cloudpickle) entries of a model zip's ``data`` and its
``save_replay_buffer`` writes a pickle: either runs arbitrary code when the file is
crafted. Here instead:

* **models** are rebuilt from the run's validated ``config.yaml`` (the caller builds a
  fresh model) and only the zip's safe parts are read: the JSON ``data`` for the step
  counters (plain numbers) and the ``*.pth`` tensors through
  ``torch.load(weights_only=True)``. The ``:serialized:`` entries that SB3 writes
  (spaces, schedules, buffer classes, ...: :data:`REBUILT_ENTRIES`) are rebuilt from the
  config and never decoded; a ``:serialized:`` entry under any other name is refused;
* **replay buffers** are ``.npz`` archives of plain arrays read with
  ``numpy.load(allow_pickle=False)`` (only the filled part is stored);
* a **run lock** (:func:`run_lock`, ``fcntl.flock`` on ``<run>/.lock``) keeps two
  processes from training one run folder at once.

Every problem is a one-line ``ValueError`` naming the file.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.lib.npyio import NpzFile

from nanoenv.files import atomic_open

__all__ = [
    "REBUILT_ENTRIES",
    "load_model_file",
    "load_replay_buffer",
    "prune_replay_buffers",
    "run_lock",
    "save_model",
    "save_replay_buffer",
]

#: ``:serialized:`` entries of an SB3 model zip that are rebuilt from the run's config
#: (or reset, like the last observation) and never decoded.
REBUILT_ENTRIES = frozenset(
    {
        "policy_class",
        "observation_space",
        "action_space",
        "lr_schedule",
        "clip_range",
        "clip_range_vf",
        "rollout_buffer_class",
        "replay_buffer_class",
        "train_freq",
        "action_noise",
        "_last_obs",
        "_last_episode_starts",
        "_last_original_obs",
        "ep_info_buffer",
        "ep_success_buffer",
        "env",
        "policy_kwargs",
    }
)
#: Counters taken from the zip's JSON ``data`` (non-negative integers).
RESTORED_COUNTERS = ("num_timesteps", "_n_updates", "_episode_num")
#: Arrays of a replay buffer file (``next_observations`` is absent with
#: ``optimize_memory_usage``).
BUFFER_ARRAYS = ("observations", "next_observations", "actions", "rewards", "dones", "timeouts")
_BUFFER_NAME = re.compile(r"(?P<prefix>.+)_replay_buffer_(?P<steps>\d+)_steps\.(?:npz|pkl)")


def save_model(model: Any, path: str | os.PathLike[str]) -> Path:
    """Write an SB3 model zip atomically (:func:`nanoenv.files.atomic_open`)."""
    with atomic_open(path, "wb", name="model file") as handle:
        model.save(handle)
    return Path(path)


def _read_zip(path: Path, device: str) -> tuple[dict[str, int], dict[str, Any]]:
    """``(counters, tensors by member name)`` of an SB3 model zip, read without pickle."""
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise ValueError(f"model file {str(path)!r} is not a readable zip archive: {exc}") from None
    with archive:
        names = archive.namelist()
        if "data" not in names:
            raise ValueError(f"model file {str(path)!r} has no 'data' entry (not an SB3 model)")
        try:
            data = json.loads(archive.read("data"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise ValueError(f"model file {str(path)!r}: 'data' is not JSON: {exc}") from None
        if not isinstance(data, dict):
            raise ValueError(f"model file {str(path)!r}: 'data' is not a JSON object")
        for key, value in data.items():
            if isinstance(value, dict) and ":serialized:" in value and key not in REBUILT_ENTRIES:
                raise ValueError(
                    f"model file {str(path)!r} holds a pickled (':serialized:') entry {key!r} "
                    "that nanoenv does not rebuild from the config; refusing to load it "
                    "(unpickling can run arbitrary code)"
                )
        counters: dict[str, int] = {}
        for key in RESTORED_COUNTERS:
            value = data.get(key, 0)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(
                    f"model file {str(path)!r}: {key}={value!r} must be a non-negative integer"
                )
            counters[key] = value
        tensors: dict[str, Any] = {}
        for name in names:
            if not name.endswith(".pth"):
                continue
            try:
                tensors[name[: -len(".pth")]] = torch.load(
                    io.BytesIO(archive.read(name)), map_location=device, weights_only=True
                )
            except Exception as exc:  # UnpicklingError, RuntimeError, ...: all one message
                raise ValueError(
                    f"model file {str(path)!r}: {name} is not a plain tensor file "
                    f"(weights_only load refused it: {' '.join(str(exc).split())[:200]})"
                ) from None
    return counters, tensors


def load_model_file(model: Any, path: str | os.PathLike[str]) -> Any:
    """Load the weights, optimiser states and step counters of the SB3 model zip ``path``
    into ``model``, a fresh model built from the run's validated config; returns it.

    :raises ValueError: the file is not an SB3 zip, holds a pickled entry that is not in
        :data:`REBUILT_ENTRIES`, holds anything but plain tensors in its ``.pth`` parts,
        or its networks do not match the config's (another ``net_arch``, algorithm or
        design space).
    """
    path = Path(path)
    device = str(model.device)
    counters, tensors = _read_zip(path, device)
    variables = tensors.pop("pytorch_variables", None) or {}
    state_names, variable_names = model._get_torch_save_params()
    if set(tensors) != set(state_names):
        raise ValueError(
            f"model file {str(path)!r} holds {sorted(tensors)}, but a {type(model).__name__} "
            f"with this config has {sorted(state_names)}"
        )
    if not isinstance(variables, dict) or set(variables) != set(variable_names):
        raise ValueError(
            f"model file {str(path)!r}: pytorch_variables holds "
            f"{sorted(variables) if isinstance(variables, dict) else variables!r}, "
            f"expected {sorted(variable_names)}"
        )
    try:
        model.set_parameters(tensors, exact_match=True, device=device)
        for name in variable_names:
            target = model
            for part in name.split("."):
                target = getattr(target, part)
            target.data.copy_(variables[name].data)
    except (RuntimeError, ValueError, KeyError, AttributeError, TypeError) as exc:
        raise ValueError(
            f"model file {str(path)!r} does not match the run's config: "
            f"{' '.join(str(exc).split())[:300]}"
        ) from None
    for key, value in counters.items():
        setattr(model, key, value)
    if getattr(model, "use_sde", False):
        model.policy.reset_noise()
    return model


def save_replay_buffer(buffer: Any, path: str | os.PathLike[str]) -> Path:
    """Write the filled part of an SB3 ``ReplayBuffer`` as an ``.npz`` of plain arrays
    (atomically)."""
    filled = buffer.buffer_size if buffer.full else buffer.pos
    arrays = {
        name: getattr(buffer, name)[:filled]
        for name in BUFFER_ARRAYS
        if getattr(buffer, name, None) is not None
    }
    arrays["pos"] = np.array(buffer.pos, dtype=np.int64)
    arrays["full"] = np.array(bool(buffer.full))
    arrays["buffer_size"] = np.array(buffer.buffer_size, dtype=np.int64)
    with atomic_open(path, "wb", name="replay buffer file") as handle:
        np.savez(handle, **arrays)
    return Path(path)


def load_replay_buffer(buffer: Any, path: str | os.PathLike[str]) -> int:
    """Fill the SB3 ``ReplayBuffer`` ``buffer`` (freshly built from the config) from an
    ``.npz`` written by :func:`save_replay_buffer`; returns the transitions restored.

    :raises ValueError: the file is a pickle or anything but such an archive, or its
        arrays do not fit the buffer (another ``buffer_size``, design space or number
        of environments).
    """
    path = Path(path)
    if path.suffix != ".npz":
        raise ValueError(
            f"replay buffer file {str(path)!r} is not an .npz archive; nanoenv never loads "
            "pickled replay buffers (unpickling can run arbitrary code)"
        )
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        reason = " ".join(str(exc).split())
        raise ValueError(
            f"replay buffer file {str(path)!r} cannot be read as plain arrays "
            f"(pickles are refused): {reason}"
        ) from None
    if not isinstance(archive, NpzFile):
        raise ValueError(f"replay buffer file {str(path)!r} is a single array, not an .npz archive")
    with archive:
        try:
            size = int(archive["buffer_size"])
            pos, full = int(archive["pos"]), bool(archive["full"])
            arrays = {name: archive[name] for name in BUFFER_ARRAYS if name in archive.files}
        except (KeyError, ValueError, TypeError) as exc:
            raise ValueError(f"replay buffer file {str(path)!r} lacks an entry: {exc}") from None
    if size != buffer.buffer_size:
        raise ValueError(
            f"replay buffer file {str(path)!r} holds a buffer of {size} slots; "
            f"the config's buffer has {buffer.buffer_size}"
        )
    if not 0 <= pos < size:
        raise ValueError(f"replay buffer file {str(path)!r}: pos={pos} outside [0, {size})")
    filled = size if full else pos
    for name in BUFFER_ARRAYS:
        target = getattr(buffer, name, None)
        if target is None:
            continue
        if name not in arrays:
            raise ValueError(f"replay buffer file {str(path)!r} has no {name!r} array")
        expected = (filled, *target.shape[1:])
        if arrays[name].shape != expected:
            raise ValueError(
                f"replay buffer file {str(path)!r}: {name} has shape "
                f"{arrays[name].shape}, expected {expected}"
            )
        if arrays[name].dtype.kind not in "fiub":
            raise ValueError(
                f"replay buffer file {str(path)!r}: {name} has dtype "
                f"{arrays[name].dtype}, expected numbers"
            )
        if arrays[name].dtype.kind == "f" and not np.isfinite(arrays[name]).all():
            raise ValueError(f"replay buffer file {str(path)!r}: {name} holds NaN or inf")
        target[:filled] = arrays[name]
    buffer.pos, buffer.full = pos, full
    return filled * buffer.n_envs


def _buffer_steps(path: Path) -> int | None:
    m = _BUFFER_NAME.fullmatch(path.name)
    return int(m.group("steps")) if m else None


def prune_replay_buffers(folder: str | os.PathLike[str], keep_steps: set[int]) -> list[Path]:
    """Delete the replay buffer files (``*_replay_buffer_<steps>_steps.npz`` or the old
    ``.pkl``) of ``folder`` whose step count is not in ``keep_steps``; returns them."""
    removed = []
    for path in Path(folder).glob("*_replay_buffer_*_steps.*"):
        steps = _buffer_steps(path)
        if steps is not None and steps not in keep_steps:
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


@contextlib.contextmanager
def run_lock(run: str | os.PathLike[str]) -> Iterator[None]:
    """Hold an exclusive lock on the run folder ``run`` (``fcntl.flock`` on
    ``<run>/.lock``) while the block runs; the lock goes with the process, so a killed
    run never leaves it held.

    :raises ValueError: another process holds the lock (a second ``train --resume`` of
        the same run, say).
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not on POSIX: no lock
        yield
        return
    lock_path = Path(run) / ".lock"
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ValueError(
                f"run folder {str(run)!r} is in use by another process (a training or resume "
                "of this run is running); wait for it to finish"
            ) from None
        yield
    finally:
        os.close(fd)
