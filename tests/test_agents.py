"""PPO/SAC training runs: config validation, run folders, checkpoints, resume, CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

import agents.rl as rl
import agents.rl.training as rl_training
from agents import PolicyRollout
from agents.rl import TrainConfig, last_checkpoint, load_config, load_model, train
from nanoenv.cli import main
from nanoenv.tasks import benchmark_suite, get_family

TINY_PPO: dict[str, Any] = {
    "algo": "ppo",
    "task": "realisable",
    "total_steps": 64,
    "num_envs": 2,
    "seed": 0,
    "env": {"max_edits": 5},
    "hyperparameters": {
        "n_steps": 16,
        "batch_size": 16,
        "n_epochs": 1,
        "policy_kwargs": {"net_arch": [16]},
    },
    "checkpoint_every": 32,
    "eval": {"n": 2, "seed": 1000},
}

TINY_SAC: dict[str, Any] = {
    **TINY_PPO,
    "algo": "sac",
    "hyperparameters": {
        "buffer_size": 1000,
        "learning_starts": 16,
        "batch_size": 16,
        "policy_kwargs": {"net_arch": [16]},
    },
    "eval": {"at_end": False},
}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _write(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture(scope="module")
def ppo_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny PPO run (64 steps, evaluated at the end on 2 targets)."""
    run = tmp_path_factory.mktemp("ppo") / "run"
    return train(TrainConfig.from_dict(TINY_PPO), run_dir=run, progress=False)


# -- configuration -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"learning_rate": 0.1}, ["'learning_rate'", "allowed", "hyperparameters"]),
        ({"total_steps": "many"}, ["'total_steps'", "integer"]),
        ({"total_steps": True}, ["'total_steps'", "integer"]),
        ({"seed": 1.5}, ["'seed'", "integer"]),
        ({"algo": "dqn"}, ["'algo'", "'dqn'", "ppo", "sac"]),
        ({"device": "tpu"}, ["'device'", "'tpu'", "cuda", "auto"]),
        ({"task": "nope"}, ["'task'", "'nope'", "realisable"]),
        ({"env": {"max_edit": 3}}, ["'env.max_edit'", "allowed", "max_edits"]),
        ({"env": {"max_step": "big"}}, ["'env.max_step'", "number"]),
        ({"env": {"constants": "fitted"}}, ["env.constants", "'fitted'", "calibrated"]),
        ({"env": {"constants": 3}}, ["env.constants"]),
        ({"eval": {"families": ["thermal_triggered"]}}, ["'eval.families'", "thermal"]),
        ({"hyperparameters": {"n_step": 8}}, ["'hyperparameters.n_step'", "n_steps"]),
        ({"hyperparameters": {"n_steps": 8.5}}, ["'hyperparameters.n_steps'", "integer"]),
        (
            {"hyperparameters": {"policy_kwargs": {"layers": [8]}}},
            ["'hyperparameters.policy_kwargs.layers'", "net_arch"],
        ),
        ({"hyperparameters": {"buffer_size": 10}}, ["'hyperparameters.buffer_size'", "ppo"]),
        ({"num_envs": 0}, ["'num_envs'", "positive"]),
    ],
)
def test_config_errors_name_the_key_and_what_is_allowed(
    tmp_path: Path, change: dict[str, Any], words: list[str]
) -> None:
    path = _write(tmp_path / "bad.yaml", {**TINY_PPO, **change})
    with pytest.raises(ValueError) as info:
        load_config(path)
    for word in words:
        assert word in str(info.value), (word, str(info.value))


def test_missing_or_invalid_file_and_yaml_floats(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        load_config(tmp_path / "absent.yaml")
    (tmp_path / "broken.yaml").write_text("algo: [ppo\n")
    with pytest.raises(ValueError, match="not valid YAML"):
        load_config(tmp_path / "broken.yaml")
    (tmp_path / "list.yaml").write_text("- ppo\n")
    with pytest.raises(ValueError, match="mapping"):
        load_config(tmp_path / "list.yaml")
    # YAML 1.1 reads ``1e-3`` as a string; the loader reads it as a number
    (tmp_path / "lr.yaml").write_text("hyperparameters:\n  learning_rate: 1e-3\n")
    assert load_config(tmp_path / "lr.yaml").hyperparameters["learning_rate"] == 1e-3


def test_shipped_configs_are_valid() -> None:
    folder = Path(__file__).resolve().parent.parent / "experiments" / "configs"
    names = {p.name for p in folder.glob("*.yaml")}
    assert {
        "ppo_realisable.yaml",
        "ppo_sustained.yaml",
        "sac_realisable.yaml",
        "sac_sustained.yaml",
    } <= names
    for path in folder.glob("*.yaml"):
        cfg = load_config(path)
        assert cfg.algo in path.name and cfg.task in path.name


def _leaves(data: dict[str, Any], prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    out: dict[tuple[str, ...], Any] = {}
    for key, value in data.items():
        if isinstance(value, dict) and value:
            out.update(_leaves(value, (*prefix, key)))
        else:
            out[(*prefix, key)] = value
    return out


def test_the_ppo_defaults_are_written_once_and_overridden_not_restated() -> None:
    from agents.prior.methods import PPO_HYPERPARAMETERS
    from agents.rl.config import default_config, default_names

    assert default_names() == ["ppo", "sac"]
    ppo = default_config("ppo")
    assert TrainConfig.from_dict(ppo).algo == "ppo"
    assert TrainConfig.from_dict(default_config("sac")).algo == "sac"
    assert PPO_HYPERPARAMETERS == ppo["hyperparameters"]
    assert ppo["hyperparameters"]["n_steps"] == 128 and ppo["num_envs"] == 8
    folder = Path(__file__).resolve().parent.parent / "experiments" / "configs"
    for path in folder.glob("*.yaml"):
        raw = yaml.safe_load(path.read_text())
        base = _leaves(default_config(raw.pop("defaults")))
        restated = [k for k, v in _leaves(raw).items() if base.get(k, object()) == v]
        assert restated == [], f"{path.name} restates shipped defaults: {restated}"


def test_defaults_key_merges_mappings_and_rejects_unknown_names(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "defaults: ppo\ntask: sustained\nhyperparameters:\n  n_steps: 64\n"
        "  policy_kwargs:\n    net_arch: [32]\n"
    )
    cfg = load_config(path)
    assert (cfg.algo, cfg.task, cfg.total_steps) == ("ppo", "sustained", 50_000)
    assert cfg.hyperparameters["n_steps"] == 64 and cfg.hyperparameters["batch_size"] == 256
    assert cfg.hyperparameters["policy_kwargs"] == {
        "net_arch": [32],
        "activation_fn": "tanh",
        "log_std_init": -0.5,
    }
    path.write_text("defaults: a2c\n")
    with pytest.raises(ValueError, match=r"config key 'defaults' is 'a2c'; allowed: \['ppo'"):
        load_config(path)


def test_bad_config_fails_before_any_run_folder_is_made(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    path = _write(tmp_path / "bad.yaml", {**TINY_PPO, "algo": "dqn"})
    assert main(["train", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nanoenv: error:") and "'algo'" in err and err.count("\n") == 1
    assert main(["train", "--config", str(tmp_path / "absent.yaml")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert (
        main(["train", "--config", str(_write(tmp_path / "ok.yaml", TINY_PPO)), "--device", "tpu"])
        == 2
    )
    assert not (tmp_path / "runs").exists()


# -- training, checkpoints, resume -----------------------------------------------------------


def test_ppo_run_folder_contents(ppo_run: Path) -> None:
    for name in ("config.yaml", "meta.json", "final_model.zip"):
        assert (ppo_run / name).is_file(), name
    meta = yaml.safe_load((ppo_run / "meta.json").read_text())
    assert meta["seed"] == 0 and meta["versions"]["stable-baselines3"]
    assert set(meta["versions"]) >= {"torch", "gymnasium", "nanoenv"}
    assert load_config(ppo_run / "config.yaml") == TrainConfig.from_dict(TINY_PPO)
    steps = sorted(int(p.stem.split("_")[1]) for p in (ppo_run / "checkpoints").glob("*.zip"))
    assert steps[0] == 32 and steps[-1] == 64
    assert not list(ppo_run.rglob("*.tmp"))
    assert (next((ppo_run / "logs").iterdir()) / "progress.csv").is_file()
    (evaluation,) = ppo_run.glob("eval_*")
    assert (evaluation / "results.csv").read_text().count("\n") == 3  # header + 2 targets
    with pytest.raises(ValueError, match="never overwritten"):
        train(TrainConfig.from_dict(TINY_PPO), run_dir=ppo_run, progress=False)


def test_default_run_folders_are_new(tmp_path: Path) -> None:
    a = rl.new_folder(tmp_path, "x")
    b = rl.new_folder(tmp_path, "x")
    assert a != b and a.name == "x" and b.name == "x_1"


def test_ppo_resume_continues_the_step_count(ppo_run: Path, tmp_path: Path) -> None:
    import shutil

    run = tmp_path / "copy"
    shutil.copytree(ppo_run, run)
    assert load_model(run).num_timesteps == 64
    cfg = load_config(run / "config.yaml").replace(total_steps=128)
    train(cfg, resume=run, progress=False)
    assert load_model(run).num_timesteps == 128
    assert last_checkpoint(run)[2] == 128
    assert len(list((run / "logs").iterdir())) == 2  # one log folder per session


class _Centre:
    """An initial-design proposer: the centre of the space, 3 simulator calls each."""

    def __init__(self, dim: int) -> None:
        self.dim, self.proposed = dim, 0

    def __call__(self, targets: Any, rngs: Any) -> tuple[np.ndarray, np.ndarray]:
        self.proposed += len(targets)
        return np.zeros((len(targets), self.dim), np.float32), np.full(len(targets), 3)


def test_make_vec_env_takes_a_proposer_and_a_wrapper() -> None:
    from stable_baselines3.common.vec_env import VecEnvWrapper

    class Shift(VecEnvWrapper):
        def reset(self) -> Any:
            return self.venv.reset()

        def step_wait(self) -> Any:
            obs, rewards, dones, infos = self.venv.step_wait()
            return obs, rewards - 1.0, dones, infos

    cfg = TrainConfig.from_dict(TINY_PPO)
    dim = get_family(cfg.task).default_space().dim
    proposer = _Centre(dim)
    env = rl.make_vec_env(cfg, initial_design=proposer, wrapper=Shift)
    centre = rl.make_vec_env(cfg.replace(env={"max_edits": 5, "initial_design": "center"}))
    obs, obs0 = env.reset(), centre.reset()
    assert proposer.proposed == 2 and np.all(obs[:, :dim] == 0)
    np.testing.assert_array_equal(obs, obs0)  # the same targets, from the same design
    steps = []
    for venv in (env, centre):
        venv.step_async(np.full((2, dim), 0.5, np.float32))
        steps.append(venv.step_wait())
    (_, rewards, _, infos), (_, rewards0, _, infos0) = steps
    np.testing.assert_allclose(rewards, rewards0 - 1.0, rtol=1e-6)
    assert [i["sim_calls"] for i in infos] == [i["sim_calls"] + 3 for i in infos0]
    env.close()
    centre.close()


def test_train_model_in_a_run_folder_of_ones_own(tmp_path: Path) -> None:
    cfg = TrainConfig.from_dict({**TINY_PPO, "checkpoint_every": 24, "eval": {"at_end": False}})
    run = rl.make_run_folder(tmp_path / "run", cfg.runs_dir, "mine", cfg.seed)
    (run / "extra.json").write_text("{}")  # the caller's own files stay
    proposer = _Centre(get_family(cfg.task).default_space().dim)
    model = rl.train_model(
        cfg, run, progress=False, notes=["a note"], initial_design=proposer, final_checkpoint=False
    )
    assert model.num_timesteps == 64 and proposer.proposed > 0
    steps = sorted(int(p.stem.split("_")[1]) for p in (run / "checkpoints").glob("*.zip"))
    assert steps == [24, 48]  # scheduled only: no checkpoint at the last step (64)
    assert (run / "final_model.zip").is_file() and (run / "extra.json").is_file()
    assert load_config(run / "config.yaml") == cfg
    assert yaml.safe_load((run / "meta.json").read_text())["notes"][0] == "a note"
    assert not list(run.glob("eval_*")) and not list(run.rglob("*.tmp"))


def test_sac_save_load_resume_with_replay_buffer(tmp_path: Path) -> None:
    run = train(TrainConfig.from_dict(TINY_SAC), run_dir=tmp_path / "sac", progress=False)
    _, buffer_path, steps = last_checkpoint(run)
    assert steps == 64 and buffer_path is not None
    model = load_model(run)
    assert type(model).__name__ == "SAC" and model.num_timesteps == 64
    train(load_config(run / "config.yaml").replace(total_steps=96), resume=run, progress=False)
    resumed = load_model(run)
    assert resumed.num_timesteps == 96
    _, buffer_path, _ = last_checkpoint(run)
    assert buffer_path.suffix == ".npz"  # plain arrays, never a pickle
    with np.load(buffer_path, allow_pickle=False) as buffer:
        # 2 environments: the first 32 transitions were restored
        assert int(buffer["pos"]) == 96 // 2 and len(buffer["observations"]) == 96 // 2


def test_interrupted_run_keeps_its_checkpoints_and_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stable_baselines3.common.callbacks import BaseCallback

    class Interrupt(BaseCallback):
        def _on_step(self) -> bool:
            if self.model.num_timesteps >= 40:
                raise KeyboardInterrupt
            return True

    monkeypatch.setattr(rl_training, "progress_callback", lambda total, initial: Interrupt())
    monkeypatch.setattr(rl_training, "rich_available", lambda: False)
    cfg = TrainConfig.from_dict({**TINY_PPO, "eval": {"at_end": False}})
    run = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train(cfg, run_dir=run, progress=True)
    assert not (run / "final_model.zip").exists()
    assert not list(run.rglob("*.tmp"))
    assert last_checkpoint(run)[2] == 40  # 32 (scheduled) and 40 (saved on interrupt)
    assert (run / "checkpoints" / "model_32_steps.zip").is_file()
    monkeypatch.undo()
    train(None, resume=run, progress=False)
    assert load_model(run).num_timesteps == 64 + 8  # PPO rollouts of 32 steps from 40


# -- CLI and evaluation ---------------------------------------------------------------------


def test_cli_train_resume_and_evaluate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = _write(tmp_path / "tiny.yaml", {**TINY_PPO, "eval": {"at_end": False}})
    run = tmp_path / "run"
    argv = [
        "train",
        "--config",
        str(cfg),
        "--run-dir",
        str(run),
        "--seed",
        "3",
        "--total-steps",
        "32",
        "--no-progress",
    ]
    assert main(argv) == 0
    assert load_config(run / "config.yaml").seed == 3
    assert main(["train", "--resume", str(run), "--total-steps", "64", "--no-progress"]) == 0
    assert load_model(run).num_timesteps == 64
    assert main(["evaluate", "--run", str(run), "--n", "2", "--no-progress"]) == 0
    (folder,) = run.glob("eval_*")
    import json

    rows = json.loads((folder / "results.json").read_text())["rows"]
    assert len(rows) == 2
    assert {"best_f2", "success", "calls_to_success", "cost"} <= set(rows[0])
    assert all(r["sim_calls"] <= 6 for r in rows)  # one episode of max_edits = 5
    out = tmp_path / "baselines"
    argv = [
        "evaluate",
        "--method",
        "random",
        "--n",
        "2",
        "--budget",
        "16",
        "--out",
        str(out),
        "--no-progress",
    ]
    assert main(argv) == 0
    (folder,) = out.glob("eval_random_*")
    header = (folder / "results.csv").read_text().splitlines()[0]
    assert "best_f2" in header and "calls_to_success" in header
    capsys.readouterr()
    assert main(["evaluate", "--run", str(tmp_path / "nothing"), "--no-progress"]) == 2
    assert capsys.readouterr().err.startswith("nanoenv: error:")
    assert main(["evaluate", "--method", "cmaes", "--families", "nope"]) == 2
    assert main(["evaluate", "--method", "cma"]) == 2  # one name per method
    assert "unknown method 'cma'; allowed: [" in capsys.readouterr().err
    assert main(["evaluate", "--method", "ppo"]) == 2  # trained: evaluate its run
    assert "is trained per family" in capsys.readouterr().err
    assert main(["evaluate", "--run", str(run), "--constants", "calibrated"]) == 2
    assert "--constants applies to --method" in capsys.readouterr().err
    assert (
        main(
            [
                "evaluate",
                "--method",
                "prior",
                "--n",
                "2",
                "--budget",
                "8",
                "--out",
                str(out),
                "--no-progress",
            ]
        )
        == 0
    )
    (folder,) = out.glob("eval_prior_*")
    rows = json.loads((folder / "results.json").read_text())["rows"]
    assert [r["sim_calls"] for r in rows] == [8, 8]
    argv = [
        "evaluate",
        "--method",
        "random",
        "--families",
        "dataset",
        "--n",
        "2",
        "--budget",
        "8",
        "--out",
        str(out),
        "--constants",
        "literature",
        "--no-progress",
    ]
    assert main(argv) == 0
    newest = max(out.glob("eval_random_*"), key=lambda p: p.stat().st_mtime)
    assert json.loads((newest / "results.json").read_text())["settings"]["constants"] == (
        "literature"
    )


def test_policy_rollout_with_trained_ppo(ppo_run: Path) -> None:
    model = load_model(ppo_run)
    target = benchmark_suite("realisable", 2, seed=1000)[1]
    result = PolicyRollout(model, {"max_edits": 5}, name="ppo").design(target, 50, seed=1)
    assert 1 <= result.sim_calls <= 6
    assert result.method == "ppo" and 0 <= result.f2 <= 100


def test_direct_construction_is_type_checked() -> None:
    with pytest.raises(ValueError, match="'total_steps' must be an integer"):
        TrainConfig(total_steps="many")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="'env' must be a mapping"):
        TrainConfig(env=3)  # type: ignore[arg-type]
    assert TrainConfig(env={"max_step": 1}).env.max_step == 1.0


def test_commands_come_from_entry_points_and_nanoenv_does_not_import_agents() -> None:
    import subprocess
    import sys

    from nanoenv.cli import build_parser, extra_subcommands

    assert {"train", "evaluate"} <= set(extra_subcommands())
    assert "train" in build_parser().format_help()
    code = "import sys, nanoenv, nanoenv.cli, nanoenv.envs; assert 'agents' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
