"""The sweep engine (agents.sweep), the sweep script and the agents benchmark's tables."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

from agents.bench.builtin import rl_config
from agents.bench.registry import BuildContext, get_method
from agents.report import find_training_logs, load_runs
from agents.sweep import SweepSettings, make_jobs, sweep

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = str(ROOT / "experiments" / "configs")


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_make_jobs_is_the_product_and_rejects_bad_names():
    jobs = make_jobs(["random", "cmaes"], ["sustained", "realisable"], [0, 1])
    assert len(jobs) == 8
    assert {j.name for j in jobs} >= {"random_sustained_s0", "cmaes_realisable_s1"}
    with pytest.raises(ValueError, match=r"unknown method 'ppo2'; allowed: \["):
        make_jobs(["ppo2"], ["sustained"], [0])
    with pytest.raises(ValueError, match="sustainable"):
        make_jobs(["random"], ["sustainable"], [0])
    with pytest.raises(ValueError, match="repeat a seed"):
        make_jobs(["random"], ["sustained"], [0, 0])


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"n": 0}, "n=0 must be a positive integer"),
        ({"budget": 2.5}, "budget=2.5"),
        ({"steps": {"ppo": -1}}, "steps['ppo']=-1"),
        ({"device": "tpu"}, "device='tpu'; allowed"),
        ({"threads": 0}, "threads=0"),
    ],
)
def test_bad_settings_are_named(kwargs, needle):
    with pytest.raises(ValueError) as err:
        SweepSettings(**kwargs)
    assert needle in str(err.value)


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is present")
def test_cuda_without_a_device_is_refused_before_any_job():
    with pytest.raises(ValueError, match="device='cuda' but torch finds no CUDA device"):
        SweepSettings(device="cuda")


def test_rl_config_takes_the_family_config_with_the_job_seed_and_steps(tmp_path):
    ctx = BuildContext("ppo", "ph_triggered", 3, tmp_path, steps={"ppo": 3000}, configs_dir=CONFIGS)
    cfg = rl_config("ppo", ctx)
    assert (cfg.algo, cfg.task, cfg.seed, cfg.total_steps) == ("ppo", "ph_triggered", 3, 3000)
    assert cfg.eval.at_end is False
    # a family without its own config trains with the realisable one, on its own task
    cfg = rl_config("ppo", BuildContext("ppo", "dataset", 0, tmp_path, configs_dir=CONFIGS))
    assert cfg.task == "dataset" and cfg.total_steps == 50_000
    empty = BuildContext("ppo", "dataset", 0, tmp_path, configs_dir=str(tmp_path))
    with pytest.raises(ValueError, match=r"no training config for method 'ppo'.*found: none"):
        rl_config("ppo", empty)


def test_search_sweep_writes_report_readable_results_and_skips_finished_jobs(tmp_path):
    settings = SweepSettings(n=2, budget=12, configs_dir=CONFIGS)
    jobs = make_jobs(["random", "cmaes"], ["realisable"], [0, 1])
    files = sweep(jobs, settings, tmp_path, workers=1, progress=False)
    assert [f.parent.name for f in files] == [j.name for j in jobs]
    runs = load_runs(files)
    assert [r["method"] for r in runs] == ["random", "random", "cmaes", "cmaes"]
    for run in runs:
        assert len(run["rows"]) == 2
        for row in run["rows"]:
            assert row["sim_calls"] <= 12
            assert row["edits_to_success"] is None  # searches make no edits
            assert len(row["release"]) == len(row["target_release"]) == 24
    data = json.loads(files[0].read_text())
    assert data["settings"]["budget"] == 12
    assert set(data["settings"]["timings_s"]) == {"train_s", "eval_s", "total_s"}
    # seeds reseed the search, not the targets
    a, b = (json.loads(f.read_text())["rows"] for f in files[:2])
    assert [r["target_release"] for r in a] == [r["target_release"] for r in b]
    assert (
        data["settings"]["method_seed"]
        != json.loads(files[1].read_text())["settings"]["method_seed"]
    )
    before = [f.stat().st_mtime_ns for f in files]
    messages: list[str] = []
    sweep(jobs, settings, tmp_path, workers=1, progress=False, echo=messages.append)
    assert [f.stat().st_mtime_ns for f in files] == before
    assert messages == [f"sweep: 4 job(s) already done in {tmp_path}, skipped"]


def test_rl_job_trains_records_edits_and_learning_curves(tmp_path):
    settings = SweepSettings(n=2, steps={"ppo": 1024}, configs_dir=CONFIGS)
    (file,) = sweep(
        make_jobs(["ppo"], ["realisable"], [0]), settings, tmp_path, workers=1, progress=False
    )
    data = json.loads(file.read_text())
    assert data["settings"]["budget"] == 21
    assert data["settings"]["timings_s"]["train_s"] > 0
    for row in data["rows"]:
        assert row["sim_calls"] <= 21
        c = row["calls_to_success"]
        assert row["edits_to_success"] == (None if c is None else c - 1)
    (log,) = find_training_logs([tmp_path]).values()
    assert log["label"] == "ppo realisable"
    assert log["steps"][-1] == 1024


def test_a_failing_job_is_reported_and_the_others_finish(tmp_path):
    settings = SweepSettings(n=1, budget=4, configs_dir=str(tmp_path / "no_configs"))
    jobs = make_jobs(["ppo", "random"], ["sustained"], [0])
    messages: list[str] = []
    with pytest.raises(RuntimeError, match=r"1 of 2 sweep job.*ppo_sustained_s0"):
        sweep(jobs, settings, tmp_path, workers=1, progress=False, echo=messages.append)
    assert (tmp_path / "random_sustained_s0" / "results.json").is_file()
    assert any("no training config" in m for m in messages)


def test_sweep_script_reports_bad_input_before_running(tmp_path, capsys):
    sys.path.insert(0, str(ROOT))
    from experiments.sweep import main

    assert main(["--methods", "ppo", "dqn", "--out", str(tmp_path / "s")]) == 2
    assert "unknown method 'dqn'" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()
    assert (
        main(
            [
                "--methods",
                "random",
                "--families",
                "sustained",
                "--seeds",
                "0",
                "--n",
                "1",
                "--budget",
                "4",
                "--out",
                str(tmp_path / "s"),
                "--no-progress",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "| random | sustained | 1 × 1 |" in out
    assert (tmp_path / "s" / "report.md").is_file()


def test_the_prior_methods_register_and_run_in_a_sweep(tmp_path):
    from agents.prior import designers as prior_sweep

    assert get_method("prior+ppo").trains and not get_method("prior").trains
    assert get_method("prior").track == get_method("prior+ppo").track == "amortised"
    settings = SweepSettings(n=2, configs_dir=CONFIGS)
    (file,) = sweep(
        make_jobs(["prior"], ["sustained"], [0]), settings, tmp_path, workers=1, progress=False
    )
    data = json.loads(file.read_text())
    assert data["settings"]["budget"] == prior_sweep.SCREEN_M
    assert all(r["sim_calls"] == prior_sweep.SCREEN_M for r in data["rows"])
    # the guided policy's whole episode fits the budget of 20 calls
    assert prior_sweep.GUIDED_M + 1 + prior_sweep.GUIDED_EDITS == 20
