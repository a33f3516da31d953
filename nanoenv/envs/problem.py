"""The formulation-design MDP as pure batched torch functions (the functional core).

Both environments are thin stateful shells around this module, in the manner of
gymnax's ``reset``/``step`` on separate parameters and state: a :class:`ProblemSpec`
(everything fixed: task family, design space, reward model, budget; built with
:meth:`ProblemSpec.create`) and a :class:`DesignState` (the targets of the ``B``
environments as a :class:`~nanoenv.targets.TargetBatch`, the current designs, their
curves and scores, edits used). :func:`reset_rows` starts episodes, :func:`step` applies
edits, :func:`observe` and :func:`make_infos` give what the environments return. Keeping
one implementation is what makes the native vector environment step-for-step equal to
``N`` single environments; the search baselines score designs with :func:`evaluate`.

Observation layout (all float32, length ``dim + 4T + N_TASK_FEATURES + 1``)::

    [ z (dim) | current release (T) | target condition vector (3T + N_TASK_FEATURES)
      | edit budget used (1) ]

where the condition vector (:meth:`TargetBatch.condition_vector
<nanoenv.targets.TargetBatch.condition_vector>`) is the target release, pH and
temperature on the grid, and the task features: ``log10(horizon/168 h)``, five drug
descriptors and three patient descriptors (zeros when the target has no patient).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch
from gymnasium import spaces

from nanoenv.design_space import DesignSpace
from nanoenv.devices import resolve_device
from nanoenv.envs.target_pool import TargetPool
from nanoenv.kinetics import (
    DEFAULT_CONSTANTS,
    Formulation,
    SimulatorConstants,
    resolve_constants,
    simulate_release,
)
from nanoenv.metrics import f2_similarity, rmse
from nanoenv.rewards import RewardModel, RewardOutput, evaluate_reward, make_reward_model
from nanoenv.targets import MAX_SEGMENTS, N_TASK_FEATURES, Target, TargetBatch
from nanoenv.tasks import N_TIMES, TaskFamily, get_family

__all__ = [
    "CONDITION_SIZE",
    "MAX_SEGMENTS",
    "N_TASK_FEATURES",
    "DesignState",
    "Evaluation",
    "InitialDesigner",
    "ProblemSpec",
    "Transition",
    "action_to_delta",
    "draw_episodes",
    "evaluate",
    "make_infos",
    "observation_size",
    "observation_space",
    "observe",
    "place_rows",
    "reset_rows",
    "step",
]

#: Length of :meth:`TargetBatch.condition_vector` on the environments' time grid.
CONDITION_SIZE = 3 * N_TIMES + N_TASK_FEATURES


@runtime_checkable
class InitialDesigner(Protocol):
    """Proposes the first design of episodes (e.g. a generative prior's screened proposal).

    Called with the targets of the environments that reset and their generators; returns
    ``(z, sim_calls)``: ``(n, dim)`` normalised designs in ``[-1, 1]`` and ``(n,)`` integer
    simulator calls spent proposing them (screening candidates, for instance), which the
    environments add to ``info["sim_calls"]`` so budgets stay honest.
    """

    #: The most simulator calls one proposal may spend (``sim_calls`` never exceeds it);
    #: budgeted rollouts start a further episode only if the budget left covers it.
    max_calls_per_design: int

    def __call__(
        self, targets: Sequence[Target], rngs: Sequence[np.random.Generator]
    ) -> tuple[np.ndarray, np.ndarray]: ...


@dataclass(frozen=True)
class ProblemSpec:
    """Everything fixed about an environment: task, space, reward and budget (build it
    with :meth:`create`, which resolves names and family defaults).

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
            raise ValueError(
                f"success_f2={self.success_f2} must be a finite f2 (50: similar "
                "curves; above 100: never reached)"
            )
        if not math.isfinite(self.success_bonus):
            raise ValueError(
                f"success_bonus={self.success_bonus} must be a finite reward (reward units)"
            )
        if not callable(self.initial_design) and self.initial_design not in ("random", "center"):
            raise ValueError(
                f"initial_design={self.initial_design!r}; allowed: 'random', 'center' or a "
                "callable (targets, rngs) -> (z, sim_calls)"
            )

    @classmethod
    def create(
        cls,
        *,
        task: str = "realisable",
        reward_model: str | RewardModel | None = None,
        max_edits: int = 20,
        max_step: float = 0.25,
        design_space: DesignSpace | None = None,
        device: str | torch.device = "cpu",
        success_f2: float = 50.0,
        success_bonus: float = 1.0,
        initial_design: str | InitialDesigner = "random",
        constants: SimulatorConstants | str | None = None,
    ) -> ProblemSpec:
        """Validate the environment keywords and bundle them (the environments' keywords,
        same defaults). ``reward_model=None`` takes the task family's own
        (:meth:`TaskFamily.default_reward`), ``design_space=None`` and ``constants=None``
        likewise; ``device="auto"`` picks CUDA when available."""
        family = get_family(task)
        space = design_space or family.default_space()
        if space.carrier is not family.carrier:
            raise ValueError(
                f"task {task!r} designs {family.carrier.name.lower()} carriers; the design "
                f"space given is for {space.carrier.name.lower()}"
            )
        device = resolve_device(device)  # one line, before any work, for a missing GPU
        return cls(
            family=family,
            design_space=space,
            reward_model=(
                family.default_reward() if reward_model is None else make_reward_model(reward_model)
            ),
            max_edits=int(max_edits),
            max_step=float(max_step),
            success_f2=float(success_f2),
            success_bonus=float(success_bonus),
            initial_design=initial_design,
            constants=(
                family.default_constants() if constants is None else resolve_constants(constants)
            ),
            device=device,
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
    """Length of an observation (layout in the module docstring)."""
    return space.dim + 4 * n_times + N_TASK_FEATURES + 1


def observation_space(spec: ProblemSpec) -> spaces.Box:
    """Bounds of each observation block (layout in the module docstring)."""
    dim, t, k = spec.design_space.dim, N_TIMES, N_TASK_FEATURES
    low = np.concatenate([-np.ones(dim), np.zeros(2 * t), -10 * np.ones(2 * t + k), [0.0]])
    high = np.concatenate([np.ones(dim), np.ones(2 * t), 10 * np.ones(2 * t + k), [1.0]])
    return spaces.Box(low.astype(np.float32), high.astype(np.float32), dtype=np.float32)


@dataclass(frozen=True)
class DesignState:
    """The state of ``B`` environments: their targets, design ``z`` (``(B, dim)`` in
    ``[-1, 1]``), its curve, score and f2, and the edits used (``(B,)`` int64)."""

    targets: TargetBatch
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


def evaluate(spec: ProblemSpec, targets: TargetBatch, z: torch.Tensor) -> Evaluation:
    """Simulate designs ``z`` (``(B, dim)`` in ``[-1, 1]``) on their targets and score them
    (f2 is computed once: the reward model's when it reports one)."""
    formulation = spec.design_space.to_formulation(z, validate=False)
    release = simulate_release(
        formulation,
        targets.times_h,
        targets.conditions,
        targets.drug,
        constants=spec.constants,
        validate=False,
    )
    reward = evaluate_reward(spec.reward_model, release, targets, formulation)
    f2 = (
        reward.f2
        if reward.f2 is not None
        else f2_similarity(release, targets.release, validate=False)
    )
    return Evaluation(
        formulation, release, reward, f2, rmse(release, targets.release, validate=False)
    )


def target_batch(spec: ProblemSpec, targets: Sequence[Target]) -> TargetBatch:
    """``targets`` as the environments hold them: float32 on ``spec.device``, schedules
    padded to :data:`~nanoenv.targets.MAX_SEGMENTS`, grids of ``N_TIMES`` points."""
    bad = [tuple(t.times_h.shape) for t in targets if t.times_h.shape != (N_TIMES,)]
    if bad:
        raise ValueError(f"target time grids must have {N_TIMES} points; got {bad[0]}")
    return TargetBatch.from_targets(targets, MAX_SEGMENTS).to(spec.device, torch.float32)


def draw_episodes(
    spec: ProblemSpec,
    pool: TargetPool,
    rngs: Sequence[np.random.Generator],
    targets: Sequence[Target] | None = None,
) -> tuple[list[Target], np.ndarray, np.ndarray]:
    """What new episodes start from: ``(targets, z, extra_calls)`` for environments with
    generators ``rngs`` (one each, distinct): targets from ``pool`` (hidden-design targets
    drawn ahead in bulk, :mod:`nanoenv.envs.target_pool`) unless ``targets`` are given,
    then the first designs of :meth:`ProblemSpec.initial_designs`, from the same
    generators in the order a single environment draws them."""
    chosen = list(targets) if targets is not None else pool.draw(rngs)
    z, extra = spec.initial_designs(chosen, rngs)
    return chosen, z, extra


def reset_rows(
    spec: ProblemSpec,
    state: DesignState | None,
    rows: Sequence[int] | None,
    targets: Sequence[Target],
    z: np.ndarray | torch.Tensor,
) -> tuple[DesignState, Evaluation]:
    """Start episodes: environments ``rows`` of ``state`` get ``targets`` and first designs
    ``z`` (``(len(targets), dim)`` in ``[-1, 1]``), simulated once; ``state=None`` (and
    ``rows=None``) starts every environment. Returns the new state and the evaluation of
    the reset rows (for their ``info``)."""
    batch = target_batch(spec, targets)
    z_t = z if isinstance(z, torch.Tensor) else torch.as_tensor(np.asarray(z, np.float32))
    z_t = z_t.to(device=spec.device, dtype=torch.float32).reshape(len(targets), -1)
    ev = evaluate(spec, batch, z_t)
    edits = torch.zeros(len(targets), dtype=torch.long, device=z_t.device)
    if state is None:
        return DesignState(batch, z_t, ev.release, ev.reward.score, ev.f2, edits), ev
    index = torch.as_tensor(list(rows), dtype=torch.long, device=z_t.device)

    def put(old: torch.Tensor, new: torch.Tensor) -> torch.Tensor:
        out = old.clone()
        out[index] = new.to(out)
        return out

    new = DesignState(
        state.targets.replace(index, batch),
        put(state.z, z_t),
        put(state.release, ev.release),
        put(state.score, ev.reward.score),
        put(state.f2, ev.f2),
        put(state.edits, edits),
    )
    return new, ev


def place_rows(
    spec: ProblemSpec,
    state: DesignState,
    rows: Sequence[int],
    targets: Sequence[Target],
    z: np.ndarray | torch.Tensor,
) -> DesignState:
    """Put new episodes' ``targets`` and first designs ``z`` in ``rows`` of ``state``
    without simulating them, for next-step autoreset: a :func:`step` with zero edit (and
    no stop) on those rows then simulates the first designs in the same batch as the other
    rows' edits (one simulation per step). Their edits are set to ``-1`` so that step counts
    the evaluation as edit 0; their score and curve are the old episode's until then."""
    batch = target_batch(spec, targets)
    z_t = z if isinstance(z, torch.Tensor) else torch.as_tensor(np.asarray(z, np.float32))
    z_t = z_t.to(device=spec.device, dtype=torch.float32).reshape(len(targets), -1)
    index = torch.as_tensor(list(rows), dtype=torch.long, device=spec.device)
    new_z, edits = state.z.clone(), state.edits.clone()
    new_z[index], edits[index] = z_t, -1
    return DesignState(
        state.targets.replace(index, batch), new_z, state.release, state.score, state.f2, edits
    )


def observe(spec: ProblemSpec, state: DesignState) -> torch.Tensor:
    """``(B, obs_dim)`` float32 observations (layout in the module docstring)."""
    used = (state.edits.float() / spec.max_edits).unsqueeze(1)
    condition = state.targets.condition_vector()
    return torch.cat([state.z.float(), state.release.float(), condition, used], dim=1)


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


def step(
    spec: ProblemSpec, state: DesignState, delta: torch.Tensor, stop: torch.Tensor
) -> Transition:
    """Apply edits (:func:`action_to_delta`), simulate, and compute shaped rewards and
    episode ends.

    Reward: ``score(z') − score(z) + bonus·[f2(z') ≥ success_f2]·[not stop]``
    (potential-based shaping, Ng et al. 1999): the bonus pays for success reached by an
    edit. Stop actions leave the design unchanged (it is simulated again: one simulator
    call), end the episode and earn no bonus: an edit that reaches ``success_f2`` ends the
    episode, so a stop on a successful design can only come right after a reset whose
    start already succeeded, which no action earned.
    """
    z = (state.z + delta.to(state.z)).clamp(-1.0, 1.0)
    ev = evaluate(spec, state.targets, z)
    success = ev.f2 >= spec.success_f2
    reward = ev.reward.score - state.score + spec.success_bonus * (success & ~stop).float()
    edits = state.edits + 1
    terminated = success | stop
    truncated = ~terminated & (edits >= spec.max_edits)
    return Transition(
        DesignState(state.targets, z, ev.release, ev.reward.score, ev.f2, edits),
        ev,
        reward,
        terminated,
        truncated,
        success,
    )


def make_infos(
    spec: ProblemSpec, ev: Evaluation, sim_calls: np.ndarray, index: int | None = None
) -> dict[str, Any]:
    """The ``info`` of the environments after an evaluation: per-environment arrays ``f2``,
    ``rmse``, ``score``, ``cost`` (0 when the reward model reports none), ``is_success``,
    ``release_curve`` ``(B, T)``, ``formulation`` ``(B, P)`` (physical units) and
    ``sim_calls``; with ``index``, the single environment's dict of environment ``index``
    (Python scalars, ``formulation`` as a dict of named parameters)."""
    cost = ev.reward.cost if ev.reward.cost is not None else torch.zeros_like(ev.f2)
    values = {
        "f2": ev.f2,
        "rmse": ev.rmse,
        "score": ev.reward.score,
        "cost": cost,
        "is_success": ev.f2 >= spec.success_f2,
        "release_curve": ev.release,
        "formulation": ev.formulation.values,
    }
    infos: dict[str, Any] = {k: v.detach().cpu().numpy() for k, v in values.items()}
    infos["sim_calls"] = np.asarray(sim_calls, dtype=np.int64).copy()
    if index is None:
        return infos
    row = {
        k: v[index].item() for k, v in infos.items() if k not in ("release_curve", "formulation")
    }
    row["release_curve"] = infos["release_curve"][index].astype(np.float32)
    row["formulation"] = ev.formulation[index].to_dicts()[0]
    return {k: row[k] for k in infos}
