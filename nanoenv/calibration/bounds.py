"""Plausible ranges of the fittable simulator constants and how the unbounded fit
parameterises them (:data:`CONSTANT_BOUNDS`, :data:`CONSTANT_TRANSFORMS`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal, NamedTuple

from nanoenv.kinetics.constants import (
    SimulatorConstants,
)

#: How each fittable constant is parameterised for the optimiser: ``"log"`` for positive
#: quantities (fitted as ``ln c``), ``"logit"`` for fractions in (0, 1), ``"linear"`` for
#: slopes and exponents that may change sign.
CONSTANT_TRANSFORMS: dict[str, str] = {
    # diffusivity law (log10 m²/s and its slopes)
    "log10_diffusivity_ref": "linear",
    "diffusivity_drug_mw_exponent": "linear",
    "diffusivity_logp_slope": "linear",
    "diffusivity_polymer_mw_exponent": "linear",
    "diffusivity_lactide_slope": "linear",
    "diffusivity_loading_slope": "linear",
    "diffusivity_peg_slope": "linear",
    "diffusivity_crosslink_slope": "linear",
    "diffusivity_radius_exponent": "linear",
    # hydrolysis and erosion
    "hydrolysis_pla_per_day": "log",
    "hydrolysis_glycolide_gain": "log",
    "hydrolysis_pga_slowdown": "log",
    "hydrolysis_pcl_per_day": "log",
    "hydrolysis_pvl_per_day": "log",
    "hydrolysis_pea_per_day": "log",
    "diffusivity_pcl_offset": "linear",
    "diffusivity_pvl_offset": "linear",
    "diffusivity_pea_offset": "linear",
    "hydrolysis_crosslink_slowdown": "linear",
    "erosion_critical_mw_kda": "log",
    "erosion_width": "log",
    # burst
    "burst_shell_nm": "log",
    "burst_loading_gain": "log",
    "burst_logp_gain": "linear",
    "burst_peg_shield": "logit",
    "burst_max_fraction": "logit",
    "burst_time_h": "log",
    "burst_radius_exponent": "linear",
    # dispersed drug
    "dispersed_solubility_scale": "log",
    # liposomes
    "liposome_gel_permeability_nm_h": "log",
    "liposome_fluid_ratio": "log",
    "liposome_peak_ratio": "log",
    "liposome_transition_width_c": "log",
    "liposome_peak_width_c": "log",
    "liposome_logp_slope": "linear",
    "liposome_charged_permeability": "logit",
    "liposome_drug_lipid_slowdown": "log",
    "liposome_peg_slope": "linear",
    "liposome_burst_base": "log",
    "liposome_burst_drug_lipid_gain": "log",
    "liposome_burst_time_h": "log",
}


class ConstantBound(NamedTuple):
    """Plausible range of one fittable constant.

    :param low: lowest credible value, in ``unit``.
    :param high: highest credible value, in ``unit``.
    :param unit: unit of the constant (as in :class:`SimulatorConstants`).
    :param reason: where the range comes from (a source, or the physical argument).
    :param scale: ``"log"``: the bounded fit moves uniformly in ``ln c`` between
        ``ln low`` and ``ln high`` (positive quantities spanning decades); ``"linear"``:
        uniformly in ``c``.
    """

    low: float
    high: float
    unit: str
    reason: str
    scale: Literal["log", "linear"] = "linear"


#: Plausible range of every fittable constant (the keys of :data:`CONSTANT_TRANSFORMS`).
#: The bounded fit (the default of :func:`calibrate_constants`) maps each optimiser
#: variable ``u`` through a scaled sigmoid, ``c = low + (high − low)·σ(u)`` (``"linear"``)
#: or ``ln c = ln low + (ln high − ln low)·σ(u)`` (``"log"``), so that no fit can leave the
#: range: model error the physics cannot express goes to the learned correction (or stays
#: unexplained) instead of into absurd constants. Ranges are deliberately wider than the
#: literature's typical values (a fit should be able to move), and narrow enough to keep
#: the sign and the order of magnitude the mechanism's physics requires. The stimulus
#: gates (pH, thermal, magnetic, light, enzyme) are not fittable and keep their values.
CONSTANT_BOUNDS: dict[str, ConstantBound] = {
    # -- diffusivity law: log10 D [m²/s] = ref + Σ slope·feature -------------------------
    "log10_diffusivity_ref": ConstantBound(
        -23.0,
        -14.0,
        "log10(m²/s)",
        "apparent drug diffusivities in PLGA micro- and nanoparticles span 1e-22 to 1e-15 "
        "m²/s (Siepmann & Siepmann, J. Control. Release 161 (2012) 351; Faisant et al., "
        "Eur. J. Pharm. Sci. 15 (2002) 355); one decade of margin on each side",
    ),
    "diffusivity_drug_mw_exponent": ConstantBound(
        -2.0,
        -0.3,
        "decades per decade of drug MW",
        "D ∝ MW^a: Stokes–Einstein gives a = −1/3 (the weakest size dependence, a sphere in "
        "a continuum); free-volume and obstruction theories of solutes in dense or "
        "glassy polymers predict steeper falls (Amsden, Macromolecules 31 (1998) 8382), "
        "the literature default here is −1.5 and −2 leaves a margin. Bigger drugs never "
        "diffuse faster",
    ),
    "diffusivity_logp_slope": ConstantBound(
        -1.0,
        0.5,
        "decades per logP unit",
        "release runs through water-filled pores, so the apparent D scales with the "
        "drug's aqueous/polymer partitioning: at most the −1 decade per logP unit of "
        "aqueous solubility (General Solubility Equation, Jain & Yalkowsky, J. Pharm. "
        "Sci. 90 (2001) 234); up to +0.5 for lipophilic drugs that plasticise the matrix",
    ),
    "diffusivity_polymer_mw_exponent": ConstantBound(
        -1.5,
        0.0,
        "decades per decade of polymer Mw",
        "longer chains mean less free volume (Fox–Flory: Tg rises as Mn grows) and more "
        "entanglement, so D falls with Mw or levels off; no mechanism makes it rise",
    ),
    "diffusivity_lactide_slope": ConstantBound(
        -4.0,
        0.0,
        "decades per unit lactide fraction",
        "lactide-rich chains are more hydrophobic and take up less water than 50:50 "
        "PLGA (Makadia & Siegel, Polymers 3 (2011) 1377): D falls with lactide content, "
        "by at most 2 decades from PLGA 50:50 to PLA",
    ),
    "diffusivity_loading_slope": ConstantBound(
        0.0,
        8.0,
        "decades per unit loading",
        "drug-filled domains percolate into water-filled pore networks as loading rises, "
        "which speeds release (Siepmann & Siepmann 2012); never slows it; at most about "
        "2.5 decades from 10 % to 40 % loading",
    ),
    "diffusivity_peg_slope": ConstantBound(
        0.0,
        6.0,
        "decades per unit PEG fraction",
        "PEG blocks raise water uptake and swell the matrix (faster, never slower); "
        "at most ~2 decades at the design space's 30 % PEG",
    ),
    "diffusivity_crosslink_slope": ConstantBound(
        0.0,
        5.0,
        "decades lost at full cross-linking",
        "cross-links shrink the mesh and slow diffusion (Amsden 1998); a fully "
        "cross-linked network is at most ~5 decades slower for small drugs",
    ),
    "diffusivity_radius_exponent": ConstantBound(
        0.0,
        3.0,
        "decades of D per decade of effective radius",
        "β = 0 is Fickian diffusion (D a material property, release time ∝ R²); the "
        "apparent D of polyester devices grows with size through water-filled pores and "
        "cracks and autocatalytic degradation of the acidic core (Siepmann et al., J. "
        "Control. Release 96 (2004) 123; Klose et al., Int. J. Pharm. 314 (2006) 198): "
        "β = 2 makes release time size-independent, and up to 3 (release time ∝ 1/R) "
        "allows the faster release of larger autocatalytic PLGA microparticles "
        "(Siepmann et al., Biomacromolecules 6 (2005) 2312). Never negative: a larger "
        "device does not lower the apparent D of the same material",
    ),
    # -- hydrolysis and erosion ----------------------------------------------------------
    "hydrolysis_pla_per_day": ConstantBound(
        0.0005,
        0.05,
        "1/day",
        "PLA keeps its Mw for months to years (Makadia & Siegel 2011): k ≈ 0.001–0.02/day. "
        "The slowest lactide–glycolide rate: PLGA 75:25 and 50:50 are faster by "
        "hydrolysis_glycolide_gain ≥ 0, so the ordering k_PLA ≤ k_75:25 ≤ k_50:50 holds for "
        "any fitted values",
        "log",
    ),
    "hydrolysis_glycolide_gain": ConstantBound(
        0.1,
        6.0,
        "ln(k_50:50 / k_PLA)",
        "PLGA 50:50 loses half its Mw in 1–4 weeks, PLA in months to years (Park, "
        "Biomaterials 16 (1995) 1123; Makadia & Siegel 2011): k_50:50/k_PLA ≈ 3–50, "
        "ln 1.1 to ln 400 with margin; strictly positive, so 50:50 is always the fastest",
        "log",
    ),
    "hydrolysis_pga_slowdown": ConstantBound(
        0.01,
        3.0,
        "ln(k_50:50 / k_PGA)",
        "PGA is crystalline and degrades over weeks to months (Makadia & Siegel 2011), "
        "slower than PLGA 50:50 by a factor of about 1-20",
        "log",
    ),
    "hydrolysis_pcl_per_day": ConstantBound(
        2e-4,
        0.02,
        "1/day",
        "PCL keeps its Mw for 2–3 years in vitro (Woodruff & Hutmacher, Prog. Polym. Sci. "
        "35 (2010) 1217): k ≈ 0.001–0.003/day; a decade of margin each side",
        "log",
    ),
    "hydrolysis_pvl_per_day": ConstantBound(
        2e-4,
        0.03,
        "1/day",
        "poly(δ-valerolactone) is an aliphatic polyester like PCL with one methylene fewer "
        "per repeat unit, slightly more hydrophilic and faster (argument): PCL's range, "
        "upper end raised",
        "log",
    ),
    "hydrolysis_pea_per_day": ConstantBound(
        5e-4,
        0.05,
        "1/day",
        "poly(ester amide)s hydrolyse slowly without enzymes, over months (Rodriguez-Galan "
        "et al., Polymers 3 (2011) 65); same range as PLA's",
        "log",
    ),
    "diffusivity_pcl_offset": ConstantBound(
        -1.0,
        4.0,
        "decades of D relative to PLA",
        "PCL is rubbery at 37 °C (Tg ≈ −60 °C) where PLA is glassy (Tg ≈ 55 °C): small drugs "
        "diffuse faster through it, by up to several decades (Woodruff & Hutmacher 2010); "
        "−1 allows for its crystallinity",
    ),
    "diffusivity_pvl_offset": ConstantBound(
        -1.0,
        4.0,
        "decades of D relative to PLA",
        "PVL is rubbery at 37 °C (Tg ≈ −63 °C), like PCL",
    ),
    "diffusivity_pea_offset": ConstantBound(
        -2.0,
        3.0,
        "decades of D relative to PLA",
        "poly(ester amide)s have Tg from below to above 37 °C depending on the diol and amino "
        "acid (Rodriguez-Galan et al. 2011): either side of PLA",
    ),
    "hydrolysis_crosslink_slowdown": ConstantBound(
        0.0,
        5.0,
        "ln units at full cross-linking",
        "cross-links reduce water uptake and chain mobility, so they slow hydrolysis "
        "(factor exp(−c)); they do not catalyse it",
    ),
    "erosion_critical_mw_kda": ConstantBound(
        1.0,
        30.0,
        "kDa",
        "mass loss starts once chains are short enough to dissolve or diffuse out: "
        "oligomers below ~1–2 kDa are water-soluble, and PLGA devices start losing mass "
        "at Mw ≈ 5–20 kDa (Göpferich, Biomaterials 17 (1996) 103)",
        "log",
    ),
    "erosion_width": ConstantBound(
        0.1,
        1.5,
        "ln Mw units",
        "the logistic's standard deviation 1.81·w is the spread of ln M over the chains: "
        "a log-normal distribution with PDI 1.2–3 (σ² = ln PDI) gives w = 0.24–0.58; up "
        "to 1.5 allows for heterogeneous (autocatalytic core, eroded skin) degradation",
        "log",
    ),
    # -- burst ---------------------------------------------------------------------------
    "burst_shell_nm": ConstantBound(
        0.5,
        50.0,
        "nm",
        "thickness of the drug-rich surface layer of a 100-nm particle (R_ref; see "
        "burst_radius_exponent for other sizes): from a monolayer of adsorbed drug "
        "(~1 nm) to the porous skin of a particle (tens of nm); a thicker 'shell' would "
        "empty every 25–250 nm nanoparticle in the burst (Huang & Brazel, J. Control. "
        "Release 73 (2001) 121)",
        "log",
    ),
    "burst_loading_gain": ConstantBound(
        0.1,
        30.0,
        "per unit loading",
        "more drug means more drug at and connected to the surface; the burst of "
        "microparticles grows several-fold between 5 % and 40 % loading (Huang & Brazel "
        "2001; Allison, Int. J. Pharm. 364 (2008) 298), i.e. a factor 1 + g·loading of "
        "at most ~13 at 40 %",
        "log",
    ),
    "burst_logp_gain": ConstantBound(
        0.0,
        0.5,
        "decades per logP unit",
        "hydrophilic drugs migrate to the particle surface and the outer aqueous phase "
        "during preparation and burst more (Allison 2008), so the gain is ≥ 0; ≤ 0.5 "
        "caps the effect at 2 decades over logP −1 to 3",
    ),
    "burst_peg_shield": ConstantBound(
        0.0,
        0.95,
        "fraction",
        "share of the surface burst a dense PEG corona suppresses: none to nearly all",
    ),
    "burst_max_fraction": ConstantBound(
        0.2,
        0.95,
        "fraction",
        "largest share of the dose released in a burst: reported bursts run up to "
        "80–90 % for hydrophilic drugs in small particles (Huang & Brazel 2001); a "
        "ceiling below 20 % would contradict them",
    ),
    "burst_radius_exponent": ConstantBound(
        0.0,
        1.0,
        "dimensionless",
        "γ in δ = δ_ref·(R/R_ref)^γ: 0 is a skin of fixed thickness, so the burst falls as "
        "1/R; 1 is drug in pores connected to the surface down to a fixed share of the "
        "radius, so the burst does not depend on size, as for porous PLGA microparticles "
        "and implants, whose bursts of 5-40 % hardly fall with size (Allison, Int. J. "
        "Pharm. 364 (2008) 298); above 1 larger devices would burst more, which no "
        "mechanism explains",
    ),
    "burst_time_h": ConstantBound(
        0.05,
        24.0,
        "h",
        "desorption of surface drug takes minutes (nanoparticles) to the first day, "
        "the conventional length of the burst phase of microparticles and implants "
        "(Huang & Brazel 2001)",
        "log",
    ),
    # -- dispersed drug ------------------------------------------------------------------
    "dispersed_solubility_scale": ConstantBound(
        0.1,
        1000.0,
        "dimensionless",
        "ratio of the drug's solubility in the hydrated matrix to its aqueous "
        "solubility: partition coefficients between a swollen polyester and water "
        "of 0.1–1000 (dimensionless, log space)",
        "log",
    ),
    # -- liposomes -----------------------------------------------------------------------
    "liposome_gel_permeability_nm_h": ConstantBound(
        1e-3,
        10.0,
        "nm/h",
        "gel-phase bilayer permeabilities of small drugs of ~1e-14 to 1e-10 cm/s "
        "(1 nm/h = 2.8e-11 cm/s): doxorubicin in DSPC/cholesterol liposomes leaks over "
        "days to weeks at 37 °C (Needham & Dewhirst, Adv. Drug Deliv. Rev. 53 (2001) 285)",
        "log",
    ),
    "liposome_fluid_ratio": ConstantBound(
        1.0,
        1000.0,
        "dimensionless",
        "fluid bilayers are at least as permeable as gel ones, by up to ~3 decades "
        "(Papahadjopoulos et al., BBA 311 (1973) 330)",
        "log",
    ),
    "liposome_peak_ratio": ConstantBound(
        10.0,
        3000.0,
        "dimensionless",
        "leak at Tm over the gel value: gel/fluid domain boundaries raise permeability "
        "1–2 decades above the gel value for plain phospholipids (Papahadjopoulos 1973); "
        "lysolipid thermosensitive liposomes empty in seconds to minutes at Tm versus "
        "hours at 37 °C, about 3 decades (Needham et al., Cancer Res. 60 (2000) 1197)",
        "log",
    ),
    "liposome_transition_width_c": ConstantBound(
        0.3,
        3.0,
        "°C",
        "width of the gel→fluid step: the main transition of DPPC/DSPC bilayers spans "
        "≲ 1 °C in DSC and 2–3 °C in mixed or cholesterol-poor membranes; wider would "
        "erase the sharp permeability change at Tm that heat-triggered release relies on",
        "log",
    ),
    "liposome_peak_width_c": ConstantBound(
        0.3,
        3.0,
        "°C",
        "width of the permeability peak at Tm: it follows the coexistence range of gel "
        "and fluid domains, the same few °C as the transition (Papahadjopoulos 1973; "
        "Needham et al. 2000)",
        "log",
    ),
    "liposome_logp_slope": ConstantBound(
        0.0,
        1.2,
        "decades per logP unit",
        "permeability ∝ membrane/water partition coefficient (Overton's rule; "
        "Finkelstein, J. Gen. Physiol. 68 (1976) 127): slopes 0.6–1.2 decades per logP "
        "unit for bilayer partitioning; never negative",
    ),
    "liposome_charged_permeability": ConstantBound(
        1e-4,
        0.1,
        "fraction of the neutral species' permeability",
        "ionised drugs cross bilayers orders of magnitude more slowly than their neutral "
        "forms (pH-partition hypothesis; the basis of remote loading of doxorubicin, "
        "Haran et al., BBA 1151 (1993) 201)",
        "log",
    ),
    "liposome_drug_lipid_slowdown": ConstantBound(
        0.1,
        20.0,
        "per unit drug:lipid ratio",
        "drug precipitated or gelled inside the vesicle (e.g. doxorubicin sulfate "
        "fibres, Haran et al. 1993) must redissolve before it leaks: slower leakage at "
        "higher drug:lipid, by at most ~10× at drug:lipid 0.5",
        "log",
    ),
    "liposome_peg_slope": ConstantBound(
        0.0,
        20.0,
        "ln units per unit PEG-lipid fraction",
        "a PEG-lipid brush packs the headgroups and slows leakage slightly: at most "
        "e^-2 at the design space's 10 % PEG-lipid (argument; not measured here)",
    ),
    "liposome_burst_base": ConstantBound(
        1e-3,
        0.5,
        "dimensionless",
        "baseline burst exponent: free drug is removed before a release test, so the "
        "burst is small, 0.1 % to at most 1 − e^-0.5 ≈ 40 % of the maximum burst",
        "log",
    ),
    "liposome_burst_drug_lipid_gain": ConstantBound(
        0.01,
        5.0,
        "per unit drug:lipid ratio",
        "more drug per lipid puts more of it in the bilayer and at the surface, which "
        "leaks at once: a burst exponent of at most +2.5 at drug:lipid 0.5",
        "log",
    ),
    "liposome_burst_time_h": ConstantBound(
        0.05,
        24.0,
        "h",
        "unencapsulated and surface-bound drug leaves a liposome within minutes to hours "
        "of dilution into the medium, as the release method measures it (a dialysis "
        "membrane adds its own delay); separate from the polymer burst's time",
        "log",
    ),
}


def check_in_bounds(name: str, value: float) -> None:
    """Raise ``ValueError`` if constant ``name`` lies outside :data:`CONSTANT_BOUNDS`.

    :param name: a fittable constant.
    :param value: its value, in the unit of its :class:`ConstantBound`.
    """
    if name not in CONSTANT_BOUNDS:
        raise ValueError(
            f"constant {name!r} has no plausible range; bounded: {sorted(CONSTANT_BOUNDS)}"
        )
    bound = CONSTANT_BOUNDS[name]
    if not (math.isfinite(value) and bound.low <= value <= bound.high):
        raise ValueError(
            f"{name}={value:g} is outside its plausible range [{bound.low:g}, {bound.high:g}] "
            f"({bound.unit}): {bound.reason}"
        )


def constants_outside_bounds(
    constants: SimulatorConstants, names: Sequence[str] | None = None
) -> dict[str, float]:
    """The fittable constants of ``constants`` outside :data:`CONSTANT_BOUNDS`
    (name → value; empty when all are plausible).

    :param names: constants to check (default: every bounded one).
    """
    out: dict[str, float] = {}
    for name in names if names is not None else CONSTANT_BOUNDS:
        value = float(getattr(constants, name))
        try:
            check_in_bounds(name, value)
        except ValueError:
            out[name] = value
    return out
