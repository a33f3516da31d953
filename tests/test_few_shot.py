"""Few-shot prediction (a day of data → the rest of the curve) and leave-one-drug-out
cross-validation (issue 14, items 5-6)."""

from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path

import pandas as pd
import pytest
import torch

from nanoenv import calibration as cal
from nanoenv import few_shot
from nanoenv.cli import main
from nanoenv.data import data_file, plai_curves
from nanoenv.kinetics.constants import DEFAULT_CONSTANTS, calibrated_constants

pytestmark = pytest.mark.filterwarnings("ignore::nanoenv.data.DataCleaningWarning")

METRICS_LINE = re.compile(r"^MAE=\d\.\d{3} RMSE=\d\.\d{3} f2>=50: \d{1,3}% \(n=\d+ curves\)$")


@pytest.fixture(scope="module")
def plai():
    return plai_curves()


def _simulated(curves, constants):
    """``curves`` with their release replaced by the simulator's under ``constants``."""
    pred = cal.predict_curves(constants, curves)
    return dataclasses.replace(curves, release=pred)


def test_masks_split_the_measured_points(plai) -> None:
    given = few_shot.given_points(plai, 24.0)
    later = few_shot.later_points(plai, 24.0)
    assert not bool((given & later).any())
    assert torch.equal(given | later, plai.mask)
    assert bool((plai.times_h[given] <= 24.0).all()) and bool((plai.times_h[later] > 24.0).all())


def test_conditioning_recovers_a_shifted_transport_rate(plai) -> None:
    """Curves simulated with a 10× faster transport rate than the model's: one day of data
    pulls the later points toward the truth (the zero-shot model cannot)."""
    curves = plai.subset(range(0, 153, 10))
    model = calibrated_constants()
    truth = dataclasses.replace(model, log10_diffusivity_ref=model.log10_diffusivity_ref + 1.0)
    data = _simulated(curves, truth)
    later = few_shot.later_points(data, 24.0)
    zero = cal.curve_metrics(cal.predict_curves(model, data), data.release, later)
    assert zero["mae"] > 0.05  # the shift matters
    pred = few_shot.predict_few_shot(model, data, 24.0, steps=150)
    cond = cal.curve_metrics(pred, data.release, later)
    assert cond["mae"] < 0.5 * zero["mae"], (cond["mae"], zero["mae"])
    # still physical release curves: in [0, 1] and non-decreasing on the measured points
    assert bool(((pred >= 0) & (pred <= 1)).all())
    assert bool((torch.where(data.mask[:, 1:], pred.diff(dim=-1), 0.0) >= -1e-9).all())


def test_no_steps_or_no_early_points_is_the_zero_shot_prediction(plai) -> None:
    curves = plai.subset(range(0, 153, 30))
    zero = cal.predict_curves(DEFAULT_CONSTANTS, curves)
    torch.testing.assert_close(few_shot.predict_few_shot(DEFAULT_CONSTANTS, curves, steps=0), zero)
    # a time before every measured point after 0 leaves only t = 0 (release 0) as data,
    # which the zero-shot curve already meets: the shifts stay at the prior mean
    no_data = dataclasses.replace(curves, mask=curves.mask & (curves.times_h > 0))
    torch.testing.assert_close(few_shot.predict_few_shot(DEFAULT_CONSTANTS, no_data, 1e-3), zero)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"given_until_h": 0.0}, "given_until_h=0.0 must be a positive"),
        ({"given_until_h": math.nan}, "given_until_h=nan must be a positive"),
        ({"noise": -1.0}, "noise=-1.0 must be > 0"),
        ({"prior_scales": (1.0,)}, "prior_scales must be 6 positive numbers"),
    ],
)
def test_bad_few_shot_input_is_rejected(plai, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        few_shot.predict_few_shot(DEFAULT_CONSTANTS, plai.subset([0]), **kwargs)


def test_early_release_features_read_the_first_day(plai) -> None:
    curves = plai.subset([0, 1])
    out = few_shot.with_early_release(curves, 24.0)
    assert out.feature_names[-3:] == [
        "release_at_0.25_of_given",
        "release_at_0.5_of_given",
        "release_at_1_of_given",
    ]
    # curve 1 is measured at 0, 0.96 and 23.76 h (0, 0.11, 0.33): 6 h interpolates,
    # 24 h carries the 23.76-h value forward
    t, y = curves.times_h[1], curves.release[1]
    assert float(t[1]) == pytest.approx(0.96) and float(t[2]) == pytest.approx(23.76)
    expected_6h = float(y[1] + (y[2] - y[1]) * (6.0 - t[1]) / (t[2] - t[1]))
    assert float(out.features[1, -3]) == pytest.approx(expected_6h)
    assert float(out.features[1, -1]) == pytest.approx(float(y[2]))


def test_learned_prior_is_a_valid_gaussian(plai) -> None:
    prior = few_shot.fit_shift_prior(DEFAULT_CONSTANTS, plai.subset(range(0, 153, 12)), steps=30)
    assert prior.mean.shape == (6,) and prior.covariance.shape == (6, 6)
    torch.testing.assert_close(prior.covariance, prior.covariance.T)
    assert bool((torch.linalg.eigvalsh(prior.covariance) > 0).all())


def test_leave_one_drug_out_holds_out_every_drug_once(plai) -> None:
    curves = plai.subset(range(0, 153, 3))
    r = cal.cross_validate(curves, "uncalibrated", n_splits=None, by="drug")
    drugs = set(curves.drugs)
    assert len(r.folds) == len(drugs) == r.overall["n_drugs"]
    assert all(f["n_drugs"] == 1 for f in r.folds)
    assert r.overall["n_curves"] == len(curves)
    # drug codes come from the DP_Group label, hyphenated codes included
    assert "5-FU" in set(plai.drugs) and "PTX" in set(plai.drugs)


def test_cross_validate_few_shot_scores_later_points_only(plai) -> None:
    curves = plai.subset(range(0, 153, 6))
    r = cal.cross_validate(
        curves, "uncalibrated", n_splits=3, given_until_h=24.0, few_shot_options={"steps": 20}
    )
    assert r.overall["n_points"] == int(few_shot.later_points(curves, 24.0).sum())
    with pytest.raises(ValueError, match="needs a simulator method"):
        cal.cross_validate(curves, "tree", given_until_h=24.0)


def _plai_rows(tmp_path: Path, n_curves: int = 3) -> Path:
    with data_file("plai/plai_release.csv").open("r", encoding="utf-8") as handle:
        df = pd.read_csv(handle)
    ids = df["Experimental_index"].unique()[:n_curves]
    path = tmp_path / "rows.csv"
    df[df["Experimental_index"].isin(ids)].to_csv(path, index=False)
    return path


def test_cli_predict_given_until_h_scores_later_points(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = _plai_rows(tmp_path)
    out = tmp_path / "preds.csv"
    argv = ["predict", "--dataset", "plai", "--csv", str(rows), "--no-correction"]
    assert main([*argv, "--given-until-h", "24", "--out", str(out)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert METRICS_LINE.match(lines[-1]), lines[-1]
    assert "few-shot" in lines[0] and "later points only" in lines[0]
    preds = pd.read_csv(out)
    later = preds[preds["time_h"] > 24.0]
    mae = (later["predicted_release"] - later["measured_release"]).abs().mean()
    assert lines[-1].startswith(f"MAE={mae:.3f} ")


@pytest.mark.parametrize("value", ["0", "-3", "nan"])
def test_cli_predict_rejects_a_bad_given_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    rows = _plai_rows(tmp_path, 1)
    code = main(["predict", "--dataset", "plai", "--csv", str(rows), "--given-until-h", value])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and "--given-until-h" in err[-1] and "positive number of hours" in err[-1]
