"""The native vector environment under Gymnasium's vector wrappers (issue 13): its
``NEXT_STEP`` autoreset is what they expect, and wrapped it equals ``SyncVectorEnv`` of
single environments step for step."""

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.vector import AutoresetMode, SyncVectorEnv
from gymnasium.wrappers import vector as vw

import nanoenv  # noqa: F401  (registers the ids)
from nanoenv.envs import FormulationDesignEnv, FormulationDesignVectorEnv, SB3VecEnvAdapter

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _cleanrl_stack(env: gym.vector.VectorEnv) -> gym.vector.VectorEnv:
    """CleanRL's continuous-action wrapper stack (ppo_continuous_action.py)."""
    env = vw.RecordEpisodeStatistics(env)
    env = vw.ClipAction(env)
    env = vw.NormalizeObservation(env)
    env = vw.TransformObservation(env, lambda o: np.clip(o, -10, 10), env.observation_space)
    env = vw.NormalizeReward(env, gamma=0.99)
    return vw.TransformReward(env, lambda r: np.clip(r, -10, 10))


@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP])
def test_wrapped_native_vector_env_equals_wrapped_sync_vector_env(mode):
    n, kwargs = 3, {"task": "realisable", "max_edits": 3}
    sync = SyncVectorEnv(
        [lambda: FormulationDesignEnv(**kwargs) for _ in range(n)], autoreset_mode=mode
    )
    native = FormulationDesignVectorEnv(num_envs=n, autoreset_mode=mode, **kwargs)
    if mode is AutoresetMode.SAME_STEP:
        # Gymnasium's normalising wrappers refuse same-step autoreset; record stats works
        with pytest.raises(ValueError, match="autoreset_mode"):
            vw.NormalizeObservation(native)
        wrap = vw.RecordEpisodeStatistics
    else:
        wrap = _cleanrl_stack
    ws, wn = wrap(sync), wrap(native)
    obs_s, _ = ws.reset(seed=3)
    obs_n, _ = wn.reset(seed=3)
    np.testing.assert_allclose(obs_n, obs_s, rtol=1e-5, atol=1e-5)
    rng = np.random.default_rng(0)
    episodes = 0
    for _ in range(12):
        action = rng.uniform(-1.5, 1.5, size=(n, native.single_action_space.shape[0]))
        obs_s, rew_s, term_s, trunc_s, info_s = ws.step(action.astype(np.float32))
        obs_n, rew_n, term_n, trunc_n, info_n = wn.step(action.astype(np.float32))
        np.testing.assert_array_equal(term_n, term_s)
        np.testing.assert_array_equal(trunc_n, trunc_s)
        np.testing.assert_allclose(rew_n, rew_s, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(obs_n, obs_s, rtol=1e-4, atol=1e-4)
        if "episode" in info_s:
            episodes += int(info_s["_episode"].sum())
            np.testing.assert_array_equal(info_n["_episode"], info_s["_episode"])
            np.testing.assert_allclose(
                info_n["episode"]["r"], info_s["episode"]["r"], rtol=1e-4, atol=1e-4
            )
            np.testing.assert_array_equal(info_n["episode"]["l"], info_s["episode"]["l"])
    assert episodes >= n  # every environment finished an episode under the wrappers


def test_make_vec_passes_autoreset_mode_to_the_native_vector_env():
    for mode in (AutoresetMode.SAME_STEP, "NextStep"):
        venv = gym.make_vec(
            "nanoenv/FormulationDesign-v0",
            num_envs=2,
            autoreset_mode=mode,
            vectorization_mode="vector_entry_point",
        )
        assert venv.metadata["autoreset_mode"] is AutoresetMode(mode)
    # the class attribute is not changed by an instance's choice
    assert FormulationDesignVectorEnv.metadata["autoreset_mode"] is AutoresetMode.NEXT_STEP


def test_next_step_autoreset_discards_the_action_of_a_finished_environment():
    env = FormulationDesignVectorEnv(num_envs=2, max_edits=1, return_torch=True)
    env.reset(seed=0)
    dim = env.single_action_space.shape[0]
    _, _, term, trunc, info = env.step(torch.zeros(2, dim))
    assert bool((term | trunc).all())  # a budget of one edit ends both episodes
    calls = env.total_sim_calls
    obs, reward, term, trunc, info = env.step(torch.ones(2, dim))
    assert torch.equal(reward, torch.zeros(2)) and not bool((term | trunc).any())
    assert torch.equal(obs[:, -1], torch.zeros(2))  # no edit used in the new episodes
    assert info["sim_calls"].tolist() == [1, 1]  # the reset's simulation only
    assert env.total_sim_calls == calls + 2


def test_bad_autoreset_mode_is_refused_and_sb3_adapter_needs_same_step():
    with pytest.raises(ValueError, match=r"autoreset_mode='Disabled'.*NextStep"):
        FormulationDesignVectorEnv(num_envs=2, autoreset_mode="Disabled")
    with pytest.raises(ValueError, match="SameStep"):
        SB3VecEnvAdapter(FormulationDesignVectorEnv(num_envs=2))


def test_target_pool_draws_do_not_depend_on_pool_size_or_refill_grouping():
    from gymnasium.utils import seeding

    from nanoenv.envs.target_pool import TargetPool
    from nanoenv.tasks import get_family

    family = get_family("realisable")
    space, constants = family.default_space(), family.default_constants()

    def sequence(size: int, together: bool) -> list[torch.Tensor]:
        pool = TargetPool(family, space, constants, size)
        rngs = [seeding.np_random(s)[0] for s in (7, 8)]
        out = []
        for _ in range(3):
            drawn = pool.draw(rngs) if together else pool.draw(rngs[:1]) + pool.draw(rngs[1:])
            out += [t.release for t in drawn]
        return out

    reference = sequence(1, True)
    for size, together in ((2, False), (5, True)):
        # equal up to float64 rounding (a batch's reductions may round differently)
        for a, b in zip(sequence(size, together), reference, strict=True):
            torch.testing.assert_close(a, b, rtol=0, atol=1e-12)
    assert not torch.equal(reference[0], reference[2])  # successive targets differ
    with pytest.raises(ValueError, match="size=0"):
        TargetPool(family, space, constants, 0)
