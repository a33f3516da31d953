"""Method-of-lines solver for drug release by radial diffusion out of a sphere.

Problem (Crank, *The Mathematics of Diffusion*, 2nd ed., 1975, ch. 6): drug dissolved
uniformly (``C(r, 0) = C0``) in a sphere of radius ``R`` (nm), perfect sink at the
surface (``C(R, t) = 0``), symmetry at the centre, and

    ∂C/∂t = r⁻² ∂/∂r (r² D(r, t) ∂C/∂r),    D(r, t) = d(t)·p(r),

with ``d(t)`` a per-formulation diffusivity in nm²/h and ``p(r)`` a dimensionless
radial profile (default 1; a dense shell or a core–shell particle otherwise). The
output is the cumulative fraction released
``F(t) = 1 − ∫C r² dr / ∫C0 r² dr`` in ``[0, 1]``.

Space: cell-centred finite volumes (LeVeque, *Finite Volume Methods for Hyperbolic
Problems*, 2002, ch. 4) on ``N`` spherical shells of the unit sphere ``x = r/R``.
Faces carry areas ``x²`` (the common ``4π`` cancels), a face's conductance is its area
over the series resistance of the two half-cells (the distance-weighted harmonic mean
of ``p``, exact for piecewise-constant ``p``), and the sink sits at the outer face,
half a cell from the outermost centre. The default ``"graded"`` mesh has faces
``x_i = 1 − (1 − i/N)²``: shells of width ``≈ 1/N²`` at the surface, where the
discontinuous initial condition makes the solution steep, and ``2/N`` at the centre.
It is second-order accurate in ``F`` uniformly in time (max error vs Crank's series
≈ 2e-4 at ``N = 64`` against ≈ 8e-3 for equal-width shells, whose error at early
times decays only like ``1/N``). ``"uniform"`` (equal width) and ``"equal_volume"``
shells are available; :func:`radial_mesh` gives the cell centres at which a per-cell
profile must be evaluated.

Time: ``D`` is separable, so the semi-discrete system is ``dC/dθ = L C`` with a fixed
dimensionless operator ``L`` and the time change ``θ(t) = ∫₀ᵗ d(s) ds / R²``. Two
integrators are offered:

* ``method="cn"`` (default): Crank–Nicolson with ``startup_steps`` implicit-Euler
  steps first (Rannacher smoothing, which damps the stiff modes excited by the
  discontinuity at ``r = R``), on a time grid that merges a geometric grid (dense near
  ``t = 0``, where ``F ∝ √t``) with ``steps_per_interval`` equal sub-steps of every
  output interval (plus any ``breakpoints_h`` where ``d`` jumps); optionally
  (``max_theta_step``) steps whose ``Δθ`` is too large are split further.
  ``d(t)`` is evaluated at step midpoints. Each step is a batched
  Thomas solve (Python loop over cells, vectorised over the batch); the matrix
  factorisations of all steps are computed at once. Autograd flows through every step.
* ``method="spectral"``: the same semi-discrete system solved exactly in time,
  ``C(θ) = exp(θL) C0``, through the eigen-decomposition of the symmetrised operator
  (float64, ``torch.linalg.eigh``; cached when ``p`` is uniform). ``θ`` is exact for a
  constant ``d``; for a callable ``d`` it is the midpoint rule on the
  ``steps_per_interval`` sub-steps of every output interval (plus ``breakpoints_h``).
  Much faster, with no time-stepping error; gradients flow through ``eigh``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Literal, NamedTuple

import torch

from nanoenv.kinetics.validation import check_finite, check_in_range, check_sorted_times

__all__ = [
    "RadialMesh",
    "radial_mesh",
    "sphere_diffusion_operator",
    "sphere_release_mol",
]

MeshKind = Literal["graded", "uniform", "equal_volume"]
Method = Literal["cn", "spectral"]
Profile = torch.Tensor | Callable[[torch.Tensor], torch.Tensor]
Diffusivity = torch.Tensor | float | Callable[[torch.Tensor], torch.Tensor]

_MESHES = ("graded", "uniform", "equal_volume")
_METHODS = ("cn", "spectral")


class RadialMesh(NamedTuple):
    """Shells of the unit sphere (positions are ``r/R``, dimensionless).

    :ivar faces: ``(N+1,)`` face positions, ``0`` to ``1``.
    :ivar centres: ``(N,)`` cell centres (face midpoints), where a per-cell radial
        profile is evaluated.
    :ivar volumes: ``(N,)`` shell volumes divided by ``4π``.
    """

    faces: torch.Tensor
    centres: torch.Tensor
    volumes: torch.Tensor


def radial_mesh(
    n_cells: int,
    mesh: MeshKind = "graded",
    *,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> RadialMesh:
    """Finite-volume shells of the unit sphere.

    :param n_cells: number of shells ``N`` (≥ 2).
    :param mesh: ``"graded"`` (faces ``1 − (1 − i/N)²``, default), ``"uniform"`` (equal
        width) or ``"equal_volume"`` (faces ``(i/N)^{1/3}``).
    :param dtype: floating dtype (default: torch's default dtype).
    :param device: device.
    :returns: :class:`RadialMesh` of dimensionless faces, centres and volumes.
    """
    _check_options(n_cells=n_cells, mesh=mesh)
    dtype = dtype or torch.get_default_dtype()
    u = torch.linspace(0.0, 1.0, n_cells + 1, dtype=torch.float64)
    if mesh == "uniform":
        faces = u
    elif mesh == "equal_volume":
        faces = u.pow(1.0 / 3.0)
    else:
        faces = 1.0 - (1.0 - u) ** 2
    faces[0], faces[-1] = 0.0, 1.0
    centres = 0.5 * (faces[1:] + faces[:-1])
    volumes = (faces[1:] ** 3 - faces[:-1] ** 3) / 3.0
    return RadialMesh(
        faces.to(dtype=dtype, device=device),
        centres.to(dtype=dtype, device=device),
        volumes.to(dtype=dtype, device=device),
    )


def sphere_diffusion_operator(
    n_cells: int,
    radial_profile: Profile | None = None,
    *,
    mesh: MeshKind = "graded",
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
    validate: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Finite-volume operator of radial diffusion in the unit sphere with a perfect sink.

    The semi-discrete system is, for cell ``i`` with ``C_N = 0`` (sink) and
    ``g_{-1} = 0`` (symmetry at the centre),

        V_i dC_i/dθ = g_i (C_{i+1} − C_i) − g_{i−1} (C_i − C_{i−1}),

    i.e. ``V dC/dθ = K C`` with ``K`` symmetric tridiagonal, ``θ = ∫d dt / R²``.
    ``g_i = x_{i+1/2}² / (δ⁻_i/p_i + δ⁺_i/p_{i+1})`` is the conductance of the outer
    face of cell ``i`` (area over the series resistance of the two half-cells); for the
    last face ``δ⁺ = 0``.

    :param n_cells: number of shells ``N``.
    :param radial_profile: dimensionless ``p`` per cell, ``(N,)`` or ``(B, N)``, or a
        callable of the cell centres ``r/R`` ``(N,)`` returning ``(N,)`` or ``(B, N)``;
        ``None`` for uniform ``p = 1``.
    :param mesh: see :func:`radial_mesh`.
    :param dtype: dtype if ``radial_profile`` is not a tensor.
    :param device: device if ``radial_profile`` is not a tensor.
    :param validate: check that the profile is finite and positive.
    :returns: ``(volumes, conductances)``: ``(N,)`` volumes/4π and face conductances
        (dimensionless), ``(N,)`` for ``p = 1`` and ``(1 or B, N)`` otherwise.
    """
    if isinstance(radial_profile, torch.Tensor):
        dtype = radial_profile.dtype if radial_profile.is_floating_point() else dtype
        device = radial_profile.device
    grid = radial_mesh(n_cells, mesh, dtype=dtype, device=device)
    profile = _resolve_profile(radial_profile, grid.centres, n_cells, validate)
    return grid.volumes, _conductances(grid, profile)


def sphere_release_mol(
    times_h: torch.Tensor,
    radius_nm: torch.Tensor | float,
    diffusivity_nm2_h: Diffusivity,
    *,
    radial_profile: Profile | None = None,
    breakpoints_h: torch.Tensor | None = None,
    n_cells: int = 64,
    mesh: MeshKind = "graded",
    method: Method = "cn",
    steps_per_interval: int = 2,
    geometric_steps: int = 160,
    first_step_fraction: float = 1e-8,
    max_theta_step: float | None = None,
    startup_steps: int = 4,
    validate: bool = True,
) -> torch.Tensor:
    """Cumulative fraction released by diffusion out of spheres, by the method of lines.

    Solves ``∂C/∂t = r⁻² ∂_r(r² d(t) p(r) ∂_r C)`` with ``C(R, t) = 0``, uniform
    ``C(r, 0)`` (Crank 1975, ch. 6) by finite volumes in space (LeVeque 2002) and
    Rannacher-smoothed Crank–Nicolson or exact exponential integration in time (see
    the module docstring). For uniform ``p`` and constant ``d`` the exact answer is
    Crank's eq. 6.20, ``F = 1 − (6/π²) Σ n⁻² exp(−n²π² d t / R²)``.

    Batch size ``B`` is the broadcast of the leading dimensions of ``radius_nm``,
    ``diffusivity_nm2_h`` (or its values), ``radial_profile`` and ``times_h``.

    :param times_h: ``(T,)`` or ``(B, T)`` sorted, non-negative output times, h
        (integration starts at ``t = 0``).
    :param radius_nm: sphere radius, ``()`` or ``(B,)``, nm, > 0.
    :param diffusivity_nm2_h: ``d``, nm²/h, ≥ 0: a ``()``/``(B,)`` tensor (constant in
        time) or a callable ``d(t_h) -> (B,)`` (or scalar) evaluated at step midpoints
        ``t_h`` — a 0-d tensor when ``times_h`` is 1-D, ``(B,)`` when it is 2-D.
    :param radial_profile: dimensionless ``p > 0`` per cell, ``(N,)`` or ``(B, N)``
        evaluated at :func:`radial_mesh` centres, or a callable of those centres
        (``r/R``, ``(N,)``) returning ``(N,)`` or ``(B, N)``; ``None`` for ``p = 1``.
    :param breakpoints_h: ``(K,)`` or ``(B, K)`` times, h, where a callable ``d(t)``
        jumps (e.g. the segment starts of a piecewise-constant schedule). They are added
        to the time grid so that no step straddles a jump and the midpoint rule
        integrates a piecewise-constant ``d`` exactly; without them a step across a
        jump integrates ``d`` with an error of up to (step × jump).
    :param n_cells: number of shells ``N`` (≥ 2).
    :param mesh: ``"graded"`` (default), ``"uniform"`` or ``"equal_volume"`` shells.
    :param method: ``"cn"`` (time stepping, default) or ``"spectral"`` (exact in time).
    :param steps_per_interval: equal sub-steps per output interval (≥ 1); they bound
        the step where ``d(t)`` varies and are the only grid ``"spectral"`` needs
        (for a callable ``d``).
    :param geometric_steps: steps of the geometric grid from
        ``first_step_fraction·t_max`` to ``t_max`` (``"cn"`` only; 0 to disable).
    :param first_step_fraction: first geometric grid point over ``t_max``, in (0, 1).
    :param max_theta_step: ``"cn"`` only, off by default: if set (0.02 is a good
        value), steps are split into equal parts until every step's ``Δθ·max(p)``
        (``Δθ = ∫d dt / R²`` over the step) is at most this, or at most the geometric
        grid's relative growth times the elapsed ``θ·max(p)``, whichever is larger, so
        that the step adapts to a ``d(t)`` that jumps up or grows fast (steps once
        ``θ·min(p) > 3`` are not split). The number of sub-steps then depends on
        ``d`` and ``R``, so ``F`` is only piecewise smooth in them (jumps of the size
        of the time-stepping error, ≲ 1e-4); leave it off for finite-difference checks.
        Costs up to 10 000 sub-steps per step.
    :param startup_steps: implicit-Euler steps before Crank–Nicolson (``"cn"``).
    :param validate: check the inputs (synchronises with the device).
    :returns: ``(B, T)`` fraction released, in ``[0, 1]``, dtype and device of the
        inputs.
    :raises ValueError: on invalid inputs, naming the parameter, value, range and unit.
    """
    _check_options(
        n_cells=n_cells,
        mesh=mesh,
        method=method,
        steps_per_interval=steps_per_interval,
        geometric_steps=geometric_steps,
        first_step_fraction=first_step_fraction,
        startup_steps=startup_steps,
        max_theta_step=max_theta_step,
    )
    dtype, device = _common_dtype_device(times_h, radius_nm, diffusivity_nm2_h, radial_profile)
    times = torch.as_tensor(times_h, device=device).to(dtype)
    radius = torch.as_tensor(radius_nm, device=device).to(dtype)
    if validate:
        check_sorted_times("times_h", times, "h")
        check_finite("radius_nm", radius, "nm")
        _check_positive("radius_nm", radius, "nm")
    if times.dim() not in (1, 2):
        raise ValueError(f"times_h must be (T,) or (B, T); got shape {tuple(times.shape)}")
    if radius.dim() > 1:
        raise ValueError(f"radius_nm must be a scalar or (B,); got shape {tuple(radius.shape)}")

    grid = radial_mesh(n_cells, mesh, dtype=dtype, device=device)
    profile = _resolve_profile(radial_profile, grid.centres, n_cells, validate)
    times_2d = times if times.dim() == 2 else times.unsqueeze(0)
    constant_d = not callable(diffusivity_nm2_h)

    if constant_d:
        d = torch.as_tensor(diffusivity_nm2_h, device=device).to(dtype)
        if validate:
            check_in_range("diffusivity_nm2_h", d, 0.0, math.inf, "nm^2/h")
        if d.dim() > 1:
            raise ValueError(
                f"diffusivity_nm2_h must be a scalar or (B,); got shape {tuple(d.shape)}"
            )
    batch = _batch_size(
        radius, d if constant_d else None, profile, times if times.dim() == 2 else None
    )

    if method == "spectral" and constant_d:
        theta = (d.reshape(-1, 1) / radius.reshape(-1, 1) ** 2) * times_2d
        return _spectral_release(grid, profile, theta.expand(batch, -1), mesh).to(dtype)

    if breakpoints_h is not None:
        breaks = torch.as_tensor(breakpoints_h, device=device).to(dtype).detach()
        if breaks.dim() == 1:
            breaks = breaks.unsqueeze(0)
        if breaks.dim() != 2:
            raise ValueError(
                f"breakpoints_h must be (K,) or (B, K) (h); got shape {tuple(breaks.shape)}"
            )
        if validate:
            check_in_range("breakpoints_h", breaks, 0.0, math.inf, "h")
        batch = _batch_size(batch, breaks)
        rows = max(times_2d.shape[0], breaks.shape[0])
        times_2d = times_2d.expand(rows, -1)
        breaks = torch.minimum(breaks.expand(rows, -1), times_2d[:, -1:])
    else:
        breaks = None
    t_grid, out_pos = _time_grid(
        times_2d.detach(),
        steps_per_interval,
        geometric_steps if method == "cn" else 0,
        first_step_fraction,
        breaks,
    )
    dt = t_grid[:, 1:] - t_grid[:, :-1]  # (Bt, S)
    if constant_d:
        d_steps = d.reshape(-1, 1).expand(batch, dt.shape[1])
    else:
        d_steps = _evaluate_diffusivity(diffusivity_nm2_h, t_grid, batch, dtype, device)
        if validate:
            check_in_range("diffusivity_nm2_h(t)", d_steps, 0.0, math.inf, "nm^2/h")
        batch = d_steps.shape[0]
    dtheta = d_steps * dt / radius.reshape(-1, 1) ** 2  # (B, S)
    dtheta = dtheta.expand(batch, -1)
    out_pos = out_pos.expand(batch, -1)

    if method == "spectral":
        theta_grid = torch.cat([torch.zeros_like(dtheta[:, :1]), dtheta.cumsum(1)], dim=1)
        theta = theta_grid.gather(1, out_pos)
        return _spectral_release(grid, profile, theta, mesh).to(dtype)

    if max_theta_step is not None:
        growth = first_step_fraction ** (-1.0 / max(geometric_steps - 1, 1)) - 1.0
        dtheta, out_pos = _refine_steps(
            dtheta, out_pos, profile, max_theta_step, growth if geometric_steps > 1 else 0.0
        )
    volumes = grid.volumes
    g = _conductances(grid, profile)
    positive = (dtheta.detach() > 0).to(torch.int64).cumsum(1)
    implicit_weight = torch.where(positive <= startup_steps, 1.0, 0.5).to(dtheta.dtype)
    released = _theta_method_release(volumes, g, dtheta, implicit_weight)  # (B, S+1)
    return released.gather(1, out_pos).clamp(0.0, 1.0)


# --------------------------------------------------------------------------- helpers


def _check_options(
    *,
    n_cells: int,
    mesh: str,
    method: str = "cn",
    steps_per_interval: int = 1,
    geometric_steps: int = 0,
    first_step_fraction: float = 0.5,
    startup_steps: int = 0,
    max_theta_step: float | None = None,
) -> None:
    if not isinstance(n_cells, int) or n_cells < 2:
        raise ValueError(f"n_cells={n_cells!r} is outside the allowed range [2, inf] (cells)")
    if mesh not in _MESHES:
        raise ValueError(f"mesh must be one of {_MESHES}; got {mesh!r}")
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}; got {method!r}")
    if not isinstance(steps_per_interval, int) or steps_per_interval < 1:
        raise ValueError(
            f"steps_per_interval={steps_per_interval!r} is outside the allowed range "
            "[1, inf] (steps)"
        )
    if not isinstance(geometric_steps, int) or geometric_steps < 0:
        raise ValueError(
            f"geometric_steps={geometric_steps!r} is outside the allowed range [0, inf] (steps)"
        )
    if not 0.0 < first_step_fraction < 1.0:
        raise ValueError(
            f"first_step_fraction={first_step_fraction!r} is outside the allowed range (0, 1)"
        )
    if not isinstance(startup_steps, int) or startup_steps < 0:
        raise ValueError(
            f"startup_steps={startup_steps!r} is outside the allowed range [0, inf] (steps)"
        )
    if max_theta_step is not None and not 0.0 < max_theta_step <= math.inf:
        raise ValueError(
            f"max_theta_step={max_theta_step!r} is outside the allowed range (0, inf] "
            "(dimensionless)"
        )


def _check_positive(name: str, values: torch.Tensor, unit: str) -> None:
    values = values.detach()
    bad = values <= 0
    if bool(bad.any()):
        index = [int(i) for i in torch.nonzero(bad)[0].tolist()] if values.dim() else []
        value = float(values[tuple(index)]) if index else float(values)
        where = f" at index {index}" if index else ""
        raise ValueError(f"{name}={value:g}{where} is outside the allowed range (0, inf] ({unit})")


def _common_dtype_device(*inputs: object) -> tuple[torch.dtype, torch.device]:
    tensors = [x for x in inputs if isinstance(x, torch.Tensor)]
    floating = [x.dtype for x in tensors if x.is_floating_point()]
    dtype = torch.get_default_dtype()
    if floating:
        dtype = floating[0]
        for other in floating[1:]:
            dtype = torch.promote_types(dtype, other)
    # An accelerator input wins over CPU ones (e.g. CPU times with CUDA radii).
    devices = [x.device for x in tensors if x.device.type != "cpu"]
    device = devices[0] if devices else torch.device("cpu")
    return dtype, device


def _batch_size(*items: torch.Tensor | int | None) -> int:
    sizes = {
        item if isinstance(item, int) else int(item.shape[0])
        for item in items
        if isinstance(item, int) or (item is not None and item.dim() >= 1)
    }
    sizes.discard(1)
    if len(sizes) > 1:
        raise ValueError(
            "batch sizes of radius_nm, diffusivity_nm2_h, radial_profile, times_h and "
            "breakpoints_h "
            f"do not match: {sorted(sizes)}"
        )
    return sizes.pop() if sizes else 1


def _resolve_profile(
    radial_profile: Profile | None, centres: torch.Tensor, n_cells: int, validate: bool
) -> torch.Tensor | None:
    """``None`` or a ``(1 or B, N)`` profile tensor on the mesh's dtype/device."""
    if radial_profile is None:
        return None
    if callable(radial_profile) and not isinstance(radial_profile, torch.Tensor):
        profile = torch.as_tensor(radial_profile(centres))
    else:
        profile = torch.as_tensor(radial_profile)
    profile = profile.to(device=centres.device, dtype=centres.dtype)
    if profile.dim() == 1:
        profile = profile.unsqueeze(0)
    if profile.dim() != 2 or profile.shape[-1] != n_cells:
        raise ValueError(
            f"radial_profile must have shape (N,) or (B, N) with N = n_cells = {n_cells} "
            f"(dimensionless); got shape {tuple(profile.shape)}"
        )
    if validate:
        check_finite("radial_profile", profile)
        _check_positive("radial_profile", profile, "dimensionless")
    return profile


def _conductances(grid: RadialMesh, profile: torch.Tensor | None) -> torch.Tensor:
    """Face conductances ``(N,)`` or ``(B, N)``; the last face is the sink at ``r = R``."""
    outer = grid.faces[1:]
    inner_half = outer - grid.centres  # centre of cell i to its outer face
    outer_half = torch.cat([grid.centres[1:] - grid.faces[1:-1], outer.new_zeros(1)])
    if profile is None:
        return outer**2 / (inner_half + outer_half)
    p_next = torch.cat([profile[:, 1:], torch.ones_like(profile[:, :1])], dim=1)
    return outer**2 / (inner_half / profile + outer_half / p_next)


def _time_grid(
    times: torch.Tensor,
    steps_per_interval: int,
    geometric_steps: int,
    first_fraction: float,
    breakpoints: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Internal time grid ``(Bt, S+1)`` starting at 0 and the output positions ``(Bt, T)``.

    The grid merges a geometric grid ``t_max·f^{(G−1−j)/(G−1)}``, the breakpoints
    (``(Bt, K)``, already clamped to ``t_max``) and ``steps_per_interval`` equal
    sub-steps of every output interval (from 0). Equal points make zero-length steps,
    which the integrators treat as identities.
    """
    rows, n_times = times.shape
    spi = steps_per_interval
    start = torch.cat([torch.zeros_like(times[:, :1]), times[:, :-1]], dim=1)
    frac = torch.arange(1, spi + 1, dtype=times.dtype, device=times.device) / spi
    sub = start.unsqueeze(-1) + (times - start).unsqueeze(-1) * frac
    sub[..., -1] = times
    parts = [sub.reshape(rows, n_times * spi)]
    n_geo = geometric_steps
    if n_geo == 1:
        parts.insert(0, times[:, -1:])
    elif n_geo > 1:
        j = torch.arange(n_geo, dtype=times.dtype, device=times.device)
        ratio = first_fraction ** ((n_geo - 1 - j) / (n_geo - 1))
        parts.insert(0, times[:, -1:] * ratio)
    if breakpoints is not None:
        parts.insert(0, breakpoints)
    n_extra = sum(p.shape[1] for p in parts[:-1])
    points = torch.cat(parts, dim=1)
    ordered, order = torch.sort(points, dim=1, stable=True)
    inverse = torch.argsort(order, dim=1)
    out_index = n_extra + torch.arange(n_times, device=times.device) * spi + spi - 1
    out_pos = inverse[:, out_index] + 1
    grid = torch.cat([torch.zeros_like(ordered[:, :1]), ordered], dim=1)
    return grid, out_pos


def _refine_steps(
    dtheta: torch.Tensor,
    out_pos: torch.Tensor,
    profile: torch.Tensor | None,
    max_step: float,
    growth: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Split steps that are too large in θ into equal parts, row by row.

    A step starting at ``θ`` may have ``Δθ·max(p) ≤ max(max_step, growth·θ·max(p))``;
    steps with ``θ·min(p) > 3`` are left alone (the slowest mode decays at least like
    ``exp(−π² min(p) θ)``). Rows that need fewer steps are padded with zero steps, so
    every row is what it would be alone. Returns the ``(B, S')`` steps and the
    ``(B, T)`` output positions.
    """
    with torch.no_grad():
        scale_hi = 1.0 if profile is None else profile.amax(-1, keepdim=True)
        scale_lo = 1.0 if profile is None else profile.amin(-1, keepdim=True)
        steps = dtheta.detach()
        start = steps.cumsum(1) - steps
        allowed = torch.clamp(growth * start * scale_hi, min=max_step)
        need = torch.ceil(steps * scale_hi / allowed)
        need = torch.where(start * scale_lo > 3.0, torch.ones_like(need), need)
        counts = need.clamp(1, 10_000).to(torch.int64)  # (B, S)
        if bool((counts == 1).all()):
            return dtheta, out_pos
        ends = counts.cumsum(1)  # (B, S)
        total = int(ends[:, -1].max())
        k = torch.arange(total, device=dtheta.device).expand(dtheta.shape[0], -1)
        parent = torch.searchsorted(ends, k.contiguous(), right=True)  # (B, S')
        valid = parent < counts.shape[1]
        parent = parent.clamp(max=counts.shape[1] - 1)
        positions = torch.cat([torch.zeros_like(ends[:, :1]), ends], dim=1)
    split = dtheta / counts.to(dtheta.dtype)
    refined = torch.where(valid, split.gather(1, parent), torch.zeros_like(split[:, :1]))
    return refined, positions.gather(1, out_pos)


def _evaluate_diffusivity(
    fn: Callable[[torch.Tensor], torch.Tensor],
    t_grid: torch.Tensor,
    batch: int,
    dtype: torch.dtype,
    device: torch.device,
) -> torch.Tensor:
    """``d`` at the step midpoints, ``(B, S)``."""
    mid = 0.5 * (t_grid[:, 1:] + t_grid[:, :-1])
    shared = mid.shape[0] == 1
    values = []
    for j in range(mid.shape[1]):
        t = mid[0, j] if shared else mid[:, j]
        values.append(torch.as_tensor(fn(t), device=device).to(dtype).reshape(-1))
    out = torch.stack(torch.broadcast_tensors(*values), dim=1)
    if out.shape[0] not in (1, batch) and batch != 1:
        raise ValueError(
            f"diffusivity_nm2_h(t) returned batch size {out.shape[0]}, expected {batch} (nm^2/h)"
        )
    return out.expand(max(batch, out.shape[0]), -1)


def _theta_method_release(
    volumes: torch.Tensor, g: torch.Tensor, dtheta: torch.Tensor, implicit: torch.Tensor
) -> torch.Tensor:
    """θ-method steps of ``V dC/dθ = K C`` from ``C = 1``; fraction released ``(B, S+1)``.

    Step ``j`` solves ``(I − a Δθ V⁻¹K) C⁺ = (I + (1 − a) Δθ V⁻¹K) C`` with ``a = implicit``
    (1: implicit Euler, ½: Crank–Nicolson) by the Thomas algorithm. The factorisations
    of all steps are computed up front, vectorised over ``(S, B)``.
    """
    batch = dtheta.shape[0]
    n_cells = volumes.shape[0]
    g = g.expand(batch, n_cells)
    g_t = g.t()  # (N, B)
    g_prev_t = torch.cat([torch.zeros_like(g_t[:1]), g_t[:-1]], dim=0)
    lhs_scale = (implicit * dtheta).t()  # (S, B)
    rhs_scale = ((1.0 - implicit) * dtheta).t()  # (S, B)

    # Rows divided by V_i, so that a zero-length step is exactly the identity:
    # diag_i = 1 + aΔθ(g_{i-1} + g_i)/V_i, lower_i = −aΔθ g_{i-1}/V_i (i ≥ 1),
    # upper_i = −aΔθ g_i/V_i (i ≤ N−2). Factorise every step's matrix at once.
    inv_vol = volumes.reciprocal().unsqueeze(-1)  # (N, 1)
    diag = 1.0 + lhs_scale.unsqueeze(1) * ((g_t + g_prev_t) * inv_vol)  # (S, N, B)
    lower = -lhs_scale.unsqueeze(1) * (g_t[:-1] * inv_vol[1:])  # (S, N-1, B)
    upper = -lhs_scale.unsqueeze(1) * (g_t[:-1] * inv_vol[:-1])  # (S, N-1, B)
    diag_rows = diag.unbind(1)
    lower_rows = lower.unbind(1)
    upper_rows = upper.unbind(1)
    den = [diag_rows[0]]
    mult = []
    for i in range(1, n_cells):
        w = lower_rows[i - 1] / den[i - 1]
        mult.append(w)
        den.append(diag_rows[i] - w * upper_rows[i - 1])
    inv_den = torch.stack(den, dim=1).reciprocal()  # (S, N, B)
    mult_t = torch.stack(mult, dim=1)  # (S, N-1, B)

    total = volumes.sum()
    conc = torch.ones(n_cells, batch, dtype=dtheta.dtype, device=dtheta.device)
    vol_col = volumes.unsqueeze(-1)
    released = [torch.zeros(batch, dtype=dtheta.dtype, device=dtheta.device)]
    # Unbind once: indexing a large tensor inside the loop would make every step's
    # backward scatter into a full-size zero tensor (quadratic in the step count).
    steps = zip(
        rhs_scale.unbind(0), mult_t.unbind(0), inv_den.unbind(0), upper.unbind(0), strict=True
    )
    for rhs_j, mult_j, inv_j, upper_j in steps:
        flux = g_t * (torch.cat([conc[1:], torch.zeros_like(conc[:1])], dim=0) - conc)
        k_conc = flux - torch.cat([torch.zeros_like(flux[:1]), flux[:-1]], dim=0)
        rhs = torch.addcmul(conc, rhs_j * inv_vol, k_conc).unbind(0)
        w_rows = mult_j.unbind(0)
        inv_rows = inv_j.unbind(0)
        o_rows = upper_j.unbind(0)
        y = [rhs[0]]
        for i in range(1, n_cells):
            y.append(torch.addcmul(rhs[i], w_rows[i - 1], y[i - 1], value=-1.0))
        x = [y[-1] * inv_rows[-1]]
        for i in range(n_cells - 2, -1, -1):
            x.append(torch.addcmul(y[i], o_rows[i], x[-1], value=-1.0) * inv_rows[i])
        conc = torch.stack(x[::-1], dim=0)
        released.append((vol_col * (1.0 - conc)).sum(0) / total)
    return torch.stack(released, dim=1)


@functools.lru_cache(maxsize=16)
def _uniform_spectrum(n_cells: int, mesh: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigenvalues and release weights of the uniform-profile operator (CPU, float64)."""
    grid = radial_mesh(n_cells, mesh, dtype=torch.float64)  # type: ignore[arg-type]
    return _spectrum(grid.volumes, _conductances(grid, None))


def _spectrum(volumes: torch.Tensor, g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(λ, β)`` with ``F(θ) = 1 − Σ β_k exp(λ_k θ)``; float64, shapes ``(..., N)``."""
    inv_sqrt_v = volumes.rsqrt()
    diag = -(g + torch.cat([torch.zeros_like(g[..., :1]), g[..., :-1]], dim=-1))
    diag = diag * inv_sqrt_v**2
    off = g[..., :-1] * inv_sqrt_v[:-1] * inv_sqrt_v[1:]
    sym = torch.diag_embed(diag) + torch.diag_embed(off, 1) + torch.diag_embed(off, -1)
    lam, vec = torch.linalg.eigh(sym)
    weight = (vec * volumes.sqrt().unsqueeze(-1)).sum(-2) ** 2 / volumes.sum()
    return lam, weight


def _spectral_release(
    grid: RadialMesh, profile: torch.Tensor | None, theta: torch.Tensor, mesh: str
) -> torch.Tensor:
    """Exact-in-time release of the semi-discrete system at ``theta`` ``(B, T)``."""
    theta64 = theta.to(torch.float64)
    if profile is None:
        lam, weight = _uniform_spectrum(grid.volumes.shape[0], mesh)
        lam = lam.to(theta.device).expand(theta.shape[0], -1)
        weight = weight.to(theta.device).expand(theta.shape[0], -1)
    else:
        volumes = grid.volumes.to(torch.float64)
        mesh64 = RadialMesh(grid.faces.to(torch.float64), grid.centres.to(torch.float64), volumes)
        lam, weight = _spectrum(volumes, _conductances(mesh64, profile.to(torch.float64)))
        lam = lam.expand(theta.shape[0], -1)
        weight = weight.expand(theta.shape[0], -1)
    # F = Σ β_k (1 − e^{λ_k θ}) with Σ β_k = 1; expm1 keeps F(0) = 0 exactly.
    decay = torch.expm1(lam.unsqueeze(1) * theta64.unsqueeze(-1))
    return (0.0 - (weight.unsqueeze(1) * decay).sum(-1)).clamp(0.0, 1.0)
