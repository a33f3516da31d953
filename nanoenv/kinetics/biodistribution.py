"""Where the drug goes: a minimal physiologically based model of nanoparticle delivery.

Particles and the drug they have released are separate species. Particles move between
**plasma**, **tumour** (extravasation through leaky tumour vessels, the EPR effect), the
**MPS** (liver and spleen macrophages, which take particles up for good), **healthy
tissue**, and **renal** excretion; they carry the drug still encapsulated and release it
where they are with the cumulative release curve ``F(t)`` the release simulator computes
(:func:`nanoenv.kinetics.simulate_release`), assumed the same in every compartment. The
released (free) drug distributes between plasma, tumour, healthy tissue and liver, and is
cleared from plasma:

    dN/dt = A · N                       particles, fraction of the injected particles
    dD/dt = K · D + F'(t) · S · N       free drug, fraction of the dose
    dI/dt = D                           exposure (area under the free-drug amount)

with ``N = (plasma, tumour, MPS, healthy, renal)``, ``D = (plasma, tumour, healthy,
liver, eliminated)`` and ``S`` sending the drug released by particles in the MPS to the
liver, by renally excreted particles to the eliminated pool. ``F`` is taken piecewise
linear between the grid points, so inside each interval the whole system is linear with
constant coefficients and is advanced exactly by one matrix exponential
(``torch.linalg.matrix_exp``, batched and differentiable). Total drug — encapsulated
``Σ N·(1 − F)`` plus free ``Σ D`` — is conserved to round-off.

## Particle rates (per hour), from the hydrodynamic diameter ``d = 2·radius_nm``, the PEG
mass fraction and the ζ-potential

* **Renal filtration** only below ~10 nm: ``k_ren = GFR/V_plasma · σ((10 nm − d)/1.5 nm)``
  (Choi et al., Nat. Biotechnol. 25, 1165 (2007): quantum dots below 5.5 nm are
  excreted in urine, larger ones not; Blanco, Shen & Ferrari, Nat. Biotechnol. 33, 941
  (2015)).
* **MPS uptake** ``k_mps = k_mps0 · (1 + (d/200 nm)³) · opsonisation(PEG) · charge(ζ)``:
  rises steeply above ~200 nm (splenic filtration, Moghimi, Hunter & Murray, Pharmacol.
  Rev. 53, 283 (2001); Alexis et al., Mol. Pharm. 5, 505 (2008)); a PEG shell cuts
  opsonisation, ``opsonisation = 1 − 0.95·p/(p + 0.02)`` with PEG mass fraction ``p``
  (plateau from ~5 wt %: Gref et al., Colloids Surf. B 18, 301 (2000)), which lengthens
  circulation about tenfold, as PEGylated against plain liposomes (Doxil plasma
  half-life ~55 h in patients against hours: Gabizon et al., Cancer Res. 54, 987
  (1994)); cationic surfaces are cleared faster and strongly anionic ones somewhat
  faster, ``charge = 1 + 4·σ((ζ − 5 mV)/5 mV)·(1 − shield) + 0.5·σ((−ζ − 40 mV)/5 mV)``,
  the PEG ``shield = p/(p + 0.02)`` masking the charge (Alexis et al. 2008; Xiao et al.,
  Biomaterials 32, 3435 (2011)). ``k_mps0 = 0.35 /h`` (plain 100 nm particles: plasma
  half-life ~2 h, Alexis et al. 2008).
* **EPR extravasation** into the tumour ``k_epr = k_epr0 · leakiness · σ((ln 200 nm − ln
  d)/0.3)`` and **wash-out** back to plasma ``k_back = k_back0 · (50 nm/d)²``: particles
  above ~200 nm are held back by the vessel wall (pore cut-off, Hobbs et al., PNAS 95,
  4607 (1998)) and small ones diffuse back out (poor retention; Maeda et al., J. Control.
  Release 65, 271 (2000)), so the retained tumour dose peaks for ~50–200 nm particles
  (Blanco 2015; Wilhelm et al., Nat. Rev. Mater. 1, 16014 (2016)). ``k_epr0 = 2.5e-4 /h``
  delivers ~0.7 % of a PEGylated 100 nm dose to a typical tumour (``leakiness = 1``), the
  median of 117 studies in Wilhelm et al. 2016.
* **Healthy-tissue uptake** ``k_h = k_h0 · charge(ζ)`` (non-specific, higher for cationic
  surfaces: Alexis 2008), returned at ``k_hb``.

## Free drug

Permeability-limited exchange ``PS`` (L/h) between plasma and each tissue (partition
coefficient 1), clearance ``CL`` (L/h) from plasma. Volumes and exchange constants are
those of a 70 kg adult (plasma 3 L, healthy tissue the rest of the distribution volume,
liver 1.8 L, a 10 g tumour 0.01 L; Davies & Morris, Pharm. Res. 10, 1093 (1993)).

The model is a heuristic designed for ranking designs by where their released drug ends
up; its constants are typical literature values, not a calibration.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from nanoenv.kinetics.validation import check_finite, check_in_range, check_sorted_times

__all__ = [
    "DRUG_COMPARTMENTS",
    "PARTICLE_COMPARTMENTS",
    "Biodistribution",
    "ParticleRates",
    "Physiology",
    "particle_rates",
    "simulate_biodistribution",
]

Tensor = torch.Tensor

#: Particle compartments, in state order.
PARTICLE_COMPARTMENTS = ("plasma", "tumour", "mps", "healthy", "renal")
#: Free-drug compartments, in state order.
DRUG_COMPARTMENTS = ("plasma", "tumour", "healthy", "liver", "eliminated")

_NP = len(PARTICLE_COMPARTMENTS)
_ND = len(DRUG_COMPARTMENTS)
_NI = 4  # exposure states: plasma, tumour, healthy, liver
_N = _NP + _ND + _NI


@dataclass(frozen=True)
class Physiology:
    """Constants of the physiologically based model (70 kg adult; sources in the module
    docstring).

    :param plasma_volume_l: plasma volume, L.
    :param tumour_volume_l: tumour volume, L (10 g).
    :param liver_volume_l: liver volume, L.
    :param gfr_l_h: glomerular filtration rate, L/h (125 mL/min).
    :param mps_uptake_per_h: MPS uptake of plain, neutral 100 nm particles, 1/h.
    :param epr_per_h: tumour extravasation of 100 nm particles at leakiness 1, 1/h.
    :param tumour_washout_per_h: wash-out of 50 nm particles from the tumour, 1/h.
    :param healthy_uptake_per_h: non-specific healthy-tissue uptake, 1/h.
    :param healthy_return_per_h: return from healthy tissue to plasma, 1/h.
    :param ps_tumour_l_h: free-drug plasma-tumour exchange, L/h.
    :param ps_healthy_l_h: free-drug plasma-healthy tissue exchange, L/h.
    :param ps_liver_l_h: free-drug plasma-liver exchange, L/h.
    """

    plasma_volume_l: float = 3.0
    tumour_volume_l: float = 0.01
    liver_volume_l: float = 1.8
    gfr_l_h: float = 7.5
    mps_uptake_per_h: float = 0.35
    epr_per_h: float = 2.5e-4
    tumour_washout_per_h: float = 0.01
    healthy_uptake_per_h: float = 0.005
    healthy_return_per_h: float = 0.05
    ps_tumour_l_h: float = 0.002
    ps_healthy_l_h: float = 20.0
    ps_liver_l_h: float = 50.0


@dataclass(frozen=True)
class ParticleRates:
    """First-order particle transfer rates, ``(B,)`` each, 1/h (module docstring)."""

    renal: Tensor
    mps: Tensor
    epr: Tensor
    tumour_washout: Tensor
    healthy_uptake: Tensor
    healthy_return: Tensor

    @property
    def circulation_half_life_h(self) -> Tensor:
        """Plasma half-life of the particles ignoring returns, h."""
        out = self.renal + self.mps + self.epr + self.healthy_uptake
        return torch.log(torch.tensor(2.0, dtype=out.dtype, device=out.device)) / out


def particle_rates(
    radius_nm: Tensor,
    peg_fraction: Tensor,
    zeta_mv: Tensor,
    leakiness: Tensor | float = 1.0,
    physiology: Physiology = Physiology(),
) -> ParticleRates:
    """Particle transfer rates from size, PEG and surface charge (module docstring).

    :param radius_nm: ``(B,)`` hydrodynamic radius, nm.
    :param peg_fraction: ``(B,)`` PEG mass fraction, dimensionless.
    :param zeta_mv: ``(B,)`` ζ-potential, mV.
    :param leakiness: tumour vessel leakiness relative to a typical tumour (float or
        ``(B,)``, dimensionless, > 0).
    :param physiology: model constants.
    """
    ph = physiology
    d = 2.0 * radius_nm
    sig = torch.sigmoid
    shield = peg_fraction / (peg_fraction + 0.02)
    opsonisation = 1.0 - 0.95 * shield
    charge = (
        1.0 + 4.0 * sig((zeta_mv - 5.0) / 5.0) * (1.0 - shield) + 0.5 * sig((-zeta_mv - 40.0) / 5.0)
    )
    size_mps = 1.0 + (d / 200.0) ** 3
    ones = torch.ones_like(d)
    return ParticleRates(
        renal=ph.gfr_l_h / ph.plasma_volume_l * sig((10.0 - d) / 1.5),
        mps=ph.mps_uptake_per_h * size_mps * opsonisation * charge,
        epr=ph.epr_per_h * leakiness * sig((torch.log(200.0 / d)) / 0.3) * ones,
        tumour_washout=ph.tumour_washout_per_h * (50.0 / d) ** 2,
        healthy_uptake=ph.healthy_uptake_per_h * charge,
        healthy_return=ph.healthy_return_per_h * ones,
    )


@dataclass(frozen=True)
class Biodistribution:
    """Result of :func:`simulate_biodistribution` on ``T`` times.

    :param times_h: ``(B, T)`` hours.
    :param particles: ``(B, T, 5)`` fraction of injected particles per compartment
        (:data:`PARTICLE_COMPARTMENTS`).
    :param encapsulated: ``(B, T, 5)`` fraction of the dose still inside particles, per
        particle compartment.
    :param free: ``(B, T, 5)`` fraction of the dose released and free, per
        :data:`DRUG_COMPARTMENTS` (``eliminated`` counts cleared drug).
    :param exposure: ``(B, 4)`` area under the free-drug concentration curve in plasma,
        tumour, healthy tissue and liver to the last time, fraction of dose · h / L
        (multiply by the dose in mg for mg·h/L).
    """

    times_h: Tensor
    particles: Tensor
    encapsulated: Tensor
    free: Tensor
    exposure: Tensor

    def total_drug(self) -> Tensor:
        """``(B, T)`` encapsulated plus free drug, fraction of dose (1 by mass balance)."""
        return self.encapsulated.sum(-1) + self.free.sum(-1)


def _system(
    rates: ParticleRates, clearance_l_h: Tensor, volume_l: Tensor, physiology: Physiology
) -> tuple[Tensor, Tensor, Tensor]:
    """``(B, N, N)`` transport matrix without release, ``(B, N, N)`` release coupling
    (to be scaled by ``F'``) and ``(B,)`` healthy-tissue volume, L."""
    ph = physiology
    b = rates.mps.shape[0]
    dtype, device = rates.mps.dtype, rates.mps.device
    m = torch.zeros(b, _N, _N, dtype=dtype, device=device)
    # particles: columns are sources, rows destinations
    P, Tm, M, H, R = range(_NP)
    out_p = rates.renal + rates.mps + rates.epr + rates.healthy_uptake
    m[:, P, P] = -out_p
    m[:, Tm, P] = rates.epr
    m[:, M, P] = rates.mps
    m[:, H, P] = rates.healthy_uptake
    m[:, R, P] = rates.renal
    m[:, Tm, Tm] = -rates.tumour_washout
    m[:, P, Tm] = rates.tumour_washout
    m[:, H, H] = -rates.healthy_return
    m[:, P, H] = rates.healthy_return
    # free drug
    p, t, h, li, e = (_NP + i for i in range(_ND))
    vp = ph.plasma_volume_l
    vh = (volume_l - vp - ph.liver_volume_l - ph.tumour_volume_l).clamp(min=1.0)
    ps = {t: (ph.ps_tumour_l_h, ph.tumour_volume_l), li: (ph.ps_liver_l_h, ph.liver_volume_l)}
    for tissue, (flow, vol) in ps.items():
        m[:, tissue, p] = flow / vp
        m[:, p, tissue] = flow / vol
        m[:, tissue, tissue] = -flow / vol
    m[:, h, p] = ph.ps_healthy_l_h / vp
    m[:, p, h] = ph.ps_healthy_l_h / vh
    m[:, h, h] = -ph.ps_healthy_l_h / vh
    m[:, e, p] = clearance_l_h / vp
    m[:, p, p] = -(ph.ps_tumour_l_h + ph.ps_liver_l_h + ph.ps_healthy_l_h) / vp - (
        clearance_l_h / vp
    )
    # exposure integrates the free amounts in plasma, tumour, healthy, liver
    for k, src in enumerate((p, t, h, li)):
        m[:, _NP + _ND + k, src] = 1.0
    s = torch.zeros(b, _N, _N, dtype=dtype, device=device)
    for src, dst in ((P, p), (Tm, t), (M, li), (H, h), (R, e)):
        s[:, dst, src] = 1.0
    return m, s, vh


def simulate_biodistribution(
    times_h: Tensor,
    release: Tensor,
    radius_nm: Tensor,
    peg_fraction: Tensor,
    zeta_mv: Tensor,
    clearance_l_h: Tensor | float = 5.0,
    volume_l: Tensor | float = 40.0,
    leakiness: Tensor | float = 1.0,
    physiology: Physiology = Physiology(),
    validate: bool = True,
) -> Biodistribution:
    """Where particles and their released drug go after an intravenous bolus.

    Batched over ``B`` designs, differentiable in every tensor input, any device and dtype.

    :param times_h: ``(B, T)`` or ``(T,)`` increasing times, hours, starting at 0.
    :param release: ``(B, T)`` cumulative fraction released by the particles (the release
        simulator's curve), in ``[0, 1]``.
    :param radius_nm: ``(B,)`` hydrodynamic radius, nm (1 to 1e4).
    :param peg_fraction: ``(B,)`` PEG mass fraction (0 to 0.5).
    :param zeta_mv: ``(B,)`` ζ-potential, mV (−100 to 100).
    :param clearance_l_h: free drug's clearance from plasma, L/h (float or ``(B,)``, > 0).
    :param volume_l: free drug's volume of distribution, L (float or ``(B,)``, ≥ 10).
    :param leakiness: tumour vessel leakiness relative to a typical tumour (> 0).
    :param physiology: model constants.
    :param validate: check the inputs (off in hot loops that checked them already).
    """
    if release.dim() != 2:
        raise ValueError(f"release must have shape (B, T); got {tuple(release.shape)}")
    b, n_t = release.shape
    dtype, device = release.dtype, release.device
    times = times_h.to(dtype).expand(b, n_t) if times_h.dim() == 1 else times_h.to(dtype)

    def batch(x: Tensor | float) -> Tensor:
        return torch.as_tensor(x, dtype=dtype, device=device).expand(b)

    radius, peg, zeta = batch(radius_nm), batch(peg_fraction), batch(zeta_mv)
    clearance, volume, leak = batch(clearance_l_h), batch(volume_l), batch(leakiness)
    if validate:
        if times.shape != (b, n_t):
            raise ValueError(
                f"times_h must have shape ({n_t},) or ({b}, {n_t}); got {tuple(times_h.shape)}"
            )
        check_sorted_times("times_h", times)
        check_in_range("release", release, 0.0, 1.0 + 1e-6)
        check_in_range("radius_nm", radius, 1.0, 1e4, "nm")
        check_in_range("peg_fraction", peg, 0.0, 0.5)
        check_in_range("zeta_mv", zeta, -100.0, 100.0, "mV")
        check_in_range("clearance_l_h", clearance, 1e-3, 1e3, "L/h")
        check_in_range("volume_l", volume, 10.0, 1e4, "L")
        check_in_range("leakiness", leak, 1e-3, 1e3)
        check_finite("times_h", times, "h")
    rates = particle_rates(radius, peg, zeta, leak, physiology)
    m, s, vh = _system(rates, clearance, volume, physiology)
    dt = times.diff(dim=1)  # (B, T-1)
    slope = release.diff(dim=1) / dt.clamp(min=1e-12)
    steps = torch.linalg.matrix_exp(
        (m[:, None] + slope[..., None, None] * s[:, None]) * dt[..., None, None]
    )  # (B, T-1, N, N)
    # all particles in plasma; a release at t = 0 (burst) puts its drug in plasma
    x = torch.zeros(b, _N, dtype=dtype, device=device)
    x[:, 0] = 1.0
    x = x + torch.nn.functional.pad(release[:, :1], (_NP, _N - _NP - 1))
    states = [x]
    for k in range(n_t - 1):
        x = (steps[:, k] @ x.unsqueeze(-1)).squeeze(-1)
        states.append(x)
    traj = torch.stack(states, dim=1)  # (B, T, N)
    particles = traj[..., :_NP]
    free = traj[..., _NP : _NP + _ND]
    ph = physiology
    vols = torch.stack(
        [batch(ph.plasma_volume_l), batch(ph.tumour_volume_l), vh, batch(ph.liver_volume_l)], 1
    )
    return Biodistribution(
        times_h=times,
        particles=particles,
        encapsulated=particles * (1.0 - release).unsqueeze(-1),
        free=free,
        exposure=traj[:, -1, _NP + _ND :] / vols,
    )
