"""TargetBatch: one packing of targets, by field name; its condition vector pinned by hand."""

from __future__ import annotations

import math

import pytest
import torch

from nanoenv.kinetics import Carrier, Drug, ReleaseConditions
from nanoenv.kinetics.drug import DRUG_FIELDS
from nanoenv.targets import N_TASK_FEATURES, Patient, PatientBatch, Target, TargetBatch
from nanoenv.tasks import benchmark_suite, time_grid


def _target(horizon_h: float, conditions: ReleaseConditions, drug: str, patient=None) -> Target:
    times = time_grid(horizon_h)
    release = (times / horizon_h).clamp(max=1.0)
    return Target(
        "test", times, release, conditions, Drug.preset(drug), Carrier.POLYMER, patient=patient
    )


def test_condition_vector_holds_medium_horizon_drug_and_patient_features():
    patient = Patient(100.0, clearance_l_h=10.0, volume_l=20.0, mec_mg_l=0.5, mtc_mg_l=2.5)
    tumour = ReleaseConditions.tumour(blood_h=6.0, tumour_h=24.0)
    targets = [
        _target(168.0, ReleaseConditions.sink(), "doxorubicin"),
        _target(48.0, tumour, "ibuprofen", patient),
    ]
    cond = TargetBatch.from_targets(targets).condition_vector()
    t = len(targets[0].times_h)
    assert cond.dtype == torch.float32 and cond.shape == (2, 3 * t + N_TASK_FEATURES)
    torch.testing.assert_close(cond[:, :t], torch.stack([x.release for x in targets]).float())
    ph, temperature = cond[:, t : 2 * t], cond[:, 2 * t : 3 * t]
    assert torch.all(ph[0] == 0.0) and torch.all(temperature == 0.0)  # pH 7.4, 37 °C
    times = targets[1].times_h
    expected_ph = torch.where(times < 6.0, 7.4, torch.where(times < 24.0, 6.5, 5.0))
    torch.testing.assert_close(ph[1], ((expected_ph - 7.4) / 2).float())
    features = cond[:, 3 * t :].double()
    dox, ibu = Drug.preset("doxorubicin"), Drug.preset("ibuprofen")
    expected = [
        [
            0.0,
            math.log10(543.5 / 300),
            1.27 / 3,
            (8.3 - 7) / 3,
            1.0,
            math.log10(10.0) / 3,
            0.0,
            0.0,
            0.0,
        ],
        [
            math.log10(48 / 168),
            math.log10(ibu.mw_g_mol / 300),
            ibu.logp / 3,
            (ibu.pka - 7) / 3,
            -1.0,
            math.log10(ibu.solubility_mg_ml) / 3,
            math.log(2.0),
            math.log(0.5),
            math.log10(5.0) - 1.0,
        ],
    ]
    assert dox.mw_g_mol == 543.5
    torch.testing.assert_close(
        features, torch.tensor(expected, dtype=torch.float64), atol=1e-6, rtol=0
    )


def test_batch_fields_are_matched_by_name_not_position():
    targets = benchmark_suite("therapeutic_window", 2, seed=1) + benchmark_suite("sustained", 1)
    batch = TargetBatch.from_targets(targets)
    for i, target in enumerate(targets):
        for name in DRUG_FIELDS:
            assert float(getattr(batch.drug, name)[i]) == float(getattr(target.drug, name))
        assert float(batch.conditions.ph[i, 0]) == float(target.conditions.ph[0])
        assert float(batch.conditions.temperature_c[i, -1]) == float(
            target.conditions.temperature_c[-1]
        )
    assert batch.patient is not None
    assert batch.patient.present.tolist() == [True, True, False]
    assert float(batch.patient.mtc_mg_l[1]) == targets[1].patient.mtc_mg_l
    assert float(batch.patient.dose_mg[2]) == 0.0


def test_select_and_replace_move_whole_rows():
    window = benchmark_suite("therapeutic_window", 2, seed=2)
    plain = benchmark_suite("sustained", 3, seed=2)
    batch = TargetBatch.from_targets(plain).to("cpu", torch.float32)
    assert batch.patient is None and batch.times_h.dtype == torch.float32
    new = batch.replace([2, 0], TargetBatch.from_targets(window))
    assert new.targets == (window[1], plain[1], window[0])
    assert batch.targets == tuple(plain)  # the original is unchanged
    expected = TargetBatch.from_targets([window[1], plain[1], window[0]])
    torch.testing.assert_close(new.condition_vector(), expected.condition_vector())
    torch.testing.assert_close(new.release, expected.release.float())
    torch.testing.assert_close(new.drug.mw_g_mol, expected.drug.mw_g_mol.float())
    assert new.patient is not None and new.patient.present.tolist() == [True, False, True]
    assert float(new.patient.volume_l[0]) == pytest.approx(window[1].patient.volume_l, rel=1e-6)
    sub = new.select(torch.tensor([1, 1]))
    assert sub.patient is None and sub.targets == (plain[1], plain[1])
    torch.testing.assert_close(sub.times_h, batch.times_h[[1, 1]])


def test_patient_batch_is_none_without_patients():
    assert PatientBatch.stack([None, None]) is None
    with pytest.raises(ValueError, match="at least one target"):
        TargetBatch.from_targets([])
