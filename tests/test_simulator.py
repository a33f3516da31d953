"""simulate_release: properties over the design space, gradients, triggers and bad input."""

from dataclasses import replace

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from nanoenv.kinetics import (
    PARAMETERS,
    Drug,
    Formulation,
    ReleaseConditions,
    mechanism_parameters,
    simulate_release,
)
from nanoenv.kinetics.constants import DEFAULT_CONSTANTS

TIMES = torch.tensor([0.0, 0.5, 2.0, 6.0, 24.0, 48.0, 96.0, 168.0, 336.0, 720.0, 2160.0])
CONDITIONS = ["sink", "tumour", "hyperthermia", "light_pulse", "magnetic_pulse", "tumour_enzyme"]


def designs(n: int, seed: int, carrier: str = "polymer", dtype=torch.float32) -> Formulation:
    return Formulation.sample(
        n, generator=torch.Generator().manual_seed(seed), carrier=carrier, dtype=dtype
    )


def _gradcheck_release(
    base: Formulation, times: torch.Tensor, conditions: ReleaseConditions
) -> bool:
    """torch.autograd.gradcheck of the release curve of doxorubicin in ``base``'s
    designs with respect to every parameter (float64)."""

    def run(values: torch.Tensor) -> torch.Tensor:
        return simulate_release(
            Formulation(values, base.carrier, validate=False),
            times,
            conditions,
            "doxorubicin",
            validate=False,
        )

    values = base.values.clone().requires_grad_(True)
    return torch.autograd.gradcheck(run, (values,), eps=1e-7, atol=1e-6, rtol=1e-4)


@st.composite
def formulations(draw):
    """One design drawn anywhere in the allowed space (log-uniform where the scale is log)."""
    carrier = draw(st.sampled_from(["polymer", "liposome"]))
    values = {}
    for spec in PARAMETERS:
        u = draw(st.floats(0.0, 1.0))
        if spec.scale == "categorical":  # geometry: one of its codes
            values[spec.name] = float(draw(st.integers(int(spec.low), int(spec.high))))
        elif spec.scale == "log":
            values[spec.name] = spec.low * (spec.high / spec.low) ** u
        else:
            values[spec.name] = spec.low + u * (spec.high - spec.low)
    return Formulation.from_dict(values, carrier=carrier, dtype=torch.float64)


@settings(max_examples=60, deadline=None)
@given(
    f=formulations(),
    conditions=st.sampled_from(CONDITIONS),
    drug=st.sampled_from(["doxorubicin", "paclitaxel", "5-fluorouracil", "ibuprofen"]),
)
def test_release_is_a_fraction_monotone_in_time_with_finite_gradients(f, conditions, drug):
    f.values.requires_grad_(True)
    curve = simulate_release(f, TIMES.double(), conditions, drug)
    assert curve.shape == (1, len(TIMES))
    assert torch.isfinite(curve).all()
    assert curve.min() >= 0 and curve.max() <= 1
    assert curve[0, 0].item() == 0.0
    assert (curve.diff(dim=1) >= -1e-12).all()
    curve.sum().backward()
    assert torch.isfinite(f.values.grad).all()


@pytest.mark.parametrize("conditions", CONDITIONS)
def test_batch_result_equals_one_at_a_time(conditions):
    f = Formulation.cat([designs(6, 0), designs(6, 1, carrier="liposome")])
    f = f.replace(photo_cleavable_fraction=0.2, enzyme_cleavable_fraction=0.1)
    batch = simulate_release(f, TIMES, conditions)
    single = torch.cat([simulate_release(f[i], TIMES, conditions) for i in range(len(f))])
    torch.testing.assert_close(batch, single, rtol=1e-5, atol=1e-6)
    # each carrier keeps its own burst time in a mixed batch
    c = replace(DEFAULT_CONSTANTS, burst_time_h=5.0, liposome_burst_time_h=0.05)
    batch = simulate_release(f, TIMES, conditions, constants=c)
    single = torch.cat(
        [simulate_release(f[i], TIMES, conditions, constants=c) for i in range(len(f))]
    )
    torch.testing.assert_close(batch, single, rtol=1e-5, atol=1e-6)
    assert not torch.allclose(batch, simulate_release(f, TIMES, conditions), atol=1e-3)


def test_per_design_conditions_drugs_and_time_grids_match_shared_ones():
    f = designs(3, 4)
    schedules = [ReleaseConditions.preset(n) for n in ("sink", "tumour", "hyperthermia")]
    drugs = [Drug.preset(n) for n in ("doxorubicin", "paclitaxel", "lidocaine")]
    grids = torch.stack([TIMES, TIMES * 2, TIMES / 3])
    batched = simulate_release(f, grids, ReleaseConditions.stack(schedules), Drug.stack(drugs))
    for i in range(3):
        alone = simulate_release(f[i], grids[i], schedules[i], drugs[i])
        torch.testing.assert_close(batched[i : i + 1], alone, rtol=1e-5, atol=1e-6)


def test_gradcheck_through_simulate_release_float64():
    base = Formulation.from_dicts(
        [
            {
                "radius_nm": 120.0,
                "zeta_mv": -18.0,
                "drug_loading": 0.15,
                "ph_responsive_fraction": 0.4,
                "thermo_fraction": 0.3,
                "lcst_c": 39.0,
                "magnetic_core_fraction": 0.1,
                "photo_cleavable_fraction": 0.1,
                "enzyme_cleavable_fraction": 0.1,
            },
            {
                "carrier": "liposome",
                "radius_nm": 60.0,
                "lipid_tm_c": 42.0,
                "zeta_mv": -5.0,
                "ph_responsive_fraction": 0.3,
                "drug_lipid_ratio": 0.2,
            },
        ],
        dtype=torch.float64,
    )
    conditions = ReleaseConditions(
        torch.tensor([0.0, 6.0, 24.0, 25.0]),
        torch.tensor([7.4, 6.5, 6.5, 5.5]),
        torch.tensor([37.0, 37.0, 42.0, 37.0]),
        light_mw_cm2=torch.tensor([0.0, 0.0, 50.0, 0.0]),
        magnetic_field_ka_m=torch.tensor([0.0, 10.0, 0.0, 0.0]),
        enzyme_activity=torch.tensor([0.0, 1.0, 1.0, 1.0]),
    )
    times = torch.tensor([0.3, 3.0, 12.0, 24.5, 48.0, 200.0], dtype=torch.float64)
    assert _gradcheck_release(base, times, conditions)


def test_output_follows_input_dtype_and_device():
    f = designs(4, 0, dtype=torch.float64)
    assert simulate_release(f, TIMES).dtype == torch.float64
    assert simulate_release(f.to(dtype=torch.float32), TIMES).dtype == torch.float32


def _gain(curve_trigger, curve_sink, i0, i1):
    return (curve_trigger[0, i1] - curve_trigger[0, i0]) - (curve_sink[0, i1] - curve_sink[0, i0])


def test_ph_responsive_particle_releases_after_the_acid_switch_and_inert_one_does_not():
    times = torch.tensor([0.0, 6.0, 48.0])
    responsive = Formulation.default(1).replace(ph_responsive_fraction=0.8)
    inert = Formulation.default(1)
    gains = []
    for f in (responsive, inert):
        gains.append(
            _gain(
                simulate_release(f, times, "tumour", "dexamethasone"),
                simulate_release(f, times, "sink", "dexamethasone"),
                1,
                2,
            ).item()
        )
    assert gains[0] > 0.1  # ≥ 10 points more released in the acidic window
    assert abs(gains[1]) < 0.2 * gains[0]


def test_thermoresponsive_particle_releases_during_the_heat_pulse():
    times = torch.tensor([0.0, 24.0, 25.0])
    responsive = Formulation.default(1).replace(thermo_fraction=0.8, lcst_c=40.0)
    inert = Formulation.default(1)
    on = _gain(
        simulate_release(responsive, times, "hyperthermia"),
        simulate_release(responsive, times, "sink"),
        1,
        2,
    )
    off = _gain(
        simulate_release(inert, times, "hyperthermia"), simulate_release(inert, times, "sink"), 1, 2
    )
    assert on > 0.03 and on > 5 * off


def test_liposome_near_its_tm_releases_on_the_heat_pulse_and_a_high_tm_one_holds():
    times = torch.tensor([0.0, 24.0, 25.0])
    pulse = []
    for tm in (42.0, 55.0):
        f = Formulation.default(1, carrier="liposome").replace(lipid_tm_c=tm)
        pulse.append(
            _gain(
                simulate_release(f, times, "hyperthermia"), simulate_release(f, times, "sink"), 1, 2
            ).item()
        )
    assert pulse[0] > 0.2 and pulse[1] < 0.01


def test_stimuli_are_inert_when_their_fraction_is_zero():
    f = designs(8, 2).replace(
        photo_cleavable_fraction=0.0,
        magnetic_core_fraction=0.0,
        enzyme_cleavable_fraction=0.0,
        photothermal_fraction=0.0,
    )
    sink = simulate_release(f, TIMES, "sink")
    for name in ("light_pulse", "magnetic_pulse"):
        torch.testing.assert_close(simulate_release(f, TIMES, name), sink)


def test_magnetic_core_heats_a_thermoresponsive_particle_in_the_field():
    times = torch.tensor([0.0, 24.0, 25.0])
    f = Formulation.default(1).replace(thermo_fraction=0.8, lcst_c=42.0)
    without = simulate_release(f, times, "magnetic_pulse")
    with_core = simulate_release(f.replace(magnetic_core_fraction=0.3), times, "magnetic_pulse")
    assert (with_core[0, 2] - with_core[0, 1]) > 3 * (without[0, 2] - without[0, 1])


def test_photo_tethered_drug_waits_for_light():
    times = torch.tensor([0.0, 24.0, 25.0, 1e5])
    f = Formulation.default(1).replace(photo_cleavable_fraction=0.4)
    dark = simulate_release(f, times, "sink")
    lit = simulate_release(f, times, "light_pulse")
    assert dark[0, -1].item() == pytest.approx(0.6, abs=1e-4)  # tethered 40 % never leaves
    assert lit[0, 2] - lit[0, 1] > 0.25  # the 1 h light pulse frees most of it
    assert lit[0, 1] == pytest.approx(dark[0, 1].item())


def test_larger_particles_release_more_slowly_early_on():
    f = Formulation.from_dict({"radius_nm": [50.0, 200.0, 5000.0]})
    curve = simulate_release(f, torch.tensor([0.0, 24.0]), drug="dexamethasone")
    assert curve[0, 1] > curve[1, 1] > curve[2, 1]


def test_size_exponent_scales_the_apparent_diffusivity_with_radius():
    f = Formulation.from_dict({"radius_nm": [25.0, 100.0, 250.0, 5000.0]}, dtype=torch.float64)
    sink, drug = ReleaseConditions.sink(), Drug.preset("doxorubicin")
    base = mechanism_parameters(f, sink, drug)
    # β = 0 (the default) is Fickian: no size term, whatever the reference radius
    for ref_nm in (37.0, 1000.0):
        zero = replace(
            DEFAULT_CONSTANTS, diffusivity_radius_exponent=0.0, diffusivity_radius_ref_nm=ref_nm
        )
        assert torch.equal(
            mechanism_parameters(f, sink, drug, zero).diffusivity_nm2_h, base.diffusivity_nm2_h
        )
        assert torch.equal(simulate_release(f, TIMES, constants=zero), simulate_release(f, TIMES))
    # β > 0: D grows as (1 + R / R_ref)^β of the effective radius; larger particles get
    # larger D
    beta, ref_nm = 2.0, 100.0
    sized = replace(
        DEFAULT_CONSTANTS, diffusivity_radius_exponent=beta, diffusivity_radius_ref_nm=ref_nm
    )
    m = mechanism_parameters(f, sink, drug, sized)
    ratio = m.diffusivity_nm2_h[:, 0] / base.diffusivity_nm2_h[:, 0]
    torch.testing.assert_close(ratio, (1.0 + m.radius_nm / ref_nm) ** beta, rtol=1e-10, atol=0.0)
    assert bool((m.diffusivity_nm2_h[1:, 0] > m.diffusivity_nm2_h[:-1, 0]).all())
    # far above R_ref and β = 2, the diffusive time scale R²/D tends to a size-independent
    # value: 5 µm is 50 R_ref, within (1 + 1/50)² − 1 = 4 % of the limit
    scale = m.radius_nm**2 / m.diffusivity_nm2_h[:, 0] * base.diffusivity_nm2_h[:, 0] / ref_nm**2
    assert float(scale[-1]) == pytest.approx(1.0, rel=0.041)
    # far below R_ref the term vanishes: nanoparticles keep the material's own D
    tiny = replace(sized, diffusivity_radius_ref_nm=1.0e6)  # 1 mm
    small = mechanism_parameters(f, sink, drug, tiny).diffusivity_nm2_h[:3, 0]
    torch.testing.assert_close(small, base.diffusivity_nm2_h[:3, 0], rtol=1e-3, atol=0.0)


def test_burst_size_exponent():
    radii = [25.0, 100.0, 250.0, 5000.0, 1.0e6]
    f = Formulation.from_dict({"radius_nm": radii, "zeta_mv": -40.0}, dtype=torch.float64)
    sink, drug = ReleaseConditions.sink(), Drug.preset("doxorubicin")
    m0 = mechanism_parameters(f, sink, drug)
    base = m0.burst_fraction
    # γ = 0 (the default) is a skin of fixed thickness: the burst falls with size
    assert bool((base[1:] < base[:-1]).all())
    for ref_nm in (37.0, 1000.0):
        zero = replace(DEFAULT_CONSTANTS, burst_radius_exponent=0.0, burst_radius_ref_nm=ref_nm)
        assert torch.equal(mechanism_parameters(f, sink, drug, zero).burst_fraction, base)
    # γ = 1: the layer scales with the particle, so the burst does not depend on size and
    # equals the fixed-skin burst at R_ref (here the effective radius of the 250-nm design)
    ref = float(m0.radius_nm[2])
    one = replace(DEFAULT_CONSTANTS, burst_radius_exponent=1.0, burst_radius_ref_nm=ref)
    burst = mechanism_parameters(f, sink, drug, one).burst_fraction
    torch.testing.assert_close(burst, base[2].expand(len(radii)), rtol=1e-12, atol=0.0)
    # 0 < γ < 1 falls with size, more slowly than γ = 0
    half = replace(one, burst_radius_exponent=0.5)
    mid = mechanism_parameters(f, sink, drug, half).burst_fraction
    assert bool((mid[1:] < mid[:-1]).all()) and float(mid[-1]) > float(base[-1])


def test_gradcheck_through_the_burst_size_exponent_float64():
    f = Formulation.from_dict(
        {"radius_nm": [40.0, 150.0, 3000.0], "drug_loading": 0.2}, dtype=torch.float64
    )
    times = torch.tensor([0.1, 2.0, 48.0], dtype=torch.float64)

    def run(values: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
        c = replace(DEFAULT_CONSTANTS, burst_radius_exponent=gamma)
        return simulate_release(
            Formulation(values, f.carrier, validate=False), times, constants=c, validate=False
        )

    inputs = (
        f.values.clone().requires_grad_(True),
        torch.tensor(0.4, dtype=torch.float64, requires_grad=True),
    )
    assert torch.autograd.gradcheck(run, inputs, eps=1e-7, atol=1e-6, rtol=1e-4)


def test_gradcheck_through_the_size_exponent_float64():
    f = Formulation.from_dict(
        {"radius_nm": [40.0, 150.0, 3000.0], "drug_loading": 0.2}, dtype=torch.float64
    )
    times = torch.tensor([0.5, 6.0, 48.0, 300.0], dtype=torch.float64)

    def run(values: torch.Tensor, beta: torch.Tensor, ref_nm: torch.Tensor) -> torch.Tensor:
        c = replace(
            DEFAULT_CONSTANTS, diffusivity_radius_exponent=beta, diffusivity_radius_ref_nm=ref_nm
        )
        return simulate_release(
            Formulation(values, f.carrier, validate=False),
            times,
            drug="dexamethasone",
            constants=c,
            validate=False,
        )

    inputs = (
        f.values.clone().requires_grad_(True),
        torch.tensor(1.5, dtype=torch.float64, requires_grad=True),
        torch.tensor(300.0, dtype=torch.float64, requires_grad=True),
    )
    assert torch.autograd.gradcheck(run, inputs, eps=1e-7, atol=1e-6, rtol=1e-4)
    # the gradient with respect to β exists at the Fickian default β = 0 (fittable from there)
    beta0 = torch.tensor(0.0, dtype=torch.float64, requires_grad=True)
    run(f.values, beta0, torch.tensor(1000.0, dtype=torch.float64)).sum().backward()
    assert beta0.grad is not None and float(beta0.grad.abs()) > 0.0


def test_mechanism_parameters_are_physical():
    m = mechanism_parameters(
        designs(64, 0), ReleaseConditions.preset("tumour"), Drug.preset("doxorubicin")
    )
    assert (m.diffusivity_nm2_h > 0).all() and (m.hydrolysis_per_h > 0).all()
    assert (m.burst_fraction >= 0).all() and (m.burst_fraction < 0.6).all()
    assert ((m.dispersed_fraction >= 0) & (m.dispersed_fraction <= 1)).all()
    assert m.photo_rate_per_h is None and m.enzyme_rate_per_h is None  # no light or enzyme


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"times_h": torch.tensor([0.0, -1.0])}, "times_h=-1 at index [1] is outside the allowed"),
        ({"times_h": torch.tensor([0.0, 5.0, 2.0])}, "times_h must be sorted in increasing order"),
        ({"times_h": torch.tensor([0.0, float("nan")])}, "times_h must be a finite number (h)"),
        ({"times_h": torch.zeros(2, 2, 2)}, "times_h must be a non-empty 1-D tensor"),
        ({"times_h": torch.zeros(3, 4)}, "a 2-D time grid needs one row per design (2)"),
        ({"conditions": "venus"}, "unknown conditions preset 'venus'"),
        ({"drug": "unobtainium"}, "unknown drug preset 'unobtainium'"),
        (
            {"drug": Drug.stack([Drug.preset("ibuprofen")] * 3)},
            "drug holds 3 drugs but there are 2",
        ),
    ],
)
def test_bad_input_raises_clear_value_errors(kwargs, needle):
    args = {"formulation": Formulation.default(2), "times_h": TIMES, **kwargs}
    with pytest.raises(ValueError) as info:
        simulate_release(**args)
    assert needle in str(info.value)


def test_out_of_bounds_values_are_caught_even_if_built_without_validation():
    values = Formulation.default(2).values.clone()
    values[1, 0] = 1e9
    with pytest.raises(ValueError, match=r"radius_nm=1e\+09 at index \[1\] is outside"):
        simulate_release(Formulation(values, validate=False), TIMES)


def test_kinetics_and_nanoenv_never_import_gymnasium_code_or_agents():
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "nanoenv"
    for path in root.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        names += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        assert not any(n.split(".")[0] == "agents" for n in names), path  # one-way imports
        if "kinetics" in path.parts:
            assert not any(n.split(".")[0] in ("gymnasium", "stable_baselines3") for n in names), (
                path
            )


def test_gradcheck_through_the_physics_v2_paths_float64():
    """Lysolipid pores, cholesterol, interior pH, photothermal and magnetic heating with a
    frequency, pH-dependent solubility under a pH schedule and a dissolving pH-responsive
    matrix: gradients to every design parameter match finite differences."""
    base = Formulation.from_dicts(
        [
            {
                "radius_nm": 90.0,
                "drug_loading": 0.3,
                "ph_responsive_fraction": 0.2,
                "responsive_pka": 5.6,
                "thermo_fraction": 0.5,
                "lcst_c": 39.0,
                "photothermal_fraction": 0.05,
                "magnetic_core_fraction": 0.1,
            },
            {
                "carrier": "liposome",
                "radius_nm": 50.0,
                "lipid_tm_c": 41.5,
                "lysolipid_fraction": 0.05,
                "cholesterol_fraction": 0.1,
                "interior_ph": 6.0,
            },
        ],
        dtype=torch.float64,
    )
    conditions = ReleaseConditions(
        torch.tensor([0.0, 2.0, 4.0, 6.0]),
        torch.tensor([7.4, 6.5, 5.5, 5.5]),
        torch.tensor([37.0, 42.0, 37.0, 37.0]),
        light_mw_cm2=torch.tensor([0.0, 0.0, 40.0, 0.0]),
        magnetic_field_ka_m=torch.tensor([0.0, 10.0, 0.0, 0.0]),
        magnetic_frequency_khz=torch.tensor([150.0, 150.0, 150.0, 150.0]),
    )
    times = torch.tensor([0.5, 2.1, 3.0, 5.0, 8.0, 12.0], dtype=torch.float64)
    assert _gradcheck_release(base, times, conditions)
