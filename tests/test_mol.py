"""Tests of the method-of-lines sphere-release solver against Crank's series and scipy."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from nanoenv.analysis.mol import radial_mesh, sphere_diffusion_operator, sphere_release_mol
from tests.reference_solver import (
    crank_series_release,
    scipy_first_order_release,
    scipy_sphere_release,
)

METHODS = ["cn", "spectral"]
F64 = torch.float64


def _series(times: torch.Tensor, radius: torch.Tensor, diffusivity: torch.Tensor) -> np.ndarray:
    theta = diffusivity.reshape(-1, 1) * times / radius.reshape(-1, 1) ** 2
    return crank_series_release(theta.detach().double().cpu().numpy())


def _err(result: torch.Tensor, expected: np.ndarray) -> float:
    return float(np.abs(result.detach().double().cpu().numpy() - expected).max())


def _shell(x: torch.Tensor | np.ndarray, inner: float = 1.0, outer: float = 0.1):
    """Smooth dense outer shell: p = inner for r/R < 0.8, outer beyond (width 0.03)."""
    tanh = torch.tanh if isinstance(x, torch.Tensor) else np.tanh
    return inner + (outer - inner) * 0.5 * (1.0 + tanh((x - 0.8) / 0.03))


# Times from 1e-5·t_end to t_end (the √t start and the exponential tail) plus t = 0.
TIMES = torch.cat([torch.zeros(1, dtype=F64), torch.logspace(-4, 2, 40, dtype=F64)])
RADII = torch.tensor([40.0, 100.0, 250.0], dtype=F64)
DIFFS = torch.tensor([20.0, 300.0, 2000.0], dtype=F64)  # θ(t_end) from 0.03 to 125


# --------------------------------------------------------------------------- constant D


@pytest.mark.parametrize("method", METHODS)
def test_constant_diffusivity_matches_crank_series(method: str) -> None:
    released = sphere_release_mol(TIMES, RADII, DIFFS, method=method)
    assert released.shape == (3, TIMES.numel())
    assert released.dtype == F64
    assert _err(released, _series(TIMES, RADII, DIFFS)) < 1e-3
    assert torch.all(released[:, 0] == 0)
    assert torch.all(released[:, 1:] >= released[:, :-1] - 1e-12)
    assert torch.all((released >= 0) & (released <= 1))


def test_error_decreases_with_cells_and_steps() -> None:
    expected = _series(TIMES, RADII, DIFFS)
    # Space: exact time integration isolates the spatial error (second order).
    space = [
        _err(sphere_release_mol(TIMES, RADII, DIFFS, method="spectral", n_cells=n), expected)
        for n in (8, 16, 32)
    ]
    assert space[0] > 2.5 * space[1] > 6.0 * space[2]
    # Time: Crank–Nicolson against the exact-in-time solution of the same system;
    # doubling the geometric steps divides the error by about 4 (second order).
    times = torch.linspace(0.0, 100.0, 11, dtype=F64)
    exact = sphere_release_mol(times, RADII, DIFFS, method="spectral", n_cells=32).numpy()
    time_err = [
        _err(
            sphere_release_mol(
                times, RADII, DIFFS, n_cells=32, geometric_steps=g, steps_per_interval=1
            ),
            exact,
        )
        for g in (40, 80, 160)
    ]
    assert time_err[0] > 3.0 * time_err[1] > 9.0 * time_err[2]
    # Equal-width shells converge too, only more slowly at early times.
    uniform = [
        _err(
            sphere_release_mol(TIMES, RADII, DIFFS, method="spectral", mesh="uniform", n_cells=n),
            expected,
        )
        for n in (16, 64)
    ]
    assert uniform[1] < uniform[0] / 3


def test_mean_release_time_is_r2_over_15d() -> None:
    radius, diffusivity = torch.tensor(80.0, dtype=F64), torch.tensor(150.0, dtype=F64)
    t_end = 3.0 * radius**2 / diffusivity  # θ = 3: all but e^{-30} released
    times = t_end * torch.linspace(0.0, 1.0, 401, dtype=F64) ** 2  # graded: F ∝ √t at 0
    released = sphere_release_mol(times, radius, diffusivity, steps_per_interval=1)[0]
    mean_time = torch.trapezoid(1.0 - released, times)
    expected = radius**2 / (15.0 * diffusivity)
    assert float(abs(mean_time / expected - 1.0)) < 2e-3


# --------------------------------------------------------------------------- D(t)


@pytest.mark.parametrize("method", METHODS)
def test_exponential_diffusivity_is_a_time_change(method: str) -> None:
    radius = torch.tensor([60.0, 120.0], dtype=F64)
    d0 = torch.tensor([80.0, 40.0], dtype=F64)
    rate = 0.05  # 1/h
    times = torch.linspace(0.0, 48.0, 25, dtype=F64)

    def diffusivity(t_h: torch.Tensor) -> torch.Tensor:
        return d0 * torch.exp(rate * t_h)

    released = sphere_release_mol(times, radius, diffusivity, method=method)
    theta = d0[:, None] * torch.expm1(rate * times) / (rate * radius[:, None] ** 2)
    assert _err(released, crank_series_release(theta.numpy())) < 1e-3


@pytest.mark.parametrize("method", METHODS)
def test_piecewise_constant_diffusivity(method: str) -> None:
    radius = torch.tensor(60.0, dtype=F64)
    d1, d2, jump_h = 50.0, 400.0, 13.3
    times = torch.linspace(0.0, 48.0, 25, dtype=F64)
    t = times.numpy()
    theta = (d1 * np.minimum(t, jump_h) + d2 * np.maximum(t - jump_h, 0.0)) / 60.0**2
    expected = crank_series_release(theta)

    def diffusivity(t_h: torch.Tensor) -> torch.Tensor:
        return torch.where(t_h < jump_h, d1, d2).to(F64)

    breaks = torch.tensor([jump_h])
    with_breaks = sphere_release_mol(
        times, radius, diffusivity, method=method, breakpoints_h=breaks
    )
    assert _err(with_breaks, expected) < 2e-3
    # Without the breakpoint one step straddles the jump: larger, bounded error.
    without = sphere_release_mol(times, radius, diffusivity, method=method)
    assert _err(with_breaks, expected) < _err(without, expected) < 2e-2
    if method == "cn":
        # Splitting the steps that the 8x jump made too large in θ.
        refined = sphere_release_mol(
            times, radius, diffusivity, breakpoints_h=breaks, max_theta_step=0.02
        )
        assert _err(refined, expected) < 3e-4

    # A jump on an output time needs no breakpoint. After the 8x jump the steps are
    # large in θ (π²Δθ ≈ 1), where Crank–Nicolson is least accurate; max_theta_step
    # splits them.
    on_grid = 14.0
    theta = (d1 * np.minimum(t, on_grid) + d2 * np.maximum(t - on_grid, 0.0)) / 60.0**2
    expected = crank_series_release(theta)
    for options, tolerance in [({}, 3e-3), ({"max_theta_step": 0.02}, 3e-4)]:
        released = sphere_release_mol(
            times,
            radius,
            lambda t_h: torch.where(t_h < on_grid, d1, d2).to(F64),
            method=method,
            **options,
        )
        assert _err(released, expected) < (tolerance if method == "cn" else 3e-4)


def test_callable_receives_per_formulation_times() -> None:
    times = torch.stack([torch.linspace(0, 10, 6), torch.linspace(0, 30, 6)]).to(F64)
    radius = torch.tensor([50.0, 80.0], dtype=F64)
    diff = torch.tensor([100.0, 60.0], dtype=F64)
    seen: list[tuple[int, ...]] = []

    def diffusivity(t_h: torch.Tensor) -> torch.Tensor:
        seen.append(tuple(t_h.shape))
        return diff * torch.ones_like(t_h)

    released = sphere_release_mol(times, radius, diffusivity)
    assert set(seen) == {(2,)}
    assert torch.allclose(released, sphere_release_mol(times, radius, diff), atol=1e-12)


# --------------------------------------------------------------------------- scipy reference


def test_scipy_reference_matches_crank_series() -> None:
    times = np.concatenate([[0.0], np.logspace(-3, 1.5, 20)])
    released = scipy_sphere_release(times, 50.0, lambda t: 100.0)
    assert np.abs(released - crank_series_release(100.0 * times / 50.0**2)).max() < 1e-4


def test_scipy_first_order_reference_matches_closed_form() -> None:
    times = np.linspace(0.0, 10.0, 21)
    released = scipy_first_order_release(times, lambda t: 0.1 if t < 4.0 else 0.5)
    integral = 0.1 * np.minimum(times, 4.0) + 0.5 * np.maximum(times - 4.0, 0.0)
    assert np.abs(released - (1.0 - np.exp(-integral))).max() < 1e-6


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mol_matches_scipy_reference_on_random_draws(seed: int) -> None:
    rng = np.random.default_rng(seed)
    radius = float(rng.uniform(20.0, 200.0))
    d0 = float(10 ** rng.uniform(0.5, 3.0))
    growth = float(rng.uniform(0.0, 0.05))
    times = np.linspace(0.0, float(rng.uniform(1.0, 3.0)) * radius**2 / d0, 15)
    expected = scipy_sphere_release(times, radius, lambda t: d0 * math.exp(growth * t))
    released = sphere_release_mol(
        torch.tensor(times),
        torch.tensor(radius),
        lambda t_h: d0 * torch.exp(growth * t_h),
    )
    assert _err(released, expected) < 2e-3


# --------------------------------------------------------------------------- radial profiles


@pytest.mark.parametrize("method", METHODS)
def test_dense_shell_slows_release_and_matches_reference(method: str) -> None:
    radius, diffusivity = torch.tensor(50.0, dtype=F64), torch.tensor(300.0, dtype=F64)
    times = torch.linspace(0.0, 24.0, 13, dtype=F64)
    results = [
        sphere_release_mol(
            times,
            radius,
            diffusivity,
            method=method,
            radial_profile=lambda x, o=o: _shell(x, outer=o),
        )[0]
        for o in (0.05, 0.2, 1.0)
    ]
    for slow, fast in itertools.pairwise(results):
        assert torch.all(slow <= fast + 1e-12)
        assert float((fast - slow).max()) > 0.05
    expected = scipy_sphere_release(
        times.numpy(), 50.0, lambda t: 300.0, radial_profile=lambda x: _shell(x, outer=0.2)
    )
    assert _err(results[1], expected) < 2e-3


def test_profile_forms_agree_and_scale_time() -> None:
    times = torch.linspace(0.0, 20.0, 11, dtype=F64)
    radius = torch.tensor([50.0, 50.0], dtype=F64)
    diff = torch.tensor([100.0, 100.0], dtype=F64)
    centres = radial_mesh(32, dtype=F64).centres
    core_shell = torch.stack([_shell(centres, 1.0, 0.1), torch.where(centres < 0.6, 0.2, 1.0)])
    from_tensor = sphere_release_mol(times, radius, diff, radial_profile=core_shell, n_cells=32)
    from_callable = sphere_release_mol(
        times, radius, diff, radial_profile=lambda x: core_shell, n_cells=32
    )
    assert torch.equal(from_tensor, from_callable)
    # A constant profile c is the same as diffusivity c·d.
    doubled = sphere_release_mol(
        times, radius, diff, radial_profile=torch.full((32,), 2.0), n_cells=32
    )
    assert torch.allclose(
        doubled, sphere_release_mol(times, radius, 2 * diff, n_cells=32), atol=1e-12
    )


def test_operator_builder() -> None:
    volumes, conductances = sphere_diffusion_operator(16, torch.ones(3, 16, dtype=F64))
    mesh = radial_mesh(16, dtype=F64)
    assert volumes.shape == (16,) and conductances.shape == (3, 16)
    assert math.isclose(float(volumes.sum()), 1.0 / 3.0, rel_tol=1e-12)
    assert torch.allclose(conductances[0], sphere_diffusion_operator(16, dtype=F64)[1])
    assert torch.all(mesh.faces[1:] > mesh.faces[:-1])
    # Graded mesh: thinnest shell at the surface, about 1/N².
    widths = mesh.faces[1:] - mesh.faces[:-1]
    assert math.isclose(float(widths[-1]), 1 / 256, rel_tol=1e-9)


# --------------------------------------------------------------------------- batch, autograd


@pytest.mark.parametrize(
    "options",
    [{"method": "cn"}, {"method": "spectral"}, {"method": "cn", "max_theta_step": 0.01}],
)
def test_batch_equals_one_at_a_time(options: dict) -> None:
    times = torch.stack([torch.linspace(0, 10, 6), torch.linspace(0, 40, 6)]).to(F64)
    radius = torch.tensor([30.0, 90.0], dtype=F64)
    diff = torch.tensor([50.0, 200.0], dtype=F64)
    profile = torch.stack([torch.ones(24), torch.linspace(1.0, 0.2, 24)]).to(F64)
    kwargs = {**options, "n_cells": 24}
    batched = sphere_release_mol(times, radius, diff, radial_profile=profile, **kwargs)
    single = torch.cat(
        [
            sphere_release_mol(times[i], radius[i], diff[i], radial_profile=profile[i], **kwargs)
            for i in range(2)
        ]
    )
    assert torch.allclose(batched, single, atol=1e-12, rtol=0)


@pytest.mark.parametrize("method", METHODS)
def test_gradients_match_finite_differences(method: str) -> None:
    times = torch.linspace(0.0, 12.0, 7, dtype=F64)
    radius = torch.tensor([40.0, 70.0], dtype=F64, requires_grad=True)
    diff = torch.tensor([100.0, 250.0], dtype=F64, requires_grad=True)
    profile = torch.ones(2, 24, dtype=F64)
    profile[:, 18:] = 0.3
    profile.requires_grad_(True)

    def loss(r: torch.Tensor, d: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        out = sphere_release_mol(times, r, d, radial_profile=p, method=method, n_cells=24)
        return (out * torch.linspace(1.0, 2.0, 7, dtype=F64)).sum()

    grads = torch.autograd.grad(loss(radius, diff, profile), (radius, diff, profile))
    assert all(torch.isfinite(g).all() for g in grads)
    r0, d0, p0 = radius.detach(), diff.detach(), profile.detach()
    for which, base in enumerate((r0, d0, p0)):
        step = 1e-6 * float(base.abs().max())
        for index in [(0,), (1,)] if base.dim() == 1 else [(1, 20), (0, 5)]:
            bump = torch.zeros_like(base)
            bump[index] = step
            args_hi = [r0, d0, p0]
            args_lo = [r0, d0, p0]
            args_hi[which] = base + bump
            args_lo[which] = base - bump
            numeric = (loss(*args_hi) - loss(*args_lo)) / (2 * step)
            assert float(abs(grads[which][index] - numeric)) < 1e-6 * max(1.0, float(abs(numeric)))


@pytest.mark.parametrize("method", METHODS)
def test_float32_inputs(method: str) -> None:
    times = TIMES.float()
    radius = RADII.float().requires_grad_(True)
    released = sphere_release_mol(times, radius, DIFFS.float(), method=method)
    assert released.dtype == torch.float32
    assert _err(released, _series(TIMES, RADII, DIFFS)) < 1e-3
    (grad,) = torch.autograd.grad(released.sum(), radius)
    assert torch.isfinite(grad).all() and torch.all(grad < 0)


def test_zero_times_and_zero_diffusivity() -> None:
    assert torch.equal(sphere_release_mol(torch.zeros(3), 50.0, 100.0), torch.zeros(1, 3))
    released = sphere_release_mol(torch.tensor([0.0, 1.0, 2.0]), 50.0, torch.tensor([0.0, 10.0]))
    assert torch.all(released[0] == 0) and torch.all(released[1, 1:] > 0)


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"times_h": torch.tensor([0.0, 2.0, 1.0])}, "times_h"),
        ({"times_h": torch.tensor([-1.0, 2.0])}, "times_h"),
        ({"times_h": torch.zeros(2, 2, 2)}, "times_h"),
        ({"radius_nm": torch.tensor([50.0, 0.0])}, r"radius_nm=0 at index \[1\].*\(nm\)"),
        ({"radius_nm": -3.0}, "radius_nm"),
        ({"radius_nm": float("nan")}, "radius_nm"),
        ({"diffusivity_nm2_h": torch.tensor([-1.0])}, r"diffusivity_nm2_h.*nm\^2/h"),
        ({"diffusivity_nm2_h": float("inf")}, "diffusivity_nm2_h"),
        ({"diffusivity_nm2_h": lambda t: -torch.ones(1)}, r"diffusivity_nm2_h\(t\)"),
        ({"radial_profile": torch.zeros(64)}, "radial_profile"),
        ({"radial_profile": torch.ones(10)}, "radial_profile"),
        ({"radial_profile": lambda x: x - 0.5}, "radial_profile"),
        ({"radius_nm": torch.ones(2), "diffusivity_nm2_h": torch.ones(3)}, "batch sizes"),
        ({"breakpoints_h": torch.tensor([-1.0])}, "breakpoints_h"),
        ({"n_cells": 1}, "n_cells"),
        ({"mesh": "chebyshev"}, "mesh"),
        ({"method": "rk4"}, "method"),
        ({"steps_per_interval": 0}, "steps_per_interval"),
        ({"first_step_fraction": 0.0}, "first_step_fraction"),
        ({"max_theta_step": -1.0}, "max_theta_step"),
    ],
)
def test_bad_input_raises(kwargs: dict, match: str) -> None:
    args = {
        "times_h": torch.tensor([0.0, 1.0]),
        "radius_nm": torch.tensor(50.0),
        "diffusivity_nm2_h": torch.tensor(10.0),
    }
    args.update(kwargs)
    times = args.pop("times_h")
    radius = args.pop("radius_nm")
    diffusivity = args.pop("diffusivity_nm2_h")
    with pytest.raises(ValueError, match=match):
        sphere_release_mol(times, radius, diffusivity, **args)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("method", METHODS)
def test_cuda_matches_cpu(method: str) -> None:
    radius = RADII.cuda().requires_grad_(True)
    released = sphere_release_mol(TIMES.cuda(), radius, DIFFS.cuda(), method=method)
    assert released.device.type == "cuda"
    cpu = sphere_release_mol(TIMES, RADII, DIFFS, method=method)
    assert torch.allclose(released.cpu(), cpu, atol=1e-10)
    (grad,) = torch.autograd.grad(released.sum(), radius)
    assert torch.isfinite(grad).all()
