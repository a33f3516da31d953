"""The machinery every search baseline shares: a result type, the method protocol, the
per-family problem cache and :class:`Search` (simulate, score, count calls, keep the best)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import torch

from nanoenv.design_space import DesignSpace
from nanoenv.envs.problem import Evaluation, ProblemSpec, evaluate, target_batch
from nanoenv.kinetics import Formulation, SimulatorConstants
from nanoenv.rewards import RewardModel
from nanoenv.targets import TargetBatch
from nanoenv.tasks import Target

Tensor = torch.Tensor


@dataclass
class DesignResult:
    """The outcome of designing for one target.

    :param target: the target designed for.
    :param formulation: the best design found (one row, physical units, CPU); best by
        the reward model's score (``f2/100`` by default, so best by f2).
    :param release: ``(T,)`` its cumulative release on the target's grid (CPU).
    :param f2: its f2 similarity to the target curve.
    :param score: its reward-model score.
    :param cost: its stability / manufacturability cost (0 when unproblematic).
    :param sim_calls: simulator calls used (one per simulated design), ``≤ budget``.
    :param calls_to_success: the call count at which a design first reached
        ``f2 ≥ success_f2``; ``None`` if none did.
    :param history: ``(sim_calls, best f2 so far)`` at every improvement and at the end
        of every batch, for score-vs-calls plots.
    :param method: name of the method that produced it.
    :param z: ``(dim,)`` normalised coordinates of the design (CPU), if known.
    :param score_history: ``(sim_calls, best reward-model score so far)`` at every
        improvement and at the end of every batch: what the benchmark scores at fixed
        budgets (:func:`best_at`).
    """

    target: Target
    formulation: Formulation
    release: Tensor
    f2: float
    score: float
    cost: float
    sim_calls: int
    calls_to_success: int | None
    history: list[tuple[int, float]] = field(default_factory=list)
    method: str = ""
    z: Tensor | None = None
    score_history: list[tuple[int, float]] = field(default_factory=list)

    @property
    def success(self) -> bool:
        """Whether some design reached the success threshold within the budget."""
        return self.calls_to_success is not None


@runtime_checkable
class DesignMethod(Protocol):
    """What every design method (baseline or trained agent) provides."""

    name: str

    def design(self, target: Target, budget: int, *, seed: int = 0) -> DesignResult:
        """Design for ``target`` with at most ``budget`` simulator calls."""
        ...


# -- shared machinery -----------------------------------------------------------------------


def check_budget(budget: int) -> int:
    if isinstance(budget, bool) or int(budget) != budget or budget < 1:
        raise ValueError(f"budget={budget!r} must be a positive number of simulator calls")
    return int(budget)


class ProblemCache:
    """Problem specs built once per task family for one method's settings."""

    def __init__(
        self,
        design_space: DesignSpace | None,
        reward_model: str | RewardModel | None,
        success_f2: float,
        device: str | torch.device,
        constants: SimulatorConstants | str | None,
    ) -> None:
        self.design_space = design_space
        self.reward_model = reward_model
        self.success_f2 = float(success_f2)
        self.device = device
        self.constants = constants
        self._specs: dict[str, ProblemSpec] = {}

    def spec(self, target: Target) -> ProblemSpec:
        if target.family not in self._specs:
            self._specs[target.family] = ProblemSpec.create(
                task=target.family,
                reward_model=self.reward_model,
                design_space=self.design_space,
                device=self.device,
                success_f2=self.success_f2,
                constants=self.constants,
            )
        return self._specs[target.family]


def _append_running(
    history: list[tuple[int, float]], start: int, values: Tensor, best: float
) -> None:
    """Extend a ``(calls, best so far)`` history by a batch of ``values`` evaluated after
    ``start`` calls: an entry at every improvement and one at the batch's end."""
    for j, value in enumerate(torch.cummax(values, 0).values.tolist()):
        if value > best:
            best = value
            history.append((start + j + 1, value))
    end = start + len(values)
    if not history or history[-1][0] != end:
        history.append((end, best))


def best_at(history: list[tuple[int, float]], calls: int) -> float:
    """The best value a ``(calls, best so far)`` history had reached after ``calls``
    simulator calls (``-inf`` before its first evaluation). A method that stopped before
    ``calls`` keeps its last value."""
    best = -math.inf
    for c, value in history:
        if c > calls:
            break
        best = value
    return best


class Search:
    """One search on one target: evaluates batches of ``z``, enforces the budget, and
    keeps the best design, the history and the call count of the first success."""

    def __init__(self, spec: ProblemSpec, target: Target, budget: int, method: str) -> None:
        self.spec = spec
        self.target = target
        self.budget = check_budget(budget)
        self.method = method
        self._targets = target_batch(spec, [target])
        self._batches: dict[int, TargetBatch] = {}  # the target repeated n times, by n
        self.calls = 0
        self.calls_to_success: int | None = None
        self.history: list[tuple[int, float]] = []
        self.score_history: list[tuple[int, float]] = []
        self.best_f2 = -math.inf
        self.best_score = -math.inf
        self._best: tuple[float, Tensor, Tensor, float, float] | None = None  # score, z, ...

    @property
    def remaining(self) -> int:
        return self.budget - self.calls

    @property
    def succeeded(self) -> bool:
        return self.calls_to_success is not None

    def evaluate(self, z: Tensor) -> Evaluation:
        """Simulate and score the ``(N, dim)`` designs ``z`` (``N ≤ remaining``) in one
        batched call; gradients flow through the returned evaluation."""
        n = z.shape[0]
        if not 0 < n <= self.remaining:
            raise RuntimeError(f"{n} designs asked with {self.remaining} simulator calls left")
        if n not in self._batches:
            self._batches[n] = self._targets.select(torch.zeros(n, dtype=torch.long))
        ev = evaluate(self.spec, self._batches[n], z)
        self._record(z.detach(), ev)
        return ev

    def _record(self, z: Tensor, ev: Evaluation) -> None:
        f2 = ev.f2.detach().double().cpu()
        score = ev.reward.score.detach().double().cpu()
        cost = (
            ev.reward.cost.detach().double().cpu()
            if ev.reward.cost is not None
            else torch.zeros_like(score)
        )
        start = self.calls
        self.calls += len(f2)
        if self.calls_to_success is None:
            hits = torch.nonzero(f2 >= self.spec.success_f2)
            if len(hits):
                self.calls_to_success = start + int(hits[0]) + 1
        _append_running(self.history, start, f2, self.best_f2)
        self.best_f2 = self.history[-1][1]
        _append_running(self.score_history, start, score, self.best_score)
        self.best_score = self.score_history[-1][1]
        i = int(torch.argmax(score))
        if self._best is None or float(score[i]) > self._best[0]:
            self._best = (
                float(score[i]),
                z[i].detach().cpu().clone(),
                ev.release[i].detach().cpu().clone(),
                float(f2[i]),
                float(cost[i]),
            )

    def result(self) -> DesignResult:
        if self._best is None:
            raise RuntimeError("no design was evaluated")
        score, z, release, f2, cost = self._best
        formulation = self.spec.design_space.to_formulation(z[None], validate=False)
        return DesignResult(
            self.target,
            formulation,
            release,
            f2,
            score,
            cost,
            self.calls,
            self.calls_to_success,
            list(self.history),
            self.method,
            z,
            list(self.score_history),
        )


class SearchMethod:
    """Settings shared by the search baselines.

    :param design_space: the space searched (default: the target carrier's default space).
    :param reward_model: reward model name or object (default: each target family's own,
        ``TaskFamily.reward``), as in the environment.
    :param success_f2: f2 at or above which a design counts as a success.
    :param stop_on_success: stop as soon as a batch holds a successful design (as the
        environment ends its episode on success).
    :param device: ``"cpu"``, ``"cuda"`` or ``"auto"``.
    :param dtype: floating dtype of ``z`` and the simulation (float32, as the env).
    :param constants: simulator constants, ``"literature"`` or ``"calibrated"`` (default:
        each target family's own, as in the environment).
    """

    name = "base"

    def __init__(
        self,
        *,
        design_space: DesignSpace | None = None,
        reward_model: str | RewardModel | None = None,
        success_f2: float = 50.0,
        stop_on_success: bool = True,
        device: str | torch.device = "cpu",
        dtype: torch.dtype = torch.float32,
        constants: SimulatorConstants | str | None = None,
    ) -> None:
        self.problem = ProblemCache(design_space, reward_model, success_f2, device, constants)
        self.stop_on_success = bool(stop_on_success)
        self.dtype = dtype

    def start(self, target: Target, budget: int) -> Search:
        """A :class:`Search` on ``target`` with ``budget`` simulator calls: it simulates and
        scores the designs you give it, counts calls, and keeps the best design and the
        histories the benchmark scores."""
        return Search(self.problem.spec(target), target, budget, self.name)

    def done(self, search: Search) -> bool:
        """The budget is spent, or (with ``stop_on_success``) a design succeeded."""
        return search.remaining <= 0 or (self.stop_on_success and search.succeeded)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"
