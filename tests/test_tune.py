"""``nanoenv tune`` (agents.tune): Optuna search over PPO/SAC hyperparameters."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from agents.rl import load_config
from agents.tune import TUNE, sample_hyperparameters, trial_config

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "experiments" / "configs"

pytestmark = pytest.mark.usefixtures("one_torch_thread")
optuna = pytest.importorskip("optuna", reason="the tune extra is not installed")


@pytest.fixture
def nanoenv(monkeypatch):
    """``nanoenv`` with the ``tune`` command, also when the installed package metadata
    predates its entry point (the test below checks pyproject declares it)."""
    import nanoenv.cli as cli

    extra = cli.extra_subcommands
    monkeypatch.setattr(cli, "extra_subcommands", lambda: {**extra(), "tune": TUNE})
    return cli.main


@pytest.fixture
def tiny_config(tmp_path) -> Path:
    """The shipped PPO config with 2 environments (rollouts of at most 512 steps)."""
    path = tmp_path / "ppo_tiny.yaml"
    path.write_text((CONFIGS / "ppo_realisable.yaml").read_text() + "num_envs: 2\n")
    return path


def test_tune_entry_point_and_extra_are_declared():
    text = (ROOT / "pyproject.toml").read_text()  # tomllib needs Python 3.11
    commands = text.split('[project.entry-points."nanoenv.commands"]')[1].split("\n[")[0]
    assert 'tune = "agents.tune:TUNE"' in commands
    extra = text.split("\ntune = [")[1].split("]")[0]
    assert '"optuna>=' in extra


def test_two_tiny_trials_write_a_loadable_best_config_and_a_rerun_continues(
    tmp_path, tiny_config, nanoenv, capsys
):
    out = tmp_path / "tune"
    args = [
        "tune",
        "--config",
        str(tiny_config),
        "--steps",
        "300",
        "--rungs",
        "2",
        "--n",
        "2",
        "--out",
        str(out),
    ]
    assert nanoenv([*args, "--trials", "2"]) == 0
    assert "wrote" in capsys.readouterr().out
    summary = json.loads((out / "tune.json").read_text())
    trials = summary["trials"]
    assert [t["state"] for t in trials] == ["COMPLETE", "COMPLETE"]
    for t in trials:  # one score per part of training, the last one is the trial's value
        assert sorted(int(k) for k in t["intermediate"]) == [150, 300]
        assert t["value"] == t["intermediate"]["300"]
        assert 0.0 <= t["value"] <= 1.0
    best = max(trials, key=lambda t: t["value"])
    assert summary["best"]["number"] == best["number"]

    cfg = load_config(out / "best_config.yaml")
    assert (cfg.algo, cfg.task, cfg.total_steps, cfg.num_envs) == ("ppo", "realisable", 300, 2)
    assert cfg.eval.at_end is True
    hp = cfg.hyperparameters
    assert hp["learning_rate"] == pytest.approx(best["params"]["learning_rate"])
    assert hp["n_steps"] == best["params"]["n_steps"]
    assert hp["batch_size"] == 2 * hp["n_steps"] // best["params"]["minibatches"]
    assert hp["max_grad_norm"] == 0.5  # not searched: the base config's
    assert hp["policy_kwargs"]["log_std_init"] == -0.5
    assert (out / "study.db").is_file()
    assert sorted(p.name for p in (out / "trials").iterdir()) == ["trial_0000", "trial_0001"]

    # rerun: the study continues to 3 trials, with a new draw (not a replay of trial 0)
    assert nanoenv([*args, "--trials", "3"]) == 0
    assert "2 trial(s) already finished" in capsys.readouterr().out
    trials = json.loads((out / "tune.json").read_text())["trials"]
    assert [t["number"] for t in trials] == [0, 1, 2]
    assert trials[2]["params"] not in (trials[0]["params"], trials[1]["params"])

    # other settings on the same study are refused
    assert nanoenv([*args[:-4], "--n", "3", "--out", str(out), "--trials", "3"]) == 2
    assert "holds a study with other settings (n: 2, now 3)" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--trials", "0"], "--trials 0; allowed: an integer in [1, 10000] trials"),
        (["--steps", "-5"], "--steps -5; allowed: an integer in [1, 100000000]"),
        (["--rungs", "0"], "--rungs 0; allowed"),
        (["--n", "0"], "--n 0; allowed: an integer in [1, 10000] targets"),
        (["--budget", "0"], "--budget 0; allowed"),
        (["--seed", "-1"], "--seed -1; allowed: an integer >= 0"),
        (["--family", "sustainable"], "--family 'sustainable'; allowed: ["),
        (["--trials", "x"], "invalid int value: 'x'"),
    ],
)
def test_bad_arguments_exit_2_with_one_line_before_any_work(
    tmp_path, tiny_config, nanoenv, capsys, extra, needle
):
    out = tmp_path / "tune"
    assert nanoenv(["tune", "--config", str(tiny_config), "--out", str(out), *extra]) == 2
    err = capsys.readouterr().err
    assert needle in err
    assert err.count("\n") == 1
    assert not out.exists()


def test_a_bad_config_or_out_exits_2(tmp_path, tiny_config, nanoenv, capsys):
    assert (
        nanoenv(["tune", "--config", str(tmp_path / "none.yaml"), "--out", str(tmp_path / "t")])
        == 2
    )
    assert "does not exist" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text(tiny_config.read_text() + "hyperparameters:\n  gamma: 5\n")
    assert nanoenv(["tune", "--config", str(bad), "--out", str(tmp_path / "t")]) == 2
    assert "'hyperparameters.gamma' is 5" in capsys.readouterr().err
    (tmp_path / "file").write_text("x")
    assert nanoenv(["tune", "--config", str(tiny_config), "--out", str(tmp_path / "file")]) == 2
    assert "exists and is not a folder" in capsys.readouterr().err
    assert not (tmp_path / "t").exists()


def test_a_missing_optuna_names_the_extra(tmp_path, tiny_config, nanoenv, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)
    assert nanoenv(["tune", "--config", str(tiny_config), "--out", str(tmp_path / "t")]) == 2
    assert "optional package optuna" in capsys.readouterr().err


@pytest.mark.parametrize("algo", ["ppo", "sac"])
def test_every_sampled_configuration_passes_the_config_validation(algo):
    base = load_config(CONFIGS / f"{algo}_realisable.yaml")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(30):
        trial = study.ask()
        hp = sample_hyperparameters(trial, algo, base.num_envs)
        cfg = trial_config(base, hp, 1000)  # TrainConfig validation raises on a bad value
        assert cfg.total_steps == 1000
        if algo == "ppo":
            rollout = hp["n_steps"] * base.num_envs
            assert 1 < hp["batch_size"] <= rollout and rollout % hp["batch_size"] == 0
        study.tell(trial, 0.0)
