"""The built-in designers of :mod:`agents.bench.registry` (declared as entry points of the
group ``nanoenv.designers`` in ``pyproject.toml``).

==============  ==========  ==============================================================
name            track       what
==============  ==========  ==============================================================
``random``      search      uniform random designs in batches of 64
``cmaes``       search      CMA-ES with restarts (the ``cma`` package)
``gradient``    search      multi-start Adam through the differentiable simulator
``bo``          search      Bayesian optimisation: GP + batch qLogEI (BoTorch), ≤ 100 calls
``nsga2``       search      NSGA-II over the family's objectives (pymoo; :mod:`agents.nsga2`)
``ppo``         amortised   PPO (stable-baselines3) trained on the family's generator
``sac``         amortised   SAC (stable-baselines3) trained on the family's generator
``ppo-torch``   amortised   torch-native PPO (``agents/rl/ppo_torch.py``), same configs
==============  ==========  ==============================================================

A trained policy designs by episodes of ``1 + max_edits`` simulator calls; under a fixed
budget (``stop_on_success=False``, the bench) it runs further episodes from new initial
designs until the budget is spent.
"""

from __future__ import annotations

import time
from pathlib import Path

from agents import baselines
from agents.bench.registry import BuildContext, Built, MethodEntry
from agents.bo import BayesianOptimization
from agents.nsga2 import NSGA2 as NSGA2Search
from agents.rl import (
    FINAL_MODEL,
    TrainConfig,
    last_checkpoint,
    load_config,
    load_model,
    train,
    training_cost,
)

__all__ = [
    "BO",
    "CMAES",
    "GRADIENT",
    "NSGA2",
    "PPO",
    "PPO_TORCH",
    "RANDOM",
    "SAC",
    "rl_config",
    "run_or_resume",
]


def _search(cls: type, max_budget: int | None = None) -> MethodEntry:
    def build(ctx: BuildContext) -> Built:
        designer = cls(
            device=ctx.device,
            success_f2=ctx.success_f2,
            stop_on_success=ctx.stop_on_success,
            constants=ctx.constants,
        )
        return Built(designer, None, {})

    return MethodEntry(build, track="search", max_budget=max_budget)


def rl_config(algo: str, ctx: BuildContext) -> TrainConfig:
    """The validated :class:`~agents.rl.TrainConfig` of an RL job: the family's
    config file ``<configs_dir>/<algo>_<family>.yaml`` (else ``<algo>_realisable.yaml``
    with the family swapped in) with the job's seed, device and step count."""
    folder = Path(ctx.configs_dir)
    path = folder / f"{algo}_{ctx.family}.yaml"
    if not path.is_file():
        path = folder / f"{algo}_realisable.yaml"
    if not path.is_file():
        have = sorted(p.name for p in folder.glob(f"{algo}_*.yaml"))
        raise ValueError(
            f"no training config for method {algo!r} on family {ctx.family!r} in "
            f"{str(folder)!r}; configs found: {have or 'none'}"
        )
    data = load_config(path).to_dict()
    data.update(task=ctx.family, seed=ctx.seed, device=ctx.device)
    data["env"].update(device=ctx.device, success_f2=ctx.success_f2)
    data["eval"].update(at_end=False, families=[ctx.family])
    if ctx.steps and algo in ctx.steps:
        data["total_steps"] = int(ctx.steps[algo])
    return TrainConfig.from_dict(data)


def run_or_resume(run: Path) -> dict[str, Path]:
    """``train`` keywords for a job's run folder: a new run, or the resumption of one
    interrupted (``kill -9``, a crash) after its first checkpoint. A folder interrupted
    before any checkpoint holds nothing to resume; it is moved aside to
    ``run.interrupted[_n]`` (runs are never deleted) and the job starts afresh."""
    if not run.exists() or not any(run.iterdir()):
        return {"run_dir": run}
    if (run / "config.yaml").is_file() and (
        last_checkpoint(run) is not None or (run / FINAL_MODEL).is_file()
    ):
        return {"resume": run}
    n = 0
    while (aside := run.with_name(f"{run.name}.interrupted" + (f"_{n}" if n else ""))).exists():
        n += 1
    run.rename(aside)
    return {"run_dir": run}


def _rl(algo: str) -> MethodEntry:
    def build(ctx: BuildContext) -> Built:
        cfg = rl_config(algo, ctx)
        t0 = time.perf_counter()
        run = train(cfg, progress=False, **run_or_resume(ctx.job_dir / "run"))
        train_s = time.perf_counter() - t0
        env_kwargs = {k: v for k, v in cfg.env.kwargs().items() if k != "device"}
        model = load_model(run, device=ctx.device)
        designer = baselines.PolicyRollout(
            model,
            env_kwargs,
            device=cfg.env.device,
            name=ctx.method,
            repeat=not ctx.stop_on_success,
            stop_on_success=ctx.stop_on_success,
        )
        cost = training_cost(run) or {}
        info = {
            "train_s": train_s,
            "run": str(run),
            "total_steps": cfg.total_steps,
            "train_sim_calls": cost.get("sim_calls"),
        }
        return Built(designer, 1 + cfg.env.max_edits, info)

    return MethodEntry(build, trains=True, track="amortised")


RANDOM = _search(baselines.RandomSearch)
CMAES = _search(baselines.CMAES)
GRADIENT = _search(baselines.GradientDescent)
#: BO's GP costs ~3.5 CPU s per target at 100 calls and ~9 s at 1000 (agents.bo): the bench
#: scores it up to 100 calls, where its sample efficiency matters.
BO = _search(BayesianOptimization, max_budget=100)
NSGA2 = _search(NSGA2Search)
PPO = _rl("ppo")
SAC = _rl("sac")
PPO_TORCH = _rl("ppo-torch")
