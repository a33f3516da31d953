"""Bayesian-optimisation baseline: budgets, anytime history, determinism, gain over
random search, argument checks."""

import numpy as np
import pytest
import torch
from torch.quasirandom import SobolEngine

from agents.baselines import RandomSearch
from agents.bo import BayesianOptimization
from nanoenv.envs import FormulationDesignEnv
from nanoenv.tasks import benchmark_suite

pytestmark = pytest.mark.usefixtures("one_torch_thread")


CHEAP = {"raw_samples": 32, "maxiter": 10, "mc_samples": 32}  # a faster acquisition step


@pytest.fixture(scope="module")
def target():
    """A realisable target (its optimum, f2 = 100, is in the design space)."""
    return benchmark_suite("realisable", 2, seed=0)[1]


@pytest.mark.parametrize("budget", [1, 3, 10, 37])
def test_the_whole_budget_is_spent_and_never_exceeded(budget, target):
    result = BayesianOptimization(stop_on_success=False).design(target, budget, seed=3)
    assert result.sim_calls == budget
    # history: strictly increasing call counts, non-decreasing best f2, ending at the budget
    calls, best = zip(*result.history, strict=True)
    assert list(calls) == sorted(set(calls)) and calls[0] >= 1 and calls[-1] == budget
    assert list(best) == sorted(best) and best[-1] == pytest.approx(result.f2)


def test_the_first_designs_are_the_scrambled_sobol_points(target):
    """Anytime values up to ``n_init`` calls are those of the seeded Sobol design."""
    n_init, seed = 12, 5
    result = BayesianOptimization(n_init=n_init, stop_on_success=False).design(
        target, n_init, seed=seed
    )
    z = SobolEngine(11, scramble=True, seed=seed).draw(n_init, dtype=torch.float64) * 2 - 1
    search = RandomSearch(stop_on_success=False).start(target, n_init)
    f2 = search.evaluate(z.float()).f2.double()
    expected = torch.cummax(f2, 0).values
    for calls, best in result.history:
        assert best == pytest.approx(float(expected[calls - 1]), abs=1e-4)
    torch.testing.assert_close(result.z, z[int(torch.argmax(f2))].float())


def test_same_seed_same_result_and_global_rng_untouched(target):
    method = BayesianOptimization(n_init=8, stop_on_success=False, **CHEAP)
    torch.manual_seed(123)
    expected_draw = torch.rand(3)
    torch.manual_seed(123)
    first = method.design(target, 16, seed=7)
    assert torch.equal(torch.rand(3), expected_draw)  # torch's global generator untouched
    second = method.design(target, 16, seed=7)
    other = method.design(target, 16, seed=8)
    assert first.history == second.history and torch.equal(first.z, second.z)
    assert first.f2 == second.f2 and first.score == second.score
    assert other.history != first.history


def test_bo_beats_random_search_at_60_calls_on_realisable_targets():
    """Mean best score over 4 targets at 60 calls, seed 0, measured: BO 0.866, random
    search 0.721 (seed 1: 0.789 against 0.743; the gap varies by about 0.1 between
    seeds, so the margin asked is half the measured 0.145). Under the physics-v2 simulator
    (issue 14) the realisable targets changed: BO 0.747, random search 0.662."""
    targets = benchmark_suite("realisable", 4, seed=0)
    bo_scores = [BayesianOptimization(stop_on_success=False).design(t, 60).score for t in targets]
    random_scores = [RandomSearch(stop_on_success=False).design(t, 60).score for t in targets]
    assert np.mean(bo_scores) == pytest.approx(0.747, abs=0.05)
    assert np.mean(bo_scores) > np.mean(random_scores) + 0.07


def test_scores_agree_with_the_environment(target):
    result = BayesianOptimization().design(target, 30, seed=1)
    env = FormulationDesignEnv(task=target.family)
    _, info = env.reset(seed=0, options={"target": target, "z": result.z.numpy()})
    assert info["f2"] == pytest.approx(result.f2, abs=1e-4)
    assert info["score"] == pytest.approx(result.score, abs=1e-6)
    np.testing.assert_allclose(info["release_curve"], result.release.numpy(), atol=1e-6)


def test_stops_after_the_round_holding_the_first_success(target):
    result = BayesianOptimization(success_f2=60.0).design(target, 200, seed=0)
    assert result.success and result.f2 >= 60.0
    # rounds are at most a quarter of the calls made before them, so the search ends
    # within that many calls of its first success
    assert result.sim_calls - result.calls_to_success < max(12, result.sim_calls / 4)


@pytest.mark.parametrize("trust_region", [True, False])
def test_a_capped_training_set_still_improves(trust_region, target):
    """``max_train`` smaller than the data exercises both training-set rules."""
    method = BayesianOptimization(
        n_init=6, max_train=8, trust_region=trust_region, stop_on_success=False, **CHEAP
    )
    result = method.design(target, 24, seed=0)
    assert result.sim_calls == 24
    sobol_best = [best for calls, best in result.history if calls <= 6][-1]
    assert result.f2 > sobol_best


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"q": 0}, r"q=0 must be an integer in \[1, ∞\)"),
        ({"q": 2.5}, r"q=2.5 must be an integer in \[1, ∞\)"),
        ({"n_init": 0}, r"n_init=0 must be an integer in \[1, ∞\)"),
        ({"growth": 0.0}, r"growth=0.0 must be in \(0, 1\]"),
        ({"growth": 1.5}, r"growth=1.5 must be in \(0, 1\]"),
        ({"max_train": 1}, r"max_train=1 must be an integer in \[2, ∞\)"),
        ({"raw_samples": 0}, r"raw_samples=0 must be an integer in \[1, ∞\)"),
        ({"num_restarts": 0}, r"num_restarts=0 must be an integer in \[1, ∞\)"),
        ({"num_restarts": 9, "raw_samples": 8}, r"num_restarts=9 must be in \[1, raw_samples=8\]"),
        ({"maxiter": 0}, r"maxiter=0 must be an integer in \[1, ∞\)"),
        ({"fit_maxiter": -1}, r"fit_maxiter=-1 must be an integer in \[1, ∞\)"),
        ({"mc_samples": True}, r"mc_samples=True must be an integer in \[1, ∞\)"),
    ],
)
def test_bad_arguments_are_rejected_in_one_line(kwargs, message):
    with pytest.raises(ValueError, match=message) as error:
        BayesianOptimization(**kwargs)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("budget", [0, -3, 2.5])
def test_bad_budget_is_rejected(budget, target):
    with pytest.raises(ValueError, match="budget"):
        BayesianOptimization().design(target, budget)
