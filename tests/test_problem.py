"""The functional core (nanoenv.envs.problem): spec by keywords, reset_rows, step, the
success bonus, and the vector env built only on its public names."""

from __future__ import annotations

import ast
import inspect

import numpy as np
import pytest
import torch

import nanoenv.envs.vector as vector_module
from nanoenv.design_space import DesignSpace
from nanoenv.envs import FormulationDesignDiscreteEnv, FormulationDesignEnv
from nanoenv.envs.problem import (
    ProblemSpec,
    action_to_delta,
    make_infos,
    observe,
    reset_rows,
    step,
)
from nanoenv.rewards import F2Reward, TherapeuticWindowReward
from nanoenv.tasks import benchmark_suite

SPACE = DesignSpace.polymer_nanoparticle()


def _hidden_z(target) -> np.ndarray:
    return SPACE.to_normalized(target.formulation.to(dtype=torch.float32))[0].numpy()


def test_stop_on_a_start_that_already_succeeds_earns_no_bonus():
    target = benchmark_suite("realisable", 1, seed=2)[0]
    env = FormulationDesignDiscreteEnv(task="realisable")
    _, info = env.reset(seed=0, options={"target": target, "z": _hidden_z(target)})
    assert info["is_success"]  # the start is the hidden design: f2 ≈ 100
    _, reward, terminated, truncated, info = env.step(2 * SPACE.dim)  # stop
    assert terminated and not truncated and info["is_success"]
    assert reward == 0.0  # the design did not change; no bonus for a success found at reset
    assert info["sim_calls"] == 2  # the stop simulates the design once more


def test_an_edit_that_reaches_success_earns_the_bonus():
    target = benchmark_suite("realisable", 1, seed=2)[0]
    z_star = _hidden_z(target)
    env = FormulationDesignEnv(task="realisable", max_step=2.0, success_bonus=0.5)
    z0 = np.where(z_star > 0, -1.0, 1.0).astype(np.float32)  # the far corner: f2 well below 50
    _, start = env.reset(seed=0, options={"target": target, "z": z0})
    assert not start["is_success"]
    _, reward, terminated, _, info = env.step((z_star - z0) / 2.0)
    assert terminated and info["is_success"]
    assert reward == pytest.approx(info["score"] - start["score"] + 0.5, abs=1e-6)


def test_spec_create_takes_keywords_and_the_family_default_reward():
    with pytest.raises(TypeError):
        ProblemSpec.create("realisable")  # keyword-only
    assert isinstance(ProblemSpec.create(task="sustained").reward_model, F2Reward)
    spec = ProblemSpec.create(task="therapeutic_window")
    assert isinstance(spec.reward_model, TherapeuticWindowReward)
    assert spec.device == torch.device("cpu") and spec.max_edits == 20


def test_reset_rows_then_step_is_the_environment_step():
    spec = ProblemSpec.create(task="sustained", max_edits=3)
    targets = benchmark_suite("sustained", 3, seed=4)
    z = np.random.default_rng(0).uniform(-1, 1, size=(3, spec.design_space.dim))
    state, ev = reset_rows(spec, None, None, targets, z)
    assert state.targets.targets == tuple(targets)
    assert make_infos(spec, ev, np.ones(3))["f2"].shape == (3,)
    # restarting row 1 with another target changes only that row
    other = benchmark_suite("sustained", 1, seed=9)
    new, _ = reset_rows(spec, state, [1], other, z[1:2])
    assert new.targets.targets == (targets[0], other[0], targets[2])
    obs, new_obs = observe(spec, state), observe(spec, new)
    torch.testing.assert_close(obs[[0, 2]], new_obs[[0, 2]])
    assert not torch.equal(obs[1], new_obs[1])
    # one single environment on target 0 steps exactly like row 0
    actions = torch.full((3, spec.design_space.dim), 0.5)
    delta, stop = action_to_delta(spec, actions, discrete=False)
    tr = step(spec, state, delta, stop)
    env = FormulationDesignEnv(task="sustained", max_edits=3)
    env.reset(options={"target": targets[0], "z": z[0]})
    single_obs, reward, *_ = env.step(actions[0].numpy())
    np.testing.assert_array_equal(single_obs, observe(spec, tr.state)[0].numpy())
    assert reward == float(tr.reward[0])


def test_vector_env_imports_only_public_names_of_the_core():
    tree = ast.parse(inspect.getsource(vector_module))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("nanoenv"):
            assert node.module != "nanoenv.envs.formulation_design"
            assert not [a.name for a in node.names if a.name.startswith("_")]
