"""Sample-and-screen: draw ``M`` candidates from a prior, simulate them in one batch,
keep the best ``k``; and the same screening as an environment's initial designer.

Scores are computed with the environment's own machinery
(:func:`nanoenv.envs.problem.evaluate`), so the f2 reported here is the f2 the
environments and :mod:`agents.baselines` report for the same design. One simulated
candidate counts as one simulator call.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from agents.prior.models import GenerativePrior
from nanoenv.design_space import DesignSpace
from nanoenv.envs.problem import ProblemSpec, evaluate, target_batch
from nanoenv.kinetics import Formulation
from nanoenv.targets import TargetBatch
from nanoenv.tasks import TASK_FAMILIES, Target

__all__ = [
    "PriorDesigner",
    "ScreenResult",
    "check_prior",
    "diversity",
    "problem_spec",
    "sample_and_screen",
    "screen_designs",
]


@dataclass
class ScreenResult:
    """The best ``k`` of ``M`` screened candidates for one target.

    :param target: the target.
    :param z: ``(k, dim)`` normalised designs, best first (CPU).
    :param formulation: the ``k`` designs in physical units.
    :param release: ``(k, 24)`` their release curves on the target's grid (fractions).
    :param f2: ``(k,)`` their f2 similarity to the target.
    :param score: ``(k,)`` their reward-model score (f2/100 by default).
    :param cost: ``(k,)`` their stability / manufacturability cost.
    :param all_f2: ``(M,)`` f2 of every candidate, in draw order.
    :param sim_calls: simulator calls spent (``M``).
    :param in_bounds: share of the ``M`` candidates inside the design space's bounds.
    :param physical: share with a finite simulated release curve in ``[0, 1]``.
    :param feasible: share with a finite release curve in ``[0, 1]`` and zero stability cost.
    :param validity: share both in bounds and feasible.
    :param diversity: mean pairwise Euclidean distance of the ``M`` candidates in normalised
        coordinates (uniform draws in the 11-D polymer space give about 2.6).
    :param calls_to_success: index (1-based) of the first candidate with ``f2 ≥ success_f2``
        in draw order, ``None`` if none.
    """

    target: Target
    z: torch.Tensor
    formulation: Formulation
    release: torch.Tensor
    f2: torch.Tensor
    score: torch.Tensor
    cost: torch.Tensor
    all_f2: torch.Tensor
    sim_calls: int
    in_bounds: float
    physical: float
    feasible: float
    validity: float
    diversity: float
    calls_to_success: int | None


def diversity(z: torch.Tensor) -> float:
    """Mean pairwise Euclidean distance of the rows of ``z`` (``(M, dim)``; 0 if ``M < 2``)."""
    if z.shape[0] < 2:
        return 0.0
    d = torch.cdist(z.double()[None], z.double()[None])[0]
    m = z.shape[0]
    return float(d.sum() / (m * (m - 1)))


_SPECS: dict[tuple[str, str], ProblemSpec] = {}
#: Family whose problem settings (f2 reward) score targets of no registered family.
_GENERIC = {"polymer": "realisable", "liposome": "dataset_liposome"}


def problem_spec(
    target: Target, device: str | torch.device = "cpu", success_f2: float = 50.0
) -> ProblemSpec:
    """The environment settings a prior's designs are scored with: the target family's
    reward model and success threshold (``f2 ≥ success_f2``) in the carrier's *default*
    design space,
    where the priors live (also for the ``dataset`` family, whose environments use a
    microparticle space). Targets of no registered family (e.g. from ``nanoenv design``)
    are scored with the f2 reward."""
    carrier = target.carrier.name.lower()
    family = target.family if target.family in TASK_FAMILIES else _GENERIC[carrier]
    key = (family, str(device), float(success_f2))
    if key not in _SPECS:
        _SPECS[key] = ProblemSpec.create(
            task=family,
            design_space=DesignSpace.for_carrier(carrier),
            device=device,
            success_f2=success_f2,
        )
    return _SPECS[key]


def screen_designs(
    target: Target,
    z: torch.Tensor,
    k: int,
    *,
    spec: ProblemSpec | None = None,
    device: str | torch.device = "cpu",
) -> ScreenResult:
    """Simulate the ``(M, dim)`` candidates ``z`` on ``target`` in one batched call and keep
    the best ``k`` (by the reward model's score). Used for prior and random candidates."""
    spec = spec or problem_spec(target, device)
    space = spec.design_space
    if z.dim() != 2 or z.shape[1] != space.dim or z.shape[0] < 1:
        raise ValueError(f"candidates must have shape (M, {space.dim}); got {tuple(z.shape)}")
    if not 1 <= k:
        raise ValueError(f"k={k} must be a positive number of designs to keep")
    m = z.shape[0]
    k = min(k, m)
    table = target_batch(spec, [target]).select(torch.zeros(m, dtype=torch.long))
    finite = torch.isfinite(z).all(1)
    zc = torch.nan_to_num(z.float(), nan=0.0).clamp(-1.0, 1.0).to(spec.device)
    with torch.no_grad():
        ev = evaluate(spec, table, zc)
    release = ev.release.detach().cpu()
    score = ev.reward.score.detach().cpu()
    f2 = ev.f2.detach().cpu()
    cost = ev.reward.cost.detach().cpu() if ev.reward.cost is not None else torch.zeros(m)
    inside = finite.cpu() & ((z.cpu() >= -1 - 1e-6) & (z.cpu() <= 1 + 1e-6)).all(1)
    curve_ok = (
        torch.isfinite(release).all(1) & (release >= -1e-6).all(1) & (release <= 1 + 1e-6).all(1)
    )
    feasible = curve_ok & (cost <= 0)
    order = torch.argsort(score.masked_fill(~torch.isfinite(score), -math.inf), descending=True)
    best = order[:k]
    hits = torch.nonzero(f2 >= spec.success_f2)
    zb = zc[best.to(zc.device)].detach().cpu()
    return ScreenResult(
        target=target,
        z=zb,
        formulation=space.to_formulation(zb, validate=False),
        release=release[best],
        f2=f2[best],
        score=score[best],
        cost=cost[best],
        all_f2=f2,
        sim_calls=m,
        in_bounds=float(inside.float().mean()),
        physical=float(curve_ok.float().mean()),
        feasible=float(feasible.float().mean()),
        validity=float((inside & feasible).float().mean()),
        diversity=diversity(z.cpu().float()),
        calls_to_success=int(hits[0]) + 1 if len(hits) else None,
    )


def check_prior(prior: GenerativePrior, target: Target) -> None:
    """A ``ValueError`` unless ``prior`` proposes designs of ``target``'s carrier."""
    space = DesignSpace.for_carrier(target.carrier)
    if prior.dim != space.dim or prior.carrier != target.carrier.name.lower():
        raise ValueError(
            f"the prior is for {prior.carrier} designs ({prior.dim} coordinates) but the target "
            f"is for {target.carrier.name.lower()} carriers ({space.dim} coordinates)"
        )


def sample_and_screen(
    prior: GenerativePrior,
    target: Target,
    m: int = 64,
    k: int = 5,
    seed: int = 0,
    device: str | torch.device = "cpu",
    *,
    temperature: float = 1.0,
) -> ScreenResult:
    """Draw ``m`` designs from ``prior`` for ``target``, simulate them in one batched
    simulator call (``m`` calls) and return the best ``k`` with validity and diversity.

    :param prior: a trained prior for the target's carrier family.
    :param target: the target (its curve, medium, drug and horizon condition the prior).
    :param m: candidates drawn and simulated.
    :param k: designs kept (best first).
    :param seed: seed of the prior's noise.
    :param device: device of the simulation.
    :param temperature: scale of the prior's base noise.
    """
    if isinstance(m, bool) or int(m) != m or m < 1:
        raise ValueError(f"m={m!r} must be a positive number of candidates (simulator calls)")
    check_prior(prior, target)
    cond = TargetBatch.from_targets([target]).condition_vector()
    gen = torch.Generator().manual_seed(int(seed))
    z = prior.sample(cond, int(m), generator=gen, temperature=temperature)[0]
    return screen_designs(target, z, k, device=device)


class PriorDesigner:
    """An :class:`~nanoenv.envs.problem.InitialDesigner`: the best of ``m`` prior samples
    for each resetting environment's target (``m`` simulator calls each, reported).

    Each environment's noise is seeded from its own generator, so a vector environment
    and single environments propose the same designs. All targets' candidates are
    simulated in one batched call.

    :param prior: a trained prior for the environments' carrier family.
    :param m: candidates per target.
    :param device: device of the screening simulation.
    :param temperature: scale of the prior's base noise.
    """

    def __init__(
        self,
        prior: GenerativePrior,
        m: int = 8,
        device: str | torch.device = "cpu",
        temperature: float = 1.0,
    ) -> None:
        if m < 1:
            raise ValueError(f"m={m} must be a positive number of candidates")
        self.prior = prior
        self.m = int(m)
        self.max_calls_per_design = self.m  # InitialDesigner: every candidate is simulated
        self.device = device
        self.temperature = float(temperature)

    def __call__(
        self, targets: Sequence[Target], rngs: Sequence[np.random.Generator]
    ) -> tuple[np.ndarray, np.ndarray]:
        n, m = len(targets), self.m
        for t in targets:
            check_prior(self.prior, t)
        spec = problem_spec(targets[0], self.device)
        table = target_batch(spec, targets)  # built once: conditions and scoring
        cond = table.condition_vector().cpu()
        noise = torch.stack(
            [
                torch.randn(
                    m,
                    self.prior.noise_dim,
                    generator=torch.Generator().manual_seed(int(rng.integers(2**62))),
                )
                for rng in rngs
            ]
        )
        z = self.prior.sample(cond, m, noise=noise, temperature=self.temperature)
        z = z.reshape(n * m, -1).cpu()
        # one batched simulation of every candidate of every target
        table = table.select(torch.arange(n).repeat_interleave(m))
        with torch.no_grad():
            score = evaluate(spec, table, z.to(spec.device)).reward.score.detach().cpu()
        best = score.reshape(n, m).argmax(1)
        chosen = z.reshape(n, m, -1)[torch.arange(n), best]
        return chosen.numpy().astype(np.float32), np.full(n, m, dtype=np.int64)
