"""The generative prior's methods in sweeps (:mod:`agents.sweep`, ``bench_agents.py``).

Importing this module registers:

=================  =====================================================================
``prior``          one-shot best of :data:`SCREEN_M` samples of the shipped cVAE prior
                   (``SCREEN_M`` simulator calls per target)
``prior-flow``     the same with the shipped conditional flow
``prior+ppo``      PPO trained on episodes that start from the best of :data:`GUIDED_M`
                   prior samples, then :data:`GUIDED_EDITS` edits at most:
                   ``GUIDED_M + 1 + GUIDED_EDITS = 20`` simulator calls per target
``prior+ppo-kl``   the same policy regularised toward the prior's proposal (edit penalty
                   :data:`KL_PENALTY`, see :func:`~agents.prior.methods.train_prior_guided`)
=================  =====================================================================

The guided policies train for ``settings.steps[name]`` environment steps, else
``settings.steps["ppo"]``, else :data:`DEFAULT_STEPS`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agents.sweep import Job, MethodEntry, SweepSettings, register_method

__all__ = ["DEFAULT_STEPS", "GUIDED_EDITS", "GUIDED_M", "KL_PENALTY", "SCREEN_M"]

SCREEN_M = 16
GUIDED_M = 4
GUIDED_EDITS = 15
KL_PENALTY = 0.05
DEFAULT_STEPS = 30_000


def _screen(kind: str, name: str) -> MethodEntry:
    def build(job: Job, settings: SweepSettings, job_dir: Path) -> tuple[Any, int, dict]:
        from agents.prior.methods import PriorScreen

        method = PriorScreen(m=SCREEN_M, kind=kind, device=settings.device,
                             success_f2=settings.success_f2, name=name)  # fmt: skip
        return method, SCREEN_M, {"m": SCREEN_M, "kind": kind}

    return MethodEntry(build)


def _guided(name: str, edit_penalty: float) -> MethodEntry:
    def build(job: Job, settings: SweepSettings, job_dir: Path) -> tuple[Any, int, dict]:
        import time

        from agents.prior.methods import train_prior_guided
        from agents.sweep import _run_or_resume

        _run_or_resume(job_dir / "run")  # moves aside a run killed before its first checkpoint
        steps = settings.steps.get(name, settings.steps.get("ppo", DEFAULT_STEPS))
        t0 = time.perf_counter()
        method = train_prior_guided(
            job.family, steps, seed=job.seed, device=settings.device, run_dir=job_dir / "run",
            m=GUIDED_M, max_edits=GUIDED_EDITS, edit_penalty=edit_penalty,
            success_f2=settings.success_f2, progress=False,
        )  # fmt: skip
        info = {"train_s": time.perf_counter() - t0, "run": str(method.run_dir),
                "total_steps": steps, "m": GUIDED_M, "max_edits": GUIDED_EDITS,
                "edit_penalty": edit_penalty}  # fmt: skip
        return method, GUIDED_M + 1 + GUIDED_EDITS, info

    return MethodEntry(build, trains=True)


register_method("prior", _screen("cvae", "prior"))
register_method("prior-flow", _screen("flow", "prior-flow"))
register_method("prior+ppo", _guided("prior+ppo", 0.0))
register_method("prior+ppo-kl", _guided("prior+ppo-kl", KL_PENALTY))
