"""Hostile input (issue 16): every finding of the hostile-input pass, pinned.

* a run folder never runs code: pickles in a model zip or in place of a replay buffer
  are refused (one-line error, exit 2) and the code they carry never runs;
* outputs never replace devices, FIFOs, symlinks or the command's own input; writes are
  atomic with unique temporary names; old replay buffers are pruned;
* faults: SIGTERM saves a checkpoint like Ctrl-C, a locked run cannot be resumed twice,
  a sweep resumes an interrupted RL job;
* garbage and out-of-range input: a one-line error (exit 2) before any work, leaving no
  file or folder behind.
"""

from __future__ import annotations

import base64
import json
import os
import pickle
import signal
import stat
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import yaml

import agents.rl.training as rl_training
from agents.checkpoints import REBUILT_ENTRIES, run_lock
from agents.rl import TrainConfig, last_checkpoint, load_config, load_model, train
from nanoenv.cli import main
from nanoenv.files import atomic_open, atomic_write, check_output_path

pytestmark = pytest.mark.usefixtures("one_torch_thread")

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
    "checkpoint_every": 16,
    "eval": {"at_end": False, "n": 1},
}
TINY_SAC: dict[str, Any] = {
    **TINY_PPO,
    "algo": "sac",
    "hyperparameters": {
        "buffer_size": 1000,
        "learning_starts": 8,
        "batch_size": 8,
        "policy_kwargs": {"net_arch": [16]},
    },
}


class _Trap:
    """Unpickling this creates ``marker`` (it stands for any code an attacker runs)."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (self.marker, "w"))


def _trap_bytes(marker: Path) -> bytes:
    return pickle.dumps(_Trap(marker))


def _error(capsys: pytest.CaptureFixture[str]) -> str:
    """The one ``nanoenv: error:`` line of the last command (and no traceback)."""
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("nanoenv: error:")]
    assert len(lines) == 1, err
    return lines[0]


def _snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every path under ``folder`` with its bytes (``None`` for folders and others)."""
    return {
        str(p.relative_to(folder)): (
            p.read_bytes()
            if p.is_file() and not p.is_symlink() and stat.S_ISREG(p.stat().st_mode)
            else None
        )
        for p in folder.rglob("*")
    }


_PLAI = (
    Path(__file__).resolve().parents[1]
    / "nanoenv"
    / "data"
    / "files"
    / "plai"
    / ("plai_release.csv")
)


def _write_yaml(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture(scope="module")
def ppo_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train(
        TrainConfig.from_dict(TINY_PPO),
        run_dir=tmp_path_factory.mktemp("p") / "run",
        progress=False,
    )


@pytest.fixture(scope="module")
def sac_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train(
        TrainConfig.from_dict(TINY_SAC),
        run_dir=tmp_path_factory.mktemp("s") / "run",
        progress=False,
    )


def _copy(run: Path, tmp_path: Path) -> Path:
    import shutil

    return Path(shutil.copytree(run, tmp_path / "run"))


def _rewrite_zip(path: Path, change: Any) -> None:
    """Rewrite the zip ``path`` with ``change(name, bytes) -> bytes | None`` per member
    (``None`` drops it) plus any members ``change`` adds via ``change.extra``."""
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            new = change(name, data)
            if new is not None:
                z.writestr(name, new)


# -- 1. safe loading ------------------------------------------------------------------------


def test_a_pickled_entry_in_a_model_zip_is_refused_and_never_runs(
    ppo_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _copy(ppo_run, tmp_path)
    marker = tmp_path / "pwned"

    def add_trap(name: str, data: bytes) -> bytes:
        if name != "data":
            return data
        payload = json.loads(data)
        payload["evil"] = {":serialized:": base64.b64encode(_trap_bytes(marker)).decode()}
        return json.dumps(payload).encode()

    _rewrite_zip(run / "final_model.zip", add_trap)
    before = sorted(p.name for p in run.iterdir())
    assert main(["evaluate", "--run", str(run), "--n", "1", "--no-progress"]) == 2
    line = _error(capsys)
    assert "pickled (':serialized:') entry 'evil'" in line and "refusing" in line
    assert not marker.exists()
    assert sorted(p.name for p in run.iterdir()) == before  # no eval folder made


def test_pickles_under_the_known_entries_are_never_decoded(ppo_run: Path, tmp_path: Path) -> None:
    run = _copy(ppo_run, tmp_path)
    marker = tmp_path / "pwned"
    trap = {":serialized:": base64.b64encode(_trap_bytes(marker)).decode()}

    def trap_all(name: str, data: bytes) -> bytes:
        if name != "data":
            return data
        payload = json.loads(data)
        for key, value in payload.items():
            if isinstance(value, dict) and ":serialized:" in value:
                assert key in REBUILT_ENTRIES
                payload[key] = trap
        return json.dumps(payload).encode()

    _rewrite_zip(run / "final_model.zip", trap_all)
    model = load_model(run)  # rebuilt from config.yaml: the trapped entries are ignored
    assert model.num_timesteps == 64 and not marker.exists()
    original = load_model(ppo_run)
    for a, b in zip(model.policy.parameters(), original.policy.parameters(), strict=True):
        assert torch.equal(a, b)


def test_a_pickle_in_place_of_a_weights_file_is_refused(ppo_run: Path, tmp_path: Path) -> None:
    run = _copy(ppo_run, tmp_path)
    marker = tmp_path / "pwned"
    _rewrite_zip(
        run / "final_model.zip", lambda n, d: _trap_bytes(marker) if n == "policy.pth" else d
    )
    with pytest.raises(ValueError, match=r"policy\.pth is not a plain tensor file"):
        load_model(run)
    assert not marker.exists()


def test_a_model_of_another_architecture_is_refused(ppo_run: Path, tmp_path: Path) -> None:
    run = _copy(ppo_run, tmp_path)
    cfg = load_config(run / "config.yaml").to_dict()
    cfg["hyperparameters"]["policy_kwargs"]["net_arch"] = [8]
    _write_yaml(run / "config.yaml", cfg)
    with pytest.raises(ValueError, match="does not match the run's config"):
        load_model(run)


def test_a_pickle_in_place_of_the_replay_buffer_is_refused(
    sac_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _copy(sac_run, tmp_path)
    marker = tmp_path / "pwned"
    _, buffer, steps = last_checkpoint(run)
    assert buffer is not None and buffer.suffix == ".npz"
    buffer.write_bytes(_trap_bytes(marker))  # a pickle under the .npz name
    before = _snapshot(run)
    argv = ["train", "--resume", str(run), "--total-steps", "96", "--no-progress"]
    assert main(argv) == 2
    assert "cannot be read as plain arrays (pickles are refused)" in _error(capsys)
    buffer.unlink()  # an old-style .pkl buffer
    (buffer.parent / f"model_replay_buffer_{steps}_steps.pkl").write_bytes(_trap_bytes(marker))
    assert main(argv) == 2
    assert "is a pickle, which nanoenv never loads" in _error(capsys)
    assert not marker.exists()
    after = _snapshot(run)
    assert {k: v for k, v in after.items() if "replay_buffer" not in k} == {
        k: v for k, v in before.items() if "replay_buffer" not in k
    }  # nothing trained, no log session written


def test_sac_checkpoints_keep_the_last_two_buffers_and_resume_restores_them(
    sac_run: Path, tmp_path: Path
) -> None:
    run = _copy(sac_run, tmp_path)
    folder = run / "checkpoints"
    models = sorted(int(p.name.split("_")[1]) for p in folder.glob("model_*_steps.zip"))
    buffers = sorted(int(p.name.split("_")[3]) for p in folder.glob("*_replay_buffer_*.npz"))
    assert models == [16, 32, 48, 64] and buffers == [48, 64]
    cfg = load_config(run / "config.yaml").replace(total_steps=80)
    train(cfg, resume=run, progress=False)
    with np.load(folder / "model_replay_buffer_80_steps.npz", allow_pickle=False) as b:
        assert int(b["pos"]) == 80 // 2  # 32 restored transitions per env + 8 new
    buffers = sorted(int(p.name.split("_")[3]) for p in folder.glob("*_replay_buffer_*.npz"))
    assert buffers == [64, 80]


def test_resuming_sac_without_a_buffer_warns(sac_run: Path, tmp_path: Path) -> None:
    run = _copy(sac_run, tmp_path)
    for p in (run / "checkpoints").glob("*_replay_buffer_*"):
        p.unlink()
    cfg = load_config(run / "config.yaml").replace(total_steps=72)
    with pytest.warns(UserWarning, match="EMPTY replay buffer"):
        train(cfg, resume=run, progress=False)


# -- 2. writes ------------------------------------------------------------------------------


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full here")
def test_simulate_csv_to_a_device_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--csv", "/dev/full"]) == 2
    assert "is a character device" in _error(capsys)
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)


def test_fifos_and_symlinks_are_not_replaced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert main(["simulate", "--csv", str(fifo)]) == 2
    assert "is a FIFO" in _error(capsys)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    real = tmp_path / "real.csv"
    real.write_text("keep")
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    assert main(["simulate", "--csv", str(link), "--plot", str(tmp_path / "p.png")]) == 2
    assert "is a symbolic link" in _error(capsys)
    assert link.is_symlink() and real.read_text() == "keep"
    assert not (tmp_path / "p.png").exists()  # checked before anything was written
    atomic_write(link, "new", follow_symlinks=True)  # asked for: the target is written
    assert link.is_symlink() and real.read_text() == "new"


def test_predict_out_equal_to_its_input_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _PLAI
    f = tmp_path / "in.csv"
    f.write_text("\n".join(source.read_text().splitlines()[:12]) + "\n")
    before = f.read_bytes()
    assert main(["predict", "--dataset", "plai", "--csv", str(f), "--out", str(f)]) == 2
    assert "also an input of this command" in _error(capsys)
    assert f.read_bytes() == before
    other = tmp_path / "sub" / ".." / "in.csv"  # the same file by another name
    assert main(["predict", "--dataset", "plai", "--csv", str(f), "--out", str(other)]) == 2
    assert f.read_bytes() == before


def test_atomic_writes_use_unique_temporaries_and_keep_the_old_file_on_error(
    tmp_path: Path,
) -> None:
    target = tmp_path / "out.txt"
    atomic_write(target, "old")
    with atomic_open(target) as a, atomic_open(target) as b:  # two writers of one path
        a.write("first")
        b.write("second")
        temps = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
        assert len(temps) == 2
    assert target.read_text() == "first"  # the outer writer finished last
    with pytest.raises(RuntimeError), atomic_open(target) as handle:
        handle.write("half")
        raise RuntimeError("crash while writing")
    assert target.read_text() == "first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    with pytest.raises(ValueError, match="is a folder"):
        atomic_write(tmp_path, "x")
    with pytest.raises(ValueError, match="not a folder"):
        check_output_path(target / "x.csv", "--out")


def test_every_hand_rolled_atomic_write_is_gone() -> None:
    """One helper (nanoenv.files) for the whole tree: no fixed ``.tmp`` names left."""
    root = Path(__file__).resolve().parents[1]
    offenders = []
    for path in [
        *root.glob("nanoenv/**/*.py"),
        *root.glob("agents/**/*.py"),
        *root.glob("benchmarks/*.py"),
    ]:
        if path.name == "files.py":
            continue
        text = path.read_text()
        if 'name + ".tmp"' in text or '+ ".tmp")' in text or "os.replace(" in text:
            offenders.append(str(path.relative_to(root)))
    assert offenders == []


# -- 3. faults ------------------------------------------------------------------------------


def test_sigterm_saves_a_checkpoint_like_ctrl_c(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stable_baselines3.common.callbacks import BaseCallback

    class Terminate(BaseCallback):
        def _on_step(self) -> bool:
            if self.model.num_timesteps == 40:
                os.kill(os.getpid(), signal.SIGTERM)
            return True

    monkeypatch.setattr(rl_training, "progress_callback", lambda total, initial: Terminate())
    monkeypatch.setattr(rl_training, "rich_available", lambda: False)
    handler = signal.getsignal(signal.SIGTERM)
    cfg = TrainConfig.from_dict({**TINY_PPO, "checkpoint_every": 32})
    with pytest.raises(KeyboardInterrupt, match="SIGTERM"):
        train(cfg, run_dir=tmp_path / "run", progress=True)
    assert signal.getsignal(signal.SIGTERM) == handler  # restored
    # 32 (scheduled) and 42: training stops at the step after the signal, and saves
    assert last_checkpoint(tmp_path / "run")[2] == 42
    assert not (tmp_path / "run" / "final_model.zip").exists()
    monkeypatch.undo()
    train(None, resume=tmp_path / "run", progress=False)
    assert load_model(tmp_path / "run").num_timesteps >= 64


def test_a_locked_run_cannot_be_resumed_twice(
    ppo_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _copy(ppo_run, tmp_path)
    before = _snapshot(run)
    with run_lock(run):  # another process training this run (flock: per open file)
        argv = ["train", "--resume", str(run), "--total-steps", "96", "--no-progress"]
        assert main(argv) == 2
        assert "is in use by another process" in _error(capsys)
    assert _snapshot(run) == before
    with run_lock(run):  # released: it can be taken again
        pass


def test_resuming_a_run_killed_before_it_saved_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / ".lock").touch()  # killed right after taking the lock
    assert main(["train", "--resume", str(run), "--no-progress"]) == 2
    assert "is not a run folder (no config.yaml)" in _error(capsys)
    assert sorted(p.name for p in run.iterdir()) == [".lock"]


def test_a_sweep_resumes_an_interrupted_rl_job(tmp_path: Path) -> None:
    from agents.sweep import SweepSettings, make_jobs, sweep

    configs = tmp_path / "configs"
    configs.mkdir()
    _write_yaml(configs / "ppo_realisable.yaml", TINY_PPO)
    settings = SweepSettings(n=1, configs_dir=str(configs), steps={"ppo": 64})
    (job,) = make_jobs(["ppo"], ["realisable"], [0])
    out = tmp_path / "sweep"
    run = out / job.name / "run"
    # a job killed after its checkpoint at 32 steps: no final model, no results
    cfg = TrainConfig.from_dict({**TINY_PPO, "total_steps": 32})
    train(cfg, run_dir=run, progress=False)
    (run / "final_model.zip").unlink()
    # and another job's folder killed before its first checkpoint
    (job2,) = make_jobs(["ppo"], ["realisable"], [1])
    early = out / job2.name / "run"
    early.mkdir(parents=True)
    (early / "config.yaml").write_text(yaml.safe_dump(TINY_PPO))
    (results, results2) = sweep([job, job2], settings, out, workers=1, progress=False)
    assert results.is_file() and results2.is_file()
    resumed = [json.loads(p.read_text()) for p in run.glob("logs/*/resume.json")]
    assert [r["steps"] for r in resumed] == [32]
    assert load_model(run).num_timesteps == 64
    assert (out / job2.name / "run.interrupted" / "config.yaml").is_file()  # kept aside


# -- 4. validation: garbage in, one line out -------------------------------------------------


def test_sweep_sizes_have_an_upper_bound() -> None:
    from agents.sweep import SweepSettings

    with pytest.raises(ValueError, match="n=1000000000 must be at most 10000"):
        SweepSettings(n=10**9)
    with pytest.raises(ValueError, match="budget=1000000000 must be at most 1000000"):
        SweepSettings(budget=10**9)


def _train_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], data: dict[str, Any] | str
) -> str:
    config = tmp_path / "bad.yaml"
    if isinstance(data, str):
        config.write_text(data)
    else:
        _write_yaml(config, data)
    run = tmp_path / "runs" / "r"
    assert main(["train", "--config", str(config), "--run-dir", str(run), "--no-progress"]) == 2
    assert not run.exists() and not (tmp_path / "runs").exists()  # no half-made folder
    return _error(capsys)


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"env": {"success_f2": float("nan")}}, "'env.success_f2' is nan"),
        ({"env": {"success_bonus": float("nan")}}, "'env.success_bonus' is nan"),
        ({"env": {"success_bonus": float("inf")}}, "'env.success_bonus' is inf"),
        ({"hyperparameters": {"gamma": 5}}, "'hyperparameters.gamma' is 5"),
        ({"hyperparameters": {"n_steps": 0}}, "'hyperparameters.n_steps' is 0"),
        ({"hyperparameters": {"batch_size": 0}}, "'hyperparameters.batch_size' is 0"),
        ({"hyperparameters": {"learning_rate": float("nan")}}, "must be a finite number"),
        (
            {"hyperparameters": {"policy_kwargs": {"net_arch": [-4]}}},
            "'hyperparameters.policy_kwargs.net_arch' is [-4]",
        ),
        (
            {"hyperparameters": {"policy_kwargs": {"net_arch": {"pi": [8], "vf": [0]}}}},
            "net_arch.vf' is [0]",
        ),
        ({"hyperparameters": {"n_steps": 1}, "num_envs": 1}, "must be > 1"),
        ({"hyperparameters": {"batch_size": 1}}, "stable-baselines3 rejects"),
        ({"eval": {"n": 10**9}}, "'eval.n' is 1000000000"),
    ],
)
def test_bad_configs_fail_in_one_line_before_any_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], change: dict[str, Any], needle: str
) -> None:
    data = json.loads(json.dumps(TINY_PPO))
    for key, value in change.items():
        if isinstance(value, dict):
            data[key] = {**data.get(key, {}), **value}
        else:
            data[key] = value
    assert needle in _train_fails(tmp_path, capsys, data)


def test_duplicate_yaml_keys_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = "algo: ppo\ntotal_steps: 64\nseed: 0\ntotal_steps: 128\n"
    line = _train_fails(tmp_path, capsys, text)
    assert "'total_steps' is given twice (lines 2 and 4)" in line


def test_a_calibration_file_with_nan_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from nanoenv.kinetics.constants import SimulatorConstants, read_calibration

    payload = read_calibration()
    name = next(iter(payload["constants"]))
    payload["constants"][name] = float("nan")
    bad = tmp_path / "nan.json"
    bad.write_text(json.dumps(payload))  # json writes NaN
    with pytest.raises(ValueError, match="holds NaN"):
        read_calibration(bad)
    with pytest.raises(ValueError, match=f"{name}=nan must be a finite number"):
        SimulatorConstants.from_dict({name: float("nan")})
    csv = _PLAI
    assert main(["predict", "--dataset", "plai", "--csv", str(csv), "--model", str(bad)]) == 2
    assert "holds NaN" in _error(capsys)


def test_a_reward_model_with_a_negative_cost_is_refused() -> None:
    from nanoenv.envs import FormulationDesignEnv
    from nanoenv.rewards import RewardOutput

    def negative_cost(release: torch.Tensor, targets: Any, formulation: Any) -> RewardOutput:
        score = release[:, -1]
        return RewardOutput(score, torch.full_like(score, -1.0))

    env = FormulationDesignEnv(reward_model=negative_cost)
    with pytest.raises(ValueError, match="returned a negative cost"):
        env.reset(seed=0)
    with pytest.raises(ValueError, match="success_bonus=inf must be a finite reward"):
        FormulationDesignEnv(success_bonus=float("inf"))
    with pytest.raises(ValueError, match="success_f2=nan must be a finite f2"):
        FormulationDesignEnv(success_f2=float("nan"))


def test_design_target_with_a_bom_and_no_header_keeps_its_first_row(tmp_path: Path) -> None:
    from agents.prior.cli import read_target_curve

    path = tmp_path / "target.csv"
    path.write_bytes("0.5,0.1\n24,0.3\n48,0.5\n96,0.8\n".encode("utf-8-sig"))
    times, release, percent = read_target_curve(path)
    assert times.tolist() == [0.5, 24, 48, 96] and release[0] == 0.1 and not percent
    path.write_bytes("time_h,release\n0.5,10\n24,30\n48,50\n".encode("utf-8-sig"))
    times, release, percent = read_target_curve(path)  # with a header: skipped
    assert times.tolist() == [0.5, 24, 48] and percent


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["simulate", "--points", "10001"], "--points=10001 must be in [2, 10000]"),
        (["simulate", "--points", "1"], "--points=1 must be in [2, 10000]"),
        (["calibrate", "--steps", "0"], "--steps=0 must be at least 1"),
        (["calibrate", "--correction-steps", "-1"], "--correction-steps=-1 must be >= 0"),
        (
            ["evaluate", "--method", "random", "--n", "1000000000"],
            "--n=1000000000 must be an integer in [1, 10000]",
        ),
        (["evaluate", "--method", "random", "--budget", "0"], "--budget=0 must be"),
        (
            ["design", "--target", "{target}", "--samples", "1000000000000"],
            "--samples=1000000000000 must be in [1, 100000]",
        ),
        (["design", "--target", "{target}", "--plot", "{target}"], "also an input"),
        (["evaluate", "--method", "random", "--out", "{target}"], "is not a folder"),
    ],
)
def test_out_of_range_arguments_fail_in_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    needle: str,
) -> None:
    monkeypatch.chdir(tmp_path)  # default output folders (runs/) would appear here
    target = tmp_path / "t.csv"
    target.write_text("0,0\n24,0.3\n48,0.6\n")
    argv = [a.replace("{target}", str(target)) for a in argv]
    before = _snapshot(tmp_path)
    assert main([*argv, *(["--no-progress"] if argv[0] == "evaluate" else [])]) == 2
    assert needle in _error(capsys)
    assert _snapshot(tmp_path) == before  # no file or folder made


def test_simulate_with_1026_points_works(tmp_path: Path) -> None:
    """Once an OverflowError (2.0 ** 1024): now a grid of 1026 increasing times."""
    from nanoenv.cli import default_time_grid

    grid = default_time_grid(720.0, 1026)
    assert len(grid) == 1026 and grid[0] == 0.0 and grid[-1] == 720.0
    assert all(np.diff(grid) > 0)
    out = tmp_path / "curve.csv"
    assert main(["simulate", "--points", "1026", "--csv", str(out)]) == 0
    assert len(out.read_text().splitlines()) == 1 + 1026


def test_calibrate_out_problems_are_found_before_the_fit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from nanoenv import calibration

    def no_fit(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the fit ran before --out was checked")

    monkeypatch.setattr(calibration, "fit_calibration", no_fit)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    for out, needle in (
        (str(blocker / "c.json"), "is not a folder"),
        (str(tmp_path), "is a folder"),
        ("/dev/full", "character device"),
    ):
        assert main(["calibrate", "--quiet", "--out", out]) == 2
        assert needle in _error(capsys)
    locked = tmp_path / "ro"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        if not os.access(locked, os.W_OK):  # (root can write anywhere)
            assert main(["calibrate", "--quiet", "--out", str(locked / "c.json")]) == 2
            assert "is not writable" in _error(capsys)
    finally:
        locked.chmod(0o755)


def test_report_on_rows_with_missing_or_null_fields(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = {
        "method": "random",
        "family": "realisable",
        "target": 0,
        "best_f2": 60.0,
        "sim_calls": 10,
        "calls_to_success": 3,
    }
    cases = [
        ({k: v for k, v in good.items() if k != "best_f2"}, "has no 'best_f2'"),
        ({**good, "family": None}, "has no 'family' (missing or null)"),
        ({**good, "best_f2": "high"}, "best_f2='high'"),
        ({**good, "sim_calls": -1}, "sim_calls=-1"),
        ({**good, "calls_to_success": "x"}, "calls_to_success='x'"),
        ("row", "is str, not an object"),
    ]
    for i, (row, needle) in enumerate(cases):
        folder = tmp_path / f"r{i}"
        folder.mkdir()
        (folder / "results.json").write_text(json.dumps({"rows": [good, row]}))
        assert main(["report", str(folder), "--out", str(folder / "rep")]) == 2
        assert needle in _error(capsys)
        assert not (folder / "rep").exists()
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "results.json").write_text(json.dumps({"rows": []}))
    assert main(["report", str(tmp_path / "empty")]) == 2
    assert "non-empty list" in _error(capsys)


def test_predict_with_no_usable_rows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    header = _PLAI.read_text().splitlines()[0]
    f = tmp_path / "only_header.csv"
    f.write_text(header + "\n")
    assert main(["predict", "--dataset", "plai", "--csv", str(f)]) == 2
    assert "no usable rows" in _error(capsys)


def test_simulate_release_on_an_empty_batch_is_empty() -> None:
    from nanoenv.kinetics import Formulation, simulate_release

    designs = Formulation.default(2, dtype=torch.float64)
    empty = designs[torch.zeros(2, dtype=torch.bool)]
    times = torch.tensor([0.0, 1.0, 24.0], dtype=torch.float64)
    out = simulate_release(empty, times)
    assert out.shape == (0, 3) and out.dtype == torch.float64
