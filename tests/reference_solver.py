"""Slow, independent numpy/scipy references for the release kinetics.

Used only by the tests and the benchmark scripts, never by :mod:`nanoenv`.

* :func:`crank_series_release` — Crank's series for Fickian release from a sphere
  (Crank, *The Mathematics of Diffusion*, 2nd ed., 1975, eq. 6.20), as a function of
  the dimensionless time ``θ = ∫D dt / R²``.
* :func:`scipy_sphere_release` — the finite-volume semi-discretisation of radial
  diffusion in a sphere with a perfect sink (the same scheme as
  :func:`nanoenv.analysis.mol.sphere_release_mol`, written again in numpy),
  integrated by ``scipy.integrate.solve_ivp(method="BDF")`` with a sparse Jacobian
  and tight tolerances.
* :func:`scipy_first_order_release` — ``dF/dt = k(t)(1 − F)`` integrated by
  ``solve_ivp``, to check closed forms for piecewise-constant rates.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
from scipy.integrate import solve_ivp

__all__ = [
    "crank_series_release",
    "radial_mesh_np",
    "scipy_first_order_release",
    "scipy_sphere_release",
]


def crank_series_release(theta: np.ndarray | float, n_terms: int = 200) -> np.ndarray:
    """Fraction released from a sphere with a perfect sink, drug initially uniform.

    ``F = 1 − (6/π²) Σ_{n≥1} n⁻² exp(−n²π²θ)`` with ``θ = ∫D dt / R²`` (Crank 1975,
    eq. 6.20). For ``θ < 1e-3`` the short-time form ``6√(θ/π) − 3θ`` is used, which
    is exact up to terms of order ``exp(−1/θ)`` and avoids truncating the series.

    :param theta: dimensionless time(s), ≥ 0.
    :param n_terms: number of series terms.
    :returns: ``F`` with the shape of ``theta``.
    """
    theta = np.asarray(theta, dtype=float)
    n = np.arange(1, n_terms + 1, dtype=float)
    flat = theta.reshape(-1, 1)
    series = 1.0 - 6.0 / np.pi**2 * np.sum(np.exp(-(n**2) * np.pi**2 * flat) / n**2, axis=1)
    short = 6.0 * np.sqrt(flat[:, 0] / np.pi) - 3.0 * flat[:, 0]
    out = np.where(flat[:, 0] < 1e-3, short, series)
    return out.reshape(theta.shape)


def radial_mesh_np(n_cells: int, mesh: str = "graded") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Faces ``(N+1,)``, centres ``(N,)`` and volumes/4π ``(N,)`` of the unit sphere.

    ``"uniform"``: equal-width shells; ``"equal_volume"``: equal-volume shells;
    ``"graded"``: faces ``x_i = 1 − (1 − i/N)²`` (thin shells at the surface).
    """
    u = np.linspace(0.0, 1.0, n_cells + 1)
    if mesh == "uniform":
        faces = u
    elif mesh == "equal_volume":
        faces = np.cbrt(u)
    elif mesh == "graded":
        faces = 1.0 - (1.0 - u) ** 2
    else:
        raise ValueError(f"mesh must be 'uniform', 'equal_volume' or 'graded'; got {mesh!r}")
    faces[0], faces[-1] = 0.0, 1.0
    centres = 0.5 * (faces[1:] + faces[:-1])
    volumes = (faces[1:] ** 3 - faces[:-1] ** 3) / 3.0
    return faces, centres, volumes


def _operator(
    n_cells: int,
    radial_profile: np.ndarray | Callable[[np.ndarray], np.ndarray] | None,
    mesh: str,
) -> tuple[sp.csc_matrix, np.ndarray]:
    """Dimensionless operator ``L`` with ``dC/dθ = L C`` (unit sphere) and volumes."""
    faces, centres, volumes = radial_mesh_np(n_cells, mesh)
    if radial_profile is None:
        p = np.ones(n_cells)
    elif callable(radial_profile):
        p = np.broadcast_to(np.asarray(radial_profile(centres), dtype=float), (n_cells,))
    else:
        p = np.asarray(radial_profile, dtype=float)
        if p.shape != (n_cells,):
            raise ValueError(f"radial_profile must have shape ({n_cells},); got {p.shape}")
    if np.any(~np.isfinite(p)) or np.any(p <= 0):
        raise ValueError("radial_profile must be positive and finite")
    # Conductance of face i+1/2: area / series resistance of the two half-cells
    # (distance-weighted harmonic mean of p). The last face is the sink at r = R.
    left = faces[1:] - centres
    right = np.append(centres[1:] - faces[1:-1], 0.0)
    p_right = np.append(p[1:], 1.0)
    g = faces[1:] ** 2 / (left / p + right / p_right)
    main = -g.copy()
    main[1:] -= g[:-1]
    k = sp.diags([g[:-1], main, g[:-1]], [-1, 0, 1], format="csc")
    return sp.diags(1.0 / volumes) @ k, volumes


def scipy_sphere_release(
    times_h: np.ndarray,
    radius_nm: float,
    diffusivity_fn: Callable[[float], float],
    radial_profile: np.ndarray | Callable[[np.ndarray], np.ndarray] | None = None,
    n_cells: int = 200,
    rtol: float = 1e-8,
    atol: float = 1e-10,
    mesh: str = "graded",
) -> np.ndarray:
    """Fraction released from ONE sphere, by BDF on the finite-volume semi-discretisation.

    Solves ``∂C/∂t = r⁻² ∂_r(r² d(t) p(r) ∂_r C)``, ``C(R, t) = 0``, ``C(r, 0) = 1`` on
    ``n_cells`` shells with ``scipy.integrate.solve_ivp(method="BDF")`` and a sparse
    Jacobian (LeVeque, *Finite Volume Methods for Hyperbolic Problems*, 2002, for the
    finite-volume form; Crank 1975, ch. 6, for the problem).

    :param times_h: ``(T,)`` sorted output times, h.
    :param radius_nm: sphere radius, nm.
    :param diffusivity_fn: ``d(t_h) -> float``, nm²/h.
    :param radial_profile: dimensionless ``p`` at the cell centres, ``(n_cells,)``, or a
        callable of the dimensionless centres ``r/R``; default uniform.
    :param n_cells: number of shells.
    :param rtol: relative tolerance of ``solve_ivp``.
    :param atol: absolute tolerance of ``solve_ivp``.
    :param mesh: ``"graded"``, ``"uniform"`` or ``"equal_volume"`` shells.
    :returns: ``(T,)`` cumulative fraction released.
    """
    times = np.asarray(times_h, dtype=float)
    lap, volumes = _operator(n_cells, radial_profile, mesh)
    scale = 1.0 / float(radius_nm) ** 2

    def rhs(t: float, c: np.ndarray) -> np.ndarray:
        return float(diffusivity_fn(t)) * scale * (lap @ c)

    def jac(t: float, c: np.ndarray) -> sp.csc_matrix:
        return float(diffusivity_fn(t)) * scale * lap

    t_end = float(times[-1])
    if t_end <= 0.0:
        return np.zeros_like(times)
    sol = solve_ivp(
        rhs,
        (0.0, t_end),
        np.ones(n_cells),
        method="BDF",
        t_eval=times,
        jac=jac,
        rtol=rtol,
        atol=atol,
        first_step=t_end * 1e-12,
    )
    if not sol.success:
        raise RuntimeError(f"solve_ivp failed: {sol.message}")
    mass = volumes @ sol.y
    return np.clip(1.0 - mass / volumes.sum(), 0.0, 1.0)


def scipy_first_order_release(
    times_h: np.ndarray,
    rate_fn: Callable[[float], float],
    rtol: float = 1e-10,
    atol: float = 1e-12,
    breakpoints_h: np.ndarray | None = None,
) -> np.ndarray:
    """``F(t)`` from ``dF/dt = k(t)(1 − F)``, ``F(0) = 0``, integrated by ``solve_ivp``.

    An adaptive solver can step over a short pulse of ``k``; give the times where ``k``
    jumps as ``breakpoints_h`` and the integration restarts at each of them.

    :param times_h: ``(T,)`` sorted output times, h.
    :param rate_fn: ``k(t_h) -> float``, 1/h.
    :param breakpoints_h: times where ``k`` is discontinuous, h.
    :returns: ``(T,)`` fraction released.
    """
    times = np.asarray(times_h, dtype=float)
    t_end = float(times[-1])
    if t_end <= 0.0:
        return np.zeros_like(times)
    inner = [float(b) for b in np.asarray(breakpoints_h if breakpoints_h is not None else [])]
    edges = [0.0, *sorted(b for b in inner if 0.0 < b < t_end), t_end]
    out = np.zeros_like(times)
    state = np.zeros(1)
    for lo, hi in itertools.pairwise(edges):
        inside = (times >= lo) & (times <= hi)
        sol = solve_ivp(
            lambda t, f: float(rate_fn(t)) * (1.0 - f),
            (lo, hi),
            state,
            method="LSODA",
            t_eval=times[inside],
            rtol=rtol,
            atol=atol,
            dense_output=True,
        )
        if not sol.success:
            raise RuntimeError(f"solve_ivp failed: {sol.message}")
        out[inside] = sol.y[0]
        state = sol.sol(hi)
    return out
