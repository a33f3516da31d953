"""Each release law against its analytic definition."""

import math

import numpy as np
import pytest
import torch
from scipy import integrate

from nanoenv.kinetics import mechanisms as mech
from nanoenv.kinetics.time_change import integrate_piecewise, integrate_piecewise_exponential


def crank_series(theta: torch.Tensor, terms: int = 400) -> torch.Tensor:
    n = torch.arange(1, terms + 1, dtype=torch.float64)
    series = torch.exp(-(n**2) * math.pi**2 * theta[:, None]) / n**2
    return 1 - 6 / math.pi**2 * series.sum(1)


def crank_short_time_with_images(theta: torch.Tensor) -> torch.Tensor:
    x = 1 / torch.sqrt(theta)
    ierfc = torch.exp(-x * x) / math.sqrt(math.pi) - x * torch.erfc(x)
    return 6 * torch.sqrt(theta) * (1 / math.sqrt(math.pi) + 2 * ierfc) - 3 * theta


def test_fickian_hybrid_matches_crank_to_1e_8_in_float64():
    theta = torch.logspace(-10, 1.5, 5000, dtype=torch.float64)
    # the 400-term series is itself inaccurate for tiny θ; there the short-time form with
    # its first image term is exact to far below 1e-12
    reference = torch.where(theta < 1e-3, crank_short_time_with_images(theta), crank_series(theta))
    error = (mech.fickian_sphere_fraction(theta) - reference).abs().max().item()
    assert error < 1e-8


def test_fickian_mean_release_time_is_r2_over_15d():
    # ∫(1 − F) dt with θ = D t / R²  →  R²/(15 D);  in θ units: 1/15
    value, _ = integrate.quad(
        lambda th: 1 - mech.fickian_sphere_fraction(torch.tensor(th, dtype=torch.float64)).item(),
        0,
        5,
        limit=200,
        points=[mech.SHORT_TIME_THETA],
    )
    assert value == pytest.approx(1 / 15, rel=1e-7)


def test_fickian_is_zero_at_zero_with_finite_gradient():
    theta = torch.tensor([0.0, 1e-6, 0.01, 0.2, 3.0], dtype=torch.float64, requires_grad=True)
    f = mech.fickian_sphere_fraction(theta)
    f.sum().backward()
    assert f[0].item() == 0.0
    assert torch.isfinite(theta.grad).all()
    interior = torch.tensor([1e-3, 0.01, 0.05, 0.06, 0.2, 3.0], dtype=torch.float64)
    assert torch.autograd.gradcheck(mech.fickian_sphere_fraction, (interior.requires_grad_(),))


def test_baker_lonsdale_root_satisfies_its_equation():
    x = torch.linspace(1e-4, 0.4999, 500, dtype=torch.float64)
    f = mech.baker_lonsdale_fraction(x)
    lhs = 1.5 * (1 - (1 - f) ** (2 / 3)) - f
    assert torch.allclose(lhs, x, atol=1e-10)
    assert mech.baker_lonsdale_fraction(torch.tensor([0.0, 0.5, 2.0])).tolist() == [0.0, 1.0, 1.0]
    assert (f.diff() > 0).all()


def test_erosion_is_zero_at_start_monotone_and_complete():
    k = torch.linspace(0, 30, 300, dtype=torch.float64)
    for critical in (-3.0, 0.5, 2.0, 5.0):
        s = mech.erosion_fraction(k, torch.tensor(critical, dtype=torch.float64), 0.35)
        assert s[0].item() == pytest.approx(0.0, abs=1e-15)
        assert (s.diff() >= 0).all()
        assert s[-1].item() > 0.999


def test_time_change_constant_and_exponential_match_quadrature():
    starts = torch.tensor([[0.0]], dtype=torch.float64)
    d0, k = 3.0, 0.05
    times = torch.tensor([0.0, 1.0, 10.0, 100.0], dtype=torch.float64)
    tau, log_mw = integrate_piecewise_exponential(
        starts,
        torch.tensor([[d0]], dtype=torch.float64),
        torch.tensor([[k]], dtype=torch.float64),
        times,
    )
    exact = d0 * (np.exp(k * times.numpy()) - 1) / k
    np.testing.assert_allclose(tau[0].numpy(), exact, rtol=1e-12)
    np.testing.assert_allclose(log_mw[0].numpy(), k * times.numpy(), rtol=1e-12)
    tau0, _ = integrate_piecewise_exponential(
        starts, torch.tensor([[d0]]).double(), torch.tensor([[0.0]]).double(), times
    )
    np.testing.assert_allclose(tau0[0].numpy(), d0 * times.numpy(), rtol=1e-12)


def test_time_change_piecewise_schedule_matches_quadrature():
    # a repeated start makes the earlier segment zero-length: the later one is in force
    starts = torch.tensor([[0.0, 5.0, 5.0, 20.0]], dtype=torch.float64)
    amp = torch.tensor([[2.0, 1e6, 7.0, 0.5], [1.0, 1.0, 1.0, 1.0]], dtype=torch.float64)
    growth = torch.tensor([[0.01, 5.0, 0.2, 0.0], [0.0, 0.0, 0.0, 0.0]], dtype=torch.float64)
    times = torch.tensor([0.0, 2.5, 5.0, 12.0, 20.0, 31.0], dtype=torch.float64)
    tau, log_mw = integrate_piecewise_exponential(starts, amp, growth, times)

    def piece(values, t):
        edges = [0.0, 5.0, 20.0]
        which = [0, 2, 3]
        j = max(i for i, e in enumerate(edges) if t >= e)
        return values[which[j]]

    for b in range(2):
        a, g = amp[b].tolist(), growth[b].tolist()
        for i, t in enumerate(times.tolist()):
            k_of = lambda s, g=g: integrate.quad(lambda u: piece(g, u), 0, s, points=[5, 20])[0]  # noqa: E731
            expected = integrate.quad(
                lambda s, a=a, k_of=k_of: piece(a, s) * math.exp(k_of(s)), 0, t, points=[5, 20]
            )[0]
            assert tau[b, i].item() == pytest.approx(expected, rel=1e-8, abs=1e-12)
            assert log_mw[b, i].item() == pytest.approx(k_of(t), rel=1e-10, abs=1e-12)
    linear = integrate_piecewise(starts, amp, times)
    assert linear[1, -1].item() == pytest.approx(31.0)
    assert linear[0, 3].item() == pytest.approx(2 * 5 + 7 * 7)  # 1e6 lasts 0 h


def test_drug_charge_follows_henderson_hasselbalch():
    ph = torch.tensor([6.3, 7.3, 8.3])
    base = mech.drug_net_charge(ph, torch.tensor(8.3), torch.tensor(1.0))
    acid = mech.drug_net_charge(ph, torch.tensor(6.3), torch.tensor(-1.0))
    neutral = mech.drug_net_charge(ph, torch.tensor(7.0), torch.tensor(0.0))
    assert base.tolist() == pytest.approx([100 / 101, 10 / 11, 0.5], rel=1e-5)
    assert acid.tolist() == pytest.approx([-0.5, -10 / 11, -100 / 101], rel=1e-5)
    assert neutral.abs().max().item() == 0.0


def test_gates_are_inert_without_responsive_component():
    openness = mech.ph_gate(torch.tensor([5.0, 7.4]), torch.tensor(6.3), 0.25)
    assert mech.stimulus_gain(torch.tensor(0.0), openness, 30.0).tolist() == [1.0, 1.0]
    gain = mech.stimulus_gain(torch.tensor(1.0), openness, 30.0)
    assert gain[0] > 25 and gain[1] < 1.5  # σ((6.3 − 7.4)/0.25) ≈ 0.012


def test_liposome_permeability_peaks_at_tm():
    temps = torch.linspace(20, 60, 401)
    p = mech.liposome_permeability_nm_h(
        temps,
        torch.tensor(41.0),
        gel_nm_h=0.2,
        fluid_ratio=20.0,
        peak_ratio=500.0,
        transition_width_c=1.5,
        peak_width_c=2.0,
    )
    assert abs(temps[p.argmax()].item() - 41.0) < 0.5
    assert p[-1] > p[0]  # fluid leaks more than gel


def test_baker_lonsdale_small_x_branch_is_continuous_with_finite_gradients():
    for dtype in (torch.float32, torch.float64):
        x = torch.tensor([1e-12, 1e-9, 3e-8, 9.9e-7, 1e-6, 1.1e-6], dtype=dtype, requires_grad=True)
        f = mech.baker_lonsdale_fraction(x)
        f.sum().backward()
        assert torch.isfinite(x.grad).all() and (x.grad > 0).all()
        lhs = 1.5 * (1 - (1 - f.detach().double()) ** (2 / 3)) - f.detach().double()
        tol = 1e-12 if dtype == torch.float64 else 1e-7
        assert torch.allclose(lhs, x.detach().double(), atol=tol)


# -- physics v2 (issue 14) ---------------------------------------------------------------------
def test_ionised_solubility_follows_henderson_hasselbalch():
    ph = torch.tensor([5.0, 7.4, 9.0], dtype=torch.float64)
    d = torch.float64
    base = mech.ionised_solubility_factor(
        ph, torch.tensor(8.3, dtype=d), torch.tensor(1.0, dtype=d)
    )
    expected = (1 + 10 ** (8.3 - ph)) / (1 + 10 ** (8.3 - 7.4))
    torch.testing.assert_close(base, expected, rtol=1e-12, atol=0)
    acid = mech.ionised_solubility_factor(
        ph, torch.tensor(4.91, dtype=d), torch.tensor(-1.0, dtype=d)
    )
    torch.testing.assert_close(acid, (1 + 10 ** (ph - 4.91)) / (1 + 10 ** (7.4 - 4.91)))
    neutral = mech.ionised_solubility_factor(
        ph, torch.tensor(8.3, dtype=d), torch.tensor(0.0, dtype=d)
    )
    assert torch.all(neutral == 1.0)
    assert base[0] > 200  # doxorubicin ~220× more soluble at pH 5 than at 7.4


def test_cholesterol_and_lysolipid_shares_have_their_limits():
    x = torch.tensor([0.0, 0.45], dtype=torch.float64)
    share = mech.cholesterol_transition_share(x, 0.1)
    assert share[0] == 1.0 and share[1] == pytest.approx(math.exp(-4.5))
    lyso = mech.lysolipid_pore_share(
        torch.tensor([0.0, 0.03, 10.0], dtype=torch.float64), max_share=0.9, half_fraction=0.03
    )
    torch.testing.assert_close(lyso, torch.tensor([0.0, 0.45, 0.9], dtype=torch.float64))
    # the Tm peak is scaled by the share; the gel value is not
    gel = mech.liposome_permeability_nm_h(
        torch.tensor(20.0),
        torch.tensor(50.0),
        gel_nm_h=0.2,
        fluid_ratio=20.0,
        peak_ratio=500.0,
        transition_width_c=1.5,
        peak_width_c=2.0,
        transition_share=0.0,
    )
    assert gel.item() == pytest.approx(0.2)


def test_magnetic_heating_is_h2_then_saturates_and_peaks_in_loss_at_the_relaxation_frequency():
    kw = {"max_rise_c": 40.0, "saturation_field_ka_m": 20.0, "relaxation_time_us": 1.59}
    h = torch.tensor([1.0, 2.0, 20.0, 2000.0], dtype=torch.float64)
    dt = mech.magnetic_heating_c(torch.tensor(1.0), h, torch.tensor(100.0), **kw)
    assert dt[1] / dt[0] == pytest.approx(4.0, rel=1e-2)  # linear response: ∝ H²
    assert dt[2].item() == pytest.approx(20.0, rel=1e-3)  # half of ΔT_max at H_s, f_ref
    assert dt[3].item() == pytest.approx(40.0, rel=1e-3)  # saturated
    f = torch.logspace(0, 4, 400, dtype=torch.float64)
    per_cycle = mech.magnetic_heating_c(torch.tensor(1.0), torch.tensor(20.0), f, **kw) / f
    peak = f[per_cycle.argmax()].item()
    assert peak == pytest.approx(1e-3 / (2 * math.pi * 1.59e-6), rel=0.05)  # χ'' peak, kHz


def test_new_laws_have_correct_gradients_in_float64():
    x = torch.tensor([0.02, 0.3], dtype=torch.float64, requires_grad=True)
    theta = torch.tensor([1e-3, 0.019, 0.021, 0.04, 0.06, 0.4], dtype=torch.float64)
    theta.requires_grad_(True)
    checks = [
        (lambda t: mech.fickian_cylinder_fraction(t), (theta,)),
        (lambda t: mech.fickian_slab_fraction(t), (theta,)),
        (lambda t: mech.fickian_finite_cylinder_fraction(t, 2 * t), (theta,)),
        (lambda t: mech.higuchi_slab_fraction(t), (theta,)),
        (lambda c: mech.cholesterol_transition_share(c, 0.1), (x,)),
        (lambda c: mech.lysolipid_pore_share(c, max_share=0.9, half_fraction=0.03), (x,)),
        (
            lambda p: mech.ionised_solubility_factor(p * 20, torch.tensor(8.3), torch.tensor(1.0)),
            (x,),
        ),
        (
            lambda h: mech.magnetic_heating_c(
                torch.tensor(0.3),
                100 * h,
                100 / h,
                max_rise_c=40.0,
                saturation_field_ka_m=20.0,
                relaxation_time_us=1.59,
            ),
            (x,),
        ),
    ]
    for fn, inputs in checks:
        assert torch.autograd.gradcheck(fn, inputs, eps=1e-7, atol=1e-7, rtol=1e-5)
