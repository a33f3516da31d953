"""The torch-native PPO (``agents/rl/ppo_torch.py``, issue 13): run folders, checkpoints,
resume, evaluation and the bench's ``ppo-torch``, continuous and discrete."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from agents.checkpoints import load_model_file
from agents.rl import TrainConfig, load_model, train
from agents.rl.ppo_torch import PPOTorchConfig, make_env, new_model, train_ppo_torch

pytestmark = pytest.mark.usefixtures("one_torch_thread")

HP = {"n_steps": 4, "batch_size": 32, "n_epochs": 2, "policy_kwargs": {"net_arch": [32, 32]}}


def _cfg(tmp_path: Path, **changes) -> TrainConfig:
    data = {
        "algo": "ppo-torch",
        "task": "realisable",
        "total_steps": 256,
        "num_envs": 16,
        "checkpoint_every": 128,
        "runs_dir": str(tmp_path / "runs"),
        "hyperparameters": HP,
        "env": {"max_edits": 3},
        "eval": {"at_end": False},
    }
    data.update(changes)
    return TrainConfig.from_dict(data)


def test_train_writes_a_run_folder_that_resumes_and_loads(tmp_path):
    run = train(_cfg(tmp_path), progress=False)
    assert run.name.startswith("ppo-torch_realisable_")
    names = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert names == ["model_128_steps.zip", "model_256_steps.zip"]
    rows = (run / "logs" / "session" / "progress.csv").read_text().splitlines()
    assert len(rows) == 1 + 256 // (4 * 16) and "rollout/ep_rew_mean" in rows[0]
    assert json.loads((run / "meta.json").read_text())["algo"] == "ppo-torch"
    assert json.loads((run / "training_cost.json").read_text())["env_steps"] == 256

    train(_cfg(tmp_path, total_steps=384), resume=run, progress=False)
    assert (run / "checkpoints" / "model_384_steps.zip").is_file()
    assert json.loads((run / "logs" / "session_1" / "resume.json").read_text())["steps"] == 256

    model = load_model(run)
    assert model.num_timesteps == 384
    obs = np.zeros(117, dtype=np.float32)
    action, _ = model.predict(obs, deterministic=True)
    assert action.shape == (11,) and np.all(np.abs(action) <= 1)
    # the weights on disk are the trained ones, read back without pickle
    fresh = load_model_file(new_model(_cfg(tmp_path), "cpu"), run / "final_model.zip")
    for a, b in zip(fresh.policy.parameters(), model.policy.parameters(), strict=True):
        assert torch.equal(a, b)


def test_training_is_seeded_and_changes_the_policy_discrete_too(tmp_path):
    def trained(seed: int):
        cfg = _cfg(tmp_path, seed=seed, total_steps=128)
        env = make_env(16, "realisable", torch.device("cpu"), {"max_edits": 3})
        model = new_model(cfg, "cpu")
        before = [p.detach().clone() for p in model.policy.parameters()]
        train_ppo_torch(model, env, 128, seed=seed)
        return before, [p.detach() for p in model.policy.parameters()]

    before, after = trained(0)
    _, again = trained(0)
    assert any(not torch.equal(a, b) for a, b in zip(before, after, strict=True))
    assert all(torch.equal(a, b) for a, b in zip(after, again, strict=True))

    from nanoenv.envs import FormulationDesignVectorEnv

    cfg = PPOTorchConfig.from_hyperparameters(HP)
    env = FormulationDesignVectorEnv(num_envs=8, max_edits=3, discrete=True, return_torch=True)
    from agents.rl.ppo_torch import PPOTorchModel

    model = PPOTorchModel(117, env.single_action_space, cfg)
    train_ppo_torch(model, env, 64)
    assert model.num_timesteps == 64 and model._n_updates > 0
    action, _ = model.predict(np.zeros((3, 117), dtype=np.float32))
    assert action.shape == (3,) and action.dtype == np.int64 and action.max() <= 22


def test_seed_none_continues_the_episodes_of_the_previous_call(tmp_path):
    """``seed=None`` on the same env goes on where the last call stopped (no reset, so no
    reseed and no new targets), as SB3's ``learn(reset_num_timesteps=False)``; a new env,
    or a seed, resets."""
    cfg = _cfg(tmp_path, total_steps=128)
    env = make_env(16, "realisable", torch.device("cpu"), {"max_edits": 3})
    model = new_model(cfg, "cpu")
    resets = []
    reset = env.reset
    env.reset = lambda **kw: resets.append(kw["seed"]) or reset(**kw)
    train_ppo_torch(model, env, 64, seed=3)
    left_env, left_obs, _ = model.rollout
    assert left_env is env and left_obs.shape == (16, 117) and resets == [3]
    calls = env.total_sim_calls
    train_ppo_torch(model, env, 128, seed=None)
    assert resets == [3] and model.num_timesteps == 128
    assert env.total_sim_calls >= calls + 64  # one simulation per env step, no reset of all 16
    assert not torch.equal(model.rollout[1], left_obs)
    train_ppo_torch(model, env, 192, seed=4)
    other = make_env(16, "realisable", torch.device("cpu"), {"max_edits": 3})
    train_ppo_torch(model, other, 256, seed=None)  # another env: reset (unseeded)
    assert resets == [3, 4] and model.rollout[0] is other


@pytest.mark.parametrize(
    ("hp", "needle"),
    [
        ({"n_step": 4}, "unknown config key 'hyperparameters.n_step' for ppo-torch"),
        ({"gamma": 1.5}, "'hyperparameters.gamma'=1.5 must be in (0, 1]"),
        ({"batch_size": 2.5}, "'hyperparameters.batch_size' for ppo-torch must be like 64"),
        ({"policy_kwargs": {"activation_fn": "swish"}}, "activation_fn'='swish'"),
        ({"policy_kwargs": {"net_arch": {"pi": [8], "vf": [16]}}}, "pi and vf must be"),
    ],
)
def test_bad_hyperparameters_are_refused_by_name(tmp_path, hp, needle):
    with pytest.raises(ValueError) as err:
        _cfg(tmp_path, hyperparameters=hp)
    assert needle in str(err.value)
    assert not (tmp_path / "runs").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA paths")
@pytest.mark.parametrize(
    "argv",
    [
        ["train", "--config", "CONFIG", "--device", "cuda"],
        [
            "evaluate",
            "--method",
            "random",
            "--n",
            "1",
            "--budget",
            "2",
            "--out",
            "OUT",
            "--device",
            "cuda",
        ],
        ["bench", "run", "--methods", "random", "--out", "OUT", "--device", "cuda"],
    ],
)
def test_cuda_verbs_without_a_gpu_fail_in_one_line_and_leave_no_folders(tmp_path, capsys, argv):
    from nanoenv.cli import main

    config = tmp_path / "c.yaml"
    config.write_text(f"algo: ppo-torch\nruns_dir: {tmp_path / 'runs'}\n")
    argv = [
        str(config) if a == "CONFIG" else str(tmp_path / "out") if a == "OUT" else a for a in argv
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "torch finds no CUDA device" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.yaml"]


def test_bench_designer_trains_and_is_scored_by_the_pipeline(tmp_path):
    from agents.bench.builtin import PPO_TORCH
    from agents.bench.registry import BuildContext
    from agents.bench.runner import score_designer
    from nanoenv.tasks import benchmark_suite

    configs = tmp_path / "configs"
    configs.mkdir()
    (configs / "ppo-torch_realisable.yaml").write_text(
        "algo: ppo-torch\nnum_envs: 16\ncheckpoint_every: 0\nenv: {max_edits: 3}\n"
        "hyperparameters: {n_steps: 4, batch_size: 32, n_epochs: 1}\n"
    )
    ctx = BuildContext(
        "ppo-torch",
        "realisable",
        0,
        tmp_path / "job",
        steps={"ppo-torch": 128},
        configs_dir=str(configs),
        stop_on_success=False,
    )
    built = PPO_TORCH.build(ctx)
    assert built.info["total_steps"] == 128 and built.info["train_sim_calls"] >= 128
    rows = score_designer(
        built.designer,
        benchmark_suite("realisable", 2, 1000),
        seed=0,
        budgets=(4,),
        trains=True,
        progress=False,
    )
    assert len(rows) == 2 and all(r["sim_calls"] == 4 and 0 <= r["best_f2"] <= 100 for r in rows)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA paths")
@pytest.mark.parametrize("algo", ["ppo", "ppo-torch"])
def test_library_train_on_cuda_without_a_gpu_leaves_no_folder(tmp_path, algo):
    cfg = TrainConfig(
        algo=algo, device="cuda", runs_dir=str(tmp_path / "runs"), total_steps=64, num_envs=4
    )
    with pytest.raises(ValueError, match="torch finds no CUDA device"):
        train(cfg, progress=False)
    assert not (tmp_path / "runs").exists()
