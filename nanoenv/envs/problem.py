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

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

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
from nanoenv.metrics import f2_similarity, rmse
from nanoenv.rewards import RewardModel, RewardOutput, TargetBatch, evaluate_reward
from nanoenv.tasks import N_TIMES, Target, TaskFamily

__all__ = [
    "MAX_SEGMENTS",
    "N_TASK_FEATURES",
    "DesignState",
    "Evaluation",
    "ProblemSpec",
    "TargetTable",
    "evaluate",
    "observation_size",
    "observe",
]

#: Medium schedules are padded to this many segments inside the environments.
MAX_SEGMENTS = 4
N_TASK_FEATURES = 9
_DRUG_FIELDS = ("mw_g_mol", "logp", "pka", "charge", "solubility_mg_ml")
_ROW_FIELDS = ("times_h", "release", "schedule", "features", "patient")
_PATIENT_FIELDS = ("dose_mg", "clearance_l_h", "volume_l", "mec_mg_l", "mtc_mg_l")


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
    :param initial_design: ``"random"`` (uniform in the space) or ``"center"``.
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
    initial_design: str = "random"
    constants: SimulatorConstants = DEFAULT_CONSTANTS
    device: torch.device = torch.device("cpu")

    def __post_init__(self) -> None:
        if self.max_edits < 1:
            raise ValueError(f"max_edits={self.max_edits} must be a positive number of edits")
        if not 0 < self.max_step <= 2:
            raise ValueError(
                f"max_step={self.max_step} must be in (0, 2] (normalised coordinate units)"
            )
        if self.initial_design not in ("random", "center"):
            raise ValueError(f"initial_design={self.initial_design!r}; allowed: 'random', 'center'")

    def initial_z(self, rng: np.random.Generator) -> np.ndarray:
        """The first design of an episode, drawn with the environment's generator."""
        if self.initial_design == "center":
            return np.zeros(self.design_space.dim)
        return rng.uniform(-1.0, 1.0, size=self.design_space.dim)


def observation_size(space: DesignSpace, n_times: int = N_TIMES) -> int:
    return space.dim + 4 * n_times + N_TASK_FEATURES + 1


@functools.lru_cache(maxsize=256)
def _drug_features(drug: Drug) -> tuple[float, ...]:
    return (
        math.log10(float(drug.mw_g_mol) / 300.0),
        float(drug.logp) / 3.0,
        (float(drug.pka) - 7.0) / 3.0,
        float(drug.charge),
        math.log10(float(drug.solubility_mg_ml)) / 3.0,
    )


def _task_features(target: Target) -> list[float]:
    horizon = math.log10(float(target.times_h[-1]) / 168.0)
    features = [horizon, *_drug_features(target.drug)]
    if target.patient is None:
        return [*features, 0.0, 0.0, 0.0]
    p = target.patient
    return [*features, math.log(p.clearance_l_h / 5.0), math.log(p.volume_l / 40.0),
            math.log10(p.mtc_mg_l / p.mec_mg_l) - 1.0]  # fmt: skip


class TargetTable:
    """The targets of ``B`` environments as tensors on the simulation device.

    Rows are replaced in place when environments reset, so the batched
    schedule and drug objects the simulator reads are built once.
    """

    def __init__(self, targets: Sequence[Target], device: torch.device) -> None:
        self.device = device
        self.targets: list[Target] = list(targets)
        rows = [self._row(t) for t in self.targets]
        self.times_h = torch.stack([r[0] for r in rows]).to(device)
        self.release = torch.stack([r[1] for r in rows]).to(device)
        self.schedule = torch.stack([r[2] for r in rows]).to(device)
        self.features = torch.stack([r[3] for r in rows]).to(device)
        self.patient = torch.stack([r[4] for r in rows]).to(device)
        self.conditions = ReleaseConditions.stack(
            [t.conditions for t in self.targets], MAX_SEGMENTS
        )
        self.conditions = ReleaseConditions(
            **{
                k: v.to(device=device, dtype=torch.float32)
                for k, v in vars(self.conditions).items()
            }
        )
        self.drug = Drug.stack([t.drug for t in self.targets])
        self.drug = Drug("batch", **{k: getattr(self.drug, k).to(device, torch.float32)
                                     for k in _DRUG_FIELDS})  # fmt: skip
        self.has_patient = any(t.patient is not None for t in self.targets)

    @staticmethod
    def _row(target: Target) -> tuple[torch.Tensor, ...]:
        if target.times_h.shape != (N_TIMES,):
            raise ValueError(
                f"target time grids must have {N_TIMES} points; got {tuple(target.times_h.shape)}"
            )
        t = target.times_h
        schedule = torch.cat([
            (target.conditions.value_at("ph", t) - 7.4) / 2.0,
            (target.conditions.value_at("temperature_c", t) - 37.0) / 5.0,
        ])  # fmt: skip
        patient = (
            torch.tensor([getattr(target.patient, k) for k in _PATIENT_FIELDS], dtype=torch.float64)
            if target.patient is not None
            else torch.zeros(len(_PATIENT_FIELDS), dtype=torch.float64)
        )
        return (
            t.float(),
            target.release.float(),
            schedule.float(),
            torch.tensor(_task_features(target), dtype=torch.float32),
            patient.float(),
        )

    def replace(self, index: Sequence[int], targets: Sequence[Target]) -> None:
        """Put new targets in rows ``index`` (environments that reset)."""
        idx = torch.as_tensor(list(index), dtype=torch.long, device=self.device)
        rows = [self._row(t) for t in targets]
        for col, name in enumerate(_ROW_FIELDS):
            getattr(self, name)[idx] = torch.stack([r[col] for r in rows]).to(self.device)
        new = ReleaseConditions.stack([t.conditions for t in targets], MAX_SEGMENTS)
        for key, value in vars(new).items():
            getattr(self.conditions, key)[idx] = value.to(self.device, torch.float32)
        for key in _DRUG_FIELDS:
            values = torch.tensor([float(getattr(t.drug, key)) for t in targets])
            getattr(self.drug, key)[idx] = values.to(self.device, torch.float32)
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
            **{k: v[index] for k, v in vars(self.conditions).items()}
        )
        sub.drug = Drug("batch", **{k: getattr(self.drug, k)[index] for k in _DRUG_FIELDS})
        sub.has_patient = self.has_patient
        return sub

    def batch(self) -> TargetBatch:
        return TargetBatch(self.times_h, self.release, self.patient if self.has_patient else None)


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
