"""Design targets: one :class:`Target`, and :class:`TargetBatch`, the targets of ``B``
environments as tensors.

A :class:`Target` is what an agent must reproduce: a time grid (hours), a cumulative
release curve on it, the medium schedule, the drug, the carrier family, the hidden design
it was built around (if any) and the patient (``therapeutic_window``). Task families
(:mod:`nanoenv.tasks`) draw them.

A :class:`TargetBatch` is built once from targets, matching every field by name
(:meth:`ReleaseConditions.stack <nanoenv.kinetics.ReleaseConditions.stack>`,
:meth:`Drug.stack <nanoenv.kinetics.Drug.stack>`, :meth:`PatientBatch.stack`), and is
what the simulator, the reward models and the observation read: ``times_h``,
``release``, ``conditions``, ``drug``, ``patient`` and :meth:`TargetBatch.condition_vector`.

Condition vector (float32, length ``3T + N_TASK_FEATURES``; the environments' observation
holds it)::

    [ target release (T) | pH on the grid (T) | temperature on the grid (T)
      | log10(horizon / 168 h) | five drug descriptors | three patient descriptors ]

pH enters as ``(pH − 7.4)/2``, temperature as ``(T − 37 °C)/5``; the drug descriptors are
``log10(MW / 300 g/mol)``, ``logP / 3``, ``(pKa − 7)/3``, the charge sign and
``log10(solubility / (mg/mL))/3``; the patient descriptors ``ln(CL / 5 L/h)``,
``ln(V / 40 L)`` and ``log10(MTC / MEC) − 1`` (zeros for a target without a patient).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

import torch

from nanoenv.kinetics import Carrier, Drug, Formulation, ReleaseConditions

__all__ = [
    "MAX_SEGMENTS",
    "N_TASK_FEATURES",
    "Patient",
    "PatientBatch",
    "Target",
    "TargetBatch",
]

#: Medium schedules of a batch are padded to this many segments.
MAX_SEGMENTS = 4
#: Task features at the end of the condition vector: horizon (1), drug (5), patient (3).
N_TASK_FEATURES = 9


@dataclass(frozen=True)
class Patient:
    """A patient's one-compartment pharmacokinetics and the drug's therapeutic window.

    :param dose_mg: dose in the particles, mg.
    :param clearance_l_h: clearance, L/h.
    :param volume_l: volume of distribution, L.
    :param mec_mg_l: minimum effective concentration, mg/L.
    :param mtc_mg_l: minimum toxic concentration, mg/L.
    """

    dose_mg: float
    clearance_l_h: float
    volume_l: float
    mec_mg_l: float
    mtc_mg_l: float


@dataclass(frozen=True)
class Target:
    """A design target.

    :param family: name of the task family that drew it.
    :param times_h: ``(T,)`` float64 time grid, hours, starting at 0.
    :param release: ``(T,)`` float64 cumulative fraction released on the grid.
    :param conditions: release-medium schedule.
    :param drug: the drug to deliver.
    :param carrier: carrier family the design must use.
    :param formulation: the hidden formulation the target was built around (``realisable``,
        ``ph_triggered``, ``therapeutic_window``), else ``None``.
    :param patient: the patient (``therapeutic_window`` targets only).
    """

    family: str
    times_h: torch.Tensor
    release: torch.Tensor
    conditions: ReleaseConditions
    drug: Drug
    carrier: Carrier
    formulation: Formulation | None = None
    patient: Patient | None = None

    @property
    def horizon_h(self) -> float:
        return float(self.times_h[-1])


@dataclass(frozen=True)
class PatientBatch:
    """The patients of ``B`` targets, one ``(B,)`` tensor per :class:`Patient` field
    (same names and units); rows whose target has no patient hold zeros and
    ``present = False``."""

    dose_mg: torch.Tensor
    clearance_l_h: torch.Tensor
    volume_l: torch.Tensor
    mec_mg_l: torch.Tensor
    mtc_mg_l: torch.Tensor
    present: torch.Tensor

    @classmethod
    def stack(cls, patients: Sequence[Patient | None]) -> PatientBatch | None:
        """Float64 patients of ``patients`` (by field name), ``None`` when none has one."""
        if all(p is None for p in patients):
            return None
        return cls._of(patients)

    @staticmethod
    def _of(patients: Sequence[Patient | None]) -> PatientBatch:
        names = [f.name for f in fields(Patient)]
        values = torch.tensor(
            [
                [0.0] * len(names) if p is None else [float(getattr(p, k)) for k in names]
                for p in patients
            ],
            dtype=torch.float64,
        )
        present = torch.tensor([p is not None for p in patients], dtype=torch.bool)
        return PatientBatch(**dict(zip(names, values.unbind(1), strict=True)), present=present)

    def features(self) -> torch.Tensor:
        """``(B, 3)`` descriptors ``ln(CL/5 L/h)``, ``ln(V/40 L)``, ``log10(MTC/MEC) − 1``;
        zeros for rows without a patient."""
        ok = self.present
        one = torch.ones_like(self.volume_l)
        out = torch.stack(
            [
                torch.log(torch.where(ok, self.clearance_l_h, 5.0 * one) / 5.0),
                torch.log(torch.where(ok, self.volume_l, 40.0 * one) / 40.0),
                torch.log10(torch.where(ok, self.mtc_mg_l / self.mec_mg_l, 10.0 * one)) - 1.0,
            ],
            dim=1,
        )
        return torch.where(ok[:, None], out, torch.zeros_like(out))


def _map_tensors(obj: Any, fn: Any) -> Any:
    """A copy of dataclass ``obj`` with ``fn`` applied to each tensor field (by name)."""
    values = {f.name: getattr(obj, f.name) for f in fields(obj)}
    return _rebuild(
        obj, {k: fn(v) if isinstance(v, torch.Tensor) else v for k, v in values.items()}
    )


def _rebuild(like: Any, values: dict[str, Any]) -> Any:
    """An instance of ``like``'s dataclass from ``values`` (rows of validated instances):
    schedules and drugs are not validated again (``from_validated``)."""
    build = getattr(type(like), "from_validated", type(like))
    return build(**values)


def _put(value: torch.Tensor, rows: torch.Tensor, new: torch.Tensor) -> torch.Tensor:
    """A copy of ``value`` holding ``new`` in ``rows``."""
    out = value.clone()
    out[rows.to(out.device)] = new.to(device=out.device, dtype=out.dtype)
    return out


def _merge_rows(base: Any, rows: torch.Tensor, other: Any) -> Any:
    """A copy of dataclass ``base`` whose tensor fields hold ``other``'s in ``rows``."""
    values = {f.name: getattr(base, f.name) for f in fields(base)}
    return _rebuild(
        base,
        {
            k: _put(v, rows, getattr(other, k)) if isinstance(v, torch.Tensor) else v
            for k, v in values.items()
        },
    )


def _drug_features(drug: Drug, like: torch.Tensor) -> torch.Tensor:
    """``(B, 5)`` drug descriptors of the condition vector (module docstring)."""
    d = {
        k: v.reshape(-1).expand(like.shape[0])
        for k, v in drug.tensors(like.device, like.dtype).items()
    }
    return torch.stack(
        [
            torch.log10(d["mw_g_mol"] / 300.0),
            d["logp"] / 3.0,
            (d["pka"] - 7.0) / 3.0,
            d["charge"],
            torch.log10(d["solubility_mg_ml"]) / 3.0,
        ],
        dim=1,
    )


@dataclass(frozen=True)
class TargetBatch:
    """The targets of ``B`` environments as tensors (what reward models receive).

    Build it with :meth:`from_targets` (or :meth:`from_tensors` for curves that have no
    :class:`Target`), then move it with :meth:`to`.

    :param times_h: ``(B, T)`` time grids, hours.
    :param release: ``(B, T)`` target cumulative fractions on the grids.
    :param conditions: ``(B, K)`` medium schedules.
    :param drug: one drug per row (``(B,)`` fields).
    :param patient: the patients (``therapeutic_window``), or ``None`` when no row has one.
    :param targets: the :class:`Target` of each row (empty when built from tensors).
    """

    times_h: torch.Tensor
    release: torch.Tensor
    conditions: ReleaseConditions
    drug: Drug
    patient: PatientBatch | None
    targets: tuple[Target, ...]
    # computed once in float64 and stored as float32 (the observation reads it every step)
    _condition: torch.Tensor = dataclasses.field(repr=False)

    @classmethod
    def from_targets(
        cls, targets: Sequence[Target], num_segments: int = MAX_SEGMENTS
    ) -> TargetBatch:
        """Float64 CPU batch of ``targets`` (schedules padded to ``num_segments``)."""
        if len(targets) == 0:
            raise ValueError("a TargetBatch needs at least one target; got none")
        shapes = {tuple(t.times_h.shape) for t in targets}
        if len(shapes) != 1 or len(next(iter(shapes))) != 1:
            raise ValueError(
                f"targets must share one time-grid length; got grid shapes {sorted(shapes)}"
            )
        return cls.from_tensors(
            times_h=torch.stack([t.times_h for t in targets]).to(torch.float64),
            release=torch.stack([t.release for t in targets]).to(torch.float64),
            conditions=ReleaseConditions.stack([t.conditions for t in targets], num_segments),
            drug=Drug.stack([t.drug for t in targets]),
            patient=PatientBatch.stack([t.patient for t in targets]),
            targets=tuple(targets),
        )

    @classmethod
    def from_tensors(
        cls,
        *,
        times_h: torch.Tensor,
        release: torch.Tensor,
        conditions: ReleaseConditions,
        drug: Drug,
        patient: PatientBatch | None = None,
        targets: Sequence[Target] = (),
    ) -> TargetBatch:
        """A batch from its fields (``(B, T)`` grids and curves, ``(B, K)`` schedules, one
        drug per row); the condition vector is computed here in float64."""
        times = times_h.to(torch.float64)
        medium = conditions.to(times.device, torch.float64)
        features = [
            release.to(torch.float64),
            (medium.value_at("ph", times) - 7.4) / 2.0,
            (medium.value_at("temperature_c", times) - 37.0) / 5.0,
            torch.log10(times[:, -1:] / 168.0),
            _drug_features(drug, times[:, 0]),
            patient.features().to(times)
            if patient is not None
            else torch.zeros(times.shape[0], 3, dtype=torch.float64, device=times.device),
        ]
        condition = torch.cat(features, dim=1).to(torch.float32)
        return cls(times_h, release, conditions, drug, patient, tuple(targets), condition)

    def __len__(self) -> int:
        return self.release.shape[0]

    def condition_vector(self) -> torch.Tensor:
        """``(B, 3T + N_TASK_FEATURES)`` description of each target (module docstring),
        float32 on the batch's device: what the observation holds, and what generative
        models are conditioned on."""
        return self._condition

    def to(
        self, device: torch.device | str | None = None, dtype: torch.dtype | None = None
    ) -> TargetBatch:
        """The batch with every floating tensor on ``device`` with ``dtype`` (the condition
        vector stays float32)."""

        def move(x: torch.Tensor) -> torch.Tensor:
            return x.to(device=device, dtype=dtype if x.is_floating_point() else x.dtype)

        return TargetBatch(
            move(self.times_h),
            move(self.release),
            self.conditions.to(device, dtype),
            self.drug.to(device, dtype),
            _map_tensors(self.patient, move) if self.patient is not None else None,
            self.targets,
            self._condition.to(device=device),
        )

    def select(self, index: torch.Tensor | Sequence[int]) -> TargetBatch:
        """The rows ``index`` (repeats allowed) as a new batch."""
        idx = torch.as_tensor(index, dtype=torch.long, device=self.release.device)
        take = lambda x: x[idx.to(x.device)]  # noqa: E731
        patient = self.patient
        if patient is not None:
            patient = _map_tensors(patient, take)
            patient = patient if bool(patient.present.any()) else None
        rows = idx.tolist()
        return TargetBatch(
            take(self.times_h),
            take(self.release),
            _map_tensors(self.conditions, take),
            _map_tensors(self.drug, take),
            patient,
            tuple(self.targets[i] for i in rows) if self.targets else (),
            take(self._condition),
        )

    def replace(self, rows: torch.Tensor | Sequence[int], other: TargetBatch) -> TargetBatch:
        """A new batch holding ``other``'s rows in ``rows`` (environments that reset)."""
        idx = torch.as_tensor(rows, dtype=torch.long, device=self.release.device)
        if len(idx) != len(other):
            raise ValueError(f"replace got {len(idx)} rows for {len(other)} targets")
        patient = None
        if self.patient is not None or other.patient is not None:
            old = self.patient or _map_tensors(PatientBatch._of([None] * len(self)), self._like)
            new = other.patient or PatientBatch._of([None] * len(other))
            patient = _merge_rows(old, idx, new)
        targets = list(self.targets) if self.targets else [None] * len(self)
        for i, target in zip(idx.tolist(), other.targets or [None] * len(other), strict=True):
            targets[i] = target
        return TargetBatch(
            _put(self.times_h, idx, other.times_h),
            _put(self.release, idx, other.release),
            _merge_rows(self.conditions, idx, other.conditions),
            _merge_rows(self.drug, idx, other.drug),
            patient,
            tuple(targets) if all(t is not None for t in targets) else (),
            _put(self._condition, idx, other._condition),
        )

    def _like(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` on this batch's device, floating tensors in its dtype."""
        dtype = self.release.dtype if x.is_floating_point() else x.dtype
        return x.to(device=self.release.device, dtype=dtype)
