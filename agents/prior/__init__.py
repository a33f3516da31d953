"""Generative priors over formulations, and the design methods built on them.

* :mod:`agents.prior.data`: training pairs ``(design, condition)`` from the batched
  simulator and the real data in :mod:`nanoenv.data`.
* :mod:`agents.prior.models`: :class:`ConditionalVAE`, :class:`ConditionalFlow`
  (conditional RealNVP) and :class:`ConditionalGAN` (conditional WGAN-GP), all modelling
  ``p(z | target condition)``.
* :mod:`agents.prior.train`: :func:`train_prior`, :func:`load_default_prior` (shipped
  weights in ``agents/prior/weights``).
* :mod:`agents.prior.screen`: :func:`sample_and_screen` (best ``k`` of ``M`` in one batched
  simulation, with validity and diversity) and :class:`PriorDesigner` (the environments'
  initial-design hook).
* :mod:`agents.prior.methods`: :class:`PriorScreen` (``"prior"``), :class:`PriorGuidedPolicy`
  (``"prior+ppo"``) and :func:`train_prior_guided`.
* :mod:`agents.prior.cli`: ``nanoenv design``.

>>> from nanoenv.tasks import benchmark_suite
>>> prior = load_default_prior("polymer")
>>> result = sample_and_screen(prior, benchmark_suite("realisable", 1, seed=0)[0], m=16, k=3)
>>> result.z.shape, result.sim_calls
(torch.Size([3, 11]), 16)
"""

from agents.prior.data import make_training_pairs, real_data_pairs
from agents.prior.methods import (
    PriorGuidedPolicy,
    PriorScreen,
    load_prior_guided,
    train_prior_guided,
)
from agents.prior.models import (
    ConditionalFlow,
    ConditionalGAN,
    ConditionalVAE,
    GenerativePrior,
    load_prior,
)
from agents.prior.screen import PriorDesigner, ScreenResult, diversity, sample_and_screen
from agents.prior.train import load_default_prior, train_prior

__all__ = [
    "ConditionalFlow",
    "ConditionalGAN",
    "ConditionalVAE",
    "GenerativePrior",
    "PriorDesigner",
    "PriorGuidedPolicy",
    "PriorScreen",
    "ScreenResult",
    "diversity",
    "load_default_prior",
    "load_prior",
    "load_prior_guided",
    "make_training_pairs",
    "real_data_pairs",
    "sample_and_screen",
    "train_prior",
    "train_prior_guided",
]
