"""Design spaces: which parameters an agent edits, within which bounds.

A :class:`DesignSpace` picks a carrier family, a set of *free* parameters with
bounds nested inside the simulator's allowed ranges
(:data:`nanoenv.kinetics.PARAMETERS`), and *fixed* values for the rest. It maps
between physical units and the agent's normalised coordinates ``z ∈ [-1, 1]``
(linearly, or linearly in ``log10`` for log-scale parameters such as radius and
molecular weight).

>>> space = DesignSpace.polymer_nanoparticle()
>>> space.dim
11
>>> narrow = space.narrowed(radius_nm=(50.0, 100.0)).frozen(peg_fraction=0.05)
>>> narrow.dim
10
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import torch

from nanoenv.kinetics import PARAMETER_INDEX, PARAMETER_NAMES, PARAMETERS, Carrier, Formulation
from nanoenv.kinetics.formulation import Geometry
from nanoenv.kinetics.parameters import spec as parameter_spec
from nanoenv.kinetics.validation import check_finite, check_in_range

__all__ = ["DesignParameter", "DesignSpace"]


@dataclass(frozen=True)
class DesignParameter:
    """A free parameter of a design space.

    :param name: formulation parameter name (unit in the name).
    :param unit: physical unit.
    :param low: lower bound (maps to ``z = -1``), in ``unit``.
    :param high: upper bound (maps to ``z = +1``), in ``unit``.
    :param scale: ``"log"`` or ``"linear"``: how ``z`` maps to the value.
    """

    name: str
    unit: str
    low: float
    high: float
    scale: str


def _check_nested(name: str, low: float, high: float) -> None:
    s = parameter_spec(name)
    unit = s.unit or "dimensionless"
    if not (math.isfinite(low) and math.isfinite(high)) or not low < high:
        raise ValueError(
            f"bounds for {name} must satisfy low < high; got ({low:g}, {high:g}) ({unit})"
        )
    if low < s.low or high > s.high:
        raise ValueError(
            f"bounds for {name}=({low:g}, {high:g}) must nest inside the allowed range "
            f"[{s.low:g}, {s.high:g}] ({unit})"
        )


class DesignSpace:
    """Free parameters with bounds, fixed values for the rest, and one carrier family.

    :param carrier: carrier family of every design in the space.
    :param bounds: ``{name: (low, high)}`` of the free parameters, in physical units,
        nested in the simulator's allowed ranges; order is the order of ``z``.
    :param fixed: ``{name: value}`` for parameters held constant; parameters
        neither free nor fixed take their default. ``geometry`` (categorical, never
        free) may be given by name: ``fixed={"geometry": "cylinder"}``.
    """

    def __init__(
        self,
        carrier: str | Carrier,
        bounds: Mapping[str, tuple[float, float]],
        fixed: Mapping[str, float] | None = None,
    ) -> None:
        self.carrier = Carrier.parse(carrier)
        fixed = dict(fixed or {})
        unknown = sorted((set(bounds) | set(fixed)) - set(PARAMETER_NAMES))
        if unknown:
            raise ValueError(
                f"unknown design parameter(s) {unknown}; allowed: {list(PARAMETER_NAMES)}"
            )
        both = sorted(set(bounds) & set(fixed))
        if both:
            raise ValueError(f"parameter(s) {both} are both free (bounded) and fixed; choose one")
        if not bounds:
            raise ValueError("a design space needs at least one free parameter; got none")
        if "geometry" in fixed:
            fixed["geometry"] = float(Geometry.parse(fixed["geometry"]))
        params = []
        for name, (low, high) in bounds.items():
            if parameter_spec(name).scale == "categorical":
                raise ValueError(
                    f"{name} is categorical and cannot be a free (bounded) parameter; fix it, "
                    f"e.g. fixed={{'{name}': 'cylinder'}}"
                )
            low, high = float(low), float(high)
            _check_nested(name, low, high)
            s = parameter_spec(name)
            params.append(DesignParameter(name, s.unit, low, high, s.scale))
        for name, value in fixed.items():
            s = parameter_spec(name)
            check_in_range(name, float(value), s.low, s.high, s.unit or "dimensionless")
        self.parameters: tuple[DesignParameter, ...] = tuple(params)
        self.fixed: dict[str, float] = {k: float(v) for k, v in fixed.items()}
        base = torch.tensor([p.default for p in PARAMETERS], dtype=torch.float64)
        for name, value in self.fixed.items():
            base[PARAMETER_INDEX[name]] = value
        self._base = base
        self._index = torch.tensor([PARAMETER_INDEX[p.name] for p in params])
        is_log = torch.tensor([p.scale == "log" for p in params])
        low_t = torch.tensor([p.low for p in params], dtype=torch.float64)
        high_t = torch.tensor([p.high for p in params], dtype=torch.float64)
        self._is_log = is_log
        self._lo = torch.where(is_log, low_t.log(), low_t)
        self._hi = torch.where(is_log, high_t.log(), high_t)
        self._cache: dict[tuple[torch.device, torch.dtype], tuple[torch.Tensor, ...]] = {}

    # -- presets ------------------------------------------------------------------------------
    @classmethod
    def polymer_nanoparticle(cls, **overrides: tuple[float, float]) -> DesignSpace:
        """PLGA-family nanoparticles (25–250 nm) with pH- and thermo-responsive components.

        Photo-, magnetic- and enzyme-responsive fractions are fixed at 0; unfreeze
        them by passing bounds, e.g. ``photo_cleavable_fraction=(0, 0.5)``.
        """
        bounds = {
            "radius_nm": (25.0, 250.0),
            "zeta_mv": (-50.0, 30.0),
            "lactide_fraction": (0.0, 1.0),
            "polymer_mw_kda": (5.0, 150.0),
            "drug_loading": (0.01, 0.4),
            "peg_fraction": (0.0, 0.3),
            "crosslink_ratio": (0.0, 0.5),
            "ph_responsive_fraction": (0.0, 1.0),
            "responsive_pka": (5.0, 7.5),
            "thermo_fraction": (0.0, 1.0),
            "lcst_c": (30.0, 50.0),
        }
        fixed = {
            "photo_cleavable_fraction": 0.0,
            "magnetic_core_fraction": 0.0,
            "enzyme_cleavable_fraction": 0.0,
            "photothermal_fraction": 0.0,
            "geometry": 0.0,
            "pdi": 0.0,
        }
        return cls._with_overrides(Carrier.POLYMER, bounds, fixed, overrides)

    @classmethod
    def liposome(cls, **overrides: tuple[float, float]) -> DesignSpace:
        """Liposomes (40–200 nm) with lipid Tm, drug:lipid ratio, cholesterol and
        lysolipid (thermosensitive liposomes need both: Needham et al., Faraday Discuss.
        161 (2013) 515) and pH-/thermo-responsive components. The interior pH is fixed at
        7.4 (passive loading); unfreeze it with ``interior_ph=(4.0, 7.4)``."""
        bounds = {
            "radius_nm": (40.0, 200.0),
            "zeta_mv": (-50.0, 30.0),
            "peg_fraction": (0.0, 0.1),
            "ph_responsive_fraction": (0.0, 1.0),
            "responsive_pka": (5.0, 7.5),
            "thermo_fraction": (0.0, 1.0),
            "lcst_c": (35.0, 50.0),
            "lipid_tm_c": (20.0, 60.0),
            "drug_lipid_ratio": (0.01, 0.5),
            "cholesterol_fraction": (0.0, 0.5),
            "lysolipid_fraction": (0.0, 0.15),
        }
        fixed = {
            "photo_cleavable_fraction": 0.0,
            "magnetic_core_fraction": 0.0,
            "enzyme_cleavable_fraction": 0.0,
            "photothermal_fraction": 0.0,
            "interior_ph": 7.4,
            "pdi": 0.0,
        }
        return cls._with_overrides(Carrier.LIPOSOME, bounds, fixed, overrides)

    @classmethod
    def for_carrier(cls, carrier: str | Carrier) -> DesignSpace:
        """The default space of a carrier family."""
        carrier = Carrier.parse(carrier)
        return cls.liposome() if carrier is Carrier.LIPOSOME else cls.polymer_nanoparticle()

    @classmethod
    def _with_overrides(cls, carrier, bounds, fixed, overrides) -> DesignSpace:
        for name, value in overrides.items():
            fixed.pop(name, None)
            bounds[name] = value
        return cls(carrier, bounds, fixed)

    def with_geometry(
        self, geometry: str | Geometry, aspect_ratio: float | None = None
    ) -> DesignSpace:
        """A copy whose devices have shape ``geometry`` (``"sphere"``, ``"cylinder"``,
        ``"slab"``), optionally with a fixed cylinder ``aspect_ratio`` (length/diameter).

        >>> DesignSpace.polymer_nanoparticle().with_geometry("cylinder", 5.0).fixed["geometry"]
        1.0
        """
        fixed = {**self.fixed, "geometry": float(Geometry.parse(geometry))}
        if aspect_ratio is not None:
            fixed["aspect_ratio"] = float(aspect_ratio)
        bounds = {p.name: (p.low, p.high) for p in self.parameters if p.name not in fixed}
        return DesignSpace(self.carrier, bounds, fixed)

    def narrowed(self, **bounds: tuple[float, float]) -> DesignSpace:
        """A copy with narrower bounds for free parameters (nested in the current ones)."""
        current = {p.name: (p.low, p.high) for p in self.parameters}
        for name, (low, high) in bounds.items():
            if name not in current:
                raise ValueError(
                    f"{name} is not a free parameter of this space; free: {self.names}"
                )
            lo, hi = current[name]
            if not lo <= low < high <= hi:
                raise ValueError(
                    f"bounds for {name}=({low:g}, {high:g}) must nest inside the current bounds "
                    f"[{lo:g}, {hi:g}] ({parameter_spec(name).unit or 'dimensionless'})"
                )
            current[name] = (low, high)
        return DesignSpace(self.carrier, current, self.fixed)

    def frozen(self, **values: float) -> DesignSpace:
        """A copy with some free parameters fixed at the given values (physical units)."""
        current = {p.name: (p.low, p.high) for p in self.parameters}
        for name in values:
            if name not in current:
                raise ValueError(
                    f"{name} is not a free parameter of this space; free: {self.names}"
                )
            del current[name]
        return DesignSpace(self.carrier, current, {**self.fixed, **values})

    # -- maps ---------------------------------------------------------------------------------
    @property
    def dim(self) -> int:
        """Number of free parameters (length of ``z``)."""
        return len(self.parameters)

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.parameters]

    def __repr__(self) -> str:
        return f"DesignSpace(carrier={self.carrier.name.lower()}, free={self.names})"

    def _tensors(self, device: torch.device, dtype: torch.dtype) -> tuple[torch.Tensor, ...]:
        key = (device, dtype)
        if key not in self._cache:
            self._cache[key] = tuple(
                t.to(device=device, dtype=dtype if t.is_floating_point() else None)
                for t in (self._base, self._index, self._is_log, self._lo, self._hi)
            )
        return self._cache[key]

    def to_formulation(self, z: torch.Tensor, *, validate: bool = True) -> Formulation:
        """Physical designs from normalised coordinates.

        :param z: ``(B, dim)`` or ``(dim,)`` coordinates in ``[-1, 1]``; differentiable.
        :param validate: reject NaN and coordinates outside ``[-1, 1]`` (by more than 1e-6).
        """
        z = torch.as_tensor(z)
        if z.dim() == 1:
            z = z.unsqueeze(0)
        if z.dim() != 2 or z.shape[1] != self.dim:
            raise ValueError(
                f"z must have shape (B, {self.dim}) for free parameters {self.names}; "
                f"got {tuple(z.shape)}"
            )
        if not torch.is_floating_point(z):
            z = z.to(torch.get_default_dtype())
        if validate:
            check_finite("z", z)
            check_in_range("z", z, -1.0 - 1e-6, 1.0 + 1e-6, "normalised design coordinate")
        base, index, is_log, lo, hi = self._tensors(z.device, z.dtype)
        u = lo + (z.clamp(-1.0, 1.0) + 1.0) * 0.5 * (hi - lo)
        free = torch.where(is_log, torch.exp(u), u)
        values = base.expand(z.shape[0], -1).index_copy(1, index, free)
        return Formulation(values, int(self.carrier), validate=False)

    def to_normalized(self, formulation: Formulation) -> torch.Tensor:
        """Normalised coordinates ``(B, dim)`` of physical designs (free parameters only)."""
        v = formulation.values
        _, index, is_log, lo, hi = self._tensors(v.device, v.dtype)
        free = v.index_select(1, index)
        u = torch.where(is_log, torch.log(free), free)
        return 2.0 * (u - lo) / (hi - lo) - 1.0

    def sample(
        self,
        n: int,
        *,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> torch.Tensor:
        """``n`` uniform draws of ``z`` in ``[-1, 1]^dim`` (log-uniform in physical units
        for log-scale parameters)."""
        z = torch.rand(n, self.dim, generator=generator, dtype=torch.float64) * 2.0 - 1.0
        return z.to(device=device, dtype=dtype or torch.get_default_dtype())

    def contains(self, formulation: Formulation) -> torch.Tensor:
        """``(B,)`` mask of designs inside the bounds with fixed parameters at their values."""
        z = self.to_normalized(formulation)
        inside = ((z >= -1 - 1e-6) & (z <= 1 + 1e-6)).all(1)
        for name, value in self.fixed.items():
            inside &= torch.isclose(
                formulation.values[:, PARAMETER_INDEX[name]],
                torch.tensor(value, dtype=formulation.dtype),
            )
        return inside & (formulation.carrier == int(self.carrier))
