"""The search baselines: uniform random search, CMA-ES and gradient ascent through the
differentiable simulator."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

from agents.baselines.search import DesignResult, SearchMethod
from nanoenv.tasks import Target

Tensor = torch.Tensor


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
