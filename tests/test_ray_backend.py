"""The Ray backend of the sweep engine (agents.ray_backend) on a local Ray instance, and
the backend options of the sweep scripts."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agents.sweep import SweepSettings, check_backend, make_jobs, sweep

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = str(ROOT / "experiments" / "configs")

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module", autouse=True)
def _ray_shut_down_at_the_end() -> Iterator[None]:
    yield
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        ray.shutdown()


@pytest.fixture
def shared_ray() -> Any:
    """One local Ray instance (2 CPUs) shared by the tests that only need a Ray: the
    sweep uses a Ray already initialised as it is (saves ~4 s of start-up per test)."""
    ray = pytest.importorskip("ray", reason="the ray extra is not installed")
    if not ray.is_initialized():
        ray.init(
            address="local",
            num_cpus=2,
            num_gpus=0,
            include_dashboard=False,
            runtime_env={"env_vars": {"PYTHONPATH": str(ROOT)}},
        )
    return ray


def _no_ray() -> None:
    """For the tests of how the sweep starts or joins Ray itself."""
    ray = pytest.importorskip("ray", reason="the ray extra is not installed")
    if ray.is_initialized():
        ray.shutdown()


@pytest.fixture(scope="module")
def tiny_suite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """test_bench's two-family suite of 3 targets with references from a small oracle."""
    from agents.bench.build import freeze_suite, rebuild_references
    from nanoenv.bench import load_suite
    from tests.test_bench import SMALL_ORACLE

    path = tmp_path_factory.mktemp("suite") / "tiny-v0.json"
    freeze_suite("tiny-v0", ["realisable", "sustained"], 3, 11, path)
    rebuild_references(
        load_suite(path), None, path, settings=SMALL_ORACLE, workers=1, progress=False
    )
    return path


def _rows(files: list[Path]) -> list[list[dict]]:
    return [json.loads(f.read_text())["rows"] for f in files]


def test_ray_sweep_gives_the_local_pools_rows_and_a_rerun_skips_finished_jobs(tmp_path):
    _no_ray()  # the sweep starts (and stops) its own local instance
    settings = SweepSettings(n=2, budget=8, configs_dir=CONFIGS)
    jobs = make_jobs(["random", "cmaes"], ["realisable"], [0, 1])
    local = sweep(jobs, settings, tmp_path / "local", workers=1, progress=False)
    on_ray = sweep(jobs, settings, tmp_path / "ray", workers=2, progress=False, backend="ray")
    assert [f.parent.name for f in on_ray] == [j.name for j in jobs]
    assert [f.parent.parent for f in on_ray] == [tmp_path / "ray"] * 4
    assert _rows(on_ray) == _rows(local)
    assert all(len(rows) == 2 for rows in _rows(on_ray))
    record = json.loads((tmp_path / "ray" / "sweep.json").read_text())
    assert record["backend"] == {
        "name": "ray",
        "workers": 2,
        "address": None,
        "cpus_per_job": 1.0,
        "gpus_per_job": 0.0,
    }

    # a rerun on the same folder submits nothing: every results.json is left as it was
    (on_ray[1]).unlink()
    before = {f: f.stat().st_mtime_ns for f in on_ray if f.exists()}
    messages: list[str] = []
    again = sweep(
        jobs,
        settings,
        tmp_path / "ray",
        workers=2,
        progress=False,
        backend="ray",
        echo=messages.append,
    )
    assert messages == [f"sweep: 3 job(s) already done in {tmp_path / 'ray'}, skipped"]
    assert {f: f.stat().st_mtime_ns for f in before} == before
    assert _rows(again) == _rows(local)


@pytest.mark.parametrize(
    ("address", "needle"),
    [
        ("127.0.0.1:1", "address='127.0.0.1:1': no Ray cluster answers there"),
        ("nohost", "address='nohost'; allowed: 'auto', '<host>:<port>'"),
    ],
)
def test_an_unreachable_ray_address_is_one_line_and_writes_nothing(tmp_path, address, needle):
    _no_ray()
    with pytest.raises(ValueError) as err:
        sweep(
            make_jobs(["random"], ["sustained"], [0]),
            SweepSettings(n=1, budget=4),
            tmp_path / "s",
            progress=False,
            backend="ray",
            address=address,
        )
    assert needle in str(err.value) and "\n" not in str(err.value)
    assert not (tmp_path / "s").exists()


def test_a_failing_ray_job_is_reported_with_its_own_error_and_the_others_finish(
    tmp_path, shared_ray
):
    settings = SweepSettings(n=1, budget=4, configs_dir=str(tmp_path / "no_configs"))
    jobs = make_jobs(["ppo", "random"], ["sustained"], [0])
    messages: list[str] = []
    with pytest.raises(
        RuntimeError,
        match=r"1 of 2 sweep job.*ppo_sustained_s0: ValueError: "
        "no training config",
    ):
        sweep(
            jobs,
            settings,
            tmp_path,
            workers=2,
            progress=False,
            echo=messages.append,
            backend="ray",
            cpus_per_job=0.5,
        )
    assert (tmp_path / "random_sustained_s0" / "results.json").is_file()
    assert any("ppo_sustained_s0 failed: ValueError: no training config" in m for m in messages)


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"backend": "dask"}, "backend='dask'; allowed: ['local', 'ray']"),
        ({"address": "auto"}, "apply to backend='ray' only"),
        ({"cpus_per_job": 2.0}, "apply to backend='ray' only"),
        ({"backend": "ray", "cpus_per_job": 0.0}, "cpus_per_job=0.0; allowed: a finite number > 0"),
        ({"backend": "ray", "cpus_per_job": float("nan")}, "cpus_per_job=nan"),
        ({"backend": "ray", "gpus_per_job": -0.5}, "gpus_per_job=-0.5; allowed: a finite number"),
        ({"backend": "ray", "cpus_per_job": 3.0}, "more than the local Ray instance's workers=2"),
        ({"backend": "ray", "address": " "}, "address=' '; allowed: 'auto'"),
        ({"workers": 0}, "workers=0 must be a positive number"),
    ],
)
def test_bad_backend_options_are_named_before_any_work(tmp_path, kwargs, needle):
    if kwargs.get("backend") == "ray":
        pytest.importorskip("ray", reason="the ray extra is not installed")
    kwargs = {"workers": 2, **kwargs}
    with pytest.raises(ValueError) as err:
        sweep(
            make_jobs(["random"], ["sustained"], [0]),
            SweepSettings(n=1, budget=4),
            tmp_path / "s",
            progress=False,
            **kwargs,
        )
    assert needle in str(err.value)
    assert "\n" not in str(err.value)
    assert not (tmp_path / "s").exists()


def test_a_missing_ray_names_the_extra_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    with pytest.raises(ValueError, match=r"optional package ray.*pip install -e \"\.\[ray\]\""):
        check_backend(2, "ray")
    check_backend(2, "local")  # the default needs no ray


def test_the_scripts_take_the_backend_flags_and_refuse_bad_ones_with_exit_2(tmp_path, capsys):
    pytest.importorskip("ray", reason="the ray extra is not installed")
    sys.path.insert(0, str(ROOT))
    from experiments.sweep import main
    from nanoenv.cli import main as nanoenv_main

    out = tmp_path / "s"
    assert (
        main(["--methods", "random", "--backend", "ray", "--gpus-per-job", "-1", "--out", str(out)])
        == 2
    )
    assert "gpus_per_job=-1.0; allowed" in capsys.readouterr().err
    assert main(["--methods", "random", "--address", "auto", "--out", str(out)]) == 2
    assert "apply to backend='ray' only" in capsys.readouterr().err
    assert not out.exists()
    assert (
        nanoenv_main(
            [
                "bench",
                "run",
                "--methods",
                "random",
                "--families",
                "realisable",
                "--backend",
                "ray",
                "--cpus-per-job",
                "0",
                "--out",
                str(out),
            ]
        )
        == 2
    )
    assert "cpus_per_job=0.0; allowed" in capsys.readouterr().err
    assert not out.exists()


def test_a_ray_sweep_resumes_an_interrupted_rl_job_from_its_checkpoint(tmp_path, shared_ray):
    import yaml

    from agents.rl import TrainConfig, load_model, train
    from tests.test_hostile_inputs import TINY_PPO

    configs = tmp_path / "configs"
    configs.mkdir()
    (configs / "ppo_realisable.yaml").write_text(yaml.safe_dump(TINY_PPO))
    settings = SweepSettings(n=1, configs_dir=str(configs), steps={"ppo": 64})
    (job,) = make_jobs(["ppo"], ["realisable"], [0])
    out = tmp_path / "sweep"
    run = out / job.name / "run"
    # the job was killed after its checkpoint at 32 steps: no final model, no results
    train(TrainConfig.from_dict({**TINY_PPO, "total_steps": 32}), run_dir=run, progress=False)
    (run / "final_model.zip").unlink()
    (results,) = sweep([job], settings, out, workers=1, progress=False, backend="ray")
    assert results.is_file()
    resumed = [json.loads(p.read_text()) for p in run.glob("logs/*/resume.json")]
    assert [r["steps"] for r in resumed] == [32]
    assert load_model(run).num_timesteps == 64


def test_a_running_ray_is_used_and_kept_and_a_job_too_big_for_it_is_refused(tmp_path, shared_ray):
    jobs = make_jobs(["random"], ["sustained"], [0])
    with pytest.raises(ValueError, match=r"cpus_per_job=3 but the Ray cluster has 2 CPU"):
        sweep(
            jobs,
            SweepSettings(n=1, budget=4),
            tmp_path / "s",
            progress=False,
            backend="ray",
            address="auto",
            cpus_per_job=3.0,
        )
    assert not (tmp_path / "s").exists()
    with pytest.raises(ValueError, match=r"gpus_per_job=0.5 but the Ray cluster has 0 GPU"):
        sweep(
            jobs,
            SweepSettings(n=1, budget=4),
            tmp_path / "s",
            progress=False,
            backend="ray",
            address="auto",
            gpus_per_job=0.5,
        )
    (file,) = sweep(
        jobs,
        SweepSettings(n=1, budget=4),
        tmp_path / "s",
        progress=False,
        backend="ray",
        address="auto",
    )
    assert file.is_file()
    assert shared_ray.is_initialized()  # a Ray started by the caller is the caller's to stop


def test_the_bench_on_ray_gives_the_local_table(tiny_suite, tmp_path, shared_ray):
    from agents.bench.run import run_bench

    quiet = {"progress": False, "echo": lambda *_: None}
    local = run_bench(
        str(tiny_suite), ["random"], None, [0, 1], tmp_path / "local", workers=1, **quiet
    )
    on_ray = run_bench(
        str(tiny_suite),
        ["random"],
        None,
        [0, 1],
        tmp_path / "ray",
        workers=2,
        backend="ray",
        **quiet,
    )
    assert on_ray["rows"] == local["rows"]
    assert on_ray["settings"]["backend"]["backend"] == "ray"
    assert len(list((tmp_path / "ray" / "jobs").glob("*/results.json"))) == 4
