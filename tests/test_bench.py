"""nanoenv-bench: frozen suites, references, normalised scores, fixed budgets, plug-ins."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from agents.baselines import DesignResult, RandomSearch, Search, SearchMethod
from agents.bench.build import freeze_suite, rebuild_references
from agents.bench.references import OracleSettings, build_reference, random_floor
from agents.bench.registry import get_method
from agents.bench.run import aggregate, run_bench
from agents.bench.runner import score_designer
from agents.bench.stats import iqm_ci, performance_profile, probability_of_improvement
from nanoenv.bench import (
    DEFAULT_SUITE,
    load_suite,
    normalized_score,
    target_from_dict,
    target_to_dict,
)
from nanoenv.envs.problem import evaluate, target_batch
from nanoenv.tasks import TASK_FAMILIES, benchmark_suite

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SMALL_ORACLE = OracleSettings(
    gradient_calls=160, gradient_starts=8, cmaes_calls=120, random_calls=128, floor_samples=64
)


@pytest.fixture(scope="module")
def tiny_suite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A two-family suite of 3 targets each with references from a small oracle."""
    path = tmp_path_factory.mktemp("suite") / "tiny-v0.json"
    freeze_suite("tiny-v0", ["realisable", "sustained"], 3, 11, path)
    rebuild_references(
        load_suite(path), None, path, settings=SMALL_ORACLE, workers=1, progress=False
    )
    return path


# -- suites --------------------------------------------------------------------------------


@pytest.mark.parametrize("family", sorted(TASK_FAMILIES))
def test_targets_round_trip_exactly_through_json(family):
    for target in benchmark_suite(family, 2, seed=3):
        data = json.loads(json.dumps(target_to_dict(target)))
        again = target_from_dict(data)
        assert torch.equal(again.release, target.release)
        assert torch.equal(again.times_h, target.times_h)
        assert target_to_dict(again) == target_to_dict(target)


def test_suite_hash_is_stable_and_detects_edits(tiny_suite):
    a, b = load_suite(tiny_suite), load_suite(tiny_suite)
    assert a.content_hash == b.content_hash
    data = json.loads(tiny_suite.read_text())
    data["families"]["sustained"]["targets"][0]["release"][3] += 1e-9
    edited = tiny_suite.with_name("edited.json")
    edited.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="corrupt or edited: content hash"):
        load_suite(edited)


def test_generating_a_suite_twice_gives_the_same_hash(tmp_path):
    a = freeze_suite("x-v0", ["sustained", "ph_triggered"], 2, 5, tmp_path / "a.json")
    b = freeze_suite("x-v0", ["sustained", "ph_triggered"], 2, 5, tmp_path / "b.json")
    assert load_suite(a).content_hash == load_suite(b).content_hash
    with pytest.raises(ValueError, match="never redrawn in place"):
        freeze_suite("x-v0", ["sustained"], 2, 5, a)


def test_the_shipped_suite_is_what_its_generator_draws():
    """A tripwire: if targets, physics or a family's generator change, the frozen suite no
    longer matches its generator and a new suite version is due."""
    suite = load_suite(DEFAULT_SUITE)
    for family in suite.family_names:
        seed = suite.families[family]["seed"]
        for frozen, fresh in zip(
            suite.targets(family, 2), benchmark_suite(family, 2, seed), strict=True
        ):
            assert torch.allclose(frozen.release, fresh.release, atol=1e-9), family


def test_every_shipped_family_has_references_and_the_oracle_is_strong():
    suite = load_suite(DEFAULT_SUITE)
    for family in suite.family_names:
        refs = suite.references(family)
        assert len(refs) == len(suite.families[family]["targets"])
        assert all(r.score > r.floor for r in refs), family
    # realisable targets have a known optimum (f2 = 100): the oracle must find it
    refs = suite.references("realisable")
    assert np.mean([r.f2 >= 99 for r in refs]) >= 0.95


def test_references_reproduce_on_a_sample_of_shipped_targets():
    suite = load_suite(DEFAULT_SUITE)
    settings = OracleSettings(**suite.meta["oracle"])
    for family, index in (("realisable", 0), ("sustained", 5)):
        target = suite.targets(family)[index]
        shipped = suite.references(family)[index]
        rebuilt = build_reference(target, index, settings)
        assert rebuilt.score == pytest.approx(shipped.score, abs=1e-4)
        assert rebuilt.floor == pytest.approx(shipped.floor, abs=1e-4)


def test_the_reference_design_scores_one_and_the_median_random_design_zero(tiny_suite):
    suite = load_suite(tiny_suite)
    target, ref = suite.targets("sustained")[0], suite.references("sustained")[0]
    designer = RandomSearch(stop_on_success=False)
    spec = designer.problem.spec(target)
    table = target_batch(spec, [target])
    z = torch.tensor([ref.z], dtype=torch.float32)
    score = float(evaluate(spec, table, z).reward.score[0])
    assert ref.normalize(score) == pytest.approx(1.0, abs=1e-4)
    # the floor is the median of these random designs: that design normalises to 0
    n = SMALL_ORACLE.floor_samples + 1  # odd: the median is one of the designs
    floor, _ = random_floor(target, n, seed=9)
    zs = spec.design_space.sample(n, generator=torch.Generator().manual_seed(9))
    scores = evaluate(spec, target_batch(spec, [target] * n), zs).reward.score
    median_design = int(torch.argsort(scores)[n // 2])
    assert float(scores[median_design]) == pytest.approx(floor)
    assert normalized_score(float(scores[median_design]), floor, ref.score) == pytest.approx(
        normalized_score(floor, floor, ref.score)
    )
    assert normalized_score(floor, floor, ref.score) == 0.0
    assert normalized_score(1.5, 0.5, 1.0) == 2.0  # above the oracle is kept, not clipped


# -- fixed budgets ----------------------------------------------------------------------------


class _OneByOne(SearchMethod):
    """Simulates one random design per call and records every score it saw."""

    name = "one-by-one"

    def design(self, target, budget, *, seed=0):
        search = self.start(target, budget)
        gen = torch.Generator().manual_seed(seed)
        self.seen: list[float] = []
        while not self.done(search):
            z = search.spec.design_space.sample(1, generator=gen)
            self.seen.append(float(search.evaluate(z).reward.score[0]))
        return search.result()


def test_scores_at_k_are_the_best_of_the_first_k_calls_exactly():
    target = benchmark_suite("sustained", 1, seed=4)[0]
    designer = _OneByOne(stop_on_success=False)
    budgets = (1, 2, 3, 7, 10, 25)
    (row,) = score_designer(designer, [target], seed=1, budgets=budgets)
    assert len(designer.seen) == 25 == row["sim_calls"]
    for k, value in zip(budgets, row["score_at"], strict=True):
        assert value == pytest.approx(max(designer.seen[:k]))


def test_batched_designers_are_scored_per_call_not_per_batch():
    target = benchmark_suite("realisable", 1, seed=4)[0]
    designer = RandomSearch(batch_size=64, stop_on_success=False)
    (row,) = score_designer(designer, [target], seed=3, budgets=(1, 3, 10, 64))
    # the same draws, scored one by one
    spec = designer.problem.spec(target)
    z = spec.design_space.sample(64, generator=torch.Generator().manual_seed(3))
    scores = evaluate(spec, target_batch(spec, [target] * 64), z).reward.score
    expected = torch.cummax(scores.double(), 0).values
    for k, value in zip((1, 3, 10, 64), row["score_at"], strict=True):
        assert value == pytest.approx(float(expected[k - 1]), abs=1e-6)


def test_a_designer_over_its_budget_is_an_error():
    class Greedy:
        name = "greedy"

        def design(self, target, budget, *, seed=0):
            result = RandomSearch(stop_on_success=False).design(target, budget + 1, seed=seed)
            return result

    target = benchmark_suite("sustained", 1, seed=4)[0]
    with pytest.raises(RuntimeError, match="used 11 simulator calls on target 0, over its budget"):
        score_designer(Greedy(), [target], seed=0, budgets=(10,))


# -- statistics --------------------------------------------------------------------------------


def test_statistics_on_known_cases():
    constant = np.full((8, 3), 0.4)
    assert iqm_ci(constant) == pytest.approx((0.4, 0.4, 0.4))
    spread = np.arange(16, dtype=float).reshape(16, 1)
    score, lo, hi = iqm_ci(spread)
    assert lo < score < hi and score == pytest.approx(7.5)
    assert probability_of_improvement(constant, constant)[0] == 0.5
    assert probability_of_improvement(constant + 1, constant) == (1.0, 1.0, 1.0)
    taus = np.array([0.0, 0.5, 1.0])
    assert performance_profile([0.2, 0.6, 1.2, 0.9], taus).tolist() == [1.0, 0.75, 0.25]
    with pytest.raises(ValueError, match="NaN"):
        iqm_ci([[np.nan]])


# -- plug-ins and the runner -------------------------------------------------------------------


class TinyES:
    """A researcher's own designer: a (1+4)-ES in normalised coordinates."""

    name = "tiny-es"

    def __init__(self, device: str = "cpu") -> None:
        self.random = RandomSearch(device=device, stop_on_success=False)

    def design(self, target, budget, *, seed=0) -> DesignResult:
        search: Search = self.random.start(target, budget)
        gen = torch.Generator().manual_seed(seed)
        space = search.spec.design_space
        best = space.sample(1, generator=gen)
        best_score = float(search.evaluate(best).reward.score[0])
        while search.remaining > 0:
            n = min(4, search.remaining)
            z = (best + 0.2 * torch.randn(n, space.dim, generator=gen)).clamp(-1, 1)
            scores = search.evaluate(z).reward.score
            i = int(torch.argmax(scores))
            if float(scores[i]) > best_score:
                best, best_score = z[i : i + 1], float(scores[i])
        return search.result()


def test_a_plug_in_designer_enters_the_table(tiny_suite, tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).parent))  # as an installed package would be
    entry = get_method("test_bench:TinyES")
    assert entry.track == "search" and not entry.trains
    result = run_bench(
        str(tiny_suite),
        ["random", "test_bench:TinyES"],
        None,
        [0, 1],
        tmp_path / "bench",
        workers=1,
        progress=False,
        echo=lambda *_: None,
    )
    rows = json.loads((tmp_path / "bench" / "bench.json").read_text())["rows"]
    assert rows == json.loads(json.dumps(result["rows"]))
    methods = {r["method"] for r in rows}
    assert methods == {"random", "test_bench:TinyES"}
    cell = next(r for r in rows if r["method"] == "test_bench:TinyES" and r["budget"] == 10)
    for key in (
        "track",
        "family",
        "budget",
        "score",
        "ci_low",
        "ci_high",
        "success_f2_50",
        "success_f2_75",
        "train_sim_calls",
        "poi_vs_random",
    ):
        assert key in cell
    assert cell["ci_low"] <= cell["score"] <= cell["ci_high"]
    md = (tmp_path / "bench" / "bench.md").read_text()
    assert "| test_bench:TinyES | search |" in md
    # a restart skips every finished job
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "bench" / "jobs").rglob("results.json")}
    run_bench(
        str(tiny_suite),
        ["random", "test_bench:TinyES"],
        None,
        [0, 1],
        tmp_path / "bench",
        workers=1,
        progress=False,
        echo=lambda *_: None,
    )
    after = {p: p.stat().st_mtime_ns for p in (tmp_path / "bench" / "jobs").rglob("results.json")}
    assert before == after


def test_aggregate_refuses_results_without_normalised_scores(tmp_path):
    target = benchmark_suite("sustained", 1, seed=4)[0]
    rows = score_designer(RandomSearch(stop_on_success=False), [target], seed=0, budgets=(4,))
    for r in rows:
        r["seed"] = 0
    with pytest.raises(ValueError, match="without normalised scores"):
        aggregate([{"settings": {}, "rows": rows}], {})


def test_bench_names_a_missing_reference_before_running(tmp_path):
    path = freeze_suite("noref-v0", ["sustained"], 2, 5, tmp_path / "s.json")
    with pytest.raises(ValueError, match=r"no references for \['sustained'\].*bench references"):
        run_bench(
            str(path),
            ["random"],
            None,
            [0],
            tmp_path / "out",
            workers=1,
            progress=False,
            echo=lambda *_: None,
        )
    assert not (tmp_path / "out").exists()


def test_unknown_designers_are_named(tmp_path):
    with pytest.raises(ValueError, match=r"unknown method 'nope'; allowed: \[.*'bo'"):
        get_method("nope")
    with pytest.raises(ValueError, match="cannot load designer 'no_such_module:X'"):
        get_method("no_such_module:X")
    assert math.isfinite(SMALL_ORACLE.total_calls)


def test_training_configs_take_a_reward_model_by_name_or_module_path():
    from agents.rl import EnvConfig
    from nanoenv.rewards import F2Reward

    assert EnvConfig(reward_model="rmse").kwargs()["reward_model"] == "rmse"
    assert isinstance(
        EnvConfig(reward_model="nanoenv.rewards:F2Reward").kwargs()["reward_model"], F2Reward
    )
    with pytest.raises(ValueError, match=r"env.reward_model='nope'; allowed: \["):
        EnvConfig(reward_model="nope")
    with pytest.raises(ValueError, match=r"env.reward_model=.no.such:Thing. cannot be loaded"):
        EnvConfig(reward_model="no.such:Thing")
