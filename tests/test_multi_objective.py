"""Multi-objective environment (MO-Gymnasium conventions), NSGA-II and hypervolume."""

import gymnasium as gym
import numpy as np
import pytest

import nanoenv  # noqa: F401  (registers the ids)
from nanoenv.bench.pareto import hypervolume, pareto_front
from nanoenv.tasks import benchmark_suite

mo_gymnasium = pytest.importorskip("mo_gymnasium")
pytest.importorskip("pymoo")


def test_the_vector_reward_sums_to_the_change_of_the_objectives():
    env = mo_gymnasium.make("nanoenv/MOFormulationDesign-v0", task="targeted", max_edits=4)
    obs, info = env.reset(seed=0)
    assert env.unwrapped.reward_space.shape == (2,) and env.unwrapped.reward_dim == 2
    assert info["objective_names"] == ("efficacy", "selectivity")
    start, total, done = info["objectives"], np.zeros(2), False
    while not done:
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        assert reward.shape == (2,) and env.observation_space.contains(obs)
        total += reward
        done = terminated or truncated
    np.testing.assert_allclose(total, info["objectives"] - start, atol=1e-5)


def test_linear_scalarisation_matches_the_weighted_vector():
    weight = np.array([0.3, 0.7], dtype=np.float32)
    env = mo_gymnasium.wrappers.LinearReward(
        mo_gymnasium.make("nanoenv/MOFormulationDesign-v0", task="targeted"), weight=weight
    )
    env.reset(seed=1)
    _, reward, _, _, info = env.step(env.action_space.sample())
    assert reward == pytest.approx(float(weight @ info["vector_reward"]), abs=1e-6)


def test_random_preferences_are_observed_and_scalarised():
    env = gym.make(
        "nanoenv/MOFormulationDesign-v0", task="realisable", weights="random", scalarize=True
    )
    base = gym.make("nanoenv/FormulationDesign-v0", task="realisable")
    obs, info = env.reset(seed=0)
    w = info["weights"]
    assert obs.shape[0] == base.observation_space.shape[0] + 2
    np.testing.assert_allclose(obs[-2:], w)
    assert w.sum() == pytest.approx(1.0, abs=1e-6) and info["objective_names"] == (
        "score",
        "neg_cost",
    )
    _, reward, _, _, info = env.step(env.action_space.sample())
    assert isinstance(reward, float)
    assert reward == pytest.approx(float(w @ info["vector_reward"]), abs=1e-6)
    from gymnasium.utils.env_checker import check_env

    check_env(env.unwrapped, skip_render_check=True)


def test_bad_weights_name_the_parameter():
    with pytest.raises(ValueError, match="weights"):
        gym.make("nanoenv/MOFormulationDesign-v0", task="targeted", weights=[1.0, -1.0])


def test_hypervolume_and_front_of_a_known_set():
    f = np.array([[0.5, 0.5], [0.2, 0.9], [0.1, 0.1], [0.9, 0.2]])
    assert sorted(pareto_front(f).tolist()) == [0, 1, 3]
    # union of three boxes from the origin, by inclusion-exclusion
    assert hypervolume(f) == pytest.approx(0.25 + 0.18 + 0.18 - 0.1 - 0.1 - 0.04 + 0.04)
    assert hypervolume(np.array([[1.0, 1.0]])) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="objectives"):
        hypervolume(np.array([np.nan, 1.0])[None])


def test_nsga2_spends_its_budget_and_keeps_a_non_dominated_front():
    from agents.nsga2 import NSGA2

    target = benchmark_suite("targeted", 1, seed=0)[0]
    method = NSGA2(pop_size=8, stop_on_success=False)
    result = method.design(target, 30, seed=0)
    assert result.sim_calls == 30
    front, z = method.last_front
    assert len(front) == len(z) >= 1 and len(pareto_front(front)) == len(front)
    again = NSGA2(pop_size=8, stop_on_success=False).design(target, 30, seed=0)
    assert again.score == result.score
    # the best scalar score (efficacy x selectivity) is a design of the front's box
    assert result.score <= float(front.prod(1).max()) + 1e-6
