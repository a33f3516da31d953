"""The conditional WGAN-GP prior (issue 15, item 6): shapes, the gradient penalty, seeded
determinism, the shipped weights, ``nanoenv design --prior gan``, the ``prior-gan``
designer and the prior-guided policy on the GAN."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from agents.bench.registry import BuildContext
from agents.prior import (
    ConditionalGAN,
    PriorScreen,
    load_default_prior,
    load_prior,
    sample_and_screen,
    train_prior,
    train_prior_guided,
)
from agents.prior.designers import PRIOR_GAN
from agents.prior.screen import screen_designs
from nanoenv.cli import main
from nanoenv.design_space import DesignSpace
from nanoenv.envs.problem import CONDITION_SIZE
from nanoenv.targets import TargetBatch
from nanoenv.tasks import benchmark_suite

pytestmark = pytest.mark.usefixtures("one_torch_thread")
ROOT = Path(__file__).resolve().parents[1]


def _two_modes(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Designs near -0.5 when condition[0] = 0 and near +0.5 when it is 1."""
    gen = torch.Generator().manual_seed(seed)
    cond = torch.zeros(n, CONDITION_SIZE)
    cond[:, 0] = torch.randint(0, 2, (n,), generator=gen).float()
    z = (cond[:, :1] - 0.5) + 0.1 * torch.randn(n, 11, generator=gen)
    return z.clamp(-1.0, 1.0), cond


def _small() -> ConditionalGAN:
    torch.manual_seed(0)
    return ConditionalGAN(dim=11, latent=5, hidden=16, cond_hidden=8)


def test_shapes_and_bounds() -> None:
    model = _small()
    assert model.noise_dim == 5 and model.kind == "gan"
    cond = torch.randn(3, CONDITION_SIZE)
    z = model.sample(cond, 7, generator=torch.Generator().manual_seed(0))
    assert z.shape == (3, 7, 11) and bool((z.abs() <= 1).all())
    assert model.generate(cond).shape == (3, 11)
    assert model.score(z[:, 0], cond).shape == (3,)
    assert model.loss(z[:, 0], cond).shape == ()
    with pytest.raises(ValueError, match=r"cond must have shape \(n, 81\)"):
        model.sample(torch.zeros(2, 10), 3)
    with pytest.raises(ValueError, match="designs must have shape"):
        model.loss(torch.zeros(2, 9), torch.zeros(2, CONDITION_SIZE))
    with pytest.raises(ValueError, match="n_critic=0"):
        ConditionalGAN(dim=11, n_critic=0)
    with pytest.raises(ValueError, match="latent=0"):
        ConditionalGAN(dim=11, latent=0)


def test_gradient_penalty_of_a_linear_critic() -> None:
    """D(z, c) = w·z has ∇_z D = w everywhere: the penalty is (‖w‖ − 1)² exactly."""
    model = _small()
    w = torch.zeros(11)
    w[0], w[1] = 3.0, 4.0  # ‖w‖ = 5
    model.score = lambda z, cond: z @ w  # type: ignore[method-assign]
    real, cond = _two_modes(32)
    fake = torch.rand(32, 11) * 2 - 1
    assert float(model.gradient_penalty(real, fake, cond)) == pytest.approx(16.0)
    w[1] = 0.0
    w[0] = 1.0  # a 1-Lipschitz critic with unit slope: no penalty
    assert float(model.gradient_penalty(real, fake, cond)) == pytest.approx(0.0, abs=1e-12)


def test_training_is_deterministic_and_updates_both_networks(tmp_path: Path) -> None:
    kwargs = {"latent": 5, "hidden": 16, "cond_hidden": 8}
    pairs = _two_modes(256)
    a = train_prior(
        "gan",
        epochs=3,
        progress=False,
        pairs=pairs,
        batch_size=32,
        seed=4,
        model_kwargs=kwargs,
        run_dir=tmp_path / "run",
    )
    b = train_prior(
        "gan", epochs=3, progress=False, pairs=pairs, batch_size=32, seed=4, model_kwargs=kwargs
    )
    c = train_prior(
        "gan", epochs=3, progress=False, pairs=pairs, batch_size=32, seed=5, model_kwargs=kwargs
    )
    torch.manual_seed(4)
    init = ConditionalGAN(dim=11, **kwargs).state_dict()
    for name, value in a.state_dict().items():
        assert torch.equal(value, b.state_dict()[name]), name
        if name.endswith("weight"):
            # the generator, the critic and both condition embeddings were trained
            assert not torch.equal(value, init[name]), name
    assert not torch.equal(a.generator[0].weight, c.generator[0].weight)
    assert all(np.isfinite(h).all() for h in a.history) and len(a.history) == 3
    cond = pairs[1][:4]
    loaded = load_prior(tmp_path / "run" / "prior.pt")
    noise = torch.randn(4, 5, 5, generator=torch.Generator().manual_seed(9))
    torch.testing.assert_close(loaded.sample(cond, 5, noise=noise), a.sample(cond, 5, noise=noise))
    # a seeded sample is reproducible, another seed gives other designs
    s1 = a.sample(cond, 5, generator=torch.Generator().manual_seed(1))
    s2 = a.sample(cond, 5, generator=torch.Generator().manual_seed(1))
    s3 = a.sample(cond, 5, generator=torch.Generator().manual_seed(2))
    assert torch.equal(s1, s2) and not torch.equal(s1, s3)
    ckpt = torch.load(tmp_path / "run" / "checkpoints" / "prior_epoch3.pt", weights_only=True)
    assert len(ckpt["optimizer"]) == 2  # generator and critic Adam states


def test_mode_seeking_term_matches_mao_et_al() -> None:
    """The generator loss with ``mode_seeking = λ`` is ``−½ (E D(G(w₁)) + E D(G(w₂)))
    + λ / (mean|G(w₁) − G(w₂)| / mean|w₁ − w₂| + 10⁻⁵)`` (Mao et al. 2019, eq. 3, as in
    their code), and descending it alone spreads the designs generated for one condition."""
    torch.manual_seed(0)
    model = ConditionalGAN(dim=11, latent=5, hidden=16, cond_hidden=8, mode_seeking=2.0)
    _, cond = _two_modes(64)
    torch.manual_seed(3)
    got = model._generator_loss_mode_seeking(cond)
    torch.manual_seed(3)
    c = model.embed(cond)
    w1, w2 = torch.randn(64, 5), torch.randn(64, 5)
    g1, g2 = model._sample(c, w1), model._sample(c, w2)
    ratio = (g1 - g2).abs().mean() / (w1 - w2).abs().mean()
    want = -0.5 * (model.score(g1, cond).mean() + model.score(g2, cond).mean()) + 2.0 / (
        ratio + 1e-5
    )
    torch.testing.assert_close(got, want)
    # with a constant critic only the mode-seeking term moves the generator: the spread of
    # its designs for one condition grows
    model.score = lambda z, cond: z.sum(1) * 0.0  # type: ignore[method-assign]
    opt = torch.optim.SGD(model.generator.parameters(), lr=0.05)
    noise = torch.randn(1, 256, 5, generator=torch.Generator().manual_seed(1))
    before = float(model.sample(cond[:1], 256, noise=noise).std(1).mean())
    for _ in range(20):
        opt.zero_grad()
        model._generator_loss_mode_seeking(cond).backward()
        opt.step()
    after = float(model.sample(cond[:1], 256, noise=noise).std(1).mean())
    assert after > 1.5 * before


def test_mode_seeking_and_betas_are_saved_and_checked(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = ConditionalGAN(
        dim=11, latent=5, hidden=16, cond_hidden=8, mode_seeking=0.5, betas=(0.0, 0.9)
    )
    assert [opt.defaults["betas"] for opt in model.optimizers(1e-4)] == [(0.0, 0.9)] * 2
    loaded = load_prior(model.save(tmp_path / "gan.pt"))
    assert isinstance(loaded, ConditionalGAN)
    assert loaded.mode_seeking == 0.5 and loaded.betas == (0.0, 0.9)
    with pytest.raises(ValueError, match=r"mode_seeking=-1\.0 must be >= 0"):
        ConditionalGAN(dim=11, mode_seeking=-1.0)
    with pytest.raises(ValueError, match=r"betas=\(0\.5, 1\.0\) must be two Adam"):
        ConditionalGAN(dim=11, betas=(0.5, 1.0))


@pytest.mark.parametrize(
    ("carrier", "family"), [("polymer", "realisable"), ("liposome", "thermal_triggered")]
)
def test_shipped_gan_samples_are_valid_and_diverse(carrier: str, family: str) -> None:
    model = load_default_prior(carrier, "gan")
    assert isinstance(model, ConditionalGAN) and model.carrier == carrier
    assert (ROOT / "agents" / "prior" / "weights" / f"{carrier}_gan.pt").stat().st_size < 1e6
    space = DesignSpace.for_carrier(carrier)
    targets = benchmark_suite(family, 4, seed=1000)
    gen = torch.Generator().manual_seed(0)
    for target in targets:
        cond = TargetBatch.from_targets([target]).condition_vector()
        z = model.sample(cond, 128, generator=gen)[0]
        assert torch.isfinite(z).all() and bool(space.contains(space.to_formulation(z)).all())
        res = sample_and_screen(model, target, m=64, k=3, seed=0)
        uniform = screen_designs(target, space.sample(64, generator=gen), 3)
        assert res.in_bounds == 1.0 and res.physical == 1.0  # curves finite, in [0, 1]
        assert 0.0 <= res.validity <= res.feasible <= res.physical
        # not collapsed: at least 80 % of the spread of uniform draws (measured: 88-94 %)
        assert res.diversity > 0.8 * uniform.diversity


def test_shipped_gan_screen_beats_random_sampling() -> None:
    model = load_default_prior("polymer", "gan")
    targets = benchmark_suite("realisable", 8, seed=1000)
    space = DesignSpace.polymer_nanoparticle()
    gen = torch.Generator().manual_seed(1)
    m = 8
    gan_f2 = [float(sample_and_screen(model, t, m, 1, seed=i).f2[0]) for i, t in enumerate(targets)]
    random_f2 = [float(screen_designs(t, space.sample(m, generator=gen), 1).f2[0]) for t in targets]
    assert np.mean(gan_f2) > np.mean(random_f2) + 5.0


def test_design_command_with_the_gan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv = tmp_path / "t.csv"
    csv.write_text("time_h,release_pct\n1,5\n6,15\n24,30\n72,55\n168,80\n")
    args = ["design", "--target", str(csv), "--top-k", "2", "--samples", "32", "--seed", "3"]
    assert main([*args, "--prior", "gan"]) == 0
    out = capsys.readouterr().out
    assert "candidates from the gan prior" in out and "100 % inside the bounds" in out
    f2_row = next(line for line in out.splitlines() if line.startswith("predicted f2"))
    assert len(f2_row.split()) == 4 and max(float(v) for v in f2_row.split()[2:]) > 50
    assert main([*args, "--kind", "gan"]) == 0  # the older spelling of the flag
    assert capsys.readouterr().out == out
    assert main([*args, "--prior", "diffusion"]) == 2
    assert "invalid choice: 'diffusion'" in capsys.readouterr().err


def test_prior_gan_designer(tmp_path: Path) -> None:
    text = (ROOT / "pyproject.toml").read_text()  # tomllib needs Python 3.11
    designers = text.split('[project.entry-points."nanoenv.designers"]')[1].split("\n[")[0]
    assert 'prior-gan = "agents.prior.designers:PRIOR_GAN"' in designers
    ctx = BuildContext(method="prior-gan", family="realisable", seed=0, job_dir=tmp_path)
    built = PRIOR_GAN.build(ctx)
    assert isinstance(built.designer, PriorScreen) and built.designer.name == "prior-gan"
    assert built.info["kind"] == "gan" and built.info["train_sim_calls"] == 100_000
    assert PRIOR_GAN.track == "amortised" and not PRIOR_GAN.trains
    target = benchmark_suite("realisable", 1, seed=1000)[0]
    result = built.designer.design(target, budget=10, seed=0)
    assert result.sim_calls == 10 and result.method == "prior-gan"


def test_prior_guided_policy_on_the_gan(tmp_path: Path) -> None:
    method = train_prior_guided(
        "realisable",
        steps=32,
        seed=0,
        kind="gan",
        run_dir=tmp_path / "run",
        m=3,
        max_edits=4,
        num_envs=2,
        progress=False,
        hyperparameters={
            "n_steps": 16,
            "batch_size": 16,
            "n_epochs": 1,
            "policy_kwargs": {"net_arch": [16]},
        },
    )
    assert isinstance(method.prior, ConditionalGAN)
    assert json.loads((tmp_path / "run" / "prior.json").read_text())["kind"] == "gan"
    assert isinstance(load_prior(tmp_path / "run" / "prior.pt"), ConditionalGAN)
    result = method.design(benchmark_suite("realisable", 1, seed=1000)[0], budget=8, seed=0)
    assert 4 <= result.sim_calls <= 8  # 3 screened + 1 evaluation + at most 4 edits
