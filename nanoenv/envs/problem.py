"""The formulation-design MDP as batched torch functions.

The single and the vector environment are thin shells around this module:
both hold a :class:`TargetTable` (the targets of their environments as
tensors), a :class:`DesignState` (the current designs), and call
:func:`evaluate`, :func:`observe` and :func:`edit`. Keeping one
implementation is what makes the native vector environment step-for-step
equal to ``N`` single environments.

Observation layout (all float32, length ``dim + 4T + 10``)::

    [ z (dim) | current release (T) | target release (T) | pH on the grid (T)
      | temperature on the grid (T) | task features (9) | edit budget used (1) ]

pH enters as ``(pH − 7.4)/2``, temperature as ``(T − 37 °C)/5``; the task
features are ``log10(horizon/168 h)``, five drug descriptors and three
patient descriptors (zeros when the target has no patient).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import torch

from nanoenv.design_space import DesignSpace
from nanoenv.kinetics import (
    DEFAULT_CONSTANTS,
    Drug,
    Formulation,
    ReleaseConditions,
    SimulatorConstants,
    simulate_release,
)
from nanoenv.kinetics.drug import DRUG_BOUNDS
from nanoenv.metrics import f2_similarity, rmse
from nanoenv.rewards import RewardModel, RewardOutput, TargetBatch, evaluate_reward
from nanoenv.tasks import N_TIMES, Target, TaskFamily

__all__ = [
    "CONDITION_SIZE",
    "MAX_SEGMENTS",
    "N_TASK_FEATURES",
    "DesignState",
    "Evaluation",
    "InitialDesigner",
    "ProblemSpec",
    "TargetTable",
    "condition_vectors",
    "drug_features",
    "evaluate",
    "observation_size",
    "observe",
    "schedule_on_grid",
]

#: Medium schedules are padded to this many segments inside the environments.
MAX_SEGMENTS = 4
N_TASK_FEATURES = 9
#: Length of :meth:`TargetTable.condition`: target release, pH and temperature on the
#: grid, task features.
CONDITION_SIZE = 3 * N_TIMES + N_TASK_FEATURES
_DRUG_FIELDS = tuple(DRUG_BOUNDS)  # Drug's numeric fields, in declaration order
_ROW_FIELDS = ("times_h", "release", "schedule", "features", "patient")
_CONDITION_FIELDS = tuple(f.name for f in dataclasses.fields(ReleaseConditions))
_PATIENT_FIELDS = ("dose_mg", "clearance_l_h", "volume_l", "mec_mg_l", "mtc_mg_l")


@runtime_checkable
class InitialDesigner(Protocol):
    """Proposes the first design of episodes (e.g. a generative prior's screened proposal).

    Called with the targets of the environments that reset and their generators; returns
    ``(z, sim_calls)``: ``(n, dim)`` normalised designs in ``[-1, 1]`` and ``(n,)`` integer
    simulator calls spent proposing them (screening candidates, for instance), which the
    environments add to ``info["sim_calls"]`` so budgets stay honest.
    """

    def __call__(
        self, targets: Sequence[Target], rngs: Sequence[np.random.Generator]
    ) -> tuple[np.ndarray, np.ndarray]: ...


@dataclass(frozen=True)
class ProblemSpec:
    """Everything fixed about an environment: task, space, reward and budget.

    :param family: the task family targets are drawn from.
    :param design_space: the editable parameters and their bounds.
    :param reward_model: scores curves against targets.
    :param max_edits: edits per episode before truncation.
    :param max_step: largest change of a normalised coordinate per edit.
    :param success_f2: f2 at or above which the episode ends in success.
    :param success_bonus: reward added on the successful edit.
    :param initial_design: ``"random"`` (uniform in the space), ``"center"``, or an
        :class:`InitialDesigner` (a callable proposing designs for the targets).
    :param constants: simulator constants.
    :param device: torch device of the simulation.
    """

    family: TaskFamily
    design_space: DesignSpace
    reward_model: RewardModel
    max_edits: int = 20
    max_step: float = 0.25
    success_f2: float = 50.0
    success_bonus: float = 1.0
    initial_design: str | InitialDesigner = "random"
    constants: SimulatorConstants = DEFAULT_CONSTANTS
    device: torch.device = torch.device("cpu")

    def __post_init__(self) -> None:
        if self.max_edits < 1:
            raise ValueError(f"max_edits={self.max_edits} must be a positive number of edits")
        if not 0 < self.max_step <= 2:
            raise ValueError(
                f"max_step={self.max_step} must be in (0, 2] (normalised coordinate units)"
            )
        if not math.isfinite(self.success_f2):
            raise ValueError(f"success_f2={self.success_f2} must be a finite f2 (50: similar "
                             "curves; above 100: never reached)")  # fmt: skip
        if not math.isfinite(self.success_bonus):
            raise ValueError(f"success_bonus={self.success_bonus} must be a finite reward "
                             "(reward units)")  # fmt: skip
        if not callable(self.initial_design) and self.initial_design not in ("random", "center"):
            raise ValueError(
                f"initial_design={self.initial_design!r}; allowed: 'random', 'center' or a "
                "callable (targets, rngs) -> (z, sim_calls)"
            )

    def initial_z(self, rng: np.random.Generator) -> np.ndarray:
        """The first design of an episode, drawn with the environment's generator
        (``"random"`` or ``"center"``; see :meth:`initial_designs` for proposers)."""
        if self.initial_design == "center":
            return np.zeros(self.design_space.dim)
        return rng.uniform(-1.0, 1.0, size=self.design_space.dim)

    def initial_designs(
        self, targets: Sequence[Target], rngs: Sequence[np.random.Generator]
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(z, extra_calls)`` for environments resetting on ``targets``: float32
        ``(n, dim)`` first designs and int64 ``(n,)`` simulator calls spent proposing them
        (0 for ``"random"`` / ``"center"``)."""
        n, dim = len(targets), self.design_space.dim
        if not callable(self.initial_design):
            z = np.asarray([self.initial_z(rng) for rng in rngs], dtype=np.float32)
            return z.reshape(n, dim), np.zeros(n, dtype=np.int64)
        z, calls = self.initial_design(targets, rngs)
        z = np.asarray(z, dtype=np.float32)
        calls = np.broadcast_to(np.asarray(calls, dtype=np.int64), (n,)).copy()
        if z.shape != (n, dim) or not np.all(np.isfinite(z)) or np.abs(z).max(initial=0) > 1:
            raise ValueError(
                f"initial_design returned z of shape {z.shape} with values in "
                f"[{z.min(initial=0):.3g}, {z.max(initial=0):.3g}]; expected ({n}, {dim}) finite "
                "normalised coordinates in [-1, 1]"
            )
        if (calls < 0).any():
            raise ValueError(f"initial_design returned negative simulator calls {calls.tolist()}")
        return z, calls


def observation_size(space: DesignSpace, n_times: int = N_TIMES) -> int:
    return space.dim + 4 * n_times + N_TASK_FEATURES + 1


@functools.lru_cache(maxsize=256)
def _drug_values(drug: Drug) -> tuple[float, ...]:
    return tuple(float(getattr(drug, k)) for k in _DRUG_FIELDS)


def drug_features(drug_values: torch.Tensor) -> torch.Tensor:
    """``(B, 5)`` drug descriptors of the observation from ``(B, len(DRUG_BOUNDS))`` raw
    drug fields: log10(MW / 300 g/mol), logP / 3, (pKa − 7) / 3, charge sign,
    log10(solubility / (mg/mL)) / 3."""
    f = {k: drug_values[:, i] for i, k in enumerate(_DRUG_FIELDS)}
    return torch.stack(
        [
            torch.log10(f["mw_g_mol"] / 300.0),
            f["logp"] / 3.0,
            (f["pka"] - 7.0) / 3.0,
            f["charge"],
            torch.log10(f["solubility_mg_ml"]) / 3.0,
        ],
        dim=1,
    )


def schedule_on_grid(times_h: torch.Tensor, schedules: torch.Tensor) -> torch.Tensor:
    """``(B, 2T)`` medium on each time grid: ``(pH − 7.4)/2`` then ``(T − 37 °C)/5``, from
    ``(B, T)`` times (h) and ``(B, 6, K)`` padded schedules
    (:meth:`ReleaseConditions.padded`)."""
    index = torch.searchsorted(schedules[:, 0].contiguous(), times_h, right=True) - 1
    ph, temperature = schedules[:, 1].gather(1, index), schedules[:, 2].gather(1, index)
    return torch.cat([(ph - 7.4) / 2.0, (temperature - 37.0) / 5.0], dim=1)


def condition_vectors(
    times_h: torch.Tensor,
    release: torch.Tensor,
    schedules: torch.Tensor,
    drug_values: torch.Tensor,
    patient_features: torch.Tensor | None = None,
) -> torch.Tensor:
    """``(B, CONDITION_SIZE)`` float32 target descriptions (:meth:`TargetTable.condition`'s
    layout) computed from tensors, without building targets (for generative models).

    :param times_h: ``(B, T)`` time grids, hours.
    :param release: ``(B, T)`` cumulative fractions released on the grids.
    :param schedules: ``(B, 6, K)`` padded medium schedules.
    :param drug_values: ``(B, len(DRUG_BOUNDS))`` raw drug fields.
    :param patient_features: ``(B, 3)`` patient descriptors (zeros when ``None``).
    """
    times_h = times_h.to(torch.float64)
    if patient_features is None:
        patient_features = torch.zeros(times_h.shape[0], 3, dtype=torch.float64)
    out = torch.cat(
        [
            release.to(torch.float64),
            schedule_on_grid(times_h, schedules.to(torch.float64)),
            torch.log10(times_h[:, -1:] / 168.0),
            drug_features(drug_values.to(torch.float64)),
            patient_features.to(torch.float64),
        ],
        dim=1,
    )
    return out.float()


def _patient_features(target: Target) -> list[float]:
    if target.patient is None:
        return [0.0, 0.0, 0.0]
    p = target.patient
    return [math.log(p.clearance_l_h / 5.0), math.log(p.volume_l / 40.0),
            math.log10(p.mtc_mg_l / p.mec_mg_l) - 1.0]  # fmt: skip


class TargetTable:
    """The targets of ``B`` environments as tensors on the simulation device.

    Rows are replaced in place when environments reset, so the batched
    schedule and drug objects the simulator reads are built once.
    """

    def __init__(self, targets: Sequence[Target], device: torch.device) -> None:
        self.device = device
        self.targets: list[Target] = list(targets)
        rows = self._rows(self.targets)
        for name in _ROW_FIELDS:
            setattr(self, name, rows[name])
        self.conditions = ReleaseConditions(*rows["conditions"].unbind(1))
        self.drug = Drug("batch", *rows["drug"].unbind(1))
        self.has_patient = any(t.patient is not None for t in self.targets)

    def _rows(self, targets: Sequence[Target]) -> dict[str, torch.Tensor]:
        """Every per-target tensor for ``targets``, built in a few batched operations.

        Schedules come from :meth:`ReleaseConditions.padded`, which caches its tensor,
        so the many targets that share a preset cost one ``stack``.
        """
        bad = [t.times_h.shape for t in targets if t.times_h.shape != (N_TIMES,)]
        if bad:
            raise ValueError(f"target time grids must have {N_TIMES} points; got {tuple(bad[0])}")
        times = torch.stack([t.times_h for t in targets]).to(torch.float64)
        schedules = torch.stack([t.conditions.padded(MAX_SEGMENTS) for t in targets])
        patients = [
            [getattr(t.patient, k) for k in _PATIENT_FIELDS]
            if t.patient is not None
            else [0.0] * len(_PATIENT_FIELDS)
            for t in targets
        ]
        drugs = torch.tensor([_drug_values(t.drug) for t in targets], dtype=torch.float64)
        features = torch.cat(
            [
                torch.log10(times[:, -1:] / 168.0),
                drug_features(drugs),
                torch.tensor([_patient_features(t) for t in targets], dtype=torch.float64),
            ],
            dim=1,
        )
        rows = {
            "times_h": times,
            "release": torch.stack([t.release for t in targets]),
            "schedule": schedule_on_grid(times, schedules),
            "features": features,
            "patient": torch.tensor(patients),
            "conditions": schedules,
            "drug": drugs,
        }
        return {k: v.to(device=self.device, dtype=torch.float32) for k, v in rows.items()}

    def replace(self, index: Sequence[int], targets: Sequence[Target]) -> None:
        """Put new targets in rows ``index`` (environments that reset)."""
        idx = torch.as_tensor(list(index), dtype=torch.long, device=self.device)
        rows = self._rows(targets)
        for name in _ROW_FIELDS:
            getattr(self, name)[idx] = rows[name]
        for field, value in zip(_CONDITION_FIELDS, rows["conditions"].unbind(1), strict=True):
            getattr(self.conditions, field)[idx] = value
        for field, value in zip(_DRUG_FIELDS, rows["drug"].unbind(1), strict=True):
            getattr(self.drug, field)[idx] = value
        for i, target in zip(index, targets, strict=True):
            self.targets[i] = target
        self.has_patient = any(t.patient is not None for t in self.targets)

    def select(self, index: torch.Tensor) -> TargetTable:
        """The sub-table of rows ``index`` (for evaluating environments that reset)."""
        sub = object.__new__(TargetTable)
        sub.device = self.device
        sub.targets = [self.targets[i] for i in index.tolist()]
        for name in _ROW_FIELDS:
            setattr(sub, name, getattr(self, name)[index])
        sub.conditions = ReleaseConditions(
            *(getattr(self.conditions, k)[index] for k in _CONDITION_FIELDS)
        )
        sub.drug = Drug("batch", **{k: getattr(self.drug, k)[index] for k in _DRUG_FIELDS})
        sub.has_patient = self.has_patient
        return sub

    def condition(self) -> torch.Tensor:
        """``(B, CONDITION_SIZE)`` float32 description of each target, as the observation
        holds it: target release on the grid, the medium's pH and temperature on the grid,
        and the task features (for conditioning generative models on the target)."""
        return torch.cat([self.release, self.schedule, self.features], dim=1)

    def batch(self) -> TargetBatch:
        patient = self.patient if self.has_patient else None
        return TargetBatch(self.times_h, self.release, patient, self.conditions, self.drug)


@dataclass
class DesignState:
    """Per-environment state: design ``z``, its curve and score, edits used."""

    z: torch.Tensor
    release: torch.Tensor
    score: torch.Tensor
    f2: torch.Tensor
    edits: torch.Tensor


@dataclass(frozen=True)
class Evaluation:
    """A simulated design scored against its target."""

    formulation: Formulation
    release: torch.Tensor
    reward: RewardOutput
    f2: torch.Tensor
    rmse: torch.Tensor


def evaluate(spec: ProblemSpec, table: TargetTable, z: torch.Tensor) -> Evaluation:
    """Simulate designs ``z`` (``(B, dim)`` in ``[-1, 1]``) on their targets and score them."""
    formulation = spec.design_space.to_formulation(z, validate=False)
    release = simulate_release(
        formulation, table.times_h, table.conditions, table.drug,
        constants=spec.constants, validate=False,
    )  # fmt: skip
    reward = evaluate_reward(spec.reward_model, release, table.batch(), formulation)
    return Evaluation(
        formulation,
        release,
        reward,
        f2_similarity(release, table.release, validate=False),
        rmse(release, table.release, validate=False),
    )


def observe(spec: ProblemSpec, table: TargetTable, state: DesignState) -> torch.Tensor:
    """``(B, obs_dim)`` float32 observations (layout in the module docstring)."""
    used = (state.edits.float() / spec.max_edits).unsqueeze(1)
    return torch.cat(
        [state.z.float(), state.release.float(), table.release, table.schedule, table.features,
         used],
        dim=1,
    )  # fmt: skip


def action_to_delta(
    spec: ProblemSpec, actions: torch.Tensor, discrete: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """Check a batch of actions and turn it into coordinate changes.

    :param actions: ``(B, dim)`` continuous edits in ``[-1, 1]`` (clipped), or ``(B,)``
        integers for discrete edits (``i < dim`` raise, ``dim ≤ i < 2·dim`` lower,
        ``2·dim`` stop).
    :returns: ``(delta (B, dim), stop (B,) bool)``.
    """
    dim = spec.design_space.dim
    batch = actions.shape[0] if actions.dim() else 0
    if discrete:
        if actions.dim() != 1 or torch.is_floating_point(actions):
            raise ValueError(
                f"discrete actions must be integers of shape (num_envs,); got dtype "
                f"{actions.dtype} and shape {tuple(actions.shape)}"
            )
        bad = (actions < 0) | (actions > 2 * dim)
        if bool(bad.any()):
            raise ValueError(
                f"discrete actions must be integers in [0, {2 * dim}]; got {actions[bad][0].item()}"
            )
        stop = actions == 2 * dim
        sign = torch.where(actions < dim, 1.0, -1.0) * (~stop)
        delta = torch.zeros(batch, dim, device=actions.device)
        delta[torch.arange(batch, device=actions.device), actions.remainder(dim)] = sign
        return delta * spec.max_step, stop
    if actions.dim() != 2 or actions.shape[1] != dim:
        raise ValueError(
            f"actions must have shape (num_envs, {dim}): one edit per free parameter "
            f"{spec.design_space.names}; got {tuple(actions.shape)}"
        )
    if not bool(torch.isfinite(actions).all()):
        raise ValueError("actions must be finite; got NaN or inf")
    stop = torch.zeros(batch, dtype=torch.bool, device=actions.device)
    return actions.float().clamp(-1.0, 1.0) * spec.max_step, stop


@dataclass(frozen=True)
class Transition:
    """Result of one batched edit."""

    state: DesignState
    evaluation: Evaluation
    reward: torch.Tensor
    terminated: torch.Tensor
    truncated: torch.Tensor
    success: torch.Tensor


def transition(
    spec: ProblemSpec,
    table: TargetTable,
    state: DesignState,
    delta: torch.Tensor,
    stop: torch.Tensor,
) -> Transition:
    """Apply edits, simulate, and compute shaped rewards and episode ends.

    Reward: ``score(z') − score(z) + bonus·[f2(z') ≥ success_f2]`` (potential-based
    shaping, Ng et al. 1999). Stop actions leave the design unchanged.
    """
    z = (state.z + delta.to(state.z)).clamp(-1.0, 1.0)
    ev = evaluate(spec, table, z)
    success = ev.f2 >= spec.success_f2
    reward = ev.reward.score - state.score + spec.success_bonus * success.float()
    edits = state.edits + 1
    terminated = success | stop
    truncated = ~terminated & (edits >= spec.max_edits)
    return Transition(
        DesignState(z, ev.release, ev.reward.score, ev.f2, edits),
        ev, reward, terminated, truncated, success,
    )  # fmt: skip
