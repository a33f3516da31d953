"""Batched nonlinear least squares, one independent problem per row: Levenberg–Marquardt
(Marquardt scaling, MINPACK-style stopping) and Adam, on unconstrained parameters, with
Jacobians from one forward and a batched backward pass.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

_FTOL = 1e-10  # Levenberg–Marquardt relative-reduction tolerance on the SSR
_U_MAX = 100.0  # bound on the unconstrained parameters (sigmoid slope >= 3.7e-44 there)
_JAC_CHUNK_ELEMENTS = 1 << 22  # memory bound of one batched backward pass (elements)


def jacobian(fn: Callable[[Tensor], Tensor], u: Tensor) -> tuple[Tensor, Tensor]:
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


def levenberg_marquardt(
    fn: Callable[[Tensor], Tensor],
    u: Tensor,
    steps: int,
    edge_col: int | None = None,
    edge_u: float = math.inf,
) -> tuple[Tensor, Tensor, Tensor]:
    """Batched Levenberg–Marquardt (Marquardt diagonal scaling), one problem per row.

    Each row has its own damping and stops (is frozen) on its own convergence test,
    so a row's result does not depend on the other rows (up to floating-point rounding:
    vectorised ``exp``/``log``/``pow`` may round a value differently depending on its
    position in memory, which matters only for rows that have not converged).

    ``edge_col``: a column whose parameter is bounded by a sampling time from above
    (the lag time). Its SSR has a cusp there, which the iteration only creeps towards;
    a row whose ``u[:, edge_col]`` reaches ``edge_u`` is stopped (not converged) and
    left to the caller (:func:`~nanoenv.analysis.empirical.fit.fit_empirical` walks the
    lag intervals).

    :returns: ``(u, sse, converged)``.
    """
    n = u.shape[0]
    lam = torch.full((n,), 1e-3, dtype=u.dtype, device=u.device)
    done = torch.zeros(n, dtype=torch.bool, device=u.device)
    at_edge = torch.zeros_like(done)
    r, jac = jacobian(fn, u)
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
            at_edge = at_edge | (~done & (u[:, edge_col] >= edge_u))
        done = done | (ok & (tiny_step | flat | (sse <= 1e-30))) | (lam >= 1e12) | at_edge
        if bool(done.all()):
            break
        if bool(accept.any()):
            r_acc, jac_acc = jacobian(fn, u)
            r = torch.where(accept[:, None], r_acc, r)
            jac = torch.where(accept[:, None, None], jac_acc, jac)
    return u, sse, done & ~at_edge


def adam_minimise(
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
