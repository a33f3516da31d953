"""Batched, differentiable release kinetics: pure torch functions, no gymnasium here.

The main entry point is :func:`simulate_release`; the laws it composes are in
:mod:`nanoenv.kinetics.mechanisms`.
"""

from nanoenv.kinetics.conditions import CONDITION_PRESETS, ReleaseConditions
from nanoenv.kinetics.constants import (
    CONSTANTS_NAMES,
    DEFAULT_CONSTANTS,
    SimulatorConstants,
    calibrated_constants,
    resolve_constants,
)
from nanoenv.kinetics.drug import DRUGS, Drug
from nanoenv.kinetics.formulation import (
    GEOMETRY_NAMES,
    PARAMETER_INDEX,
    PARAMETER_NAMES,
    PARAMETERS,
    Carrier,
    Formulation,
    Geometry,
    ParameterSpec,
)
from nanoenv.kinetics.mechanisms import (
    baker_lonsdale_fraction,
    burst_fraction,
    burst_profile,
    charge_binding_factor,
    effective_radius_nm,
    erosion_fraction,
    fickian_cylinder_fraction,
    fickian_finite_cylinder_fraction,
    fickian_slab_fraction,
    fickian_sphere_fraction,
    first_order_fraction,
    hydrolysis_rate_per_h,
    liposome_permeability_nm_h,
    ph_gate,
    reservoir_rate_per_h,
    thermal_gate,
)
from nanoenv.kinetics.polydispersity import polydisperse_release
from nanoenv.kinetics.simulate import (
    MechanismParameters,
    mechanism_parameters,
    release_curve,
    simulate_release,
)

__all__ = [
    "CONDITION_PRESETS",
    "CONSTANTS_NAMES",
    "DEFAULT_CONSTANTS",
    "DRUGS",
    "GEOMETRY_NAMES",
    "PARAMETERS",
    "PARAMETER_INDEX",
    "PARAMETER_NAMES",
    "Carrier",
    "Drug",
    "Formulation",
    "Geometry",
    "MechanismParameters",
    "ParameterSpec",
    "ReleaseConditions",
    "SimulatorConstants",
    "baker_lonsdale_fraction",
    "burst_fraction",
    "burst_profile",
    "calibrated_constants",
    "charge_binding_factor",
    "effective_radius_nm",
    "erosion_fraction",
    "fickian_cylinder_fraction",
    "fickian_finite_cylinder_fraction",
    "fickian_slab_fraction",
    "fickian_sphere_fraction",
    "first_order_fraction",
    "hydrolysis_rate_per_h",
    "liposome_permeability_nm_h",
    "mechanism_parameters",
    "ph_gate",
    "polydisperse_release",
    "release_curve",
    "reservoir_rate_per_h",
    "resolve_constants",
    "simulate_release",
    "thermal_gate",
]
