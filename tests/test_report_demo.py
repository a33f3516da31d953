"""``nanoenv report`` (IQM, stratified bootstrap, report files) and ``nanoenv demo``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from agents.bench.stats import iqm, stratified_bootstrap_ci
from agents.report import aggregate, find_results, load_runs, write_report
from nanoenv.cli import main

ROOT = Path(__file__).resolve().parent.parent


# -- statistics -----------------------------------------------------------------------------


def test_iqm_hand_computed() -> None:
    assert iqm(np.arange(1, 9)) == pytest.approx(4.5)  # mean of 3, 4, 5, 6
    assert iqm([10, 1, 7, 3]) == pytest.approx(5.0)  # sorted 1 3 7 10 -> mean(3, 7)
    assert iqm([5.0]) == 5.0
    # outliers are trimmed: middle 50 % of 0, 1, 2, 3, 4, 5, 6, 1000 is 2..5
    assert iqm([0, 1, 2, 3, 4, 5, 6, 1000]) == pytest.approx(3.5)
    rows = np.array([[1, 2, 3, 4, 5, 6, 7, 8], [8, 7, 6, 5, 4, 3, 2, 100]])
    np.testing.assert_allclose(iqm(rows, axis=1), [4.5, 5.5])  # 2..8, 100 -> mean(4..7)
    with pytest.raises(ValueError):
        iqm([])


def test_bootstrap_constant_and_degenerate_strata() -> None:
    # every resample of constant values has the same statistic
    assert stratified_bootstrap_ci([[2.0, 2.0], [2.0]], np.mean) == (2.0, 2.0)
    # strata of one value each never vary: the interval is the point estimate
    lo, hi = stratified_bootstrap_ci([[1.0], [2.0], [3.0], [4.0]], iqm)
    assert lo == hi == pytest.approx(2.5)


def test_bootstrap_two_point_distribution_hand_computed() -> None:
    # one stratum [0, 1]: the mean of a resample of 2 is 0, 0.5 or 1 with probability
    # 1/4, 1/2, 1/4, so the 95 % percentile interval is [0, 1]; the 50 % one is [0.5, 0.5]
    assert stratified_bootstrap_ci([[0.0, 1.0]], np.mean, n_boot=4000) == (0.0, 1.0)
    lo, hi = stratified_bootstrap_ci([[0.0, 1.0]], np.mean, n_boot=4000, confidence=0.4)
    assert lo == hi == 0.5
    # stratification: resampling within [0, 0] and [1, 1] never mixes them -> mean 0.5
    assert stratified_bootstrap_ci([[0.0, 0.0], [1.0, 1.0]], np.mean) == (0.5, 0.5)


def test_bootstrap_is_deterministic_for_a_seed_and_covers_the_estimate() -> None:
    rng = np.random.default_rng(3)
    strata = [rng.normal(50, 10, size=5) for _ in range(8)]
    a = stratified_bootstrap_ci(strata, iqm, seed=7)
    assert a == stratified_bootstrap_ci(strata, iqm, seed=7)
    assert a != stratified_bootstrap_ci(strata, iqm, seed=8)
    assert a[0] < iqm(np.concatenate(strata)) < a[1]
    with pytest.raises(ValueError):
        stratified_bootstrap_ci([[]])
    with pytest.raises(ValueError):
        stratified_bootstrap_ci([[1.0]], confidence=1.5)


# -- aggregation and report files -----------------------------------------------------------


def _results(folder: Path, method: str, f2s: list[float], history: bool = False) -> Path:
    folder.mkdir(parents=True)
    rows = []
    for i, f2 in enumerate(f2s):
        ok = f2 >= 50
        row = {
            "method": method,
            "family": "realisable",
            "target": i,
            "best_f2": f2,
            "success": ok,
            "calls_to_success": 10 + i if ok else None,
            "sim_calls": 20,
            "cost": 0.0,
            "score": f2 / 100,
        }
        if history:
            row["history"] = [[1, f2 / 2], [20, f2]]
            row["times_h"] = [0.0, 24.0, 48.0]
            row["target_release"] = [0.0, 0.4, 0.8]
            row["release"] = [0.0, 0.3, 0.7]
        rows.append(row)
    (folder / "results.json").write_text(json.dumps({"settings": {}, "summary": {}, "rows": rows}))
    return folder


def test_aggregate_over_seeds(tmp_path: Path) -> None:
    _results(tmp_path / "s0" / "eval_a", "cmaes", [40, 60, 80, 90])
    _results(tmp_path / "s1" / "eval_b", "cmaes", [30, 70, 80, 100])
    _results(tmp_path / "s2" / "eval_c", "random", [10, 20, 55, 60])
    from agents.report import find_results

    runs = load_runs(find_results([tmp_path]))
    assert [r["method"] for r in runs] == ["cmaes", "cmaes", "random"]
    cmaes, rnd = aggregate(runs)
    assert (cmaes["runs"], cmaes["targets"], cmaes["n"]) == (2, 4, 8)
    assert cmaes["success_rate"] == pytest.approx(6 / 8)
    assert cmaes["best_f2_iqm"] == pytest.approx(iqm([40, 60, 80, 90, 30, 70, 80, 100]))
    assert cmaes["median_calls_to_success"] == pytest.approx(np.median([11, 12, 13, 11, 12, 13]))
    assert cmaes["ci_over"] == "runs within targets"
    lo, hi = cmaes["best_f2_iqm_ci"]
    assert lo <= cmaes["best_f2_iqm"] <= hi
    # target 2 scores 80 in both runs: that stratum never varies; success of target 0 and 1
    # varies, targets 2 and 3 always succeed -> success rate in [4/8, 8/8]
    assert 0.5 <= cmaes["success_rate_ci"][0] <= cmaes["success_rate_ci"][1] <= 1.0
    assert rnd["runs"] == 1 and rnd["ci_over"] == "targets (single run)"
    assert rnd["success_rate"] == 0.5


def test_write_report_and_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    a = _results(tmp_path / "a", "ppo", [40, 60, 80, 90], history=True)
    b = _results(tmp_path / "b", "ppo", [50, 65, 75, 95], history=True)
    report = write_report([a, b], tmp_path / "rep")
    assert (tmp_path / "rep" / "report.md").read_text().count("| ppo | realisable | 2 × 4 |") == 1
    assert json.loads((tmp_path / "rep" / "report.json").read_text()) == json.loads(
        json.dumps(report)
    )
    assert set(report["plots"]) == {"score_vs_calls", "best_designs"}
    for p in report["plots"].values():
        assert Path(p).read_bytes()[:4] == b"\x89PNG"
    # no histories, no curves: a calls-to-success CDF and no design plot
    c = _results(tmp_path / "c", "random", [10, 60, 70, 20])
    assert main(["report", str(c)]) == 0
    out = capsys.readouterr().out
    assert "| random | realisable | 1 × 4 | 50% [" in out
    assert (c / "plots" / "score_vs_calls.png").is_file()
    assert not (c / "plots" / "best_designs.png").exists()
    # several runs: a new report folder, not one of the runs'
    monkeypatch.chdir(tmp_path)
    assert main(["report", str(a), str(b)]) == 0
    (rep,) = (tmp_path / "runs").iterdir()
    assert rep.name.startswith("report_") and (rep / "report.md").is_file()
    assert not (a / "report.md").exists()
    assert main(["report", str(tmp_path / "missing")]) == 2
    assert "neither a folder" in capsys.readouterr().err


def test_one_model_evaluated_twice_is_one_run(tmp_path: Path) -> None:
    # the evaluation at the end of training and a later `nanoenv evaluate` of one model
    run = tmp_path / "run"
    run.mkdir()
    (run / "meta.json").write_text(
        json.dumps(
            {"algo": "ppo", "task": "realisable", "seed": 0, "started_utc": "20260101T000000Z"}
        )
    )
    for name, f2s in (("eval_a", [40, 60]), ("eval_b", [45, 65])):
        folder = _results(run / name, "ppo", f2s)
        data = json.loads((folder / "results.json").read_text())
        data["settings"] = {"run": str(run), "n": 2}
        (folder / "results.json").write_text(json.dumps(data))
    # a copy of the run folder elsewhere evaluated again is still the same model
    other = _results(tmp_path / "copy" / "eval_c", "ppo", [50, 70])
    data = json.loads((other / "results.json").read_text())
    data["settings"] = {"model": "ppo:realisable:seed0:20260101T000000Z"}
    (other / "results.json").write_text(json.dumps(data))
    # a second seed is another run
    second = _results(tmp_path / "seed1" / "eval_d", "ppo", [30, 90])
    data = json.loads((second / "results.json").read_text())
    data["settings"] = {"model": "ppo:realisable:seed1:20260101T000000Z"}
    (second / "results.json").write_text(json.dumps(data))
    files = find_results([tmp_path])
    assert len(files) == 4
    runs = load_runs(files)
    assert len(runs) == 2
    assert sorted(len(r["duplicates"]) for r in runs) == [0, 2]
    assert len(load_runs(files, dedupe=False)) == 4
    report = write_report([tmp_path], tmp_path / "report")
    assert report["summary"][0]["runs"] == 2
    assert len(report["duplicates_dropped"]) == 2
    assert "2 repeated evaluation(s)" in (tmp_path / "report" / "report.md").read_text()


# -- demo -----------------------------------------------------------------------------------


def test_demo_config_matches_the_shipped_yaml() -> None:
    from agents.demo import DEMO_CONFIG
    from agents.rl import TrainConfig, load_config

    assert TrainConfig.from_dict(DEMO_CONFIG) == load_config(
        ROOT / "experiments" / "configs" / "ppo_realisable.yaml"
    )


def test_tiny_demo(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    args = ["demo", "--steps", "256", "--targets", "2", "--budget", "40", "--no-progress"]
    assert main(args) == 0
    out = capsys.readouterr().out
    (run,) = (tmp_path / "runs").iterdir()
    assert run.name.startswith("demo_")
    for name in ("ppo", "prior", "random", "cmaes"):
        assert f"│ {name}" in out
    assert "score @ 10 calls" in out and "f2 ≥ 50 @ 10" in out and "the intervals" in out
    assert run.name in out
    for f in (
        "config.yaml",
        "meta.json",
        "final_model.zip",
        "results.json",
        "results.csv",
        "report.md",
        "report.json",
        "plots/score_vs_calls.png",
        "plots/best_designs.png",
    ):
        assert (run / f).is_file(), f
    data = json.loads((run / "results.json").read_text())
    assert {r["method"] for r in data["rows"]} == {"ppo", "prior", "random", "cmaes"}
    assert len(data["rows"]) == 8
    assert data["settings"]["budgets"] == [1, 3, 10, 30, 40]
    for row in data["rows"]:  # every method spends the whole budget, scored at each K
        assert row["sim_calls"] == 40 and len(row["normalized_at"]) == 5
        assert row["normalized_at"] == sorted(row["normalized_at"])
    assert yaml.safe_load((run / "config.yaml").read_text())["total_steps"] == 1024  # a rollout
    # a second demo makes a new folder; an explicit non-empty --out is refused
    assert main([*args, "--out", str(run)]) == 2
    assert "never overwrites" in capsys.readouterr().err


def test_demo_without_cuda_fails_before_making_a_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is available")
    out = tmp_path / "demo"
    assert main(["demo", "--device", "cuda", "--out", str(out), "--no-progress"]) == 2
    assert "cuda" in capsys.readouterr().err.lower()
    assert not out.exists()
