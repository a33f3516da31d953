"""The release simulator: formulation + medium + drug → cumulative release curve.

Two pure stages, so that each can be checked (and replaced) on its own:

1. :func:`mechanism_parameters` maps physical design parameters, the medium
   schedule and the drug to the parameters of the release mechanisms
   (diffusivity and hydrolysis rate in each medium segment, burst, erosion
   onset, leakage rate, …) — the physics of *what* the particle is;
2. :func:`release_curve` turns those mechanism parameters into ``F(t)`` with
   exact closed forms — the mathematics of *how* drug leaves.

:func:`simulate_release` is the composition, the function most users call.

Model (hours, nm). A polymer particle releases a burst ``F_b(1 − e^{−t/t_b})``
and the rest by Fickian diffusion (dissolved drug) or Baker–Lonsdale release
(dispersed drug), with ``D(t) = D₀·Mw₀/Mw(t)`` entering through the time change
``τ = ∫D dt``, completed by mass-loss erosion once ``Mw`` falls below its
critical value: ``F_matrix = 1 − (1 − F_core)(1 − S)``. A liposome releases its
burst and leaks the rest first-order at ``k = 3P/R``. Drug tethered through
photo- or enzyme-cleavable linkers is freed first-order at a rate set by light
intensity or enzyme activity. See :mod:`nanoenv.kinetics.mechanisms` for each
law and its source.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from nanoenv.kinetics import mechanisms as mech
from nanoenv.kinetics.conditions import ReleaseConditions
from nanoenv.kinetics.constants import DEFAULT_CONSTANTS, SimulatorConstants
from nanoenv.kinetics.drug import DRUGS, Drug
from nanoenv.kinetics.formulation import PARAMETER_INDEX, Formulation
from nanoenv.kinetics.time_change import (
    integrate_piecewise,
    integrate_piecewise_exponential,
    segment_lookup,
)
from nanoenv.kinetics.validation import check_sorted_times

__all__ = [
    "DEFAULT_DRUG",
    "MechanismParameters",
    "mechanism_parameters",
    "release_curve",
    "simulate_release",
]

#: Drug used when none is given.
DEFAULT_DRUG = DRUGS["doxorubicin"]
#: m²/s → nm²/h.
_M2_S_TO_NM2_H = 1e18 * 3600.0
_LN10 = math.log(10.0)


@dataclass(frozen=True)
class MechanismParameters:
    """Parameters of the release mechanisms for a batch of ``B`` designs and ``K``
    medium segments.

    :param start_h: ``(1 or B, K)`` segment starts, hours.
    :param radius_nm: ``(B,)`` effective (aggregated) radius, nm.
    :param diffusivity_nm2_h: ``(B, K)`` matrix diffusivity at the initial
        molecular weight in each segment, nm²/h.
    :param hydrolysis_per_h: ``(B, K)`` chain-scission rate, 1/h.
    :param erosion_critical: ``(B,)`` ``ln(Mw₀/Mw_c)``.
    :param erosion_width: logistic width of erosion onset in ``ln Mw`` units.
    :param burst_fraction: ``(B,)`` share of drug released in the burst.
    :param burst_time_h: burst time constant, hours: a number, or ``(B, 1)`` per design.
    :param dispersed_fraction: ``(B,)`` share of drug above solubility (Baker–Lonsdale).
    :param solubility_ratio: ``(B,)`` ``Cs/A`` of the dispersed drug.
    :param leak_rate_per_h: ``(B, K)`` liposome leakage rate, 1/h.
    :param photo_fraction: ``(B,)`` share of drug on photo-cleavable linkers.
    :param photo_rate_per_h: ``(B, K)`` photo-cleavage rate, 1/h (``None`` without light).
    :param enzyme_fraction: ``(B,)`` share of drug on enzyme-cleavable linkers.
    :param enzyme_rate_per_h: ``(B, K)`` cleavage rate, 1/h (``None`` without enzyme).
    :param is_liposome: ``(B,)`` boolean carrier mask.
    """

    start_h: torch.Tensor
    radius_nm: torch.Tensor
    diffusivity_nm2_h: torch.Tensor
    hydrolysis_per_h: torch.Tensor
    erosion_critical: torch.Tensor
    erosion_width: torch.Tensor | float
    burst_fraction: torch.Tensor
    burst_time_h: torch.Tensor | float
    dispersed_fraction: torch.Tensor
    solubility_ratio: torch.Tensor
    leak_rate_per_h: torch.Tensor
    photo_fraction: torch.Tensor
    photo_rate_per_h: torch.Tensor | None
    enzyme_fraction: torch.Tensor
    enzyme_rate_per_h: torch.Tensor | None
    is_liposome: torch.Tensor


def mechanism_parameters(
    formulation: Formulation,
    conditions: ReleaseConditions,
    drug: Drug,
    constants: SimulatorConstants = DEFAULT_CONSTANTS,
) -> MechanismParameters:
    """Physics: map designs, medium and drug to :class:`MechanismParameters`.

    :param formulation: ``B`` designs.
    :param conditions: medium schedule, shared ``(K,)`` or per design ``(B, K)``.
    :param drug: one drug, or one per design (:meth:`Drug.stack`).
    :param constants: model constants (defaults, or calibrated).
    """
    c = constants
    v = formulation.values
    device, dtype = v.device, v.dtype

    def col(name: str) -> torch.Tensor:  # (B, 1), broadcasts against (1|B, K)
        return v[:, PARAMETER_INDEX[name], None]

    cond = conditions.tensors(device, dtype)
    d = {k: t.reshape(-1, 1) for k, t in drug.tensors(device, dtype).items()}
    ph = cond["ph"]
    temperature = cond["temperature_c"] + mech.magnetic_heating_c(
        col("magnetic_core_fraction"), cond["magnetic_field_ka_m"], c.magnetic_heating_c
    )
    net_charge = mech.drug_net_charge(ph, d["pka"], d["charge"])
    gates = mech.stimulus_gain(
        col("ph_responsive_fraction"),
        mech.ph_gate(ph, col("responsive_pka"), c.ph_gate_width),
        c.ph_gate_gain,
    ) * mech.stimulus_gain(
        col("thermo_fraction"),
        mech.thermal_gate(temperature, col("lcst_c"), c.thermal_gate_width_c),
        c.thermal_gate_gain,
    )
    radius = mech.effective_radius_nm(
        col("radius_nm"),
        col("zeta_mv"),
        col("peg_fraction"),
        growth=c.aggregation_growth,
        critical_mv=c.aggregation_critical_mv,
        width_mv=c.aggregation_width_mv,
        peg_half=c.aggregation_peg_half,
    )

    # Each carrier's branch is computed only when the batch holds that carrier: the
    # other's parameters do not reach its curve (and a single-design call is cheaper).
    is_liposome = formulation.is_liposome()
    has_liposome = bool(is_liposome.any())
    has_polymer = not bool(is_liposome.all())
    zero = torch.zeros_like(radius)

    # -- polymer matrix --------------------------------------------------------------------
    if has_polymer:
        loading = col("drug_loading")
        log10_d = (
            c.log10_diffusivity_ref
            + c.diffusivity_drug_mw_exponent * torch.log10(d["mw_g_mol"] / 300.0)
            + c.diffusivity_logp_slope * (d["logp"] - 1.0)
            + c.diffusivity_polymer_mw_exponent * torch.log10(col("polymer_mw_kda") / 30.0)
            + c.diffusivity_lactide_slope * (col("lactide_fraction") - 0.5)
            + c.diffusivity_loading_slope * (loading - 0.1)
            + c.diffusivity_peg_slope * col("peg_fraction")
            - c.diffusivity_crosslink_slope * col("crosslink_ratio")
            + mech.family_diffusivity_offset(
                col("polymer_family"),
                (c.diffusivity_pcl_offset, c.diffusivity_pvl_offset, c.diffusivity_pea_offset),
            )
            # apparent D grows with device size above R_ref for β > 0 (0 by default:
            # Fickian); below R_ref it tends to the material's own D
            + c.diffusivity_radius_exponent
            * torch.log10(1.0 + radius / c.diffusivity_radius_ref_nm)
        )
        diffusivity = (
            torch.exp(_LN10 * log10_d)
            * _M2_S_TO_NM2_H
            * mech.arrhenius_factor(temperature, c.diffusivity_activation_kj_mol)
            * mech.charge_binding_factor(
                net_charge, col("zeta_mv"), temperature, c.binding_constant
            )
            * gates
        )
        hydrolysis = mech.hydrolysis_rate_per_h(
            col("lactide_fraction"),
            temperature,
            ph,
            col("crosslink_ratio"),
            kpla_per_day=c.hydrolysis_pla_per_day,
            glycolide_gain=c.hydrolysis_glycolide_gain,
            pga_slowdown=c.hydrolysis_pga_slowdown,
            activation_kj_mol=c.hydrolysis_activation_kj_mol,
            acid_slope=c.hydrolysis_acid_slope,
            base_slope=c.hydrolysis_base_slope,
            crosslink_slowdown=c.hydrolysis_crosslink_slowdown,
            family=col("polymer_family"),
            family_k_per_day=(
                c.hydrolysis_pcl_per_day, c.hydrolysis_pvl_per_day, c.hydrolysis_pea_per_day
            ),
        )
        erosion_critical = torch.log(col("polymer_mw_kda") / c.erosion_critical_mw_kda)
        polymer_burst = mech.burst_fraction(
            radius,
            loading,
            col("peg_fraction"),
            d["logp"],
            shell_nm=c.burst_shell_nm,
            loading_gain=c.burst_loading_gain,
            peg_shield=c.burst_peg_shield,
            logp_gain=c.burst_logp_gain,
            max_fraction=c.burst_max_fraction,
            radius_exponent=c.burst_radius_exponent,
            radius_ref_nm=c.burst_radius_ref_nm,
        )
        ratio = (
            c.dispersed_solubility_scale
            * d["solubility_mg_ml"]
            / (c.particle_density_mg_ml * loading.clamp(min=1e-6))
        )
        ratio = torch.clamp(
            ratio, min=torch.as_tensor(c.dispersed_ratio_floor, dtype=dtype, device=device)
        )
        dispersed = torch.relu(1.0 - ratio)
    else:
        diffusivity = hydrolysis = erosion_critical = polymer_burst = dispersed = zero
        ratio = torch.ones_like(radius)

    # -- liposome ----------------------------------------------------------------------------
    if has_liposome:
        drug_lipid = col("drug_lipid_ratio")
        permeability = (
            mech.liposome_permeability_nm_h(
                temperature,
                col("lipid_tm_c"),
                gel_nm_h=c.liposome_gel_permeability_nm_h,
                fluid_ratio=c.liposome_fluid_ratio,
                peak_ratio=c.liposome_peak_ratio,
                transition_width_c=c.liposome_transition_width_c,
                peak_width_c=c.liposome_peak_width_c,
            )
            * torch.exp(_LN10 * c.liposome_logp_slope * (d["logp"] - 1.0))
            * (
                c.liposome_charged_permeability
                + (1.0 - c.liposome_charged_permeability) * (1.0 - net_charge.abs())
            )
            * torch.exp(-c.liposome_peg_slope * col("peg_fraction"))
            / (1.0 + c.liposome_drug_lipid_slowdown * drug_lipid)
            * gates
        )
        leak = mech.reservoir_rate_per_h(radius, permeability)
        liposome_burst = c.burst_max_fraction * -torch.expm1(
            -(c.liposome_burst_base + c.liposome_burst_drug_lipid_gain * drug_lipid)
        )
    else:
        leak = liposome_burst = zero

    def rate(field: str, coefficient: float | torch.Tensor) -> torch.Tensor | None:
        # stimuli absent from the schedule are skipped without a device sync
        if not bool((getattr(conditions, field) != 0).any()):
            return None
        return (coefficient * cond[field]).expand(len(formulation), -1)

    # the burst's time constant per carrier: desorption from a polymer surface, loss of
    # unencapsulated and surface-bound drug from a liposome (a (B, 1) column when mixed)
    if not has_liposome:
        burst_time_h: torch.Tensor | float = c.burst_time_h
    elif not has_polymer:
        burst_time_h = c.liposome_burst_time_h
    else:
        burst_time_h = torch.where(
            is_liposome[:, None],
            torch.as_tensor(c.liposome_burst_time_h, dtype=dtype, device=device),
            torch.as_tensor(c.burst_time_h, dtype=dtype, device=device),
        )
    batch_shape = (len(formulation), cond["start_h"].shape[-1])
    return MechanismParameters(
        start_h=cond["start_h"],
        radius_nm=radius[:, 0],
        diffusivity_nm2_h=diffusivity.expand(batch_shape),
        hydrolysis_per_h=hydrolysis.expand(batch_shape),
        erosion_critical=erosion_critical[:, 0],
        erosion_width=c.erosion_width,
        burst_fraction=torch.where(is_liposome, liposome_burst[:, 0], polymer_burst[:, 0]),
        burst_time_h=burst_time_h,
        dispersed_fraction=dispersed[:, 0],
        solubility_ratio=ratio[:, 0],
        leak_rate_per_h=leak.expand(batch_shape),
        photo_fraction=col("photo_cleavable_fraction")[:, 0],
        photo_rate_per_h=rate("light_mw_cm2", c.photo_rate_per_mw_cm2_h),
        enzyme_fraction=col("enzyme_cleavable_fraction")[:, 0],
        enzyme_rate_per_h=rate("enzyme_activity", c.enzyme_rate_per_h),
        is_liposome=is_liposome,
    )


def release_curve(m: MechanismParameters, times_h: torch.Tensor) -> torch.Tensor:
    """Mathematics: cumulative fraction released at ``times_h`` from mechanism parameters.

    :param m: mechanism parameters of ``B`` designs.
    :param times_h: ``(T,)`` or ``(B, T)`` sorted times, hours.
    :returns: ``(B, T)`` cumulative fraction released, in ``[0, 1]``, non-decreasing in time.
    """
    batch = m.radius_nm.shape[0]
    lookup = segment_lookup(m.start_h, times_h, batch)
    burst = m.burst_fraction[:, None]
    has_liposome = bool(m.is_liposome.any())
    has_polymer = not bool(m.is_liposome.all())

    if has_polymer:
        tau, degradation = integrate_piecewise_exponential(
            m.start_h, m.diffusivity_nm2_h, m.hydrolysis_per_h, times_h, lookup
        )
        theta = tau / (m.radius_nm * m.radius_nm)[:, None]
        core = mech.fickian_sphere_fraction(theta)
        if bool((m.dispersed_fraction > 0).any()):
            psi = m.dispersed_fraction[:, None]
            dispersed = mech.baker_lonsdale_fraction(3.0 * m.solubility_ratio[:, None] * theta)
            core = core + psi * (dispersed - core)
        eroded = mech.erosion_fraction(degradation, m.erosion_critical[:, None], m.erosion_width)
        matrix = 1.0 - (1.0 - core) * (1.0 - eroded)
    if has_liposome:
        leaked = mech.first_order_fraction(
            integrate_piecewise(m.start_h, m.leak_rate_per_h, times_h, lookup)
        )
        matrix = torch.where(m.is_liposome[:, None], leaked, matrix) if has_polymer else leaked

    released = burst * mech.burst_profile(times_h, m.burst_time_h) + (1.0 - burst) * matrix
    free_share = 1.0 - m.photo_fraction - m.enzyme_fraction
    released = free_share[:, None] * released
    for fraction, channel in (
        (m.photo_fraction, m.photo_rate_per_h),
        (m.enzyme_fraction, m.enzyme_rate_per_h),
    ):
        if channel is not None:
            cleaved = mech.first_order_fraction(
                integrate_piecewise(m.start_h, channel, times_h, lookup)
            )
            released = released + fraction[:, None] * cleaved
    return released.clamp(0.0, 1.0)


def simulate_release(
    formulation: Formulation,
    times_h: torch.Tensor,
    conditions: ReleaseConditions | str | None = None,
    drug: Drug | str | None = None,
    *,
    constants: SimulatorConstants = DEFAULT_CONSTANTS,
    validate: bool = True,
) -> torch.Tensor:
    """Cumulative fraction of drug released by each design at each time.

    Batched over designs (no Python loop over the batch), differentiable with
    respect to every continuous design parameter (``formulation.values``) and
    every constant, on the device and dtype of ``formulation.values``.

    :param formulation: ``B`` designs in physical units.
    :param times_h: ``(T,)`` or ``(B, T)`` sorted, non-negative times, hours.
    :param conditions: medium schedule or preset name (default ``"sink"``:
        pH 7.4, 37 °C), shared ``(K,)`` or per design ``(B, K)``.
    :param drug: drug, preset name, or one drug per design (default doxorubicin).
    :param constants: model constants (defaults or calibrated).
    :param validate: check inputs (costs a device sync; hot loops with
        known-valid inputs pass ``False``).
    :returns: ``(B, T)`` tensor of fractions in ``[0, 1]``, non-decreasing in time.

    >>> f = Formulation.default(2)
    >>> simulate_release(f, torch.tensor([0.0, 24.0, 168.0])).shape
    torch.Size([2, 3])
    """
    if conditions is None:
        conditions = ReleaseConditions.sink()
    elif isinstance(conditions, str):
        conditions = ReleaseConditions.preset(conditions)
    if drug is None:
        drug = DEFAULT_DRUG
    elif isinstance(drug, str):
        drug = Drug.preset(drug)
    times_h = torch.as_tensor(times_h, device=formulation.device, dtype=formulation.dtype)
    if validate:
        formulation.validate()
        check_sorted_times("times_h", times_h, "h")
        batch = len(formulation)
        if times_h.dim() == 2 and times_h.shape[0] != batch:
            raise ValueError(
                f"times_h has shape {tuple(times_h.shape)}; a 2-D time grid needs one row per "
                f"design ({batch})"
            )
        if conditions.batch_size not in (None, batch):
            raise ValueError(
                f"conditions hold {conditions.batch_size} schedules but there are {batch} "
                "designs; give one shared schedule or one per design"
            )
        drug_size = torch.as_tensor(drug.mw_g_mol).numel()
        if drug_size not in (1, batch):
            raise ValueError(
                f"drug holds {drug_size} drugs but there are {batch} designs; give one drug "
                "or one per design"
            )
    return release_curve(mechanism_parameters(formulation, conditions, drug, constants), times_h)
