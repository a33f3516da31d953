"""One-compartment pharmacokinetics driven by a drug-release curve.

The carrier releases a cumulative fraction ``F(t)`` of the dose into a single, well-mixed
compartment of volume ``V`` that is cleared at rate ``CL``:

    dA/dt = Dose · dF/dt − k_el · A,    k_el = CL / V,    C = A / V.

``F`` is taken piecewise linear between the grid points (a constant input rate inside each
interval), and every interval is advanced with the exact solution of the linear ODE

    A_{i+1} = A_i · e^{−kΔ} + Dose · (ΔF/Δ) · (1 − e^{−kΔ}) / k,

so a zero-order (constant-rate) input is reproduced to round-off on any grid, and smooth
release curves converge with second order in the step. First-order release
``F = 1 − e^{−k_a t}`` gives the Bateman function.

Units: time in hours (h), dose in mg, clearance in L/h, volume in L, concentration in mg/L.

Sources: Gibaldi, M. & Perrier, D., *Pharmacokinetics*, 2nd ed., Marcel Dekker (1982),
ch. 1-2 (one-compartment model, zero- and first-order input); Bateman, H., "The solution of
a system of differential equations occurring in the theory of radioactive
transformations", *Proc. Cambridge Philos. Soc.* 15, 423-427 (1910).
"""

from __future__ import annotations

import math

import torch

from nanoenv.kinetics.validation import check_finite, check_in_range, check_sorted_times

__all__ = [
    "concentration_from_release",
    "smooth_therapeutic_window_time",
    "therapeutic_window_time",
]

Tensor = torch.Tensor

# Accepted range for cumulative fractions (assay noise / over-label-claim tolerated);
# matches nanoenv.metrics.FRACTION_RANGE.
_FRACTION_RANGE = (-0.5, 1.5)
# Below this k·Δ the factor (1 − e^{−x})/x is evaluated by its Taylor series.
_SERIES_X = 1e-3


def _as_float(x: Tensor | float) -> Tensor:
    x = torch.as_tensor(x)
    if not torch.is_floating_point(x):
        x = x.to(torch.get_default_dtype())
    return x


def _batch_param(x: Tensor | float, dtype: torch.dtype, device: torch.device) -> Tensor:
    """A float or ``(B,)`` tensor as a ``(..., 1)`` tensor that broadcasts against time."""
    return torch.as_tensor(x, dtype=dtype, device=device).unsqueeze(-1)


def _check_param_shape(name: str, x: Tensor | float) -> None:
    if torch.as_tensor(x).dim() > 1:
        raise ValueError(
            f"{name} must be a number or a 1-D (B,) tensor; got shape "
            f"{tuple(torch.as_tensor(x).shape)}"
        )


def _check_positive(name: str, x: Tensor | float, unit: str) -> None:
    """Raise ``ValueError`` unless every element of ``x`` is finite and strictly positive."""
    _check_param_shape(name, x)
    values = torch.as_tensor(x).detach()
    check_in_range(name, values, 0.0, math.inf, unit)
    bad = values <= 0
    if bool(bad.any()):
        index = [int(i) for i in torch.nonzero(bad)[0].tolist()] if values.dim() else []
        where = f" at index {index}" if index else ""
        raise ValueError(f"{name}=0{where} must be strictly positive (> 0) ({unit})")


def _check_batch(times_h: Tensor, values: Tensor, **params: Tensor | float) -> None:
    """Raise ``ValueError`` unless the per-curve parameters broadcast with the curves."""
    shapes = {
        "times_h": tuple(times_h.shape[:-1]),
        **{name: tuple(torch.as_tensor(p).shape) for name, p in params.items()},
    }
    try:
        torch.broadcast_shapes(values.shape[:-1], *shapes.values())
    except RuntimeError:
        listed = ", ".join(f"{name} {shape}" for name, shape in shapes.items())
        raise ValueError(
            f"batch sizes do not match: curves {tuple(values.shape[:-1])}, {listed} "
            "(parameters are numbers or (B,) tensors)"
        ) from None


def _check_fractions(name: str, values: Tensor) -> None:
    low, high = _FRACTION_RANGE
    v = values.detach()
    if not bool((~torch.isfinite(v) | (v < low) | (v > high)).any()):
        return
    check_finite(name, v)
    hint = "; it looks like a percentage: divide percent values by 100" if v.max() > high else ""
    raise ValueError(
        f"{name} must hold cumulative fractions released in [0, 1] (dimensionless; values in "
        f"[{low:g}, {high:g}] are tolerated); got values in [{float(v.min()):g}, "
        f"{float(v.max()):g}]{hint}"
    )


def _check_window(mec: Tensor | float, mtc: Tensor | float) -> None:
    _check_param_shape("mec", mec)
    _check_param_shape("mtc", mtc)
    check_in_range("mec", mec, 0.0, math.inf, "mg/L")
    check_in_range("mtc", mtc, 0.0, math.inf, "mg/L")
    lo, hi = torch.as_tensor(mec).detach(), torch.as_tensor(mtc).detach()
    try:
        lo, hi = torch.broadcast_tensors(lo, hi)
    except RuntimeError:
        raise ValueError(
            f"mec with shape {tuple(lo.shape)} and mtc with shape {tuple(hi.shape)} do not "
            "broadcast (numbers or (B,) tensors)"
        ) from None
    bad = lo >= hi
    if bool(bad.any()):
        raise ValueError(
            "mec must be smaller than mtc (mg/L); got "
            f"mec={float(lo[bad].flatten()[0]):g}, mtc={float(hi[bad].flatten()[0]):g}"
        )


def _check_curve(name: str, times_h: Tensor, values: Tensor) -> None:
    check_sorted_times("times_h", times_h, "h")
    if values.dim() not in (1, 2) or values.shape[-1] != times_h.shape[-1]:
        raise ValueError(
            f"{name} must be (T,) or (B, T) with the same number of time points as times_h; "
            f"got {name} shape {tuple(values.shape)} and times_h shape {tuple(times_h.shape)}"
        )
    try:
        torch.broadcast_shapes(times_h.shape, values.shape)
    except RuntimeError:
        raise ValueError(
            f"times_h with shape {tuple(times_h.shape)} and {name} with shape "
            f"{tuple(values.shape)} do not broadcast"
        ) from None


def _one_minus_exp_over_x(x: Tensor) -> Tensor:
    """``(1 − e^{−x}) / x`` for ``x ≥ 0``, equal to 1 at ``x = 0``, with finite gradients."""
    small = x < _SERIES_X
    safe = torch.where(small, torch.ones_like(x), x)
    exact = -torch.expm1(-safe) / safe
    series = 1.0 - x / 2.0 + x * x / 6.0 - x * x * x / 24.0
    return torch.where(small, series, exact)


# ---------------------------------------------------------------------------------------
# Concentration-time curve
# ---------------------------------------------------------------------------------------


def concentration_from_release(
    times_h: Tensor,
    release: Tensor,
    dose_mg: Tensor | float,
    clearance_l_h: Tensor | float,
    volume_l: Tensor | float,
    *,
    validate: bool = True,
) -> Tensor:
    """Plasma concentration of a one-compartment model fed by a release curve.

    Solves ``dA/dt = Dose·dF/dt − (CL/V)·A``, ``A(t_0) = Dose·F(t_0)``, ``C = A/V`` with
    ``F`` piecewise linear between the grid points, using the exact exponential step per
    interval (see the module docstring). Consequences:

    * a zero-order (linear ``F``) input is reproduced exactly, whatever the grid;
    * ``F(t_0) > 0`` at the first time point enters as a bolus at ``t_0``, and a repeated
      time point (``Δ = 0``) with a jump in ``F`` is an instantaneous (burst) input;
    * mass balance holds to round-off: amount in body + amount eliminated = ``Dose·F(t)``.

    Only the time dimension is looped over; everything else is batched. Differentiable
    with respect to ``release``, ``dose_mg``, ``clearance_l_h`` and ``volume_l``.

    Sources: Gibaldi & Perrier, Pharmacokinetics, 2nd ed. (1982); Bateman (1910).

    :param times_h: time points in hours, ``(T,)`` or ``(B, T)``, non-negative and sorted.
    :param release: cumulative fraction of the dose released, ``(T,)`` or ``(B, T)``,
        dimensionless.
    :param dose_mg: dose in mg, a number or a ``(B,)`` tensor, ≥ 0.
    :param clearance_l_h: clearance ``CL`` in L/h, a number or a ``(B,)`` tensor, > 0.
    :param volume_l: volume of distribution ``V`` in L, a number or a ``(B,)`` tensor, > 0.
    :param validate: check the inputs; ``False`` skips the checks (hot loops).
    :return: concentration in mg/L, shape ``(B, T)`` with ``B`` the broadcast batch size
        (``(T,)`` when every input is unbatched).
    """
    release = _as_float(release)
    dtype, device = release.dtype, release.device
    times_h = torch.as_tensor(times_h, dtype=dtype, device=device)
    if validate:
        _check_curve("release", times_h, release)
        _check_fractions("release", release)
        _check_param_shape("dose_mg", dose_mg)
        check_in_range("dose_mg", dose_mg, 0.0, math.inf, "mg")
        _check_positive("clearance_l_h", clearance_l_h, "L/h")
        _check_positive("volume_l", volume_l, "L")
        _check_batch(
            times_h, release, dose_mg=dose_mg, clearance_l_h=clearance_l_h, volume_l=volume_l
        )
    dose = _batch_param(dose_mg, dtype, device)
    volume = _batch_param(volume_l, dtype, device)
    k_el = _batch_param(clearance_l_h, dtype, device) / volume  # 1/h, (..., 1)

    dt = times_h[..., 1:] - times_h[..., :-1]  # h
    x = k_el * dt  # (..., T-1), dimensionless
    decay = torch.exp(-x)
    # Dose·(ΔF/Δ)·(1 − e^{−kΔ})/k written as Dose·ΔF·(1 − e^{−x})/x (finite for Δ = 0).
    inflow = dose * (release[..., 1:] - release[..., :-1]) * _one_minus_exp_over_x(x)

    shape = torch.broadcast_shapes(release.shape, times_h.shape, dose.shape, k_el.shape)
    decay = decay.expand(*shape[:-1], shape[-1] - 1)
    inflow = inflow.expand(*shape[:-1], shape[-1] - 1)
    amount = (dose * release[..., :1]).expand(*shape[:-1], 1)[..., 0]
    amounts = [amount]
    for i in range(shape[-1] - 1):
        amount = amount * decay[..., i] + inflow[..., i]
        amounts.append(amount)
    return torch.stack(amounts, dim=-1) / volume


# ---------------------------------------------------------------------------------------
# Time inside the therapeutic window
# ---------------------------------------------------------------------------------------


def _fraction_at_or_above(c0: Tensor, c1: Tensor, level: Tensor, strict: bool) -> Tensor:
    """Fraction of ``[0, 1]`` where the linear ``c(s) = c0 + s·(c1 − c0)`` is ``≥ level``
    (``> level`` when ``strict``)."""
    high = torch.maximum(c0, c1)
    span = (c1 - c0).abs()
    sloped = span > 0
    safe_span = torch.where(sloped, span, torch.ones_like(span))
    partial = ((high - level) / safe_span).clamp(0.0, 1.0)
    flat = (c0 > level) if strict else (c0 >= level)
    return torch.where(sloped, partial, flat.to(c0.dtype))


def therapeutic_window_time(
    times_h: Tensor,
    conc: Tensor,
    mec: Tensor | float,
    mtc: Tensor | float,
    *,
    validate: bool = True,
) -> Tensor:
    """Time (h) with ``MEC ≤ C ≤ MTC``, ``C`` linear between the grid points.

    Each interval's crossing times of MEC and MTC are computed exactly for the linearly
    interpolated concentration, so the result does not depend on where the grid points
    fall relative to the crossings (beyond the linear interpolation itself). It is
    piecewise differentiable in ``conc`` (through the crossing times) but its gradient is
    zero wherever no crossing lies inside an interval; use
    :func:`smooth_therapeutic_window_time` for optimisation.

    :param times_h: time points in hours, ``(T,)`` or ``(B, T)``, non-negative and sorted.
    :param conc: concentration in mg/L, ``(T,)`` or ``(B, T)``.
    :param mec: minimum effective concentration in mg/L, a number or ``(B,)`` tensor, ≥ 0.
    :param mtc: minimum toxic concentration in mg/L, a number or ``(B,)`` tensor, > ``mec``.
    :param validate: check the inputs; ``False`` skips the checks.
    :return: time inside the window in hours, shape ``(B,)`` (0-d when unbatched).
    """
    conc = _as_float(conc)
    times_h = torch.as_tensor(times_h, dtype=conc.dtype, device=conc.device)
    if validate:
        _check_curve("conc", times_h, conc)
        check_finite("conc", conc, "mg/L")
        _check_window(mec, mtc)
        _check_batch(times_h, conc, mec=mec, mtc=mtc)
    lo = _batch_param(mec, conc.dtype, conc.device)
    hi = _batch_param(mtc, conc.dtype, conc.device)
    c0, c1 = conc[..., :-1], conc[..., 1:]
    inside = _fraction_at_or_above(c0, c1, lo, strict=False) - _fraction_at_or_above(
        c0, c1, hi, strict=True
    )
    dt = times_h[..., 1:] - times_h[..., :-1]
    return (inside * dt).sum(-1)


def smooth_therapeutic_window_time(
    times_h: Tensor,
    conc: Tensor,
    mec: Tensor | float,
    mtc: Tensor | float,
    sharpness: Tensor | float,
    *,
    validate: bool = True,
) -> Tensor:
    """Differentiable time (h) inside the therapeutic window.

    ``Σ_i Δ_i · (g_i + g_{i+1}) / 2`` (trapezoidal rule) with the soft indicator
    ``g = σ((C − MEC)/s) · σ((MTC − C)/s)``. As ``s → 0`` the soft indicator tends to the
    hard one (0.5 exactly at a boundary), so the result tends to the trapezoid of the hard
    indicator; that differs from :func:`therapeutic_window_time` (exact crossings) by at
    most one interval length per crossing and converges to it as the grid is refined. For
    ``s`` comparable to ``MTC − MEC`` the indicator never reaches 1 and the time is
    underestimated.

    :param times_h: time points in hours, ``(T,)`` or ``(B, T)``, non-negative and sorted.
    :param conc: concentration in mg/L, ``(T,)`` or ``(B, T)``.
    :param mec: minimum effective concentration in mg/L, a number or ``(B,)`` tensor, ≥ 0.
    :param mtc: minimum toxic concentration in mg/L, a number or ``(B,)`` tensor, > ``mec``.
    :param sharpness: softness ``s`` of the window edges in mg/L, a number or ``(B,)``
        tensor, > 0.
    :param validate: check the inputs; ``False`` skips the checks.
    :return: time inside the window in hours, shape ``(B,)`` (0-d when unbatched).
    """
    conc = _as_float(conc)
    times_h = torch.as_tensor(times_h, dtype=conc.dtype, device=conc.device)
    if validate:
        _check_curve("conc", times_h, conc)
        check_finite("conc", conc, "mg/L")
        _check_window(mec, mtc)
        _check_positive("sharpness", sharpness, "mg/L")
        _check_batch(times_h, conc, mec=mec, mtc=mtc, sharpness=sharpness)
    lo = _batch_param(mec, conc.dtype, conc.device)
    hi = _batch_param(mtc, conc.dtype, conc.device)
    s = _batch_param(sharpness, conc.dtype, conc.device)
    g = torch.sigmoid((conc - lo) / s) * torch.sigmoid((hi - conc) / s)
    dt = times_h[..., 1:] - times_h[..., :-1]
    return (0.5 * (g[..., 1:] + g[..., :-1]) * dt).sum(-1)
