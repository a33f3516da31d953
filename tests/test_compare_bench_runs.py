"""benchmarks/compare_bench_runs.py: the check that a refactor left the benchmark's numbers
unchanged ignores only wall-clock and path fields."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.compare_bench_runs import main


def _folder(root: Path, name: str, score: float, wall_s: float) -> Path:
    out = root / name
    (out / "jobs" / "random_realisable_s0").mkdir(parents=True)
    bench = {"wall_s": wall_s, "rows": [{"method": "random", "iqm": score}], "plots": [str(out)]}
    (out / "bench.json").write_text(json.dumps(bench))
    job = {"settings": {"timings_s": {"total_s": wall_s}, "run": str(out)}, "rows": [score]}
    (out / "jobs" / "random_realisable_s0" / "results.json").write_text(json.dumps(job))
    return out


def test_wall_clock_and_paths_are_ignored(tmp_path: Path) -> None:
    a = _folder(tmp_path, "a", 0.5, 1.0)
    b = _folder(tmp_path, "b", 0.5, 9.0)
    assert main([str(a), str(b)]) == 0


def test_a_changed_score_is_a_difference(tmp_path: Path, capsys) -> None:
    a = _folder(tmp_path, "a", 0.5, 1.0)
    b = _folder(tmp_path, "b", 0.51, 1.0)
    assert main([str(a), str(b)]) == 1
    out = capsys.readouterr().out
    assert "bench.json: rows" in out and "results.json" in out
