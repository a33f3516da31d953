"""Release mechanisms as pure, batched, differentiable torch functions.

Each function implements one textbook law and cites it. The simulator
(:mod:`nanoenv.kinetics.simulate`) composes them; users can call them
directly to build their own models. Functions take tensors that broadcast
against each other and return tensors of the broadcast shape.

Where a law is a heuristic rather than an established equation (charge
binding, aggregation, the stimulus gates' gains), the docstring says so; its
constants are in :class:`~nanoenv.kinetics.constants.SimulatorConstants`
and are fitted to real release data by calibration.
"""

from __future__ import annotations

import math

import torch

__all__ = [
    "GAS_CONSTANT",
    "arrhenius_factor",
    "baker_lonsdale_fraction",
    "burst_fraction",
    "burst_profile",
    "charge_binding_factor",
    "drug_net_charge",
    "effective_radius_nm",
    "erosion_fraction",
    "family_diffusivity_offset",
    "family_weights",
    "fickian_sphere_fraction",
    "first_order_fraction",
    "hydrolysis_rate_per_h",
    "liposome_permeability_nm_h",
    "magnetic_heating_c",
    "ph_gate",
    "reservoir_rate_per_h",
    "stimulus_gain",
    "thermal_gate",
]

#: Molar gas constant, J/(mol·K).
GAS_CONSTANT = 8.314462618
_SQRT_PI = math.sqrt(math.pi)
_LN10 = math.log(10.0)

#: θ below which the short-time expansion is used: its neglected image terms
#: are O(θ^{3/2}·exp(−1/θ)) < 1e-9 there, and above it the series' 6th term is
#: below 1e-10.
SHORT_TIME_THETA = 0.054
#: Squares n² of the series terms kept (n = 1 … 6).
_SERIES_SQUARES = (1, 4, 9, 16, 25, 36)


def fickian_sphere_fraction(theta: torch.Tensor) -> torch.Tensor:
    """Fraction released by Fickian diffusion from a sphere, drug initially dissolved
    uniformly, perfect sink outside (Crank, *The Mathematics of Diffusion*, 2nd ed.
    1975, eqs. 6.20 and 6.21).

    ``θ = τ/R²`` with ``τ = ∫₀ᵗ D(s) ds``: a diffusivity that changes with time only
    enters exactly through this time change. Mean release time ``R²/(15D)``.

    * ``θ < 0.054``: short-time form ``F = 6√(θ/π) − 3θ`` (eq. 6.20 without image terms);
    * ``θ ≥ 0.054``: ``F = 1 − (6/π²)·Σₙ n⁻²·qⁿ²`` with ``q = exp(−π²θ)``, n = 1 … 6 (eq. 6.21).

    Accurate to 1e-9 in float64 (tested against a 400-term series). One ``exp``
    and a few products per element, so it is cheap in large batches. Gradients
    are finite everywhere, including ``θ = 0`` (where the true derivative is
    infinite, the returned gradient is 0).

    :param theta: dimensionless time ``τ/R²`` ≥ 0, any shape.
    :returns: cumulative fraction released, same shape, in ``[0, 1]``.
    """
    short = theta < SHORT_TIME_THETA
    ts = torch.where(short, theta, 0.0).clamp(min=0.0)
    # sqrt has an infinite derivative at 0; shift the argument where it is 0
    root = torch.sqrt(torch.where(ts > 0, ts, 1.0)) * (ts > 0)
    f_short = (6.0 / _SQRT_PI) * root - 3.0 * ts
    q = torch.exp(-(math.pi**2) * torch.where(short, SHORT_TIME_THETA, theta))
    powers = {1: q}
    q2 = q * q
    powers[4] = q2 * q2
    powers[9] = powers[4] * powers[4] * q
    powers[16] = powers[4] * powers[4] * powers[4] * powers[4]
    powers[25] = powers[16] * powers[9]
    powers[36] = powers[16] * powers[16] * powers[4]
    total = sum(powers[n2] / n2 for n2 in _SERIES_SQUARES)
    f_long = 1.0 - (6.0 / math.pi**2) * total
    return torch.where(short, f_short, f_long).clamp(0.0, 1.0)


def baker_lonsdale_fraction(x: torch.Tensor) -> torch.Tensor:
    """Release from a sphere with drug dispersed above its solubility (Baker & Lonsdale,
    in *Controlled Release of Biologically Active Agents*, 1974).

    Solves ``(3/2)·[1 − (1 − F)^{2/3}] − F = x`` with ``x = 3·D·Cs·t/(R²·A)``
    (``Cs`` solubility, ``A`` loading) in closed form: with ``u = (1 − F)^{1/3}``
    the equation is the cubic ``u³ − 1.5u² + 0.5 − x = 0``, whose root in
    ``[0, 1]`` is ``u = 1/2 + cos(arccos(4x − 1)/3 − 2π/3)``. Release is
    complete at ``x = 1/2``.

    :param x: dimensionless time ``3·Cs·τ/(A·R²)`` ≥ 0, any shape.
    :returns: fraction released in ``[0, 1]``.
    """
    # Near x = 0 the root's arccos argument rounds to −1, where its derivative is
    # infinite; there the series F = s − (2/9)s², s = √(6x) (from x = F²/6 + 2F³/27 + …)
    # is exact to O(x^{3/2}) ≈ 1e-9.
    small = (x > 0) & (x < 1e-6)
    inside = (x >= 1e-6) & (x < 0.5)
    xs = torch.where(inside, x, 0.25)
    u = 0.5 + torch.cos(torch.arccos(4.0 * xs - 1.0) / 3.0 - 2.0 * math.pi / 3.0)
    f = 1.0 - u.clamp(0.0, 1.0) ** 3
    root = torch.sqrt(6.0 * torch.where(small, x, 1.0))
    f_small = root - (2.0 / 9.0) * root * root
    done = (x >= 0.5).to(f.dtype)
    return torch.where(inside, f, torch.where(small, f_small, done))


def first_order_fraction(integrated_rate: torch.Tensor) -> torch.Tensor:
    """First-order release ``F = 1 − exp(−∫k dt)`` (a reservoir emptying through a
    membrane, or cleavage of a tethered drug).

    :param integrated_rate: ``∫₀ᵗ k(s) ds`` ≥ 0, dimensionless.
    """
    return -torch.expm1(-integrated_rate)


def reservoir_rate_per_h(radius_nm: torch.Tensor, permeability_nm_h: torch.Tensor) -> torch.Tensor:
    """First-order rate of a spherical reservoir behind a membrane: ``k = 3P/R``
    (surface/volume times permeability; Siepmann & Siepmann, J. Control. Release 161
    (2012) 351, reservoir with non-constant activity source).

    :param radius_nm: vesicle or core radius, nm.
    :param permeability_nm_h: membrane permeability coefficient, nm/h.
    :returns: rate, 1/h.
    """
    return 3.0 * permeability_nm_h / radius_nm


def burst_profile(times_h: torch.Tensor, burst_time_h: torch.Tensor | float) -> torch.Tensor:
    """Shape of the burst: desorption of surface-associated drug,
    ``1 − exp(−t/t_b)`` (Huang & Brazel, J. Control. Release 73 (2001) 121).

    :param times_h: time, hours.
    :param burst_time_h: burst time constant ``t_b``, hours.
    """
    return -torch.expm1(-times_h / burst_time_h)


def burst_fraction(
    radius_nm: torch.Tensor,
    loading: torch.Tensor,
    peg_fraction: torch.Tensor,
    logp: torch.Tensor,
    *,
    shell_nm: float | torch.Tensor,
    loading_gain: float | torch.Tensor,
    peg_shield: float | torch.Tensor,
    logp_gain: float | torch.Tensor,
    max_fraction: float | torch.Tensor,
    radius_exponent: float | torch.Tensor = 0.0,
    radius_ref_nm: float | torch.Tensor = 100.0,
) -> torch.Tensor:
    """Share of drug at or near the surface, released in the burst.

    Drug within a surface layer of thickness ``δ`` of a sphere is the fraction
    ``3δ/R`` of the volume; it grows with loading and for hydrophilic drugs and
    falls under a PEG shell (Huang & Brazel 2001; Allison, Int. J. Pharm. 364 (2008)
    298). Saturating form ``Fb = Fmax·(1 − exp(−s))``,
    ``s = (3δ/R)·(1 + g_L·loading)·10^(−g_P·(logP − 1))·(1 − shield·peg/(peg + 0.05))``.

    The layer may thicken with the device, ``δ = δ_ref·(R/R_ref)^γ``: γ = 0 (default) is
    a fixed skin, so the burst falls as ``1/R``; γ = 1 is drug in pores connected to the
    surface down to a fixed share of the radius, so the burst does not depend on size
    (the burst of porous PLGA microparticles and implants hardly falls with size: Allison
    2008).

    :param radius_exponent: γ, dimensionless, in ``[0, 1]``.
    :param radius_ref_nm: ``R_ref``, nm: the radius at which ``δ = shell_nm``.
    :returns: burst fraction in ``[0, max_fraction)``.
    """
    shield = 1.0 - peg_shield * peg_fraction / (peg_fraction + 0.05)
    shell = shell_nm
    if isinstance(radius_exponent, torch.Tensor) or radius_exponent != 0.0:
        shell = shell_nm * torch.exp(radius_exponent * torch.log(radius_nm / radius_ref_nm))
    s = (3.0 * shell / radius_nm) * (1.0 + loading_gain * loading)
    s = s * torch.exp(-logp_gain * _LN10 * (logp - 1.0)) * shield
    return max_fraction * -torch.expm1(-s)


def arrhenius_factor(
    temperature_c: torch.Tensor, activation_kj_mol: float | torch.Tensor, reference_c: float = 37.0
) -> torch.Tensor:
    """``exp(−Ea/R·(1/T − 1/T_ref))``: a rate's change with temperature (Arrhenius 1889).

    :param temperature_c: temperature, °C.
    :param activation_kj_mol: activation energy, kJ/mol.
    :param reference_c: temperature at which the factor is 1, °C.
    """
    inv = 1.0 / (temperature_c + 273.15) - 1.0 / (reference_c + 273.15)
    return torch.exp(-(activation_kj_mol * 1e3 / GAS_CONSTANT) * inv)


def hydrolysis_rate_per_h(
    lactide_fraction: torch.Tensor,
    temperature_c: torch.Tensor,
    ph: torch.Tensor,
    crosslink_ratio: torch.Tensor,
    *,
    kpla_per_day: float | torch.Tensor,
    glycolide_gain: float | torch.Tensor,
    pga_slowdown: float | torch.Tensor,
    activation_kj_mol: float | torch.Tensor,
    acid_slope: float | torch.Tensor,
    base_slope: float | torch.Tensor,
    crosslink_slowdown: float | torch.Tensor,
    family: torch.Tensor | None = None,
    family_k_per_day: tuple[float | torch.Tensor, ...] = (),
) -> torch.Tensor:
    """Pseudo-first-order chain-scission rate of a polyester, ``Mw(t) = Mw0·exp(−k_h t)``.

    Lactide–glycolide family (Park, Biomaterials 16 (1995) 1123; Makadia & Siegel,
    Polymers 3 (2011) 1377): PLGA 50:50 hydrolyses fastest, lactide-rich chains (methyl
    groups, more hydrophobic) and glycolide-rich (crystalline) chains more slowly. With
    the glycolide fraction ``g = 1 − LA``,
    ``ln k = ln k_PLA + G·(1 − (1 − 2g)²)`` for ``g ≤ ½`` and
    ``ln k = ln k_PLA + G − S·(2g − 1)²`` for ``g > ½``, where ``G = ln(k_50:50/k_PLA) ≥ 0``
    (``glycolide_gain``) and ``S = ln(k_50:50/k_PGA) ≥ 0`` (``pga_slowdown``). ``ln k`` is
    non-decreasing in ``g`` up to 50:50 for *any* ``k_PLA`` and ``G ≥ 0``, so
    ``k_PLA ≤ k_75:25 ≤ k_50:50`` holds by construction (also for fitted constants).

    Other polyester families (``family`` codes 1, 2, 3: PCL, PVL, PEA; 0 is
    lactide–glycolide) have their own rate, ``family_k_per_day``; a non-integer code
    blends the two neighbouring families' ``ln k`` (:func:`family_weights`; a continuous
    relaxation, so samplers and gradients see a smooth parameter).

    Arrhenius in temperature; ester hydrolysis is acid- and base-catalysed,
    ``f(pH) = (10^(a·(7.4 − pH)) + 10^(b·(pH − 7.4)))/2``; cross-links slow it,
    ``exp(−c·crosslink)``.

    :param kpla_per_day: ``k_PLA``, 1/day at 37 °C and pH 7.4.
    :param glycolide_gain: ``G ≥ 0``, dimensionless (ln units).
    :param pga_slowdown: ``S ≥ 0``, dimensionless (ln units).
    :param family: ``(B, 1)`` polymer-family code in ``[0, len(family_k_per_day)]``, or
        ``None`` for lactide–glycolide throughout.
    :param family_k_per_day: rates of families 1, 2, … in 1/day at 37 °C and pH 7.4.
    :returns: ``k_h`` in 1/h.
    """
    la = lactide_fraction
    kla = torch.as_tensor(kpla_per_day, dtype=la.dtype, device=la.device)
    g = 1.0 - la
    rise = 1.0 - (1.0 - 2.0 * torch.clamp(g, max=0.5)) ** 2
    fall = torch.relu(2.0 * g - 1.0) ** 2
    ln_k = torch.log(kla) + glycolide_gain * rise - pga_slowdown * fall
    if family is not None and len(family_k_per_day) > 0:
        weights = family_weights(family, len(family_k_per_day))
        ln_family = [torch.log(torch.as_tensor(k, dtype=la.dtype, device=la.device))
                     for k in family_k_per_day]  # fmt: skip
        ln_k = weights[0] * ln_k + sum(
            w * lk for w, lk in zip(weights[1:], ln_family, strict=True)
        )
    ph_factor = 0.5 * (
        torch.exp(acid_slope * _LN10 * (7.4 - ph)) + torch.exp(base_slope * _LN10 * (ph - 7.4))
    )
    k_day = torch.exp(ln_k) * arrhenius_factor(temperature_c, activation_kj_mol) * ph_factor
    return k_day * torch.exp(-crosslink_slowdown * crosslink_ratio) / 24.0


def family_weights(family: torch.Tensor, n_other: int) -> list[torch.Tensor]:
    """Weights of the polymer families ``0 … n_other`` at code(s) ``family``:
    ``cos²(π(code − i)/2)`` within one unit of ``i``, else 0. They sum to 1 on
    ``[0, n_other]``, are exactly 1 for the family an integer code names, blend two
    neighbours in between (½ each at a half code) and are continuously differentiable,
    with zero slope at the integer codes (so finite differences and gradients agree at
    the default code 0).

    :param family: tensor of family codes (any shape).
    :param n_other: number of families besides lactide–glycolide (code 0).
    :returns: ``n_other + 1`` tensors shaped like ``family``.
    """
    out = []
    for i in range(n_other + 1):
        d = family - i
        near = d.abs() < 1.0
        bump = torch.cos(0.5 * math.pi * torch.where(near, d, 0.0)) ** 2
        out.append(torch.where(near, bump, 0.0))
    return out


def family_diffusivity_offset(
    family: torch.Tensor, offsets: tuple[float | torch.Tensor, ...]
) -> torch.Tensor:
    """Decades added to ``log10 D`` for the polymer family ``family`` (0 for
    lactide–glycolide; ``offsets[i − 1]`` for family ``i``, blended like
    :func:`family_weights`).

    :param family: tensor of family codes.
    :param offsets: decades of D of families 1, 2, … relative to the lactide–glycolide law.
    """
    weights = family_weights(family, len(offsets))
    return sum((w * o for w, o in zip(weights[1:], offsets, strict=True)),
               torch.zeros_like(family))  # fmt: skip


def erosion_fraction(
    degradation: torch.Tensor, critical: torch.Tensor, width: float | torch.Tensor
) -> torch.Tensor:
    """Mass-loss erosion once chains are short enough to dissolve.

    Erosion sets in when ``Mw`` falls below a critical value ``Mw_c``
    (Göpferich, Biomaterials 17 (1996) 103); with ``K(t) = ln(Mw0/Mw(t)) = ∫k_h dt``
    and ``K_c = ln(Mw0/Mw_c)``, the eroded share is a logistic in ``K`` shifted so
    that it is exactly 0 at ``t = 0``:
    ``S = 1 − σ(−(K − K_c)/w)/σ(K_c/w)``, computed with log-sigmoids for stability.
    It is non-decreasing in ``K`` and tends to 1.

    :param degradation: ``K(t)`` ≥ 0 (dimensionless).
    :param critical: ``K_c`` (negative when the polymer starts below ``Mw_c``).
    :param width: logistic width in ``K`` units.
    """
    a = (degradation - critical) / width
    b = -critical / width
    # log σ(−x) = −softplus(x); softplus is much faster than logsigmoid on CPU
    softplus = torch.nn.functional.softplus
    eroded = -torch.expm1(softplus(b) - softplus(a))
    # exactly 0 at K = 0 whatever the constants (softplus of a broadcast scalar and of a
    # vector may round differently, leaving ~1e-16)
    return torch.where(degradation > 0, eroded, torch.zeros_like(eroded))


def drug_net_charge(ph: torch.Tensor, pka: torch.Tensor, charge: torch.Tensor) -> torch.Tensor:
    """Mean charge of the drug at ``ph`` by Henderson–Hasselbalch: a base (``charge=+1``)
    is protonated with probability ``1/(1 + 10^(pH − pKa))``, an acid (``charge=−1``)
    deprotonated with ``1/(1 + 10^(pKa − pH))``; a neutral drug (0) has none.

    :returns: net charge in ``[−1, 1]`` (elementary charges).
    """
    base = torch.sigmoid(-_LN10 * (ph - pka))
    acid = torch.sigmoid(-_LN10 * (pka - ph))
    return torch.relu(charge) * base - torch.relu(-charge) * acid


def charge_binding_factor(
    net_charge: torch.Tensor,
    zeta_mv: torch.Tensor,
    temperature_c: torch.Tensor,
    binding_constant: float | torch.Tensor,
) -> torch.Tensor:
    """Fraction of drug free to diffuse when it binds electrostatically to the carrier
    (heuristic, documented as such): ``D_eff/D = 1/(1 + K_b)``,
    ``K_b = K_b0·exp(−z·ζ/(k_B T/e))`` — a Boltzmann factor of the drug's charge ``z``
    in the surface potential ζ (``k_B T/e`` = 26.7 mV at 37 °C). Opposite charges bind.
    """
    thermal_mv = 1e3 * GAS_CONSTANT * (temperature_c + 273.15) / 96485.33212
    return 1.0 / (1.0 + binding_constant * torch.exp(-net_charge * zeta_mv / thermal_mv))


def effective_radius_nm(
    radius_nm: torch.Tensor,
    zeta_mv: torch.Tensor,
    peg_fraction: torch.Tensor,
    *,
    growth: float | torch.Tensor,
    critical_mv: float | torch.Tensor,
    width_mv: float | torch.Tensor,
    peg_half: float | torch.Tensor,
) -> torch.Tensor:
    """Radius after aggregation (heuristic, documented as such).

    Particles with ``|ζ|`` below ~25 mV are colloidally unstable (DLVO; Honary &
    Zahir, Trop. J. Pharm. Res. 12 (2013) 255) and aggregate, lengthening the
    diffusion path; a PEG shell stabilises them sterically:
    ``R_eff = R·(1 + g·σ((ζ_c − |ζ|)/w)·(1 − peg/(peg + p½)))``,
    with ``|ζ|`` smoothed as ``√(ζ² + 1)``.
    """
    magnitude = torch.sqrt(zeta_mv * zeta_mv + 1.0)
    unstable = torch.sigmoid((critical_mv - magnitude) / width_mv)
    return radius_nm * (1.0 + growth * unstable * (1.0 - peg_fraction / (peg_fraction + peg_half)))


def ph_gate(ph: torch.Tensor, pka: torch.Tensor, width: float | torch.Tensor) -> torch.Tensor:
    """Openness in ``[0, 1]`` of a protonatable (cationic) gate: ``σ((pKa − pH)/w)``.

    Chitosan (pKa ≈ 6.3) or poly(β-amino ester)s protonate, swell and release
    faster in acid (Kanamala et al., Biomaterials 85 (2016) 152).
    """
    return torch.sigmoid((pka - ph) / width)


def thermal_gate(
    temperature_c: torch.Tensor, transition_c: torch.Tensor, width_c: float | torch.Tensor
) -> torch.Tensor:
    """Openness in ``[0, 1]`` of a thermoresponsive gate: ``σ((T − T_c)/w)``.

    PNIPAM collapses above its LCST (≈ 32 °C, shifted by comonomers) and squeezes
    drug out (Schild, Prog. Polym. Sci. 17 (1992) 163).
    """
    return torch.sigmoid((temperature_c - transition_c) / width_c)


def stimulus_gain(
    fraction: torch.Tensor, openness: torch.Tensor, gain: float | torch.Tensor
) -> torch.Tensor:
    """Multiplier ``1 + fraction·(gain − 1)·openness`` on a rate: 1 when the responsive
    component is absent (``fraction = 0``) or the gate is shut."""
    return 1.0 + fraction * (gain - 1.0) * openness


def magnetic_heating_c(
    core_fraction: torch.Tensor, field_ka_m: torch.Tensor, coefficient: float | torch.Tensor
) -> torch.Tensor:
    """Local temperature rise of a particle with an iron-oxide core in an alternating
    magnetic field, ``ΔT = c·φ·H²`` (linear-response theory: dissipated power ∝ H²;
    Rosensweig, J. Magn. Magn. Mater. 252 (2002) 370). Zero without a core or field.

    :param core_fraction: magnetic core mass fraction.
    :param field_ka_m: field amplitude, kA/m.
    :param coefficient: °C per (kA/m)² per unit core fraction.
    :returns: temperature rise, °C.
    """
    return coefficient * core_fraction * field_ka_m * field_ka_m


def liposome_permeability_nm_h(
    temperature_c: torch.Tensor,
    lipid_tm_c: torch.Tensor,
    *,
    gel_nm_h: float | torch.Tensor,
    fluid_ratio: float | torch.Tensor,
    peak_ratio: float | torch.Tensor,
    transition_width_c: float | torch.Tensor,
    peak_width_c: float | torch.Tensor,
) -> torch.Tensor:
    """Bilayer permeability around the lipid phase transition.

    Permeability is low in the gel phase, higher in the fluid phase and peaks
    at ``Tm`` where gel and fluid domains coexist and their boundaries leak
    (Papahadjopoulos et al., BBA 311 (1973) 330; Needham & Dewhirst, Adv. Drug
    Deliv. Rev. 53 (2001) 285):
    ``P = P_gel·(1 + (r_f − 1)·σ((T − Tm)/w) + r_p·exp(−((T − Tm)/w_p)²))``.

    :returns: permeability, nm/h.
    """
    d = temperature_c - lipid_tm_c
    shape = 1.0 + (fluid_ratio - 1.0) * torch.sigmoid(d / transition_width_c)
    return gel_nm_h * (shape + peak_ratio * torch.exp(-((d / peak_width_c) ** 2)))
