"""Reward models of the delivery task families: ``targeted``, ``theranostic``, ``robust``
and ``population``.

Each is a :class:`~nanoenv.rewards.RewardModel` (batched torch in, ``(B,)`` score in
``[0, 1]`` and a constraint cost out) and also a **multi-objective** reward: it names its
objectives (:attr:`objective_names`, every one in ``[0, 1]``, higher is better) and
returns them as a ``(B, m)`` tensor from :meth:`objectives`; the scalar score is a fixed
scalarisation of them (documented per class) that single-objective agents and the
benchmark use. :class:`nanoenv.envs.multi_objective.MultiObjectiveFormulationDesign`
turns the objectives into MO-Gymnasium reward vectors.

========================  ===================================  ==========================
reward                    objectives                           score
========================  ===================================  ==========================
``targeted``              tumour efficacy, selectivity         product
``theranostic``           release f2/100, T2 contrast          product
``robust_f2``             expected f2/100, worst-decile f2/100  mean of the two
``population_window``     mean, worst-decile time in window     mean over patients
========================  ===================================  ==========================
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from nanoenv.kinetics import (
    PARAMETER_INDEX,
    PARAMETERS,
    Formulation,
    SimulatorConstants,
    resolve_constants,
    simulate_release,
)
from nanoenv.kinetics.biodistribution import Physiology, simulate_biodistribution
from nanoenv.kinetics.imaging import FE_PER_MAGNETITE_MASS, t2_relaxivity
from nanoenv.kinetics.pk import concentration_from_release, smooth_therapeutic_window_time
from nanoenv.metrics import f2_similarity
from nanoenv.rewards.base import RewardOutput, register_reward_model
from nanoenv.rewards.builtin import stability_cost
from nanoenv.targets import PatientBatch, TargetBatch

__all__ = [
    "DELIVERY_REWARDS",
    "PopulationWindowReward",
    "RobustF2Reward",
    "TargetedDeliveryReward",
    "TheranosticReward",
    "VirtualPopulation",
    "manufacturability_cost",
]

Tensor = torch.Tensor


def _col(formulation: Formulation, name: str) -> Tensor:
    return formulation.values[:, PARAMETER_INDEX[name]]


def _patient(targets: TargetBatch, family: str) -> PatientBatch:
    """The targets' patients; every row must have one."""
    patient = targets.patient
    if patient is None or not bool(patient.present.all()):
        raise ValueError(
            "this reward needs a patient (dose, clearance, volume, MEC, MTC) on every target; "
            f"use the {family!r} task family"
        )
    return patient


# -- targeted ------------------------------------------------------------------------------


class TargetedDeliveryReward:
    """Tumour exposure of the released drug relative to healthy tissue and plasma.

    The design's release curve feeds :func:`nanoenv.kinetics.biodistribution.
    simulate_biodistribution` (size, PEG and ζ set where the particles go; the target's
    patient gives the dose, the free drug's clearance and volume). With ``a_x`` the area
    under the free-drug concentration in compartment ``x`` to the horizon:

    * **efficacy** ``1 − exp(−C̄_t/MEC)``, ``C̄_t = dose · a_tumour / horizon`` the mean free
      drug concentration in the tumour and MEC the target's (``patient.mec_mg_l``);
    * **selectivity** ``ρ/(ρ + ρ½)``, ``ρ = a_tumour / ((a_plasma + a_healthy)/2)`` the
      tumour-to-off-target exposure ratio and ``ρ½ = 4`` (free drug alone gives ρ ≈ 1,
      selectivity 0.2).

    Score = efficacy · selectivity, cost = :func:`nanoenv.rewards.stability_cost`. Slow
    release raises selectivity (the drug leaves the particles after they reach the tumour)
    but, past the horizon, lowers efficacy: the trade-off the family asks for.

    :param half_ratio: ρ½, dimensionless > 0.
    :param physiology: constants of the biodistribution model (default
        :class:`~nanoenv.kinetics.biodistribution.Physiology`).
    """

    name = "targeted"
    objective_names = ("efficacy", "selectivity")

    def __init__(self, half_ratio: float = 4.0, physiology: Physiology | None = None) -> None:
        if not (math.isfinite(half_ratio) and half_ratio > 0):
            raise ValueError(f"half_ratio={half_ratio!r} must be a positive finite ratio")
        self.half_ratio = float(half_ratio)
        self.physiology = physiology or Physiology()

    def objectives(self, release: Tensor, targets: TargetBatch, formulation: Formulation) -> Tensor:
        """``(B, 2)`` efficacy and selectivity, each in ``[0, 1]``."""
        patient = _patient(targets, "targeted")
        dose, clearance, volume, mec = (
            getattr(patient, k).to(release)
            for k in ("dose_mg", "clearance_l_h", "volume_l", "mec_mg_l")
        )
        times = targets.times_h.to(release.dtype)
        bio = simulate_biodistribution(
            times,
            release.clamp(0.0, 1.0),
            _col(formulation, "radius_nm").to(release.dtype),
            _col(formulation, "peg_fraction").to(release.dtype),
            _col(formulation, "zeta_mv").to(release.dtype),
            clearance,
            volume,
            physiology=self.physiology,
            validate=False,
        )
        a_plasma, a_tumour, a_healthy, _ = bio.exposure.unbind(1)
        horizon = times[:, -1] - times[:, 0]
        efficacy = -torch.expm1(-dose * a_tumour / horizon / mec)
        ratio = a_tumour / ((a_plasma + a_healthy) / 2.0).clamp(min=1e-12)
        selectivity = ratio / (ratio + self.half_ratio)
        return torch.stack([efficacy, selectivity], 1)

    def __call__(
        self, release: Tensor, targets: TargetBatch, formulation: Formulation
    ) -> RewardOutput:
        obj = self.objectives(release, targets, formulation)
        return RewardOutput(obj.prod(1), stability_cost(formulation))


# -- theranostic ---------------------------------------------------------------------------


class TheranosticReward:
    """Release that matches the target curve, by a particle visible on T2-weighted MRI.

    * **release**: ``f2/100`` against the target curve (FDA 1997);
    * **contrast**: T2 signal loss ``1 − exp(−TE·r2·[Fe])`` in the tumour at
      ``imaging_h`` after an injection of ``dose_mg`` of drug, with ``r2`` from the core
      (:func:`nanoenv.kinetics.imaging.t2_relaxivity`) and ``[Fe]`` the iron the particles
      that reached the tumour carry (:func:`nanoenv.kinetics.biodistribution.
      particle_rates`; ``dose/drug_loading`` mg of particles, a ``magnetic_core_fraction``
      of magnetite).

    Score = release · contrast (a particle the scanner cannot see scores 0); cost =
    :func:`nanoenv.rewards.stability_cost` plus the mass fractions beyond what the matrix
    can hold (drug + magnetite + PEG above 0.7).

    :param dose_mg: drug dose, mg.
    :param imaging_h: scan time after injection, h.
    :param echo_time_s: echo time, s.
    """

    name = "theranostic"
    objective_names = ("release_f2", "t2_contrast")

    def __init__(
        self, dose_mg: float = 100.0, imaging_h: float = 24.0, echo_time_s: float = 0.01
    ) -> None:
        for key, value in (
            ("dose_mg", dose_mg),
            ("imaging_h", imaging_h),
            ("echo_time_s", echo_time_s),
        ):
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{key}={value!r} must be positive and finite")
        self.dose_mg, self.imaging_h, self.echo_time_s = dose_mg, imaging_h, echo_time_s
        self.physiology = Physiology()

    def contrast(self, formulation: Formulation) -> Tensor:
        """``(B,)`` T2 signal loss in the tumour at ``imaging_h``."""
        radius = _col(formulation, "radius_nm")
        phi = _col(formulation, "magnetic_core_fraction")
        loading = _col(formulation, "drug_loading").clamp(min=1e-3)
        b = radius.shape[0]
        times = torch.linspace(0.0, self.imaging_h, 4, dtype=radius.dtype, device=radius.device)
        bio = simulate_biodistribution(
            times,
            torch.zeros(b, 4, dtype=radius.dtype, device=radius.device),
            radius,
            _col(formulation, "peg_fraction"),
            _col(formulation, "zeta_mv"),
            validate=False,
        )
        in_tumour = bio.particles[:, -1, 1]
        iron_mm = (
            in_tumour
            * self.dose_mg
            / loading
            * phi
            * FE_PER_MAGNETITE_MASS
            / 55.845
            / self.physiology.tumour_volume_l
        )
        return -torch.expm1(-self.echo_time_s * t2_relaxivity(radius, phi) * iron_mm)

    def objectives(self, release: Tensor, targets: TargetBatch, formulation: Formulation) -> Tensor:
        """``(B, 2)`` release f2/100 and T2 contrast."""
        f2 = f2_similarity(release, targets.release, validate=False) / 100.0
        return torch.stack([f2, self.contrast(formulation).to(f2.dtype)], 1)

    def __call__(
        self, release: Tensor, targets: TargetBatch, formulation: Formulation
    ) -> RewardOutput:
        obj = self.objectives(release, targets, formulation)
        crowded = (
            torch.relu(
                _col(formulation, "drug_loading")
                + _col(formulation, "magnetic_core_fraction")
                + _col(formulation, "peg_fraction")
                - 0.7
            )
            / 0.3
        )
        return RewardOutput(obj.prod(1), stability_cost(formulation) + crowded.to(obj.dtype))


# -- robust --------------------------------------------------------------------------------


def manufacturability_cost(formulation: Formulation) -> Tensor:
    """Stability cost (:func:`nanoenv.rewards.stability_cost`) plus what is hard to make at
    scale, 0 for an unproblematic design (a heuristic, documented as such):

    * radius below 50 nm: below the ~100-300 nm diameters that emulsion and
      nanoprecipitation routes give PLGA particles without microfluidics (Hernández-Giottonini
      et al., RSC Adv. 10, 4218 (2020)); cost ``(50 − R)/50``;
    * drug loading above 25 % w/w, where encapsulation efficiency drops; ``(L − 0.25)/0.25``.
    """
    radius = _col(formulation, "radius_nm")
    loading = _col(formulation, "drug_loading")
    is_polymer = ~formulation.is_liposome()
    extra = torch.relu(50.0 - radius) / 50.0 + torch.relu(loading - 0.25) / 0.25 * is_polymer
    return stability_cost(formulation) + extra


class RobustF2Reward:
    """f2 under batch-to-batch manufacturing variability.

    Every design is simulated as ``draws`` manufactured batches: radius × exp(ε_R) with
    ε_R ~ N(0, ``size_cv``) (±10 % at the default), PDI + |N(0, ``pdi_sd``)|, drug loading
    × exp(ε_L) with ε_L ~ N(0, ``loading_cv``), each clamped to the parameter's physical
    range. The draws are fixed by ``seed`` (common random numbers: the same design always
    scores the same, and the score is differentiable). Objectives: the expected f2/100
    over the batches and the worst decile's (mean of the lowest 10 %); score = their
    mean; cost = :func:`manufacturability_cost`.

    The batches are released in the targets' medium (``TargetBatch.conditions``) with their
    drug (``TargetBatch.drug``).

    :param draws: manufactured batches per design (≥ 10).
    :param size_cv: log-normal spread of the radius.
    :param pdi_sd: half-normal spread added to the PDI.
    :param loading_cv: log-normal spread of the drug loading.
    :param constants: simulator constants (``"literature"``, ``"calibrated"`` or an object).
    :param seed: seed of the draws.
    """

    name = "robust_f2"
    objective_names = ("expected_f2", "worst_decile_f2")

    def __init__(
        self,
        draws: int = 16,
        size_cv: float = 0.1,
        pdi_sd: float = 0.05,
        loading_cv: float = 0.1,
        constants: SimulatorConstants | str = "literature",
        seed: int = 0,
    ) -> None:
        if isinstance(draws, bool) or int(draws) != draws or draws < 10:
            raise ValueError(f"draws={draws!r} must be an integer >= 10 (manufactured batches)")
        for key, value in (("size_cv", size_cv), ("pdi_sd", pdi_sd), ("loading_cv", loading_cv)):
            if not (math.isfinite(value) and 0.0 <= value <= 1.0):
                raise ValueError(f"{key}={value!r} must be in [0, 1] (dimensionless spread)")
        self.draws = int(draws)
        self.constants = resolve_constants(constants)
        gen = torch.Generator().manual_seed(seed)
        eps = torch.randn(self.draws, 3, generator=gen, dtype=torch.float64)
        self._factors = torch.stack(
            [
                torch.exp(size_cv * eps[:, 0]),
                pdi_sd * eps[:, 1].abs(),
                torch.exp(loading_cv * eps[:, 2]),
            ],
            1,
        )

    def batches(self, formulation: Formulation) -> Formulation:
        """The ``B·draws`` manufactured batches (design-major order)."""
        v = formulation.values
        f = self._factors.to(v)
        rep = v.repeat_interleave(self.draws, 0)
        tile = f.repeat(v.shape[0], 1)
        cols = [PARAMETER_INDEX[k] for k in ("radius_nm", "pdi", "drug_loading")]
        new = [
            rep[:, cols[0]] * tile[:, 0],
            rep[:, cols[1]] + tile[:, 1],
            rep[:, cols[2]] * tile[:, 2],
        ]
        for k, c in enumerate(cols):
            spec = PARAMETERS[c]
            new[k] = new[k].clamp(spec.low, spec.high)
        out = rep.clone()
        out[:, cols] = torch.stack(new, 1)
        return Formulation(out, formulation.carrier.repeat_interleave(self.draws, 0))

    def batch_f2(self, targets: TargetBatch, formulation: Formulation) -> Tensor:
        """``(B, draws)`` f2/100 of each manufactured batch (the targets' medium and drug)."""
        n, b = self.draws, formulation.values.shape[0]
        dtype = formulation.values.dtype
        rows = torch.arange(b, device=targets.release.device).repeat_interleave(n)
        rep = targets.select(rows).to(formulation.values.device, dtype)
        curves = simulate_release(
            self.batches(formulation),
            rep.times_h,
            rep.conditions,
            rep.drug,
            constants=self.constants,
            validate=False,
        )
        return (f2_similarity(curves, rep.release, validate=False) / 100.0).reshape(b, n)

    def objectives(self, release: Tensor, targets: TargetBatch, formulation: Formulation) -> Tensor:
        """``(B, 2)`` expected and worst-decile f2/100 over the manufactured batches."""
        f2 = self.batch_f2(targets, formulation)
        k = max(1, self.draws // 10)
        worst = torch.sort(f2, dim=1).values[:, :k].mean(1)
        return torch.stack([f2.mean(1), worst], 1).to(release.dtype)

    def __call__(
        self, release: Tensor, targets: TargetBatch, formulation: Formulation
    ) -> RewardOutput:
        obj = self.objectives(release, targets, formulation)
        return RewardOutput(obj.mean(1), manufacturability_cost(formulation).to(obj.dtype))


# -- population ----------------------------------------------------------------------------


@dataclass(frozen=True)
class VirtualPopulation:
    """Adult patients from covariates through documented population relations.

    Patient ``i`` has body weight ``W_i`` and creatinine clearance ``CrCl_i`` at the
    quantiles ``(k + 0.5)/n_side`` (``k = 0 … n_side − 1``) of log-normal distributions
    (a full factorial grid, ``n_side²`` patients), and

    * ``CL_i = CL_typ · ((1 − fe) + fe · CrCl_i / CrCl_ref) · (W_i / 70 kg)^0.75`` —
      renal clearance proportional to creatinine clearance (Dettli, Clin. Pharmacokinet.
      1, 126 (1976); creatinine clearance by Cockcroft & Gault, Nephron 16, 31 (1976)),
      allometric weight scaling with exponent 3/4 (Anderson & Holford, Annu. Rev.
      Pharmacol. Toxicol. 48, 303 (2008));
    * ``V_i = V_typ · (W_i / 70 kg)`` (Anderson & Holford 2008).

    :param weight_median_kg: median body weight, kg.
    :param weight_cv: log-normal spread of the weight.
    :param crcl_median_ml_min: median creatinine clearance, mL/min.
    :param crcl_cv: log-normal spread of the creatinine clearance.
    :param crcl_ref_ml_min: creatinine clearance of the typical patient, mL/min.
    :param renal_fraction: ``fe``, the fraction of the typical clearance that is renal.
    :param n_side: quantiles per covariate.
    """

    weight_median_kg: float = 70.0
    weight_cv: float = 0.25
    crcl_median_ml_min: float = 90.0
    crcl_cv: float = 0.4
    crcl_ref_ml_min: float = 100.0
    renal_fraction: float = 0.6
    n_side: int = 4

    def covariates(self) -> tuple[Tensor, Tensor]:
        """``(n,)`` weights (kg) and creatinine clearances (mL/min)."""
        q = (torch.arange(self.n_side, dtype=torch.float64) + 0.5) / self.n_side
        z = math.sqrt(2.0) * torch.erfinv(2.0 * q - 1.0)
        w = self.weight_median_kg * torch.exp(self.weight_cv * z)
        c = self.crcl_median_ml_min * torch.exp(self.crcl_cv * z)
        return w.repeat_interleave(self.n_side), c.repeat(self.n_side)

    def scales(self) -> tuple[Tensor, Tensor]:
        """``(n,)`` multipliers of the typical clearance and volume."""
        w, c = self.covariates()
        fe = self.renal_fraction
        cl = ((1.0 - fe) + fe * c / self.crcl_ref_ml_min) * (w / 70.0) ** 0.75
        return cl, w / 70.0


class PopulationWindowReward:
    """One design for a population: time in the therapeutic window across virtual patients.

    The target's patient is the typical adult (clearance and volume at 70 kg and CrCl
    100 mL/min, the dose, MEC and MTC); :class:`VirtualPopulation` turns it into ``n``
    patients. For each, the smooth time-in-window share of the horizon (one-compartment
    PK, as :class:`nanoenv.rewards.TherapeuticWindowReward`). Objectives: the mean share
    and the worst decile's; score = the mean; cost = stability cost.

    :param population: the covariate distribution.
    :param sharpness_fraction: smoothing width as a fraction of MEC.
    """

    name = "population_window"
    objective_names = ("mean_in_window", "worst_decile_in_window")

    def __init__(
        self, population: VirtualPopulation = VirtualPopulation(), sharpness_fraction: float = 0.05
    ) -> None:
        self.population = population
        self.sharpness_fraction = sharpness_fraction
        self._cl, self._v = population.scales()

    def shares(self, release: Tensor, targets: TargetBatch) -> Tensor:
        """``(B, n)`` share of the horizon each virtual patient spends in the window."""
        patient = _patient(targets, "population")
        dose, clearance, volume, mec, mtc = (
            getattr(patient, k).to(release)
            for k in ("dose_mg", "clearance_l_h", "volume_l", "mec_mg_l", "mtc_mg_l")
        )
        n = self._cl.shape[0]
        cl = (clearance[:, None] * self._cl.to(release)).reshape(-1)
        vol = (volume[:, None] * self._v.to(release)).reshape(-1)
        times = targets.times_h.to(release.dtype).repeat_interleave(n, 0)
        rep = release.repeat_interleave(n, 0)
        conc = concentration_from_release(
            times, rep, dose.repeat_interleave(n), cl, vol, validate=False
        )
        mec_r, mtc_r = mec.repeat_interleave(n), mtc.repeat_interleave(n)
        window = smooth_therapeutic_window_time(
            times, conc, mec_r, mtc_r, mec_r * self.sharpness_fraction, validate=False
        )
        horizon = times[:, -1] - times[:, 0]
        return (window / horizon).reshape(-1, n)

    def objectives(self, release: Tensor, targets: TargetBatch, formulation: Formulation) -> Tensor:
        """``(B, 2)`` mean and worst-decile share in the window."""
        s = self.shares(release, targets)
        k = max(1, s.shape[1] // 10)
        return torch.stack([s.mean(1), torch.sort(s, 1).values[:, :k].mean(1)], 1)

    def __call__(
        self, release: Tensor, targets: TargetBatch, formulation: Formulation
    ) -> RewardOutput:
        obj = self.objectives(release, targets, formulation)
        return RewardOutput(obj[:, 0], stability_cost(formulation).to(obj.dtype))


#: The delivery reward models by name (registered in :data:`nanoenv.rewards.REWARD_MODELS`).
DELIVERY_REWARDS = {
    "targeted": TargetedDeliveryReward,
    "theranostic": TheranosticReward,
    "robust_f2": RobustF2Reward,
    "population_window": PopulationWindowReward,
}

for _name, _model in DELIVERY_REWARDS.items():
    register_reward_model(_name, _model)
