"""Design baselines: search the design space directly, with a simulator-call budget.

Every method implements :class:`DesignMethod`: ``design(target, budget, seed=...)``
returns a :class:`DesignResult` (the best design found, its curve and scores, and
how many simulator calls it took). Trained policies share the interface through
:class:`PolicyRollout`, so RL agents and baselines are compared on the same
:func:`benchmark_suite <nanoenv.tasks.benchmark_suite>` with :func:`run_suite`
and :func:`results_table`.

The search methods work in the design space's normalised coordinates
``z ∈ [-1, 1]^dim`` and score designs with the environment's own machinery
(:func:`nanoenv.envs.problem.evaluate` on a :class:`~nanoenv.targets.TargetBatch`
holding the target once per candidate), so ``f2``, ``score`` and ``cost`` are
exactly what :class:`~nanoenv.envs.FormulationDesignEnv` reports for the same
design. One simulated candidate is one simulator call; a batch of ``N``
candidates is simulated in one batched call and counts ``N``.

========================  ==========================================================
:class:`RandomSearch`     uniform draws of ``z``, in batches
:class:`CMAES`            CMA-ES (the ``cma`` package) on ``z`` with bounds, restarts
:class:`GradientDescent`  multi-start Adam through the differentiable simulator
:class:`PolicyRollout`    a trained policy rolled out in ``FormulationDesignEnv``
========================  ==========================================================

>>> from nanoenv.tasks import benchmark_suite
>>> target = benchmark_suite("realisable", 1, seed=0)[0]
>>> result = RandomSearch(batch_size=16).design(target, budget=32, seed=0)
>>> result.sim_calls <= 32
True
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch

from nanoenv.design_space import DesignSpace
from nanoenv.envs.formulation_design import FormulationDesignDiscreteEnv, FormulationDesignEnv
from nanoenv.envs.problem import Evaluation, ProblemSpec, evaluate, target_batch
from nanoenv.kinetics import Formulation, SimulatorConstants
from nanoenv.rewards import RewardModel
from nanoenv.targets import TargetBatch
from nanoenv.tasks import Target, benchmark_suite

__all__ = [
    "CMAES",
    "DesignMethod",
    "DesignResult",
    "GradientDescent",
    "PolicyRollout",
    "RandomSearch",
    "Search",
    "SearchMethod",
    "best_at",
    "check_budget",
    "results_table",
    "run_suite",
    "summarize",
]

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
            self.target, formulation, release, f2, score, cost, self.calls,
            self.calls_to_success, list(self.history), self.method, z,
            list(self.score_history),
        )  # fmt: skip


@contextmanager
def _numpy_global_state(seed: int) -> Iterator[None]:
    """Seed numpy's global generator for a block and restore it afterwards (``cma``
    may touch it)."""
    state = np.random.get_state()  # noqa: NPY002 (legacy global state is what cma uses)
    np.random.seed(seed % 2**32)  # noqa: NPY002
    try:
        yield
    finally:
        np.random.set_state(state)  # noqa: NPY002


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


# -- baselines ------------------------------------------------------------------------------


class RandomSearch(SearchMethod):
    """Uniform random search: batches of ``batch_size`` uniform draws of ``z``.

    :param batch_size: designs simulated per batched call (the last batch is cut to
        the budget left).
    :param kwargs: shared settings (see :class:`SearchMethod`: ``design_space``, ``reward_model``,
        ``success_f2``, ``stop_on_success``, ``device``, ``dtype``, ``constants``).
    """

    name = "random"

    def __init__(self, batch_size: int = 64, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if batch_size < 1:
            raise ValueError(f"batch_size={batch_size} must be positive")
        self.batch_size = int(batch_size)

    def design(self, target: Target, budget: int, *, seed: int = 0) -> DesignResult:
        search = self.start(target, budget)
        space, device = search.spec.design_space, search.spec.device
        generator = torch.Generator().manual_seed(seed)
        while not self.done(search):
            n = min(self.batch_size, search.remaining)
            z = space.sample(n, generator=generator, dtype=self.dtype).to(device)
            search.evaluate(z)
        return search.result()


class CMAES(SearchMethod):
    """CMA-ES (Hansen 2016, the ``cma`` package) minimising ``−score`` over ``z ∈ [-1, 1]``.

    A whole generation is simulated in one batched call. When CMA-ES meets one of its
    own stopping criteria before the budget is spent, it restarts from a uniform
    random point. A generation larger than the budget left is cut, and the search
    ends there.

    :param popsize: population size (default ``4 + ⌊3 ln dim⌋``, 11 for the polymer space).
    :param sigma0: initial step size in normalised coordinates.
    :param x0: ``"center"`` (``z = 0``) or ``"random"`` (uniform) first mean.
    :param kwargs: shared settings (see :class:`SearchMethod`).
    """

    name = "cmaes"

    def __init__(
        self, popsize: int | None = None, sigma0: float = 0.5, x0: str = "center", **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        if x0 not in ("center", "random"):
            raise ValueError(f"x0={x0!r}; allowed: 'center', 'random'")
        if popsize is not None and popsize < 2:
            raise ValueError(f"popsize={popsize} must be at least 2")
        if not sigma0 > 0:
            raise ValueError(f"sigma0={sigma0} must be positive")
        self.popsize = popsize
        self.sigma0 = float(sigma0)
        self.x0 = x0

    def design(self, target: Target, budget: int, *, seed: int = 0) -> DesignResult:
        import cma

        search = self.start(target, budget)
        dim, device = search.spec.design_space.dim, search.spec.device
        rng = np.random.default_rng(seed)
        options: dict[str, Any] = {
            "bounds": [-1.0, 1.0],
            "seed": np.nan,  # sampling uses ``randn`` below, not numpy's global state
            "randn": lambda *shape: rng.standard_normal(shape),
            "verbose": -9,
            "verb_log": 0,
            "verb_disp": 0,
        }
        if self.popsize is not None:
            options["popsize"] = self.popsize
        x0 = np.zeros(dim) if self.x0 == "center" else rng.uniform(-1.0, 1.0, dim)
        with _numpy_global_state(seed):
            while not self.done(search):
                es = cma.CMAEvolutionStrategy(x0, self.sigma0, options)
                used = search.calls
                while not self.done(search) and not es.stop():
                    candidates = es.ask()
                    n = min(len(candidates), search.remaining)
                    z = torch.as_tensor(np.clip(np.asarray(candidates[:n]), -1.0, 1.0))
                    ev = search.evaluate(z.to(device=device, dtype=self.dtype))
                    if n < len(candidates):
                        break
                    es.tell(candidates, (-ev.reward.score.detach().double().cpu()).tolist())
                if search.calls == used:  # stopped before asking: restarting cannot help
                    break
                x0 = rng.uniform(-1.0, 1.0, dim)
        return search.result()


class GradientDescent(SearchMethod):
    """Multi-start gradient ascent on the reward model's score through the simulator.

    Each start is an unconstrained ``u ∈ R^dim`` with ``z = tanh(u)``; every step
    simulates all starts in one batched call (``starts`` simulator calls), back-
    propagates the summed score and takes an Adam step (Kingma & Ba 2015) per start.
    A start whose own best score has not improved by ``1e-4`` for ``patience`` steps
    (stuck on a plateau, e.g. a design releasing nothing at all where the curve has
    no slope) is re-drawn uniformly with fresh Adam moments. The best design ever
    evaluated is returned.

    :param starts: designs optimised in parallel (cut to the budget if larger).
    :param lr: Adam step size in ``u`` units.
    :param steps: steps per start (default: as many as the budget allows).
    :param patience: steps without improvement before a start restarts (``None``: never).
    :param kwargs: shared settings (see :class:`SearchMethod`).
    """

    name = "gradient"

    def __init__(
        self,
        starts: int = 8,
        lr: float = 0.05,
        steps: int | None = None,
        patience: int | None = 25,
        betas: tuple[float, float] = (0.9, 0.999),
        parameterization: str = "tanh",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if parameterization not in ("tanh", "clip"):
            raise ValueError(f"parameterization={parameterization!r}; allowed: 'tanh', 'clip'")
        if starts < 1:
            raise ValueError(f"starts={starts} must be positive")
        if not lr > 0:
            raise ValueError(f"lr={lr} must be positive")
        if steps is not None and steps < 1:
            raise ValueError(f"steps={steps} must be positive")
        if patience is not None and patience < 1:
            raise ValueError(f"patience={patience} must be positive or None")
        self.starts = int(starts)
        self.lr = float(lr)
        self.steps = steps
        self.patience = patience
        self.betas = betas
        self.parameterization = parameterization

    def _draw(self, n: int, dim: int, generator: torch.Generator, device: torch.device) -> Tensor:
        """``n`` uniform starts in ``u`` (``z`` within ±0.95, off tanh's flat tails)."""
        z = torch.rand(n, dim, generator=generator, dtype=torch.float64) * 2.0 - 1.0
        u = torch.atanh(0.95 * z) if self.parameterization == "tanh" else z
        return u.to(device=device, dtype=self.dtype)

    def design(self, target: Target, budget: int, *, seed: int = 0) -> DesignResult:
        search = self.start(target, budget)
        device = search.spec.device
        dim = search.spec.design_space.dim
        starts = min(self.starts, search.budget)
        steps = search.budget // starts
        if self.steps is not None:
            steps = min(steps, self.steps)
        generator = torch.Generator().manual_seed(seed)
        u = self._draw(starts, dim, generator, device)
        m, v = torch.zeros_like(u), torch.zeros_like(u)
        t = torch.zeros(starts, 1, dtype=self.dtype, device=device)
        best = torch.full((starts,), -math.inf, dtype=torch.float64)
        stale = torch.zeros(starts, dtype=torch.long)
        b1, b2 = self.betas
        tanh = self.parameterization == "tanh"
        bound = 8.0 if tanh else 1.0  # tanh(8) = 1 − 2e-7; ``clip`` projects onto the box
        for _ in range(steps):
            if self.done(search):
                break
            u.requires_grad_(True)
            ev = search.evaluate(torch.tanh(u) if tanh else u)
            (grad,) = torch.autograd.grad(ev.reward.score.sum(), u)
            u = u.detach()
            grad = torch.nan_to_num(grad, nan=0.0, posinf=0.0, neginf=0.0)
            # Adam ascent, one step counter per start so restarts get fresh moments
            t += 1
            m = b1 * m + (1 - b1) * grad
            v = b2 * v + (1 - b2) * grad * grad
            m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
            u = (u + self.lr * m_hat / (v_hat.sqrt() + 1e-8)).clamp(-bound, bound)
            if self.patience is None:
                continue
            score = ev.reward.score.detach().double().cpu()
            improved = score > best + 1e-4
            best = torch.where(improved, score, best)
            stale = torch.where(improved, 0, stale + 1)
            restart = stale >= self.patience
            if bool(restart.any()):
                idx = torch.nonzero(restart)[:, 0]
                u[idx.to(device)] = self._draw(len(idx), dim, generator, device)
                for buf in (m, v, t):
                    buf[idx.to(device)] = 0
                best[idx], stale[idx] = -math.inf, 0
        return search.result()


class PolicyRollout:
    """A trained policy rolled out in :class:`~nanoenv.envs.FormulationDesignEnv`.

    The policy is anything with ``predict(obs, deterministic=True) -> (action, state)``
    (stable-baselines3 models, for instance). One episode is run on the target (the
    environment draws the initial design from ``seed``): ``1 + max_edits`` simulator
    calls at most, cut at ``budget``; with ``repeat=True`` further episodes (new
    initial designs) are run until the budget is spent or, with ``stop_on_success``,
    one succeeds. The best design seen (by score) is returned.

    :param policy: the trained policy.
    :param env_kwargs: keyword arguments of the environment (``task`` defaults to the
        target's family).
    :param discrete: use :class:`~nanoenv.envs.FormulationDesignDiscreteEnv`.
    :param repeat: run further episodes while budget is left (and, with
        ``stop_on_success``, none succeeded).
    :param device: ``"cpu"``, ``"cuda"`` or ``"auto"`` (overrides ``env_kwargs``).
    :param name: the method's name in result tables.
    :param stop_on_success: stop repeating episodes after the first success (the
        benchmark sets ``False`` and ``repeat=True``: the whole budget is spent).
    """

    def __init__(
        self,
        policy: Any,
        env_kwargs: dict[str, Any] | None = None,
        *,
        discrete: bool = False,
        repeat: bool = False,
        device: str | torch.device | None = None,
        name: str = "policy",
        stop_on_success: bool = True,
    ) -> None:
        if not callable(getattr(policy, "predict", None)):
            raise ValueError(
                f"policy must have predict(obs, deterministic=True) -> (action, state); got "
                f"{type(policy).__name__}"
            )
        self.policy = policy
        self.env_kwargs = dict(env_kwargs or {})
        if device is not None:
            self.env_kwargs["device"] = device
        self.discrete = discrete
        self.repeat = repeat
        self.name = name
        self.stop_on_success = bool(stop_on_success)

    def reset_calls(self, env: FormulationDesignEnv) -> int:
        """Simulator calls a reset of ``env`` spends (its first design; a proposer's
        screening too): a further episode starts only if the budget left covers them."""
        designer = env.spec_.initial_design
        return 1 + int(getattr(designer, "m", 0)) if callable(designer) else 1

    def make_env(self, target: Target, budget: int) -> FormulationDesignEnv:
        """The environment an episode on ``target`` runs in (subclasses change how the
        first design is proposed, for instance)."""
        env_cls = FormulationDesignDiscreteEnv if self.discrete else FormulationDesignEnv
        return env_cls(**{"task": target.family, **self.env_kwargs})

    def design(self, target: Target, budget: int, *, seed: int = 0) -> DesignResult:
        """Roll out episodes on ``target`` within ``budget`` simulator calls, counted as
        the environment counts them (``info["sim_calls"]``: the first design, every edit,
        and whatever the environment's initial-design proposer spent)."""
        budget = check_budget(budget)
        env = self.make_env(target, budget)
        space = env.spec_.design_space
        spent, calls, calls_to_success = 0, 0, None  # spent: calls of finished episodes
        history: list[tuple[int, float]] = []
        score_history: list[tuple[int, float]] = []
        best_f2, best = -math.inf, None
        first = True
        while (first or budget - calls >= self.reset_calls(env)) and (
            first or (self.repeat and not (self.stop_on_success and calls_to_success is not None))
        ):
            obs, info = env.reset(seed=seed if first else None, options={"target": target})
            first = False
            done = False
            while True:
                calls = spent + int(info["sim_calls"])
                if info["f2"] > best_f2:
                    best_f2 = info["f2"]
                    history.append((calls, best_f2))
                if calls_to_success is None and info["is_success"]:
                    calls_to_success = calls
                if best is None or info["score"] > best[0]:
                    best = (info["score"], obs[: space.dim].copy(), info)
                    score_history.append((calls, float(info["score"])))
                if done or calls >= budget:
                    break
                action, _ = self.policy.predict(obs, deterministic=True)
                obs, _, terminated, truncated, info = env.step(action)
                done = terminated or truncated
            spent = calls
            if not history or history[-1][0] != calls:
                history.append((calls, best_f2))
            if score_history[-1][0] != calls:
                score_history.append((calls, score_history[-1][1]))
        env.close()
        assert best is not None
        score, z, info = best
        z_t = torch.as_tensor(z, dtype=torch.float32)
        return DesignResult(
            target, space.to_formulation(z_t[None], validate=False),
            torch.as_tensor(info["release_curve"]), info["f2"], score, info["cost"], calls,
            calls_to_success, history, self.name, z_t, score_history,
        )  # fmt: skip


# -- suites ---------------------------------------------------------------------------------


def run_suite(
    method: DesignMethod,
    family: str,
    n: int = 32,
    seed: int = 0,
    budget: int = 500,
    design_space: DesignSpace | None = None,
) -> list[DesignResult]:
    """Design every target of ``benchmark_suite(family, n, seed)`` with ``budget`` calls
    each; the method is run with ``seed`` on every target (common random numbers)."""
    return [
        method.design(target, budget, seed=seed)
        for target in benchmark_suite(family, n, seed, design_space)
    ]


def results_table(results: list[DesignResult]) -> list[dict[str, Any]]:
    """One JSON-serialisable row per result: method, target index, family, best f2,
    score, success, calls to success, simulator calls and cost."""
    return [
        {
            "method": r.method,
            "target": i,
            "family": r.target.family,
            "best_f2": float(r.f2),
            "score": float(r.score),
            "success": r.success,
            "calls_to_success": r.calls_to_success,
            "sim_calls": int(r.sim_calls),
            "cost": float(r.cost),
        }
        for i, r in enumerate(results)
    ]


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Aggregate :func:`results_table` rows: success rate, median calls to success
    (over the successes), mean best f2 and mean simulator calls."""
    if not rows:
        raise ValueError("no rows to summarize")
    calls = [r["calls_to_success"] for r in rows if r["success"]]
    return {
        "n": len(rows),
        "success_rate": sum(r["success"] for r in rows) / len(rows),
        "median_calls_to_success": float(np.median(calls)) if calls else None,
        "mean_best_f2": float(np.mean([r["best_f2"] for r in rows])),
        "mean_sim_calls": float(np.mean([r["sim_calls"] for r in rows])),
    }


def main(argv: list[str] | None = None) -> None:
    """Compare the baselines on benchmark suites and print one summary line per
    (family, method)::

        python -c "from agents.baselines import main; main()" --families realisable sustained

    (``python -m agents.baselines`` works too, with a harmless ``runpy`` warning because
    ``agents`` imports this module.)
    """
    import argparse
    import json
    import time

    parser = argparse.ArgumentParser(prog="agents.baselines", description=main.__doc__)
    parser.add_argument("--families", nargs="+", default=["realisable", "sustained"])
    parser.add_argument("--methods", nargs="+", default=["random", "cmaes", "gradient"],
                        choices=["random", "cmaes", "gradient"])  # fmt: skip
    parser.add_argument("--n", type=int, default=10, help="targets per suite")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--budget", type=int, default=500, help="simulator calls per target")
    parser.add_argument("--success-f2", type=float, default=50.0)
    parser.add_argument("--no-stop", action="store_true", help="spend the whole budget")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--json", default=None, help="write every row to this file")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    common = {"success_f2": args.success_f2, "stop_on_success": not args.no_stop,
              "device": args.device}  # fmt: skip
    factories = {"random": RandomSearch, "cmaes": CMAES, "gradient": GradientDescent}
    rows: list[dict[str, Any]] = []
    for family in args.families:
        for name in args.methods:
            start = time.perf_counter()
            table = results_table(
                run_suite(factories[name](**common), family, args.n, args.seed, args.budget)
            )
            s = summarize(table)
            print(
                f"{family:22s} {name:9s} success {s['success_rate']:5.0%}  median calls to "
                f"success {s['median_calls_to_success']}  mean best f2 {s['mean_best_f2']:5.1f}  "
                f"mean calls {s['mean_sim_calls']:5.1f}  ({time.perf_counter() - start:.1f} s)"
            )
            rows += table
    if args.json:
        from nanoenv.files import atomic_write

        atomic_write(args.json, json.dumps(rows, indent=1), name="--json")


if __name__ == "__main__":
    main()
