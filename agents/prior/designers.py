"""The generative prior's designers (:mod:`agents.bench.registry` entries, declared as
``nanoenv.designers`` entry points in ``pyproject.toml``):

=================  ==========  ==========================================================
``prior``          amortised   best of :data:`SCREEN_M` samples of the shipped cVAE prior
                               (``SCREEN_M`` simulator calls per target); under fixed
                               budgets, the best of the first ``K`` samples at ``K`` calls
``prior-flow``     amortised   the same with the shipped conditional flow
``prior-gan``      amortised   the same with the shipped conditional WGAN-GP
``prior+ppo``      amortised   PPO trained on episodes that start from the best of
                               :data:`GUIDED_M` prior samples, then :data:`GUIDED_EDITS`
                               edits at most: ``GUIDED_M + 1 + GUIDED_EDITS = 20`` calls
``prior+ppo-kl``   amortised   the same policy regularised toward the prior's proposal
                               (edit penalty :data:`KL_PENALTY`, see
                               :func:`~agents.prior.methods.train_prior_guided`)
=================  ==========  ==========================================================

The priors were trained once, offline, on simulated designs (``agents.prior.train``);
the guided policies train for ``steps[name]`` environment steps, else ``steps["ppo"]``,
else :data:`DEFAULT_STEPS`.
"""

from __future__ import annotations

from agents.bench.registry import BuildContext, Built, MethodEntry

__all__ = [
    "DEFAULT_STEPS",
    "GUIDED_EDITS",
    "GUIDED_M",
    "KL_PENALTY",
    "PRIOR",
    "PRIOR_FLOW",
    "PRIOR_GAN",
    "PRIOR_PPO",
    "PRIOR_PPO_KL",
    "SCREEN_M",
]

SCREEN_M = 16
GUIDED_M = 4
GUIDED_EDITS = 15
KL_PENALTY = 0.05
DEFAULT_STEPS = 30_000


def _screen(kind: str) -> MethodEntry:
    def build(ctx: BuildContext) -> Built:
        from agents.prior.methods import PriorScreen
        from agents.prior.train import load_default_prior
        from nanoenv.tasks import get_family

        m = SCREEN_M if ctx.stop_on_success else None  # fixed budgets: sample them all
        designer = PriorScreen(
            m=m, kind=kind, device=ctx.device, success_f2=ctx.success_f2, name=ctx.method
        )
        carrier = get_family(ctx.family).carrier.name.lower()
        # its training pairs are simulated designs, one simulator call each
        pairs = getattr(load_default_prior(carrier, kind), "meta", {}).get("n_pairs")
        return Built(designer, SCREEN_M, {"m": m, "kind": kind, "train_sim_calls": pairs})

    return MethodEntry(build, track="amortised")


def _guided(edit_penalty: float) -> MethodEntry:
    def build(ctx: BuildContext) -> Built:
        import time

        from agents.prior.methods import train_prior_guided
        from agents.rl import training_cost

        steps = ctx.steps or {}
        total = steps.get(ctx.method, steps.get("ppo", DEFAULT_STEPS))
        from agents.bench.builtin import run_or_resume

        run_or_resume(ctx.job_dir / "run")  # moves aside a run killed before its checkpoint
        t0 = time.perf_counter()
        designer = train_prior_guided(
            ctx.family,
            total,
            seed=ctx.seed,
            device=ctx.device,
            run_dir=ctx.job_dir / "run",
            m=GUIDED_M,
            max_edits=GUIDED_EDITS,
            edit_penalty=edit_penalty,
            success_f2=ctx.success_f2,
            progress=False,
        )
        designer.name = ctx.method
        designer.repeat = not ctx.stop_on_success
        designer.stop_on_success = ctx.stop_on_success
        cost = training_cost(designer.run_dir) or {}
        info = {
            "train_s": time.perf_counter() - t0,
            "run": str(designer.run_dir),
            "total_steps": total,
            "m": GUIDED_M,
            "max_edits": GUIDED_EDITS,
            "edit_penalty": edit_penalty,
            "train_sim_calls": cost.get("sim_calls"),
        }
        return Built(designer, GUIDED_M + 1 + GUIDED_EDITS, info)

    return MethodEntry(build, trains=True, track="amortised")


PRIOR = _screen("cvae")
PRIOR_FLOW = _screen("flow")
PRIOR_GAN = _screen("gan")
PRIOR_PPO = _guided(0.0)
PRIOR_PPO_KL = _guided(KL_PENALTY)
