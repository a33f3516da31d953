"""Formulations: a batch of particle designs in physical units.

A :class:`Formulation` holds ``B`` designs as one ``(B, P)`` tensor of the
parameters in :data:`PARAMETERS` (physical units, fixed column order) and a
``(B,)`` integer tensor of carrier families (:class:`Carrier`). Keeping the
continuous parameters in one tensor makes every design differentiable at once
(``values.requires_grad_()``) and makes batching, indexing and moving between
devices cheap.

The bounds (:mod:`nanoenv.kinetics.parameters`) are the *physically meaningful* ranges the
simulator accepts (nanoparticles through microparticles to millimetre implants, as in the real
data); :mod:`nanoenv.design_space` narrows them for a design task.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch

from nanoenv.kinetics.parameters import (
    GEOMETRY_NAMES,
    PARAMETER_HIGH,
    PARAMETER_INDEX,
    PARAMETER_LOW,
    PARAMETER_NAMES,
    PARAMETERS,
    Carrier,
    Geometry,
    ParameterSpec,
    check_parameter_names,
)
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
]


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
        check_parameter_names(params)
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
        check_parameter_names(bounds)
        check_parameter_names(fixed)
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
        check_parameter_names(values)
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
        low, high = PARAMETER_LOW.to(values), PARAMETER_HIGH.to(values)
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
