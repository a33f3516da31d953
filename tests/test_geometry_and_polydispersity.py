"""Device shape (sphere, cylinder, slab) and polydisperse batches, against analytic
results and independent numerical solutions."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from scipy import integrate
from scipy.integrate import solve_ivp
from scipy.special import jn_zeros

from nanoenv.design_space import DesignSpace
from nanoenv.kinetics import Drug, Formulation, ReleaseConditions, simulate_release
from nanoenv.kinetics import mechanisms as mech
from nanoenv.kinetics.formulation import Geometry
from nanoenv.kinetics.polydispersity import lognormal_nodes, polydisperse_release
from nanoenv.kinetics.simulate import mechanism_parameters, release_curve

F64 = torch.float64


# -- Crank's solutions ------------------------------------------------------------------------
def test_cylinder_and_slab_match_their_long_series():
    theta = torch.logspace(-4, 1, 3000, dtype=F64)
    beta = torch.tensor(jn_zeros(0, 400), dtype=F64)
    cylinder = 1 - (4 / beta**2 * torch.exp(-(beta**2) * theta[:, None])).sum(1)
    odd = 2 * torch.arange(0, 3000, dtype=F64) + 1
    slab = 1 - (
        8 / (odd**2 * math.pi**2) * torch.exp(-(odd**2 * math.pi**2 / 4) * theta[:, None])
    ).sum(1)
    assert (mech.fickian_cylinder_fraction(theta) - cylinder).abs().max() < 2e-8
    assert (mech.fickian_slab_fraction(theta) - slab).abs().max() < 1e-10


def _mol_1d(theta: np.ndarray, exponent: int, cells: int = 400) -> np.ndarray:
    """Finite volumes in x = r/a ∈ [0, 1] with metric x^exponent (0 slab, 1 cylinder),
    zero flux at 0, C = 0 at 1; solved by scipy BDF. Returns the fraction released."""
    faces = 1.0 - (1.0 - np.linspace(0.0, 1.0, cells + 1)) ** 2  # finer at the sink
    centres = 0.5 * (faces[1:] + faces[:-1])
    vol = (faces[1:] ** (exponent + 1) - faces[:-1] ** (exponent + 1)) / (exponent + 1)
    area = faces**exponent
    dist = np.diff(centres)
    main = np.zeros(cells)
    off = area[1:-1] / dist
    main[:-1] -= off
    main[1:] -= off
    main[-1] -= area[-1] / (1.0 - centres[-1])
    op = sp.diags([off / vol[1:], main / vol, off / vol[:-1]], [-1, 0, 1], format="csc")
    total = vol.sum()
    sol = solve_ivp(
        lambda t, c: op @ c,
        (0.0, float(theta[-1])),
        np.ones(cells),
        method="BDF",
        t_eval=theta,
        jac=op,
        rtol=1e-9,
        atol=1e-12,
    )
    return 1.0 - (vol @ sol.y) / total


@pytest.mark.parametrize(("geometry", "exponent"), [("slab", 0), ("cylinder", 1)])
def test_cylinder_and_slab_match_the_method_of_lines(geometry, exponent):
    theta = np.array([1e-3, 1e-2, 0.03, 0.1, 0.3, 1.0])
    numeric = _mol_1d(theta, exponent)
    fn = mech.fickian_slab_fraction if geometry == "slab" else mech.fickian_cylinder_fraction
    exact = fn(torch.tensor(theta, dtype=F64)).numpy()
    np.testing.assert_allclose(exact, numeric, atol=2e-3)


def test_finite_cylinder_matches_a_two_dimensional_solution():
    """(r, z) finite volumes on a cylinder of radius 1 and half-length 0.8, sink on the
    mantle and the end, symmetry at the axis and mid-plane."""
    nr, nz, half = 40, 40, 0.8
    rf = np.linspace(0.0, 1.0, nr + 1)
    zf = np.linspace(0.0, half, nz + 1)
    dr, dz = rf[1] - rf[0], zf[1] - zf[0]
    vol = np.outer(0.5 * (rf[1:] ** 2 - rf[:-1] ** 2), np.full(nz, dz))
    idx = np.arange(nr * nz).reshape(nr, nz)
    rows, cols, vals = [], [], []

    def link(a, b, conductance):
        rows.extend([a, b, a, b])
        cols.extend([b, a, a, b])
        vals.extend([conductance, conductance, -conductance, -conductance])

    diag_sink = np.zeros(nr * nz)
    for i in range(nr):
        for j in range(nz):
            if i + 1 < nr:
                link(idx[i, j], idx[i + 1, j], rf[i + 1] * dz / dr)
            else:
                diag_sink[idx[i, j]] -= rf[-1] * dz / (dr / 2)
            if j + 1 < nz:
                link(idx[i, j], idx[i, j + 1], 0.5 * (rf[i + 1] ** 2 - rf[i] ** 2) / dz)
            else:
                diag_sink[idx[i, j]] -= 0.5 * (rf[i + 1] ** 2 - rf[i] ** 2) / (dz / 2)
    k = sp.coo_matrix((vals, (rows, cols)), shape=(nr * nz, nr * nz)).tocsc() + sp.diags(diag_sink)
    op = sp.diags(1.0 / vol.reshape(-1)) @ k
    theta = np.array([0.005, 0.02, 0.06, 0.15, 0.4])
    sol = solve_ivp(
        lambda t, c: op @ c,
        (0.0, theta[-1]),
        np.ones(nr * nz),
        method="BDF",
        t_eval=theta,
        jac=op,
        rtol=1e-8,
        atol=1e-11,
    )
    numeric = 1.0 - (vol.reshape(-1) @ sol.y) / vol.sum()
    t = torch.tensor(theta, dtype=F64)
    exact = mech.fickian_finite_cylinder_fraction(t, t / half**2).numpy()
    np.testing.assert_allclose(exact, numeric, atol=5e-3)


@pytest.mark.parametrize(
    ("fn", "mean_time"),
    [
        (mech.fickian_cylinder_fraction, 1.0 / 8.0),  # a²/(8D)
        (mech.fickian_slab_fraction, 1.0 / 3.0),  # l²/(3D)
    ],
)
def test_mean_release_times_of_cylinder_and_slab(fn, mean_time):
    value, _ = integrate.quad(
        lambda th: 1.0 - fn(torch.tensor(th, dtype=F64)).item(),
        0,
        60,
        limit=400,
        points=[0.02, 0.05],
    )
    assert value == pytest.approx(mean_time, rel=1e-6)


# -- the simulator's shapes ------------------------------------------------------------------
def _shaped(geometry, **extra):
    base = {"radius_nm": 5e5, "drug_loading": 0.05, "geometry": geometry}
    base.update(extra)
    return Formulation.from_dict(base, dtype=F64)


def test_simulator_uses_crank_for_each_shape_with_the_same_time_change():
    times = torch.tensor([0.0, 24.0, 240.0, 2400.0], dtype=F64)
    conditions, drug = ReleaseConditions.sink(), Drug.preset("dexamethasone")
    for geometry, aspect in (("sphere", 1.0), ("cylinder", 3.0), ("slab", 1.0)):
        f = _shaped(geometry, aspect_ratio=aspect)
        m = mechanism_parameters(f, conditions, drug)
        sphere = mechanism_parameters(_shaped("sphere"), conditions, drug)
        torch.testing.assert_close(m.diffusivity_nm2_h, sphere.diffusivity_nm2_h)
        curve = simulate_release(f, times, conditions, drug)
        torch.testing.assert_close(curve, release_curve(m, times))
    # same radius/half-thickness, diffusion-controlled (100 nm): more surface per volume
    # releases faster; at one day 10.6 % (sphere), 8.2 % (cylinder, AR 5), 4.4 % (slab)
    f = Formulation.cat(
        [_shaped(g, radius_nm=100.0, aspect_ratio=5.0) for g in ("sphere", "cylinder", "slab")]
    )
    day = simulate_release(f, torch.tensor([6.0, 24.0], dtype=F64), conditions, drug)
    assert torch.all(day[0] > day[1] + 0.01) and torch.all(day[1] > day[2] + 0.02)


def test_a_long_cylinder_releases_like_an_infinite_one():
    theta = torch.tensor([0.01, 0.1, 0.5], dtype=F64)
    finite = mech.fickian_finite_cylinder_fraction(theta, theta / 100.0**2)
    infinite = mech.fickian_cylinder_fraction(theta)
    assert (finite - infinite).abs().max() < 2e-3
    assert torch.all(finite > infinite)  # the ends add a little


def test_geometry_is_categorical_in_formulations_and_design_spaces():
    f = Formulation.from_dict({"geometry": "slab"})
    assert f.geometry.item() == float(Geometry.SLAB)
    assert f.to_dicts()[0]["geometry"] == "slab"
    assert Formulation.from_dicts(f.to_dicts()).geometry.item() == 2.0
    with pytest.raises(ValueError, match=r"geometry=1\.5 is not a geometry code"):
        Formulation.from_dict({"geometry": 1.5})
    with pytest.raises(ValueError, match="not a known geometry"):
        Formulation.from_dict({"geometry": "torus"})
    drawn = Formulation.sample(
        300, generator=torch.Generator().manual_seed(0), bounds={"geometry": (0.0, 2.0)}
    ).geometry
    assert set(drawn.tolist()) == {0.0, 1.0, 2.0}
    assert torch.all(Formulation.sample(5, fixed={"geometry": "slab"}).geometry == 2.0)
    space = DesignSpace.polymer_nanoparticle().with_geometry("cylinder", aspect_ratio=4.0)
    designs = space.to_formulation(torch.zeros(2, space.dim))
    assert torch.all(designs.geometry == 1.0) and torch.all(designs.aspect_ratio == 4.0)
    assert DesignSpace.polymer_nanoparticle().fixed["geometry"] == 0.0
    with pytest.raises(ValueError, match="categorical"):
        DesignSpace("polymer", {"geometry": (0.0, 2.0)})


# -- polydispersity -------------------------------------------------------------------------
TIMES = torch.tensor([0.0, 1.0, 6.0, 24.0, 72.0, 168.0, 720.0], dtype=F64)


def _batch(pdi, carrier="polymer"):
    radius = [100.0, 100.0, 3000.0, 60.0][: len(pdi)]
    return Formulation.from_dict(
        {"radius_nm": radius, "pdi": pdi, "lipid_tm_c": 41.0}, carrier=carrier, dtype=F64
    )


@pytest.mark.parametrize("carrier", ["polymer", "liposome"])
def test_pdi_zero_reproduces_the_monodisperse_curve_exactly(carrier):
    f = _batch([0.0, 0.0, 0.0, 0.0], carrier)
    for medium in ("sink", "tumour", "hyperthermia"):
        conditions = ReleaseConditions.preset(medium)
        direct = release_curve(
            mechanism_parameters(f, conditions, Drug.preset("doxorubicin")), TIMES
        )
        assert torch.equal(simulate_release(f, TIMES, medium), direct)


def test_mixed_batches_equal_one_design_at_a_time():
    f = _batch([0.0, 0.3, 0.5, 0.1])
    together = simulate_release(f, TIMES, "tumour")
    alone = torch.cat([simulate_release(f[i], TIMES, "tumour") for i in range(len(f))])
    torch.testing.assert_close(together, alone, rtol=0, atol=1e-12)
    assert not torch.allclose(together[1], together[0])  # the spread changes the curve


def test_nine_nodes_match_a_fine_quadrature():
    f = _batch([0.5, 0.5, 0.5, 0.2])
    conditions, drug = ReleaseConditions.tumour(), Drug.preset("doxorubicin")

    def curve(f_, t_, c_, d_):
        return release_curve(mechanism_parameters(f_, c_, d_), t_)

    coarse = polydisperse_release(f, TIMES, conditions, drug, curve)
    fine = polydisperse_release(f, TIMES, conditions, drug, curve, nodes=64)
    assert (coarse - fine).abs().max() < 1e-3


@pytest.mark.parametrize("pdi", [0.1, 0.3, 0.5])
def test_polydisperse_mean_release_time_is_the_mass_weighted_mean_of_r2(pdi):
    """Fickian release from a sphere has mean release time R²/(15D); over log-normal radii
    with σ² = ln(1 + PDI) its mean is E[R²]/(15D) = R²_med·(1 + PDI)²/(15D)."""
    radius, diffusivity = 100.0, 50.0
    scale, weights = lognormal_nodes(torch.tensor([pdi], dtype=F64))
    assert (weights * scale[0] ** 2).sum().item() == pytest.approx((1 + pdi) ** 2, rel=1e-4)
    assert weights.sum().item() == pytest.approx(1.0, abs=1e-14)

    def crank(f_, t_, c_, d_):
        return mech.fickian_sphere_fraction(diffusivity * t_ / f_.radius_nm[:, None] ** 2)

    f = Formulation.from_dict({"radius_nm": radius, "pdi": pdi}, dtype=F64)
    t = torch.cat([torch.zeros(1, dtype=F64), torch.logspace(-4, 5, 200000, dtype=F64)])
    curve = polydisperse_release(f, t, ReleaseConditions.sink(), Drug.preset("doxorubicin"), crank)
    mean_time = torch.trapezoid(1.0 - curve[0], t).item()
    assert mean_time == pytest.approx(radius**2 * (1 + pdi) ** 2 / (15 * diffusivity), rel=1e-3)


def test_gradcheck_through_polydispersity_float64():
    f = _batch([0.2, 0.0, 0.4])
    schedule = ReleaseConditions.tumour()

    def run(values):
        return simulate_release(
            Formulation(values, f.carrier, validate=False),
            TIMES[1:-1],
            schedule,
            "doxorubicin",
            validate=False,
        )

    values = f.values.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(run, (values,), eps=1e-7, atol=1e-6, rtol=1e-4)
