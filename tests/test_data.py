"""nanoenv.data: shipped files, loaders (units, cleaning, validation) and the simulator mapping."""

import re
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from nanoenv.data import (
    LIPOSOME_COLUMNS,
    PLAI_COLUMNS,
    PLAI_POLYMERS,
    CurveSet,
    DataCleaningWarning,
    data_file,
    grouped_folds,
    gse_solubility_mg_ml,
    liposome_curves,
    load_liposome,
    load_plai,
    parse_dp_group,
    plai_curves,
)
from nanoenv.kinetics import Carrier, simulate_release

pytestmark = pytest.mark.filterwarnings("ignore::nanoenv.data.DataCleaningWarning")

SHIPPED = (
    "plai/plai_release.csv",
    "liposome/liposome_release_curves.csv",
    "liposome/liposome_formulations.csv",
)


@pytest.fixture(scope="module")
def plai() -> pd.DataFrame:
    return load_plai()


@pytest.fixture(scope="module")
def liposome() -> pd.DataFrame:
    return load_liposome()


@pytest.fixture(scope="module")
def plai_set(plai: pd.DataFrame) -> CurveSet:
    return plai_curves(plai)


@pytest.fixture(scope="module")
def liposome_set(liposome: pd.DataFrame) -> CurveSet:
    return liposome_curves(liposome)


def _raw(relative: str) -> pd.DataFrame:
    with resources.as_file(data_file(relative)) as path:
        return pd.read_csv(path)


# -- shipped files ---------------------------------------------------------------------------
def test_shipped_files_are_package_resources_with_licenses():
    root = resources.files("nanoenv.data").joinpath("files")
    for relative in SHIPPED:
        node = root.joinpath(*relative.split("/"))
        assert node.is_file(), relative
        assert data_file(relative).read_bytes() == node.read_bytes()
    licenses = root.joinpath("LICENSES.md").read_text(encoding="utf-8")
    assert "Copyright (c) 2022 Aspuru-Guzik group repo" in licenses
    assert "Permission is hereby granted, free of charge" in licenses
    assert "CC BY 4.0" in licenses
    for doi in ("10.1038/s41467-022-35343-w", "10.1039/D5DD00112A", "10.1016/j.ijpx.2025.100393"):
        assert doi in licenses
    with pytest.raises(FileNotFoundError):
        data_file("plai/nope.csv")


# -- loaders: counts, units, cleaning --------------------------------------------------------
def test_plai_table_counts_units_and_report(plai: pd.DataFrame):
    raw = _raw("plai/plai_release.csv")
    assert list(plai.columns) == list(PLAI_COLUMNS)
    assert plai["curve_id"].nunique() == 153
    assert not any(c.startswith("T=") for c in plai.columns)
    # days -> hours: the first 5-FU curve's second point is at 0.26 d
    fu = plai[plai["curve_id"] == 80]
    assert fu["time_h"].iloc[1] == pytest.approx(0.26 * 24)
    assert plai["time_h"].max() == pytest.approx(raw["Time"].max() * 24)
    assert plai["polymer_mw_kda"].max() == pytest.approx(raw["Polymer_MW"].max() / 1000)
    assert plai["release"].between(0, 1).all()
    assert (plai.groupby("curve_id")["release"].diff().dropna() >= 0).all()
    assert (plai.groupby("curve_id")["time_h"].diff().dropna() > 0).all()
    report = plai.attrs["cleaning_report"]
    assert report.rows_read == len(raw) == 3209
    assert report.dropped_columns == ["T=0.25", "T=0.5", "T=1.0"]
    assert report.clipped_above_one == 13
    assert report.duplicate_times_merged == 1
    assert report.points_raised_by_running_max > 0
    # the one point above 1.05 (1.07, curve 103) is reported with its line, not clipped
    assert [(r.curve_id, r.value) for r in report.excluded] == [(103, 1.07)]
    line = report.excluded[0].line
    assert raw.iloc[line - 2]["Release"] == 1.07
    assert report.points == len(plai) == len(raw) - 2  # one excluded, one duplicate merged
    assert "153 curves" in report.summary()


def test_liposome_table_counts_units_and_report(liposome: pd.DataFrame):
    raw = _raw("liposome/liposome_release_curves.csv")
    assert list(liposome.columns) == list(LIPOSOME_COLUMNS)
    assert raw["IVR_ID"].nunique() == 166
    # IVR_ID 104 has no formulation row: excluded and reported, every one of its rows
    assert liposome["curve_id"].nunique() == 165
    report = liposome.attrs["cleaning_report"]
    orphan = [r for r in report.excluded if r.curve_id == 104]
    assert len(orphan) == (raw["IVR_ID"] == 104).sum() == len(report.excluded)
    assert report.release_unit == "percent"
    assert liposome["release"].between(0, 1).all()
    assert liposome["release"].max() == 1.0
    assert (liposome.groupby("curve_id")["release"].diff().dropna() >= 0).all()
    assert (liposome.groupby("curve_id")["time_h"].diff().dropna() > 0).all()
    assert report.clipped_above_one == 68 and report.clipped_below_zero == 27
    assert report.curves_reordered == 7 and report.duplicate_times_merged == 3
    # percent -> fraction, hours kept
    curve3 = liposome[liposome["curve_id"] == 3]
    assert curve3["release"].iloc[0] == pytest.approx(raw["release_percent"].iloc[0] / 100)
    assert curve3["time_h"].iloc[0] == pytest.approx(raw["time (Hrs)"].iloc[0])
    # zeta potential is missing for about half the tests: kept as NaN in the table
    zeta = liposome.groupby("curve_id")["zeta_mv"].first()
    assert zeta.isna().sum() == report.missing["zeta_mv"] == 91


def test_dp_group_parsing():
    assert parse_dp_group("5-FU-PLGA") == ("5-FU", "PLGA")
    assert parse_dp_group("PTX-PLGA-co-PALA") == ("PTX", "PLGA-co-PALA")
    assert parse_dp_group("PTX-PLA-co-PALA") == ("PTX", "PLA-co-PALA")
    assert parse_dp_group("TAA-PVL-co-PAVL") == ("TAA", "PVL-co-PAVL")
    assert parse_dp_group("ptx-pla") == ("ptx", "PLA")
    for bad in ("PTX-PXYZ", "PLGA", "PTX"):
        with pytest.raises(ValueError, match="known polymer"):
            parse_dp_group(bad)


def test_plai_table_parses_groups(plai: pd.DataFrame):
    fu = plai[plai["group"] == "5-FU-PLGA"]
    assert len(fu) > 0
    assert set(fu["drug_code"]) == {"5-FU"} and set(fu["polymer"]) == {"PLGA"}
    assert set(plai["polymer"]) == set(PLAI_POLYMERS)
    assert (plai["drug_code"] + "-" + plai["polymer"] == plai["group"]).all()


# -- the mapping onto the simulator ----------------------------------------------------------
@pytest.mark.parametrize("which", ["plai", "liposome"])
def test_curvesets_are_finite_and_simulate(which: str, plai_set: CurveSet, liposome_set: CurveSet):
    cs = plai_set if which == "plai" else liposome_set
    b = 153 if which == "plai" else 165
    assert cs.name == which and len(cs) == len(cs.groups) == b
    assert cs.times_h.shape == cs.release.shape == cs.mask.shape
    assert cs.features.shape == (b, len(cs.feature_names))
    for tensor in (cs.times_h, cs.release, cs.features, cs.formulation.values):
        assert tensor.dtype == torch.float64
        assert torch.isfinite(tensor).all()
    for value in (cs.drug.mw_g_mol, cs.drug.logp, cs.drug.pka, cs.drug.solubility_mg_ml):
        assert value.shape == (b,) and torch.isfinite(value).all()
    assert cs.conditions.start_h.shape == (b, 1)
    cs.formulation.validate()
    carrier = Carrier.POLYMER if which == "plai" else Carrier.LIPOSOME
    assert bool((cs.formulation.carrier == int(carrier)).all())
    # padding repeats the last real time and value; release is a non-decreasing fraction
    last = cs.mask.sum(dim=1) - 1
    rows = torch.arange(b)
    assert torch.equal(cs.times_h[:, -1], cs.times_h[rows, last])
    assert torch.equal(cs.release[:, -1], cs.release[rows, last])
    assert (cs.release.diff(dim=1) >= 0).all() and (cs.times_h.diff(dim=1) >= 0).all()
    assert cs.release.min() >= 0 and cs.release.max() <= 1
    assert cs.mask[:, 0].all()
    out = simulate_release(cs.formulation, cs.times_h, cs.conditions, cs.drug)
    assert out.shape == cs.times_h.shape
    assert torch.isfinite(out).all() and out.min() >= 0 and out.max() <= 1


def test_masks_match_the_table(plai: pd.DataFrame, plai_set: CurveSet):
    sizes = plai.groupby("curve_id").size()
    assert plai_set.curve_ids == [int(c) for c in sizes.index]
    assert plai_set.mask.sum(dim=1).tolist() == sizes.tolist()
    curve = plai[plai["curve_id"] == plai_set.curve_ids[0]]
    n = len(curve)
    assert plai_set.times_h[0, :n].tolist() == curve["time_h"].tolist()
    assert plai_set.release[0, :n].tolist() == curve["release"].tolist()


def test_plai_mapping(plai: pd.DataFrame, plai_set: CurveSet):
    per_curve = plai.groupby("curve_id").first()
    # SA-V is in mm⁻¹ (issue 14: settled from the source's values, see load_plai), so
    # every device fits the simulator's size range and none is clamped
    radius = 3e6 / per_curve["sa_v_per_mm"].to_numpy()
    np.testing.assert_allclose(plai_set.formulation.radius_nm.numpy(), radius)
    assert radius.min() == pytest.approx(136.25, rel=1e-3)
    assert radius.max() == pytest.approx(1.2097e6, rel=1e-3)
    assert not any("radius_nm" in note for note in plai_set.notes)
    ratio = per_curve["la_ga_ratio"].to_numpy()
    plga = per_curve["polymer"].str.startswith("PLGA").to_numpy()
    lactide = plai_set.formulation.lactide_fraction.numpy()
    np.testing.assert_allclose(lactide[plga], ratio[plga] / (1 + ratio[plga]))
    assert (lactide[~plga] == 1.0).all()
    assert set(np.round(lactide[plga], 4)) >= {0.5, 0.75}
    assert plai_set.formulation.peg_fraction.eq(0).all()
    assert plai_set.formulation.drug_loading.max() <= 0.6
    assert plai_set.drug.charge.eq(0).all()
    np.testing.assert_allclose(
        plai_set.drug.solubility_mg_ml.numpy(),
        np.clip(
            gse_solubility_mg_ml(
                per_curve["drug_logp"], per_curve["drug_tm_c"], per_curve["drug_mw_g_mol"]
            ),
            1e-9,
            1e4,
        ),
    )
    # the one-hot polymer features name one family per curve
    onehot = [i for i, n in enumerate(plai_set.feature_names) if n.startswith("polymer_")]
    assert len(onehot) == len(PLAI_POLYMERS)
    assert plai_set.features[:, onehot].sum(dim=1).eq(1).all()


def test_gse_matches_hand_calculation():
    # 5-FU: logP -0.8, Tm 282.5 degC, MW 130.08 -> log S = 0.5 - 2.575 + 0.8 = -1.275 mol/L
    assert gse_solubility_mg_ml(-0.8, 282.5, 130.08) == pytest.approx(10**-1.275 * 130.08)
    # liquids: no melting term
    assert gse_solubility_mg_ml(1.0, 10.0, 100.0) == pytest.approx(10**-0.5 * 100.0)


def test_liposome_mapping(liposome: pd.DataFrame, liposome_set: CurveSet):
    per_curve = liposome.groupby("curve_id").first()
    names = liposome_set.feature_names
    zeta = liposome_set.features[:, names.index("zeta_mv")]
    flag = liposome_set.features[:, names.index("zeta_missing")]
    known = np.array(per_curve["zeta_mv"].notna())
    assert flag.numpy().tolist() == (~known).astype(float).tolist()
    np.testing.assert_allclose(zeta.numpy()[known], per_curve["zeta_mv"].to_numpy()[known])
    assert zeta[~torch.as_tensor(known)].unique().numel() == 1  # one fill value (median)
    size = per_curve["z_average_nm"].to_numpy()
    has_size = ~np.isnan(size)
    np.testing.assert_allclose(
        liposome_set.formulation.radius_nm.numpy()[has_size], size[has_size] / 2
    )
    # conditions follow the medium; doxorubicin takes its preset pKa and charge
    ph = liposome_set.conditions.ph[:, 0].numpy()
    assert set(np.round(ph, 1)) >= {6.0, 7.4}
    assert liposome_set.conditions.temperature_c.max() >= 55.0
    dox = np.array([g == "doxorubicin" for g in liposome_set.groups])
    assert (liposome_set.drug.charge.numpy()[dox] == 1.0).all()
    other = np.array([g not in ("doxorubicin", "paclitaxel") for g in liposome_set.groups])
    assert (liposome_set.drug.pka.numpy()[other] == 7.0).all()
    for block in ("method_", "structure_"):
        cols = [i for i, n in enumerate(names) if n.startswith(block)]
        assert liposome_set.features[:, cols].sum(dim=1).eq(1).all()


@pytest.mark.parametrize("which", ["plai", "liposome"])
def test_features_never_see_the_release(
    which: str, plai: pd.DataFrame, liposome: pd.DataFrame, plai_set: CurveSet, liposome_set
):
    cs = plai_set if which == "plai" else liposome_set
    for name in cs.feature_names:
        assert "T=" not in name and not name.startswith(("release", "leaky", "t_0", "T_"))
    # scrambling every measured release leaves the features unchanged
    df = (plai if which == "plai" else liposome).copy()
    df["release"] = 0.0
    other = plai_curves(df) if which == "plai" else liposome_curves(df)
    assert torch.equal(other.features, cs.features)
    assert torch.equal(other.formulation.values, cs.formulation.values)


def test_subset_selects_curves(plai_set: CurveSet):
    sub = plai_set.subset([3, 0, 7])
    assert sub.curve_ids == [plai_set.curve_ids[i] for i in (3, 0, 7)]
    assert torch.equal(sub.features, plai_set.features[[3, 0, 7]])
    assert sub.times_h.shape[1] == int(sub.mask.sum(dim=1).max())
    assert torch.equal(sub.drug.mw_g_mol, plai_set.drug.mw_g_mol[[3, 0, 7]])
    out = simulate_release(sub.formulation, sub.times_h, sub.conditions, sub.drug)
    assert out.shape == sub.times_h.shape
    mask = np.zeros(len(plai_set), dtype=bool)
    mask[:10] = True
    assert len(plai_set.subset(mask)) == 10 and len(plai_set.subset(slice(0, 4))) == 4
    with pytest.raises(ValueError, match="no curves"):
        plai_set.subset([])


@pytest.mark.parametrize("which", ["plai", "liposome"])
def test_grouped_folds_never_share_a_group(which: str, plai_set: CurveSet, liposome_set):
    groups = (plai_set if which == "plai" else liposome_set).groups
    folds = grouped_folds(groups, n_splits=5, seed=0)
    assert len(folds) == 5
    tested = np.concatenate([test for _, test in folds])
    assert sorted(tested.tolist()) == list(range(len(groups)))
    for train, test in folds:
        assert len(test) > 0 and len(np.intersect1d(train, test)) == 0
        assert {groups[i] for i in train}.isdisjoint({groups[i] for i in test})
        assert len(train) + len(test) == len(groups)
    assert [t.tolist() for _, t in grouped_folds(groups, 5, seed=0)] == [
        t.tolist() for _, t in folds
    ]
    with pytest.raises(ValueError, match="n_splits"):
        grouped_folds(groups, n_splits=len(set(groups)) + 1)


# -- user CSVs: validation names the line and column -----------------------------------------
@pytest.fixture
def plai_csv(tmp_path: Path) -> tuple[pd.DataFrame, Path]:
    """The first two shipped PLAI curves (rows are lines 2..) and a path to write them to."""
    raw = _raw("plai/plai_release.csv").astype(object)
    small = raw[raw["Experimental_index"].isin(raw["Experimental_index"].unique()[:2])]
    return small.reset_index(drop=True), tmp_path / "plai.csv"


def _write(df: pd.DataFrame, path: Path, *, bom: bool = False) -> Path:
    df.to_csv(path, index=False, encoding="utf-8-sig" if bom else "utf-8")
    return path


def test_user_plai_csv_loads_with_bom(plai_csv):
    df, path = plai_csv
    table = load_plai(_write(df, path, bom=True))
    report = table.attrs["cleaning_report"]
    assert report.bom_stripped == [str(path)]
    assert table["curve_id"].nunique() == 2
    assert plai_curves(table).features.shape[0] == 2


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("Time", -1.0, "outside the valid range >= 0"),
        ("Release", 45.0, "is it in percent"),
        ("DP_Group", "PTX-PXYZ", "known polymer"),
        ("Polymer_MW", "heavy", "not a finite number"),
    ],
)
def test_user_plai_csv_bad_values_name_line_and_column(plai_csv, column, value, message):
    df, path = plai_csv
    df.loc[4, column] = value  # data row 4 is line 6 (line 1 is the header)
    with pytest.raises(ValueError, match=rf"line 6, column '{column}': .*{message}"):
        load_plai(_write(df, path))


def test_user_plai_csv_missing_column(plai_csv):
    df, path = plai_csv
    with pytest.raises(ValueError, match=r"line 1 \(header\), column 'SA-V'"):
        load_plai(_write(df.drop(columns="SA-V"), path))


def test_user_plai_csv_unusable_rows_are_reported(plai_csv):
    df, path = plai_csv
    df.loc[3, "Release"] = 1.2  # beyond the clipping tolerance: excluded, reported
    df.loc[5, "Time"] = np.nan  # missing: excluded, reported
    with pytest.warns(DataCleaningWarning, match="2 row"):
        table = load_plai(_write(df, path))
    excluded = table.attrs["cleaning_report"].excluded
    assert [(r.line, r.column) for r in excluded] == [(7, "Time"), (5, "Release")]
    assert len(table) == len(df) - 2


def test_user_plai_csv_inconsistent_curve(plai_csv):
    df, path = plai_csv
    df.loc[2, "DLC"] = 0.5
    with pytest.raises(ValueError, match=r"line 4, column 'DLC': .*constant within a curve"):
        load_plai(_write(df, path))


@pytest.fixture
def liposome_csvs(tmp_path: Path) -> tuple[pd.DataFrame, pd.DataFrame, Path, Path]:
    forms = _raw("liposome/liposome_formulations.csv").astype(object)
    curves = _raw("liposome/liposome_release_curves.csv").astype(object)
    ids = [3, 4]
    return (
        forms[forms["IVR_ID"].isin(ids)].reset_index(drop=True),
        curves[curves["IVR_ID"].isin(ids)].reset_index(drop=True),
        tmp_path / "forms.csv",
        tmp_path / "curves.csv",
    )


def test_user_liposome_csvs_load(liposome_csvs):
    forms, curves, fpath, cpath = liposome_csvs
    curves.loc[2, "release_percent"] = 0.0  # a step down: repaired by the running maximum
    curves.loc[5, "release_percent"] = 110.0  # beyond 105 %: excluded and reported
    extra = curves.iloc[[0]].assign(IVR_ID=999)  # a curve without a formulation row
    curves = pd.concat([curves, extra], ignore_index=True)
    with pytest.warns(DataCleaningWarning, match="2 row"):
        table = load_liposome(_write(forms, fpath), _write(curves, cpath))
    excluded = table.attrs["cleaning_report"].excluded
    assert [(r.line, r.column, r.value) for r in excluded] == [
        (len(curves) + 1, "IVR_ID", 999),
        (7, "release_percent", 110.0),
    ]
    assert table["curve_id"].nunique() == 2
    assert (table.groupby("curve_id")["release"].diff().dropna() >= 0).all()
    assert table.attrs["cleaning_report"].points_raised_by_running_max >= 1
    cs = liposome_curves(table)
    assert len(cs) == 2 and torch.isfinite(cs.features).all()


@pytest.mark.parametrize(
    ("which", "column", "value", "message"),
    [
        ("curves", "time (Hrs)", -0.5, "outside the valid range >= 0"),
        ("curves", "release_percent", 250.0, "is it a fraction"),
        ("forms", "structure_type", "XUV", "unknown structure type"),
        ("forms", "media_pH", 15.0, r"\[0, 14\]"),
    ],
)
def test_user_liposome_csv_bad_values_name_line_and_column(
    liposome_csvs, which, column, value, message
):
    forms, curves, fpath, cpath = liposome_csvs
    (curves if which == "curves" else forms).loc[1, column] = value  # row 1 is line 3
    with pytest.raises(ValueError, match=rf"line 3, column '{re.escape(column)}': .*{message}"):
        load_liposome(_write(forms, fpath), _write(curves, cpath))


def test_user_liposome_csv_missing_column(liposome_csvs):
    forms, curves, fpath, cpath = liposome_csvs
    with pytest.raises(ValueError, match=r"line 1 \(header\), column 'release_percent'"):
        load_liposome(_write(forms, fpath), _write(curves.drop(columns="release_percent"), cpath))
