"""Saving and loading calibrations: the JSON file format (:func:`save_constants`,
:func:`save_calibration`) and the shipped calibration (:func:`load_calibrated_constants`,
:func:`load_calibrated_model`).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from nanoenv.calibration.bounds import CONSTANT_BOUNDS
from nanoenv.calibration.correction import MechanismCorrection
from nanoenv.calibration.cross_validation import Calibration
from nanoenv.calibration.predict import CalibratedModel
from nanoenv.files import atomic_open
from nanoenv.kinetics.constants import (
    CALIBRATED_FILE,
    DEFAULT_CONSTANTS,
    SimulatorConstants,
    calibrated_constants,
    read_calibration,
)
from nanoenv.provenance import git_commit

_FORMAT_VERSION = 1


def save_constants(
    constants: SimulatorConstants,
    path: str | os.PathLike[str],
    *,
    metadata: Mapping[str, Any] | None = None,
    corrections: Mapping[str, Sequence[MechanismCorrection]] | None = None,
) -> Path:
    """Write constants (and optional per-dataset correction ensembles) as JSON, atomically.

    The file holds ``{"format": 1, "constants": {...}, "metadata": {...},
    "corrections": {dataset: [MechanismCorrection.config(), ...]}}``; ``metadata`` gets
    the date (UTC, ISO 8601), the git commit when available and the nanoenv version
    unless given.

    :returns: the path written.
    """
    from nanoenv import __version__

    meta: dict[str, Any] = {
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "git_commit": git_commit(mark_dirty=False),
        "nanoenv_version": __version__,
    }
    meta.update(dict(metadata or {}))
    payload = {
        "format": _FORMAT_VERSION,
        "constants": constants.to_dict(),
        "metadata": meta,
        "corrections": {
            name: [member.config() for member in members]
            for name, members in (corrections or {}).items()
            if members
        },
    }
    target = Path(path)
    with atomic_open(target, "w", name="calibration file") as handle:
        json.dump(payload, handle, indent=1, allow_nan=False)
        handle.write("\n")
    return target


def save_calibration(
    calibration: Calibration,
    path: str | os.PathLike[str],
    *,
    metadata: Mapping[str, Any] | None = None,
) -> Path:
    """Write a :class:`Calibration` with :func:`save_constants`; the metadata records the
    data sets, the fitted constants, the losses and the fit settings."""
    fit = calibration.constants_fit
    meta: dict[str, Any] = {
        "datasets": fit.datasets,
        "fitted_constants": fit.names,
        "constants_mse_initial": fit.initial_loss,
        "constants_mse_final": fit.final_loss,
        "constants_steps": len(fit.loss_history),
        "bounded": fit.bounded,
        "bounds": {
            n: [CONSTANT_BOUNDS[n].low, CONSTANT_BOUNDS[n].high, CONSTANT_BOUNDS[n].unit]
            for n in fit.names
        },
        "correction_mse_final": calibration.correction_losses,
        "correction_members": {k: len(v) for k, v in calibration.corrections.items()},
        "loss": "constants: masked mean squared error of the cumulative fraction released, "
        "every point weighing the same; corrections: see correction_options",
        "correction_options": calibration.correction_options,
        "seconds": round(calibration.seconds, 1),
    }
    meta.update(dict(metadata or {}))
    return save_constants(
        calibration.constants, path, metadata=meta, corrections=calibration.corrections
    )


def calibrated_constants_path() -> Path:
    """Where the shipped calibration lives in the source tree (for writing it)."""
    return Path(__file__).resolve().parents[1] / "kinetics" / CALIBRATED_FILE


def load_calibrated_constants(path: str | os.PathLike[str] | None = None) -> SimulatorConstants:
    """The fitted constants shipped with the package (or read from ``path``).

    Falls back to :data:`DEFAULT_CONSTANTS` with a warning when the package carries no
    ``calibrated_constants.json``.
    """
    if path is None:
        return calibrated_constants()
    payload = read_calibration(path)
    assert payload is not None  # a path is read or raises
    return SimulatorConstants.from_dict(payload["constants"])


def load_calibrated_model(
    dataset: str | None = None, path: str | os.PathLike[str] | None = None
) -> CalibratedModel:
    """Shipped (or ``path``'s) constants plus the correction fitted for ``dataset``, if any.

    :param dataset: ``"plai"`` or ``"liposome"``; ``None`` gives the constants alone.
    :param path: a JSON file written by :func:`save_constants` (default: the shipped one).
    :raises ValueError: if ``path`` cannot be read or is not a calibration file.
    """
    payload = read_calibration(path)
    if payload is None:
        warnings.warn(
            f"nanoenv/kinetics/{CALIBRATED_FILE} is missing; using the literature default "
            "constants without correction",
            stacklevel=2,
        )
        return CalibratedModel(DEFAULT_CONSTANTS)
    constants = SimulatorConstants.from_dict(payload["constants"])
    configs = payload.get("corrections") or {}
    members: list[MechanismCorrection] = []
    if dataset is not None and dataset in configs:
        entry = configs[dataset]
        for config in entry if isinstance(entry, list) else [entry]:
            member = MechanismCorrection.from_config(config)
            member.eval()
            members.append(member)
    return CalibratedModel(constants, tuple(members))
