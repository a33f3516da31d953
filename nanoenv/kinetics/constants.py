"""Global constants of the simulator: the numbers that calibration fits.

Each field is a float by default and may be a (scalar) tensor with
``requires_grad`` for calibration by gradient descent through the simulator.
Defaults are literature-typical values (sources in the comments); they give
PLGA nanoparticles that release over days to weeks and liposomes that hold
doxorubicin at 37 °C and leak it near their phase transition.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
import math
import os
import warnings
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Literal

import torch

__all__ = [
    "CALIBRATED_FILE",
    "CONSTANTS_NAMES",
    "DEFAULT_CONSTANTS",
    "ConstantsName",
    "SimulatorConstants",
    "calibrated_constants",
    "read_calibration",
    "resolve_constants",
]

Number = float | torch.Tensor


@dataclass(frozen=True)
class SimulatorConstants:
    """Fitted or literature constants of the release model (see field comments for units)."""

    # -- diffusivity in the polymer matrix: log10 D [m²/s] is linear in the features --
    # apparent D in PLGA spans 1e-22 to 1e-15 m²/s (Siepmann & Siepmann 2012; Faisant 2002)
    log10_diffusivity_ref: Number = -20.5  # log10 m²/s for MW 300 drug, logP 1, PLGA50:50 30 kDa
    diffusivity_drug_mw_exponent: Number = -1.5  # per log10(MW/300 g/mol)
    diffusivity_logp_slope: Number = -0.2  # per logP unit above 1
    diffusivity_polymer_mw_exponent: Number = -0.5  # per log10(Mw/30 kDa)
    diffusivity_lactide_slope: Number = -1.0  # per unit lactide fraction above 0.5
    diffusivity_loading_slope: Number = 3.0  # per unit loading above 0.1 (percolation)
    diffusivity_peg_slope: Number = 2.0  # per unit PEG fraction (water uptake)
    diffusivity_crosslink_slope: Number = 2.0  # decades lost at full cross-linking
    diffusivity_activation_kj_mol: Number = 40.0
    # decades of D added for the non-lactide–glycolide families (relative to the
    # lactide-fraction law at lactide 1): PCL and PVL are rubbery at 37 °C (Tg ≈ −60 °C)
    # where PLA is glassy (Tg ≈ 55 °C), so small drugs diffuse much faster in them
    # (Woodruff & Hutmacher 2010); poly(ester amide)s are near their Tg at 37 °C
    diffusivity_pcl_offset: Number = 2.0
    diffusivity_pvl_offset: Number = 2.0
    diffusivity_pea_offset: Number = 0.5
    # -- size dependence of the apparent diffusivity: log10 D += β·log10(1 + R/R_ref) --
    # β = 0 (default) is pure Fickian diffusion: D is a material property and the release
    # time grows as R². Apparent D fitted to polyester devices grows with device size
    # (water-filled pores and cracks, autocatalytic degradation of the acidic core:
    # Siepmann et al., J. Control. Release 96 (2004) 123; Klose et al., Int. J. Pharm. 314
    # (2006) 198; Siepmann & Siepmann, J. Control. Release 161 (2012) 351), which a
    # calibration on 0.14 µm-1.2 mm devices expresses as β > 0 (dimensionless, decades of D
    # per decade of effective radius above R_ref). Well below R_ref (nm) the term vanishes
    # and D is the material's own: the pores, cracks and acidic cores behind the size
    # dependence need room, and autocatalysis is negligible in small particles (Siepmann
    # et al., Biomacromolecules 6 (2005) 2312), so nanoparticles release by plain Fickian
    # diffusion instead of an extrapolated power law. R_ref is a reference, not a fitted
    # constant; 1 µm sits inside the calibration data (0.14 µm-1.2 mm, SA-V in mm⁻¹).
    diffusivity_radius_exponent: Number = 0.0  # decades of D per decade of radius (β)
    diffusivity_radius_ref_nm: Number = 1000.0  # nm, reference radius R_ref of the size term
    # -- hydrolysis (Park 1995; Makadia & Siegel 2011): k_h per day at 37 °C, pH 7.4 --
    # Ordered by construction (mechanisms.hydrolysis_rate_per_h): k_PLA is the slowest
    # lactide-rich rate and the gain (≥ 0) is ln(k_50:50 / k_PLA), so k_PLA ≤ k_75:25 ≤
    # k_50:50 for any values; PGA is slower than 50:50 by the slowdown (≥ 0), ln(k_50:50 /
    # k_PGA). Defaults: k_PLA 0.01, k_50:50 0.08 (gain ln 8), k_PGA 0.04 (slowdown ln 2).
    hydrolysis_pla_per_day: Number = 0.01
    hydrolysis_glycolide_gain: Number = 2.0794415416798357  # ln(k_50:50/k_PLA), ≥ 0
    hydrolysis_pga_slowdown: Number = 0.6931471805599453  # ln(k_50:50/k_PGA), ≥ 0
    # polyester families other than lactide–glycolide (Formulation.polymer_family 1, 2, 3):
    # PCL keeps its Mw for 2-3 years (Woodruff & Hutmacher, Prog. Polym. Sci. 35 (2010)
    # 1217), PVL is a close, slightly faster aliphatic lactone, poly(ester amide)s hydrolyse
    # slowly without enzymes (Rodriguez-Galan et al., Polymers 3 (2011) 65)
    hydrolysis_pcl_per_day: Number = 0.002
    hydrolysis_pvl_per_day: Number = 0.003
    hydrolysis_pea_per_day: Number = 0.005
    hydrolysis_activation_kj_mol: Number = 80.0
    hydrolysis_acid_slope: Number = 0.15  # decades per pH unit below 7.4
    hydrolysis_base_slope: Number = 0.5  # decades per pH unit above 7.4
    hydrolysis_crosslink_slowdown: Number = 2.0
    # -- erosion onset (Göpferich 1996) --
    erosion_critical_mw_kda: Number = 10.0
    erosion_width: Number = 0.35
    # -- burst --
    burst_shell_nm: Number = 5.0
    burst_loading_gain: Number = 10.0
    burst_peg_shield: Number = 0.8
    burst_logp_gain: Number = 0.1
    burst_max_fraction: Number = 0.6
    burst_time_h: Number = 0.5
    # surface layer δ = burst_shell_nm·(R/R_ref)^γ: γ = 0 (default) a fixed skin (burst
    # ∝ 1/R), γ = 1 a layer that scales with the device (size-independent burst, as in
    # porous microparticles and implants; Allison, Int. J. Pharm. 364 (2008) 298)
    burst_radius_exponent: Number = 0.0  # γ, dimensionless
    burst_radius_ref_nm: Number = 100.0  # nm, R_ref: where δ = burst_shell_nm
    # -- dispersed drug (Baker–Lonsdale): Cs/A = scale·S_aq/(ρ·loading) --
    dispersed_solubility_scale: Number = 10.0
    particle_density_mg_ml: Number = 1300.0
    dispersed_ratio_floor: Number = 1e-3
    # -- surface charge (heuristics) --
    binding_constant: Number = 0.5
    aggregation_growth: Number = 1.0
    aggregation_critical_mv: Number = 25.0
    aggregation_width_mv: Number = 4.0
    aggregation_peg_half: Number = 0.05
    # -- stimulus gates --
    ph_gate_gain: Number = 30.0
    ph_gate_width: Number = 0.25
    thermal_gate_gain: Number = 30.0
    thermal_gate_width_c: Number = 1.0
    # magnetic heating (Rosensweig 2002; Hergt & Dutz 2007), see mechanisms.magnetic_heating_c:
    # ΔT_max·φ/2 at H = H_s and f = 1/(2πτ); 40 °C gives +6 °C for a 30 % core at 20 kA/m,
    # 100 kHz (mild hyperthermia, 42-45 °C: Jordan et al., J. Magn. Magn. Mater. 225 (2001) 118)
    magnetic_heating_max_c: Number = 40.0  # °C per unit core fraction
    magnetic_saturation_field_ka_m: Number = 20.0  # H_s, kA/m (anisotropy field of magnetite)
    magnetic_relaxation_time_us: Number = 1.59  # τ, µs: loss peak at 1/(2πτ) = 100 kHz
    # photothermal heating ΔT = c·φ·I (Yavuz et al., Nat. Mater. 8 (2009) 935: tens of
    # mW/cm² of NIR light heat gold-nanocage carriers past a 39 °C LCST): +6 °C for 10 %
    # absorber at 40 mW/cm²
    photothermal_heating_c_per_mw_cm2: Number = 1.5  # °C per (mW/cm²) per unit absorber fraction
    # pH-responsive polymer dissolving once protonated (poly(β-amino ester) nanoparticles
    # dissolve within ~1 h below pH 6.5 and free paclitaxel: Shenoy et al., Mol. Pharm. 2
    # (2005) 357): its share of the matrix dissolves first-order at this rate × pH gate
    ph_dissolution_rate_per_h: Number = 1.0
    photo_rate_per_mw_cm2_h: Number = 0.02
    enzyme_rate_per_h: Number = 0.1
    # -- liposomes (Papahadjopoulos 1973; Needham & Dewhirst 2001) --
    liposome_gel_permeability_nm_h: Number = 0.2
    liposome_fluid_ratio: Number = 20.0
    liposome_peak_ratio: Number = 500.0
    liposome_transition_width_c: Number = 1.5
    liposome_peak_width_c: Number = 2.0
    liposome_logp_slope: Number = 0.3  # decades of permeability per logP unit above 1
    liposome_charged_permeability: Number = 0.01  # relative to the neutral species
    liposome_drug_lipid_slowdown: Number = 2.0  # precipitated drug inside leaks more slowly
    liposome_peg_slope: Number = 1.0
    liposome_burst_base: Number = 0.02
    liposome_burst_drug_lipid_gain: Number = 0.3
    # cholesterol: share of lipid melting cooperatively at Tm = exp(−x_chol/x_c), x_c in
    # mole fraction (Mabrey et al., Biochemistry 17 (1978) 2464; heuristic): 0.011 at 45 %
    liposome_cholesterol_scale: Number = 0.1
    # lysolipid pores at Tm (Needham et al., Faraday Discuss. 161 (2013) 515; LTSL ~60 % in
    # 20 s, ~80 % in 3-4 min at 42 °C): P_pore per unit lysolipid mole fraction, nm/h; onset
    # width at Tm, °C; plateau share φ_max and the lysolipid fraction at half of it
    liposome_lysolipid_permeability_nm_h: Number = 5.0e4
    liposome_lysolipid_onset_width_c: Number = 0.4
    liposome_lysolipid_max_share: Number = 0.9
    liposome_lysolipid_half_fraction: Number = 0.03
    # time constant of the liposome burst (unencapsulated and surface-bound drug), hours;
    # the polymer burst has its own (burst_time_h); equal by default
    liposome_burst_time_h: Number = 0.5

    def __post_init__(self) -> None:
        # the rate ordering k_PLA ≤ k_75:25 ≤ k_50:50 (and PGA below 50:50) holds for any
        # values of these increments only if they are non-negative
        for name in _NON_NEGATIVE:
            value = getattr(self, name)
            v = float(value.detach()) if isinstance(value, torch.Tensor) else float(value)
            if not v >= 0.0:
                raise ValueError(
                    f"{name}={v:g} must be >= 0 (ln of a rate ratio, dimensionless): "
                    "PLGA 50:50 hydrolyses fastest (Makadia & Siegel, Polymers 3 (2011) 1377)"
                )

    def hydrolysis_law(self) -> dict[str, Any]:
        """The keyword constants of :func:`nanoenv.kinetics.mechanisms.hydrolysis_rate_per_h`
        (ordered polyester rates, Arrhenius, acid/base catalysis, crosslinks, families)."""
        return {
            "kpla_per_day": self.hydrolysis_pla_per_day,
            "glycolide_gain": self.hydrolysis_glycolide_gain,
            "pga_slowdown": self.hydrolysis_pga_slowdown,
            "activation_kj_mol": self.hydrolysis_activation_kj_mol,
            "acid_slope": self.hydrolysis_acid_slope,
            "base_slope": self.hydrolysis_base_slope,
            "crosslink_slowdown": self.hydrolysis_crosslink_slowdown,
            "family_k_per_day": (
                self.hydrolysis_pcl_per_day,
                self.hydrolysis_pvl_per_day,
                self.hydrolysis_pea_per_day,
            ),
        }

    def to_dict(self) -> dict[str, float]:
        """Plain floats, for saving to JSON."""
        return {f.name: float(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_dict(cls, values: dict[str, float]) -> SimulatorConstants:
        """Constants from a dict; unknown keys raise ``ValueError``."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ValueError(f"unknown simulator constant(s) {unknown}; allowed: {sorted(names)}")
        for name, value in values.items():
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            if not (ok and math.isfinite(value)):
                raise ValueError(f"simulator constant {name}={value!r} must be a finite number")
        return replace(cls(), **values)


#: Constants that must be ≥ 0 (checked when constants are built).
_NON_NEGATIVE: tuple[str, ...] = ("hydrolysis_glycolide_gain", "hydrolysis_pga_slowdown")

DEFAULT_CONSTANTS = SimulatorConstants()


#: Names of the shipped constant sets: ``"literature"`` (:data:`DEFAULT_CONSTANTS`, the
#: values in the field comments) and ``"calibrated"`` (fitted to the shipped release data
#: by :mod:`nanoenv.calibration`, stored in ``nanoenv/kinetics/calibrated_constants.json``).
ConstantsName = Literal["literature", "calibrated"]
CONSTANTS_NAMES: tuple[str, ...] = ("literature", "calibrated")

#: File name of the shipped calibration inside the ``nanoenv.kinetics`` package.
CALIBRATED_FILE = "calibrated_constants.json"


def read_calibration(path: str | os.PathLike[str] | None = None) -> dict[str, Any] | None:
    """The JSON payload of a calibration file written by ``nanoenv calibrate``:
    ``{"constants": {...}, "metadata": {...}, "corrections": {...}}``.

    :param path: a file; ``None`` reads the shipped ``nanoenv/kinetics/calibrated_constants.json``
        and returns ``None`` if the package carries none.
    :raises ValueError: if ``path`` cannot be read, or the file is not JSON, holds
        ``NaN``/``Infinity``, or has no ``constants`` object.
    """
    if path is not None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"cannot read calibration file {str(path)!r}: {exc}") from None
        source = str(path)
    else:
        resource = importlib.resources.files("nanoenv.kinetics").joinpath(CALIBRATED_FILE)
        try:
            text = resource.read_text(encoding="utf-8")
        except (FileNotFoundError, OSError):
            return None
        source = f"nanoenv/kinetics/{CALIBRATED_FILE}"

    def reject(name: str) -> Any:
        raise ValueError(
            f"calibration file {source!r} holds {name}; every constant and "
            "correction weight must be a finite number"
        )

    try:
        payload = json.loads(text, parse_constant=reject)
    except json.JSONDecodeError as exc:
        raise ValueError(f"calibration file {source!r} is not valid JSON: {exc}") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("constants"), dict):
        raise ValueError(f"calibration file {source!r} has no 'constants' object")
    return payload


@functools.cache
def calibrated_constants() -> SimulatorConstants:
    """The constants fitted to the shipped release data (PLAI microparticles and implants,
    liposomes), as shipped in ``nanoenv/kinetics/calibrated_constants.json``.

    Written by ``nanoenv calibrate``; read once per process. Falls back to
    :data:`DEFAULT_CONSTANTS` with a warning if the file is missing (a broken install).

    :raises ValueError: if the shipped file is not a calibration file.
    """
    payload = read_calibration()
    if payload is None:
        warnings.warn(
            f"nanoenv/kinetics/{CALIBRATED_FILE} is missing; using the literature default "
            "constants (run `nanoenv calibrate` to fit them)",
            stacklevel=2,
        )
        return DEFAULT_CONSTANTS
    return SimulatorConstants.from_dict(payload["constants"])


def resolve_constants(constants: SimulatorConstants | str) -> SimulatorConstants:
    """A constants object from itself or a shipped set's name (:data:`CONSTANTS_NAMES`).

    :raises ValueError: for an unknown name, listing the allowed ones.
    """
    if isinstance(constants, SimulatorConstants):
        return constants
    if constants == "literature":
        return DEFAULT_CONSTANTS
    if constants == "calibrated":
        return calibrated_constants()
    raise ValueError(
        f"constants={constants!r}; allowed: a SimulatorConstants or one of {list(CONSTANTS_NAMES)}"
    )
