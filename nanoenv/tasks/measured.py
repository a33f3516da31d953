"""Families of measured release curves: ``dataset`` (PLAI) and ``dataset_liposome``."""

from __future__ import annotations

import functools
import warnings

import numpy as np
import torch

from nanoenv.design_space import DesignSpace
from nanoenv.kinetics import (
    Carrier,
    Drug,
    ReleaseConditions,
)
from nanoenv.kinetics.drug import DRUG_FIELDS
from nanoenv.tasks.base import Target, time_grid


@functools.cache
def _measured_curves(
    dataset: str,
) -> tuple[tuple[torch.Tensor, torch.Tensor, ReleaseConditions, Drug], ...]:
    """Every measured curve of ``dataset`` on a :func:`time_grid` to its last time point.

    Curves are linearly interpolated between measurements (release 0 at t = 0 when the
    first measurement is later).
    """
    from nanoenv.data import DataCleaningWarning, liposome_curves, plai_curves  # pandas on demand

    with warnings.catch_warnings():
        # the cleaning report is for people loading the data; a task just uses the curves
        warnings.simplefilter("ignore", DataCleaningWarning)
        curves = plai_curves() if dataset == "plai" else liposome_curves()
    out = []
    for i in range(len(curves.curve_ids)):
        mask = curves.mask[i]
        t, y = curves.times_h[i][mask].numpy(), curves.release[i][mask].numpy()
        if t[0] > 0:
            t, y = np.concatenate([[0.0], t]), np.concatenate([[0.0], y])
        grid = time_grid(float(t[-1]))
        release = torch.as_tensor(np.interp(grid.numpy(), t, y), dtype=torch.float64)
        drug = Drug(
            str(curves.groups[i]),
            **{k: float(getattr(curves.drug, k)[i]) for k in DRUG_FIELDS},
        )
        conditions = ReleaseConditions(
            **{
                k: getattr(curves.conditions, k)[i]
                for k in (
                    "start_h",
                    "ph",
                    "temperature_c",
                    "light_mw_cm2",
                    "magnetic_field_ka_m",
                    "enzyme_activity",
                )
            }
        )
        out.append((grid, release, conditions, drug))
    return tuple(out)


def measured_targets(dataset: str, carrier: Carrier | None = None) -> list[Target]:
    """Every measured curve of ``dataset`` (``"plai"`` or ``"liposome"``) as a
    :class:`Target` of the ``dataset`` / ``dataset_liposome`` family, in the data's order,
    on a :func:`time_grid` to its last time point (linear interpolation between
    measurements; release 0 at t = 0 when the first measurement is later)."""
    if dataset not in ("plai", "liposome"):
        raise ValueError(f"dataset={dataset!r}; allowed: 'plai', 'liposome'")
    family = "dataset" if dataset == "plai" else "dataset_liposome"
    if carrier is None:
        carrier = Carrier.POLYMER if dataset == "plai" else Carrier.LIPOSOME
    return [
        Target(family, t, release, conditions, drug, carrier)
        for t, release, conditions, drug in _measured_curves(dataset)
    ]


def dataset(rng: np.random.Generator, space: DesignSpace) -> Target:
    curves = _measured_curves("plai")
    t, release, conditions, drug = curves[int(rng.integers(len(curves)))]
    return Target("dataset", t, release, conditions, drug, space.carrier)


def dataset_liposome(rng: np.random.Generator, space: DesignSpace) -> Target:
    curves = _measured_curves("liposome")
    t, release, conditions, drug = curves[int(rng.integers(len(curves)))]
    return Target("dataset_liposome", t, release, conditions, drug, space.carrier)


def microparticle_space() -> DesignSpace:
    # the PLAI devices are nanoparticles (0.14 µm radius) to millimetre implants (1.2 mm),
    # with SA-V in mm⁻¹ (nanoenv.data.load_plai), loaded up to 60 %
    return DesignSpace.polymer_nanoparticle(
        radius_nm=(100.0, 2.0e6), polymer_mw_kda=(2.0, 150.0), drug_loading=(0.0, 0.6)
    )
