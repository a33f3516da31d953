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
    "cholesterol_transition_share",
    "drug_net_charge",
    "effective_radius_nm",
    "equivalent_sphere_radius",
    "erosion_fraction",
    "family_diffusivity_offset",
    "family_weights",
    "fickian_cylinder_fraction",
    "fickian_finite_cylinder_fraction",
    "fickian_slab_fraction",
    "fickian_sphere_fraction",
    "first_order_fraction",
    "higuchi_slab_fraction",
    "hydrolysis_rate_per_h",
    "ionised_solubility_factor",
    "liposome_permeability_nm_h",
    "lysolipid_pore_rate_per_h",
    "lysolipid_pore_share",
    "magnetic_heating_c",
    "ph_gate",
    "photothermal_heating_c",
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


#: θ below which the cylinder's short-time expansion is used (its first neglected term,
#: ~0.4·θ^4.5, is < 1e-8 there; above it the 11th Bessel-root term is < 1e-12).
CYLINDER_SHORT_TIME_THETA = 0.02
#: Coefficients c_k of the cylinder's short-time expansion ``F = Σ c_k θ^{(k+1)/2}``,
#: from the Laplace transform ``F̄(s) = 2·I₁(√s)/(s^{3/2}·I₀(√s))`` and the asymptotic
#: series of ``I₁/I₀`` (Abramowitz & Stegun 9.7.1): ``4/√π, −1, −1/(3√π), −1/8, …``.
_CYLINDER_SHORT = (
    4.0 / _SQRT_PI,
    -1.0,
    -1.0 / (3.0 * _SQRT_PI),
    -0.125,
    -0.11753949657244925,
    -0.13541666666666666,
    -0.1801712568889115,
    -0.2682291666666667,
)
#: Roots β_n of the Bessel function J₀ (n = 1 … 11).
_J0_ROOTS = (
    2.4048255576957724,
    5.520078110286311,
    8.653727912911013,
    11.791534439014281,
    14.930917708487787,
    18.071063967910924,
    21.21163662987926,
    24.352471530749302,
    27.493479132040253,
    30.634606468431976,
    33.77582021357357,
)
#: θ below which the slab's short-time form is used (neglected terms ~e^{−1/θ} < 1e-9).
SLAB_SHORT_TIME_THETA = 0.05


def _safe_root(theta: torch.Tensor) -> torch.Tensor:
    """√θ with a finite (zero) gradient at θ = 0."""
    return torch.sqrt(torch.where(theta > 0, theta, 1.0)) * (theta > 0)


def fickian_cylinder_fraction(theta: torch.Tensor) -> torch.Tensor:
    """Fraction released by Fickian diffusion from an infinite cylinder of radius ``a``,
    drug initially dissolved uniformly, perfect sink (Crank, *The Mathematics of
    Diffusion*, 2nd ed. 1975, eq. 5.24 integrated: ``F = 1 − Σ 4/β_n²·exp(−β_n² θ)``,
    ``J₀(β_n) = 0``), ``θ = τ/a²``.

    * ``θ < 0.02``: short-time expansion ``F = 4√(θ/π) − θ − θ^{3/2}/(3√π) − θ²/8 − …``
      (eight terms, from the Laplace transform; the first three are Crank's small-time
      form, §5.3, also quoted by Siepmann & Siepmann, J. Control. Release 161 (2012) 351);
    * ``θ ≥ 0.02``: the Bessel series with 11 roots.

    Accurate to 2e-8 (tested against a 400-root series). Mean release time ``a²/(8D)``.

    :param theta: dimensionless time ``τ/a²`` ≥ 0, any shape.
    :returns: cumulative fraction released in ``[0, 1]``.
    """
    short = theta < CYLINDER_SHORT_TIME_THETA
    ts = torch.where(short, theta, 0.0).clamp(min=0.0)
    root = _safe_root(ts)
    f_short = torch.zeros_like(ts)
    power = root
    for c in _CYLINDER_SHORT:  # Σ c_k θ^{(k+1)/2}
        f_short = f_short + c * power
        power = power * root
    tl = torch.where(short, CYLINDER_SHORT_TIME_THETA, theta)
    tail = sum((4.0 / (b * b)) * torch.exp(-(b * b) * tl) for b in _J0_ROOTS)
    return torch.where(short, f_short, 1.0 - tail).clamp(0.0, 1.0)


def fickian_slab_fraction(theta: torch.Tensor) -> torch.Tensor:
    """Fraction released by Fickian diffusion from a plane sheet of half-thickness ``l``
    through both faces, drug initially dissolved uniformly, perfect sink (Crank 1975,
    eqs. 4.17 and 4.18), ``θ = τ/l²``.

    * ``θ < 0.05``: ``F = 2√(θ/π)`` (eq. 4.17 without its ierfc terms, < 1e-9 there);
    * ``θ ≥ 0.05``: ``F = 1 − Σ_{n=0}^{6} 8/((2n+1)²π²)·exp(−(2n+1)²π²θ/4)`` (eq. 4.18).

    Mean release time ``l²/(3D)``.

    :param theta: dimensionless time ``τ/l²`` ≥ 0, any shape.
    :returns: cumulative fraction released in ``[0, 1]``.
    """
    short = theta < SLAB_SHORT_TIME_THETA
    ts = torch.where(short, theta, 0.0).clamp(min=0.0)
    f_short = (2.0 / _SQRT_PI) * _safe_root(ts)
    tl = torch.where(short, SLAB_SHORT_TIME_THETA, theta)
    tail = sum(
        (8.0 / (m * m * math.pi**2)) * torch.exp(-(m * m * math.pi**2 / 4.0) * tl)
        for m in (1, 3, 5, 7, 9, 11, 13)
    )
    return torch.where(short, f_short, 1.0 - tail).clamp(0.0, 1.0)


def fickian_finite_cylinder_fraction(
    theta_radial: torch.Tensor, theta_axial: torch.Tensor
) -> torch.Tensor:
    """Fraction released from a finite cylinder (radius ``a``, length ``2l``) through its
    mantle and both ends: the retained fraction is the product of the infinite
    cylinder's and the slab's (Crank 1975, §5.3.4 / §2.3: the solution for a region that
    is the intersection of two is the product of theirs),
    ``1 − F = (1 − F_cyl(τ/a²))·(1 − F_slab(τ/l²))``.

    Exact for any diffusivity that depends on time only (both factors share ``τ``).

    :param theta_radial: ``τ/a²``.
    :param theta_axial: ``τ/l²`` with ``l`` the half-length.
    """
    return 1.0 - (1.0 - fickian_cylinder_fraction(theta_radial)) * (
        1.0 - fickian_slab_fraction(theta_axial)
    )


def equivalent_sphere_radius(
    radius_nm: torch.Tensor, geometry: torch.Tensor, aspect_ratio: torch.Tensor
) -> torch.Tensor:
    """Radius of the sphere with the same surface-to-volume ratio, ``3V/S``: ``R`` for a
    sphere, ``3αa/(2α + 1)`` for a cylinder of radius ``a`` and length/diameter ``α``
    (``S/V = 2/a + 2/L``), ``3l`` for a slab of half-thickness ``l`` (``S/V = 1/l``).
    Sets surface-driven terms (burst) and the dispersed-drug front of a cylinder.

    :param geometry: codes of :class:`~nanoenv.kinetics.formulation.Geometry`.
    """
    cylinder = 3.0 * aspect_ratio * radius_nm / (2.0 * aspect_ratio + 1.0)
    return torch.where(
        geometry == 1, cylinder, torch.where(geometry == 2, 3.0 * radius_nm, radius_nm)
    )


def higuchi_slab_fraction(x: torch.Tensor) -> torch.Tensor:
    """Release from a slab with drug dispersed above its solubility, pseudo-steady state
    (Higuchi, J. Pharm. Sci. 50 (1961) 874): ``F = √(2x)`` until complete at ``x = 1/2``,
    ``x = Cs·τ/(A·l²)`` (``A ≫ Cs``).

    :param x: dimensionless time ≥ 0.
    """
    return (math.sqrt(2.0) * _safe_root(x)).clamp(max=1.0)


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
    weights: list[torch.Tensor] | None = None,
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
    :param weights: ``family_weights(family, len(family_k_per_day))`` when the caller has
        them (the simulator computes them once for this law and the diffusivity's).
    :returns: ``k_h`` in 1/h.
    """
    la = lactide_fraction
    kla = torch.as_tensor(kpla_per_day, dtype=la.dtype, device=la.device)
    g = 1.0 - la
    rise = 1.0 - (1.0 - 2.0 * torch.clamp(g, max=0.5)) ** 2
    fall = torch.relu(2.0 * g - 1.0) ** 2
    ln_k = torch.log(kla) + glycolide_gain * rise - pga_slowdown * fall
    if family is not None and len(family_k_per_day) > 0:
        if weights is None:
            weights = family_weights(family, len(family_k_per_day))
        ln_family = [
            torch.log(torch.as_tensor(k, dtype=la.dtype, device=la.device))
            for k in family_k_per_day
        ]
        ln_k = weights[0] * ln_k + sum(w * lk for w, lk in zip(weights[1:], ln_family, strict=True))
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
    family: torch.Tensor,
    offsets: tuple[float | torch.Tensor, ...],
    weights: list[torch.Tensor] | None = None,
) -> torch.Tensor:
    """Decades added to ``log10 D`` for the polymer family ``family`` (0 for
    lactide–glycolide; ``offsets[i − 1]`` for family ``i``, blended like
    :func:`family_weights`).

    :param family: tensor of family codes.
    :param offsets: decades of D of families 1, 2, … relative to the lactide–glycolide law.
    :param weights: ``family_weights(family, len(offsets))`` when the caller has them.
    """
    if weights is None:
        weights = family_weights(family, len(offsets))
    return sum((w * o for w, o in zip(weights[1:], offsets, strict=True)), torch.zeros_like(family))


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
    core_fraction: torch.Tensor,
    field_ka_m: torch.Tensor,
    frequency_khz: torch.Tensor,
    *,
    max_rise_c: float | torch.Tensor,
    saturation_field_ka_m: float | torch.Tensor,
    relaxation_time_us: float | torch.Tensor,
    reference_frequency_khz: float = 100.0,
) -> torch.Tensor:
    """Steady local temperature rise of a particle with an iron-oxide core in an
    alternating magnetic field of amplitude ``H`` and frequency ``f``.

    Dissipated power is the loop area times ``f``. In linear response
    (Rosensweig, J. Magn. Magn. Mater. 252 (2002) 370) ``P = μ₀πχ''(f)·H²·f`` with
    ``χ'' ∝ 2πfτ/(1 + (2πfτ)²)`` (Néel/Brown relaxation time ``τ``); the loop area
    saturates once ``H`` exceeds the particles' anisotropy field ``H_s`` (Hergt & Dutz,
    J. Magn. Magn. Mater. 311 (2007) 187). The temperature rise is proportional to the
    power:
    ``ΔT = ΔT_max·φ·h²/(1 + h²)·(f/f_ref)·2ωτ/(1 + (ωτ)²)``, ``h = H/H_s``, ``ω = 2πf``,
    normalised so that ``ΔT = ΔT_max·φ/2`` at ``H = H_s`` and ``f = f_ref = 1/(2πτ)``.
    Bounded: within the clinical limit ``H·f ≤ 5e9 A m⁻¹ s⁻¹`` (enforced by
    :class:`~nanoenv.kinetics.conditions.ReleaseConditions`) the rise stays below
    ``~1.02·ΔT_max·φ`` with the default constants. Zero without a core or field.

    :param core_fraction: magnetic core mass fraction ``φ``.
    :param field_ka_m: field amplitude ``H``, kA/m.
    :param frequency_khz: field frequency ``f``, kHz.
    :param max_rise_c: ``ΔT_max``, °C per unit core fraction (twice the rise at
        ``H = H_s``, ``f = f_ref``).
    :param saturation_field_ka_m: ``H_s``, kA/m.
    :param relaxation_time_us: ``τ``, µs.
    :param reference_frequency_khz: ``f_ref``, kHz.
    :returns: temperature rise, °C.
    """
    h2 = (field_ka_m / saturation_field_ka_m) ** 2
    wt = 2.0 * math.pi * frequency_khz * 1e3 * relaxation_time_us * 1e-6
    loss = (frequency_khz / reference_frequency_khz) * 2.0 * wt / (1.0 + wt * wt)
    return max_rise_c * core_fraction * h2 / (1.0 + h2) * loss


def photothermal_heating_c(
    absorber_fraction: torch.Tensor, light_mw_cm2: torch.Tensor, coefficient: float | torch.Tensor
) -> torch.Tensor:
    """Steady temperature rise of a particle carrying an NIR absorber under light,
    ``ΔT = c·φ·I``: absorbed power is proportional to intensity and absorber content and
    the steady rise to the absorbed power (heat balance; Richardson et al., Nano Lett. 9
    (2009) 1139). Gold nanocages under NIR light heat a PNIPAM-co-PAAm shell above its
    LCST and release on demand, stopping when the light is off (Yavuz et al., Nat. Mater.
    8 (2009) 935). The local temperature is checked against 100 °C by
    :func:`~nanoenv.kinetics.simulate.simulate_release`.

    :param absorber_fraction: absorber mass fraction ``φ``.
    :param light_mw_cm2: intensity ``I``, mW/cm².
    :param coefficient: ``c``, °C per (mW/cm²) per unit absorber fraction.
    :returns: temperature rise, °C.
    """
    return coefficient * absorber_fraction * light_mw_cm2


def ionised_solubility_factor(
    ph: torch.Tensor, pka: torch.Tensor, charge: torch.Tensor, reference_ph: float = 7.4
) -> torch.Tensor:
    """Aqueous solubility of an ionisable drug at ``ph`` relative to ``reference_ph``,
    Henderson–Hasselbalch: total solubility ``S = S₀·(1 + 10^(pKa − pH))`` for a base
    (``charge = +1``) and ``S₀·(1 + 10^(pH − pKa))`` for an acid (``−1``); 1 for a neutral
    drug (Avdeef, *Absorption and Drug Development*, 2nd ed. 2012, ch. 6). A base
    dissolves better in acid: doxorubicin (pKa 8.3) is ~200× more soluble at pH 5 than
    at 7.4. The rise continues until the salt's own solubility limits it (pH_max;
    Serajuddin, Adv. Drug Deliv. Rev. 59 (2007) 603), which the simulator's dispersed
    drug model reaches when solubility exceeds loading.

    :returns: ``S(pH)/S(reference_ph)`` > 0.
    """
    sp = torch.nn.functional.softplus  # ln(1 + e^x)
    base = sp(_LN10 * (pka - ph)) - sp(_LN10 * (pka - reference_ph))
    acid = sp(_LN10 * (ph - pka)) - sp(_LN10 * (reference_ph - pka))
    return torch.exp(torch.relu(charge) * base + torch.relu(-charge) * acid)


def cholesterol_transition_share(
    cholesterol_fraction: torch.Tensor, scale: float | torch.Tensor
) -> torch.Tensor:
    """Share of the lipid that still melts cooperatively at ``Tm``, ``exp(−x_chol/x_c)``.

    Cholesterol broadens and abolishes the main phase transition of saturated
    phosphatidylcholines and at ≳ 30 mol % forms the liquid-ordered phase, which has
    no gel/fluid domain boundaries and is barely permeable above and below ``Tm``
    (Mabrey, Mateo & Sturtevant, Biochemistry 17 (1978) 2464; Needham & Dewhirst, Adv.
    Drug Deliv. Rev. 53 (2001) 285). So Doxil (HSPC/cholesterol 55:45) holds
    doxorubicin even at its ``Tm`` (Barenholz, J. Control. Release 160 (2012) 117).
    The exponential form is phenomenological (heuristic, documented as such).

    :param cholesterol_fraction: cholesterol mole fraction of the lipid.
    :param scale: ``x_c``, mole fraction.
    :returns: share in ``(0, 1]``; 1 without cholesterol.
    """
    return torch.exp(-cholesterol_fraction / scale)


def lysolipid_pore_share(
    lysolipid_fraction: torch.Tensor,
    *,
    max_share: float | torch.Tensor,
    half_fraction: float | torch.Tensor,
) -> torch.Tensor:
    """Share of the drug in vesicles that open lysolipid pores at ``Tm``,
    ``φ = φ_max·(1 − exp(−x_lyso·ln2/x_½))``.

    Lysolipids (MSPC, MPPC) gather at the grain boundaries of a melting bilayer and
    stabilise nanopores, so lysolipid thermosensitive liposomes (LTSL, DPPC:MSPC:
    DSPE-PEG 90:10:4) release ~60 % of doxorubicin within 20 s and ~80 % within 3–4 min
    at 42 °C, while the same bilayer without lysolipid releases almost nothing in that
    time (Needham et al., Faraday Discuss. 161 (2013) 515; Mills & Needham, BBA 1716
    (2005) 77). Release plateaus below 100 % (vesicles without enough lysolipid, and
    lysolipid lost from the bilayer: Banno et al., J. Control. Release 146 (2010) 44),
    which this share expresses (heuristic, documented as such).

    :param lysolipid_fraction: lysolipid mole fraction ``x_lyso``.
    :param max_share: ``φ_max``.
    :param half_fraction: ``x_½``, the lysolipid fraction at half of ``φ_max``.
    """
    return max_share * -torch.expm1(-math.log(2.0) * lysolipid_fraction / half_fraction)


def lysolipid_pore_rate_per_h(
    temperature_c: torch.Tensor,
    lipid_tm_c: torch.Tensor,
    lysolipid_fraction: torch.Tensor,
    radius_nm: torch.Tensor,
    transition_share: torch.Tensor,
    *,
    pore_permeability_nm_h: float | torch.Tensor,
    onset_width_c: float | torch.Tensor,
) -> torch.Tensor:
    """Release rate through lysolipid pores, ``k = 3·P_pore·x_lyso·s·σ((T − Tm)/w)/R``:
    a reservoir rate ``3P/R`` whose permeability opens as the bilayer melts (sharp onset
    of width ``w`` at ``Tm``; LTSL release is triggered between 39 and 42 °C: Needham et
    al., Cancer Res. 60 (2000) 1197) and grows with lysolipid content; cholesterol's
    ordered phase (``s``, :func:`cholesterol_transition_share`) suppresses it.

    :param pore_permeability_nm_h: ``P_pore``, nm/h per unit lysolipid mole fraction.
    :param onset_width_c: ``w``, °C.
    :returns: rate, 1/h.
    """
    opened = torch.sigmoid((temperature_c - lipid_tm_c) / onset_width_c)
    return 3.0 * pore_permeability_nm_h * lysolipid_fraction * transition_share * opened / radius_nm


def liposome_permeability_nm_h(
    temperature_c: torch.Tensor,
    lipid_tm_c: torch.Tensor,
    *,
    gel_nm_h: float | torch.Tensor,
    fluid_ratio: float | torch.Tensor,
    peak_ratio: float | torch.Tensor,
    transition_width_c: float | torch.Tensor,
    peak_width_c: float | torch.Tensor,
    transition_share: torch.Tensor | float = 1.0,
) -> torch.Tensor:
    """Bilayer permeability around the lipid phase transition.

    Permeability is low in the gel phase, higher in the fluid phase and peaks
    at ``Tm`` where gel and fluid domains coexist and their boundaries leak
    (Papahadjopoulos et al., BBA 311 (1973) 330; Needham & Dewhirst, Adv. Drug
    Deliv. Rev. 53 (2001) 285):
    ``P = P_gel·(1 + s·[(r_f − 1)·σ((T − Tm)/w) + r_p·exp(−((T − Tm)/w_p)²)])``,
    where ``s`` is the share of lipid that melts cooperatively (1 without cholesterol;
    :func:`cholesterol_transition_share`): the liquid-ordered phase has neither the
    fluid's leak nor the boundary peak.

    :returns: permeability, nm/h.
    """
    d = temperature_c - lipid_tm_c
    melt = (fluid_ratio - 1.0) * torch.sigmoid(d / transition_width_c)
    peak = peak_ratio * torch.exp(-((d / peak_width_c) ** 2))
    return gel_nm_h * (1.0 + transition_share * melt + transition_share * peak)
