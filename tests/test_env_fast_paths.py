"""The environments' unchecked internal paths (issue 13 speed work) give exactly what the
validated paths give.

Targets are validated once, when built; moving, stacking and merging their rows on every
reset no longer checks them again (``ReleaseConditions.from_validated``,
``Drug.from_validated``). After many autoresets, the batch an environment holds must be
bit-for-bit the batch built from its targets through the checking constructors, and the
simulation of its designs on that batch must be bit-for-bit its curves and observations.
"""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import pytest
import torch
from gymnasium.vector import AutoresetMode

from nanoenv.envs import FormulationDesignEnv, FormulationDesignVectorEnv
from nanoenv.envs.problem import MAX_SEGMENTS, evaluate, observe
from nanoenv.kinetics import Drug, ReleaseConditions
from nanoenv.targets import TargetBatch


def _checked(batch: TargetBatch) -> TargetBatch:
    """``batch`` rebuilt through the validating constructors."""
    conditions = ReleaseConditions(
        **{f.name: getattr(batch.conditions, f.name).clone() for f in fields(ReleaseConditions)}
    )
    drug = Drug(**{f.name: getattr(batch.drug, f.name) for f in fields(Drug)})
    return TargetBatch(
        batch.times_h,
        batch.release,
        conditions,
        drug,
        batch.patient,
        batch.targets,
        batch.condition_vector(),
    )


def _assert_same_batch(a: TargetBatch, b: TargetBatch) -> None:
    for name in ("times_h", "release"):
        assert torch.equal(getattr(a, name), getattr(b, name)), name
    assert torch.equal(a.condition_vector(), b.condition_vector())
    for f in fields(ReleaseConditions):
        x, y = getattr(a.conditions, f.name), getattr(b.conditions, f.name)
        assert x.dtype == y.dtype and torch.equal(x, y), f.name
    for f in fields(Drug):
        x, y = getattr(a.drug, f.name), getattr(b.drug, f.name)
        assert (x == y) if isinstance(x, str) else torch.equal(x, y), f.name
    assert (a.patient is None) == (b.patient is None)
    if a.patient is not None:
        for f in fields(a.patient):
            assert torch.equal(getattr(a.patient, f.name), getattr(b.patient, f.name)), f.name


@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP])
@pytest.mark.parametrize("task", ["realisable", "sustained", "therapeutic_window"])
def test_vector_env_after_autoresets_equals_the_validated_path(task: str, mode) -> None:
    n = 16
    env = FormulationDesignVectorEnv(num_envs=n, task=task, autoreset_mode=mode, max_edits=3)
    env.reset(seed=11)
    actions = np.random.default_rng(4).uniform(-1, 1, (10, n, env.single_action_space.shape[0]))
    for a in actions.astype(np.float32):
        obs, *_ = env.step(a)
    state = env._state
    # every row was reset at least twice (episodes of at most 3 edits)
    fresh = TargetBatch.from_targets(env.targets, MAX_SEGMENTS).to(env.spec_.device, torch.float32)
    _assert_same_batch(state.targets, fresh)
    checked = _checked(fresh)
    _assert_same_batch(state.targets, checked)
    ev = evaluate(env.spec_, checked, state.z)
    np.testing.assert_array_equal(obs, observe(env.spec_, state).numpy())
    if mode is AutoresetMode.NEXT_STEP:
        # one simulation of the whole batch per step: the same call, bit for bit
        assert torch.equal(ev.release, state.release)
        assert torch.equal(ev.reward.score, state.score)
    else:
        # same-step resets simulate the reset rows alone: a batch of another size may
        # round the last float32 bit differently (vectorised vs scalar math kernels)
        torch.testing.assert_close(ev.release, state.release, rtol=1e-6, atol=1e-7)
        torch.testing.assert_close(ev.reward.score, state.score, rtol=1e-5, atol=1e-5)


def test_single_env_steps_equal_the_validated_evaluation() -> None:
    env = FormulationDesignEnv(task="realisable")
    env.reset(seed=2)
    rng = np.random.default_rng(0)
    for _ in range(25):
        obs, _, terminated, truncated, info = env.step(
            rng.uniform(-1, 1, env.action_space.shape).astype(np.float32)
        )
        state = env._state
        ev = evaluate(env.spec_, _checked(state.targets), state.z)
        np.testing.assert_array_equal(info["release_curve"], ev.release[0].numpy())
        assert info["f2"] == ev.f2.item()
        np.testing.assert_array_equal(obs, observe(env.spec_, state)[0].numpy())
        if terminated or truncated:
            env.reset()


def test_from_validated_skips_checks_only_where_asked() -> None:
    good = ReleaseConditions.preset("tumour")
    values = {f.name: getattr(good, f.name) for f in fields(ReleaseConditions)}
    same = ReleaseConditions.from_validated(**values)
    for name, value in values.items():
        assert getattr(same, name) is value
    bad = dict(values, ph=torch.tensor([7.4, 6.5, 15.0], dtype=torch.float64))
    with pytest.raises(ValueError, match="ph"):
        ReleaseConditions(**bad)
    with pytest.raises(ValueError, match=r"drug\.logp"):
        Drug("x", 300.0, 99.0, 7.0, 0.0, 1.0)
    stacked = Drug.stack([Drug.preset("doxorubicin"), Drug.preset("ibuprofen")])
    assert stacked.name == "mixed"
    assert stacked.logp.tolist() == [1.27, 3.97]
