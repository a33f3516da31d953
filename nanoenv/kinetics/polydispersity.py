"""Release of a polydisperse batch: the size-weighted mean of the curves of its sizes.

A real batch is not one size. With particle radii log-normal,
``ln R ~ N(ln R_med, σ²)`` and ``σ² = ln(1 + PDI)`` (the dynamic-light-scattering
polydispersity index of a log-normal distribution: PDI = (σ_R/R̄)² of the moments,
ISO 22412:2017; Thomas, J. Colloid Interface Sci. 117 (1987) 187), the released
fraction of the batch is

    F_batch(t) = E[F(t; R)] = (1/√π) Σᵢ wᵢ F(t; R_med·exp(√2·σ·xᵢ))

by Gauss–Hermite quadrature (nodes ``xᵢ``, weights ``wᵢ``; Abramowitz & Stegun 25.4.46).
Every size-dependent quantity (diffusion path, burst share, a vesicle's leak rate) is
evaluated at each node, so the mixture is exact up to the quadrature error.

``radius_nm`` is the median of the *drug-mass* weighted distribution (each particle
carries drug in proportion to its volume, so this is the distribution over which the
released fraction averages). ``pdi = 0`` takes no quadrature at all: the curve is the
monodisperse one, bit for bit.

Batched (one simulator call on ``M·N`` rows for the ``M`` polydisperse designs and ``N``
nodes) and differentiable with respect to every parameter, ``pdi`` included for
``pdi > 0``; at exactly ``pdi = 0`` the returned gradient with respect to ``pdi`` is 0
(the mixture is even in ``σ``, and ``σ = √ln(1 + PDI)`` has no finite derivative there).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import numpy as np
import torch

from nanoenv.kinetics.conditions import ReleaseConditions
from nanoenv.kinetics.drug import DRUG_FIELDS, Drug
from nanoenv.kinetics.formulation import PARAMETER_INDEX, Formulation

__all__ = ["QUADRATURE_NODES", "lognormal_nodes", "polydisperse_release"]

#: Gauss–Hermite nodes per design: 9 reproduce a 64-node quadrature to < 1e-3 in released
#: fraction up to PDI 0.5 (tested).
QUADRATURE_NODES = 9


@functools.cache
def _hermite(n: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    x, w = np.polynomial.hermite.hermgauss(n)
    return tuple(x.tolist()), tuple((w / math.sqrt(math.pi)).tolist())


def lognormal_nodes(
    pdi: torch.Tensor, nodes: int = QUADRATURE_NODES
) -> tuple[torch.Tensor, torch.Tensor]:
    """Radius multipliers and weights of a log-normal size distribution.

    :param pdi: ``(M,)`` polydispersity indices ≥ 0.
    :param nodes: quadrature nodes ``N``.
    :returns: ``(scale, weights)``: ``(M, N)`` multipliers ``exp(√2·σ·xᵢ)`` of the median
        radius and ``(N,)`` weights summing to 1.
    """
    x, w = _hermite(nodes)
    x_t = torch.tensor(x, dtype=pdi.dtype, device=pdi.device)
    w_t = torch.tensor(w, dtype=pdi.dtype, device=pdi.device)
    variance = torch.log1p(pdi.abs())  # even extension below 0 (invalid input anyway)
    sigma = torch.sqrt(torch.where(variance > 0, variance, 1.0)) * (variance > 0)
    return torch.exp(math.sqrt(2.0) * sigma[:, None] * x_t), w_t


def _rows(tensor: torch.Tensor, index: torch.Tensor, repeats: int) -> torch.Tensor:
    return tensor.index_select(0, index).repeat_interleave(repeats, dim=0)


def polydisperse_release(
    formulation: Formulation,
    times_h: torch.Tensor,
    conditions: ReleaseConditions,
    drug: Drug,
    curve: Callable[[Formulation, torch.Tensor, ReleaseConditions, Drug], torch.Tensor],
    nodes: int = QUADRATURE_NODES,
) -> torch.Tensor:
    """Curves of ``B`` designs, averaging over the size distribution of those with
    ``pdi > 0``.

    :param formulation: ``B`` designs (validated by the caller).
    :param times_h: ``(T,)`` or ``(B, T)`` times, hours.
    :param conditions: shared ``(K,)`` or per-design ``(B, K)`` schedule.
    :param drug: one drug or one per design.
    :param curve: the monodisperse simulator, ``curve(formulation, times_h, conditions,
        drug) -> (B, T)`` (every design is treated as monodisperse at its radius).
    :param nodes: Gauss–Hermite nodes per polydisperse design.
    :returns: ``(B, T)`` released fractions.
    """
    pdi = formulation.values[:, PARAMETER_INDEX["pdi"]]
    spread = pdi != 0
    if not bool(spread.any()):
        return curve(formulation, times_h, conditions, drug)
    index = torch.nonzero(spread).reshape(-1)
    m = index.numel()
    scale, weights = lognormal_nodes(pdi.index_select(0, index), nodes)
    values = _rows(formulation.values, index, nodes)
    radius = PARAMETER_INDEX["radius_nm"]
    factor = torch.ones_like(values)
    factor = factor.index_copy(
        1, torch.tensor([radius], device=values.device), scale.reshape(-1, 1)
    )
    values = values * factor
    expanded = Formulation(values, _rows(formulation.carrier, index, nodes), validate=False)

    sub_conditions = conditions
    if conditions.batch_size is not None:
        sub_conditions = ReleaseConditions(
            **{
                name: _rows(getattr(conditions, name), index.to(conditions.start_h.device), nodes)
                for name in conditions.__dataclass_fields__
            }
        )
    sub_drug = drug
    if torch.as_tensor(drug.mw_g_mol).numel() > 1:
        sub_drug = Drug(
            drug.name,
            **{
                key: _rows(torch.as_tensor(getattr(drug, key)), index.cpu(), nodes)
                for key in DRUG_FIELDS
            },
        )
    sub_times = _rows(times_h, index, nodes) if times_h.dim() == 2 else times_h
    curves = curve(expanded, sub_times, sub_conditions, sub_drug).reshape(m, nodes, -1)
    mixture = (curves * weights[None, :, None]).sum(1).clamp(0.0, 1.0)
    if m == len(formulation):
        return mixture
    return curve(formulation, times_h, conditions, drug).index_copy(0, index, mixture)
