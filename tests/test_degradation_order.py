"""The polyester degradation rate is ordered by construction, and PCL/PVL/PEA are their
own families (issue 14, item 5).

Makadia & Siegel, Polymers 3 (2011) 1377: PLGA 50:50 degrades fastest; lactide-rich
grades (75:25, PLA) more slowly; a higher molecular weight degrades (releases) more slowly.
"""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from nanoenv import calibration as cal
from nanoenv.data import PLAI_POLYMER_FAMILY, parse_dp_group, plai_curves
from nanoenv.kinetics import Formulation, hydrolysis_rate_per_h, simulate_release
from nanoenv.kinetics.constants import (
    DEFAULT_CONSTANTS,
    SimulatorConstants,
    calibrated_constants,
)
from nanoenv.kinetics.mechanisms import family_weights

pytestmark = pytest.mark.filterwarnings("ignore::nanoenv.data.DataCleaningWarning")

_LACTIDE = torch.tensor([1.0, 0.75, 0.5], dtype=torch.float64)  # PLA, 75:25, 50:50


def _rates(c: SimulatorConstants, lactide: torch.Tensor = _LACTIDE, family=None) -> torch.Tensor:
    one = torch.ones_like(lactide)
    return hydrolysis_rate_per_h(
        lactide, 37.0 * one, 7.4 * one, 0.0 * one, family=family, **c.hydrolysis_law()
    )


def _random_constants(seed: int) -> SimulatorConstants:
    """Every fittable constant drawn uniformly (log-uniformly for log-scale ones) inside
    its plausible range (``CONSTANT_BOUNDS``)."""
    g = torch.Generator().manual_seed(seed)
    values = {}
    for name, bound in cal.CONSTANT_BOUNDS.items():
        u = float(torch.rand((), generator=g, dtype=torch.float64))
        if bound.scale == "log":
            values[name] = math.exp(math.log(bound.low) + u * math.log(bound.high / bound.low))
        else:
            values[name] = bound.low + u * (bound.high - bound.low)
    return dataclasses.replace(DEFAULT_CONSTANTS, **values)


def _ordered(k: torch.Tensor) -> bool:
    return bool(k[0] <= k[1] <= k[2])


def test_literature_rates_match_the_previous_law() -> None:
    # k_PLA 0.01, k_75:25 = 0.08 / 8^0.25, k_50:50 0.08, k_PGA 0.04, k(25 % lactide)
    # = 0.08 / 2^0.25 per day (Park 1995; the values the law had before the change)
    la = torch.tensor([1.0, 0.75, 0.5, 0.25, 0.0], dtype=torch.float64)
    expected = torch.tensor([0.01, 0.08 / 8**0.25, 0.08, 0.08 / 2**0.25, 0.04], dtype=torch.float64)
    k_day = _rates(DEFAULT_CONSTANTS, la) * 24.0
    torch.testing.assert_close(k_day, expected, rtol=1e-12, atol=0.0)


def test_shipped_calibration_orders_pla_7525_5050() -> None:
    assert _ordered(_rates(calibrated_constants()))
    assert _ordered(_rates(DEFAULT_CONSTANTS))


@pytest.mark.parametrize("seed", range(20))
def test_random_plausible_constants_order_pla_7525_5050(seed: int) -> None:
    c = _random_constants(seed)
    k = _rates(c)
    assert _ordered(k), k
    # the rate rises monotonically all the way from PLA to 50:50
    dense = _rates(c, torch.linspace(1.0, 0.5, 51, dtype=torch.float64))
    assert bool((dense[1:] >= dense[:-1]).all())


def test_bounded_fit_cannot_invert_the_order() -> None:
    # the optimiser variable of the gain maps into a strictly positive range, whatever it is
    for u in (-50.0, -5.0, 0.0, 5.0, 50.0):
        gain = float(cal.from_bounded_free("hydrolysis_glycolide_gain", torch.tensor(u)))
        assert gain > 0.0
        c = dataclasses.replace(DEFAULT_CONSTANTS, hydrolysis_glycolide_gain=gain)
        assert _ordered(_rates(c))


def test_negative_increment_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"hydrolysis_glycolide_gain=-0.5 must be >= 0"):
        dataclasses.replace(DEFAULT_CONSTANTS, hydrolysis_glycolide_gain=-0.5)
    with pytest.raises(ValueError, match=r"hydrolysis_pga_slowdown=-1 must be >= 0"):
        SimulatorConstants(hydrolysis_pga_slowdown=-1.0)


@pytest.mark.parametrize("constants", ["literature", "calibrated", "random"])
def test_release_ordered_by_lactide_and_molecular_weight(constants: str) -> None:
    """A PLGA microparticle (10 µm) releases least from PLA, more from 75:25, most from
    50:50, and less at higher Mw (Makadia & Siegel 2011), at every time over 60 days."""
    c = {
        "literature": lambda: DEFAULT_CONSTANTS,
        "calibrated": calibrated_constants,
        "random": lambda: _random_constants(7),
    }[constants]()
    times = torch.tensor([24.0, 24.0 * 7, 24.0 * 30, 24.0 * 60], dtype=torch.float64)
    lactide = Formulation.from_dict(
        {"radius_nm": 1e4, "lactide_fraction": [1.0, 0.75, 0.5], "polymer_mw_kda": 30.0},
        dtype=torch.float64,
    )
    f = simulate_release(lactide, times, constants=c)
    assert bool((f[0] <= f[1] + 1e-12).all() and (f[1] <= f[2] + 1e-12).all()), f
    mw = Formulation.from_dict(
        {"radius_nm": 1e4, "lactide_fraction": 0.5, "polymer_mw_kda": [100.0, 30.0, 10.0]},
        dtype=torch.float64,
    )
    f = simulate_release(mw, times, constants=c)
    assert bool((f[0] <= f[1] + 1e-12).all() and (f[1] <= f[2] + 1e-12).all()), f


def test_families_have_their_own_rate() -> None:
    c = DEFAULT_CONSTANTS
    family = torch.tensor([0.0, 1.0, 2.0, 3.0], dtype=torch.float64)
    k_day = _rates(c, torch.ones(4, dtype=torch.float64), family) * 24.0
    expected = [
        c.hydrolysis_pla_per_day,
        c.hydrolysis_pcl_per_day,
        c.hydrolysis_pvl_per_day,
        c.hydrolysis_pea_per_day,
    ]
    torch.testing.assert_close(k_day, torch.tensor(expected, dtype=torch.float64))
    # a half code blends the neighbours geometrically
    one = torch.ones(1, dtype=torch.float64)
    half = _rates(c, one, 0.5 * one) * 24.0
    geometric = math.sqrt(expected[0] * expected[1])
    assert float(half) == pytest.approx(geometric, rel=1e-12)


def test_family_weights_partition_unity() -> None:
    codes = torch.linspace(0.0, 3.0, 31, dtype=torch.float64)
    w = torch.stack(family_weights(codes, 3))
    torch.testing.assert_close(w.sum(0), torch.ones_like(codes))
    assert bool((w >= 0).all())


def test_pcl_releases_faster_than_pla_by_its_diffusivity() -> None:
    """PCL is rubbery at 37 °C (Tg ≈ −60 °C), so a drug diffuses out of it faster than out
    of glassy PLA (Woodruff & Hutmacher, Prog. Polym. Sci. 35 (2010) 1217)."""
    f = Formulation.from_dict(
        {"radius_nm": 1e4, "lactide_fraction": 1.0, "polymer_family": [0.0, 1.0]},
        dtype=torch.float64,
    )
    out = simulate_release(f, torch.tensor([24.0, 24.0 * 7], dtype=torch.float64))
    assert bool((out[1] > out[0]).all())


def test_family_rate_is_differentiable() -> None:
    c = DEFAULT_CONSTANTS
    family = torch.tensor([0.3, 1.4, 2.6], dtype=torch.float64, requires_grad=True)
    lactide = torch.tensor([0.6, 0.9, 1.0], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda la, fa: _rates(c, la, fa), (lactide, family))


def test_plai_polymers_map_to_their_families() -> None:
    cs = plai_curves()
    polymers = [parse_dp_group(g)[1] for g in cs.groups]
    codes = cs.formulation.polymer_family.tolist()
    for polymer, code in zip(polymers, codes, strict=True):
        assert code == PLAI_POLYMER_FAMILY[polymer]
    assert {1.0, 2.0, 3.0} <= set(codes)
