"""nanoenv-bench: frozen suites, reference optima and normalised scores.

The scoring half of the benchmark lives here, in the library (it needs only the
simulator and the tasks); the designers, the oracle that builds references and the
runner live in :mod:`agents.bench`.
"""

from nanoenv.bench.suite import (
    BUDGETS,
    DEFAULT_SUITE,
    Reference,
    Suite,
    available_suites,
    load_suite,
    normalized_score,
    shipped_suite_path,
    target_from_dict,
    target_to_dict,
)

__all__ = [
    "BUDGETS",
    "DEFAULT_SUITE",
    "Reference",
    "Suite",
    "available_suites",
    "load_suite",
    "normalized_score",
    "shipped_suite_path",
    "target_from_dict",
    "target_to_dict",
]
