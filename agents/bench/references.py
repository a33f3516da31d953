"""Reference optima and random floors of suite targets (``nanoenv bench references``).

For every target the **oracle** spends a large simulator budget on three searches and
keeps the best design by the family's reward-model score:

* multi-start gradient ascent through the differentiable simulator
  (:class:`~agents.baselines.GradientDescent`, ``starts`` Adam runs in one batch, stalled
  starts re-drawn);
* CMA-ES with restarts from random points (:class:`~agents.baselines.CMAES`);
* a uniform random screen (:class:`~agents.baselines.RandomSearch`).

The **floor** is the median score (and median f2) of ``floor_samples`` uniformly random
designs, drawn separately. Everything is seeded from the target's index, so a reference
rebuilt on any machine is the same up to floating-point summation order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from agents.baselines import CMAES, GradientDescent, ProblemCache, RandomSearch, Search
from nanoenv.bench import Reference
from nanoenv.tasks import Target

__all__ = ["OracleSettings", "build_reference", "build_references", "random_floor"]


@dataclass(frozen=True)
class OracleSettings:
    """Budgets of the oracle, in simulator calls per target.

    :param gradient_calls: multi-start gradient ascent (``gradient_starts`` per step).
    :param gradient_starts: parallel starts of the gradient ascent.
    :param cmaes_calls: CMA-ES with restarts.
    :param random_calls: uniform random screen.
    :param floor_samples: random designs whose median score is the floor.
    :param device: ``"cpu"`` or ``"cuda"``.
    """

    gradient_calls: int = 3200
    gradient_starts: int = 16
    cmaes_calls: int = 2000
    random_calls: int = 2048
    floor_samples: int = 1024
    device: str = "cpu"

    def __post_init__(self) -> None:
        for name in (
            "gradient_calls",
            "gradient_starts",
            "cmaes_calls",
            "random_calls",
            "floor_samples",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or int(value) != value or value < 1:
                raise ValueError(f"{name}={value!r} must be a positive number of simulator calls")

    @property
    def total_calls(self) -> int:
        return self.gradient_calls + self.cmaes_calls + self.random_calls


def random_floor(
    target: Target, samples: int, seed: int, device: str = "cpu"
) -> tuple[float, float]:
    """``(median score, median f2)`` of ``samples`` uniformly random designs for ``target``."""
    problem = ProblemCache(None, None, 50.0, device, None)
    spec = problem.spec(target)
    search = Search(spec, target, samples, "floor")
    z = spec.design_space.sample(samples, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        ev = search.evaluate(z.to(spec.device))
    return float(ev.reward.score.double().median()), float(ev.f2.double().median())


def build_reference(target: Target, index: int, settings: OracleSettings) -> Reference:
    """The oracle's best design for ``target`` (the ``index``-th of its family) and the floor."""
    common: dict[str, Any] = {"stop_on_success": False, "device": settings.device}
    seed = 1_000_003 * (index + 1)
    runs = [
        GradientDescent(starts=settings.gradient_starts, **common).design(
            target, settings.gradient_calls, seed=seed
        ),
        CMAES(x0="random", **common).design(target, settings.cmaes_calls, seed=seed + 1),
        RandomSearch(batch_size=512, **common).design(target, settings.random_calls, seed=seed + 2),
    ]
    best = max(runs, key=lambda r: r.score)
    floor, floor_f2 = random_floor(target, settings.floor_samples, seed + 3, settings.device)
    assert best.z is not None
    return Reference(
        score=float(best.score),
        f2=float(best.f2),
        floor=floor,
        floor_f2=floor_f2,
        design=best.formulation.to_dicts()[0],
        z=[float(v) for v in best.z.tolist()],
        oracle_calls=sum(r.sim_calls for r in runs),
        floor_samples=settings.floor_samples,
    )


def build_references(
    targets: Sequence[Target],
    settings: OracleSettings = OracleSettings(),
    progress: bool = True,
    desc: str = "references",
) -> list[Reference]:
    """:func:`build_reference` for every target, with a progress bar."""
    iterator: Any = enumerate(targets)
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(iterator, total=len(targets), desc=desc, unit="target", dynamic_ncols=True)
    return [build_reference(t, i, settings) for i, t in iterator]
