"""Training pairs ``(design, condition)`` for the generative priors.

A pair is a normalised design ``z ∈ [-1, 1]^dim`` of a carrier's default design space
and the ``CONDITION_SIZE`` (81) float32 vector that
:meth:`nanoenv.targets.TargetBatch.condition_vector` computes for a target whose curve is
that design's release curve: the release on a 24-point :func:`~nanoenv.tasks.time_grid`,
pH and temperature of the medium on the grid (``(pH − 7.4)/2``, ``(T − 37 °C)/5``), and
nine task features (``log10(horizon/168 h)``, five drug descriptors, three patient
descriptors). Simulated pairs build it with :meth:`TargetBatch.from_tensors
<nanoenv.targets.TargetBatch.from_tensors>` from the contexts' media, drugs and patients.

Simulated pairs (:func:`make_training_pairs`)
    Uniform random designs, each simulated in one batched simulator call under a *context*
    (medium schedule, drug, horizon, patient) taken from targets drawn from task families
    (``families``). The time grid ends either at the context's own horizon or — with
    probability ``crossing_share`` — where the design's curve first reaches a random level
    in 50–99 % (as the ``realisable`` family builds its targets), so that most curves carry
    information rather than sitting flat at 0 or 1.

Real pairs (:func:`real_data_pairs`)
    The measured curves shipped in :mod:`nanoenv.data` (PLAI: Bannigan et al. 2023 for
    polymers; Yanes et al. 2025 for liposomes), interpolated onto the 24-point grid to their
    last measurement exactly as the ``dataset`` task families do, paired with the measured
    formulation mapped by :meth:`DesignSpace.to_normalized` into the carrier's default
    space and **clipped to** ``[-1, 1]``: the PLAI devices are microparticles to implants,
    so their radius always clips to 250 nm (the upper bound), and a few drug loadings clip
    to 40 %; for liposomes the LCST (no thermo lipid, LCST outside 35–50 °C) and some
    drug:lipid ratios, radii and zeta potentials clip. They are a small share of the
    training set (``real_fraction``) because the simulator does not reproduce every
    measured curve: they pull the prior toward formulations people actually make.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
import torch

from nanoenv.design_space import DesignSpace
from nanoenv.kinetics import Carrier, simulate_release
from nanoenv.targets import TargetBatch
from nanoenv.tasks import Target, get_family, measured_targets, time_grid

__all__ = [
    "DEFAULT_FAMILIES",
    "make_training_pairs",
    "real_data_pairs",
    "target_conditions",
]

#: Task families whose media, drugs, horizons and patients give the training contexts.
DEFAULT_FAMILIES: dict[str, tuple[str, ...]] = {
    "polymer": (
        "realisable",
        "sustained",
        "ph_triggered",
        "burst_then_sustained",
        "therapeutic_window",
    ),
    "liposome": ("thermal_triggered", "dataset_liposome"),
}
# probe grid for the level-crossing horizon: 1 h to 90 days, log-spaced (as tasks.py)
_PROBE_H = torch.logspace(0.0, math.log10(90 * 24.0), 48, dtype=torch.float64)


def target_conditions(
    targets: Sequence[Target], device: str | torch.device = "cpu"
) -> torch.Tensor:
    """``(n, CONDITION_SIZE)`` float32 conditions of targets
    (:meth:`TargetBatch.condition_vector <nanoenv.targets.TargetBatch.condition_vector>`)."""
    return TargetBatch.from_targets(list(targets)).condition_vector().to(device)


def _contexts(
    families: Sequence[str], carrier: Carrier, pool: int, rng: np.random.Generator
) -> TargetBatch:
    """``pool`` targets per family, whose media, drugs, horizons and patients give the
    training contexts (float64, CPU)."""
    targets: list[Target] = []
    for name in families:
        family = get_family(name)
        if family.carrier is not carrier:
            raise ValueError(
                f"families names {name!r}, a {family.carrier.name.lower()} task family; the "
                f"prior is for {carrier.name.lower()} carriers"
            )
        space = DesignSpace.for_carrier(carrier) if name != "dataset" else None
        seeds = rng.integers(2**63, size=pool)
        rngs = [np.random.default_rng(int(s)) for s in seeds]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            targets += family.sample_many(rngs, space)
    return TargetBatch.from_targets(targets)


def _simulated_pairs(
    n: int,
    space: DesignSpace,
    families: Sequence[str],
    rng: np.random.Generator,
    crossing_share: float,
    device: torch.device,
) -> tuple[torch.Tensor, torch.Tensor]:
    contexts = _contexts(families, space.carrier, max(1, min(512, n)), rng)
    pick = torch.as_tensor(rng.integers(len(contexts), size=n))
    ctx = contexts.select(pick)
    horizon = ctx.times_h[:, -1].clone()
    z = torch.as_tensor(rng.uniform(-1.0, 1.0, size=(n, space.dim)))
    formulation = space.to_formulation(z.to(device), validate=False)
    conditions_d, drug_d = ctx.conditions.to(device), ctx.drug.to(device)
    # horizon where the curve first reaches a random level in 50-99 % (realisable-style)
    probe = simulate_release(
        formulation, _PROBE_H.to(device).expand(n, -1), conditions_d, drug_d, validate=False
    ).cpu()
    level = torch.as_tensor(rng.uniform(0.5, 0.99, size=n))
    reached = probe >= level[:, None]
    first = torch.argmax(reached.to(torch.int8), dim=1)
    use = torch.as_tensor(rng.uniform(size=n) < crossing_share) & reached.any(1) & ~reached[:, 0]
    horizon[use] = _PROBE_H[first[use]]
    times = time_grid(1.0).unsqueeze(0) * horizon[:, None]
    release = simulate_release(formulation, times.to(device), conditions_d, drug_d, validate=False)
    pairs = TargetBatch.from_tensors(
        times_h=times,
        release=release.cpu(),
        conditions=ctx.conditions,
        drug=ctx.drug,
        patient=ctx.patient,
    )
    return z.float(), pairs.condition_vector()


def real_data_pairs(carrier: str | Carrier = "polymer") -> tuple[torch.Tensor, torch.Tensor, int]:
    """Pairs from the measured curves in :mod:`nanoenv.data` (mapping in the module doc).

    :returns: ``(z (n, dim), conditions (n, CONDITION_SIZE), n_clipped)``: designs clipped
        to ``[-1, 1]`` and how many designs had at least one coordinate clipped.
    """
    from nanoenv.data import DataCleaningWarning, liposome_curves, plai_curves

    carrier = Carrier.parse(carrier)
    space = DesignSpace.for_carrier(carrier)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataCleaningWarning)
        curves = liposome_curves() if carrier is Carrier.LIPOSOME else plai_curves()
    dataset = "liposome" if carrier is Carrier.LIPOSOME else "plai"
    targets = measured_targets(dataset, carrier)
    z = space.to_normalized(curves.formulation).float()
    clipped = int(((z < -1) | (z > 1)).any(1).sum())
    return z.clamp(-1.0, 1.0), target_conditions(targets), clipped


def make_training_pairs(
    n: int,
    families: Sequence[str] | None = None,
    seed: int = 0,
    device: str | torch.device = "cpu",
    *,
    carrier: str | Carrier = "polymer",
    real_fraction: float = 0.02,
    crossing_share: float = 0.6,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` training pairs: ``(designs (n, dim), conditions (n, CONDITION_SIZE))``, float32
    on the CPU (details in the module docstring).

    :param n: number of pairs (``≥ 1``).
    :param families: task families giving the contexts (default
        :data:`DEFAULT_FAMILIES` of the carrier); all must design ``carrier``.
    :param seed: seed of every random draw.
    :param device: device of the simulator calls (``"cpu"`` or ``"cuda"``).
    :param carrier: ``"polymer"`` or ``"liposome"`` (its default design space).
    :param real_fraction: share of rows taken from :func:`real_data_pairs` (drawn with
        replacement), in ``[0, 1)``.
    :param crossing_share: share of simulated rows whose grid ends at a level crossing.
    """
    if isinstance(n, bool) or int(n) != n or n < 1:
        raise ValueError(f"n={n!r} must be a positive number of training pairs")
    if not 0.0 <= real_fraction < 1.0:
        raise ValueError(f"real_fraction={real_fraction} must be in [0, 1) (share of rows)")
    if not 0.0 <= crossing_share <= 1.0:
        raise ValueError(f"crossing_share={crossing_share} must be in [0, 1] (share of rows)")
    carrier = Carrier.parse(carrier)
    key = "liposome" if carrier is Carrier.LIPOSOME else "polymer"
    families = tuple(families) if families is not None else DEFAULT_FAMILIES[key]
    rng = np.random.default_rng(seed)
    space = DesignSpace.for_carrier(carrier)
    n_real = min(round(real_fraction * n), n - 1)
    z, cond = _simulated_pairs(
        n - n_real, space, families, rng, crossing_share, torch.device(device)
    )
    if n_real:
        rz, rc, _ = real_data_pairs(carrier)
        pick = torch.as_tensor(rng.integers(len(rz), size=n_real))
        z, cond = torch.cat([z, rz[pick]]), torch.cat([cond, rc[pick]])
    perm = torch.as_tensor(rng.permutation(n))
    return z[perm], cond[perm]
