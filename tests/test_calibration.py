"""Tests of :mod:`nanoenv.calibration` and the ``nanoenv calibrate`` / ``predict`` commands."""

from __future__ import annotations

import dataclasses
import json
import math
import re
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from nanoenv import calibration as cal
from nanoenv.calibration.fit import data_loss
from nanoenv.calibration.tree import StumpBoost
from nanoenv.cli import main
from nanoenv.data import CurveSet, data_file, grouped_folds, plai_curves
from nanoenv.design_space import DesignSpace
from nanoenv.kinetics import Formulation, ReleaseConditions
from nanoenv.kinetics.constants import DEFAULT_CONSTANTS, SimulatorConstants
from nanoenv.kinetics.drug import DRUGS, Drug
from nanoenv.kinetics.formulation import PARAMETER_INDEX
from nanoenv.kinetics.simulate import mechanism_parameters, release_curve, simulate_release

pytestmark = pytest.mark.filterwarnings("ignore::nanoenv.data.DataCleaningWarning")

METRICS_LINE = re.compile(r"^MAE=\d\.\d{3} RMSE=\d\.\d{3} f2>=50: \d{1,3}% \(n=\d+ curves\)$")
_OFF = ("ph_responsive_fraction", "thermo_fraction", "photo_cleavable_fraction")
_OFF += ("magnetic_core_fraction", "enzyme_cleavable_fraction", "crosslink_ratio")


def synthetic_curves(
    n: int = 24, constants: SimulatorConstants = DEFAULT_CONSTANTS, seed: int = 0
) -> CurveSet:
    """Polymer curves simulated with ``constants`` on ragged time grids, 6 drug groups."""
    g = torch.Generator().manual_seed(seed)
    f = Formulation.sample(
        n,
        generator=g,
        dtype=torch.float64,
        bounds={"radius_nm": (50.0, 5000.0), "polymer_mw_kda": (10.0, 100.0)},
        fixed=dict.fromkeys(_OFF, 0.0),
    )
    names = sorted(DRUGS)
    drugs = [DRUGS[names[i % len(names)]] for i in range(n)]
    drug = Drug.stack(drugs)
    conditions = ReleaseConditions(
        start_h=torch.zeros(n, 1, dtype=torch.float64),
        ph=torch.full((n, 1), 7.4, dtype=torch.float64),
        temperature_c=torch.full((n, 1), 37.0, dtype=torch.float64),
    )
    width = 10
    grid = torch.cat([torch.zeros(1), torch.logspace(-1, 3.3, width - 1)]).to(torch.float64)
    lengths = torch.randint(5, width + 1, (n,), generator=g)
    mask = torch.arange(width)[None, :] < lengths[:, None]
    times = grid.expand(n, -1).clone()
    last = times.gather(1, (lengths - 1)[:, None])
    times = torch.where(mask, times, last)  # pad by repeating the last time
    release = release_curve(mechanism_parameters(f, conditions, drug, constants), times)
    features = torch.stack(
        [
            torch.log10(f.radius_nm),
            f.lactide_fraction,
            torch.log10(f.polymer_mw_kda),
            f.drug_loading,
            torch.log10(drug.mw_g_mol),
            drug.logp,
        ],
        dim=1,
    )
    return CurveSet(
        name="plai",
        curve_ids=list(range(n)),
        groups=[d.name for d in drugs],
        formulation=f,
        drug=drug,
        conditions=conditions,
        times_h=times,
        release=release.detach(),
        mask=mask,
        features=features,
        feature_names=["log_r", "la", "log_mw", "loading", "log_drug_mw", "logp"],
    )


# ---------------------------------------------------------------------------------------
# Fitting
# ---------------------------------------------------------------------------------------


def test_fit_lowers_loss_and_recovers_a_perturbed_constant() -> None:
    truth = dataclasses.replace(DEFAULT_CONSTANTS, log10_diffusivity_ref=-19.8)
    curves = synthetic_curves(constants=truth)
    names = ["log10_diffusivity_ref", "hydrolysis_glycolide_gain"]
    fit = cal.calibrate_constants(curves, names=names, steps=150, lr=0.05, progress=False)
    assert fit.final_loss < 0.2 * fit.initial_loss
    assert fit.loss_history[-1] < fit.loss_history[0]
    assert fit.constants.log10_diffusivity_ref == pytest.approx(-19.8, abs=0.15)
    assert fit.constants.hydrolysis_glycolide_gain == pytest.approx(math.log(8.0), rel=0.3)
    # constants not fitted are untouched and everything is a plain float
    assert fit.constants.burst_shell_nm == DEFAULT_CONSTANTS.burst_shell_nm
    assert all(isinstance(v, float) for v in fit.constants.to_dict().values())


def test_fit_is_deterministic() -> None:
    curves = synthetic_curves(12, dataclasses.replace(DEFAULT_CONSTANTS, burst_shell_nm=20.0))
    a = cal.calibrate_constants(curves, steps=20, progress=False, seed=3)
    b = cal.calibrate_constants(curves, steps=20, progress=False, seed=3)
    assert a.constants == b.constants
    assert a.loss_history == b.loss_history


def test_bad_constant_names_are_rejected() -> None:
    curves = synthetic_curves(4)
    with pytest.raises(ValueError, match="unknown simulator constant"):
        cal.calibrate_constants(curves, names=["no_such_constant"], steps=1, progress=False)
    with pytest.raises(ValueError, match="not fittable"):
        cal.calibrate_constants(curves, names=["particle_density_mg_ml"], steps=1, progress=False)


def test_correction_predicts_unseen_rows_as_physical_curves() -> None:
    truth = dataclasses.replace(DEFAULT_CONSTANTS, log10_diffusivity_ref=-19.5)
    curves = synthetic_curves(30, truth)
    train, test = curves.subset(range(20)), curves.subset(range(20, 30))
    fit = cal.fit_correction(train, DEFAULT_CONSTANTS, members=2, steps=60, progress=False)
    assert fit.final_loss < fit.initial_loss
    assert len(fit.corrections) == 2
    pred = cal.predict_curves(fit.model, test)
    assert pred.shape == test.times_h.shape
    assert torch.isfinite(pred).all()
    assert pred.min() >= 0.0 and pred.max() <= 1.0
    assert (pred.diff(dim=-1) >= -1e-12).all()  # non-decreasing in time
    # a correction is bounded: every channel within ±scale
    member = fit.corrections[0]
    delta = member(test.features * 100.0)  # far outside the training range
    assert (delta.abs() <= member.scales + 1e-12).all()


def test_correction_rejects_other_features() -> None:
    curves = synthetic_curves(8)
    fit = cal.fit_correction(curves, steps=2, progress=False)
    other = dataclasses.replace(curves, feature_names=[*curves.feature_names[:-1], "other"])
    with pytest.raises(ValueError, match="trained on features"):
        cal.predict_curves(fit.model, other)


def test_gradients_stay_finite_on_centimetre_implants() -> None:
    curves = plai_curves()  # 48 implants at R = 1 cm: Baker–Lonsdale at x → 0
    params = cal.ConstantParameters(
        cal.DEFAULT_FIT_NAMES["plai"], DEFAULT_CONSTANTS, DEFAULT_CONSTANTS
    )
    data_loss([curves], params.constants()).backward()
    assert torch.isfinite(params.free.grad).all()
    assert (params.free.grad[:7] != 0).any()  # the diffusivity law gets a gradient


def test_point_weights() -> None:
    curves = synthetic_curves(12)
    for weighting in ("points", "curves", "groups"):
        w = cal.point_weights(curves, weighting)
        assert (w[~curves.mask] == 0).all() and (w[curves.mask] > 0).all()
    per_group = cal.point_weights(curves, "groups").sum(1)
    groups = np.asarray(curves.groups)
    totals = {g: float(per_group[torch.as_tensor(groups == g)].sum()) for g in set(groups)}
    assert np.allclose(list(totals.values()), 1.0)
    with pytest.raises(ValueError, match="weighting"):
        cal.point_weights(curves, "rows")  # type: ignore[arg-type]


def test_tree_baseline_and_stumps() -> None:
    curves = synthetic_curves(20)
    pred = cal.TreeBaseline().fit(curves.subset(range(14))).predict(curves.subset(range(14, 20)))
    assert pred.min() >= 0 and pred.max() <= 1 and (pred.diff(dim=-1) >= 0).all()
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(200, 2))
    y = (x[:, 0] > 0.5).astype(float) + 0.1 * x[:, 1]
    stumps = StumpBoost(n_estimators=50).fit(x, y)
    assert np.abs(stumps.predict(x) - y).mean() < 0.05


# ---------------------------------------------------------------------------------------
# Cross-validation
# ---------------------------------------------------------------------------------------


def test_grouped_folds_never_share_a_group() -> None:
    groups = plai_curves().groups
    covered = []
    for train, test in grouped_folds(groups, n_splits=5, seed=0):
        assert not {groups[i] for i in train} & {groups[i] for i in test}
        covered += list(test)
    assert sorted(covered) == list(range(len(groups)))


def test_cross_validate_reports_every_curve_once() -> None:
    curves = synthetic_curves(18)
    result = cal.cross_validate(curves, "calibrated", n_splits=3, steps=10)
    assert len(result.folds) == 3
    assert result.overall["n_curves"] == 18
    assert result.overall["n_groups"] == len(set(curves.groups))
    assert sum(f["n_curves"] for f in result.folds) == 18
    assert 0 <= result.overall["mae"] <= result.overall["rmse"] <= 1
    assert result.predictions.shape == curves.times_h.shape
    with pytest.raises(ValueError, match="unknown method"):
        cal.cross_validate(curves, "magic")  # type: ignore[arg-type]


def test_cross_validate_on_a_share_of_the_training_groups() -> None:
    curves = plai_curves()
    full = cal.cross_validate(curves, "tree", n_splits=5)
    half = cal.cross_validate(curves, "tree", n_splits=5, train_group_share=0.5)
    for f, h in zip(full.folds, half.folds, strict=True):
        assert h["n_train_groups"] == max(1, round(0.5 * f["n_train_groups"]))
        assert h["n_curves"] == f["n_curves"]  # the test part is unchanged
    assert half.overall["n_curves"] == len(curves.curve_ids)
    assert half.overall["mae"] != full.overall["mae"]
    for bad in (0.0, 1.5):
        with pytest.raises(ValueError, match=r"train_group_share=.* must be in \(0, 1\]"):
            cal.cross_validate(curves, "tree", train_group_share=bad)


def test_curve_metrics_perfect_and_offset() -> None:
    curves = synthetic_curves(6)
    perfect = cal.curve_metrics(curves.release, curves.release, curves.mask)
    assert perfect["mae"] == 0 and perfect["f2_share"] == 1
    off = cal.curve_metrics((curves.release + 0.2).clamp(max=1.5), curves.release, curves.mask)
    assert off["f2_share"] == 0 and off["mae"] > 0.1


# ---------------------------------------------------------------------------------------
# Saving and loading
# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A calibration file fitted in seconds on a few PLAI curves."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        curves = plai_curves()
    fit = cal.fit_calibration(
        curves.subset(range(0, 153, 8)), steps=5, correction_steps=5, members=2, progress=False
    )
    return cal.save_calibration(fit, tmp_path_factory.mktemp("model") / "cal.json")


def test_save_and_load_round_trip(small_model: Path) -> None:
    payload = json.loads(small_model.read_text())
    assert payload["metadata"]["datasets"] == ["plai"]
    assert {"date", "git_commit", "constants_mse_final"} <= set(payload["metadata"])
    model = cal.load_calibrated_model("plai", small_model)
    assert len(model.corrections) == 2
    assert cal.load_calibrated_constants(small_model) == model.constants
    assert cal.load_calibrated_model("liposome", small_model).corrections == ()
    curves = synthetic_curves(3)
    assert torch.equal(
        cal.predict_curves(model.constants, curves),
        cal.predict_curves(cal.load_calibrated_constants(small_model), curves),
    )


def test_missing_package_file_falls_back_with_a_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    import nanoenv.kinetics.constants as kc

    monkeypatch.setattr(kc, "CALIBRATED_FILE", "no_such_file.json")
    kc.calibrated_constants.cache_clear()
    try:
        with pytest.warns(UserWarning, match="literature default"):
            constants = cal.load_calibrated_constants()
        assert constants == DEFAULT_CONSTANTS
    finally:
        kc.calibrated_constants.cache_clear()


def test_shipped_constants_load() -> None:
    if not cal.calibrated_constants_path().exists():
        pytest.skip("no shipped calibration yet")
    constants = cal.load_calibrated_constants()
    assert constants != DEFAULT_CONSTANTS
    model = cal.load_calibrated_model("plai")
    assert model.corrections


def test_bad_calibration_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text("[1, 2]")
    with pytest.raises(ValueError, match="no 'constants'"):
        cal.load_calibrated_constants(path)


# ---------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------


def _plai_rows(tmp_path: Path, n_curves: int = 3, drop_release: bool = False) -> Path:
    with data_file("plai/plai_release.csv").open("r", encoding="utf-8") as handle:
        df = pd.read_csv(handle)
    ids = df["Experimental_index"].unique()[:n_curves]
    out = df[df["Experimental_index"].isin(ids)]
    if drop_release:
        out = out.drop(columns=["Release"])
    path = tmp_path / ("new.csv" if drop_release else "rows.csv")
    out.to_csv(path, index=False)
    return path


def test_cli_predict_prints_metrics_last(
    tmp_path: Path, small_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = _plai_rows(tmp_path)
    out = tmp_path / "preds.csv"
    code = main(
        [
            *("predict", "--dataset", "plai", "--csv", str(rows)),
            *("--model", str(small_model), "--out", str(out)),
        ]
    )
    stdout = capsys.readouterr().out.strip().splitlines()
    assert code == 0
    assert METRICS_LINE.match(stdout[-1]), stdout[-1]
    assert stdout[-1].endswith("(n=3 curves)")
    preds = pd.read_csv(out)
    assert list(preds.columns) == [
        "curve_id",
        "group",
        "time_h",
        "predicted_release",
        "measured_release",
    ]
    assert preds["predicted_release"].between(0, 1).all()
    assert preds["measured_release"].notna().all()


def test_cli_predict_new_formulations_without_release(
    tmp_path: Path, small_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = _plai_rows(tmp_path, drop_release=True)
    code = main(["predict", "--dataset", "plai", "--csv", str(rows), "--model", str(small_model)])
    lines = capsys.readouterr().out.strip().splitlines()
    assert code == 0
    assert lines[-1].startswith("no measured release")
    assert not list(tmp_path.glob(".*.tmp"))  # the temporary copy is gone


@pytest.mark.parametrize(
    ("edit", "argv", "message"),
    [
        (lambda t: t.replace("5-FU-PLGA,1.0,104000.0", "5-FU-PLGA,1.0,abc", 1), [], "Polymer_MW"),
        (lambda t: t, ["--curves", "x.csv"], "--formulations"),
        (lambda t: t.replace("Experimental_index", "Index", 1), [], "Experimental_index"),
    ],
)
def test_cli_predict_errors_are_one_line(
    tmp_path: Path,
    small_model: Path,
    capsys: pytest.CaptureFixture[str],
    edit: Callable[[str], str],
    argv: list[str],
    message: str,
) -> None:
    rows = _plai_rows(tmp_path, drop_release=True)
    rows.write_text(edit(rows.read_text()))
    code = main(
        ["predict", "--dataset", "plai", "--csv", str(rows), "--model", str(small_model), *argv]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err[-1].startswith("nanoenv: error: ") and message in err[-1]
    if "abc" in rows.read_text():
        assert "line 2" in err[-1] and str(rows) in err[-1]  # the user's file, not a copy


def test_cli_predict_missing_file(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["predict", "--dataset", "liposome", "--formulations", "nope.csv"])
    assert code == 2
    assert capsys.readouterr().err.startswith("nanoenv: error: ")


def test_cli_calibrate_writes_a_loadable_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "sub" / "fit.json"
    code = main(
        [
            *("calibrate", "--dataset", "liposome", "--steps", "3", "--correction-steps", "2"),
            *("--members", "1", "--quiet", "--out", str(out)),
        ]
    )
    assert code == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == f"Wrote {out}"
    model = cal.load_calibrated_model("liposome", out)
    assert len(model.corrections) == 1
    assert json.loads(out.read_text())["metadata"]["datasets"] == ["liposome"]


# ---------------------------------------------------------------------------------------
# Physically bounded calibration
# ---------------------------------------------------------------------------------------


def test_every_fittable_constant_has_a_documented_plausible_range() -> None:
    assert set(cal.CONSTANT_BOUNDS) == set(cal.CONSTANT_TRANSFORMS)
    for name, bound in cal.CONSTANT_BOUNDS.items():
        assert bound.low < bound.high, name
        assert bound.unit and len(bound.reason) > 40, name
        assert bound.scale in ("log", "linear"), name
        if bound.scale == "log":
            assert bound.low > 0, name
        # the literature defaults are plausible by construction
        cal.check_in_bounds(name, float(getattr(DEFAULT_CONSTANTS, name)))
    # the mechanism behaviour the environments rely on: a sharp permeability peak at Tm
    for name in ("liposome_transition_width_c", "liposome_peak_width_c"):
        assert cal.CONSTANT_BOUNDS[name].high <= 3.0
    assert cal.CONSTANT_BOUNDS["diffusivity_drug_mw_exponent"].high < 0  # bigger is slower


def test_bounded_parameterisation_maps_every_variable_into_the_range() -> None:
    u = torch.tensor([-1e3, -30.0, -3.0, 0.0, 3.0, 30.0, 1e3], dtype=torch.float64)
    for name, bound in cal.CONSTANT_BOUNDS.items():
        values = cal.from_bounded_free(name, u)
        assert torch.isfinite(values).all(), name
        tol = 1e-12 * max(abs(bound.low), abs(bound.high))
        assert (values >= bound.low - tol).all() and (values <= bound.high + tol).all(), name
        assert values[0] < values[3] < values[-1], name  # monotone: the fit can move
        # where the fit starts: the literature default, or FIT_START for a default on a bound
        default = cal.FIT_START.get(name, float(getattr(DEFAULT_CONSTANTS, name)))
        u0 = torch.tensor(cal.to_bounded_free(name, default), dtype=torch.float64)
        back = float(cal.from_bounded_free(name, u0))
        assert back == pytest.approx(default, rel=1e-9, abs=1e-12), name


def test_bounded_fit_stays_in_range_where_the_unbounded_fit_leaves_it() -> None:
    # truth outside the plausible range: bigger drugs slowed with MW^-3
    truth = dataclasses.replace(DEFAULT_CONSTANTS, diffusivity_drug_mw_exponent=-3.0)
    curves = synthetic_curves(24, truth)
    names = ["diffusivity_drug_mw_exponent"]
    kwargs = {"names": names, "steps": 80, "lr": 0.1, "progress": False}
    bounded = cal.calibrate_constants(curves, **kwargs)
    free = cal.calibrate_constants(curves, bounded=False, **kwargs)
    low = cal.CONSTANT_BOUNDS["diffusivity_drug_mw_exponent"].low
    assert free.constants.diffusivity_drug_mw_exponent < low  # the data pull it out
    # the bounded fit moves from the default (-1.5) toward the edge but never past it
    assert low <= bounded.constants.diffusivity_drug_mw_exponent < -1.8
    assert bounded.bounded and not free.bounded
    assert cal.constants_outside_bounds(bounded.constants) == {}
    assert set(cal.constants_outside_bounds(free.constants)) == set(names)


def test_size_exponent_is_fittable_from_its_fickian_default() -> None:
    bound = cal.CONSTANT_BOUNDS["diffusivity_radius_exponent"]
    assert (bound.low, bound.high) == (0.0, 3.0)
    assert DEFAULT_CONSTANTS.diffusivity_radius_exponent == 0.0  # Fickian: no size term
    assert "diffusivity_radius_exponent" in cal.DEFAULT_FIT_NAMES["plai"]
    for name, start in cal.FIT_START.items():  # fit starts strictly inside the range
        assert cal.CONSTANT_BOUNDS[name].low < start < cal.CONSTANT_BOUNDS[name].high, name
    # synthetic 50 nm - 5 µm particles whose apparent D grows as (1 + R/R_ref)^1.5, with
    # R_ref = 20 nm below them all (so that the size term acts on every curve)
    ref = dataclasses.replace(DEFAULT_CONSTANTS, diffusivity_radius_ref_nm=20.0)
    truth = dataclasses.replace(ref, diffusivity_radius_exponent=1.5)
    curves = synthetic_curves(24, truth)
    names = ["diffusivity_radius_exponent", "log10_diffusivity_ref"]
    fit = cal.calibrate_constants(curves, names=names, steps=300, lr=0.1, progress=False, init=ref)
    assert fit.constants.diffusivity_radius_exponent == pytest.approx(1.5, abs=0.15)
    assert fit.final_loss < 0.05 * fit.initial_loss
    # the literature default (β = 0, on the bound) is the prior centre, not the start
    pure = cal.calibrate_constants(
        synthetic_curves(24, ref), names=names, steps=150, lr=0.1, progress=False, init=ref
    )
    assert pure.constants.diffusivity_radius_exponent < 0.3


def test_bounded_fit_rejects_an_implausible_start() -> None:
    init = dataclasses.replace(DEFAULT_CONSTANTS, liposome_transition_width_c=14.6)
    with pytest.raises(ValueError) as info:
        cal.calibrate_constants(
            synthetic_curves(4),
            names=["liposome_transition_width_c"],
            steps=1,
            progress=False,
            init=init,
        )
    message = str(info.value)
    assert "liposome_transition_width_c=14.6" in message
    assert "[0.3, 3]" in message and "°C" in message


def test_shipped_constants_are_physically_plausible() -> None:
    if not cal.calibrated_constants_path().exists():
        pytest.skip("no shipped calibration yet")
    assert cal.constants_outside_bounds(cal.load_calibrated_constants()) == {}
    metadata = json.loads(cal.calibrated_constants_path().read_text())["metadata"]
    assert metadata["bounded"] is True
    assert set(metadata["datasets"]) == {"plai", "liposome"}


def test_bagged_correction_with_early_stopping() -> None:
    curves = synthetic_curves(24, dataclasses.replace(DEFAULT_CONSTANTS, burst_shell_nm=20.0))
    fit = cal.fit_correction(
        curves, members=2, steps=30, subsample=0.7, loss="mae", lr=0.03, progress=False
    )
    assert len(fit.corrections) == 2
    pred = cal.predict_curves(fit.model, curves)
    assert torch.isfinite(pred).all() and (pred.diff(dim=-1) >= -1e-12).all()
    with pytest.raises(ValueError, match="subsample"):
        cal.fit_correction(curves, subsample=1.0, steps=1, progress=False)
    with pytest.raises(ValueError, match="loss"):
        cal.fit_correction(curves, loss="l3", steps=1, progress=False)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------
# Are the shipped constants usable as the environments' default?
# ---------------------------------------------------------------------------------------

_GRID_H = torch.cat([torch.zeros(1), torch.logspace(-1.0, math.log10(672.0), 40)]).double()


def _shipped_or_skip() -> SimulatorConstants:
    if not cal.calibrated_constants_path().exists():
        pytest.skip("no shipped calibration yet")
    return cal.load_calibrated_constants()


def _designs(space: DesignSpace, n: int, seed: int, **values: float) -> Formulation:
    z = space.sample(n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    f = space.to_formulation(z)
    v = f.values.clone()
    for name, value in values.items():
        v[:, PARAMETER_INDEX[name]] = value
    return Formulation(v, f.carrier)


@pytest.mark.parametrize("carrier", ["polymer", "liposome"])
def test_calibrated_model_is_physical_on_the_design_space(carrier: str) -> None:
    constants = _shipped_or_skip()
    space = DesignSpace.for_carrier(carrier)
    f = _designs(space, 1000, seed=0)
    for drug in ("doxorubicin", "paclitaxel", "5-fluorouracil"):
        for conditions in ("sink", "tumour", "hyperthermia"):
            y = simulate_release(f, _GRID_H, conditions, drug, constants=constants)
            assert torch.isfinite(y).all()
            assert float(y.min()) >= 0.0 and float(y.max()) <= 1.0
            assert float(y[:, 0].abs().max()) == 0.0  # F(0) = 0
            assert bool((y.diff(dim=-1) >= -1e-12).all())  # cumulative: never decreases


def _liposomes(tm_c: list[float]) -> Formulation:
    space = DesignSpace.liposome()
    mid = space.to_formulation(torch.zeros(len(tm_c), space.dim, dtype=torch.float64))
    v = mid.values.clone()
    v[:, PARAMETER_INDEX["lipid_tm_c"]] = torch.tensor(tm_c, dtype=torch.float64)
    v[:, PARAMETER_INDEX["thermo_fraction"]] = 0.0
    v[:, PARAMETER_INDEX["ph_responsive_fraction"]] = 0.0
    return Formulation(v, mid.carrier)


@pytest.mark.parametrize("which", ["literature", "shipped"])
def test_heat_triggers_release_from_thermosensitive_liposomes_only(which: str) -> None:
    constants = DEFAULT_CONSTANTS if which == "literature" else _shipped_or_skip()
    f = _liposomes([42.0, 55.0])  # thermosensitive (Tm ≈ 42 °C) and a high-Tm lipid
    t = torch.tensor([0.0, 24.0, 25.0], dtype=torch.float64)  # the pulse: 24-25 h at 42 °C
    drug, heat = "doxorubicin", ReleaseConditions.hyperthermia()  # 42 °C from 24 to 25 h
    hot = simulate_release(f, t, heat, drug, constants=constants)
    cold = simulate_release(f, t, ReleaseConditions.sink(), drug, constants=constants)
    pulse, same_hour = hot[:, 2] - hot[:, 1], cold[:, 2] - cold[:, 1]
    assert pulse[0] > 20.0 * same_hour[0]  # a sharp peak at Tm
    assert pulse[1] < 0.05  # 13 °C below its Tm a lipid barely notices the pulse
    # How much the pulse releases is the gel permeability's business: the calibrated one
    # (0.033 nm/h, fitted with the literature shape of the transition) is 6x below the
    # literature's, and the mid-space liposome releases ~3 % in the pulse, not > 20 %.
    if which == "literature":
        assert pulse[0] > 0.2


@pytest.mark.parametrize("which", ["literature", "shipped"])
def test_ph_responsive_particles_release_more_in_the_tumour_schedule(which: str) -> None:
    constants = DEFAULT_CONSTANTS if which == "literature" else _shipped_or_skip()
    space = DesignSpace.polymer_nanoparticle()
    f = _designs(space, 500, seed=1, ph_responsive_fraction=1.0, thermo_fraction=0.0)
    t = torch.tensor([0.0, 6.0, 12.0, 24.0, 48.0], dtype=torch.float64)
    gain = []
    for drug in ("doxorubicin", "paclitaxel"):
        acid = simulate_release(f, t, ReleaseConditions.tumour(), drug, constants=constants)
        neutral = simulate_release(f, t, ReleaseConditions.sink(), drug, constants=constants)
        assert float((acid - neutral).min()) > -0.02  # acid never slows a pH-gated particle
        gain.append(float((acid - neutral).max()))
    assert max(gain) > 0.2  # and markedly speeds some


def _sustained_share(constants: SimulatorConstants) -> float:
    """Share of random polymer nanoparticle designs (4 drugs) with 30-90 % released at
    168 h: the designs that can serve 1-4-week sustained-release targets."""
    f = _designs(DesignSpace.polymer_nanoparticle(), 1000, seed=2)
    t = torch.tensor([0.0, 168.0], dtype=torch.float64)
    shares = []
    for drug in ("doxorubicin", "dexamethasone", "paclitaxel", "5-fluorouracil"):
        y = simulate_release(f, t, "sink", drug, constants=constants)[:, 1]
        shares.append(float(((y >= 0.3) & (y <= 0.9)).double().mean()))
    return sum(shares) / len(shares)


def test_literature_constants_give_sustained_release_designs() -> None:
    assert _sustained_share(DEFAULT_CONSTANTS) > 0.2


def test_shipped_constants_give_sustained_release_designs() -> None:
    # With the size term of the apparent diffusivity (β ≈ 2.4 at R_ref = 1 µm) the fitted
    # diffusion no longer empties 25-250 nm particles within hours: about 75 % of random
    # designs hold 30-90 % at 168 h (1 % before the size term). Necessary, not sufficient:
    # most of that is the burst (next test).
    assert _sustained_share(_shipped_or_skip()) > 0.2


def _post_burst_share(constants: SimulatorConstants) -> float:
    """Share of random polymer nanoparticle designs (4 drugs) that release at least a
    further 20 % of the dose between 1 h and 168 h: sustained release after the burst."""
    f = _designs(DesignSpace.polymer_nanoparticle(), 1000, seed=2)
    t = torch.tensor([0.0, 1.0, 168.0], dtype=torch.float64)
    shares = []
    for drug in ("doxorubicin", "dexamethasone", "paclitaxel", "5-fluorouracil"):
        y = simulate_release(f, t, "sink", drug, constants=constants)
        shares.append(float((y[:, 2] - y[:, 1] >= 0.2).double().mean()))
    return sum(shares) / len(shares)


def test_literature_constants_release_beyond_the_burst() -> None:
    assert _post_burst_share(DEFAULT_CONSTANTS) > 0.2


def test_shipped_constants_release_beyond_the_burst() -> None:
    # Was a strict xfail: with a fixed 3δ/R skin fitted to PLAI microparticles and implants
    # (δ ≈ 47 nm at its bound), 25-250 nm particles lost ~85 % of their dose in the first
    # hour and ~5 % of random designs released a further 20 % over the week. With the
    # burst's size exponent (γ ≈ 0.8: the layer thickens with the device) and the size
    # term of the apparent diffusivity levelling off below 1 µm, about 56 % do.
    assert _post_burst_share(_shipped_or_skip()) > 0.2
