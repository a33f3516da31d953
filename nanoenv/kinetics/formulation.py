"""Formulations: a batch of particle designs in physical units.

A :class:`Formulation` holds ``B`` designs as one ``(B, P)`` tensor of the
parameters in :data:`PARAMETERS` (physical units, fixed column order) and a
``(B,)`` integer tensor of carrier families (:class:`Carrier`). Keeping the
continuous parameters in one tensor makes every design differentiable at once
(``values.requires_grad_()``) and makes batching, indexing and moving between
devices cheap.

The bounds below are the *physically meaningful* ranges the simulator accepts
(nanoparticles through microparticles to millimetre implants, as in the real
data); :mod:`nanoenv.design_space` narrows them for a design task.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Literal

import torch

from nanoenv.kinetics.validation import check_in_range

__all__ = [
    "GEOMETRY_NAMES",
    "PARAMETERS",
    "PARAMETER_INDEX",
    "PARAMETER_NAMES",
    "Carrier",
    "Formulation",
    "Geometry",
    "ParameterSpec",
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
_SPEC = {p.name: p for p in PARAMETERS}
_LOW = torch.tensor([p.low for p in PARAMETERS], dtype=torch.float64)
_HIGH = torch.tensor([p.high for p in PARAMETERS], dtype=torch.float64)


def _unknown(names: Iterable[str]) -> None:
    bad = sorted(set(names) - set(PARAMETER_NAMES) - {"carrier"})
    if bad:
        raise ValueError(
            f"unknown formulation parameter(s) {bad}; allowed: {list(PARAMETER_NAMES)}"
        )


class Formulation:
    """A batch of ``B`` particle designs in physical units.

    :param values: ``(B, P)`` tensor, columns in the order of
        :data:`PARAMETER_NAMES` (a ``(P,)`` tensor is one design).
    :param carrier: ``(B,)`` integer tensor of :class:`Carrier` codes, or one
        carrier (name or code) for the whole batch. Defaults to polymer.
    :param validate: check every value against its bounds (raises
        ``ValueError`` naming the parameter, value, range and unit). Hot loops
        whose inputs are known to be valid pass ``False`` to skip the device sync.

    Each parameter is readable as an attribute giving a ``(B,)`` tensor, e.g.
    ``f.radius_nm``.

    >>> f = Formulation.from_dict({"radius_nm": 120.0, "zeta_mv": -25.0})
    >>> f.radius_nm
    tensor([120.])
    >>> len(Formulation.sample(8, generator=torch.Generator().manual_seed(0)))
    8
    """

    __slots__ = ("carrier", "values")

    def __init__(
        self,
        values: torch.Tensor,
        carrier: torch.Tensor | str | int | Carrier | None = None,
        *,
        validate: bool = True,
    ) -> None:
        values = torch.as_tensor(values)
        if not torch.is_floating_point(values):
            values = values.to(torch.get_default_dtype())
        if values.dim() == 1:
            values = values.unsqueeze(0)
        if values.dim() != 2 or values.shape[1] != len(PARAMETERS):
            raise ValueError(
                f"values must have shape (B, {len(PARAMETERS)}) with columns "
                f"{list(PARAMETER_NAMES)}; got shape {tuple(values.shape)}"
            )
        n = values.shape[0]
        if carrier is None:
            carrier = Carrier.POLYMER
        if isinstance(carrier, torch.Tensor):
            carrier = carrier.to(device=values.device, dtype=torch.long).reshape(-1)
            if carrier.numel() == 1 and n != 1:
                carrier = carrier.expand(n).clone()
        else:
            code = int(Carrier.parse(carrier))
            carrier = torch.full((n,), code, dtype=torch.long, device=values.device)
        if carrier.shape != (n,):
            raise ValueError(
                f"carrier must have shape ({n},) to match values; got {tuple(carrier.shape)}"
            )
        self.values = values
        self.carrier = carrier
        if validate:
            self.validate()

    # -- construction ------------------------------------------------------------------
    @classmethod
    def from_dict(
        cls,
        params: Mapping[str, float | Sequence[float] | torch.Tensor | str],
        *,
        carrier: str | int | Carrier | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> Formulation:
        """Build a formulation from named values; unnamed parameters take their defaults.

        Values may be scalars (one design) or equal-length sequences/tensors (a
        batch). A ``"carrier"`` key may give the carrier family.

        :param params: mapping from parameter name to value(s) in physical units;
            ``geometry`` may be a name (``"cylinder"``) or a list of names.
        :param carrier: carrier family for every design (overrides ``params["carrier"]``).
        :param device: torch device of the result.
        :param dtype: floating dtype of the result (default: torch's default).
        """
        _unknown(params)
        params = dict(params)
        carrier = carrier if carrier is not None else params.pop("carrier", Carrier.POLYMER)
        params.pop("carrier", None)
        dtype = dtype or torch.get_default_dtype()
        if "geometry" in params:
            params["geometry"] = _geometry_codes(params["geometry"])
        columns = {k: torch.as_tensor(v, dtype=dtype, device=device) for k, v in params.items()}
        sizes = {k: v.numel() for k, v in columns.items() if v.dim() > 0}
        n = max(sizes.values(), default=1)
        for k, size in sizes.items():
            if size not in (1, n):
                raise ValueError(
                    f"parameter {k} has {size} values but other parameters have {n}; "
                    "give one value or one per design"
                )
        values = torch.empty(n, len(PARAMETERS), dtype=dtype, device=device)
        for i, spec in enumerate(PARAMETERS):
            col = columns.get(spec.name)
            values[:, i] = spec.default if col is None else col.reshape(-1)
        return cls(values, carrier)

    @classmethod
    def from_dicts(
        cls,
        designs: Sequence[Mapping[str, float | str]],
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> Formulation:
        """Stack one dict per design (as returned by :meth:`to_dicts`) into a batch."""
        if len(designs) == 0:
            raise ValueError("designs must hold at least one formulation; got an empty list")
        return cls.cat([cls.from_dict(d, device=device, dtype=dtype) for d in designs])

    @classmethod
    def default(
        cls,
        n: int = 1,
        *,
        carrier: str | int | Carrier = Carrier.POLYMER,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> Formulation:
        """``n`` copies of the default design (every parameter at its default)."""
        dtype = dtype or torch.get_default_dtype()
        row = torch.tensor([p.default for p in PARAMETERS], dtype=dtype, device=device)
        return cls(row.expand(n, -1).clone(), carrier, validate=False)

    @classmethod
    def sample(
        cls,
        n: int,
        *,
        generator: torch.Generator | None = None,
        carrier: str | int | Carrier = Carrier.POLYMER,
        bounds: Mapping[str, tuple[float, float]] | None = None,
        fixed: Mapping[str, float] | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> Formulation:
        """Draw ``n`` designs uniformly within bounds (log-uniformly for log-scale parameters).

        Categorical parameters (``geometry``) are held at their default unless ``fixed``
        names them, or ``bounds`` gives a range of codes to draw uniformly from. ``pdi``
        is drawn like any other parameter; a polydisperse design costs ~9 monodisperse
        ones to simulate, so pass ``fixed={"pdi": 0.0}`` to time the monodisperse model.

        :param n: number of designs.
        :param generator: torch generator for reproducible draws (on CPU).
        :param carrier: carrier family of every design.
        :param bounds: narrower ``(low, high)`` per parameter, in its unit.
        :param fixed: parameters held at a given value instead of being drawn.
        """
        if n < 1:
            raise ValueError(f"n={n} must be a positive number of designs")
        bounds = dict(bounds or {})
        fixed = dict(fixed or {})
        _unknown(bounds)
        _unknown(fixed)
        dtype = dtype or torch.get_default_dtype()
        low = torch.tensor(
            [bounds.get(p.name, (p.low, p.high))[0] for p in PARAMETERS], dtype=torch.float64
        )
        high = torch.tensor(
            [bounds.get(p.name, (p.low, p.high))[1] for p in PARAMETERS], dtype=torch.float64
        )
        for spec, lo, hi in zip(PARAMETERS, low.tolist(), high.tolist(), strict=True):
            if not spec.low <= lo <= hi <= spec.high:
                raise ValueError(
                    f"bounds for {spec.name}=({lo:g}, {hi:g}) must nest inside the allowed "
                    f"range [{spec.low:g}, {spec.high:g}] ({spec.unit or 'dimensionless'})"
                )
        is_log = torch.tensor([p.scale == "log" for p in PARAMETERS])
        u = torch.rand(n, len(PARAMETERS), generator=generator, dtype=torch.float64)
        lin = low + u * (high - low)
        logv = torch.exp(torch.log(low) + u * (torch.log(high) - torch.log(low)))
        values = torch.where(is_log, logv, lin)
        for i, p in enumerate(PARAMETERS):
            if p.scale == "categorical":
                if p.name not in bounds:
                    values[:, i] = p.default
                else:  # integer codes low … high, equally likely
                    lo, hi = math.ceil(low[i].item()), math.floor(high[i].item())
                    values[:, i] = (lo + torch.floor(u[:, i] * (hi - lo + 1))).clamp(max=hi)
        if "geometry" in fixed:
            fixed["geometry"] = float(Geometry.parse(fixed["geometry"]))
        for name, value in fixed.items():
            values[:, PARAMETER_INDEX[name]] = value
        return cls(values.to(dtype=dtype, device=device), carrier)

    @staticmethod
    def cat(formulations: Sequence[Formulation]) -> Formulation:
        """Concatenate batches along the batch dimension."""
        if len(formulations) == 0:
            raise ValueError("cat needs at least one Formulation; got none")
        return Formulation(
            torch.cat([f.values for f in formulations]),
            torch.cat([f.carrier for f in formulations]),
            validate=False,
        )

    # -- access --------------------------------------------------------------------------
    def __getattr__(self, name: str) -> torch.Tensor:
        index = PARAMETER_INDEX.get(name)
        if index is None:
            raise AttributeError(f"Formulation has no parameter {name!r}")
        return self.values[:, index]

    def __len__(self) -> int:
        return self.values.shape[0]

    def __getitem__(self, index: int | slice | torch.Tensor | Sequence[int]) -> Formulation:
        if isinstance(index, int):
            index = slice(index, index + 1 if index != -1 else None)
        return Formulation(self.values[index], self.carrier[index], validate=False)

    def __repr__(self) -> str:
        return f"Formulation(batch={len(self)}, device={self.device}, dtype={self.dtype})"

    @property
    def device(self) -> torch.device:
        return self.values.device

    @property
    def dtype(self) -> torch.dtype:
        return self.values.dtype

    def is_liposome(self) -> torch.Tensor:
        """``(B,)`` boolean mask of liposome designs."""
        return self.carrier == int(Carrier.LIPOSOME)

    def replace(self, **values: float | str | torch.Tensor) -> Formulation:
        """A copy with the named parameters set to new values (differentiably);
        ``geometry`` may be given by name."""
        _unknown(values)
        if "geometry" in values:
            values["geometry"] = _geometry_codes(values["geometry"])
        cols = list(self.values.unbind(1))
        for name, value in values.items():
            cols[PARAMETER_INDEX[name]] = torch.as_tensor(
                value, dtype=self.dtype, device=self.device
            ).expand(len(self))
        return Formulation(torch.stack(cols, 1), self.carrier)

    def to(
        self, device: torch.device | str | None = None, dtype: torch.dtype | None = None
    ) -> Formulation:
        """Move to ``device`` and/or cast to floating ``dtype``."""
        return Formulation(
            self.values.to(device=device, dtype=dtype), self.carrier.to(device), validate=False
        )

    def to_dicts(self) -> list[dict[str, float | str]]:
        """One dict per design: the carrier name and every parameter its physics uses."""
        rows = self.values.detach().cpu().tolist()
        carriers = self.carrier.cpu().tolist()
        out = []
        for row, code in zip(rows, carriers, strict=True):
            carrier = Carrier(code)
            d: dict[str, float | str] = {"carrier": carrier.name.lower()}
            d.update(
                {p.name: v for p, v in zip(PARAMETERS, row, strict=True) if carrier in p.carriers}
            )
            if "geometry" in d:
                d["geometry"] = GEOMETRY_NAMES[int(d["geometry"])]
            out.append(d)
        return out

    def validate(self) -> None:
        """Raise ``ValueError`` if any value is NaN/inf or outside its parameter's bounds."""
        values = self.values.detach()
        low, high = _LOW.to(values), _HIGH.to(values)
        carrier_ok = bool(((self.carrier >= 0) & (self.carrier < len(Carrier))).all())
        geometry = values[:, PARAMETER_INDEX["geometry"]]
        codes_ok = bool((geometry == geometry.round()).all())
        if carrier_ok and codes_ok and bool(((values >= low) & (values <= high)).all()):
            return  # one vectorised check; the per-parameter checks below explain failures
        for i, spec in enumerate(PARAMETERS):
            check_in_range(
                spec.name, values[:, i], spec.low, spec.high, spec.unit or "dimensionless"
            )
        if not codes_ok:
            bad_code = geometry[geometry != geometry.round()][0].item()
            raise ValueError(
                f"geometry={bad_code:g} is not a geometry code; allowed: 0 (sphere), "
                "1 (cylinder), 2 (slab)"
            )
        bad = (self.carrier < 0) | (self.carrier >= len(Carrier))
        if bool(bad.any()):
            raise ValueError(
                f"carrier codes must be in {[int(c) for c in Carrier]}; got "
                f"{self.carrier[bad][0].item()}"
            )


def _geometry_codes(value: object) -> object:
    """Geometry names (one, or a list) as float codes; numbers pass through."""
    if isinstance(value, str):
        return float(Geometry.parse(value))
    if isinstance(value, (list, tuple)):
        return [float(Geometry.parse(v)) if isinstance(v, str) else v for v in value]
    return value


def spec(name: str) -> ParameterSpec:
    """The :class:`ParameterSpec` of parameter ``name``."""
    _unknown([name])
    return _SPEC[name]
