"""Diagnostic signals of theranostic particles: MRI T2 contrast from a magnetic core and
fluorescence that dequenches as the drug (or a co-loaded dye) leaves.

## T2 relaxivity of an iron-oxide core

Water diffusing past a magnetised sphere of radius ``a`` dephases; outer-sphere theory
gives the transverse relaxation rate added per volume fraction ``f`` of magnetic
material in two limits (Gillis, Moiny & Brooks, Magn. Reson. Med. 47, 257 (2002);
Brooks, Moiny & Gillis, Magn. Reson. Med. 45, 1014 (2001)):

* motional averaging (small cores, ``Δω·τ_D < 1``): ``R2 = (16/45) · f · τ_D · Δω²``;
* static dephasing (large cores or clusters): ``R2 = (2π / 3√3) · f · Δω``,

with ``τ_D = a²/D`` (water diffusivity ``D = 3e-9 m²/s`` at 37 °C) and the equatorial
frequency shift ``Δω = γ·μ0·M_s/3`` (``M_s`` of magnetite ≈ 4.5e5 A/m, ``γ`` the proton
gyromagnetic ratio). :func:`t2_relaxivity` joins the two limits smoothly,
``R2 = R2_MAR / (1 + R2_MAR/R2_SDR)``, so relaxivity grows with the core's size and
saturates (the plateau measured for clustered iron oxides, Matsumoto & Jasanoff, Magn.
Reson. Imaging 26, 994 (2008)). The core of a particle of radius ``R`` whose mass
fraction ``φ`` is magnetite (density 5.17 g/cm³, matrix ~1.25 g/cm³) is taken as one
cluster of radius ``a = R·φ_vol^(1/3)``. Per mM iron, ``f = 1e-3 mol/L · 14.9 cm³/mol``
(magnetite's volume per mole of Fe), giving ~100 s⁻¹ mM⁻¹ for 5 nm cores, as ferumoxides
(Feridex r2 ≈ 100-120 s⁻¹ mM⁻¹ at 1.5 T; Rohrer et al., Invest. Radiol. 40, 715 (2005)).

## Fluorescence dequenching

A dye (or doxorubicin itself) packed at high concentration inside the particle
self-quenches (Stern–Volmer, ``F/F0 = 1/(1 + K_SV·c)``) and recovers its fluorescence on
release into the medium (calcein, Allen & Cleland, Biochim. Biophys. Acta 597, 418
(1980): ~95 % quenched above 50 mM). The signal relative to the fully released dye is
``F(t) + (1 − F(t)) / (1 + K_SV·c)`` for cumulative release ``F``.
"""

from __future__ import annotations

import math

import torch

from nanoenv.kinetics.validation import check_in_range

__all__ = [
    "FE_PER_MAGNETITE_MASS",
    "dequenching_signal",
    "iron_concentration_mm",
    "t2_contrast",
    "t2_relaxivity",
]

Tensor = torch.Tensor

_GAMMA = 2.675e8  # proton gyromagnetic ratio, rad s^-1 T^-1
_MU0 = 4e-7 * math.pi  # T m / A
_WATER_D = 3.0e-9  # m^2/s at 37 degC
_MAGNETITE_MS = 4.5e5  # A/m
_MAGNETITE_DENSITY = 5.17  # g/cm^3
_MATRIX_DENSITY = 1.25  # g/cm^3 (PLGA)
_FE_VOLUME_L_PER_MOL = 14.9e-3  # L of magnetite per mol Fe (231.5 g/mol / 5.17 g/cm3 / 3)
#: Iron mass per magnetite mass (Fe3O4: 3·55.85/231.5).
FE_PER_MAGNETITE_MASS = 3 * 55.845 / 231.53
_FE_MG_PER_MMOL = 55.845


def t2_relaxivity(radius_nm: Tensor, magnetic_core_fraction: Tensor) -> Tensor:
    """Transverse relaxivity r2 per mM iron, s⁻¹ mM⁻¹ (module docstring).

    :param radius_nm: ``(B,)`` particle radius, nm (> 0).
    :param magnetic_core_fraction: ``(B,)`` magnetite mass fraction of the particle, in
        ``[0, 1)``; 0 gives a vanishingly small core.
    """
    phi = magnetic_core_fraction
    vol = phi / _MAGNETITE_DENSITY
    phi_vol = vol / (vol + (1.0 - phi) / _MATRIX_DENSITY)
    core_m = radius_nm * 1e-9 * phi_vol.clamp(min=1e-12) ** (1.0 / 3.0)
    delta_omega = _GAMMA * _MU0 * _MAGNETITE_MS / 3.0
    f = 1e-3 * _FE_VOLUME_L_PER_MOL
    tau_d = core_m**2 / _WATER_D
    mar = 16.0 / 45.0 * f * tau_d * delta_omega**2
    sdr = 2.0 * math.pi / (3.0 * math.sqrt(3.0)) * f * delta_omega
    return mar / (1.0 + mar / sdr)


def iron_concentration_mm(
    dose_mg: Tensor | float,
    drug_loading: Tensor,
    magnetic_core_fraction: Tensor,
    volume_l: Tensor | float = 3.0,
) -> Tensor:
    """Iron concentration, mM, when the particles carrying ``dose_mg`` of drug are spread
    over ``volume_l`` (default: the plasma right after injection).

    The particle mass injected is ``dose / drug_loading``; a ``magnetic_core_fraction``
    of it is magnetite, of which 72.4 % is iron.
    """
    particle_mg = dose_mg / drug_loading.clamp(min=1e-6)
    iron_mmol = particle_mg * magnetic_core_fraction * FE_PER_MAGNETITE_MASS / _FE_MG_PER_MMOL
    return iron_mmol / volume_l


def t2_contrast(
    radius_nm: Tensor,
    magnetic_core_fraction: Tensor,
    drug_loading: Tensor,
    dose_mg: Tensor | float = 100.0,
    echo_time_s: float = 0.03,
    volume_l: Tensor | float = 3.0,
    validate: bool = True,
) -> Tensor:
    """T2-weighted signal loss ``1 − exp(−TE·r2·[Fe])`` in ``[0, 1)`` (0: invisible).

    :param radius_nm: ``(B,)`` particle radius, nm.
    :param magnetic_core_fraction: ``(B,)`` magnetite mass fraction.
    :param drug_loading: ``(B,)`` drug mass fraction (sets how many particles a dose is).
    :param dose_mg: drug dose, mg.
    :param echo_time_s: echo time of the T2-weighted sequence, s.
    :param volume_l: volume the particles are diluted in, L.
    :param validate: check the inputs.
    """
    if validate:
        check_in_range("radius_nm", radius_nm, 1.0, 1e7, "nm")
        check_in_range("magnetic_core_fraction", magnetic_core_fraction, 0.0, 0.9)
        check_in_range("drug_loading", drug_loading, 1e-4, 1.0)
        check_in_range("echo_time_s", torch.as_tensor(echo_time_s), 1e-4, 1.0, "s")
    r2 = t2_relaxivity(radius_nm, magnetic_core_fraction)
    fe = iron_concentration_mm(dose_mg, drug_loading, magnetic_core_fraction, volume_l)
    return -torch.expm1(-echo_time_s * r2 * fe)


def dequenching_signal(
    release: Tensor, quenching: Tensor | float = 20.0, validate: bool = True
) -> Tensor:
    """Fluorescence relative to the fully released dye, ``F + (1 − F)/(1 + quenching)``.

    :param release: ``(B, T)`` cumulative fraction released, in ``[0, 1]``.
    :param quenching: ``K_SV·c`` of the dye inside the particle, dimensionless ≥ 0 (20:
        95 % quenched, calcein above 50 mM).
    :param validate: check the inputs.
    """
    if validate:
        check_in_range("release", release, 0.0, 1.0 + 1e-6)
        check_in_range("quenching", torch.as_tensor(quenching), 0.0, 1e6)
    q = torch.as_tensor(quenching, dtype=release.dtype, device=release.device)
    if q.dim() == 1:
        q = q[:, None]
    return release + (1.0 - release) / (1.0 + q)
