"""Tests of the ``nanoenv`` command line (:mod:`nanoenv.cli`) and of :mod:`nanoenv.plotting`."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from itertools import pairwise

import numpy as np
import pytest
import torch

from nanoenv.cli import SUBCOMMANDS, add_medium_arguments, default_time_grid, main, t50_hours
from nanoenv.kinetics import Formulation, ReleaseConditions, calibrated_constants, simulate_release
from nanoenv.plotting import figure_to_rgb_array, plot_release, save_figure

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _rows(out: str) -> list[tuple[float, float, float]]:
    """The (time h, time d, released %) rows of the printed table."""
    rows = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3:
            try:
                rows.append(tuple(float(p) for p in parts))
            except ValueError:
                continue
    return rows


def _released_at(out: str, time_h: float) -> float:
    return next(r[2] for r in _rows(out) if r[0] == time_h)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["simulate", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# ---------------------------------------------------------------------------------------
# nanoenv simulate
# ---------------------------------------------------------------------------------------


def test_default_run_prints_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys)
    assert code == 0, err
    assert err == ""
    rows = _rows(out)
    assert len(rows) == 16
    assert rows[0] == (0.0, 0.0, 0.0)
    assert rows[-1][0] == 720.0
    released = [r[2] for r in rows]
    assert all(math.isfinite(v) and 0.0 <= v <= 100.0 for v in released)
    assert released == sorted(released)
    assert "radius_nm" in out and "doxorubicin" in out and "sink" in out
    assert "Mean dissolution time" in out and "t50" in out


def test_larger_radius_releases_less(capsys: pytest.CaptureFixture[str]) -> None:
    _, small, _ = _run(capsys, "--radius-nm", "80", "--times", "0,24")
    _, large, _ = _run(capsys, "--radius-nm", "400", "--times", "0,24")
    assert _released_at(large, 24.0) < _released_at(small, 24.0)


def test_geometry_flags_shape_the_device(capsys: pytest.CaptureFixture[str]) -> None:
    times = (
        "--radius-nm",
        "100",
        "--drug-loading",
        "0.05",
        "--drug",
        "dexamethasone",
        "--times",
        "0,24",
    )
    outs = {
        g: _run(capsys, *times, "--geometry", g, "--aspect-ratio", "5")
        for g in ("sphere", "cylinder", "slab")
    }
    assert all(code == 0 for code, _, _ in outs.values())
    released = {g: _released_at(out, 24.0) for g, (_, out, _) in outs.items()}
    # same radius / half-thickness: less surface per volume, slower (10.6, 8.2, 4.4 %)
    assert released["sphere"] > released["cylinder"] + 1 > released["slab"] + 2
    assert "cylinder" in outs["cylinder"][1]
    assert main(["simulate", "--geometry", "torus"]) == 2
    assert "invalid choice: 'torus'" in capsys.readouterr().err


def test_table_matches_simulator(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(
        capsys,
        "--zeta-mv",
        "-10",
        "--conditions",
        "tumour",
        "--drug",
        "paclitaxel",
        "--times",
        "0, 6, 48",
    )
    assert code == 0
    expected = simulate_release(
        Formulation.from_dict({"zeta_mv": -10.0}, dtype=torch.float64),
        torch.tensor([0.0, 6.0, 48.0], dtype=torch.float64),
        "tumour",
        "paclitaxel",
    )[0]
    got = [r[2] for r in _rows(out)]
    assert got == pytest.approx((100 * expected).tolist(), abs=0.051)


def test_calibrated_constants_on_request(capsys: pytest.CaptureFixture[str]) -> None:
    args = ("--radius-nm", "5000", "--times", "0,24,168")
    code, out, _ = _run(capsys, *args, "--constants", "calibrated")
    assert code == 0 and "Constants: calibrated" in out
    expected = simulate_release(
        Formulation.from_dict({"radius_nm": 5000.0}, dtype=torch.float64),
        torch.tensor([0.0, 24.0, 168.0], dtype=torch.float64),
        constants=calibrated_constants(),
    )[0]
    assert [r[2] for r in _rows(out)] == pytest.approx((100 * expected).tolist(), abs=0.051)
    code, out, _ = _run(capsys, *args)
    assert code == 0 and "Constants: literature" in out
    assert [r[2] for r in _rows(out)] != pytest.approx((100 * expected).tolist(), abs=0.051)


def test_json_and_flag_override(capsys: pytest.CaptureFixture[str], tmp_path) -> None:
    path = tmp_path / "design.json"
    path.write_text(json.dumps({"carrier": "liposome", "radius_nm": 400, "lipid_tm_c": 52}))
    code, from_json, err = _run(capsys, "--json", str(path), "--times", "0,24")
    assert code == 0, err
    assert "liposome" in from_json
    _, overridden, _ = _run(capsys, "--json", str(path), "--radius-nm", "60", "--times", "0,24")
    _, flags, _ = _run(
        capsys,
        "--carrier",
        "liposome",
        "--radius-nm",
        "60",
        "--lipid-tm-c",
        "52",
        "--times",
        "0,24",
    )
    assert _released_at(overridden, 24.0) == _released_at(flags, 24.0)
    assert _released_at(overridden, 24.0) != _released_at(from_json, 24.0)


def test_default_time_grid() -> None:
    grid = default_time_grid()
    assert len(grid) == 16 and grid[0] == 0.0 and grid[-1] == 720.0
    assert all(a < b for a, b in pairwise(grid))
    assert grid[1] <= 1.0  # denser early
    for horizon, points in [(24.0, 10), (1.0, 8), (8760.0, 30), (720.0, 200), (720.0, 2)]:
        g = default_time_grid(horizon, points)
        assert len(g) == points and g[-1] == horizon
        assert all(a < b for a, b in pairwise(g))


def test_horizon_and_points(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "--horizon-h", "48", "--points", "6")
    assert code == 0
    rows = _rows(out)
    assert len(rows) == 6 and rows[0][0] == 0.0 and rows[-1][0] == 48.0


def test_t50_interpolation() -> None:
    assert t50_hours([0.0, 10.0, 20.0], [0.0, 0.4, 0.6]) == pytest.approx(15.0)
    assert t50_hours([0.0, 10.0], [0.0, 0.3]) is None


def test_plot_and_csv(capsys: pytest.CaptureFixture[str], tmp_path) -> None:
    png, table = tmp_path / "release.png", tmp_path / "out" / "release.csv"
    code, out, err = _run(
        capsys,
        "--conditions",
        "light_pulse",
        "--photo-cleavable-fraction",
        "0.2",
        "--plot",
        str(png),
        "--csv",
        str(table),
    )
    assert code == 0, err
    data = png.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 1000
    lines = table.read_text().splitlines()
    assert lines[0] == "time_h,time_d,released_fraction,released_percent"
    assert len(lines) == 17
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    assert str(png) in out


BAD_INPUTS = [
    (["--radius-nm", "1"], ["radius_nm", "[5, 1e+07]", "nm"]),
    (["--zeta-mv", "150"], ["zeta_mv", "[-100, 100]", "mV"]),
    (["--drug-loading", "nan"], ["drug_loading", "finite", "[0, 0.6]"]),
    (["--conditions", "moon"], ["moon", "sink"]),
    (["--drug", "aspirin"], ["aspirin", "doxorubicin"]),
    (["--times", "0,a,2"], ["--times", "'a'"]),
    (["--times", "0,,2"], ["--times", "empty"]),
    (["--times", "0,48,24"], ["--times", "sorted"]),
    (["--times=-1,2"], ["--times", "[0, inf]"]),
    (["--times", "0,1", "--points", "5"], ["--times", "--points"]),
    (["--points", "1"], ["--points"]),
    (["--horizon-h", "0"], ["--horizon-h"]),
    (["--zeta-mv", "abc"], ["--zeta-mv", "abc"]),
    (["--carrier", "metal"], ["--carrier", "polymer"]),
    (["--no-such-flag"], ["--no-such-flag"]),
]


@pytest.mark.parametrize(("argv", "words"), BAD_INPUTS, ids=lambda v: " ".join(v))
def test_bad_input_one_line_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], words: list[str]
) -> None:
    code, out, err = _run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert err.startswith("nanoenv: error: ")
    assert err.count("\n") == 1, err
    assert "Traceback" not in err
    for word in words:
        assert word in err


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (None, ["cannot read", "No such file"]),
        ("{not json", ["not valid JSON"]),
        ("[1, 2]", ["JSON object"]),
        ('{"radius_nm": 100, "colour": "red"}', ["unknown formulation parameter", "colour"]),
        ('{"radius_nm": "big"}', ["radius_nm", "number"]),
        ('{"radius_nm": 1e9}', ["radius_nm", "[5, 1e+07]"]),
        ('{"carrier": "metal"}', ["carrier", "polymer"]),
        ('{"carrier": [1]}', ["carrier"]),
    ],
)
def test_bad_json(
    capsys: pytest.CaptureFixture[str], tmp_path, content: str | None, words: list[str]
) -> None:
    path = tmp_path / "design.json"
    if content is not None:
        path.write_text(content)
    code, out, err = _run(capsys, "--json", str(path))
    assert code == 2 and out == ""
    assert err.startswith("nanoenv: error: ") and err.count("\n") == 1, err
    for word in words:
        assert word in err


def test_help_lists_every_parameter(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--help"]) == 0
    out = capsys.readouterr().out
    for flag in ("--radius-nm", "--zeta-mv", "--lipid-tm-c", "--json", "--plot", "--times"):
        assert flag in out
    assert "range 5 to 1e+07" in out and "default 100" in out
    assert "simulate" in SUBCOMMANDS


def test_medium_arguments_are_shared(capsys: pytest.CaptureFixture[str]) -> None:
    import argparse

    parser = argparse.ArgumentParser()
    add_medium_arguments(parser, "--schedule")
    args = parser.parse_args([])
    assert (args.schedule, args.drug) == ("sink", "doxorubicin")
    assert parser.parse_args(["--schedule", "tumour", "--drug", "ibuprofen"]).schedule == "tumour"
    helps = []
    for command in ("simulate", "design"):
        assert main([command, "--help"]) == 0
        helps.append(capsys.readouterr().out)
    for out in helps:
        assert "light_pulse" in out and "paclitaxel" in out and "(default: doxorubicin)" in out
    assert "--conditions PRESET" in helps[0] and "--schedule PRESET" in helps[1]


def test_no_command_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert capsys.readouterr().err.startswith("nanoenv: error: ")


def test_python_dash_m_help() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "nanoenv", "simulate", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "usage: nanoenv simulate" in result.stdout
    assert "--radius-nm" in result.stdout


# ---------------------------------------------------------------------------------------
# nanoenv.plotting
# ---------------------------------------------------------------------------------------


def test_figure_to_rgb_array_shape() -> None:
    times = torch.linspace(0.0, 48.0, 25)
    curves = simulate_release(Formulation.default(2), times, "hyperthermia")
    fig = plot_release(
        times,
        curves,
        labels=["a", "b"],
        target=0.5 * torch.ones(25),
        conditions=ReleaseConditions.hyperthermia(),
        title="test",
        figsize=(4.0, 3.0),
        dpi=50,
    )
    image = figure_to_rgb_array(fig)
    assert image.shape == (150, 200, 3)
    assert image.dtype == np.uint8
    assert image.min() < 100 < image.max()  # something was drawn on the white background


def test_plot_release_days_axis_and_no_schedule() -> None:
    fig = plot_release(np.array([0.0, 24.0, 240.0]), np.array([0.0, 0.3, 0.9]))
    assert len(fig.axes) == 1
    assert fig.axes[0].get_xlabel() == "Time (days)"
    fig = plot_release([0.0, 24.0], [0.0, 0.3], conditions=ReleaseConditions.sink())
    assert fig.axes[1].get_xlabel() == "Time (h)"


def test_plot_release_rejects_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="time points"):
        plot_release([0.0, 1.0, 2.0], [0.0, 0.5])


def test_save_figure_writes_file(tmp_path) -> None:
    fig = plot_release([0.0, 1.0, 2.0], [0.0, 0.2, 0.5], figsize=(3.0, 2.0), dpi=40)
    path = save_figure(fig, tmp_path / "sub" / "curve.png")
    assert path.read_bytes().startswith(PNG_SIGNATURE)
    save_figure(fig, path)  # overwrites in place
    assert sorted(p.name for p in path.parent.iterdir()) == ["curve.png"]
    svg = save_figure(fig, tmp_path / "curve.svg")
    assert b"<svg" in svg.read_bytes()


def test_plot_release_batched_schedules_and_given_axes() -> None:
    from matplotlib.figure import Figure

    conditions = ReleaseConditions.stack(
        [ReleaseConditions.sink(), ReleaseConditions.preset("light_pulse")]
    )
    times = torch.linspace(0.0, 48.0, 20)
    curves = simulate_release(Formulation.default(2), times, conditions)
    fig = Figure(figsize=(4.0, 3.0), dpi=40)
    ax = fig.add_subplot()
    assert (
        plot_release(times, curves, labels=["sink", "light"], conditions=conditions, ax=ax) is fig
    )
    assert len(fig.axes) == 3  # release, schedule and its temperature twin
    assert figure_to_rgb_array(fig).shape == (120, 160, 3)
