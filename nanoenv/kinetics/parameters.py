"""The formulation parameters: carriers, geometries and the table of every design
parameter with its unit, physically meaningful range and the carriers it applies to.

The bounds are the ranges the simulator accepts (nanoparticles through microparticles to
millimetre implants, as in the real data); :mod:`nanoenv.design_space` narrows them for a
design task. :class:`~nanoenv.kinetics.formulation.Formulation` holds designs in this
column order.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum
from typing import Literal

import torch

__all__ = [
    "GEOMETRY_NAMES",
    "PARAMETERS",
    "PARAMETER_HIGH",
    "PARAMETER_INDEX",
    "PARAMETER_LOW",
    "PARAMETER_NAMES",
    "PARAMETER_SPECS",
    "Carrier",
    "Geometry",
    "ParameterSpec",
    "check_parameter_names",
    "spec",
]


class Carrier(IntEnum):
    """Carrier family of a particle.

    ``POLYMER``: a polyester (PLGA/PLA/PGA) matrix particle whose release is
    Fickian diffusion accelerated by bulk hydrolysis, plus burst and erosion.
    ``LIPOSOME``: a lipid-bilayer vesicle whose release is first-order leakage
    through the membrane, fastest near the lipid phase transition ``lipid_tm_c``.
    """

    POLYMER = 0
    LIPOSOME = 1

    @classmethod
    def parse(cls, value: str | int | Carrier) -> Carrier:
        """Return the carrier named by ``value`` (``"polymer"``, ``"liposome"`` or 0/1)."""
        if isinstance(value, str):
            try:
                return cls[value.strip().upper()]
            except KeyError:
                raise ValueError(
                    f"carrier={value!r} is not a known carrier family; "
                    f"allowed: {[c.name.lower() for c in cls]}"
                ) from None
        try:
            return cls(int(value))
        except ValueError:
            raise ValueError(
                f"carrier={value!r} is not a known carrier family; allowed: "
                f"{[c.name.lower() for c in cls]} or {[int(c) for c in cls]}"
            ) from None


class Geometry(IntEnum):
    """Shape of a matrix (polymer) device; release follows Crank's solution for each.

    ``SPHERE``: radius ``radius_nm`` (nano- and microparticles).
    ``CYLINDER``: a finite cylinder of radius ``radius_nm`` and length
    ``2·aspect_ratio·radius_nm`` (``aspect_ratio`` = length/diameter), releasing
    through its mantle and both ends (implants, fibres).
    ``SLAB``: a plane sheet of half-thickness ``radius_nm`` releasing through both
    faces, edges neglected (films, wafers).

    Liposomes are vesicles and always spheres.
    """

    SPHERE = 0
    CYLINDER = 1
    SLAB = 2

    @classmethod
    def parse(cls, value: str | float | Geometry) -> Geometry:
        """Return the geometry named by ``value`` (``"sphere"``, ``"cylinder"``,
        ``"slab"`` or its code 0/1/2)."""
        if isinstance(value, str):
            try:
                return cls[value.strip().upper()]
            except KeyError:
                raise ValueError(
                    f"geometry={value!r} is not a known geometry; allowed: {list(GEOMETRY_NAMES)}"
                ) from None
        if float(value) in (0.0, 1.0, 2.0):
            return cls(int(value))
        raise ValueError(
            f"geometry={value!r} is not a known geometry; allowed: {list(GEOMETRY_NAMES)} "
            f"or their codes {[int(g) for g in cls]}"
        )


#: Geometry names in code order (``Geometry(i).name.lower()``).
GEOMETRY_NAMES: tuple[str, ...] = tuple(g.name.lower() for g in Geometry)


@dataclass(frozen=True)
class ParameterSpec:
    """One design parameter: its name, unit, allowed range and sampling scale.

    :param name: attribute name on :class:`Formulation` (unit in the name).
    :param unit: physical unit (``""`` for a dimensionless fraction).
    :param low: smallest allowed value, in ``unit``.
    :param high: largest allowed value, in ``unit``.
    :param default: value used when a design does not specify it.
    :param scale: ``"log"`` when the parameter spans decades (sampled
        log-uniformly and normalised in log space), ``"categorical"`` for a code
        (``geometry``: held at its default by :meth:`Formulation.sample` and never a
        free design parameter), else ``"linear"``.
    :param description: what the parameter means physically.
    :param carriers: carrier families whose physics uses the parameter.
    """

    name: str
    unit: str
    low: float
    high: float
    default: float
    scale: Literal["linear", "log", "categorical"]
    description: str
    carriers: tuple[Carrier, ...] = (Carrier.POLYMER, Carrier.LIPOSOME)


_BOTH = (Carrier.POLYMER, Carrier.LIPOSOME)
_POLYMER = (Carrier.POLYMER,)
_LIPOSOME = (Carrier.LIPOSOME,)

#: Every design parameter, in the column order of :attr:`Formulation.values`.
PARAMETERS: tuple[ParameterSpec, ...] = (
    ParameterSpec(
        "radius_nm",
        "nm",
        5.0,
        1.0e7,
        100.0,
        "log",
        "particle radius (hydrodynamic); 1e7 nm = 1 cm implants",
        _BOTH,
    ),
    ParameterSpec(
        "zeta_mv", "mV", -100.0, 100.0, -30.0, "linear", "zeta potential (surface charge)", _BOTH
    ),
    ParameterSpec(
        "lactide_fraction",
        "",
        0.0,
        1.0,
        0.5,
        "linear",
        "lactide share of the polyester (0 = PGA, 0.5 = PLGA 50:50, 1 = PLA)",
        _POLYMER,
    ),
    ParameterSpec(
        "polymer_mw_kda",
        "kDa",
        1.0,
        1000.0,
        30.0,
        "log",
        "initial polymer weight-average molecular weight",
        _POLYMER,
    ),
    ParameterSpec(
        "drug_loading", "", 0.0, 0.6, 0.1, "linear", "drug mass fraction of the particle", _POLYMER
    ),
    ParameterSpec(
        "peg_fraction",
        "",
        0.0,
        0.5,
        0.05,
        "linear",
        "PEG mass fraction (hydrophilic, steric shell)",
        _BOTH,
    ),
    ParameterSpec(
        "crosslink_ratio",
        "",
        0.0,
        1.0,
        0.0,
        "linear",
        "cross-linker fraction of the matrix",
        _POLYMER,
    ),
    ParameterSpec(
        "ph_responsive_fraction",
        "",
        0.0,
        1.0,
        0.0,
        "linear",
        "share of pH-responsive (protonatable) component",
        _BOTH,
    ),
    ParameterSpec(
        "responsive_pka",
        "",
        3.0,
        9.0,
        6.3,
        "linear",
        "pKa of the pH-responsive component (chitosan ~6.3)",
        _BOTH,
    ),
    ParameterSpec(
        "thermo_fraction",
        "",
        0.0,
        1.0,
        0.0,
        "linear",
        "share of thermoresponsive polymer (PNIPAM; not lysolipid)",
        _BOTH,
    ),
    ParameterSpec(
        "lcst_c",
        "degC",
        20.0,
        60.0,
        32.0,
        "linear",
        "lower critical solution temperature of that component (PNIPAM ~32)",
        _BOTH,
    ),
    ParameterSpec(
        "photo_cleavable_fraction",
        "",
        0.0,
        0.5,
        0.0,
        "linear",
        "share of drug tethered through a photo-cleavable linker",
        _BOTH,
    ),
    ParameterSpec(
        "magnetic_core_fraction",
        "",
        0.0,
        0.5,
        0.0,
        "linear",
        "iron-oxide core mass fraction (heats in an alternating field)",
        _BOTH,
    ),
    ParameterSpec(
        "enzyme_cleavable_fraction",
        "",
        0.0,
        0.5,
        0.0,
        "linear",
        "share of drug tethered through an enzyme-cleavable linker",
        _BOTH,
    ),
    ParameterSpec(
        "lipid_tm_c",
        "degC",
        -25.0,
        80.0,
        41.0,
        "linear",
        "lipid phase-transition temperature (DPPC 41, HSPC 52, DSPC 55)",
        _LIPOSOME,
    ),
    ParameterSpec(
        "drug_lipid_ratio",
        "",
        0.001,
        2.0,
        0.1,
        "log",
        "drug:lipid ratio (as reported, w/w)",
        _LIPOSOME,
    ),
    # -- physics v2 (issue 14); appended so that the columns above keep their index --
    ParameterSpec(
        "cholesterol_fraction",
        "",
        0.0,
        0.5,
        0.0,
        "linear",
        "cholesterol mole fraction of the lipid; >~0.3 forms the liquid-ordered "
        "phase that abolishes the Tm leak (Doxil HSPC/chol 55:45: 0.45)",
        _LIPOSOME,
    ),
    ParameterSpec(
        "lysolipid_fraction",
        "",
        0.0,
        0.2,
        0.0,
        "linear",
        "lysolipid (MSPC/MPPC) mole fraction; opens pores at Tm (LTSL: ~0.1)",
        _LIPOSOME,
    ),
    ParameterSpec(
        "interior_ph",
        "",
        2.0,
        9.0,
        7.4,
        "linear",
        "pH inside the vesicle (remote loading by an ammonium sulfate gradient: "
        "~5.5; passive loading: the buffer's, 7.4)",
        _LIPOSOME,
    ),
    ParameterSpec(
        "photothermal_fraction",
        "",
        0.0,
        0.2,
        0.0,
        "linear",
        "mass fraction of an NIR absorber (gold nanocage/nanoshell) that heats "
        "the particle under light",
        _BOTH,
    ),
    ParameterSpec(
        "geometry",
        "",
        0.0,
        2.0,
        0.0,
        "categorical",
        "device shape code: 0 sphere, 1 cylinder, 2 slab (see Geometry)",
        _POLYMER,
    ),
    ParameterSpec(
        "aspect_ratio",
        "",
        0.1,
        100.0,
        1.0,
        "log",
        "cylinder length/diameter (geometry = cylinder only)",
        _POLYMER,
    ),
    ParameterSpec(
        "pdi",
        "",
        0.0,
        0.5,
        0.0,
        "linear",
        "polydispersity index (DLS); sizes are log-normal with "
        "σ_ln² = ln(1 + pdi); 0 = monodisperse",
        _BOTH,
    ),
    ParameterSpec(
        "polymer_family",
        "",
        0.0,
        3.0,
        0.0,
        "linear",
        "polyester family code: 0 lactide-glycolide (PLGA/PLA/PGA, see "
        "lactide_fraction), 1 PCL, 2 PVL, 3 poly(ester amide); a non-integer code "
        "blends the two neighbouring families",
        _POLYMER,
    ),
)

PARAMETER_NAMES: tuple[str, ...] = tuple(p.name for p in PARAMETERS)
PARAMETER_INDEX: dict[str, int] = {name: i for i, name in enumerate(PARAMETER_NAMES)}
PARAMETER_SPECS: dict[str, ParameterSpec] = {p.name: p for p in PARAMETERS}
#: Lower and upper bounds of every parameter, in :data:`PARAMETERS` order (float64).
PARAMETER_LOW = torch.tensor([p.low for p in PARAMETERS], dtype=torch.float64)
PARAMETER_HIGH = torch.tensor([p.high for p in PARAMETERS], dtype=torch.float64)


def check_parameter_names(names: Iterable[str]) -> None:
    """Raise a one-line ``ValueError`` listing the allowed names if any of ``names`` is not
    a formulation parameter (``"carrier"`` is allowed)."""
    bad = sorted(set(names) - set(PARAMETER_NAMES) - {"carrier"})
    if bad:
        raise ValueError(
            f"unknown formulation parameter(s) {bad}; allowed: {list(PARAMETER_NAMES)}"
        )


def spec(name: str) -> ParameterSpec:
    """The :class:`ParameterSpec` of parameter ``name``."""
    check_parameter_names([name])
    return PARAMETER_SPECS[name]
