"""Empirical drug-release models for fitting dissolution data, batched in torch.

These are the classic model-dependent equations used to summarise *in vitro*
release (dissolution) profiles, in the forms tabulated by DDSolver, the Excel
add-in of Zhang et al. (2010). Time ``t`` is in hours and ``F`` is the
cumulative *fraction* released (0 to 1; DDSolver writes the same equations in
percent, i.e. ``100 * F``):

===================  ======================================  ===========================
name                 equation                                parameters (units)
===================  ======================================  ===========================
``first_order``      ``F = 1 - exp(-k t)``                   k (1/h)
``higuchi``          ``F = kH t^(1/2)``                      kH (h^-1/2)
``korsmeyer_peppas`` ``F = kKP t^n``                         kKP (h^-n), n (-)
``weibull``          ``F = 1 - exp(-t^beta / alpha)``        alpha (h^beta), beta (-)
``hopfenberg``       ``F = 1 - (1 - kHB t)^n``, n = 3        kHB (1/h)
``peppas_sahlin``    ``F = k1 t^m + k2 t^(2m)``              k1 (h^-m), k2 (h^-2m), m (-)
===================  ======================================  ===========================

Every model takes an optional lag time ``tlag`` (h, >= 0): ``F = 0`` for
``t <= tlag`` and ``t`` is replaced by ``t - tlag`` afterwards (DDSolver's
"with Tlag" variants). Higuchi, Korsmeyer–Peppas and Peppas–Sahlin are
power laws that are not bounded by 1; as usual they are meant for the early part
of a profile (Korsmeyer–Peppas: ``F <= 0.6``) and are not clipped here.

Everything is a pure, differentiable torch function. At ``t = 0`` and
``t = tlag`` the power laws have infinite (one-sided) slopes; the functions use
the "safe where" pattern (a harmless value is substituted in the masked branch
*before* ``pow``/``sqrt``) so that backward passes stay finite there.

:func:`fit_empirical` fits a batch of curves at once by weighted least squares
with a batched Levenberg–Marquardt solver (every curve is an independent
problem; there is no Python loop over curves, and the result for one curve
does not depend on the other curves in the batch, up to floating-point
rounding), after a data-driven grid of multi-start guesses. Parameters are
optimised in an unconstrained space and mapped to their fitting bounds by a
sigmoid (on a log scale for positive rate constants). Goodness of fit follows
DDSolver: ``R²``, adjusted ``R²`` and the Akaike information criterion.

References
----------
* P. Costa, J. M. Sousa Lobo, "Modeling and comparison of dissolution
  profiles", *Eur. J. Pharm. Sci.* 13 (2001) 123–133.
* Y. Zhang, M. Huo, J. Zhou, A. Zou, W. Li, C. Yao, S. Xie, "DDSolver: an add-in
  program for modeling and comparison of drug dissolution profiles",
  *AAPS J.* 12 (2010) 263–271.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Literal, NamedTuple

import torch
from torch import Tensor

from nanoenv.kinetics.validation import check_finite, check_in_range, check_sorted_times

__all__ = [
    "EMPIRICAL_MODELS",
    "EmpiricalFit",
    "EmpiricalModel",
    "best_by_aic",
    "first_order",
    "fit_all",
    "fit_empirical",
    "get_model",
    "higuchi",
    "hopfenberg",
    "hopfenberg_model",
    "korsmeyer_peppas",
    "peppas_sahlin",
    "weibull",
]

TensorLike = Tensor | float

# --------------------------------------------------------------------------------------
# plain (broadcasting) model functions
# --------------------------------------------------------------------------------------


def _tensors(t: TensorLike, *params: TensorLike) -> tuple[Tensor, ...]:
    """Convert ``t`` and the parameters to floating tensors on ``t``'s device.

    Tensors keep their autograd history; numbers take ``t``'s dtype.
    """
    t = torch.as_tensor(t)
    if not torch.is_floating_point(t):
        t = t.to(torch.get_default_dtype())
    out = [t]
    for p in params:
        if isinstance(p, Tensor):
            out.append(p if torch.is_floating_point(p) else p.to(t.dtype))
        else:
            out.append(torch.as_tensor(p, dtype=t.dtype, device=t.device))
    return tuple(out)


def _check_positive(name: str, value: Tensor, unit: str) -> None:
    """``value > 0`` (strict), with the same message layout as ``check_in_range``."""
    check_in_range(name, value, 0.0, math.inf, unit)
    v = value.detach()
    bad = v <= 0
    if bool(bad.any()):
        first = float(v[bad].reshape(-1)[0]) if v.dim() else float(v)
        suffix = f" ({unit})" if unit else ""
        raise ValueError(f"{name}={first:g} is outside the allowed range (0, inf){suffix}")


def _check_common(t: Tensor, tlag: Tensor) -> None:
    check_in_range("t", t, 0.0, math.inf, "h")
    check_in_range("tlag", tlag, 0.0, math.inf, "h")


def _shift(t: Tensor, tlag: Tensor) -> tuple[Tensor, Tensor]:
    """Return ``(active, tt)``: ``active = t > tlag`` and ``tt = t - tlag`` where active,
    ``1`` elsewhere (the safe value that keeps ``sqrt``/``pow``/``log`` gradients finite).
    """
    shifted = t - tlag
    active = shifted > 0
    return active, torch.where(active, shifted, torch.ones_like(shifted))


def first_order(
    t: TensorLike, k: TensorLike, tlag: TensorLike = 0.0, *, validate: bool = True
) -> Tensor:
    """First-order release, ``F = 1 - exp(-k (t - tlag))`` for ``t > tlag``, else 0.

    Sources: Costa & Sousa Lobo, Eur. J. Pharm. Sci. 13 (2001) 123 (first-order
    model); Zhang et al., AAPS J. 12 (2010) 263 (DDSolver "First-order" and
    "First-order with Tlag").

    :param t: time (h), any shape; broadcast against the parameters.
    :param k: first-order release rate constant (1/h), ``>= 0``.
    :param tlag: lag time (h), ``>= 0``.
    :param validate: check the inputs (synchronises with the device); pass ``False``
        in hot loops whose inputs are already known to be valid.
    :returns: cumulative fraction released (dimensionless), broadcast shape.
    """
    t, k, tlag = _tensors(t, k, tlag)
    if validate:
        _check_common(t, tlag)
        check_in_range("k", k, 0.0, math.inf, "1/h")
    active, tt = _shift(t, tlag)
    return torch.where(active, -torch.expm1(-k * tt), torch.zeros_like(tt))


def higuchi(
    t: TensorLike, kH: TensorLike, tlag: TensorLike = 0.0, *, validate: bool = True
) -> Tensor:
    """Higuchi square-root-of-time release, ``F = kH sqrt(t - tlag)`` for ``t > tlag``.

    Not bounded by 1: meant for the early part of a profile from a matrix system.

    Sources: T. Higuchi, J. Pharm. Sci. 52 (1963) 1145; Costa & Sousa Lobo,
    Eur. J. Pharm. Sci. 13 (2001) 123; Zhang et al., AAPS J. 12 (2010) 263
    (DDSolver "Higuchi").

    :param t: time (h), any shape.
    :param kH: Higuchi release constant (h^-1/2), ``>= 0``.
    :param tlag: lag time (h), ``>= 0``.
    :param validate: check the inputs (synchronises with the device).
    :returns: cumulative fraction released (dimensionless), broadcast shape.
    """
    t, kH, tlag = _tensors(t, kH, tlag)
    if validate:
        _check_common(t, tlag)
        check_in_range("kH", kH, 0.0, math.inf, "h^-1/2")
    active, tt = _shift(t, tlag)
    return torch.where(active, kH * torch.sqrt(tt), torch.zeros_like(tt))


def korsmeyer_peppas(
    t: TensorLike,
    kKP: TensorLike,
    n: TensorLike,
    tlag: TensorLike = 0.0,
    *,
    validate: bool = True,
) -> Tensor:
    """Korsmeyer–Peppas power law, ``F = kKP (t - tlag)^n`` for ``t > tlag``.

    The release exponent ``n`` indicates the mechanism (for a slab, 0.5 Fickian
    diffusion, 1 case-II transport); the model is meant for ``F <= 0.6``.

    Sources: R. W. Korsmeyer et al., Int. J. Pharm. 15 (1983) 25; Costa & Sousa
    Lobo, Eur. J. Pharm. Sci. 13 (2001) 123; Zhang et al., AAPS J. 12 (2010) 263
    (DDSolver "Korsmeyer-Peppas").

    :param t: time (h), any shape.
    :param kKP: release constant (h^-n), ``>= 0``.
    :param n: release exponent (dimensionless), ``>= 0``.
    :param tlag: lag time (h), ``>= 0``.
    :param validate: check the inputs (synchronises with the device).
    :returns: cumulative fraction released (dimensionless), broadcast shape.
    """
    t, kKP, n, tlag = _tensors(t, kKP, n, tlag)
    if validate:
        _check_common(t, tlag)
        check_in_range("kKP", kKP, 0.0, math.inf, "h^-n")
        check_in_range("n", n, 0.0, math.inf)
    active, tt = _shift(t, tlag)
    return torch.where(active, kKP * tt.pow(n), torch.zeros_like(tt))


def weibull(
    t: TensorLike,
    alpha: TensorLike,
    beta: TensorLike,
    tlag: TensorLike = 0.0,
    *,
    validate: bool = True,
) -> Tensor:
    """Weibull release (DDSolver "Weibull 1" form), ``F = 1 - exp(-(t - tlag)^beta / alpha)``.

    ``alpha`` is the scale parameter (``alpha = Td^beta`` with ``Td`` the time to
    release 63.2 %); ``beta`` is the shape parameter (1: exponential, > 1:
    sigmoidal, < 1: steep start then slow).

    Sources: Costa & Sousa Lobo, Eur. J. Pharm. Sci. 13 (2001) 123 (Weibull
    model); Zhang et al., AAPS J. 12 (2010) 263 (DDSolver "Weibull 1" and
    "Weibull 1 with Tlag").

    :param t: time (h), any shape.
    :param alpha: scale parameter (h^beta), ``> 0``.
    :param beta: shape parameter (dimensionless), ``>= 0``.
    :param tlag: lag time (h), ``>= 0``.
    :param validate: check the inputs (synchronises with the device).
    :returns: cumulative fraction released (dimensionless), broadcast shape.
    """
    t, alpha, beta, tlag = _tensors(t, alpha, beta, tlag)
    if validate:
        _check_common(t, tlag)
        _check_positive("alpha", alpha, "h^beta")
        check_in_range("beta", beta, 0.0, math.inf)
    active, tt = _shift(t, tlag)
    return torch.where(active, -torch.expm1(-tt.pow(beta) / alpha), torch.zeros_like(tt))


def hopfenberg(
    t: TensorLike,
    kHB: TensorLike,
    tlag: TensorLike = 0.0,
    *,
    n: TensorLike = 3.0,
    validate: bool = True,
) -> Tensor:
    """Hopfenberg surface-erosion release, ``F = 1 - (1 - kHB (t - tlag))^n`` for ``t > tlag``.

    ``n`` is the geometry factor: 1 slab, 2 cylinder, 3 sphere (default).
    ``kHB (t - tlag)`` is clipped to at most 1, so ``F = 1`` once the particle has
    eroded away. ``kHB = k0 / (C0 a)`` (erosion rate constant over the initial
    drug loading and the particle radius or half-thickness).

    Sources: H. B. Hopfenberg (1976), as given by Costa & Sousa Lobo, Eur. J.
    Pharm. Sci. 13 (2001) 123 and Zhang et al., AAPS J. 12 (2010) 263 (DDSolver
    "Hopfenberg").

    :param t: time (h), any shape.
    :param kHB: Hopfenberg erosion constant (1/h), ``>= 0``.
    :param tlag: lag time (h), ``>= 0``.
    :param n: geometry factor (dimensionless), ``> 0``; 3 for a sphere.
    :param validate: check the inputs (synchronises with the device).
    :returns: cumulative fraction released (dimensionless), broadcast shape.
    """
    t, kHB, tlag, n = _tensors(t, kHB, tlag, n)
    if validate:
        _check_common(t, tlag)
        check_in_range("kHB", kHB, 0.0, math.inf, "1/h")
        _check_positive("n", n, "")
    active, tt = _shift(t, tlag)
    x = kHB * tt
    eroded = x >= 1
    base = torch.where(eroded, torch.ones_like(x), 1 - x)
    released = torch.where(eroded, torch.ones_like(x), 1 - base.pow(n))
    return torch.where(active, released, torch.zeros_like(released))


def peppas_sahlin(
    t: TensorLike,
    k1: TensorLike,
    k2: TensorLike,
    m: TensorLike,
    tlag: TensorLike = 0.0,
    *,
    validate: bool = True,
) -> Tensor:
    """Peppas–Sahlin release, ``F = k1 tt^m + k2 tt^(2m)`` with ``tt = t - tlag > 0``.

    The first term is the Fickian (diffusional) contribution, the second the
    case-II (relaxational) one; ``k2`` may be negative.

    Sources: N. A. Peppas, J. J. Sahlin, Int. J. Pharm. 57 (1989) 169; Costa &
    Sousa Lobo, Eur. J. Pharm. Sci. 13 (2001) 123; Zhang et al., AAPS J. 12
    (2010) 263 (DDSolver "Peppas-Sahlin 1").

    :param t: time (h), any shape.
    :param k1: diffusional constant (h^-m), any finite value.
    :param k2: relaxational constant (h^-2m), any finite value.
    :param m: diffusional exponent (dimensionless), ``>= 0``.
    :param tlag: lag time (h), ``>= 0``.
    :param validate: check the inputs (synchronises with the device).
    :returns: cumulative fraction released (dimensionless), broadcast shape.
    """
    t, k1, k2, m, tlag = _tensors(t, k1, k2, m, tlag)
    if validate:
        _check_common(t, tlag)
        check_finite("k1", k1, "h^-m")
        check_finite("k2", k2, "h^-2m")
        check_in_range("m", m, 0.0, math.inf)
    active, tt = _shift(t, tlag)
    tm = tt.pow(m)
    return torch.where(active, k1 * tm + k2 * tm * tm, torch.zeros_like(tm))


# --------------------------------------------------------------------------------------
# model specifications
# --------------------------------------------------------------------------------------


class _Summary(NamedTuple):
    """Per-curve data summary handed to the initial-guess generators (all ``(N, ...)``)."""

    t: Tensor  # (N, T) time since the candidate lag time, h (clamped at 0)
    release: Tensor  # (N, T) cumulative fraction
    weights: Tensor  # (N, T)
    t_half: Tensor  # (N,) time (since lag) at which release reaches f_half, h
    f_half: Tensor  # (N,) half of the largest observed release, in [1e-3, 0.99]


GuessFn = Callable[[_Summary], Tensor]


@dataclass(frozen=True)
class EmpiricalModel:
    """Specification of one empirical release model.

    :param name: key in :data:`EMPIRICAL_MODELS`.
    :param equation: the equation as text (t in h, F a fraction).
    :param param_names: parameter names, in column order of ``params``.
    :param units: unit of each parameter (``""`` for dimensionless).
    :param bounds: ``(low, high)`` of each parameter used by :func:`fit_empirical`.
    :param log_scale: whether the fit maps each parameter to its bounds on a log scale
        (positive rate constants) or linearly.
    :param fn: the plain broadcasting function ``fn(t, *params, tlag, validate=...)``.
    :param guess: optional generator of initial guesses, called with a per-curve data
        summary (fields ``t`` (N, T) h since the candidate lag, ``release`` (N, T),
        ``weights`` (N, T), ``t_half`` (N,) h to reach ``f_half``, ``f_half`` (N,) half
        the largest release) and returning ``(N, C, P)`` candidate parameters;
        ``None`` uses a grid over the bounds.
    """

    name: str
    equation: str
    param_names: tuple[str, ...]
    units: tuple[str, ...]
    bounds: tuple[tuple[float, float], ...]
    log_scale: tuple[bool, ...]
    fn: Callable[..., Tensor] = field(repr=False, compare=False)
    guess: GuessFn | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        p = len(self.param_names)
        if not (len(self.units) == len(self.bounds) == len(self.log_scale) == p):
            raise ValueError(
                f"EmpiricalModel {self.name!r}: param_names, units, bounds and log_scale must "
                f"have the same length; got {p}, {len(self.units)}, {len(self.bounds)}, "
                f"{len(self.log_scale)}"
            )
        for pname, (lo, hi), log in zip(self.param_names, self.bounds, self.log_scale, strict=True):
            if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi and (lo > 0 or not log)):
                raise ValueError(
                    f"EmpiricalModel {self.name!r}: bounds of {pname} must be finite with "
                    f"low < high (low > 0 on a log scale); got ({lo}, {hi})"
                )

    @property
    def n_params(self) -> int:
        """Number of model parameters, without the lag time."""
        return len(self.param_names)

    def names(self, lag: bool = False) -> tuple[str, ...]:
        """Parameter names, with ``"tlag"`` appended when ``lag`` is true.

        :param lag: include the lag time.
        """
        return (*self.param_names, "tlag") if lag else self.param_names

    def param_units(self, lag: bool = False) -> tuple[str, ...]:
        """Units of :meth:`names` (``"h"`` for the lag time).

        :param lag: include the lag time.
        """
        return (*self.units, "h") if lag else self.units

    def evaluate(self, params: Tensor, times_h: Tensor) -> Tensor:
        """Batched model evaluation (pure, differentiable, no value checks).

        :param params: ``(B, P)`` parameters in the order of :attr:`param_names`, or
            ``(B, P + 1)`` with the lag time (h) as last column.
        :param times_h: ``(T,)`` or ``(B, T)`` times (h).
        :returns: ``(B, T)`` cumulative fraction released.
        """
        p = self.n_params
        if params.dim() != 2 or params.shape[-1] not in (p, p + 1):
            raise ValueError(
                f"params for model {self.name!r} must have shape (B, {p}) or (B, {p + 1}) "
                f"(columns {', '.join(self.names(True))}); got {tuple(params.shape)}"
            )
        t = torch.as_tensor(times_h).to(device=params.device, dtype=params.dtype)
        if t.dim() not in (1, 2) or (t.dim() == 2 and t.shape[0] not in (1, params.shape[0])):
            raise ValueError(
                f"times_h must be a (T,) or ({params.shape[0]}, T) tensor of times in h; "
                f"got shape {tuple(t.shape)}"
            )
        if t.dim() == 1:
            t = t.unsqueeze(0)
        cols = [c.unsqueeze(-1) for c in params.unbind(-1)]
        tlag = cols[p] if params.shape[-1] == p + 1 else 0.0
        out = self.fn(t, *cols[:p], tlag, validate=False)
        return out.expand(params.shape[0], t.shape[-1])


# -- initial guesses (each returns (N, C, P) candidate parameter sets) ---------------------


def _grid(values: Sequence[float], like: Tensor) -> Tensor:
    return like.new_tensor(values)


def _guess_first_order(s: _Summary) -> Tensor:
    k0 = -torch.log1p(-s.f_half) / s.t_half
    return (k0[:, None] * _grid([0.2, 0.5, 1.0, 2.0, 5.0], k0)).unsqueeze(-1)


def _guess_higuchi(s: _Summary) -> Tensor:
    num = (s.weights * s.release * s.t.sqrt()).sum(-1)
    den = (s.weights * s.t).sum(-1).clamp_min(1e-300)
    k0 = (num / den).clamp_min(1e-6)
    return (k0[:, None] * _grid([0.5, 1.0, 2.0], k0)).unsqueeze(-1)


def _guess_korsmeyer_peppas(s: _Summary) -> Tensor:
    n = _grid([0.2, 0.35, 0.45, 0.6, 0.8, 1.0, 1.3], s.t)
    tn = s.t.unsqueeze(1).pow(n[None, :, None])  # (N, C, T)
    w, f = s.weights.unsqueeze(1), s.release.unsqueeze(1)
    k = (w * f * tn).sum(-1) / (w * tn * tn).sum(-1).clamp_min(1e-300)
    return torch.stack([k, n.expand_as(k)], dim=-1)


def _guess_weibull(s: _Summary) -> Tensor:
    beta = _grid([0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0], s.t)
    scale = _grid([0.3, 1.0, 3.0], s.t)
    alpha = s.t_half[:, None].pow(beta) / -torch.log1p(-s.f_half)[:, None]  # (N, Cb)
    alpha = alpha[:, :, None] * scale  # (N, Cb, Cs)
    beta = beta[None, :, None].expand_as(alpha)
    return torch.stack([alpha, beta], dim=-1).flatten(1, 2)


def _guess_hopfenberg(s: _Summary, n: float) -> Tensor:
    k0 = -torch.expm1(torch.log1p(-s.f_half) / n) / s.t_half
    return (k0[:, None] * _grid([0.2, 0.5, 1.0, 2.0, 5.0], k0)).unsqueeze(-1)


def _guess_peppas_sahlin(s: _Summary) -> Tensor:
    m = _grid([0.2, 0.3, 0.4, 0.45, 0.5, 0.6, 0.8, 1.0], s.t)
    a = s.t.unsqueeze(1).pow(m[None, :, None])  # (N, C, T)
    b = a * a
    w, f = s.weights.unsqueeze(1), s.release.unsqueeze(1)
    saa, sab, sbb = (w * a * a).sum(-1), (w * a * b).sum(-1), (w * b * b).sum(-1)
    saf, sbf = (w * a * f).sum(-1), (w * b * f).sum(-1)
    det = saa * sbb - sab * sab
    ok = det > 1e-12 * saa * sbb
    det = torch.where(ok, det, torch.ones_like(det))
    k1 = torch.where(ok, (saf * sbb - sbf * sab) / det, saf / saa.clamp_min(1e-300))
    k2 = torch.where(ok, (saa * sbf - sab * saf) / det, torch.zeros_like(det))
    k1_only = saf / saa.clamp_min(1e-300)  # k2 = 0 (pure diffusion) starts
    mm = m.expand_as(k1)
    both = torch.stack([k1, k2, mm], dim=-1)
    diffusion = torch.stack([k1_only, torch.zeros_like(k1_only), mm], dim=-1)
    return torch.cat([both, diffusion], dim=1)


def hopfenberg_model(n: float = 3.0) -> EmpiricalModel:
    """The Hopfenberg model with a fixed geometry factor ``n`` (1 slab, 2 cylinder,
    3 sphere), as an :class:`EmpiricalModel` for :func:`fit_empirical`.

    ``n = 3`` gives ``EMPIRICAL_MODELS["hopfenberg"]``; other values are named
    ``"hopfenberg_n{n:g}"``. Sources: Costa & Sousa Lobo, Eur. J. Pharm. Sci. 13
    (2001) 123; Zhang et al., AAPS J. 12 (2010) 263.

    :param n: geometry factor (dimensionless), ``> 0``.
    """
    check_in_range("n", n, 0.0, math.inf)
    if n <= 0:
        raise ValueError(f"n={n:g} is outside the allowed range (0, inf)")
    name = "hopfenberg" if n == 3.0 else f"hopfenberg_n{n:g}"
    return EmpiricalModel(
        name=name,
        equation=f"F = 1 - (1 - kHB*t)^{n:g}  (kHB*t clipped to <= 1)",
        param_names=("kHB",),
        units=("1/h",),
        bounds=((1e-6, 1e3),),
        log_scale=(True,),
        fn=partial(hopfenberg, n=float(n)),
        guess=partial(_guess_hopfenberg, n=float(n)),
    )


EMPIRICAL_MODELS: dict[str, EmpiricalModel] = {
    m.name: m
    for m in (
        EmpiricalModel(
            name="first_order",
            equation="F = 1 - exp(-k*t)",
            param_names=("k",),
            units=("1/h",),
            bounds=((1e-6, 1e3),),
            log_scale=(True,),
            fn=first_order,
            guess=_guess_first_order,
        ),
        EmpiricalModel(
            name="higuchi",
            equation="F = kH*t^0.5",
            param_names=("kH",),
            units=("h^-1/2",),
            bounds=((1e-6, 1e2),),
            log_scale=(True,),
            fn=higuchi,
            guess=_guess_higuchi,
        ),
        EmpiricalModel(
            name="korsmeyer_peppas",
            equation="F = kKP*t^n",
            param_names=("kKP", "n"),
            units=("h^-n", ""),
            bounds=((1e-6, 1e2), (0.01, 2.0)),
            log_scale=(True, False),
            fn=korsmeyer_peppas,
            guess=_guess_korsmeyer_peppas,
        ),
        EmpiricalModel(
            name="weibull",
            equation="F = 1 - exp(-(t^beta)/alpha)",
            param_names=("alpha", "beta"),
            units=("h^beta", ""),
            bounds=((1e-8, 1e8), (0.05, 10.0)),
            log_scale=(True, False),
            fn=weibull,
            guess=_guess_weibull,
        ),
        hopfenberg_model(3.0),
        EmpiricalModel(
            name="peppas_sahlin",
            equation="F = k1*t^m + k2*t^(2m)",
            param_names=("k1", "k2", "m"),
            units=("h^-m", "h^-2m", ""),
            bounds=((1e-6, 1e2), (-1e2, 1e2), (0.01, 2.0)),
            log_scale=(True, False, False),
            fn=peppas_sahlin,
            guess=_guess_peppas_sahlin,
        ),
    )
}
"""The six DDSolver-style models, keyed by name (see the module docstring)."""


def get_model(model: str | EmpiricalModel) -> EmpiricalModel:
    """Look up a model by name (an :class:`EmpiricalModel` is returned unchanged).

    :param model: a key of :data:`EMPIRICAL_MODELS` or a model specification.
    :raises ValueError: for an unknown name; the message lists the allowed names.
    """
    if isinstance(model, EmpiricalModel):
        return model
    try:
        return EMPIRICAL_MODELS[model]
    except (KeyError, TypeError):
        raise ValueError(
            f"model={model!r} is not a known empirical release model; allowed names: "
            f"{', '.join(repr(k) for k in EMPIRICAL_MODELS)}"
        ) from None


# --------------------------------------------------------------------------------------
# fitting
# --------------------------------------------------------------------------------------

_SIGMA_EDGE = 1e-4  # initial guesses are kept this far (in sigmoid units) from the bounds
_FTOL = 1e-10  # Levenberg–Marquardt relative-reduction tolerance on the SSR
_U_MAX = 100.0  # bound on the unconstrained parameters (sigmoid slope >= 3.7e-44 there)
_JAC_CHUNK_ELEMENTS = 1 << 22  # memory bound of one batched backward pass (elements)
_PER_INTERVAL = 2  # starts refined per lag interval
_EDGE_U = 7.0  # |u| of a lag time this close (0.09 % of the interval) to a sampling time


@dataclass(frozen=True, eq=False)
class EmpiricalFit:
    """Result of :func:`fit_empirical` for a batch of ``B`` curves.

    Goodness-of-fit statistics follow DDSolver (Zhang et al., AAPS J. 12 (2010)
    263), with ``n`` the number of points with positive weight and ``p`` the
    number of fitted parameters (lag time included):
    ``R² = 1 - SSR/SST``; ``R²_adj = 1 - (n - 1)/(n - p) (1 - R²)``;
    ``AIC = n ln(SSR/n) + 2p`` (this differs from the ``n ln(SSR) + 2p`` form by
    ``n ln n``, the same for every model fitted to a curve, so model rankings agree).
    Sums are weighted when weights were given.

    :param model: model name.
    :param param_names: column names of ``params`` (``"tlag"`` last when fitted).
    :param params: ``(B, P)`` best-fit parameters, in the units of
        :meth:`EmpiricalModel.param_units`.
    :param sse: ``(B,)`` (weighted) sum of squared residuals, fraction².
    :param r2: ``(B,)`` coefficient of determination.
    :param r2_adjusted: ``(B,)`` adjusted coefficient of determination.
    :param aic: ``(B,)`` Akaike information criterion (lower is better).
    :param n_points: ``(B,)`` number of data points with positive weight.
    :param converged: ``(B,)`` whether the optimiser met its convergence test.
    :param lag: whether a lag time was fitted.
    :param spec: the model specification (used by :meth:`predict`).
    """

    model: str
    param_names: tuple[str, ...]
    params: Tensor
    sse: Tensor
    r2: Tensor
    r2_adjusted: Tensor
    aic: Tensor
    n_points: Tensor
    converged: Tensor
    lag: bool
    spec: EmpiricalModel = field(repr=False)

    @property
    def n_params(self) -> int:
        """Number of fitted parameters (lag time included)."""
        return len(self.param_names)

    def param(self, name: str) -> Tensor:
        """The ``(B,)`` column of one parameter.

        :param name: one of :attr:`param_names`.
        """
        if name not in self.param_names:
            raise ValueError(
                f"name={name!r} is not a parameter of model {self.model!r}; "
                f"allowed: {', '.join(self.param_names)}"
            )
        return self.params[:, self.param_names.index(name)]

    def predict(self, times_h: TensorLike) -> Tensor:
        """Fitted release curves at new times.

        :param times_h: ``(T,)`` or ``(B, T)`` times (h), ``>= 0``.
        :returns: ``(B, T)`` cumulative fraction released.
        """
        t = torch.as_tensor(times_h).to(device=self.params.device, dtype=self.params.dtype)
        if t.dim() not in (1, 2) or (t.dim() == 2 and t.shape[0] != self.params.shape[0]):
            raise ValueError(
                f"times_h must have shape (T,) or ({self.params.shape[0]}, T) (h); "
                f"got {tuple(t.shape)}"
            )
        check_in_range("times_h", t, 0.0, math.inf, "h")
        return self.spec.evaluate(self.params, t)


def _prepare(
    times_h: TensorLike,
    release: TensorLike,
    weights: TensorLike | None,
    device: torch.device | str | None,
    dtype: torch.dtype,
) -> tuple[Tensor, Tensor, Tensor]:
    """Validate and broadcast the data to ``(B, T)`` tensors ``(t, F, w)``."""
    f = torch.as_tensor(release).detach()
    if device is None:
        device = f.device
    f = f.to(device=device, dtype=dtype)
    if f.dim() == 1:
        f = f.unsqueeze(0)
    if f.dim() != 2 or f.shape[-1] == 0:
        raise ValueError(
            "release must be a non-empty 1-D (T,) or 2-D (B, T) tensor of cumulative "
            f"fractions released; got shape {tuple(f.shape)}"
        )
    check_finite("release", f, "fraction")
    f_max = float(f.max())
    if f_max > 1.5:
        raise ValueError(
            f"release has a maximum of {f_max:g}, which looks like a percentage; release must "
            "be the cumulative fraction released in [0, 1]: divide percentages by 100"
        )
    check_in_range("release", f, -0.5, 1.5, "fraction")
    b, n_t = f.shape

    t = torch.as_tensor(times_h).detach().to(device=device, dtype=dtype)
    check_sorted_times("times_h", t, "h")
    if t.shape[-1] != n_t or (t.dim() == 2 and t.shape[0] != b):
        raise ValueError(
            f"times_h must have shape ({n_t},) or ({b}, {n_t}) to match release of shape "
            f"({b}, {n_t}); got {tuple(t.shape)}"
        )
    t = t.expand(b, n_t).contiguous()
    if not bool((t[:, -1] > 0).all()):
        raise ValueError("times_h must contain at least one time > 0 h in every curve")

    if weights is None:
        w = torch.ones_like(f)
    else:
        w = torch.as_tensor(weights).detach().to(device=device, dtype=dtype)
        check_in_range("weights", w, 0.0, math.inf)
        try:
            w = torch.broadcast_to(w, (b, n_t)).contiguous()
        except RuntimeError:
            raise ValueError(
                f"weights must broadcast to the release shape ({b}, {n_t}); "
                f"got shape {tuple(w.shape)}"
            ) from None
    return t, f, w


def _bounds(spec: EmpiricalModel, lag: bool, t: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """``(lo, hi)`` of shape ``(N, P)`` and the ``(P,)`` log-scale mask."""
    n = t.shape[0]
    lo = t.new_tensor([b[0] for b in spec.bounds]).expand(n, -1)
    hi = t.new_tensor([b[1] for b in spec.bounds]).expand(n, -1)
    log = list(spec.log_scale)
    if lag:  # 0 <= tlag <= last sampling time of the curve
        lo = torch.cat([lo, torch.zeros_like(t[:, :1])], dim=1)
        hi = torch.cat([hi, t[:, -1:]], dim=1)
        log.append(False)
    return lo, hi, torch.tensor(log, device=t.device)


def _from_u(u: Tensor, lo: Tensor, hi: Tensor, log: Tensor) -> Tensor:
    """Map unconstrained ``u`` to ``[lo, hi]`` by a sigmoid (log-scale where ``log``)."""
    s = torch.sigmoid(u)
    linear = lo + (hi - lo) * s
    llo = torch.log(torch.where(log, lo, torch.ones_like(lo)))
    lhi = torch.log(torch.where(log, hi, torch.ones_like(hi)))
    return torch.where(log, torch.exp(llo + (lhi - llo) * s), linear)


def _to_u(p: Tensor, lo: Tensor, hi: Tensor, log: Tensor) -> Tensor:
    """Inverse of :func:`_from_u`, keeping ``u`` a little inside the bounds."""
    safe = torch.where(log, p.clamp_min(1e-300), torch.ones_like(p))
    llo = torch.log(torch.where(log, lo, torch.ones_like(lo)))
    lhi = torch.log(torch.where(log, hi, torch.ones_like(hi)))
    s_log = (torch.log(safe) - llo) / (lhi - llo)
    s_lin = (p - lo) / (hi - lo)
    s = torch.where(log, s_log, s_lin).nan_to_num(0.5).clamp(_SIGMA_EDGE, 1 - _SIGMA_EDGE)
    return torch.logit(s)


def _summary(t: Tensor, f: Tensor, w: Tensor, tlag: Tensor) -> _Summary:
    """Data summary for the initial guesses, with time measured from ``tlag`` (N,)."""
    t_max = t[:, -1]
    ts = (t - tlag[:, None]).clamp_min(0.0)
    f_max = (f * (w > 0)).amax(-1).clamp_min(2e-3)
    target = 0.5 * f_max
    reached = (f >= target[:, None]) & (w > 0)
    idx = reached.to(torch.int8).argmax(-1, keepdim=True)
    i0 = (idx - 1).clamp_min(0)
    t0, t1 = ts.gather(1, i0).squeeze(1), ts.gather(1, idx).squeeze(1)
    f0, f1 = f.gather(1, i0).squeeze(1), f.gather(1, idx).squeeze(1)
    rise = f1 - f0
    frac = torch.where(rise > 0, (target - f0) / torch.where(rise > 0, rise, 1.0), 1.0)
    t_half = t0 + frac.clamp(0.0, 1.0) * (t1 - t0)
    t_half = t_half.clamp_min(1e-3 * t_max)
    return _Summary(ts, f, w, t_half, target.clamp(1e-3, 0.99))


def _generic_guess(spec: EmpiricalModel, s: _Summary) -> Tensor:
    """Grid over the bounds (used for models without a ``guess``)."""
    p = spec.n_params
    levels = s.t.new_tensor([0.1, 0.3, 0.5, 0.7, 0.9])
    sig = torch.cartesian_prod(*([levels] * p)).reshape(-1, p)
    lo = s.t.new_tensor([b[0] for b in spec.bounds])
    hi = s.t.new_tensor([b[1] for b in spec.bounds])
    log = torch.tensor(spec.log_scale, device=s.t.device)
    cand = _from_u(torch.logit(sig), lo, hi, log)
    return cand.unsqueeze(0).expand(s.t.shape[0], -1, -1)


def _starts(
    spec: EmpiricalModel,
    lag: bool,
    t: Tensor,
    f: Tensor,
    w: Tensor,
    lo: Tensor,
    hi: Tensor,
    log: Tensor,
    n_starts: int,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Initial guesses per curve: unconstrained ``u`` and the bounds ``lo``, ``hi`` that
    each start is refined within, all ``(N, S, P)``, and the ``(N, S)`` index ``j`` of
    each start's lag interval ``[edges_j, edges_(j+1)]`` (0 without a lag time), with
    ``edges = (0, t_0, ..., t_(T-1))``.

    Without a lag time: the ``n_starts`` best candidates of the model's guess grid.
    With a lag time: the SSR is smooth in ``tlag`` between sampling times but has a
    kink (a cusp for power laws) wherever ``tlag`` crosses one, where a local optimiser
    gets stuck. So ``tlag`` is searched interval by interval: the guess grid is built
    at the midpoint of every interval ``[t_(j-1), t_j]`` (with ``t_(-1) = 0``), the best
    candidates of each interval are kept, and those of the ``n_starts`` best intervals
    are refined with ``tlag`` bounded to their interval.
    """
    n = t.shape[0]
    guess = spec.guess if spec.guess is not None else partial(_generic_guess, spec)
    if lag:
        edges = torch.cat([torch.zeros_like(t[:, :1]), t], dim=1)  # (N, T + 1)
        lo_g = lo[:, None, :].repeat(1, edges.shape[1] - 1, 1)  # (N, L, P)
        hi_g = hi[:, None, :].repeat(1, edges.shape[1] - 1, 1)
        lo_g[..., -1], hi_g[..., -1] = edges[:, :-1], edges[:, 1:]
        lags = (0.5 * (edges[:, 1:] + edges[:, :-1])).unbind(1)
    else:
        lo_g, hi_g = lo[:, None, :], hi[:, None, :]
        lags = (torch.zeros_like(t[:, 0]),)
    cands = []
    for tl in lags:  # one call per lag value; every curve is handled in the same call
        c = guess(_summary(t, f, w, tl))
        if lag:
            c = torch.cat([c, tl[:, None, None].expand(-1, c.shape[1], 1)], dim=-1)
        cands.append(c)
    cand = torch.stack(cands, dim=1)  # (N, L, C, P)
    _, n_lag, n_cand, n_par = cand.shape
    u = _to_u(cand, lo_g[:, :, None, :], hi_g[:, :, None, :], log)
    params = _from_u(u, lo_g[:, :, None, :], hi_g[:, :, None, :], log)
    t_rep = t.repeat_interleave(n_lag * n_cand, dim=0)
    pred = spec.evaluate(params.reshape(-1, n_par), t_rep).reshape(n, n_lag, n_cand, -1)
    sse = (w[:, None, None, :] * (pred - f[:, None, None, :]) ** 2).sum(-1)
    sse = sse.nan_to_num(math.inf)  # (N, L, C)
    if not lag:
        best = torch.topk(sse[:, 0], min(n_starts, n_cand), dim=1, largest=False).indices
        s = best.shape[1]
        u0 = u[:, 0].gather(1, best[..., None].expand(-1, -1, n_par))
        return u0, lo_g.expand(-1, s, -1), hi_g.expand(-1, s, -1), torch.zeros_like(best)
    # the best _PER_INTERVAL candidates of each interval, from the n_starts best intervals
    k = min(_PER_INTERVAL, n_cand)
    cand_sse, cand_idx = torch.topk(sse, k, dim=-1, largest=False)  # (N, L, k)
    width = hi_g[..., -1] - lo_g[..., -1]
    group_sse = torch.where(width > 1e-9 * t[:, -1:], cand_sse[..., 0], math.inf)
    groups = torch.topk(group_sse, min(n_starts, n_lag), dim=1, largest=False).indices  # (N, G)
    u_sel = u.gather(2, cand_idx[..., None].expand(-1, -1, -1, n_par))  # (N, L, k, P)
    pick = groups[:, :, None, None].expand(-1, -1, k, n_par)
    u0 = u_sel.gather(1, pick).flatten(1, 2)  # (N, G * k, P)
    lo0 = lo_g[:, :, None, :].expand(-1, -1, k, -1).gather(1, pick).flatten(1, 2)
    hi0 = hi_g[:, :, None, :].expand(-1, -1, k, -1).gather(1, pick).flatten(1, 2)
    return u0, lo0, hi0, groups.repeat_interleave(k, dim=1)


def _jacobian(fn: Callable[[Tensor], Tensor], u: Tensor) -> tuple[Tensor, Tensor]:
    """Residuals ``(N, T)`` and their Jacobian ``(N, T, P)`` w.r.t. the rows of ``u``.

    Rows are independent problems, so the gradient of ``r[:, j]`` summed over rows is
    row ``j`` of every row's Jacobian: one forward pass and a batched (vmapped)
    backward pass over the ``T`` outputs, in chunks of bounded memory. (Reverse mode
    is used because torch's forward-mode AD is several times slower for these
    small element-wise graphs.)
    """
    with torch.enable_grad():
        x = u.detach().requires_grad_(True)
        r = fn(x)
        n, n_t = r.shape
        eye = torch.eye(n_t, dtype=r.dtype, device=r.device).unsqueeze(1).expand(n_t, n, n_t)
        chunk = max(1, _JAC_CHUNK_ELEMENTS // max(1, n * n_t))
        parts = []
        for start in range(0, n_t, chunk):
            stop = min(n_t, start + chunk)
            (g,) = torch.autograd.grad(
                r, x, eye[start:stop], retain_graph=stop < n_t, is_grads_batched=True
            )
            parts.append(g)
    return r.detach(), torch.cat(parts).permute(1, 0, 2)


def _levenberg_marquardt(
    fn: Callable[[Tensor], Tensor], u: Tensor, steps: int, edge_col: int | None = None
) -> tuple[Tensor, Tensor, Tensor]:
    """Batched Levenberg–Marquardt (Marquardt diagonal scaling), one problem per row.

    Each row has its own damping and stops (is frozen) on its own convergence test,
    so a row's result does not depend on the other rows (up to floating-point rounding:
    vectorised ``exp``/``log``/``pow`` may round a value differently depending on its
    position in memory, which matters only for rows that have not converged).

    ``edge_col``: a column whose parameter is bounded by a sampling time from above
    (the lag time). Its SSR has a cusp there, which the iteration only creeps towards;
    a row whose ``u[:, edge_col]`` reaches ``_EDGE_U`` is stopped (not converged) and
    left to :func:`_walk_lag_intervals`.

    :returns: ``(u, sse, converged)``.
    """
    n = u.shape[0]
    lam = torch.full((n,), 1e-3, dtype=u.dtype, device=u.device)
    done = torch.zeros(n, dtype=torch.bool, device=u.device)
    at_edge = torch.zeros_like(done)
    r, jac = _jacobian(fn, u)
    sse = (r * r).sum(-1).nan_to_num(math.inf)
    for _ in range(steps):
        # element-wise products and last-dim sums rather than batched matmul, so that a
        # row's arithmetic (and so its result) does not depend on the batch size
        jt = jac.mT.contiguous()  # (N, P, T)
        a = (jt.unsqueeze(2) * jt.unsqueeze(1)).sum(-1)
        g = (jt * r.unsqueeze(1)).sum(-1)
        d = torch.diagonal(a, dim1=-2, dim2=-1)
        d = d.clamp_min(1e-12 * d.amax(-1, keepdim=True) + 1e-30)
        m = a + torch.diag_embed(lam[:, None] * d)
        delta, info = torch.linalg.solve_ex(m, -g.unsqueeze(-1))
        delta = delta.squeeze(-1)
        ok = (info == 0) & torch.isfinite(delta).all(-1)
        delta = torch.where(ok[:, None], delta, torch.zeros_like(delta))
        delta = delta * (4.0 / delta.abs().amax(-1).clamp_min(4.0))[:, None]  # <= 4 per step
        # a parameter that runs into a bound must not drive the sigmoid slope (and the
        # Jacobian) into subnormal numbers, which are very slow on CPUs
        u_new = (u + delta).clamp(-_U_MAX, _U_MAX)
        delta = u_new - u
        size = delta.abs().amax(-1)
        r_new = fn(u_new)
        sse_new = (r_new * r_new).sum(-1).nan_to_num(math.inf)
        accept = ok & (sse_new < sse) & ~done
        # MINPACK-style tests: actual and predicted relative reductions both tiny, or a
        # tiny step
        curvature = (delta.unsqueeze(1) * a * delta.unsqueeze(2)).sum((-2, -1))
        predicted = -(2.0 * (g * delta).sum(-1) + curvature)
        scale = sse.clamp_min(1e-300)
        flat = accept & ((sse - sse_new) <= _FTOL * scale) & (predicted <= _FTOL * scale)
        tiny_step = size <= 1e-10 * (1.0 + u.abs().amax(-1))
        u = torch.where(accept[:, None], u_new, u)
        sse = torch.where(accept, sse_new, sse)
        lam = torch.where(done, lam, torch.where(accept, lam * 0.2, lam * 10.0))
        lam = lam.clamp(1e-12, 1e12)
        if edge_col is not None:
            at_edge = at_edge | (~done & (u[:, edge_col] >= _EDGE_U))
        done = done | (ok & (tiny_step | flat | (sse <= 1e-30))) | (lam >= 1e12) | at_edge
        if bool(done.all()):
            break
        if bool(accept.any()):
            r_acc, jac_acc = _jacobian(fn, u)
            r = torch.where(accept[:, None], r_acc, r)
            jac = torch.where(accept[:, None, None], jac_acc, jac)
    return u, sse, done & ~at_edge


def _adam(
    fn: Callable[[Tensor], Tensor], u0: Tensor, steps: int, lr: float = 0.05
) -> tuple[Tensor, Tensor, Tensor]:
    """Batched Adam on the summed SSE (Adam is element-wise, so rows stay independent).

    Keeps each row's best iterate. ``converged`` means the SSE improved by less than
    1e-6 (relative) or 1e-20 (absolute) over the last 10 % of the steps.

    :returns: ``(u, sse, converged)``.
    """
    u = u0.detach().clone().requires_grad_(True)
    opt = torch.optim.Adam([u], lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps, eta_min=lr * 1e-3)
    with torch.no_grad():
        r = fn(u0)
        best_sse = (r * r).sum(-1).nan_to_num(math.inf)
    best_u = u0.detach().clone()
    checkpoint = best_sse.clone()
    for i in range(steps):
        opt.zero_grad(set_to_none=True)
        r = fn(u)
        sse = (r * r).sum(-1)
        with torch.no_grad():
            better = sse.nan_to_num(math.inf) < best_sse
            best_sse = torch.where(better, sse, best_sse)
            best_u = torch.where(better[:, None], u, best_u)
        sse.nan_to_num(0.0).sum().backward()
        opt.step()
        sched.step()
        if i == steps - max(1, steps // 10):
            checkpoint = best_sse.clone()
    with torch.no_grad():
        r = fn(u)
        sse = (r * r).sum(-1).nan_to_num(math.inf)
        better = sse < best_sse
        best_sse = torch.where(better, sse, best_sse)
        best_u = torch.where(better[:, None], u, best_u)
    converged = (checkpoint - best_sse) <= 1e-6 * checkpoint + 1e-20
    return best_u.detach(), best_sse, converged


class _Best(NamedTuple):
    """Best solution per curve so far (all indexed by curve)."""

    u: Tensor  # (B, P) unconstrained parameters
    lo: Tensor  # (B, P) lower bounds they map to
    hi: Tensor  # (B, P) upper bounds
    sse: Tensor  # (B,)
    converged: Tensor  # (B,) bool


def _refine(
    spec: EmpiricalModel,
    t: Tensor,
    f: Tensor,
    sw: Tensor,
    u0: Tensor,
    lo: Tensor,
    hi: Tensor,
    log: Tensor,
    steps: int,
    method: str,
    lag: bool,
) -> tuple[Tensor, Tensor, Tensor]:
    """Refine independent problems (one per row): returns ``(u, sse, converged)``.

    With ``lag``, the last column is the lag time, bounded to a sampling interval.
    """

    def residuals(u: Tensor) -> Tensor:
        return sw * (spec.evaluate(_from_u(u, lo, hi, log), t) - f)

    if method == "lm":
        with torch.no_grad():
            return _levenberg_marquardt(residuals, u0, steps, u0.shape[1] - 1 if lag else None)
    with torch.enable_grad():
        return _adam(residuals, u0, steps)


def _walk_lag_intervals(
    spec: EmpiricalModel,
    t: Tensor,
    f: Tensor,
    sw: Tensor,
    best: _Best,
    interval: Tensor,
    log: Tensor,
    steps: int,
    method: str,
) -> _Best:
    """Follow the lag time across sampling times.

    A fit whose ``tlag`` ends on an edge of its interval may have its optimum in the
    neighbouring interval (the kink at a sampling time stops a local optimiser), so it
    is refined again there, starting from its current parameters; repeated while that
    improves the SSR. Batched over the curves that need it.
    """
    edges = torch.cat([torch.zeros_like(t[:, :1]), t], dim=1)  # (B, T + 1)
    n_int = t.shape[1]
    active = torch.ones_like(best.converged)
    for _ in range(n_int):
        down = (best.u[:, -1] <= -_EDGE_U) & (interval > 0)
        up = (best.u[:, -1] >= _EDGE_U) & (interval < n_int - 1)
        new = torch.where(down, interval - 1, interval + 1).clamp(0, n_int - 1)
        new_lo = edges.gather(1, new[:, None]).squeeze(1)
        new_hi = edges.gather(1, new[:, None] + 1).squeeze(1)
        move = active & (down | up) & (new_hi > new_lo)
        if not bool(move.any()):
            break
        idx = torch.nonzero(move).squeeze(1)
        lo, hi = best.lo[idx].clone(), best.hi[idx].clone()
        lo[:, -1], hi[:, -1] = new_lo[idx], new_hi[idx]
        u0 = best.u[idx].clone()
        # start just inside the new interval, next to the shared edge
        u0[:, -1] = torch.where(down[idx], 2.0, -2.0).to(u0.dtype)
        u_fit, sse, conv = _refine(
            spec, t[idx], f[idx], sw[idx], u0, lo, hi, log, steps, method, True
        )
        better = sse < best.sse[idx]
        keep = idx[better]
        best = _Best(
            best.u.index_put((keep,), u_fit[better]),
            best.lo.index_put((keep,), lo[better]),
            best.hi.index_put((keep,), hi[better]),
            best.sse.index_put((keep,), sse[better]),
            best.converged.index_put((keep,), conv[better]),
        )
        interval = interval.index_put((keep,), new[keep])
        active = torch.zeros_like(active).index_put(
            (keep,), torch.ones_like(keep, dtype=torch.bool)
        )
    return best


def fit_empirical(
    model: str | EmpiricalModel,
    times_h: TensorLike,
    release: TensorLike,
    *,
    lag: bool = False,
    weights: TensorLike | None = None,
    steps: int | None = None,
    n_starts: int = 4,
    method: Literal["lm", "adam"] = "lm",
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float64,
) -> EmpiricalFit:
    """Fit an empirical release model to a batch of release curves at once.

    Weighted least squares ``SSR = sum w (F_obs - F_model)^2`` per curve, as in
    DDSolver (Zhang et al., AAPS J. 12 (2010) 263); model equations from Costa &
    Sousa Lobo, Eur. J. Pharm. Sci. 13 (2001) 123 (see the module docstring).

    Procedure, batched over curves (no Python loop over curves): a data-driven grid
    of candidate parameters is scored, the ``n_starts`` best per curve are refined
    in an unconstrained space (a sigmoid maps to each parameter's fitting bounds, on
    a log scale for positive rate constants) by batched Levenberg–Marquardt
    (``method="lm"``, default) or Adam (``method="adam"``), and the start with the
    lowest SSR is kept. With ``lag=True`` the SSR has a kink wherever ``tlag``
    crosses a sampling time, so ``tlag`` is searched per sampling interval: the
    grid is scored at the midpoint of every interval, the two best candidates of
    each of the ``n_starts`` best intervals are refined with ``tlag`` bounded to that
    interval, and a fit that ends on an interval edge is continued in the
    neighbouring interval while that lowers the SSR. Each curve's result is
    independent of the other curves in the batch (up to floating-point rounding).

    :param model: a name in :data:`EMPIRICAL_MODELS` (``"first_order"``,
        ``"higuchi"``, ``"korsmeyer_peppas"``, ``"weibull"``, ``"hopfenberg"``,
        ``"peppas_sahlin"``) or an :class:`EmpiricalModel`.
    :param times_h: ``(T,)`` or ``(B, T)`` sampling times (h), non-negative and sorted.
    :param release: ``(B, T)`` (or ``(T,)`` for one curve) cumulative fraction
        released, in ``[-0.5, 1.5]`` (noise may push it slightly outside ``[0, 1]``);
        percentages are rejected.
    :param lag: also fit a lag time ``tlag`` (h), within ``[0, last time]``.
    :param weights: optional non-negative weights broadcastable to ``(B, T)``
        (e.g. ``1 / release`` where release > 0 and 0 elsewhere, for DDSolver's 1/y
        weighting); a zero weight drops a point.
    :param steps: maximum optimiser iterations (default 200 for ``"lm"``, 2000 for
        ``"adam"``), ``>= 1``.
    :param n_starts: number of initial guesses (with ``lag``: of lag intervals, two
        guesses each) refined per curve, ``>= 1``.
    :param method: ``"lm"`` (Levenberg–Marquardt) or ``"adam"``.
    :param device: device to fit on (default: ``release``'s device).
    :param dtype: floating dtype of the fit (default float64).
    :returns: an :class:`EmpiricalFit` holding ``(B, P)`` parameters and per-curve
        ``sse``, ``r2``, ``r2_adjusted`` and ``aic``.
    :raises ValueError: for an unknown model, bad shapes, values out of range (the
        message names the parameter, value, allowed range and unit), release in
        percent, or fewer than ``P + 1`` positive-weight points in a curve.
    """
    spec = get_model(model)
    if method not in ("lm", "adam"):
        raise ValueError(f"method={method!r} is not allowed; use 'lm' or 'adam'")
    if steps is None:
        steps = 200 if method == "lm" else 2000
    check_in_range("steps", float(steps), 1.0, math.inf)
    check_in_range("n_starts", float(n_starts), 1.0, math.inf)
    if not dtype.is_floating_point:
        raise ValueError(f"dtype must be a floating dtype; got {dtype}")

    t, f, w = _prepare(times_h, release, weights, device, dtype)
    b = f.shape[0]
    names = spec.names(lag)
    n_par = len(names)
    n_pts = (w > 0).sum(-1)
    short = n_pts <= n_par
    if bool(short.any()):
        i = int(torch.nonzero(short)[0, 0])
        raise ValueError(
            f"each curve needs at least {n_par + 1} time points with positive weight to fit "
            f"the {n_par} parameters ({', '.join(names)}) of model {spec.name!r}; "
            f"curve {i} has {int(n_pts[i])}"
        )

    with torch.no_grad():
        lo, hi, log = _bounds(spec, lag, t)
        u0, lo_s, hi_s, interval = _starts(spec, lag, t, f, w, lo, hi, log, int(n_starts))
    s = u0.shape[1]
    sw = w.sqrt()
    rep = torch.arange(b, device=t.device).repeat_interleave(s)  # start -> curve
    flat = (u0.reshape(b * s, n_par), lo_s.reshape(b * s, n_par), hi_s.reshape(b * s, n_par))
    u_fit, sse, conv = _refine(spec, t[rep], f[rep], sw[rep], *flat, log, int(steps), method, lag)

    with torch.no_grad():
        pick = torch.arange(b, device=t.device) * s + sse.reshape(b, s).argmin(-1)
        best = _Best(u_fit[pick], flat[1][pick], flat[2][pick], sse[pick], conv[pick])
        if lag:
            best = _walk_lag_intervals(
                spec, t, f, sw, best, interval.reshape(-1)[pick], log, int(steps), method
            )
        params = _from_u(best.u, best.lo, best.hi, log)
        sse_best, conv_best = best.sse, best.converged
        # statistics (weighted when weights were given)
        w_sum = w.sum(-1)
        f_mean = (w * f).sum(-1) / w_sum
        sst = (w * (f - f_mean[:, None]) ** 2).sum(-1)
        n = n_pts.to(dtype)
        r2 = 1.0 - sse_best / sst
        r2_adj = 1.0 - (n - 1.0) / (n - n_par) * (1.0 - r2)
        tiny = torch.finfo(dtype).tiny
        aic = n * torch.log(sse_best.clamp_min(tiny) / n) + 2.0 * n_par
    return EmpiricalFit(
        model=spec.name,
        param_names=names,
        params=params,
        sse=sse_best,
        r2=r2,
        r2_adjusted=r2_adj,
        aic=aic,
        n_points=n_pts,
        converged=conv_best,
        lag=lag,
        spec=spec,
    )


def fit_all(
    times_h: TensorLike,
    release: TensorLike,
    *,
    models: Sequence[str | EmpiricalModel] | None = None,
    lag: bool = False,
    weights: TensorLike | None = None,
    steps: int | None = None,
    n_starts: int = 4,
    method: Literal["lm", "adam"] = "lm",
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float64,
) -> dict[str, EmpiricalFit]:
    """Fit several empirical models (default: all of :data:`EMPIRICAL_MODELS`) to the
    same batch of curves, for model comparison as in DDSolver (Zhang et al., AAPS J.
    12 (2010) 263; Costa & Sousa Lobo, Eur. J. Pharm. Sci. 13 (2001) 123).

    The keyword arguments are those of :func:`fit_empirical`.

    :param times_h: ``(T,)`` or ``(B, T)`` sampling times (h).
    :param release: ``(B, T)`` cumulative fraction released.
    :param models: model names or specifications to fit; default all six.
    :returns: ``{model name: EmpiricalFit}`` in the order of ``models``.
    """
    chosen = list(EMPIRICAL_MODELS) if models is None else list(models)
    specs = [get_model(m) for m in chosen]  # validate every name before fitting
    return {
        spec.name: fit_empirical(
            spec,
            times_h,
            release,
            lag=lag,
            weights=weights,
            steps=steps,
            n_starts=n_starts,
            method=method,
            device=device,
            dtype=dtype,
        )
        for spec in specs
    }


def best_by_aic(fits: Mapping[str, EmpiricalFit]) -> list[str]:
    """Name of the model with the lowest AIC for each curve.

    :param fits: fits of the same ``B`` curves, e.g. from :func:`fit_all`.
    :returns: a list of ``B`` model names.
    """
    if not fits:
        raise ValueError("fits must contain at least one EmpiricalFit; got an empty mapping")
    names = list(fits)
    sizes = {fits[k].aic.shape[0] for k in names}
    if len(sizes) != 1:
        raise ValueError(f"fits must all cover the same number of curves; got sizes {sizes}")
    aic = torch.stack([fits[k].aic.nan_to_num(math.inf) for k in names])
    return [names[i] for i in aic.argmin(0).tolist()]
