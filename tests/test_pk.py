"""Tests for nanoenv.kinetics.pk (one-compartment PK driven by a release curve)."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from nanoenv.kinetics.pk import (
    concentration_from_release,
    smooth_therapeutic_window_time,
    therapeutic_window_time,
)

D = torch.float64
DOSE, CL, V = 100.0, 5.0, 20.0  # mg, L/h, L  → k_el = 0.25 1/h
K = CL / V


def _bateman(t: torch.Tensor, ka: float) -> torch.Tensor:
    return DOSE * ka / (V * (ka - K)) * (torch.exp(-K * t) - torch.exp(-ka * t))


# ------------------------------------------------------------------------------ concentration


def test_first_order_release_matches_bateman() -> None:
    ka = 1.2
    t = torch.linspace(0.0, 24.0, 2000, dtype=D)
    c = concentration_from_release(t, 1.0 - torch.exp(-ka * t), DOSE, CL, V)
    exact = _bateman(t, ka)
    assert c.shape == (2000,)
    assert (c - exact).abs().max().item() <= 1e-3 * exact.max().item()
    peak = exact > 0.1 * exact.max()
    assert ((c - exact).abs()[peak] / exact[peak]).max().item() < 1e-3


def test_second_order_convergence_in_grid_step() -> None:
    ka = 1.2

    def err(n: int) -> float:
        t = torch.linspace(0.0, 24.0, n, dtype=D)
        c = concentration_from_release(t, 1.0 - torch.exp(-ka * t), DOSE, CL, V)
        return (c - _bateman(t, ka)).abs().max().item()

    ratio = err(101) / err(201)
    assert 3.5 < ratio < 4.5


def test_zero_order_input_is_exact_on_coarse_irregular_grid() -> None:
    tinf = 6.0  # constant-rate release over 6 h, then nothing
    t = torch.tensor([0.0, 0.7, 2.0, 6.0, 6.5, 9.0, 15.0, 24.0], dtype=D)
    f = (t / tinf).clamp(max=1.0)
    c = concentration_from_release(t, f, DOSE, CL, V)
    rate = DOSE / tinf
    during = rate * (1 - torch.exp(-K * t)) / (K * V)
    c_end = rate * (1 - math.exp(-K * tinf)) / (K * V)
    after = c_end * torch.exp(-K * (t - tinf))
    exact = torch.where(t <= tinf, during, after)
    assert torch.allclose(c, exact, rtol=0, atol=1e-10)


def test_mass_balance() -> None:
    ka = 0.8
    t = torch.linspace(0.0, 30.0, 3001, dtype=D)
    f = 0.2 + 0.8 * (1.0 - torch.exp(-ka * t))  # 20 % burst at t = 0 enters as a bolus
    c = concentration_from_release(t, f, DOSE, CL, V)
    in_body = V * c
    rate_out = CL * c  # mg/h
    eliminated = torch.cat(
        [torch.zeros(1, dtype=D), torch.cumulative_trapezoid(rate_out, t, dim=-1)]
    )
    assert in_body[0].item() == pytest.approx(0.2 * DOSE)
    assert torch.allclose(in_body + eliminated, DOSE * f, rtol=0, atol=1e-3)


def test_repeated_time_point_is_a_burst() -> None:
    t = torch.tensor([0.0, 1.0, 1.0, 3.0], dtype=D)
    f = torch.tensor([0.0, 0.0, 0.5, 0.5], dtype=D)
    c = concentration_from_release(t, f, DOSE, CL, V)
    assert c[2].item() == pytest.approx(0.5 * DOSE / V)
    assert c[3].item() == pytest.approx(0.5 * DOSE / V * math.exp(-K * 2.0))


def test_batched_parameters_match_single_runs() -> None:
    t = torch.linspace(0.0, 12.0, 50, dtype=D)
    f = torch.stack([1 - torch.exp(-0.5 * t), (t / 12.0)])
    dose = torch.tensor([100.0, 50.0], dtype=D)
    cl = torch.tensor([5.0, 2.0], dtype=D)
    v = torch.tensor([20.0, 10.0], dtype=D)
    c = concentration_from_release(t, f, dose, cl, v)
    assert c.shape == (2, 50)
    for i in range(2):
        single = concentration_from_release(t, f[i], float(dose[i]), float(cl[i]), float(v[i]))
        assert torch.allclose(c[i], single, rtol=0, atol=1e-13)
    # one curve, several patients
    assert concentration_from_release(t, f[0], DOSE, cl, V).shape == (2, 50)
    # float32 stays float32
    assert concentration_from_release(t.float(), f.float(), DOSE, CL, V).dtype == torch.float32


def test_gradcheck_concentration() -> None:
    t = torch.tensor([0.0, 0.5, 1.0, 1.0, 2.5, 4.0], dtype=D)
    f = torch.tensor([[0.0, 0.2, 0.3, 0.35, 0.7, 0.9], [0.1, 0.1, 0.4, 0.5, 0.6, 1.0]], dtype=D)
    args = (
        f.requires_grad_(True),
        torch.tensor([100.0, 80.0], dtype=D, requires_grad=True),
        torch.tensor([5.0, 0.001], dtype=D, requires_grad=True),  # tiny k·Δ → series branch
        torch.tensor([20.0, 30.0], dtype=D, requires_grad=True),
    )
    assert torch.autograd.gradcheck(lambda *a: concentration_from_release(t, *a), args)


# ------------------------------------------------------------------------------ window time


def test_window_time_hand_built_curve() -> None:
    # C: 0 → 4 over [0, 2], 4 → 10 over [2, 4], flat 10 over [4, 5], 10 → 0 over [5, 10]
    t = torch.tensor([0.0, 2.0, 4.0, 5.0, 10.0], dtype=D)
    c = torch.tensor([0.0, 4.0, 10.0, 10.0, 0.0], dtype=D)
    # window [2, 8]: rising crossings at t=1 (C=2) and t=10/3 (C=8); falling at
    # t=5+5·(2/10)=6 (C=8) and t=5+5·(8/10)=9 (C=2)
    expected = (10.0 / 3.0 - 1.0) + (9.0 - 6.0)
    assert therapeutic_window_time(t, c, 2.0, 8.0).item() == pytest.approx(expected)
    # flat segment at exactly MTC counts as inside; window [2, 10]
    expected = (4.0 - 1.0) + 1.0 + (9.0 - 5.0)
    assert therapeutic_window_time(t, c, 2.0, 10.0).item() == pytest.approx(expected)
    # window never reached
    assert therapeutic_window_time(t, c, 11.0, 12.0).item() == 0.0


def test_window_time_batched() -> None:
    t = torch.tensor([0.0, 2.0, 4.0, 5.0, 10.0], dtype=D)
    c = torch.tensor([0.0, 4.0, 10.0, 10.0, 0.0], dtype=D)
    mec = torch.tensor([2.0, 2.0], dtype=D)
    mtc = torch.tensor([8.0, 10.0], dtype=D)
    out = therapeutic_window_time(t, c, mec, mtc)
    assert out.shape == (2,)
    assert out[0].item() == pytest.approx(therapeutic_window_time(t, c, 2.0, 8.0).item())
    assert out[1].item() == pytest.approx(therapeutic_window_time(t, c, 2.0, 10.0).item())
    both = therapeutic_window_time(t, torch.stack([c, 0.5 * c]), 2.0, 8.0)
    assert both[1].item() == pytest.approx(therapeutic_window_time(t, 0.5 * c, 2.0, 8.0).item())


def test_smooth_window_approaches_hard_version() -> None:
    def errors(n: int, sharpness: tuple[float, ...]) -> list[float]:
        t = torch.linspace(0.0, 24.0, n, dtype=D)
        c = _bateman(t, 1.2)  # peak ≈ 3.3 mg/L: four crossings of the window [1, 3]
        hard = therapeutic_window_time(t, c, 1.0, 3.0).item()
        return [
            abs(smooth_therapeutic_window_time(t, c, 1.0, 3.0, s).item() - hard) for s in sharpness
        ]

    # the edge softness dominates while s is large ...
    coarse = errors(2001, (0.3, 0.1, 0.03, 0.01))
    assert all(a > b for a, b in itertools.pairwise(coarse))
    # ... and as s → 0 only the trapezoid of the indicator remains: at most half a grid
    # step per crossing, vanishing as the grid is refined
    step = 24.0 / 2000
    sharp = errors(2001, (1e-6,))[0]
    assert sharp <= 4 * step / 2
    assert errors(20001, (1e-7,))[0] < sharp / 5


def test_gradcheck_smooth_window() -> None:
    t = torch.tensor([0.0, 1.0, 2.0, 4.0, 8.0], dtype=D)
    c = torch.tensor([[0.0, 2.5, 4.0, 3.0, 1.0], [1.0, 1.5, 2.0, 2.5, 3.0]], dtype=D)
    args = (
        c.requires_grad_(True),
        torch.tensor(1.5, dtype=D, requires_grad=True),
        torch.tensor(3.5, dtype=D, requires_grad=True),
        torch.tensor(0.3, dtype=D, requires_grad=True),
    )
    assert torch.autograd.gradcheck(lambda *a: smooth_therapeutic_window_time(t, *a), args)


def test_end_to_end_gradient_through_pk_and_window() -> None:
    ka = torch.tensor(1.0, dtype=D, requires_grad=True)
    t = torch.linspace(0.0, 24.0, 200, dtype=D)
    c = concentration_from_release(t, 1.0 - torch.exp(-ka * t), DOSE, CL, V)
    smooth_therapeutic_window_time(t, c, 1.0, 3.0, 0.05).backward()
    assert torch.isfinite(ka.grad) and ka.grad.item() != 0.0


# ------------------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"dose_mg": -1.0}, r"dose_mg=-1 .*\[0, inf\] \(mg\)"),
        ({"clearance_l_h": 0.0}, r"clearance_l_h=0 .*\(L/h\)"),
        ({"volume_l": torch.tensor([20.0, -2.0])}, r"volume_l=-2 at index \[1\].*\(L\)"),
        ({"volume_l": float("nan")}, r"volume_l must be a finite number"),
        ({"dose_mg": torch.ones(2, 2)}, r"dose_mg must be a number or a 1-D"),
        (
            {"dose_mg": torch.ones(3), "clearance_l_h": torch.ones(2)},
            r"batch sizes do not match: .*dose_mg \(3,\), clearance_l_h \(2,\)",
        ),
    ],
)
def test_bad_parameters_rejected(kwargs: dict, pattern: str) -> None:
    t = torch.linspace(0.0, 4.0, 5)
    args = {"dose_mg": DOSE, "clearance_l_h": CL, "volume_l": V, **kwargs}
    with pytest.raises(ValueError, match=pattern):
        concentration_from_release(t, t / 4.0, **args)


def test_bad_times_and_release_rejected() -> None:
    f = torch.tensor([0.0, 0.5, 1.0])
    with pytest.raises(ValueError, match="sorted"):
        concentration_from_release(torch.tensor([0.0, 2.0, 1.0]), f, DOSE, CL, V)
    with pytest.raises(ValueError, match=r"times_h=-1"):
        concentration_from_release(torch.tensor([-1.0, 0.0, 1.0]), f, DOSE, CL, V)
    with pytest.raises(ValueError, match="divide percent"):
        concentration_from_release(torch.tensor([0.0, 1.0, 2.0]), 100 * f, DOSE, CL, V)
    with pytest.raises(ValueError, match="same number of time points"):
        concentration_from_release(torch.tensor([0.0, 1.0]), f, DOSE, CL, V)


def test_bad_window_rejected() -> None:
    t = torch.tensor([0.0, 1.0, 2.0])
    c = torch.tensor([0.0, 2.0, 1.0])
    with pytest.raises(ValueError, match=r"mec must be smaller than mtc.*mec=3, mtc=2"):
        therapeutic_window_time(t, c, 3.0, 2.0)
    with pytest.raises(ValueError, match=r"mec=-1 .*\(mg/L\)"):
        therapeutic_window_time(t, c, -1.0, 2.0)
    with pytest.raises(ValueError, match=r"sharpness=0 .*\(mg/L\)"):
        smooth_therapeutic_window_time(t, c, 1.0, 2.0, 0.0)
    with pytest.raises(ValueError, match=r"batch sizes.*curves \(2,\).*mec \(3,\)"):
        therapeutic_window_time(t, torch.stack([c, c]), torch.ones(3), 5.0)
    with pytest.raises(ValueError, match=r"mec with shape \(3,\) and mtc with shape \(2,\)"):
        therapeutic_window_time(t, c, torch.ones(3), torch.full((2,), 5.0))
    with pytest.raises(ValueError, match="conc must be a finite number"):
        therapeutic_window_time(t, torch.tensor([0.0, float("nan"), 1.0]), 1.0, 2.0)
