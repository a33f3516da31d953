"""Task families: default rewards and tiers, the hidden-design families, the hard tier,
and the separation of training and suite streams."""

import dataclasses

import numpy as np
import pytest
import torch
from gymnasium.utils import seeding

import nanoenv.tasks as tasks
from agents.baselines import GradientDescent, RandomSearch
from nanoenv.design_space import DesignSpace
from nanoenv.envs import FormulationDesignEnv, FormulationDesignVectorEnv
from nanoenv.kinetics import ReleaseConditions, simulate_release
from nanoenv.rewards import (
    REWARD_MODELS,
    F2Reward,
    FeasibleF2Reward,
    TargetBatch,
    stability_cost,
)
from nanoenv.tasks import TASK_FAMILIES, TIERS, benchmark_suite

NEW = ["ph_triggered", "therapeutic_window", "ph_triggered_strict", "burst_then_sustained_strict"]
SPACE = DesignSpace.polymer_nanoparticle()


def _hidden_z(target):
    return SPACE.to_normalized(target.formulation.to(dtype=torch.float32))[0].numpy()


def test_every_family_names_its_reward_tier_and_is_in_the_docstring_table():
    assert {f.tier for f in TASK_FAMILIES.values()} == set(TIERS)
    for name, family in TASK_FAMILIES.items():
        assert family.reward in REWARD_MODELS and family.tier in TIERS
        assert f"``{name}``" in tasks.__doc__
    hard = sorted(n for n, f in TASK_FAMILIES.items() if f.tier == "hard")
    assert hard == ["burst_then_sustained_strict", "ph_triggered_strict"]
    assert all(TASK_FAMILIES[n].reward == "f2_feasible" for n in hard)
    assert TASK_FAMILIES["therapeutic_window"].reward == "therapeutic_window"
    for unchanged in ("sustained", "realisable", "dataset", "dataset_liposome"):
        assert TASK_FAMILIES[unchanged].reward == "f2" and TASK_FAMILIES[unchanged].version == 0
    with pytest.raises(ValueError, match="reward='f3'; allowed"):
        dataclasses.replace(TASK_FAMILIES["sustained"], reward="f3")
    with pytest.raises(ValueError, match="tier='easy'; allowed"):
        dataclasses.replace(TASK_FAMILIES["sustained"], tier="easy")


@pytest.mark.parametrize("family", sorted(TASK_FAMILIES))
def test_environments_and_baselines_use_the_family_reward_unless_given_one(family):
    expected = type(REWARD_MODELS[TASK_FAMILIES[family].reward]())
    assert type(FormulationDesignEnv(task=family).spec_.reward_model) is expected
    assert type(FormulationDesignVectorEnv(2, task=family).spec_.reward_model) is expected
    target = benchmark_suite(family, 1, seed=3)[0]
    result = RandomSearch(batch_size=4).design(target, 4, seed=0)
    spec = RandomSearch().problem.spec(target)
    assert type(spec.reward_model) is expected and 0.0 <= result.score <= 1.0
    given = FormulationDesignEnv(task=family, reward_model="rmse").spec_.reward_model
    assert type(given) is REWARD_MODELS["rmse"]


@pytest.mark.parametrize("family", NEW)
def test_new_family_targets_are_curves_on_the_grid_and_seeded(family):
    suite = benchmark_suite(family, 3, seed=7)
    again = benchmark_suite(family, 3, seed=7)
    other = benchmark_suite(family, 3, seed=8)
    for a, b in zip(suite, again, strict=True):
        assert torch.equal(a.release, b.release) and torch.equal(a.times_h, b.times_h)
    assert not torch.equal(suite[0].release, other[0].release)
    # a target is the same drawn alone as in a batch
    rng = np.random.default_rng(np.random.SeedSequence(7, spawn_key=(tasks.SUITE_STREAM, 1)))
    assert torch.equal(TASK_FAMILIES[family].sample(rng).release, suite[1].release)
    for t in suite:
        assert t.family == family and t.times_h.shape == t.release.shape == (tasks.N_TIMES,)
        assert t.times_h[0] == 0 and bool((t.times_h.diff() > 0).all())
        assert bool((t.release >= 0).all() & (t.release <= 1).all())
        assert bool((t.release.diff() >= -1e-12).all())


@pytest.mark.parametrize(
    ("family", "ph_low", "ph_high"), [("ph_triggered", 5.0, 6.5), ("ph_triggered_strict", 5.0, 5.5)]
)
def test_ph_triggered_targets_are_hidden_designs_that_show_the_trigger(family, ph_low, ph_high):
    env = FormulationDesignEnv(task=family)
    for target in benchmark_suite(family, 4, seed=11):
        switch_h, ph_after = float(target.conditions.start_h[1]), float(target.conditions.ph[1])
        assert 6.0 <= switch_h <= 24.0 and ph_low <= ph_after <= ph_high
        assert 48.0 <= target.horizon_h - switch_h <= 120.0
        times = torch.tensor([switch_h, target.horizon_h], dtype=torch.float64)
        held = simulate_release(target.formulation, times, ReleaseConditions.sink(), target.drug)
        switched = simulate_release(target.formulation, times, target.conditions, target.drug)
        assert float(switched[0, 0]) <= tasks.PH_LEAK_MAX
        assert float(switched[0, 1] - held[0, 1]) >= tasks.PH_EXTRA_MIN
        _, info = env.reset(seed=0, options={"target": target, "z": _hidden_z(target)})
        assert info["f2"] == pytest.approx(100.0, abs=0.05)
        if family == "ph_triggered_strict":  # the hidden design is stable: optimum score 1
            assert float(stability_cost(target.formulation)[0]) == 0.0
            assert info["score"] == pytest.approx(1.0, abs=5e-4) and info["cost"] == 0.0


def test_therapeutic_window_targets_have_a_window_a_hidden_design_serves():
    env = FormulationDesignEnv(task="therapeutic_window")
    shares = []
    for target in benchmark_suite("therapeutic_window", 6, seed=11):
        p = target.patient
        assert p.dose_mg == 100.0 and 2.0 <= p.mtc_mg_l / p.mec_mg_l <= 5.0
        assert 24.0 <= target.horizon_h <= 90 * 24.0
        # the curve is the ideal input: a loading dose to the window's centre, then the
        # zero-order rate that holds it there
        centre = (p.mec_mg_l * p.mtc_mg_l) ** 0.5
        ideal = (centre * p.volume_l + centre * p.clearance_l_h * target.times_h) / p.dose_mg
        np.testing.assert_allclose(target.release[1:], ideal[1:].clamp(max=1.0), rtol=1e-12)
        _, info = env.reset(seed=0, options={"target": target, "z": _hidden_z(target)})
        shares.append(info["score"])
    # the screen keeps the first candidate at >= 60 % of the horizon in the window (the
    # best of 512 when none is: 0.57 for one of these six under the physics-v2 simulator):
    # the reference is at least that
    assert min(shares) >= tasks.WINDOW_SHARE_MIN - 0.1
    assert np.median(shares) >= tasks.WINDOW_SHARE_MIN


@pytest.mark.parametrize(
    ("family", "floor"),
    [
        ("ph_triggered", 0.85),
        ("therapeutic_window", 0.7),
        ("ph_triggered_strict", 0.85),
        ("burst_then_sustained_strict", 0.55),
    ],
)
def test_a_small_gradient_search_reaches_new_family_targets(family, floor):
    # 8 starts, 320 calls; measured on benchmark_suite(family, 3, seed=7) before physics v2:
    # 0.99 / 0.79-0.92 / 0.99 / 0.63-0.75 (a 1600-call oracle: 1.00 / 0.99 / 1.00 / 0.92,
    # median of 16); under physics v2 (dissolving pH-responsive polymers, pH-dependent
    # solubility) the pH families' small search reaches 0.92
    for target in benchmark_suite(family, 2, seed=7):
        result = GradientDescent(starts=8, stop_on_success=False).design(target, 320, seed=0)
        assert result.score >= floor, (family, result.score)
        if TASK_FAMILIES[family].tier == "hard":
            assert result.cost == pytest.approx(0.0, abs=1e-4)  # the optimum is stable


def test_feasible_f2_reward_is_f2_when_stable_and_heavily_reduced_otherwise():
    target = benchmark_suite("burst_then_sustained_strict", 1, seed=0)[0]
    z = torch.zeros(3, SPACE.dim)
    z[0, SPACE.names.index("zeta_mv")] = -1.0  # -50 mV: stable
    z[1, SPACE.names.index("zeta_mv")] = -0.35  # -24 mV, no PEG: cost 0.04 (|ζ| < 25 mV)
    z[1, SPACE.names.index("peg_fraction")] = -1.0
    z[2, SPACE.names.index("zeta_mv")] = 0.375  # 0 mV
    designs = SPACE.to_formulation(z.double())
    release = simulate_release(designs, target.times_h, target.conditions, target.drug)
    batch = TargetBatch.from_targets([target] * 3)
    plain = F2Reward()(release, batch, designs)
    out = FeasibleF2Reward()(release, batch, designs)
    cost = stability_cost(designs)
    assert float(cost[0]) == 0.0 and float(out.score[0]) == pytest.approx(float(plain.score[0]))
    assert float(cost[1]) == pytest.approx(0.04, rel=0.05)
    np.testing.assert_allclose(out.score, plain.score * torch.exp(-cost / 0.01), rtol=1e-12)
    assert float(out.score[1]) < 0.02 * float(plain.score[1]) and float(out.score[2]) < 1e-6
    torch.testing.assert_close(out.cost, cost)
    with pytest.raises(ValueError, match="cost_scale=0 must be a positive finite number"):
        FeasibleF2Reward(cost_scale=0)


def test_feasible_f2_reward_gradient_matches_finite_differences():
    target = benchmark_suite("burst_then_sustained_strict", 1, seed=0)[0]
    z = torch.full((2, SPACE.dim), 0.1, dtype=torch.float64)
    z[1, SPACE.names.index("zeta_mv")] = 0.2  # inside the |ζ| < 25 mV band: cost > 0
    batch = TargetBatch.from_targets([target] * 2)

    def score(z):
        designs = SPACE.to_formulation(z)
        release = simulate_release(
            designs, target.times_h, target.conditions, target.drug, validate=False
        )
        return FeasibleF2Reward()(release, batch, designs).score

    assert torch.autograd.gradcheck(score, (z.requires_grad_(),), eps=1e-6, atol=1e-5)


@pytest.mark.parametrize("family", sorted(TASK_FAMILIES))
def test_training_streams_never_produce_suite_targets(family):
    # environments draw targets from Gymnasium's SeedSequence(seed) (spawn key ()), suites
    # from SeedSequence(seed, spawn_key=(SUITE_STREAM, i)): different streams for every seed
    env = FormulationDesignEnv(task=family)
    suite = benchmark_suite(family, 3, seed=0) + benchmark_suite(family, 3, seed=1)
    for seed in (0, 1, 2):
        env.reset(seed=seed)
        assert env.np_random.bit_generator.seed_seq.spawn_key == ()
        assert seeding.np_random(seed)[0].bit_generator.seed_seq.spawn_key == ()
        if family.startswith("dataset"):
            continue  # a finite set of measured curves: streams differ, curves may repeat
        for target in suite:
            assert not torch.equal(env.target.release, target.release), (family, seed)
    suite_rng = np.random.default_rng(np.random.SeedSequence(0, spawn_key=(tasks.SUITE_STREAM, 0)))
    assert suite_rng.bit_generator.seed_seq.spawn_key == (tasks.SUITE_STREAM, 0)
    # the vector environment draws from the same per-seed streams as single environments
    venv = FormulationDesignVectorEnv(2, task=family)
    venv.reset(seed=0)
    env.reset(seed=0)
    assert torch.equal(venv.targets[0].release, env.target.release)


BATCHED = sorted(n for n, f in TASK_FAMILIES.items() if f.batch_sampler is not None)


@pytest.mark.parametrize("family", BATCHED)
def test_batch_samplers_draw_what_the_single_sampler_draws(family):
    """Each family's batch sampler gives every generator the target its single sampler
    gives (the same grid, medium, drug and hidden design bit for bit; the simulated curve
    to round-off, since a batched simulation may reduce in another order) and leaves the
    generator in the same state (same draws)."""
    fam = TASK_FAMILIES[family]
    n = 3 if fam.simulated else 16
    single = [np.random.default_rng(s) for s in range(n)]
    batched = [np.random.default_rng(s) for s in range(n)]
    one = [fam.sample(rng) for rng in single]
    many = fam.sample_many(batched)
    assert [r.bit_generator.state for r in single] == [r.bit_generator.state for r in batched]
    assert len({float(t.release.sum()) for t in many}) == n  # distinct targets per generator
    for a, b in zip(one, many, strict=True):
        assert torch.equal(a.times_h, b.times_h)
        torch.testing.assert_close(a.release, b.release, rtol=0.0, atol=1e-12)
        assert a.drug == b.drug and a.family == b.family == family
        assert torch.equal(a.conditions.ph, b.conditions.ph)
        assert torch.equal(a.conditions.temperature_c, b.conditions.temperature_c)
        assert (a.formulation is None) == (b.formulation is None)
        if a.formulation is not None:
            assert torch.equal(a.formulation.values, b.formulation.values)
