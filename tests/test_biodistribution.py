"""The biodistribution model reproduces the textbook direction of each effect, conserves
drug and is differentiable."""

import pytest
import torch

from nanoenv.kinetics.biodistribution import (
    Physiology,
    particle_rates,
    simulate_biodistribution,
)

T = 168.0 * torch.linspace(0.0, 1.0, 24, dtype=torch.float64) ** 1.5


def _run(radius, peg, zeta, tau_h=48.0, **kw):
    b = len(radius)
    release = (1.0 - torch.exp(-T / tau_h)).expand(b, -1)
    f64 = lambda v: torch.tensor(v, dtype=torch.float64)  # noqa: E731
    return simulate_biodistribution(T, release, f64(radius), f64(peg), f64(zeta), **kw)


def test_tumour_dose_peaks_in_the_epr_window():
    # Blanco, Shen & Ferrari, Nat. Biotechnol. 33, 941 (2015); Wilhelm et al., Nat. Rev.
    # Mater. 1, 16014 (2016): ~50-200 nm particles accumulate best in tumours; below ~10 nm
    # they are filtered by the kidney (Choi et al., Nat. Biotechnol. 25, 1165 (2007)),
    # above ~200 nm caught by the MPS (Alexis et al., Mol. Pharm. 5, 505 (2008)).
    radius = [3.0, 50.0, 300.0]  # diameters 6, 100, 600 nm
    out = _run(radius, [0.1] * 3, [-10.0] * 3)
    tumour = out.particles[:, -1, 1]
    assert tumour[1] > 5 * tumour[0] and tumour[1] > 5 * tumour[2]
    assert out.particles[0, -1, 4] > 0.9  # renal: the 6 nm particles are excreted
    assert out.particles[2, -1, 2] > out.particles[1, -1, 2]  # MPS takes the large ones


def test_a_typical_pegylated_particle_delivers_about_one_percent_to_the_tumour():
    # Wilhelm et al. 2016: median 0.7 % of the injected dose (117 studies)
    out = _run([50.0], [0.2], [-10.0])
    assert 0.001 < float(out.particles[0, :, 1].max()) < 0.02


def test_peg_lengthens_circulation_and_raises_tumour_exposure():
    # Gref et al., Colloids Surf. B 18, 301 (2000); Gabizon et al., Cancer Res. 54, 987 (1994)
    rates = particle_rates(
        torch.tensor([50.0, 50.0]), torch.tensor([0.0, 0.2]), torch.tensor([-10.0, -10.0])
    )
    half = rates.circulation_half_life_h
    assert half[1] > 5 * half[0]
    out = _run([50.0, 50.0], [0.0, 0.2], [-10.0, -10.0])
    assert out.exposure[1, 1] > 2 * out.exposure[0, 1]


def test_cationic_particles_are_cleared_faster():
    # Alexis et al. 2008; Xiao et al., Biomaterials 32, 3435 (2011)
    rates = particle_rates(
        torch.tensor([50.0, 50.0]), torch.tensor([0.0, 0.0]), torch.tensor([-10.0, 30.0])
    )
    assert rates.mps[1] > 3 * rates.mps[0]
    out = _run([50.0, 50.0], [0.0, 0.0], [-10.0, 30.0])
    assert out.particles[1, -1, 1] < out.particles[0, -1, 1]
    # a PEG shell masks the charge
    shielded = particle_rates(torch.tensor([50.0]), torch.tensor([0.3]), torch.tensor([30.0]))
    assert shielded.mps[0] < rates.mps[0]


def test_mass_balance_encapsulated_plus_free_is_the_dose():
    out = _run([20.0, 60.0, 200.0], [0.0, 0.1, 0.3], [-40.0, 0.0, 20.0], tau_h=20.0)
    assert torch.allclose(out.total_drug(), torch.ones(3, 24, dtype=torch.float64), atol=1e-10)
    assert torch.allclose(out.particles.sum(-1), torch.ones(3, 24, dtype=torch.float64), atol=1e-10)


def test_drug_held_in_particles_never_reaches_tissue():
    out = _run([50.0], [0.1], [-10.0], tau_h=1e12)
    assert float(out.free.abs().max()) < 1e-9
    assert float(out.exposure.abs().max()) < 1e-9


def test_free_drug_alone_follows_the_one_compartment_limit():
    # instant release with the tissues lumped: plasma AUC = dose/CL (Gibaldi & Perrier 1982)
    phys = Physiology(ps_tumour_l_h=1e-9, ps_healthy_l_h=1e-9, ps_liver_l_h=1e-9)
    t = torch.linspace(0.0, 400.0, 400, dtype=torch.float64)
    release = torch.ones(1, 400, dtype=torch.float64)
    out = simulate_biodistribution(
        t,
        release,
        torch.tensor([50.0], dtype=torch.float64),
        torch.tensor([0.1], dtype=torch.float64),
        torch.tensor([-10.0], dtype=torch.float64),
        clearance_l_h=5.0,
        physiology=phys,
    )
    assert float(out.exposure[0, 0]) == pytest.approx(1.0 / 5.0, rel=1e-6)  # (mg/L·h per mg)


def test_gradcheck_in_float64():
    release = (1.0 - torch.exp(-T[:8] / 10.0))[None]

    def f(release, radius, peg, zeta):
        return simulate_biodistribution(T[:8], release, radius, peg, zeta, validate=False).exposure

    args = (
        release.clone().requires_grad_(),
        torch.tensor([40.0], dtype=torch.float64, requires_grad=True),
        torch.tensor([0.1], dtype=torch.float64, requires_grad=True),
        torch.tensor([-5.0], dtype=torch.float64, requires_grad=True),
    )
    assert torch.autograd.gradcheck(f, args)


def test_float32_matches_float64():
    out64 = _run([50.0], [0.1], [-10.0])
    rel = (1.0 - torch.exp(-T / 48.0))[None].float()
    out32 = simulate_biodistribution(
        T.float(), rel, torch.tensor([50.0]), torch.tensor([0.1]), torch.tensor([-10.0])
    )
    assert torch.allclose(out32.exposure.double(), out64.exposure, rtol=1e-3)


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"radius_nm": 0.5}, "radius_nm"),
        ({"peg_fraction": 0.9}, "peg_fraction"),
        ({"zeta_mv": 300.0}, "zeta_mv"),
        ({"clearance_l_h": -1.0}, "clearance_l_h"),
    ],
)
def test_bad_input_names_the_parameter(kw, match):
    args = {"radius_nm": 50.0, "peg_fraction": 0.1, "zeta_mv": -10.0}
    args.update(kw)
    release = (1.0 - torch.exp(-T / 48.0))[None]
    with pytest.raises(ValueError, match=match):
        simulate_biodistribution(
            T,
            release,
            **{
                k: torch.tensor([v]) if k in ("radius_nm", "peg_fraction", "zeta_mv") else v
                for k, v in args.items()
            },
        )
