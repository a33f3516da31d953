"""The delivery task families (targeted, theranostic, robust, population) and their
multi-objective reward models."""

import numpy as np
import pytest
import torch

from nanoenv.kinetics import Formulation, simulate_release
from nanoenv.rewards import REWARD_MODELS, TherapeuticWindowReward, make_reward_model
from nanoenv.rewards.delivery import (
    PopulationWindowReward,
    RobustF2Reward,
    TargetedDeliveryReward,
    TheranosticReward,
    VirtualPopulation,
)
from nanoenv.targets import TargetBatch
from nanoenv.tasks import TASK_FAMILIES, benchmark_suite, get_family

NEW = {
    "targeted": "targeted",
    "theranostic": "theranostic",
    "robust": "robust_f2",
    "population": "population_window",
}


def _table(target, n):
    return TargetBatch.from_targets([target] * n)


@pytest.mark.parametrize("family", sorted(NEW))
def test_each_family_is_registered_with_its_reward_and_draws_seeded_targets(family):
    fam = get_family(family)
    assert fam.reward == NEW[family] and fam.reward in REWARD_MODELS
    a, b = benchmark_suite(family, 2, seed=3), benchmark_suite(family, 2, seed=3)
    assert all(t.family == family for t in a)
    assert all(torch.equal(x.release, y.release) for x, y in zip(a, b, strict=True))
    if fam.batch_sampler is not None:  # one at a time gives what a batch gives
        rng = np.random.default_rng(np.random.SeedSequence(3, spawn_key=(0x5E1EC7, 1)))
        assert torch.allclose(fam.sample(rng).release, a[1].release)


def test_targeted_rewards_the_textbook_particle_over_the_bad_one():
    # Blanco et al. 2015: ~100 nm, PEGylated, slightly anionic, drug held until arrival;
    # against a 500 nm cationic bare particle that dumps its drug in the blood
    target = benchmark_suite("targeted", 1, seed=0)[0]
    t = target.times_h
    release = torch.stack([1 - torch.exp(-t / 48.0), 1 - torch.exp(-t / 0.5)])
    both = Formulation.from_dicts(
        [
            {"radius_nm": 50.0, "peg_fraction": 0.2, "zeta_mv": -10.0},
            {"radius_nm": 250.0, "peg_fraction": 0.0, "zeta_mv": 30.0},
        ],
        dtype=torch.float64,
    )
    reward = TargetedDeliveryReward()
    obj = reward.objectives(release, _table(target, 2), both)
    assert bool(((obj >= 0) & (obj <= 1)).all())
    assert bool((obj[0] > obj[1]).all())
    assert float(reward(release, _table(target, 2), both).score[0]) > 2 * float(
        reward(release, _table(target, 2), both).score[1]
    )


def test_targeted_score_is_differentiable_in_the_design():
    target = benchmark_suite("targeted", 1, seed=1)[0]
    design = Formulation.from_dict(
        {"radius_nm": 60.0, "peg_fraction": 0.1, "zeta_mv": -5.0}, dtype=torch.float64
    )
    values = design.values.clone().requires_grad_()
    release = (1 - torch.exp(-target.times_h / 24.0))[None]
    out = TargetedDeliveryReward()(release, _table(target, 1), Formulation(values, design.carrier))
    out.score.sum().backward()
    assert bool(torch.isfinite(values.grad).all()) and float(values.grad.abs().sum()) > 0


def test_theranostic_needs_a_magnetic_core_to_score():
    target = benchmark_suite("theranostic", 1, seed=0)[0]
    designs = Formulation.from_dicts(
        [
            {"radius_nm": 60.0, "peg_fraction": 0.1, "magnetic_core_fraction": phi}
            for phi in (0.0, 0.02, 0.2)
        ],
        dtype=torch.float64,
    )
    release = target.release.expand(3, -1)
    obj = TheranosticReward().objectives(release, _table(target, 3), designs)
    assert torch.allclose(obj[:, 0], torch.ones(3, dtype=torch.float64))  # f2 = 100
    assert float(obj[0, 1]) == 0.0 and 0 < float(obj[1, 1]) < float(obj[2, 1])


def test_robust_without_variability_is_plain_f2_and_variability_costs_score():
    target = benchmark_suite("robust", 1, seed=0)[0]
    hidden = target.formulation
    batch = _table(target, 1)
    exact = RobustF2Reward(size_cv=0.0, pdi_sd=0.0, loading_cv=0.0)
    obj = exact.objectives(target.release[None], batch, hidden)
    assert torch.allclose(obj.double(), torch.ones(1, 2, dtype=torch.float64), atol=1e-6)
    spread = RobustF2Reward().objectives(target.release[None], batch, hidden)
    assert float(spread[0, 1]) <= float(spread[0, 0]) < 1.0
    with pytest.raises(ValueError, match="draws"):
        RobustF2Reward(draws=3)


def test_virtual_population_follows_allometry_and_renal_function():
    # Anderson & Holford 2008 (CL ~ W^0.75, V ~ W); Dettli 1976 (renal part ~ CrCl)
    pop = VirtualPopulation()
    w, c = pop.covariates()
    cl, v = pop.scales()
    assert len(w) == 16
    expected = ((1 - 0.6) + 0.6 * c / 100.0) * (w / 70.0) ** 0.75
    assert torch.allclose(cl, expected) and torch.allclose(v, w / 70.0)
    typical = VirtualPopulation(weight_cv=0.0, crcl_cv=0.0, crcl_median_ml_min=100.0, n_side=1)
    assert torch.allclose(typical.scales()[0], torch.ones(1, dtype=torch.float64))


def test_a_population_of_the_typical_patient_scores_as_the_therapeutic_window():
    target = benchmark_suite("population", 1, seed=0)[0]
    one = PopulationWindowReward(
        VirtualPopulation(weight_cv=0.0, crcl_cv=0.0, crcl_median_ml_min=100.0, n_side=1)
    )
    batch = _table(target, 1)
    release = target.release[None].float()
    ref = TherapeuticWindowReward()(release, batch, target.formulation)
    assert float(one(release, batch, target.formulation).score[0]) == pytest.approx(
        float(ref.score[0]), rel=1e-5
    )
    shares = PopulationWindowReward().shares(release, batch)
    assert shares.shape == (1, 16) and float(shares.std()) > 0  # patients differ


@pytest.mark.parametrize("family", sorted(NEW))
def test_reward_scores_of_random_designs_are_bounded_and_finite(family):
    fam = TASK_FAMILIES[family]
    target = benchmark_suite(family, 1, seed=5)[0]
    space = fam.default_space()
    z = space.sample(8, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    designs = space.to_formulation(z)
    release = simulate_release(designs, target.times_h, target.conditions, target.drug)
    out = make_reward_model(fam.reward)(release.float(), _table(target, 8), designs)
    assert out.score.shape == (8,) and bool(torch.isfinite(out.score).all())
    assert bool(((out.score >= 0) & (out.score <= 1)).all())
    assert bool((out.cost >= 0).all())
