"""nanoenv-bench-v2: v1's families verbatim plus the delivery families, with references."""

import pytest
import torch

from nanoenv.bench import DEFAULT_SUITE, available_suites, load_suite
from nanoenv.tasks import benchmark_suite

NEW = ("targeted", "theranostic", "robust", "population")


@pytest.fixture(scope="module")
def v2():
    if "nanoenv-bench-v2" not in available_suites():
        pytest.fail("nanoenv-bench-v2 is not shipped")
    return load_suite("nanoenv-bench-v2")


def test_v1_stays_the_default_and_v2_holds_its_families_verbatim(v2):
    v1 = load_suite("nanoenv-bench-v1")
    assert DEFAULT_SUITE == "nanoenv-bench-v1"
    for family in v1.family_names:
        assert v2.families[family] == v1.families[family], family
    assert set(v2.family_names) == set(v1.family_names) | set(NEW)


@pytest.mark.parametrize("family", NEW)
def test_delivery_families_are_what_their_generator_draws(v2, family):
    """Tripwire: a change of a delivery family's generator or physics needs a new suite."""
    seed = v2.families[family]["seed"]
    for frozen, fresh in zip(v2.targets(family, 2), benchmark_suite(family, 2, seed), strict=True):
        assert torch.allclose(frozen.release, fresh.release, atol=1e-9), family
        assert torch.allclose(frozen.times_h, fresh.times_h, atol=1e-9), family


@pytest.mark.parametrize("family", NEW)
def test_delivery_references_beat_their_floors(v2, family):
    refs = v2.references(family)
    assert len(refs) == len(v2.targets(family)) == 16
    assert all(r.score > r.floor for r in refs), family
    assert all(0.0 <= r.floor and r.score <= 1.0 for r in refs), family


def test_carry_references_keeps_identical_families_and_leaves_changed_ones(tmp_path):
    from agents.bench.build import carry_references
    from nanoenv.bench import Reference, Suite

    old = Suite.generate("x-v1", ["sustained", "burst_then_sustained"], 2, 7)
    ref = Reference(0.9, 90.0, 0.1, 10.0, {}, [0.0], 10, 5)
    for family in old.family_names:
        old = old.with_references(family, [ref, ref])
    new = Suite.generate("x-v2", ["sustained", "burst_then_sustained", "realisable"], 2, 7)
    # round-off in a stored curve still counts as the same target; a real change does not
    fams = dict(new.families)
    rows = [dict(r) for r in fams["burst_then_sustained"]["targets"]]
    rows[0]["release"] = [v + 0.01 for v in rows[0]["release"]]
    fams["burst_then_sustained"] = {**fams["burst_then_sustained"], "targets": rows}
    rows = [dict(r) for r in fams["sustained"]["targets"]]
    rows[1]["release"] = [v + 1e-12 for v in rows[1]["release"]]
    fams["sustained"] = {**fams["sustained"], "targets": rows}
    out = carry_references(Suite("x-v2", fams, new.meta), old, tmp_path / "x-v2.json")
    assert out.families["sustained"] == old.families["sustained"]
    assert not out.has_references("burst_then_sustained") and not out.has_references("realisable")
    assert out.meta["references_from"] == {"suite": "x-v1", "families": ["sustained"]}
    assert load_suite(tmp_path / "x-v2.json").content_hash == out.content_hash
