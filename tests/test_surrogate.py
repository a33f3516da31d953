"""The learned PLAI release surrogate and the reward model built on it."""

from __future__ import annotations

import subprocess
import sys
import warnings

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env

import nanoenv  # noqa: F401  (registers the environments)
from nanoenv.data import DataCleaningWarning, grouped_folds, plai_curves
from nanoenv.design_space import DesignSpace
from nanoenv.kinetics import Drug, Formulation, ReleaseConditions
from nanoenv.rewards import REWARD_MODELS, RewardOutput, TargetBatch, make_reward_model
from nanoenv.rewards.surrogate import (
    ReleaseSurrogate,
    SurrogateReward,
    fold_errors,
    plai_surrogate,
    train_surrogate,
)


@pytest.fixture(scope="module")
def curves():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataCleaningWarning)
        return plai_curves()


@pytest.fixture(scope="module")
def model(curves):
    return train_surrogate(curves, epochs=300)


def test_training_loss_falls_and_is_deterministic(curves, model):
    history = model.loss_history
    assert len(history) == 300
    assert history[-1] < 0.5 * history[0]
    again = train_surrogate(curves, epochs=300)
    assert again.loss_history == history
    pairs = zip(model.state_dict().values(), again.state_dict().values(), strict=True)
    assert all(torch.equal(a, b) for a, b in pairs)


def test_predictions_are_monotone_curves_in_unit_interval(model):
    designs = Formulation.sample(256, generator=torch.Generator().manual_seed(0))
    times = torch.cat([torch.zeros(1), torch.logspace(-2, 4, 60)])
    release = model(designs, times)
    assert release.shape == (256, 61)
    assert bool(torch.isfinite(release).all())
    assert bool((release >= 0).all()) and bool((release <= 1).all())
    assert bool((release.diff(dim=1) >= 0).all())
    assert bool((release[:, 0] == 0).all())


def test_beats_constant_mean_curve_on_grouped_split(curves):
    folds = grouped_folds(curves.groups, n_splits=5, seed=0)
    results = fold_errors(curves, folds)
    surrogate = np.mean([r["surrogate_rmse"] for r in results])
    baseline = np.mean([r["baseline_rmse"] for r in results])
    print(f"held-out masked RMSE: surrogate {surrogate:.3f}, mean curve {baseline:.3f}")
    assert surrogate < 0.95 * baseline


def test_save_load_round_trip(model, tmp_path):
    path = tmp_path / "surrogate.pt"
    model.save(path)
    loaded = ReleaseSurrogate.load(path)
    designs = Formulation.sample(8, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    times = torch.linspace(0, 2000, 16, dtype=torch.float64)
    assert torch.equal(loaded(designs, times), model(designs, times))


def test_registry_is_lazy():
    code = (
        "import sys, nanoenv.rewards as r; assert 'surrogate' in r.REWARD_MODELS; "
        "assert 'nanoenv.rewards.surrogate' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    assert "surrogate" in REWARD_MODELS


def test_reward_is_differentiable_and_ignores_simulator(model):
    reward = SurrogateReward(model, drug="dexamethasone")
    space = DesignSpace.polymer_nanoparticle()
    z = torch.zeros(4, space.dim, requires_grad=True)
    formulation = space.to_formulation(z)
    times = torch.linspace(0, 720, 16).expand(4, -1)
    targets = TargetBatch.from_tensors(
        times_h=times,
        release=(times / 720.0).clamp(max=1.0),
        conditions=ReleaseConditions.sink(),
        drug=Drug.preset("dexamethasone"),
    )
    out = reward(torch.zeros(4, 16), targets, formulation)
    other = reward(torch.ones(4, 16), targets, formulation)
    assert isinstance(out, RewardOutput)
    assert torch.equal(out.score, other.score)  # the simulator's curve is not used
    assert bool(torch.isfinite(out.score).all()) and bool((out.cost >= 0).all())
    out.score.sum().backward()
    assert z.grad is not None and bool(torch.isfinite(z.grad).all())
    assert float(z.grad.abs().sum()) > 0


def test_env_with_surrogate_reward():
    model = plai_surrogate()
    assert plai_surrogate() is model  # trained once, cached
    assert isinstance(make_reward_model("surrogate"), SurrogateReward)
    env = gym.make("nanoenv/FormulationDesign-v0", task="sustained", reward_model="surrogate")
    check_env(env.unwrapped, skip_render_check=True)
    env.reset(seed=0)
    for _ in range(3):
        _, reward, terminated, truncated, info = env.step(env.action_space.sample())
        assert np.isfinite(reward) and np.isfinite(info["score"])
        if terminated or truncated:
            break
    env.close()
