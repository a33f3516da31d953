"""The release medium: piecewise-constant pH, temperature and external stimuli.

A :class:`ReleaseConditions` is a schedule of ``K`` segments. Segment ``k``
starts at ``start_h[..., k]`` (the first at 0 h) and lasts until the next
start; the last segment lasts forever. Every field has shape ``(K,)`` (one
schedule shared by the batch) or ``(B, K)`` (one per design). Because every
rate in the simulator is a function of the medium, rates are piecewise
constant too and their time integrals are exact (see
:mod:`nanoenv.kinetics.time_change`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields

import torch

from nanoenv.kinetics.validation import check_finite, check_in_range, unchecked

__all__ = [
    "CONDITION_PRESETS",
    "DEFAULT_MAGNETIC_FREQUENCY_KHZ",
    "MAGNETIC_HF_LIMIT_A_M_S",
    "ReleaseConditions",
]

#: Clinical limit on the product of field amplitude and frequency of an alternating
#: magnetic field, ``H·f ≤ 5e9 A m⁻¹ s⁻¹``, above which eddy-current heating of tissue is
#: intolerable (Hergt & Dutz, J. Magn. Magn. Mater. 311 (2007) 187; the older
#: Atkinson–Brezovich limit is 4.85e8).
MAGNETIC_HF_LIMIT_A_M_S = 5.0e9
#: Frequency of the alternating field when a schedule does not give one, kHz
#: (clinical magnetic hyperthermia runs at ~100 kHz: Jordan et al., J. Magn. Magn.
#: Mater. 225 (2001) 118).
DEFAULT_MAGNETIC_FREQUENCY_KHZ = 100.0


def _f64(values: list[float]) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64)


def _as_float(values: torch.Tensor | Sequence[float] | float) -> torch.Tensor:
    """A floating tensor: floating tensors keep their dtype and device, anything else
    becomes float64 (so presets and user lists are exact)."""
    if isinstance(values, torch.Tensor) and torch.is_floating_point(values):
        return values
    return torch.as_tensor(values, dtype=torch.float64)


_FIELDS = {
    "ph": (0.0, 14.0, "pH units"),
    "temperature_c": (0.0, 100.0, "degC"),
    "light_mw_cm2": (0.0, 1.0e4, "mW/cm^2"),
    "magnetic_field_ka_m": (0.0, 200.0, "kA/m"),
    "enzyme_activity": (0.0, 1.0e3, "relative to a reference activity of 1"),
    "magnetic_frequency_khz": (1.0, 1.0e3, "kHz"),
}
#: H·f limit in the schedule's units, kA/m × kHz.
_HF_LIMIT = MAGNETIC_HF_LIMIT_A_M_S / 1e6


_LOW = torch.tensor([low for low, _, _ in _FIELDS.values()], dtype=torch.float64)
_HIGH = torch.tensor([high for _, high, _ in _FIELDS.values()], dtype=torch.float64)


@dataclass(frozen=True)
class ReleaseConditions:
    """Piecewise-constant release-medium schedule.

    :param start_h: segment start times, hours; first 0, non-decreasing
        (a repeated time makes a zero-length segment, used to pad schedules).
    :param ph: medium pH in each segment.
    :param temperature_c: medium temperature in each segment, °C.
    :param light_mw_cm2: light intensity at the particle, mW/cm² (photo-cleavable linkers).
    :param magnetic_field_ka_m: alternating magnetic field amplitude, kA/m
        (heats magnetic cores; see :func:`nanoenv.kinetics.mechanisms.magnetic_heating_c`).
    :param enzyme_activity: activity of the cleaving enzyme relative to a
        reference activity of 1 (e.g. tumour MMP-2 levels).
    :param magnetic_frequency_khz: frequency of the alternating field, kHz (default
        :data:`DEFAULT_MAGNETIC_FREQUENCY_KHZ`). Field × frequency must stay within the
        clinical limit :data:`MAGNETIC_HF_LIMIT_A_M_S` (``H·f ≤ 5e9 A m⁻¹ s⁻¹``, i.e.
        ``magnetic_field_ka_m · magnetic_frequency_khz ≤ 5000``); beyond it the
        schedule is rejected.
    """

    start_h: torch.Tensor
    ph: torch.Tensor
    temperature_c: torch.Tensor
    light_mw_cm2: torch.Tensor | None = None
    magnetic_field_ka_m: torch.Tensor | None = None
    enzyme_activity: torch.Tensor | None = None
    magnetic_frequency_khz: torch.Tensor | None = None

    def __post_init__(self) -> None:
        start = _as_float(self.start_h)
        if start.dim() == 0:
            start = start.reshape(1)
        if start.dim() not in (1, 2):
            raise ValueError(f"start_h must have shape (K,) or (B, K); got {tuple(start.shape)}")
        object.__setattr__(self, "start_h", start)
        for name in _FIELDS:
            value = getattr(self, name)
            if value is None:
                fill = DEFAULT_MAGNETIC_FREQUENCY_KHZ if name == "magnetic_frequency_khz" else 0.0
                value = torch.full_like(start, fill)
            value = _as_float(value).to(start)
            if value.dim() == 0:
                value = value.expand_as(start)
            if value.shape[-1] != start.shape[-1]:
                raise ValueError(
                    f"{name} has {value.shape[-1]} segments but start_h has {start.shape[-1]}; "
                    "give one value per segment"
                )
            object.__setattr__(self, name, value)
        self.validate()

    def validate(self) -> None:
        """Raise ``ValueError`` on NaN, out-of-range values or a malformed schedule."""
        if self._valid_fast():
            return
        check_finite("start_h", self.start_h, "h")
        if bool((self.start_h[..., 0] != 0).any()):
            raise ValueError(
                f"start_h must begin at 0 h (the first segment starts with the release test); "
                f"got {self.start_h[..., 0].flatten()[0].item():g} h"
            )
        if self.start_h.shape[-1] > 1 and bool((self.start_h.diff(dim=-1) < 0).any()):
            raise ValueError(f"start_h must be non-decreasing (h); got {self.start_h.tolist()}")
        for name, (low, high, unit) in _FIELDS.items():
            check_in_range(name, getattr(self, name), low, high, unit)
        hf = self.magnetic_field_ka_m * self.magnetic_frequency_khz
        if bool((hf > _HF_LIMIT).any()):
            i = int(torch.argmax(hf.flatten()))
            field = float(self.magnetic_field_ka_m.flatten()[i])
            freq = float(self.magnetic_frequency_khz.flatten()[i])
            raise ValueError(
                f"magnetic_field_ka_m × magnetic_frequency_khz = {field:g} kA/m × {freq:g} kHz "
                f"= {field * freq * 1e6:.3g} A m^-1 s^-1 exceeds the clinical limit "
                f"H·f ≤ {MAGNETIC_HF_LIMIT_A_M_S:.0e} A m^-1 s^-1 (Hergt & Dutz 2007); "
                f"at {freq:g} kHz the field may be at most {_HF_LIMIT / freq:.3g} kA/m"
            )

    def _valid_fast(self) -> bool:
        """One vectorised check of everything; the slow per-field checks only run to
        explain a failure."""
        fields = torch.stack([getattr(self, name) for name in _FIELDS], dim=-1)
        start = self.start_h
        ok = (
            bool(torch.isfinite(start).all())
            and bool((start[..., 0] == 0).all())
            and (start.shape[-1] == 1 or bool((start.diff(dim=-1) >= 0).all()))
            and bool(((fields >= _LOW.to(fields)) & (fields <= _HIGH.to(fields))).all())
            and bool((self.magnetic_field_ka_m * self.magnetic_frequency_khz <= _HF_LIMIT).all())
        )
        return ok

    def padded(self, num_segments: int) -> torch.Tensor:
        """``(7, num_segments)`` float64 tensor of the fields in declaration order
        (``start_h``, ``ph``, ``temperature_c``, light, field, enzyme, frequency), padded with
        zero-length segments; cached, since a preset schedule is shared by many targets.
        """
        if self.batch_size is not None:
            raise ValueError("padded() is for one schedule of shape (K,); this one is batched")
        cache = self.__dict__.setdefault("_padded", {})
        if num_segments not in cache:
            if self.num_segments > num_segments:
                raise ValueError(
                    f"a schedule has {self.num_segments} segments; at most {num_segments} are "
                    "supported here"
                )
            pad = num_segments - self.num_segments
            rows = [getattr(self, f.name).double() for f in fields(self)]
            cache[num_segments] = torch.stack([torch.cat([v, v[-1:].expand(pad)]) for v in rows])
        return cache[num_segments]

    @property
    def num_segments(self) -> int:
        return self.start_h.shape[-1]

    @property
    def batch_size(self) -> int | None:
        """``B`` for a batched schedule, ``None`` for one shared by the batch."""
        return self.start_h.shape[0] if self.start_h.dim() == 2 else None

    def tensors(
        self, device: torch.device | None = None, dtype: torch.dtype | None = None
    ) -> dict[str, torch.Tensor]:
        """Every field as a tensor of shape ``(1, K)`` or ``(B, K)`` on ``device``/``dtype``."""
        dtype = dtype or torch.get_default_dtype()
        out = {}
        for f in fields(self):
            value = getattr(self, f.name).to(device=device, dtype=dtype)
            out[f.name] = value if value.dim() == 2 else value.unsqueeze(0)
        return out

    def value_at(self, name: str, times_h: torch.Tensor) -> torch.Tensor:
        """Field ``name`` evaluated at ``times_h`` (for plotting and observations)."""
        if name not in _FIELDS:
            raise ValueError(f"unknown condition field {name!r}; allowed: {list(_FIELDS)}")
        times = torch.as_tensor(times_h, dtype=torch.float64)
        start = self.start_h
        value = getattr(self, name)
        if start.dim() == 1:
            idx = torch.searchsorted(start, times, right=True) - 1
            return value[idx]
        times = times.expand(start.shape[0], -1).contiguous()
        idx = torch.searchsorted(start.contiguous(), times, right=True) - 1
        return value.gather(1, idx)

    @classmethod
    def stack(
        cls, conditions: Sequence[ReleaseConditions], num_segments: int | None = None
    ) -> ReleaseConditions:
        """One schedule per design, padding shorter schedules with zero-length segments
        (to ``num_segments`` when given)."""
        if len(conditions) == 0:
            raise ValueError("stack needs at least one ReleaseConditions; got none")
        k = max(c.num_segments for c in conditions)
        if num_segments is not None:
            if k > num_segments:
                raise ValueError(
                    f"a schedule has {k} segments; at most {num_segments} are supported here"
                )
            k = num_segments
        if any(c.batch_size is not None for c in conditions):
            raise ValueError("stack expects unbatched schedules of shape (K,)")
        stacked = torch.stack([c.padded(k) for c in conditions])
        names = [f.name for f in fields(ReleaseConditions)]  # padded() rows, in this order
        # rows of validated schedules, padded by repeating their last values: still valid
        return cls.from_validated(**dict(zip(names, stacked.unbind(1), strict=True)))

    @classmethod
    def from_validated(cls, **values: torch.Tensor) -> ReleaseConditions:
        """A schedule from fields taken from validated schedules (every field given, in the
        shapes :meth:`__post_init__` leaves them), without checking them again: for internal
        paths that move, stack, select or merge rows of schedules once validated (the
        environments do so on every reset). Anything else must use the constructor."""
        return unchecked(cls, values)

    def to(
        self, device: torch.device | str | None = None, dtype: torch.dtype | None = None
    ) -> ReleaseConditions:
        """This schedule with every field on ``device`` with ``dtype`` (``None``: kept);
        shapes kept. Values were checked when this schedule was built and are not checked
        again."""
        return ReleaseConditions.from_validated(
            **{f.name: getattr(self, f.name).to(device=device, dtype=dtype) for f in fields(self)}
        )

    # -- presets --------------------------------------------------------------------------
    @staticmethod
    def sink(ph: float = 7.4, temperature_c: float = 37.0) -> ReleaseConditions:
        """Constant sink conditions (phosphate buffer pH 7.4, 37 °C by default)."""
        return ReleaseConditions(_f64([0.0]), _f64([ph]), _f64([temperature_c]))

    @staticmethod
    def tumour(
        blood_h: float = 6.0, tumour_h: float = 24.0, temperature_c: float = 37.0
    ) -> ReleaseConditions:
        """Blood (pH 7.4) for ``blood_h`` hours, then tumour interstitium (pH 6.5) until
        ``tumour_h``, then endo/lysosome (pH 5.0).

        Sources: tumour extracellular pH 6.5–6.8 and lysosomal pH ~5.0
        (Kanamala et al., Biomaterials 85 (2016) 152).
        """
        if not 0 < blood_h < tumour_h:
            raise ValueError(
                f"tumour schedule needs 0 < blood_h < tumour_h (h); got {blood_h:g}, {tumour_h:g}"
            )
        return ReleaseConditions(
            _f64([0.0, blood_h, tumour_h]),
            _f64([7.4, 6.5, 5.0]),
            _f64([temperature_c] * 3),
        )

    @staticmethod
    def hyperthermia(
        start_h: float = 24.0, duration_h: float = 1.0, temperature_c: float = 42.0
    ) -> ReleaseConditions:
        """37 °C with one heat pulse (42 °C for 1 h after 24 h by default; mild
        hyperthermia as used with thermosensitive liposomes, Needham et al.,
        Cancer Res. 60 (2000) 1197)."""
        if start_h <= 0 or duration_h <= 0:
            raise ValueError(
                f"hyperthermia needs start_h > 0 and duration_h > 0 (h); "
                f"got {start_h:g}, {duration_h:g}"
            )
        return ReleaseConditions(
            _f64([0.0, start_h, start_h + duration_h]),
            _f64([7.4, 7.4, 7.4]),
            _f64([37.0, temperature_c, 37.0]),
        )

    @staticmethod
    def preset(name: str) -> ReleaseConditions:
        """The preset schedule called ``name`` (see :data:`CONDITION_PRESETS`)."""
        key = name.strip().lower().replace("-", "_")
        key = {"tumor": "tumour"}.get(key, key)
        if key not in CONDITION_PRESETS:
            raise ValueError(
                f"unknown conditions preset {name!r}; allowed: {sorted(CONDITION_PRESETS)}"
            )
        return _preset(key)


@functools.cache
def _preset(key: str) -> ReleaseConditions:
    # presets are built (and validated) once; nothing in nanoenv mutates a schedule in place
    return CONDITION_PRESETS[key]()


def _light_pulse() -> ReleaseConditions:
    return ReleaseConditions(
        _f64([0.0, 24.0, 25.0]),
        _f64([7.4, 7.4, 7.4]),
        _f64([37.0, 37.0, 37.0]),
        light_mw_cm2=_f64([0.0, 100.0, 0.0]),
    )


def _magnetic_pulse() -> ReleaseConditions:
    return ReleaseConditions(
        _f64([0.0, 24.0, 25.0]),
        _f64([7.4, 7.4, 7.4]),
        _f64([37.0, 37.0, 37.0]),
        magnetic_field_ka_m=_f64([0.0, 20.0, 0.0]),
    )


def _tumour_enzyme() -> ReleaseConditions:
    return ReleaseConditions(
        _f64([0.0, 6.0]),
        _f64([7.4, 6.5]),
        _f64([37.0, 37.0]),
        enzyme_activity=_f64([0.0, 1.0]),
    )


#: Named schedules: ``sink``, ``tumour`` (pH 7.4 → 6.5 → 5.0), ``hyperthermia``
#: (42 °C pulse), ``light_pulse`` (100 mW/cm² for 1 h), ``magnetic_pulse``
#: (20 kA/m for 1 h), ``tumour_enzyme`` (pH 6.5 and enzyme after 6 h).
CONDITION_PRESETS: dict[str, Callable[[], ReleaseConditions]] = {
    "sink": ReleaseConditions.sink,
    "tumour": ReleaseConditions.tumour,
    "hyperthermia": ReleaseConditions.hyperthermia,
    "light_pulse": _light_pulse,
    "magnetic_pulse": _magnetic_pulse,
    "tumour_enzyme": _tumour_enzyme,
}
