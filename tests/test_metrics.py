"""Tests for nanoenv.metrics (f2, f1, RMSE, MAE, MDT, DE)."""

from __future__ import annotations

import math

import pytest
import torch

from nanoenv.metrics import (
    dissolution_efficiency,
    f1_difference,
    f2_similarity,
    mae,
    mean_dissolution_time,
    rmse,
)

D = torch.float64


def _curves() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    t = torch.tensor([0.0, 1.0, 2.0, 4.0, 8.0, 12.0], dtype=D)
    a = 1.0 - torch.exp(-0.3 * t)
    b = 1.0 - torch.exp(-0.5 * t)
    return t, a, b


# ------------------------------------------------------------------------------ f2 / f1


def test_f2_identical_is_exactly_100() -> None:
    _, a, _ = _curves()
    assert f2_similarity(a, a).item() == 100.0
    assert f2_similarity(a.float(), a.float()).item() == 100.0


def test_f2_constant_ten_point_difference() -> None:
    ref = torch.tensor([0.10, 0.30, 0.50, 0.70], dtype=D)
    expected = 50.0 * math.log10(100.0 / math.sqrt(1.0 + 100.0))  # ≈ 49.89
    assert f2_similarity(ref + 0.10, ref).item() == pytest.approx(expected, abs=1e-12)
    assert expected == pytest.approx(49.892, abs=1e-3)


def test_f2_hand_computed_mixed_differences() -> None:
    pred = torch.tensor([0.20, 0.50, 0.90], dtype=D)
    target = torch.tensor([0.25, 0.45, 0.80], dtype=D)
    msd = (5.0**2 + 5.0**2 + 10.0**2) / 3.0  # percent²
    expected = 50.0 * math.log10(100.0 / math.sqrt(1.0 + msd))
    assert f2_similarity(pred, target).item() == pytest.approx(expected, abs=1e-12)


def test_f2_symmetric_and_batched_equals_single() -> None:
    _, a, b = _curves()
    assert f2_similarity(a, b).item() == pytest.approx(f2_similarity(b, a).item(), abs=1e-12)
    batch = torch.stack([a, b, 0.5 * a])
    out = f2_similarity(batch, b)
    assert out.shape == (3,)
    for i in range(3):
        assert out[i].item() == pytest.approx(f2_similarity(batch[i], b).item(), abs=1e-12)


def test_f2_weights_mask_selects_points() -> None:
    _, a, b = _curves()
    mask = torch.tensor([0, 1, 1, 1, 0, 0], dtype=D)
    assert f2_similarity(a, b, mask).item() == pytest.approx(
        f2_similarity(a[1:4], b[1:4]).item(), abs=1e-12
    )


def test_f1_hand_computed_and_asymmetric() -> None:
    pred = torch.tensor([0.20, 0.50, 0.90], dtype=D)
    target = torch.tensor([0.25, 0.45, 0.80], dtype=D)
    expected = 100.0 * (0.05 + 0.05 + 0.10) / (0.25 + 0.45 + 0.80)
    assert f1_difference(pred, target).item() == pytest.approx(expected, abs=1e-12)
    assert f1_difference(target, pred).item() != pytest.approx(expected, abs=1e-6)
    assert f1_difference(target, target).item() == 0.0


def test_f1_zero_reference_is_finite() -> None:
    zero = torch.zeros(4, dtype=D)
    assert f1_difference(zero, zero).item() == 0.0
    assert math.isfinite(f1_difference(zero + 0.1, zero).item())


# ------------------------------------------------------------------------------ RMSE / MAE


def test_rmse_mae_hand_computed() -> None:
    pred = torch.tensor([[0.1, 0.4, 0.8]], dtype=D)
    target = torch.tensor([0.0, 0.5, 0.5], dtype=D)
    assert rmse(pred, target).item() == pytest.approx(math.sqrt((0.01 + 0.01 + 0.09) / 3))
    assert mae(pred, target).item() == pytest.approx((0.1 + 0.1 + 0.3) / 3)
    assert rmse(pred, target).shape == (1,)


def test_rmse_gradient_finite_at_perfect_fit() -> None:
    a = torch.tensor([0.1, 0.5, 0.9], dtype=D, requires_grad=True)
    rmse(a, a.detach()).backward()
    assert torch.isfinite(a.grad).all()


def test_gradcheck_f2_rmse_f1_mae() -> None:
    _, a, b = _curves()
    pred = torch.stack([a, 0.8 * b]).requires_grad_(True)
    target = b.clone().requires_grad_(True)
    for fn in (f2_similarity, rmse, f1_difference, mae):
        assert torch.autograd.gradcheck(fn, (pred, target))


# ------------------------------------------------------------------------------ MDT / DE


def test_mdt_hand_computed() -> None:
    t = torch.tensor([0.0, 1.0, 3.0], dtype=D)
    f = torch.tensor([0.0, 0.4, 1.0], dtype=D)
    # midpoints 0.5, 2.0; increments 0.4, 0.6
    assert mean_dissolution_time(t, f).item() == pytest.approx(0.5 * 0.4 + 2.0 * 0.6)


def test_mdt_first_order_matches_analytic() -> None:
    k, tend = 0.4, 20.0
    t = torch.linspace(0.0, tend, 4001, dtype=D)
    f = 1.0 - torch.exp(-k * t)
    # ∫ t dF / ∫ dF on [0, tend] for F = 1 − e^{−kt}
    expected = (-tend * math.exp(-k * tend) + (1 - math.exp(-k * tend)) / k) / (
        1 - math.exp(-k * tend)
    )
    assert mean_dissolution_time(t, f).item() == pytest.approx(expected, rel=1e-6)


def test_de_hand_and_analytic() -> None:
    t = torch.tensor([0.0, 2.0, 4.0], dtype=D)
    f = torch.tensor([0.0, 0.5, 1.0], dtype=D)
    assert dissolution_efficiency(t, f).item() == pytest.approx(0.5)

    k, tend = 0.4, 10.0
    t = torch.linspace(0.0, tend, 2001, dtype=D)
    f = 1.0 - torch.exp(-k * t)
    expected = 1.0 - (1.0 - math.exp(-k * tend)) / (k * tend)
    assert dissolution_efficiency(t, f).item() == pytest.approx(expected, rel=1e-6)


def test_mdt_de_batched_times_and_curves() -> None:
    t, a, b = _curves()
    batch = torch.stack([a, b])
    times = torch.stack([t, 2 * t])
    for fn in (mean_dissolution_time, dissolution_efficiency):
        out = fn(times, batch)
        assert out.shape == (2,)
        assert out[1].item() == pytest.approx(fn(2 * t, b).item(), abs=1e-12)
        assert fn(t, batch)[0].item() == pytest.approx(fn(t, a).item(), abs=1e-12)


def test_gradcheck_mdt_de() -> None:
    t, a, b = _curves()
    release = torch.stack([a, b]).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda f: mean_dissolution_time(t, f), (release,))
    assert torch.autograd.gradcheck(lambda f: dissolution_efficiency(t, f), (release,))


# ------------------------------------------------------------------------------ errors


def test_percent_input_rejected_with_hint() -> None:
    _, a, b = _curves()
    with pytest.raises(ValueError, match=r"fractions.*divide percent values by 100"):
        f2_similarity(100 * a, b)
    with pytest.raises(ValueError, match="target"):
        rmse(a, 100 * b)
    t, _, _ = _curves()
    with pytest.raises(ValueError, match="divide percent"):
        dissolution_efficiency(t, 100 * a)


def test_nan_rejected() -> None:
    _, a, b = _curves()
    a = a.clone()
    a[2] = float("nan")
    with pytest.raises(ValueError, match="pred must be a finite number"):
        f2_similarity(a, b)


def test_non_broadcasting_shapes_rejected() -> None:
    with pytest.raises(ValueError, match=r"\(2, 5\).*\(3, 5\)"):
        mae(torch.zeros(2, 5), torch.zeros(3, 5))
    with pytest.raises(ValueError, match=r"times_h with shape \(4,\).*release.*\(2, 5\)"):
        dissolution_efficiency(torch.arange(4.0), torch.zeros(2, 5))
    with pytest.raises(ValueError, match="same number of time points"):
        dissolution_efficiency(torch.zeros(1), torch.zeros(2, 5))


def test_bad_times_and_flat_curve_rejected() -> None:
    with pytest.raises(ValueError, match="sorted"):
        mean_dissolution_time(torch.tensor([0.0, 2.0, 1.0]), torch.tensor([0.0, 0.5, 1.0]))
    with pytest.raises(ValueError, match="net positive release"):
        mean_dissolution_time(torch.tensor([0.0, 1.0]), torch.tensor([0.3, 0.3]))
    flat = mean_dissolution_time(torch.tensor([0.0, 1.0]), torch.tensor([0.3, 0.3]), validate=False)
    assert flat.item() == 0.0


def test_bad_weights_rejected() -> None:
    _, a, b = _curves()
    with pytest.raises(ValueError, match="non-negative"):
        f2_similarity(a, b, -torch.ones(6, dtype=D))
    with pytest.raises(ValueError, match="positive sum"):
        f2_similarity(a, b, torch.zeros(6, dtype=D))


def test_validate_false_skips_checks() -> None:
    _, a, b = _curves()
    # percent inputs pass silently without validation (caller's responsibility)
    assert torch.isfinite(f2_similarity(100 * a, 100 * b, validate=False))
