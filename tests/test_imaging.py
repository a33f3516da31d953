"""Theranostic signals: T2 relaxivity of iron-oxide cores and fluorescence dequenching."""

import math

import pytest
import torch

from nanoenv.kinetics.imaging import dequenching_signal, t2_contrast, t2_relaxivity


def test_a_5_nm_core_has_the_relaxivity_of_ferumoxides():
    # Feridex r2 ~ 100-120 /s/mM at 1.5 T (Rohrer et al., Invest. Radiol. 40, 715 (2005));
    # a particle that is all magnetite has a core of its own radius
    r2 = t2_relaxivity(
        torch.tensor([5.0], dtype=torch.float64), torch.tensor([0.9999], dtype=torch.float64)
    )
    assert 70.0 < float(r2) < 150.0


def test_relaxivity_grows_with_core_size_then_plateaus():
    # motional averaging (r2 ~ a^2) to static dephasing (independent of a): Gillis et al.,
    # Magn. Reson. Med. 47, 257 (2002)
    radius = torch.tensor([2.0, 4.0, 500.0, 1000.0], dtype=torch.float64)
    r2 = t2_relaxivity(radius, torch.full((4,), 0.9999, dtype=torch.float64))
    assert float(r2[1] / r2[0]) == pytest.approx(4.0, rel=0.1)
    assert float(r2[3] / r2[2]) == pytest.approx(1.0, abs=0.01)
    sdr = 2 * math.pi / (3 * math.sqrt(3)) * 14.9e-6 * 2.675e8 * 4e-7 * math.pi * 4.5e5 / 3
    assert float(r2[3]) == pytest.approx(sdr, rel=0.01)


def test_contrast_rises_with_the_magnetic_core_fraction():
    phi = torch.tensor([0.0, 0.01, 0.05, 0.2])
    c = t2_contrast(torch.full((4,), 50.0), phi, torch.full((4,), 0.1), dose_mg=10.0)
    assert float(c[0]) == 0.0
    assert bool((c.diff() > 0).all()) and float(c[-1]) < 1.0


def test_dequenching_starts_quenched_and_ends_at_full_signal():
    # Allen & Cleland, Biochim. Biophys. Acta 597, 418 (1980): calcein ~95 % self-quenched
    release = torch.tensor([[0.0, 0.5, 1.0]])
    s = dequenching_signal(release, quenching=19.0)
    assert torch.allclose(s, torch.tensor([[0.05, 0.525, 1.0]]))


def test_bad_input_names_the_parameter():
    with pytest.raises(ValueError, match="magnetic_core_fraction"):
        t2_contrast(torch.tensor([50.0]), torch.tensor([1.5]), torch.tensor([0.1]))
    with pytest.raises(ValueError, match="release"):
        dequenching_signal(torch.tensor([[2.0]]))


def test_gradcheck_in_float64():
    args = (
        torch.tensor([40.0], dtype=torch.float64, requires_grad=True),
        torch.tensor([0.1], dtype=torch.float64, requires_grad=True),
        torch.tensor([0.2], dtype=torch.float64, requires_grad=True),
    )
    assert torch.autograd.gradcheck(
        lambda r, p, w: t2_contrast(r, p, w, dose_mg=5.0, validate=False), args
    )
