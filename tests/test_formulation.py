"""Formulation, Drug and ReleaseConditions: construction, bounds and bad input."""

import math

import pytest
import torch

from nanoenv.kinetics import (
    PARAMETER_NAMES,
    PARAMETERS,
    Carrier,
    Drug,
    Formulation,
    ReleaseConditions,
)


def test_from_dict_fills_defaults_and_round_trips_through_to_dicts():
    f = Formulation.from_dict({"radius_nm": [80.0, 150.0], "zeta_mv": -20.0})
    assert len(f) == 2
    assert f.radius_nm.tolist() == [80.0, 150.0]
    assert f.zeta_mv.tolist() == [-20.0, -20.0]
    assert f.lactide_fraction.tolist() == [0.5, 0.5]
    back = Formulation.from_dicts(f.to_dicts())
    assert torch.equal(back.values, f.values)
    assert f.to_dicts()[0]["carrier"] == "polymer"
    assert "lipid_tm_c" not in f.to_dicts()[0]  # a polymer's dict lists what its physics uses


def test_liposome_dicts_hold_lipid_parameters():
    f = Formulation.from_dict({"lipid_tm_c": 52.0}, carrier="liposome")
    d = f.to_dicts()[0]
    assert d["carrier"] == "liposome" and d["lipid_tm_c"] == 52.0
    assert "lactide_fraction" not in d
    assert bool(f.is_liposome().all())


def test_sample_respects_bounds_and_log_scale():
    f = Formulation.sample(20000, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    for i, spec in enumerate(PARAMETERS):
        col = f.values[:, i]
        assert col.min() >= spec.low and col.max() <= spec.high
        if spec.scale == "categorical":  # held at its default (a shape is chosen, not drawn)
            assert torch.all(col == spec.default)
        elif spec.scale == "log":
            # log-uniform: the median sits at the geometric mean of the bounds
            mid = math.sqrt(spec.low * spec.high)
            assert abs(math.log10(col.median().item()) - math.log10(mid)) < 0.1
        else:
            span = spec.high - spec.low
            assert col.mean().item() == pytest.approx((spec.low + spec.high) / 2, abs=0.02 * span)


def test_sample_is_reproducible_and_honours_bounds_and_fixed():
    a = Formulation.sample(5, generator=torch.Generator().manual_seed(3))
    b = Formulation.sample(5, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a.values, b.values)
    c = Formulation.sample(
        50,
        generator=torch.Generator().manual_seed(0),
        bounds={"radius_nm": (50.0, 60.0)},
        fixed={"peg_fraction": 0.1},
    )
    assert c.radius_nm.min() >= 50 and c.radius_nm.max() <= 60
    assert torch.allclose(c.peg_fraction, torch.tensor(0.1))


def test_indexing_concatenation_and_device_moves():
    f = Formulation.sample(6, generator=torch.Generator().manual_seed(0))
    assert len(f[1:4]) == 3 and len(f[2]) == 1 and len(f[torch.tensor([0, 5])]) == 2
    both = Formulation.cat([f[:2], Formulation.default(3, carrier="liposome")])
    assert both.carrier.tolist() == [0, 0, 1, 1, 1]
    g = f.to(dtype=torch.float64)
    assert g.dtype == torch.float64 and g.device.type == "cpu"
    assert torch.allclose(g.values.float(), f.values)


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"radius_nm": 1.0}, "radius_nm=1 is outside the allowed range [5, 1e+07] (nm)"),
        ({"zeta_mv": float("nan")}, "zeta_mv must be a finite number (mV)"),
        ({"drug_loading": 0.9}, "drug_loading=0.9 is outside the allowed range [0, 0.6]"),
        ({"lcst_c": 5.0}, "lcst_c=5 is outside the allowed range [20, 60] (degC)"),
        ({"radius_mm": 1.0}, "unknown formulation parameter(s) ['radius_mm']"),
    ],
)
def test_bad_parameters_name_value_range_and_unit(params, needle):
    with pytest.raises(ValueError) as info:
        Formulation.from_dict(params)
    assert needle in str(info.value)


def test_bad_shapes_and_carriers_are_rejected():
    with pytest.raises(ValueError, match=rf"shape \(B, {len(PARAMETERS)}\)"):
        Formulation(torch.zeros(3, 4))
    with pytest.raises(ValueError, match="carrier='micelle' is not a known carrier family"):
        Formulation.default(1, carrier="micelle")
    with pytest.raises(ValueError, match="must nest inside the allowed range"):
        Formulation.sample(3, bounds={"radius_nm": (1.0, 50.0)})
    assert Carrier.parse("Liposome") is Carrier.LIPOSOME
    assert len(PARAMETER_NAMES) == 24  # issue 14 added 7 (physics v2) and polymer_family


def test_drug_presets_and_errors():
    dox = Drug.preset("doxorubicin")
    assert dox.charge == 1.0 and dox.mw_g_mol == pytest.approx(543.5)
    assert Drug.preset("5-FU").name == "5-fluorouracil"
    with pytest.raises(ValueError, match="unknown drug preset 'aspirin'"):
        Drug.preset("aspirin")
    with pytest.raises(ValueError, match=r"drug.mw_g_mol=-5 is outside the allowed range .*g/mol"):
        Drug("bad", -5.0, 1.0, 7.0, 0.0, 1.0)
    stacked = Drug.stack([dox, Drug.preset("ibuprofen")])
    assert stacked.name == "mixed" and stacked.charge.tolist() == [1.0, -1.0]


def test_conditions_presets_lookup_and_errors():
    tumour = ReleaseConditions.preset("tumor")
    assert tumour.value_at("ph", torch.tensor([0.0, 5.9, 6.0, 30.0])).tolist() == [
        7.4,
        7.4,
        6.5,
        5.0,
    ]
    heat = ReleaseConditions.preset("hyperthermia")
    assert heat.value_at("temperature_c", torch.tensor([24.5])).item() == 42.0
    stacked = ReleaseConditions.stack([ReleaseConditions.sink(), tumour])
    assert stacked.start_h.shape == (2, 3)
    assert stacked.value_at("ph", torch.tensor([0.0, 30.0])).tolist() == [[7.4, 7.4], [7.4, 5.0]]
    with pytest.raises(ValueError, match="unknown conditions preset 'mars'"):
        ReleaseConditions.preset("mars")
    with pytest.raises(ValueError, match=r"ph=15 .* outside the allowed range \[0, 14\]"):
        ReleaseConditions(torch.zeros(1), torch.tensor([15.0]), torch.tensor([37.0]))
    with pytest.raises(ValueError, match="start_h must begin at 0 h"):
        ReleaseConditions(torch.tensor([1.0]), torch.tensor([7.0]), torch.tensor([37.0]))
    with pytest.raises(ValueError, match="non-decreasing"):
        ReleaseConditions(
            torch.tensor([0.0, 5.0, 2.0]), torch.full((3,), 7.0), torch.full((3,), 37.0)
        )
