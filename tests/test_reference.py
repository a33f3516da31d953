"""simulate_release against a slow scipy ``solve_ivp`` method-of-lines reference.

For randomly drawn formulations and media, the closed forms of the simulator
(exact time change of a diffusivity that grows as the polymer degrades,
Crank's series, first-order leakage with a piecewise rate) are replaced by
numerical solutions of the underlying equations: the radial diffusion PDE with
``D(t) = D_k·exp(K(t))`` (``K`` by quadrature of the hydrolysis rate), and
``dF/dt = k(t)(1 − F)``. The same mechanism parameters feed both.
"""

import numpy as np
import pytest
import torch
from scipy import integrate

from nanoenv.design_space import DesignSpace
from nanoenv.kinetics import Drug, ReleaseConditions, mechanism_parameters, simulate_release
from nanoenv.kinetics import mechanisms as mech
from tests.reference_solver import scipy_first_order_release, scipy_sphere_release

TIMES = np.array([0.0, 0.5, 2.0, 8.0, 23.0, 24.5, 30.0, 60.0, 150.0, 400.0])


def _piecewise(starts: np.ndarray, values: np.ndarray):
    def f(t: float) -> float:
        return float(values[np.searchsorted(starts, t, side="right") - 1])

    return f


def _draw(carrier: str, seed: int):
    space = DesignSpace.for_carrier(carrier)
    if carrier == "polymer":  # keep the drug dissolved (Baker–Lonsdale is checked on its own)
        space = space.narrowed(drug_loading=(0.01, 0.07))
    z = torch.rand(1, space.dim, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return space.to_formulation(2 * z - 1)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("preset", ["sink", "tumour", "hyperthermia"])
def test_polymer_release_matches_method_of_lines_with_degrading_diffusivity(seed, preset):
    f = _draw("polymer", seed)
    conditions, drug = ReleaseConditions.preset(preset), Drug.preset("doxorubicin")
    m = mechanism_parameters(f, conditions, drug)
    assert float(m.dispersed_fraction) == 0.0
    starts = m.start_h[0].numpy()
    rate_k = _piecewise(starts, m.hydrolysis_per_h[0].numpy())
    rate_d = _piecewise(starts, m.diffusivity_nm2_h[0].numpy())

    def log_mw_drop(t: float) -> float:
        return integrate.quad(rate_k, 0.0, t, points=starts[1:], limit=200)[0] if t > 0 else 0.0

    core = scipy_sphere_release(
        TIMES, float(m.radius_nm), lambda t: rate_d(t) * np.exp(min(log_mw_drop(t), 60.0))
    )
    drop = np.array([log_mw_drop(t) for t in TIMES])
    eroded = mech.erosion_fraction(
        torch.tensor(drop), m.erosion_critical.double(), m.erosion_width
    ).numpy()
    burst = float(m.burst_fraction)
    # a pH-responsive matrix also dissolves first-order (physics v2)
    retained = np.ones_like(TIMES)
    if m.dissolution_rate_per_h is not None:
        rate_s = _piecewise(starts, m.dissolution_rate_per_h[0].numpy())
        retained = 1.0 - float(m.dissolution_share) * (
            1.0
            - np.exp(
                -np.array(
                    [
                        integrate.quad(rate_s, 0.0, t, points=starts[1:], limit=200)[0]
                        if t > 0
                        else 0.0
                        for t in TIMES
                    ]
                )
            )
        )
    reference = burst * (1 - np.exp(-TIMES / float(m.burst_time_h))) + (1 - burst) * (
        1 - (1 - core) * (1 - eroded) * retained
    )
    simulated = simulate_release(f, torch.tensor(TIMES), conditions, drug)[0].numpy()
    np.testing.assert_allclose(simulated, reference, atol=2e-3)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("preset", ["sink", "hyperthermia"])
def test_liposome_leakage_matches_first_order_ode(seed, preset):
    f = _draw("liposome", seed)
    conditions, drug = ReleaseConditions.preset(preset), Drug.preset("doxorubicin")
    m = mechanism_parameters(f, conditions, drug)
    rate = _piecewise(m.start_h[0].numpy(), m.leak_rate_per_h[0].numpy())
    leaked = scipy_first_order_release(TIMES, rate, breakpoints_h=m.start_h[0].numpy())
    if m.pore_rate_per_h is not None:  # lysolipid pores: a second population (physics v2)
        pore = _piecewise(m.start_h[0].numpy(), m.pore_rate_per_h[0].numpy())
        pored = scipy_first_order_release(
            TIMES, lambda t: rate(t) + pore(t), breakpoints_h=m.start_h[0].numpy()
        )
        leaked = leaked + float(m.pore_share) * (pored - leaked)
    burst = float(m.burst_fraction)
    reference = burst * (1 - np.exp(-TIMES / float(m.burst_time_h))) + (1 - burst) * leaked
    simulated = simulate_release(f, torch.tensor(TIMES), conditions, drug)[0].numpy()
    np.testing.assert_allclose(simulated, reference, atol=1e-6)


def test_mass_balance_released_plus_retained_is_one():
    # the reference tracks drug left in the particle; the simulator tracks drug released
    f = _draw("polymer", 7).replace(polymer_mw_kda=150.0)  # no erosion within the window
    m = mechanism_parameters(f, ReleaseConditions.sink(), Drug.preset("dexamethasone"))
    d, k = float(m.diffusivity_nm2_h[0, 0]), float(m.hydrolysis_per_h[0, 0])
    retained = 1 - scipy_sphere_release(TIMES, float(m.radius_nm), lambda t: d * np.exp(k * t))
    theta = torch.tensor(d * np.expm1(k * TIMES) / k / float(m.radius_nm) ** 2)
    released = mech.fickian_sphere_fraction(theta).numpy()
    np.testing.assert_allclose(released + retained, 1.0, atol=2e-4)
