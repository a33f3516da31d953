"""Tests for the batched empirical release models and their fitting (DDSolver-style)."""

from __future__ import annotations

import math

import pytest
import torch

from nanoenv.analysis.empirical import (
    EMPIRICAL_MODELS,
    EmpiricalFit,
    EmpiricalModel,
    best_by_aic,
    first_order,
    fit_all,
    fit_empirical,
    get_model,
    higuchi,
    hopfenberg,
    hopfenberg_model,
    korsmeyer_peppas,
    peppas_sahlin,
    weibull,
)

F64 = torch.float64


pytestmark = pytest.mark.usefixtures("one_torch_thread")


# a typical dissolution sampling schedule (h)
T_H = torch.tensor(
    [0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 10.0, 12.0, 16.0, 20.0, 24.0], dtype=F64
)
# generating parameters, 4 curves per model, deliberately off the initial-guess grids
TRUE: dict[str, list[list[float]]] = {
    "first_order": [[0.13], [0.37], [0.83], [2.2]],
    "higuchi": [[0.053], [0.11], [0.17], [0.21]],
    "korsmeyer_peppas": [[0.11, 0.53], [0.052, 0.74], [0.21, 0.31], [0.033, 0.93]],
    "weibull": [[5.3, 1.7], [2.2, 0.66], [31.0, 2.6], [1.3, 1.1]],
    "hopfenberg": [[0.013], [0.031], [0.052], [0.11]],
    "peppas_sahlin": [
        [0.10, 0.012, 0.47],
        [0.15, -0.005, 0.52],
        [0.05, 0.021, 0.38],
        [0.08, 0.003, 0.43],
    ],
}
# lag times (h), not on sampling times (the SSR has kinks there)
TLAG = [0.3, 0.7, 1.2, 2.6]


def _params(name: str, lag: bool) -> torch.Tensor:
    p = torch.tensor(TRUE[name], dtype=F64)
    if lag:
        p = torch.cat([p, torch.tensor(TLAG, dtype=F64)[:, None]], dim=1)
    return p


def _noisy(clean: torch.Tensor, sd: float, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return clean + sd * torch.randn(clean.shape, generator=g, dtype=F64)


def _sse(spec: EmpiricalModel, params: torch.Tensor, release: torch.Tensor) -> torch.Tensor:
    return ((spec.evaluate(params, T_H) - release) ** 2).sum(-1)


# --------------------------------------------------------------------------------------
# model functions
# --------------------------------------------------------------------------------------


def test_registry_has_the_six_models_with_consistent_specs() -> None:
    assert list(EMPIRICAL_MODELS) == [
        "first_order",
        "higuchi",
        "korsmeyer_peppas",
        "weibull",
        "hopfenberg",
        "peppas_sahlin",
    ]
    for name, spec in EMPIRICAL_MODELS.items():
        assert spec.name == name
        assert len(spec.units) == len(spec.bounds) == len(spec.log_scale) == spec.n_params
        assert spec.names(lag=True) == (*spec.param_names, "tlag")
        assert spec.param_units(lag=True)[-1] == "h"
        assert get_model(name) is spec and get_model(spec) is spec


def test_closed_forms_match_hand_computed_values() -> None:
    t = torch.tensor([0.0, 1.0, 4.0, 9.0], dtype=F64)
    torch.testing.assert_close(first_order(t, 0.5), 1 - torch.exp(-0.5 * t))
    torch.testing.assert_close(higuchi(t, 0.1), 0.1 * t.sqrt())
    torch.testing.assert_close(korsmeyer_peppas(t, 0.2, 0.45), 0.2 * t**0.45)
    torch.testing.assert_close(weibull(t, 3.0, 1.5), 1 - torch.exp(-(t**1.5) / 3.0))
    torch.testing.assert_close(
        hopfenberg(t, 0.1), torch.tensor([0.0, 1 - 0.9**3, 1 - 0.6**3, 1 - 0.1**3], dtype=F64)
    )
    torch.testing.assert_close(
        hopfenberg(t, 0.1, n=1.0), torch.tensor([0.0, 0.1, 0.4, 0.9], dtype=F64)
    )
    torch.testing.assert_close(
        peppas_sahlin(t, 0.1, -0.01, 0.5), 0.1 * t**0.5 - 0.01 * t, atol=1e-15, rtol=0
    )
    # Hopfenberg saturates at 1 once kHB t >= 1
    assert hopfenberg(torch.tensor([10.0, 50.0]), 0.1).tolist() == [1.0, 1.0]


@pytest.mark.parametrize("name", list(EMPIRICAL_MODELS))
def test_lag_time_shifts_the_curve_and_zeroes_it_before_tlag(name: str) -> None:
    spec = EMPIRICAL_MODELS[name]
    p = _params(name, lag=False)[:1]
    tlag = 1.7
    t = torch.tensor([0.0, 1.0, 1.7, 2.0, 5.0, 12.0], dtype=F64)
    with_lag = spec.evaluate(torch.cat([p, torch.tensor([[tlag]], dtype=F64)], 1), t)
    assert with_lag[0, :3].tolist() == [0.0, 0.0, 0.0]
    torch.testing.assert_close(with_lag[:, 3:], spec.evaluate(p, t[3:] - tlag))


@pytest.mark.parametrize("name", list(EMPIRICAL_MODELS))
def test_evaluate_matches_plain_function_and_broadcasts(name: str) -> None:
    spec = EMPIRICAL_MODELS[name]
    p = _params(name, lag=True)
    out = spec.evaluate(p, T_H)
    assert out.shape == (4, T_H.numel())
    cols = [c[:, None] for c in p.unbind(-1)]
    torch.testing.assert_close(out, spec.fn(T_H, *cols[:-1], cols[-1]))
    # (B, T) times give the same as (T,) times repeated
    torch.testing.assert_close(spec.evaluate(p, T_H.expand(4, -1)), out)


@pytest.mark.parametrize("name", list(EMPIRICAL_MODELS))
def test_gradients_finite_at_t0_and_at_tlag(name: str) -> None:
    spec = EMPIRICAL_MODELS[name]
    for lag in (False, True):
        p = _params(name, lag).clone().requires_grad_(True)
        tl = torch.tensor(TLAG, dtype=F64)[:, None] if lag else torch.zeros(4, 1, dtype=F64)
        # t = 0, t = tlag exactly, and points on either side
        t = torch.cat([torch.zeros(4, 1, dtype=F64), tl, tl + 0.5, tl + 3.0], dim=1)
        t.requires_grad_(True)
        out = spec.evaluate(p, t)
        assert torch.isfinite(out).all()
        grad_p, grad_t = torch.autograd.grad(out.sum(), (p, t))
        assert torch.isfinite(grad_p).all(), (name, lag, grad_p)
        assert torch.isfinite(grad_t).all(), (name, lag, grad_t)
        assert (grad_p.abs().sum(0) > 0).all()  # every parameter does influence the curve


@pytest.mark.parametrize("name", list(EMPIRICAL_MODELS))
def test_gradcheck_at_interior_points(name: str) -> None:
    spec = EMPIRICAL_MODELS[name]
    p = _params(name, lag=True)[:2].clone().requires_grad_(True)
    # strictly after the lag, and before Hopfenberg's full erosion (kHB (t - tlag) < 1)
    t = (p[:, -1:].detach() + torch.tensor([0.4, 1.3, 3.7], dtype=F64)).requires_grad_(True)
    assert torch.autograd.gradcheck(spec.evaluate, (p, t))


# --------------------------------------------------------------------------------------
# fitting
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("lag", [False, True], ids=["no_lag", "lag"])
@pytest.mark.parametrize("name", list(EMPIRICAL_MODELS))
def test_fit_recovers_parameters_from_noiseless_curves(name: str, lag: bool) -> None:
    spec = EMPIRICAL_MODELS[name]
    truth = _params(name, lag)
    release = spec.evaluate(truth, T_H)
    fit = fit_empirical(name, T_H, release, lag=lag)
    assert isinstance(fit, EmpiricalFit)
    assert fit.model == name and fit.lag is lag
    assert fit.param_names == spec.names(lag)
    assert fit.params.shape == truth.shape
    torch.testing.assert_close(fit.params, truth, rtol=1e-6, atol=1e-9)
    assert (fit.r2 > 0.999).all() and (fit.r2_adjusted > 0.999).all()
    assert fit.converged.all()
    torch.testing.assert_close(fit.predict(T_H), release, rtol=0, atol=1e-8)


@pytest.mark.parametrize(
    ("name", "lag"),
    [
        ("first_order", False),
        ("first_order", True),
        ("higuchi", False),
        ("korsmeyer_peppas", False),
        ("weibull", True),
        ("hopfenberg", False),
        ("peppas_sahlin", False),
    ],
)
def test_fit_noisy_curves_is_optimal_and_close_to_truth(name: str, lag: bool) -> None:
    spec = EMPIRICAL_MODELS[name]
    truth = _params(name, lag)
    release = _noisy(spec.evaluate(truth, T_H), sd=0.005, seed=7)
    fit = fit_empirical(name, T_H, release, lag=lag)
    # least squares: the fit is at least as good as the generating parameters
    assert (fit.sse <= _sse(spec, truth, release) * (1 + 1e-9)).all()
    assert (fit.r2 > 0.98).all()
    if name != "peppas_sahlin":  # k1, k2, m are strongly correlated: only check the fit
        rel = (fit.params[:, : spec.n_params] - truth[:, : spec.n_params]).abs() / truth[
            :, : spec.n_params
        ].abs()
        # 0.005 noise: ~10 % on the parameters; more with a (correlated) lag time
        assert (rel < (0.2 if lag else 0.1)).all(), rel
    if lag:
        assert ((fit.param("tlag") - truth[:, -1]).abs() < 0.3).all()


@pytest.mark.parametrize("name", ["korsmeyer_peppas", "weibull"])
def test_lag_fits_of_random_curves_are_least_squares_optimal(name: str) -> None:
    # lag times anywhere in [0, 3] h, including just below a sampling time, where the
    # SSR has a cusp that traps a purely local search (seed 11 has such curves)
    g = torch.Generator().manual_seed(11)
    b = 8

    def uniform(lo: float, hi: float) -> torch.Tensor:
        return lo + (hi - lo) * torch.rand(b, generator=g, dtype=F64)

    kp = torch.stack([uniform(0.01, 0.05), uniform(0.6, 1.2), uniform(0.0, 3.0)], 1)
    weib = torch.stack([torch.exp(uniform(0.0, 5.0)), uniform(1.2, 3.0), uniform(0.0, 3.0)], 1)
    truth = kp if name == "korsmeyer_peppas" else weib
    spec = EMPIRICAL_MODELS[name]
    clean = spec.evaluate(truth, T_H)
    if name == "korsmeyer_peppas":  # keep the power law below 0.9
        truth[:, 0] *= (0.9 / clean.amax(-1)).clamp(max=1.0)
        clean = spec.evaluate(truth, T_H)
    release = _noisy(clean, sd=0.005, seed=11)
    fit = fit_empirical(name, T_H, release, lag=True)
    assert (fit.sse <= _sse(spec, truth, release) * (1 + 1e-9)).all()


def test_goodness_of_fit_statistics_follow_ddsolver_definitions() -> None:
    spec = EMPIRICAL_MODELS["korsmeyer_peppas"]
    truth = _params("korsmeyer_peppas", False)
    release = _noisy(spec.evaluate(truth, T_H), sd=0.01, seed=3)
    fit = fit_empirical(spec, T_H, release)
    n, p = T_H.numel(), 2
    sse = _sse(spec, fit.params, release)
    sst = ((release - release.mean(-1, keepdim=True)) ** 2).sum(-1)
    r2 = 1 - sse / sst
    torch.testing.assert_close(fit.sse, sse)
    torch.testing.assert_close(fit.r2, r2)
    torch.testing.assert_close(fit.r2_adjusted, 1 - (n - 1) / (n - p) * (1 - r2))
    torch.testing.assert_close(fit.aic, n * torch.log(sse / n) + 2 * p)
    assert (fit.n_points == n).all()


def test_aic_selects_the_generating_model() -> None:
    # sigmoidal Weibull curves (beta > 1) against models that cannot bend that way
    weib = torch.tensor([[8.0, 2.5], [20.0, 2.0], [3.0, 1.8], [60.0, 3.0]], dtype=F64)
    release = _noisy(EMPIRICAL_MODELS["weibull"].evaluate(weib, T_H), sd=0.005, seed=1)
    fits = fit_all(
        T_H, release, models=["first_order", "higuchi", "korsmeyer_peppas", "hopfenberg", "weibull"]
    )
    assert list(fits) == ["first_order", "higuchi", "korsmeyer_peppas", "hopfenberg", "weibull"]
    assert best_by_aic(fits) == ["weibull"] * 4
    assert (fits["weibull"].aic < fits["first_order"].aic - 10).all()

    # first-order curves against the non-nested alternatives
    k = torch.tensor([[0.1], [0.25], [0.5], [1.2]], dtype=F64)
    release = _noisy(EMPIRICAL_MODELS["first_order"].evaluate(k, T_H), sd=0.005, seed=2)
    fits = fit_all(
        T_H, release, models=["higuchi", "korsmeyer_peppas", "hopfenberg", "first_order"]
    )
    assert best_by_aic(fits) == ["first_order"] * 4


def test_batched_fit_equals_fitting_each_curve_alone() -> None:
    spec = EMPIRICAL_MODELS["weibull"]
    truth = _params("weibull", lag=True)
    release = _noisy(spec.evaluate(truth, T_H), sd=0.01, seed=11)
    batched = fit_empirical("weibull", T_H, release, lag=True)
    for i in range(release.shape[0]):
        alone = fit_empirical("weibull", T_H, release[i], lag=True)
        assert alone.params.shape == (1, 3)
        torch.testing.assert_close(alone.params[0], batched.params[i], rtol=1e-7, atol=1e-10)
        torch.testing.assert_close(alone.sse[0], batched.sse[i], rtol=1e-9, atol=0)


def test_per_curve_time_grids() -> None:
    spec = EMPIRICAL_MODELS["first_order"]
    times = torch.stack([T_H, T_H * 0.5, T_H * 2.0])  # (B, T): one schedule per curve
    k = torch.tensor([[0.2], [0.9], [0.05]], dtype=F64)
    release = spec.evaluate(k, times)
    fit = fit_empirical("first_order", times, release)
    torch.testing.assert_close(fit.params, k, rtol=1e-8, atol=0)
    assert fit.predict(times).shape == (3, T_H.numel())
    for i in range(3):
        alone = fit_empirical("first_order", times[i], release[i])
        torch.testing.assert_close(alone.params[0], fit.params[i], rtol=1e-10, atol=0)


def test_zero_weight_removes_an_outlier() -> None:
    spec = EMPIRICAL_MODELS["first_order"]
    k = torch.tensor([[0.3], [0.6]], dtype=F64)
    release = spec.evaluate(k, T_H)
    release[:, 6] += 0.2  # a bad sample at 3 h
    weights = torch.ones_like(release)
    weights[:, 6] = 0.0
    fit = fit_empirical("first_order", T_H, release, weights=weights)
    torch.testing.assert_close(fit.params, k, rtol=1e-8, atol=0)
    assert (fit.n_points == T_H.numel() - 1).all()
    unweighted = fit_empirical("first_order", T_H, release)
    assert ((unweighted.params - k).abs() > 1e-3).all()


def test_adam_method_also_fits() -> None:
    spec = EMPIRICAL_MODELS["weibull"]
    truth = _params("weibull", lag=False)
    release = spec.evaluate(truth, T_H)
    fit = fit_empirical("weibull", T_H, release, method="adam", steps=400)
    torch.testing.assert_close(fit.params, truth, rtol=1e-4, atol=0)
    assert (fit.r2 > 0.999).all()


def test_hopfenberg_geometry_factor_and_custom_model_without_guess() -> None:
    slab = hopfenberg_model(1.0)
    assert slab.name == "hopfenberg_n1" and hopfenberg_model() == EMPIRICAL_MODELS["hopfenberg"]
    k = torch.tensor([[0.02], [0.035]], dtype=F64)
    fit = fit_empirical(slab, T_H, slab.evaluate(k, T_H))
    torch.testing.assert_close(fit.params, k, rtol=1e-8, atol=0)

    def zero_order(
        t: torch.Tensor, k0: torch.Tensor, tlag: torch.Tensor | float = 0.0, *, validate: bool
    ) -> torch.Tensor:
        return k0 * (t - tlag).clamp_min(0.0)

    custom = EmpiricalModel(
        name="zero_order",
        equation="F = k0*t",
        param_names=("k0",),
        units=("1/h",),
        bounds=((1e-6, 10.0),),
        log_scale=(True,),
        fn=zero_order,
    )
    k0 = torch.tensor([[0.01], [0.03]], dtype=F64)
    fit = fit_empirical(custom, T_H, custom.evaluate(k0, T_H))
    assert fit.model == "zero_order"
    torch.testing.assert_close(fit.params, k0, rtol=1e-8, atol=0)


def test_predict_and_param_accessors() -> None:
    truth = _params("higuchi", lag=True)
    spec = EMPIRICAL_MODELS["higuchi"]
    fit = fit_empirical("higuchi", T_H, spec.evaluate(truth, T_H), lag=True)
    new_t = torch.linspace(0, 48, 7, dtype=F64)
    torch.testing.assert_close(fit.predict(new_t), spec.evaluate(truth, new_t), atol=1e-9, rtol=0)
    torch.testing.assert_close(fit.param("kH"), truth[:, 0])
    assert fit.n_params == 2
    with pytest.raises(ValueError, match=r"name='k' is not a parameter.*kH, tlag"):
        fit.param("k")


def test_float32_input_and_device_argument() -> None:
    spec = EMPIRICAL_MODELS["first_order"]
    k = torch.tensor([[0.4]], dtype=F64)
    release = spec.evaluate(k, T_H).float()
    fit = fit_empirical("first_order", T_H.float(), release, device="cpu")
    assert fit.params.dtype == F64
    torch.testing.assert_close(fit.params, k, rtol=1e-5, atol=0)


# --------------------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------------------


def test_unknown_model_lists_allowed_names() -> None:
    with pytest.raises(
        ValueError, match=r"'gompertz'.*allowed names: 'first_order'.*'peppas_sahlin'"
    ):
        fit_empirical("gompertz", T_H, torch.zeros(1, T_H.numel()))
    with pytest.raises(ValueError, match="allowed names"):
        fit_all(T_H, torch.zeros(1, T_H.numel()), models=["weibull", "baker_lonsdale"])


def test_percent_release_is_rejected_with_advice() -> None:
    release = 100 * EMPIRICAL_MODELS["first_order"].evaluate(torch.tensor([[0.3]]), T_H)
    with pytest.raises(ValueError, match=r"percentage.*divide .*by 100"):
        fit_empirical("first_order", T_H, release)


@pytest.mark.parametrize(
    ("call", "pattern"),
    [
        (
            lambda: first_order(T_H, -0.1),
            r"k=-0\.1 is outside the allowed range \[0, inf\] \(1/h\)",
        ),
        (lambda: first_order(T_H, 0.1, -1.0), r"tlag=-1 .*\[0, inf\] \(h\)"),
        (lambda: first_order(-T_H - 1, 0.1), r"t=-1 .*\[0, inf\] \(h\)"),
        (lambda: higuchi(T_H, -2.0), r"kH=-2 .*\[0, inf\] \(h\^-1/2\)"),
        (lambda: korsmeyer_peppas(T_H, 0.1, -0.5), r"n=-0\.5 .*\[0, inf\]"),
        (lambda: korsmeyer_peppas(T_H, -0.1, 0.5), r"kKP=-0\.1 .*\(h\^-n\)"),
        (
            lambda: weibull(T_H, 0.0, 1.0),
            r"alpha=0 is outside the allowed range \(0, inf\) \(h\^beta\)",
        ),
        (lambda: weibull(T_H, 1.0, -1.0), r"beta=-1 .*\[0, inf\]"),
        (lambda: hopfenberg(T_H, -0.1), r"kHB=-0\.1 .*\(1/h\)"),
        (lambda: hopfenberg(T_H, 0.1, n=0.0), r"n=0 is outside the allowed range \(0, inf\)"),
        (lambda: peppas_sahlin(T_H, math.nan, 0.0, 0.5), r"k1 must be a finite number \(h\^-m\)"),
        (lambda: peppas_sahlin(T_H, 0.1, 0.0, -0.5), r"m=-0\.5 .*\[0, inf\]"),
    ],
)
def test_model_function_errors_name_parameter_range_and_unit(call, pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern):
        call()


def test_fit_input_errors() -> None:
    good = EMPIRICAL_MODELS["first_order"].evaluate(torch.tensor([[0.3], [0.5]], dtype=F64), T_H)
    with pytest.raises(ValueError, match=r"times_h must be sorted"):
        fit_empirical("first_order", T_H.flip(0), good)
    with pytest.raises(ValueError, match=r"times_h=-1 .*\[0, inf\] \(h\)"):
        fit_empirical("first_order", T_H - 1, good)
    with pytest.raises(ValueError, match=r"times_h must have shape \(15,\) or \(2, 15\)"):
        fit_empirical("first_order", T_H[:-1], good)
    with pytest.raises(ValueError, match=r"release must be a finite number \(fraction\)"):
        fit_empirical("first_order", T_H, torch.full_like(good, math.nan))
    with pytest.raises(ValueError, match=r"release=-0\.8 .*\[-0\.5, 1\.5\] \(fraction\)"):
        fit_empirical("first_order", T_H, good - 0.8)
    with pytest.raises(ValueError, match=r"release must be a non-empty 1-D"):
        fit_empirical("first_order", T_H, good[None])
    with pytest.raises(ValueError, match=r"weights=-1 .*\[0, inf\]"):
        fit_empirical("first_order", T_H, good, weights=-torch.ones_like(good))
    with pytest.raises(ValueError, match=r"weights must broadcast"):
        fit_empirical("first_order", T_H, good, weights=torch.ones(3))
    with pytest.raises(ValueError, match=r"steps=0 .*\[1, inf\]"):
        fit_empirical("first_order", T_H, good, steps=0)
    with pytest.raises(ValueError, match=r"method='bfgs'"):
        fit_empirical("first_order", T_H, good, method="bfgs")  # type: ignore[arg-type]
    few = torch.tensor([0.0, 1.0, 2.0, 4.0], dtype=F64)
    with pytest.raises(
        ValueError, match=r"at least 5 time points .*'peppas_sahlin'; curve 0 has 4"
    ):
        fit_empirical("peppas_sahlin", few, torch.tensor([0.0, 0.1, 0.15, 0.2]), lag=True)
    with pytest.raises(ValueError, match=r"params for model 'weibull' must have shape \(B, 2\)"):
        EMPIRICAL_MODELS["weibull"].evaluate(torch.ones(2, 4, dtype=F64), T_H)
    with pytest.raises(ValueError, match=r"fits must contain at least one"):
        best_by_aic({})
