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
critical value: ``F_matrix = 1 − (1 − F_core)(1 − S)``; a pH-responsive matrix
also dissolves first-order once protonated. The core follows Crank's solution for
the device's shape (sphere, finite cylinder, slab), and the dispersed drug's
solubility follows Henderson–Hasselbalch in every medium segment. A liposome
releases its burst and leaks the rest first-order at ``k = 3P/R`` of the vesicle's
own radius, with a permeability peak at ``Tm`` that cholesterol suppresses; with
lysolipid, a share of the drug also leaves through pores that open at ``Tm``; a weak
base permeates as its neutral form at the vesicle's interior pH. The local
temperature adds magnetic and photothermal heating to the medium's. Drug tethered
through photo- or enzyme-cleavable linkers is freed first-order at a rate set by
light intensity or enzyme activity. A polydisperse batch (``pdi > 0``) averages the
curve over its log-normal size distribution
(:mod:`nanoenv.kinetics.polydispersity`). See :mod:`nanoenv.kinetics.mechanisms` for
each law and its source.
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
from nanoenv.kinetics.polydispersity import polydisperse_release
from nanoenv.kinetics.time_change import (
    integrate_piecewise,
    integrate_piecewise_exponential,
    segment_lookup,
)
from nanoenv.kinetics.validation import check_sorted_times

__all__ = [
    "DEFAULT_DRUG",
    "MAX_LOCAL_TEMPERATURE_C",
    "MechanismParameters",
    "check_local_temperature",
    "dispersed_fraction",
    "fickian_fraction",
    "local_temperature_c",
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
    :param geometry: ``(B,)`` :class:`~nanoenv.kinetics.formulation.Geometry` codes of
        polymer devices (``None``: all spheres); ``radius_nm`` is then the cylinder's
        radius or the slab's half-thickness.
    :param aspect_ratio: ``(B,)`` cylinder length/diameter (with ``geometry``).
    :param solubility_ratio_segments: ``(B, K)`` ``Cs/A`` in each medium segment, capped
        at 1, when it changes with the medium (ionisable drug, pH schedule); ``None``
        when ``solubility_ratio`` holds throughout.
    :param dissolution_rate_per_h: ``(B, K)`` dissolution rate of the pH-responsive
        polymer once protonated, 1/h (``None`` when no design has one).
    :param dissolution_share: ``(B,)`` share of the matrix (and its drug) that is
        pH-responsive polymer and dissolves.
    :param pore_share: ``(B,)`` share of drug in vesicles with lysolipid pores.
    :param pore_rate_per_h: ``(B, K)`` extra leak rate through lysolipid pores, 1/h
        (``None`` without lysolipid).
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
    geometry: torch.Tensor | None = None
    aspect_ratio: torch.Tensor | None = None
    solubility_ratio_segments: torch.Tensor | None = None
    dissolution_rate_per_h: torch.Tensor | None = None
    dissolution_share: torch.Tensor | None = None
    pore_share: torch.Tensor | None = None
    pore_rate_per_h: torch.Tensor | None = None


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
    temperature = local_temperature_c(formulation, cond, c)
    net_charge = mech.drug_net_charge(ph, d["pka"], d["charge"])
    ph_open = mech.ph_gate(ph, col("responsive_pka"), c.ph_gate_width)
    gates = mech.stimulus_gain(
        col("ph_responsive_fraction"), ph_open, c.ph_gate_gain
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
    geometry = aspect = solubility_segments = dissolution = None
    pore_share = pore_rate = None

    # -- polymer matrix --------------------------------------------------------------------
    if has_polymer:
        loading = col("drug_loading")
        # a code, not a continuous quantity: no gradient, robust to a perturbed column
        shaped = col("geometry").detach().round()
        if bool((shaped != 0).any()):
            geometry, aspect = shaped[:, 0], col("aspect_ratio")[:, 0]
            surface_radius = mech.equivalent_sphere_radius(radius, shaped, col("aspect_ratio"))
        else:
            surface_radius = radius
        # polymer-family blend weights, shared by the diffusivity and the hydrolysis laws
        hydrolysis_law = c.hydrolysis_law()
        family_offsets = (
            c.diffusivity_pcl_offset,
            c.diffusivity_pvl_offset,
            c.diffusivity_pea_offset,
        )
        family_w = mech.family_weights(col("polymer_family"), len(family_offsets))
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
                col("polymer_family"), family_offsets, weights=family_w
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
            family=col("polymer_family"),
            weights=family_w,
            **hydrolysis_law,
        )
        erosion_critical = torch.log(col("polymer_mw_kda") / c.erosion_critical_mw_kda)
        polymer_burst = mech.burst_fraction(
            surface_radius,
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
        # solubility at the medium's pH (Henderson–Hasselbalch); the dispersed share is
        # set by the first segment, later segments change how fast the front moves
        ratio = (
            c.dispersed_solubility_scale
            * d["solubility_mg_ml"]
            * mech.ionised_solubility_factor(ph, d["pka"], d["charge"])
            / (c.particle_density_mg_ml * loading.clamp(min=1e-6))
        )
        ratio = torch.clamp(
            ratio, min=torch.as_tensor(c.dispersed_ratio_floor, dtype=dtype, device=device)
        )
        if ratio.shape[-1] > 1 and bool((ratio != ratio[:, :1]).any()):
            # above Cs = A the drug is dissolved: the front moves no faster than that
            solubility_segments = ratio.clamp(max=1.0).expand(len(formulation), -1)
        ratio = ratio[:, :1]
        dispersed = torch.relu(1.0 - ratio)
        # skipped when no design has the component, unless gradients are wanted (the
        # derivative at a fraction of 0 is not 0)
        if v.requires_grad or bool((col("ph_responsive_fraction") != 0).any()):
            dissolution = (c.ph_dissolution_rate_per_h * ph_open).expand(len(formulation), -1)
    else:
        diffusivity = hydrolysis = erosion_critical = polymer_burst = dispersed = zero
        ratio = torch.ones_like(radius)

    # -- liposome ----------------------------------------------------------------------------
    if has_liposome:
        drug_lipid = col("drug_lipid_ratio")
        # a weak base leaves as its neutral form, whose share is set by the pH inside the
        # vesicle (remote loading keeps it acidic), not the medium's
        inner_charge = mech.drug_net_charge(col("interior_ph"), d["pka"], d["charge"])
        melting = mech.cholesterol_transition_share(
            col("cholesterol_fraction"), c.liposome_cholesterol_scale
        )
        permeability = (
            mech.liposome_permeability_nm_h(
                temperature,
                col("lipid_tm_c"),
                gel_nm_h=c.liposome_gel_permeability_nm_h,
                fluid_ratio=c.liposome_fluid_ratio,
                peak_ratio=c.liposome_peak_ratio,
                transition_width_c=c.liposome_transition_width_c,
                peak_width_c=c.liposome_peak_width_c,
                transition_share=melting,
            )
            * torch.exp(_LN10 * c.liposome_logp_slope * (d["logp"] - 1.0))
            * (
                c.liposome_charged_permeability
                + (1.0 - c.liposome_charged_permeability) * (1.0 - inner_charge.abs())
            )
            * torch.exp(-c.liposome_peg_slope * col("peg_fraction"))
            / (1.0 + c.liposome_drug_lipid_slowdown * drug_lipid)
            * gates
        )
        # each vesicle leaks through its own bilayer: aggregation (a stability cost in
        # the env's reward) does not lengthen a diffusion path here
        vesicle = col("radius_nm")
        leak = mech.reservoir_rate_per_h(vesicle, permeability)
        lyso = col("lysolipid_fraction")
        if v.requires_grad or bool((lyso != 0).any()):
            pore_share = mech.lysolipid_pore_share(
                lyso,
                max_share=c.liposome_lysolipid_max_share,
                half_fraction=c.liposome_lysolipid_half_fraction,
            )[:, 0]
            pore_rate = mech.lysolipid_pore_rate_per_h(
                temperature,
                col("lipid_tm_c"),
                lyso,
                vesicle,
                melting,
                pore_permeability_nm_h=c.liposome_lysolipid_permeability_nm_h,
                onset_width_c=c.liposome_lysolipid_onset_width_c,
            ).expand(len(formulation), -1)
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
        geometry=geometry,
        aspect_ratio=aspect,
        solubility_ratio_segments=solubility_segments,
        dissolution_rate_per_h=dissolution,
        dissolution_share=col("ph_responsive_fraction")[:, 0] if dissolution is not None else None,
        pore_share=pore_share,
        pore_rate_per_h=pore_rate,
    )


def local_temperature_c(
    formulation: Formulation,
    cond: dict[str, torch.Tensor],
    constants: SimulatorConstants = DEFAULT_CONSTANTS,
) -> torch.Tensor:
    """Temperature at each design in each medium segment, °C: the medium's plus
    magnetic heating of an iron-oxide core (:func:`~nanoenv.kinetics.mechanisms.magnetic_heating_c`)
    and photothermal heating of an NIR absorber
    (:func:`~nanoenv.kinetics.mechanisms.photothermal_heating_c`).

    :param formulation: ``B`` designs.
    :param cond: :meth:`ReleaseConditions.tensors` on the designs' device and dtype.
    :returns: ``(B, K)`` (or ``(1, K)`` broadcastable) temperatures, °C.
    """
    c = constants
    v = formulation.values
    core = v[:, PARAMETER_INDEX["magnetic_core_fraction"], None]
    absorber = v[:, PARAMETER_INDEX["photothermal_fraction"], None]
    return (
        cond["temperature_c"]
        + mech.magnetic_heating_c(
            core,
            cond["magnetic_field_ka_m"],
            cond["magnetic_frequency_khz"],
            max_rise_c=c.magnetic_heating_max_c,
            saturation_field_ka_m=c.magnetic_saturation_field_ka_m,
            relaxation_time_us=c.magnetic_relaxation_time_us,
        )
        + mech.photothermal_heating_c(
            absorber, cond["light_mw_cm2"], c.photothermal_heating_c_per_mw_cm2
        )
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
    has_polymer = batch == 0 or not bool(m.is_liposome.all())  # an empty batch: (0, T)

    if has_polymer:
        tau, degradation = integrate_piecewise_exponential(
            m.start_h, m.diffusivity_nm2_h, m.hydrolysis_per_h, times_h, lookup
        )
        r2 = (m.radius_nm * m.radius_nm)[:, None]
        theta = tau / r2
        core = fickian_fraction(theta, m.geometry, m.aspect_ratio)
        if bool((m.dispersed_fraction > 0).any()):
            psi = m.dispersed_fraction[:, None]
            if m.solubility_ratio_segments is None:
                x3 = 3.0 * m.solubility_ratio[:, None] * theta
            else:  # x = 3∫ (Cs/A)·D dt / R², exact for piecewise-constant Cs
                x3 = (
                    3.0
                    * integrate_piecewise_exponential(
                        m.start_h,
                        m.diffusivity_nm2_h * m.solubility_ratio_segments,
                        m.hydrolysis_per_h,
                        times_h,
                        lookup,
                    )[0]
                    / r2
                )
            dispersed = dispersed_fraction(x3, m.geometry, m.aspect_ratio)
            core = core + psi * (dispersed - core)
        eroded = mech.erosion_fraction(degradation, m.erosion_critical[:, None], m.erosion_width)
        matrix = 1.0 - (1.0 - core) * (1.0 - eroded)
        if m.dissolution_rate_per_h is not None:
            # the responsive component dissolves and frees the drug it holds (its share
            # of the matrix); pure pH-responsive polymer (share 1) frees all of it
            dissolved = m.dissolution_share[:, None] * mech.first_order_fraction(
                integrate_piecewise(m.start_h, m.dissolution_rate_per_h, times_h, lookup)
            )
            matrix = 1.0 - (1.0 - matrix) * (1.0 - dissolved)
    if has_liposome:
        leak_integral = integrate_piecewise(m.start_h, m.leak_rate_per_h, times_h, lookup)
        leaked = mech.first_order_fraction(leak_integral)
        if m.pore_rate_per_h is not None:
            # two populations: vesicles with lysolipid pores leak through both
            pored = mech.first_order_fraction(
                leak_integral + integrate_piecewise(m.start_h, m.pore_rate_per_h, times_h, lookup)
            )
            leaked = leaked + m.pore_share[:, None] * (pored - leaked)
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


#: Highest local temperature the simulator accepts, °C (water boils; every law here
#: is for liquid water).
MAX_LOCAL_TEMPERATURE_C = 100.0


def check_local_temperature(
    formulation: Formulation,
    conditions: ReleaseConditions,
    constants: SimulatorConstants = DEFAULT_CONSTANTS,
) -> None:
    """Raise ``ValueError`` if photothermal or magnetic heating takes a design past
    :data:`MAX_LOCAL_TEMPERATURE_C`, naming the inputs to lower."""
    cond = conditions.tensors(formulation.device, formulation.dtype)
    if conditions.batch_size not in (None, len(formulation)):
        return  # the caller reports the mismatch
    local = local_temperature_c(formulation, cond, constants).detach()
    if bool((local > MAX_LOCAL_TEMPERATURE_C).any()):
        hot = float(local.max())
        raise ValueError(
            f"local temperature {hot:.4g} degC (medium + photothermal + magnetic heating) "
            f"exceeds {MAX_LOCAL_TEMPERATURE_C:g} degC; lower light_mw_cm2 or "
            "photothermal_fraction (heating = photothermal_heating_c_per_mw_cm2 × "
            "photothermal_fraction × light_mw_cm2)"
        )


def fickian_fraction(
    theta: torch.Tensor, geometry: torch.Tensor | None, aspect_ratio: torch.Tensor | None
) -> torch.Tensor:
    """Crank's fraction released for each design's shape (dissolved drug).

    :param theta: ``(B, T)`` ``τ/R²`` with ``R`` the radius (sphere, cylinder) or
        half-thickness (slab).
    :param geometry: ``(B,)`` geometry codes, or ``None`` for all spheres.
    :param aspect_ratio: ``(B,)`` cylinder length/diameter (half-length ``α·R``).
    """
    if geometry is None:
        return mech.fickian_sphere_fraction(theta)
    g = geometry[:, None]
    out = torch.zeros_like(theta)
    if bool((geometry == 0).any()):
        out = torch.where(g == 0, mech.fickian_sphere_fraction(theta), out)
    if bool((geometry == 1).any()):
        axial = theta / (aspect_ratio * aspect_ratio)[:, None]
        out = torch.where(g == 1, mech.fickian_finite_cylinder_fraction(theta, axial), out)
    if bool((geometry == 2).any()):
        out = torch.where(g == 2, mech.fickian_slab_fraction(theta), out)
    return out


def dispersed_fraction(
    x: torch.Tensor, geometry: torch.Tensor | None, aspect_ratio: torch.Tensor | None
) -> torch.Tensor:
    """Fraction released of drug dispersed above its solubility, per shape:
    Baker–Lonsdale for a sphere, Higuchi for a slab, and for a cylinder Baker–Lonsdale
    on the sphere with the same surface-to-volume ratio
    (:func:`~nanoenv.kinetics.mechanisms.equivalent_sphere_radius`; an approximation).

    :param x: ``(B, T)`` ``3·(Cs/A)·τ/R²`` (Baker–Lonsdale's argument for a sphere of
        radius ``R``).
    """
    if geometry is None:
        return mech.baker_lonsdale_fraction(x)
    g = geometry[:, None]
    out = mech.baker_lonsdale_fraction(x)
    if bool((geometry == 1).any()):
        a = aspect_ratio[:, None]
        scale = ((2.0 * a + 1.0) / (3.0 * a)) ** 2  # (R/R_eq)²
        out = torch.where(g == 1, mech.baker_lonsdale_fraction(x * scale), out)
    if bool((geometry == 2).any()):
        out = torch.where(g == 2, mech.higuchi_slab_fraction(x / 3.0), out)
    return out


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

    Designs with ``pdi > 0`` average over a log-normal size distribution
    (:func:`~nanoenv.kinetics.polydispersity.polydisperse_release`); polymer devices
    may be cylinders or slabs (``geometry``, :class:`~nanoenv.kinetics.formulation.Geometry`).

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
        check_local_temperature(formulation, conditions, constants)
        drug_size = torch.as_tensor(drug.mw_g_mol).numel()
        if drug_size not in (1, batch):
            raise ValueError(
                f"drug holds {drug_size} drugs but there are {batch} designs; give one drug "
                "or one per design"
            )

    def monodisperse(
        f: Formulation, t: torch.Tensor, c: ReleaseConditions, d: Drug
    ) -> torch.Tensor:
        return release_curve(mechanism_parameters(f, c, d, constants), t)

    return polydisperse_release(formulation, times_h, conditions, drug, monodisperse)
