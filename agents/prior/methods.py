"""Design methods built on a generative prior (the :class:`agents.baselines.DesignMethod`
interface, with the same budget accounting: one simulated design is one simulator call,
the prior's screening included).

==================  ============================================================
:class:`PriorScreen`       ``"prior"``: one-shot best of ``m`` prior samples (``m`` calls)
:class:`PriorGuidedPolicy` ``"prior+ppo"``: an episode that starts from the prior's
                           screened proposal (``m`` calls + 1 for the environment's first
                           evaluation) and a PPO policy's edits (1 call each)
==================  ============================================================

:func:`train_prior_guided` trains that PPO policy on the batched environment whose episodes
start from the prior's screened proposal (``initial_design=PriorDesigner(prior, m)``), with
the shipped PPO defaults (``agents/rl/configs/ppo.yaml``). The defaults ``m = 8`` and
``max_edits = 11`` make a whole episode ``8 + 1 + 11 = 20`` simulator calls at most.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

from agents.baselines import DesignResult, PolicyRollout, Search, check_budget
from agents.prior.models import GenerativePrior, load_prior
from agents.prior.screen import PriorDesigner, check_prior, problem_spec
from agents.prior.train import load_default_prior
from agents.rl.config import default_config
from nanoenv.envs.formulation_design import FormulationDesignEnv
from nanoenv.files import atomic_write
from nanoenv.targets import TargetBatch
from nanoenv.tasks import Target, get_family

__all__ = ["PriorGuidedPolicy", "PriorScreen", "load_prior_guided", "train_prior_guided"]

#: PPO settings of the prior-guided policy: the shipped PPO defaults' hyperparameters
#: (``agents/rl/configs/ppo.yaml``, those of ``experiments/configs/ppo_realisable.yaml``).
PPO_HYPERPARAMETERS: dict[str, Any] = default_config("ppo")["hyperparameters"]


class _PriorCache:
    """Priors per carrier: the one given, or the shipped default of the target's carrier."""

    def __init__(self, prior: GenerativePrior | None, kind: str, device: str) -> None:
        self.prior, self.kind, self.device = prior, kind, device
        self._loaded: dict[str, GenerativePrior] = {}

    def get(self, target: Target) -> GenerativePrior:
        if self.prior is not None:
            check_prior(self.prior, target)
            return self.prior
        carrier = target.carrier.name.lower()
        if carrier not in self._loaded:
            self._loaded[carrier] = load_default_prior(carrier, self.kind, self.device)
        return self._loaded[carrier]


class PriorScreen:
    """One-shot sample-and-screen: ``m`` prior samples simulated in one batched call; the
    best is returned. ``sim_calls = min(m, budget)``.

    :param prior: a trained prior (``None``: the shipped prior of each target's carrier).
    :param m: candidates per target (``None``: the whole budget, the benchmark's
        setting: the best of the first ``K`` samples is the design at ``K`` calls).
    :param kind: shipped prior used when ``prior`` is ``None``: ``"cvae"``, ``"flow"`` or
        ``"gan"``.
    :param temperature: scale of the prior's base noise.
    :param device: device of the simulation and of the prior.
    :param success_f2: f2 at or above which a design counts as a success.
    :param name: the method's name in result tables.
    """

    def __init__(
        self,
        prior: GenerativePrior | None = None,
        m: int | None = 16,
        *,
        kind: str = "cvae",
        temperature: float = 1.0,
        device: str = "cpu",
        success_f2: float = 50.0,
        name: str = "prior",
    ) -> None:
        self.success_f2 = float(success_f2)
        if m is not None and m < 1:
            raise ValueError(f"m={m} must be a positive number of candidates (simulator calls)")
        self.priors = _PriorCache(prior, kind, device)
        self.m = None if m is None else int(m)
        self.temperature = float(temperature)
        self.device = device
        self.name = name

    def design(self, target: Target, budget: int, *, seed: int = 0) -> DesignResult:
        """Best of ``min(m, budget)`` prior samples for ``target``."""
        spec = problem_spec(target, self.device, self.success_f2)
        search = Search(spec, target, budget, self.name)
        prior = self.priors.get(target)
        cond = TargetBatch.from_targets([target]).condition_vector()
        gen = torch.Generator().manual_seed(int(seed))
        m = search.remaining if self.m is None else min(self.m, search.remaining)
        z = prior.sample(cond, m, generator=gen, temperature=self.temperature)[0]
        with torch.no_grad():
            search.evaluate(z.to(search.spec.device))
        return search.result()

    def __repr__(self) -> str:
        return f"PriorScreen(m={self.m}, name={self.name!r})"


class PriorGuidedPolicy(PolicyRollout):
    """A PPO policy that refines the prior's screened proposal by edits.

    One episode of :class:`~nanoenv.envs.FormulationDesignEnv` whose first design is the
    best of ``m`` prior samples: ``m`` screening calls, 1 call for the environment's
    evaluation of the proposal, then 1 call per edit, up to ``max_edits`` edits, stopping
    at the first design with ``f2 ≥ success_f2`` or when the budget is spent (``m`` is cut
    to ``budget − 1`` if the budget is smaller). The best design seen is returned. The
    episode loop and its call accounting are :class:`~agents.baselines.PolicyRollout`'s.

    :param model: a trained SB3 model (``predict(obs, deterministic=True)``).
    :param prior: the prior proposing the first design.
    :param m: screened candidates per episode.
    :param env_kwargs: keywords of the environment (``max_edits``, ``max_step``…).
    :param name: the method's name in result tables.
    """

    def __init__(
        self,
        model: Any,
        prior: GenerativePrior,
        m: int = 8,
        env_kwargs: dict[str, Any] | None = None,
        *,
        name: str = "prior+ppo",
    ) -> None:
        super().__init__(model, env_kwargs, name=name)
        if m < 1:
            raise ValueError(f"m={m} must be a positive number of candidates")
        self.prior = prior
        self.m = int(m)

    @property
    def model(self) -> Any:
        """The trained SB3 model."""
        return self.policy

    def make_env(self, target: Target, budget: int) -> FormulationDesignEnv:
        m = min(self.m, budget - 1)
        device = self.env_kwargs.get("device", "cpu")
        spec = problem_spec(target, device, self.env_kwargs.get("success_f2", 50.0))
        kwargs = {
            **self.env_kwargs,
            "task": spec.family.name,
            "design_space": spec.design_space,
            "initial_design": PriorDesigner(self.prior, m, device),
        }
        return FormulationDesignEnv(**kwargs)

    def design(self, target: Target, budget: int, *, seed: int = 0) -> DesignResult:
        """Screen, then edit, within ``budget`` simulator calls."""
        budget = check_budget(budget)
        if budget < 2:  # no call left for the episode: screen one candidate
            success_f2 = self.env_kwargs.get("success_f2", 50.0)
            return PriorScreen(self.prior, 1, success_f2=success_f2, name=self.name).design(
                target, budget, seed=seed
            )
        return super().design(target, budget, seed=seed)

    def __repr__(self) -> str:
        return f"PriorGuidedPolicy(m={self.m}, name={self.name!r})"


def train_prior_guided(
    family: str = "realisable",
    steps: int = 30_000,
    seed: int = 0,
    device: str = "cpu",
    prior: GenerativePrior | None = None,
    run_dir: str | os.PathLike[str] | None = None,
    m: int = 8,
    *,
    max_edits: int = 11,
    max_step: float = 0.25,
    num_envs: int = 8,
    kind: str = "cvae",
    edit_penalty: float = 0.0,
    success_f2: float = 50.0,
    hyperparameters: dict[str, Any] | None = None,
    progress: bool = True,
) -> PriorGuidedPolicy:
    """Train PPO on episodes that start from the prior's screened proposal.

    :param family: task family trained on.
    :param steps: environment steps (edits) in total.
    :param seed: seed of the policy and the environments.
    :param device: device of the networks and simulator (``"cpu"``, ``"cuda"``, ``"auto"``).
    :param prior: the prior (``None``: the shipped prior of the family's carrier, ``kind``).
    :param run_dir: new folder for ``config.yaml``, ``prior.json``, ``prior.pt``,
        checkpoints, logs (CSV; TensorBoard if installed) and ``final_model.zip``
        (``None``: a new folder under ``runs/``); the folder of an interrupted call
        (killed after a checkpoint) is resumed from its last checkpoint with its own
        ``prior.pt``.
    :param m: candidates screened per episode (``m + 1 + max_edits`` calls per episode).
    :param max_edits: edits per episode.
    :param max_step: largest change of a normalised coordinate per edit.
    :param num_envs: environments stepped as one batch.
    :param kind: shipped prior used when ``prior`` is ``None`` (``"cvae"``, ``"flow"``,
        ``"gan"``).
    :param edit_penalty: ``λ ≥ 0``; when positive, every edit's training reward is reduced
        by ``λ · mean(a²)`` (``a`` the edit in ``[-1, 1]^dim``), the KL divergence (up to
        a constant) of the policy's Gaussian edit from ``N(0, I)`` — a reference policy that
        keeps the prior's proposal — so the policy is regularised toward the prior and
        departs from its proposal only where that pays. The method is then named
        ``"prior+ppo-kl"``. Rewards at evaluation are not affected (only f2 counts).
    :param success_f2: f2 that ends an episode in success (training and design).
    :param hyperparameters: PPO keywords replacing :data:`PPO_HYPERPARAMETERS` entries.
    :param progress: show a progress bar.

    The training is :func:`agents.rl.train_model`'s (the run folder's
    ``config.yaml``, ``meta.json``, logs, checkpoints and final model are those of
    :func:`agents.rl.train`, without the checkpoint at the last step and the
    held-out evaluation), with the proposer as ``initial_design`` and the edit penalty as
    the environment wrapper.
    """
    from agents import rl

    if not edit_penalty >= 0:
        raise ValueError(f"edit_penalty={edit_penalty} must be >= 0 (reward units per edit)")
    fam = get_family(family)
    carrier = fam.carrier.name.lower()
    prior = prior if prior is not None else load_default_prior(carrier, kind, "cpu")
    if prior.carrier != carrier:
        raise ValueError(
            f"the prior is for {prior.carrier} designs; family {family!r} designs "
            f"{carrier} carriers"
        )
    hp = {**PPO_HYPERPARAMETERS, **(hyperparameters or {})}
    hp["n_steps"] = min(hp["n_steps"], max(8, steps // num_envs))
    hp["batch_size"] = min(hp["batch_size"], hp["n_steps"] * num_envs)
    cfg = rl.TrainConfig(
        algo="ppo",
        task=family,
        total_steps=steps,
        num_envs=num_envs,
        seed=seed,
        device=device,
        env=rl.EnvConfig(
            max_edits=max_edits, max_step=max_step, success_f2=success_f2, device="cpu"
        ),
        hyperparameters=hp,
        checkpoint_every=max(steps // 4, num_envs),
        eval=rl.EvalConfig(at_end=False),
    )
    env_kwargs = {k: v for k, v in cfg.env.kwargs().items() if k != "initial_design"}
    resume = run_dir is not None and _interrupted_run(Path(run_dir))
    if resume:
        run = Path(run_dir)  # type: ignore[arg-type]
        prior = load_prior(run / "prior.pt", "cpu")
    else:
        run = rl.make_run_folder(run_dir, cfg.runs_dir, f"prior_ppo_{family}", seed)
        prior.save(run / "prior.pt", **getattr(prior, "meta", {}))
        info = {
            "m": m,
            "kind": prior.kind,
            "carrier": prior.carrier,
            "edit_penalty": float(edit_penalty),
            "env_kwargs": env_kwargs,
        }
        atomic_write(run / "prior.json", json.dumps(info, indent=1))
    penalty = float(edit_penalty)
    model = rl.train_model(
        cfg,
        run,
        resume=resume,
        progress=progress,
        notes=[f"episodes start from the best of m={m} samples of a {prior.kind} prior"],
        initial_design=PriorDesigner(prior, m),
        env_wrapper=(lambda venv: _edit_penalty_wrapper(venv, penalty)) if penalty > 0 else None,
        final_checkpoint=False,
    )
    name = "prior+ppo-kl" if edit_penalty > 0 else "prior+ppo"
    method = PriorGuidedPolicy(model, prior, m, env_kwargs, name=name)
    method.run_dir = run
    return method


def _interrupted_run(run: Path) -> bool:
    """Whether ``run`` is a prior-guided run folder with a checkpoint to resume from."""
    from agents.rl import last_checkpoint

    have = all((run / name).is_file() for name in ("config.yaml", "prior.json", "prior.pt"))
    return have and last_checkpoint(run) is not None


def _edit_penalty_wrapper(venv: Any, penalty: float) -> Any:
    """``venv`` with ``penalty · mean(a²)`` subtracted from every step's reward."""
    import numpy as np
    from stable_baselines3.common.vec_env import VecEnvWrapper

    class EditPenalty(VecEnvWrapper):
        def reset(self) -> Any:
            return self.venv.reset()

        def step_async(self, actions: Any) -> None:
            self._actions = np.clip(np.asarray(actions, dtype=np.float32), -1.0, 1.0)
            self.venv.step_async(actions)

        def step_wait(self) -> Any:
            obs, rewards, dones, infos = self.venv.step_wait()
            rewards = rewards - penalty * (self._actions**2).mean(axis=1)
            return obs, rewards.astype(np.float32), dones, infos

    return EditPenalty(venv)


def load_prior_guided(run_dir: str | os.PathLike[str], device: str = "cpu") -> PriorGuidedPolicy:
    """The :class:`PriorGuidedPolicy` of a :func:`train_prior_guided` run folder."""
    from agents import rl

    run = Path(run_dir)
    if not (run / "prior.json").is_file():
        raise ValueError(f"{str(run)!r} is not a prior-guided run folder (no prior.json)")
    info = json.loads((run / "prior.json").read_text())
    model = rl.load_model(run, device=device)  # rebuilt from config.yaml: nothing unpickled
    prior = load_prior(run / "prior.pt", device)
    name = "prior+ppo-kl" if info.get("edit_penalty", 0.0) > 0 else "prior+ppo"
    method = PriorGuidedPolicy(model, prior, int(info["m"]), info["env_kwargs"], name=name)
    method.run_dir = run
    return method
