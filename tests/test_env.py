"""The Gymnasium environments: checkers, determinism, vector equivalence, rewards, bad input."""

import dataclasses
import warnings

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env as gym_check_env
from gymnasium.vector import AutoresetMode, SyncVectorEnv
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import nanoenv
from nanoenv.design_space import DesignSpace
from nanoenv.envs import FormulationDesignEnv, FormulationDesignVectorEnv, SB3VecEnvAdapter
from nanoenv.kinetics import DEFAULT_CONSTANTS, calibrated_constants
from nanoenv.rewards import RewardOutput
from nanoenv.tasks import TASK_FAMILIES, benchmark_suite

IDS = ["nanoenv/FormulationDesign-v0", "nanoenv/FormulationDesignDiscrete-v0"]


@pytest.mark.parametrize("env_id", IDS)
@pytest.mark.parametrize("task", sorted(TASK_FAMILIES))
def test_gymnasium_and_sb3_checkers_pass(env_id, task):
    env = gym.make(env_id, task=task)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a checker warning is a failure here
        gym_check_env(env.unwrapped, skip_render_check=True)
    sb3_check_env(env.unwrapped, warn=False)


def _rollout(env, seed, n=12):
    obs, _ = env.reset(seed=seed)
    env.action_space.seed(seed)
    out = [obs]
    for _ in range(n):
        obs, reward, terminated, truncated, _ = env.step(env.action_space.sample())
        out += [obs, reward, terminated, truncated]
        if terminated or truncated:
            obs, _ = env.reset()
            out.append(obs)
    return out


@pytest.mark.parametrize("env_id", IDS)
def test_same_seed_same_episode(env_id):
    a = _rollout(gym.make(env_id, task="ph_triggered", max_edits=5), seed=3)
    b = _rollout(gym.make(env_id, task="ph_triggered", max_edits=5), seed=3)
    c = _rollout(gym.make(env_id, task="ph_triggered", max_edits=5), seed=4)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[0], c[0])


@pytest.mark.parametrize("mode", [AutoresetMode.SAME_STEP, AutoresetMode.NEXT_STEP])
@pytest.mark.parametrize("discrete", [False, True])
@pytest.mark.parametrize("task", ["realisable", "therapeutic_window"])
def test_native_vector_env_equals_single_envs_with_autoreset(discrete, task, mode):
    n, kwargs = 4, {"task": task, "max_edits": 3}
    env_cls = nanoenv.envs.FormulationDesignDiscreteEnv if discrete else FormulationDesignEnv
    sync = SyncVectorEnv([lambda: env_cls(**kwargs) for _ in range(n)], autoreset_mode=mode)
    native = FormulationDesignVectorEnv(
        num_envs=n, discrete=discrete, autoreset_mode=mode, **kwargs
    )
    assert native.metadata["autoreset_mode"] is mode
    obs_s, _ = sync.reset(seed=11)
    obs_n, _ = native.reset(seed=11)
    np.testing.assert_allclose(obs_n, obs_s, rtol=1e-5, atol=1e-5)
    sync.action_space.seed(0)
    resets = 0
    for _ in range(10):
        action = sync.action_space.sample()
        obs_s, rew_s, term_s, trunc_s, info_s = sync.step(action)
        obs_n, rew_n, term_n, trunc_n, info_n = native.step(action)
        np.testing.assert_array_equal(term_n, term_s)
        np.testing.assert_array_equal(trunc_n, trunc_s)
        np.testing.assert_allclose(rew_n, rew_s, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(obs_n, obs_s, rtol=1e-5, atol=1e-5)
        for key in ("f2", "sim_calls"):  # NEXT_STEP: a reset row's info is the reset's
            np.testing.assert_allclose(info_n[key], info_s[key], rtol=1e-4, atol=1e-4)
        for i in np.flatnonzero(term_s | trunc_s):
            resets += 1
            if mode is AutoresetMode.SAME_STEP:
                np.testing.assert_allclose(
                    info_n["final_obs"][i], info_s["final_obs"][i], rtol=1e-5, atol=1e-5
                )
    assert resets >= n  # every environment went through an autoreset


def test_make_vec_builds_the_native_vector_env_and_returns_torch_on_request():
    venv = gym.make_vec(
        "nanoenv/FormulationDesign-v0", num_envs=3, vectorization_mode="vector_entry_point"
    )
    assert isinstance(venv.unwrapped, FormulationDesignVectorEnv)
    assert venv.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP  # Gymnasium's default
    torch_env = FormulationDesignVectorEnv(num_envs=3, return_torch=True)
    obs, _ = torch_env.reset(seed=0)
    obs, reward, *_ = torch_env.step(torch.zeros(3, torch_env.spec_.design_space.dim))
    assert isinstance(obs, torch.Tensor) and isinstance(reward, torch.Tensor)


def test_sb3_adapter_trains_a_few_ppo_steps():
    from stable_baselines3 import PPO

    venv = SB3VecEnvAdapter(
        FormulationDesignVectorEnv(num_envs=4, max_edits=4, autoreset_mode="SameStep")
    )
    venv.seed(0)
    model = PPO("MlpPolicy", venv, n_steps=16, batch_size=32, n_epochs=1, seed=0, device="cpu")
    model.learn(total_timesteps=128)
    obs = venv.reset()
    action, _ = model.predict(obs, deterministic=True)
    obs, rewards, _dones, infos = venv.step(action)
    assert obs.shape == (4, venv.observation_space.shape[0]) and rewards.shape == (4,)
    assert all("f2" in info for info in infos)


def test_sb3_adapter_reports_terminal_observations_and_truncation():
    venv = SB3VecEnvAdapter(
        FormulationDesignVectorEnv(
            num_envs=2, max_edits=2, success_f2=101, autoreset_mode="SameStep"
        )
    )
    venv.seed(1)
    venv.reset()
    zeros = np.zeros((2, venv.action_space.shape[0]), dtype=np.float32)
    venv.step(zeros)
    obs, _, dones, infos = venv.step(zeros)
    assert dones.all()
    for i in range(2):
        assert infos[i]["TimeLimit.truncated"] is True
        assert infos[i]["terminal_observation"].shape == obs[i].shape
        assert infos[i]["terminal_observation"][-1] == 1.0  # budget used up
        assert obs[i][-1] == 0.0  # the next episode's first observation


def test_hidden_formulation_of_a_realisable_target_scores_f2_100():
    space = DesignSpace.polymer_nanoparticle()
    env = FormulationDesignEnv(task="realisable")
    for target in benchmark_suite("realisable", 4, seed=5):
        z = space.to_normalized(target.formulation.to(dtype=torch.float32))[0].numpy()
        _, info = env.reset(seed=0, options={"target": target, "z": z})
        assert info["f2"] == pytest.approx(100.0, abs=0.05)
        assert info["is_success"]


def test_each_family_has_its_default_constants_and_names_override_them():
    calibrated = calibrated_constants()
    assert calibrated != DEFAULT_CONSTANTS
    # the measured PLAI family simulates with the calibrated constants, the others with
    # the literature ones (nanoenv.tasks: where the calibration is validated)
    for task, expected in (
        ("dataset", calibrated),
        ("realisable", DEFAULT_CONSTANTS),
        ("sustained", DEFAULT_CONSTANTS),
        ("dataset_liposome", DEFAULT_CONSTANTS),
    ):
        assert FormulationDesignEnv(task=task).spec_.constants == expected, task
        venv = FormulationDesignVectorEnv(num_envs=2, task=task)
        assert venv.spec_.constants == expected, task
    for name, expected in (("literature", DEFAULT_CONSTANTS), ("calibrated", calibrated)):
        assert FormulationDesignEnv(task="dataset", constants=name).spec_.constants == expected
    assert TASK_FAMILIES["dataset"].default_constants() == calibrated
    with pytest.raises(ValueError, match="constants='fitted'; allowed"):
        dataclasses.replace(TASK_FAMILIES["dataset"], constants="fitted")


def test_realisable_targets_follow_the_environment_constants():
    # drawn under the calibrated constants, the hidden design scores f2 = 100 under them
    # (and the curve differs from the literature draw of the same stream)
    space = DesignSpace.polymer_nanoparticle()
    env = FormulationDesignEnv(task="realisable", constants="calibrated")
    env.reset(seed=3)
    target = env.target
    lit = FormulationDesignEnv(task="realisable")
    lit.reset(seed=3)
    assert not torch.allclose(target.release, lit.target.release, atol=1e-3)
    z = space.to_normalized(target.formulation.to(dtype=torch.float32))[0].numpy()
    _, info = env.reset(seed=0, options={"target": target, "z": z})
    assert info["f2"] == pytest.approx(100.0, abs=0.05)
    suite = benchmark_suite("realisable", 2, seed=5, constants="calibrated")
    again = TASK_FAMILIES["realisable"].sample_many(
        [np.random.default_rng(0)], constants=calibrated_constants()
    )
    assert len(suite) == 2 and len(again) == 1


def test_success_terminates_with_bonus_and_budget_truncates():
    target = benchmark_suite("realisable", 1, seed=2)[0]
    space = DesignSpace.polymer_nanoparticle()
    z_star = space.to_normalized(target.formulation.to(dtype=torch.float32))[0].numpy()
    env = FormulationDesignEnv(task="realisable", max_edits=3, max_step=0.5)
    z0 = np.clip(z_star + 0.05, -1, 1)
    env.reset(seed=0, options={"target": target, "z": z0})
    _, reward, terminated, truncated, info = env.step(((z_star - z0) / 0.5).astype(np.float32))
    assert terminated and not truncated and info["is_success"]
    assert reward > 1.0  # bonus 1 plus the score gain
    env = FormulationDesignEnv(task="realisable", max_edits=2, success_f2=101.0)
    env.reset(seed=0)
    flags = [env.step(env.action_space.sample())[2:4] for _ in range(2)]
    assert flags == [(False, False), (False, True)]


def test_custom_reward_model_plugs_in():
    class NegativeFinalGap:
        """Score: minus the gap between final released fractions."""

        def __call__(self, release, targets, formulation):
            return RewardOutput(-(release[:, -1] - targets.release[:, -1]).abs())

    env = gym.make("nanoenv/FormulationDesign-v0", reward_model=NegativeFinalGap())
    _, info = env.reset(seed=0)
    expected = -abs(info["release_curve"][-1] - env.unwrapped.target.release[-1].item())
    assert info["score"] == pytest.approx(expected, abs=1e-5)
    assert info["cost"] == 0.0


def test_therapeutic_window_task_uses_pk_reward_and_observes_the_patient():
    env = FormulationDesignEnv(task="therapeutic_window")
    obs, info = env.reset(seed=0)
    assert 0.0 <= info["score"] <= 1.0
    patient = env.target.patient
    assert obs[-4] == pytest.approx(np.log(patient.clearance_l_h / 5.0), rel=1e-5)


def test_discrete_stop_action_terminates_without_changing_the_design():
    env = gym.make("nanoenv/FormulationDesignDiscrete-v0", success_f2=101.0)
    obs, _ = env.reset(seed=0)
    stop = env.action_space.n - 1
    obs2, reward, terminated, _, _ = env.step(stop)
    assert terminated and reward == pytest.approx(0.0, abs=1e-6)
    np.testing.assert_allclose(obs2[:-1], obs[:-1])


def test_render_modes():
    env = FormulationDesignEnv(task="ph_triggered", render_mode="ansi")
    env.reset(seed=0)
    text = env.render()
    assert "ph_triggered target" in text and text.count("\n") == 25
    env = FormulationDesignEnv(task="ph_triggered", render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"task": "cure_everything"}, "unknown task family 'cure_everything'"),
        ({"reward_model": "joy"}, "unknown reward model 'joy'"),
        ({"reward_model": 42}, "reward_model must be a name"),
        ({"max_step": 0.0}, "max_step=0.0 must be in (0, 2]"),
        ({"max_edits": 0}, "max_edits=0 must be a positive number"),
        ({"design_space": DesignSpace.liposome()}, "task 'realisable' designs polymer carriers"),
        ({"render_mode": "human"}, "render_mode='human'; allowed"),
        ({"constants": "fitted"}, "constants='fitted'; allowed: a SimulatorConstants or one of"),
    ],
)
def test_bad_keywords_raise_clear_errors(kwargs, needle):
    with pytest.raises(ValueError) as info:
        FormulationDesignEnv(**kwargs)
    assert needle in str(info.value)


def test_bounds_that_do_not_nest_are_rejected():
    with pytest.raises(ValueError, match=r"radius_nm=\(1, 50\) must nest inside .*\(nm\)"):
        DesignSpace.polymer_nanoparticle(radius_nm=(1.0, 50.0))
    with pytest.raises(ValueError, match=r"must nest inside the current bounds \[25, 250\]"):
        DesignSpace.polymer_nanoparticle().narrowed(radius_nm=(10.0, 100.0))
    with pytest.raises(ValueError, match="low < high"):
        DesignSpace.polymer_nanoparticle(zeta_mv=(10.0, -10.0))


@pytest.mark.parametrize(
    ("output", "needle"),
    [
        (lambda r: r[:, :2].sum(1, keepdim=True), "returned score of shape (1, 1); expected (1,)"),
        (lambda r: r.sum(1) * float("nan"), "returned a non-finite score"),
        (lambda r: "great", "returned str; expected a RewardOutput"),
    ],
)
def test_bad_reward_models_are_named(output, needle):
    env = FormulationDesignEnv(reward_model=lambda release, targets, f: output(release))
    with pytest.raises(ValueError) as info:
        env.reset(seed=0)
    assert needle in str(info.value)


def test_bad_actions_and_step_order():
    env = FormulationDesignEnv(max_edits=1)
    with pytest.raises(gym.error.ResetNeeded):
        env.step(env.action_space.sample())
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"action must have shape \(11,\)"):
        env.step(np.zeros(3, dtype=np.float32))
    with pytest.raises(ValueError, match="actions must be finite"):
        env.step(np.full(11, np.nan, dtype=np.float32))
    env.step(np.zeros(11, dtype=np.float32))  # truncated: budget of one edit
    with pytest.warns(UserWarning, match="step\\(\\) called after the episode ended"):
        _, reward, terminated, _, _ = env.step(np.zeros(11, dtype=np.float32))
    assert reward == 0.0 and terminated
    venv = FormulationDesignVectorEnv(num_envs=2)
    venv.reset(seed=0)
    with pytest.raises(ValueError, match="leading dimension of num_envs=2"):
        venv.step(np.zeros((3, 11), dtype=np.float32))
    discrete = FormulationDesignVectorEnv(num_envs=2, discrete=True)
    discrete.reset(seed=0)
    with pytest.raises(ValueError, match=r"integers in \[0, 22\]"):
        discrete.step(np.array([0, 99]))


def test_dataset_targets_are_the_measured_curves_on_the_task_grid():
    from nanoenv.data import plai_curves

    curves = plai_curves()
    targets = benchmark_suite("dataset", 4, seed=0)
    for target in targets:
        assert target.times_h.shape == (24,) and (target.release.diff() >= 0).all()
        row = next(
            i
            for i in range(len(curves.curve_ids))
            if abs(float(curves.times_h[i][curves.mask[i]][-1]) - target.horizon_h) < 1e-9
            and abs(float(curves.release[i][curves.mask[i]][-1]) - float(target.release[-1])) < 1e-9
        )
        assert curves.groups[row] == target.drug.name
    env = FormulationDesignEnv(task="dataset")
    # nanoparticles to millimetre implants: the PLAI devices with SA-V in mm⁻¹ (issue 14)
    assert env.spec_.design_space.parameters[0].high == 2e6
    _, info = env.reset(seed=0, options={"target": targets[0]})
    assert np.isfinite(info["f2"])


def test_suite_targets_do_not_share_a_stream_with_an_env_seeded_alike():
    target = benchmark_suite("realisable", 1, seed=0)[0]
    env = FormulationDesignEnv(task="realisable")
    _, info = env.reset(seed=0, options={"target": target})
    assert info["f2"] < 99.0  # the env's first design is not the hidden one
    again = benchmark_suite("realisable", 3, seed=0)
    assert torch.equal(again[0].release, target.release)


class _Proposer:
    """An InitialDesigner that proposes each realisable target's hidden design and
    claims 7 simulator calls for it."""

    def __init__(self) -> None:
        self.seen = 0

    def __call__(self, targets, rngs):
        space = DesignSpace.polymer_nanoparticle()
        self.seen += len(targets)
        z = np.stack([space.to_normalized(t.formulation)[0].numpy() for t in targets])
        return np.clip(z, -1, 1), np.full(len(targets), 7)


def test_initial_designer_starts_episodes_and_its_calls_are_counted():
    proposer = _Proposer()
    env = FormulationDesignEnv(task="realisable", initial_design=proposer)
    _, info = env.reset(seed=3)
    assert proposer.seen == 1
    assert info["sim_calls"] == 1 + 7
    assert info["f2"] > 99.0  # the hidden design reproduces its own curve
    _, _, _, _, info = env.step(np.zeros(env.action_space.shape, dtype=np.float32))
    assert info["sim_calls"] == 1 + 7 + 1

    venv = FormulationDesignVectorEnv(
        num_envs=3, task="realisable", initial_design=proposer, autoreset_mode="SameStep"
    )
    _, infos = venv.reset(seed=0)
    assert proposer.seen == 4
    np.testing.assert_array_equal(infos["sim_calls"], [8, 8, 8])
    assert (infos["f2"] > 99.0).all()
    # success ends every episode at once; the autoreset rows count the proposer again
    _, _, terminated, _, infos = venv.step(np.zeros((3, venv.single_action_space.shape[0])))
    assert terminated.all()
    np.testing.assert_array_equal(infos["sim_calls"], [8, 8, 8])
    assert proposer.seen == 7


@pytest.mark.parametrize(
    ("returned", "needle"),
    [
        ((np.full((1, 11), 2.0), np.zeros(1)), "in [-1, 1]"),
        ((np.zeros((1, 5)), np.zeros(1)), "expected (1, 11)"),
        ((np.zeros((1, 11)), np.full(1, -1)), "negative simulator calls"),
    ],
)
def test_bad_initial_designers_are_named(returned, needle):
    env = FormulationDesignEnv(task="sustained", initial_design=lambda targets, rngs: returned)
    with pytest.raises(ValueError) as err:
        env.reset(seed=0)
    assert needle in str(err.value)
    with pytest.raises(ValueError, match="initial_design='middle'"):
        FormulationDesignEnv(initial_design="middle")


def test_measured_targets_are_the_dataset_families_curves():
    from nanoenv.tasks import measured_targets

    plai = measured_targets("plai")
    assert len(plai) == 153 and {t.family for t in plai} == {"dataset"}
    lipo = measured_targets("liposome")
    assert {t.family for t in lipo} == {"dataset_liposome"}
    assert all(t.carrier.name == "LIPOSOME" for t in lipo)
    for t in plai[:5] + lipo[:5]:
        assert t.times_h[0] == 0 and (t.release >= 0).all() and (t.release <= 1).all()
    with pytest.raises(ValueError, match="dataset='pla'; allowed"):
        measured_targets("pla")


def test_bench_tasks_reports_reach_floor_and_oracle_per_family_and_tier(tmp_path):
    from benchmarks import bench_tasks

    result = bench_tasks.main(
        [
            "--n",
            "2",
            "--budget",
            "64",
            "--oracle-starts",
            "2",
            "--oracle-budget",
            "8",
            "--families",
            "ph_triggered_strict",
            "realisable",
            "--out",
            str(tmp_path),
        ]
    )
    rows = {r["family"]: r for r in result["rows"]}
    assert [r["family"] for r in result["rows"]] == ["realisable", "ph_triggered_strict"]
    assert rows["ph_triggered_strict"]["tier"] == "hard"
    assert rows["ph_triggered_strict"]["reward"] == "f2_feasible"
    for r in rows.values():
        assert len(r["targets"]) == 2
        for t in r["targets"]:
            assert 0.0 <= t["floor"] <= t["random_k10"] <= t["random_best"] <= t["oracle"] <= 1.0
            assert t["oracle"] == max(t["random_best"], t["gradient"])
        assert r["median_oracle"] == pytest.approx(sum(t["oracle"] for t in r["targets"]) / 2)
    text = (tmp_path / "tasks.md").read_text()
    assert "| ph_triggered_strict | hard | f2_feasible | 0 |" in text
    with pytest.raises(SystemExit):
        bench_tasks.main(["--n", "0"])
    assert bench_tasks.expected_best_of(torch.tensor([0.0, 1.0, 2.0, 3.0]), 2) == (
        pytest.approx((1 + 2 + 3 + 2 + 3 + 3) / 6)
    )
