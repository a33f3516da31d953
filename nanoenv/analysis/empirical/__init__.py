"""Empirical drug-release models for fitting dissolution data, batched in torch.

These are the classic model-dependent equations used to summarise *in vitro*
release (dissolution) profiles, in the forms tabulated by DDSolver, the Excel
add-in of Zhang et al. (2010). Time ``t`` is in hours and ``F`` is the
cumulative *fraction* released (0 to 1; DDSolver writes the same equations in
percent, i.e. ``100 * F``):

===================  ======================================  ===========================
name                 equation                                parameters (units)
===================  ======================================  ===========================
``first_order``      ``F = 1 - exp(-k t)``                   k (1/h)
``higuchi``          ``F = kH t^(1/2)``                      kH (h^-1/2)
``korsmeyer_peppas`` ``F = kKP t^n``                         kKP (h^-n), n (-)
``weibull``          ``F = 1 - exp(-t^beta / alpha)``        alpha (h^beta), beta (-)
``hopfenberg``       ``F = 1 - (1 - kHB t)^n``, n = 3        kHB (1/h)
``peppas_sahlin``    ``F = k1 t^m + k2 t^(2m)``              k1 (h^-m), k2 (h^-2m), m (-)
===================  ======================================  ===========================

Every model takes an optional lag time ``tlag`` (h, >= 0): ``F = 0`` for
``t <= tlag`` and ``t`` is replaced by ``t - tlag`` afterwards (DDSolver's
"with Tlag" variants). Higuchi, Korsmeyer–Peppas and Peppas–Sahlin are
power laws that are not bounded by 1; as usual they are meant for the early part
of a profile (Korsmeyer–Peppas: ``F <= 0.6``) and are not clipped here.

Everything is a pure, differentiable torch function. At ``t = 0`` and
``t = tlag`` the power laws have infinite (one-sided) slopes; the functions use
the "safe where" pattern (a harmless value is substituted in the masked branch
*before* ``pow``/``sqrt``) so that backward passes stay finite there.

:func:`fit_empirical` fits a batch of curves at once by weighted least squares
with a batched Levenberg–Marquardt solver (every curve is an independent
problem; there is no Python loop over curves, and the result for one curve
does not depend on the other curves in the batch, up to floating-point
rounding), after a data-driven grid of multi-start guesses. Parameters are
optimised in an unconstrained space and mapped to their fitting bounds by a
sigmoid (on a log scale for positive rate constants). Goodness of fit follows
DDSolver: ``R²``, adjusted ``R²`` and the Akaike information criterion.

References
----------
* P. Costa, J. M. Sousa Lobo, "Modeling and comparison of dissolution
  profiles", *Eur. J. Pharm. Sci.* 13 (2001) 123–133.
* Y. Zhang, M. Huo, J. Zhou, A. Zou, W. Li, C. Yao, S. Xie, "DDSolver: an add-in
  program for modeling and comparison of drug dissolution profiles",
  *AAPS J.* 12 (2010) 263–271.

Modules: :mod:`~nanoenv.analysis.empirical.models` (the equations and their fitting
specifications), :mod:`~nanoenv.analysis.empirical.least_squares` (the batched solvers),
:mod:`~nanoenv.analysis.empirical.fit` (fitting and ranking). Everything public is
re-exported here.
"""

from __future__ import annotations

from nanoenv.analysis.empirical.fit import EmpiricalFit, best_by_aic, fit_all, fit_empirical
from nanoenv.analysis.empirical.models import (
    EMPIRICAL_MODELS,
    EmpiricalModel,
    first_order,
    get_model,
    higuchi,
    hopfenberg,
    hopfenberg_model,
    korsmeyer_peppas,
    peppas_sahlin,
    weibull,
)

__all__ = [
    "EMPIRICAL_MODELS",
    "EmpiricalFit",
    "EmpiricalModel",
    "best_by_aic",
    "first_order",
    "fit_all",
    "fit_empirical",
    "get_model",
    "higuchi",
    "hopfenberg",
    "hopfenberg_model",
    "korsmeyer_peppas",
    "peppas_sahlin",
    "weibull",
]
