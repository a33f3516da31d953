"""Fitting the empirical models to release curves (:func:`fit_empirical`, :func:`fit_all`)
and ranking them (:func:`best_by_aic`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Literal, NamedTuple

import torch
from torch import Tensor

from nanoenv.analysis.empirical.least_squares import adam_minimise, levenberg_marquardt
from nanoenv.analysis.empirical.models import (
    EMPIRICAL_MODELS,
    CurveSummary,
    EmpiricalModel,
    TensorLike,
    get_model,
)
from nanoenv.kinetics.validation import check_finite, check_in_range, check_sorted_times

_SIGMA_EDGE = 1e-4  # initial guesses are kept this far (in sigmoid units) from the bounds
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


def _summary(t: Tensor, f: Tensor, w: Tensor, tlag: Tensor) -> CurveSummary:
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
    return CurveSummary(ts, f, w, t_half, target.clamp(1e-3, 0.99))


def _generic_guess(spec: EmpiricalModel, s: CurveSummary) -> Tensor:
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
            edge_col = u0.shape[1] - 1 if lag else None
            return levenberg_marquardt(residuals, u0, steps, edge_col, _EDGE_U)
    with torch.enable_grad():
        return adam_minimise(residuals, u0, steps)


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
