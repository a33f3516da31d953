"""Agents trained against nanoenv (they depend on nanoenv, never the reverse)."""

from agents.baselines import (
    CMAES,
    DesignMethod,
    DesignResult,
    GradientDescent,
    PolicyRollout,
    RandomSearch,
    results_table,
    run_suite,
    summarize,
)

__all__ = [
    "CMAES",
    "DesignMethod",
    "DesignResult",
    "GradientDescent",
    "PolicyRollout",
    "RandomSearch",
    "results_table",
    "run_suite",
    "summarize",
]
