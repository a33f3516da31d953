"""Methods × task families × seeds, in parallel processes on one machine.

The engine behind ``experiments/sweep.py`` and ``benchmarks/bench_agents.py``. A
:class:`Job` is one method on one family with one seed:

* an RL method (``ppo``, ``sac``) trains a policy on the family with that seed, from the
  YAML config ``<configs_dir>/<algo>_<family>.yaml`` (training steps overridable), then
  rolls it out for one episode (``1 + max_edits`` simulator calls) per target;
* a search method (``random``, ``cmaes``, ``gradient``) designs with ``budget``
  simulator calls per target, its random draws seeded by the job's seed;
* methods registered in :data:`METHODS` by other modules (the generative prior's
  ``prior`` and ``prior+ppo``) work the same way.

Every job is evaluated on the same held-out targets, ``benchmark_suite(family, n,
suite_seed)``, and writes ``<out>/<method>_<family>_s<seed>/results.json`` (+ ``.csv``)
in the format :mod:`agents.report` reads, with its timings; RL jobs keep their run
folder (config, checkpoints, logs, model) beside it. Jobs run in ``workers`` spawned
processes, each with ``threads`` torch threads; a finished job is never rerun when the
sweep is restarted on the same folder (``skip_done``), and an RL job interrupted
(``kill -9``) resumes from its last checkpoint.

>>> jobs = make_jobs(["random"], ["realisable"], seeds=[0, 1])
>>> [j.name for j in jobs]
['random_realisable_s0', 'random_realisable_s1']
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import multiprocessing
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from nanoenv.files import atomic_write

__all__ = [
    "METHODS",
    "Job",
    "MethodEntry",
    "SweepSettings",
    "make_jobs",
    "register_method",
    "run_job",
    "sweep",
]


@dataclass(frozen=True)
class SweepSettings:
    """What every job of a sweep shares.

    :param n: held-out targets per family.
    :param suite_seed: seed of ``benchmark_suite`` (keep it away from training seeds).
    :param budget: simulator calls per target for search methods.
    :param steps: training steps per RL algorithm (``{"ppo": 50000}``); an algorithm not
        listed trains for its config's ``total_steps``.
    :param configs_dir: folder of the ``<algo>_<family>.yaml`` training configs.
    :param device: ``"cpu"``, ``"cuda"`` or ``"auto"`` for networks and simulator.
    :param threads: torch threads per worker process (``None``: torch's default).
    :param success_f2: f2 that counts as success.
    """

    n: int = 16
    suite_seed: int = 1000
    budget: int = 500
    steps: dict[str, int] = field(default_factory=dict)
    configs_dir: str = "experiments/configs"
    device: str = "cpu"
    threads: int | None = 1
    success_f2: float = 50.0

    def __post_init__(self) -> None:
        from agents.sb3_agents import MAX_EVAL_BUDGET, MAX_EVAL_TARGETS

        for name, value, high in (("n", self.n, MAX_EVAL_TARGETS),
                                  ("budget", self.budget, MAX_EVAL_BUDGET)):  # fmt: skip
            if isinstance(value, bool) or int(value) != value or value < 1:
                raise ValueError(f"{name}={value!r} must be a positive integer")
            if value > high:
                raise ValueError(f"{name}={value!r} must be at most {high}")
        for algo, steps in self.steps.items():
            if isinstance(steps, bool) or int(steps) != steps or steps < 1:
                raise ValueError(f"steps[{algo!r}]={steps!r} must be a positive integer")
        if self.device not in ("cpu", "cuda", "auto"):
            raise ValueError(f"device={self.device!r}; allowed: 'cpu', 'cuda', 'auto'")
        if self.device == "cuda":
            import torch

            if not torch.cuda.is_available():
                raise ValueError("device='cuda' but torch finds no CUDA device here; allowed: "
                                 "'cpu', or 'auto' (CUDA when present)")  # fmt: skip
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"threads={self.threads} must be positive (or None)")


@dataclass(frozen=True)
class Job:
    """One method on one task family with one seed."""

    method: str
    family: str
    seed: int

    @property
    def name(self) -> str:
        return f"{self.method}_{self.family}_s{self.seed}"


@dataclass(frozen=True)
class MethodEntry:
    """How a sweep builds a method.

    :param build: ``(job, settings, job_dir) -> (method, budget, info)``: a
        :class:`~agents.baselines.DesignMethod`, the simulator calls it gets per target,
        and provenance to record (``train_s`` for training time, a run folder, …).
    :param trains: whether the method is trained per job (scheduled first: longest).
    """

    build: Callable[[Job, SweepSettings, Path], tuple[Any, int, dict[str, Any]]]
    trains: bool = False


#: Method name → :class:`MethodEntry`. Extend with :func:`register_method`.
METHODS: dict[str, MethodEntry] = {}


def register_method(name: str, entry: MethodEntry) -> None:
    """Make ``name`` available to sweeps (and to ``benchmarks/bench_agents.py``)."""
    METHODS[name] = entry


def _method_seed(job: Job, settings: SweepSettings) -> int:
    from agents.sb3_agents import METHOD_SEED_OFFSET

    return (settings.suite_seed + METHOD_SEED_OFFSET + job.seed) % 2**32


# -- built-in methods ----------------------------------------------------------------------


def _search(cls_name: str) -> MethodEntry:
    def build(job: Job, settings: SweepSettings, job_dir: Path) -> tuple[Any, int, dict]:
        import agents.baselines as baselines

        cls = getattr(baselines, cls_name)
        return cls(device=settings.device, success_f2=settings.success_f2), settings.budget, {}

    return MethodEntry(build)


def rl_config(algo: str, family: str, settings: SweepSettings, seed: int) -> Any:
    """The validated :class:`~agents.sb3_agents.TrainConfig` of an RL job: the family's
    config file with the job's seed, device and step count."""
    from agents.sb3_agents import load_config

    path = Path(settings.configs_dir) / f"{algo}_{family}.yaml"
    if not path.is_file():
        have = sorted(p.name for p in Path(settings.configs_dir).glob(f"{algo}_*.yaml"))
        raise ValueError(
            f"no training config {str(path)!r} for method {algo!r} on family {family!r}; "
            f"configs found: {have or 'none'}"
        )
    cfg = load_config(path)
    data = cfg.to_dict()
    data.update(seed=seed, device=settings.device)
    data["env"].update(device=settings.device, success_f2=settings.success_f2)
    data["eval"].update(at_end=False)
    if algo in settings.steps:
        data["total_steps"] = int(settings.steps[algo])
    return type(cfg).from_dict(data)


def _run_or_resume(run: Path) -> dict[str, Path]:
    """``train`` keywords for a job's run folder: a new run, or the resumption of one
    interrupted (``kill -9``, a crash) after its first checkpoint. A folder interrupted
    before any checkpoint holds nothing to resume; it is moved aside to
    ``run.interrupted[_n]`` (runs are never deleted) and the job starts afresh."""
    from agents.sb3_agents import FINAL_MODEL, last_checkpoint

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
    def build(job: Job, settings: SweepSettings, job_dir: Path) -> tuple[Any, int, dict]:
        from agents.baselines import PolicyRollout
        from agents.sb3_agents import load_model, train

        cfg = rl_config(algo, job.family, settings, job.seed)
        t0 = time.perf_counter()
        run = train(cfg, progress=False, **_run_or_resume(job_dir / "run"))
        train_s = time.perf_counter() - t0
        env_kwargs = {k: v for k, v in cfg.env.kwargs().items() if k != "device"}
        model = load_model(run, device=settings.device)
        method = PolicyRollout(model, env_kwargs, device=cfg.env.device, name=algo)
        info = {"train_s": train_s, "run": str(run), "total_steps": cfg.total_steps}
        return method, 1 + cfg.env.max_edits, info

    return MethodEntry(build, trains=True)


for _name, _cls in (
    ("random", "RandomSearch"), ("cmaes", "CMAES"), ("gradient", "GradientDescent")
):  # fmt: skip
    register_method(_name, _search(_cls))
for _algo in ("ppo", "sac"):
    register_method(_algo, _rl(_algo))


def _load_plugins() -> None:
    """Register methods of optional agent packages (the generative prior)."""
    try:
        import agents.prior.sweep  # noqa: F401  (registers "prior", "prior+ppo")
    except ImportError:
        pass


# -- jobs ----------------------------------------------------------------------------------


def make_jobs(methods: Sequence[str], families: Sequence[str], seeds: Sequence[int]) -> list[Job]:
    """Every method × family × seed, with unknown names rejected before anything runs."""
    from nanoenv.tasks import get_family

    _load_plugins()
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"unknown method(s) {unknown}; allowed: {sorted(METHODS)}")
    for family in families:
        get_family(family)
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds {list(seeds)} repeat a seed")
    return [Job(m, f, int(s)) for m in methods for f in families for s in seeds]


def run_job(job: Job, settings: SweepSettings, out: str | os.PathLike[str]) -> Path:
    """Build, (train,) and evaluate one job; returns its ``results.json``."""
    import torch

    from agents.baselines import results_table
    from agents.sb3_agents import _save_results
    from nanoenv.tasks import benchmark_suite

    _load_plugins()
    if settings.threads is not None:
        torch.set_num_threads(settings.threads)
    job_dir = Path(out) / job.name
    job_dir.mkdir(parents=True, exist_ok=True)
    for stale in job_dir.glob(".*.tmp"):  # a write interrupted by a kill (unique names)
        stale.unlink(missing_ok=True)
    started = time.perf_counter()
    method, budget, info = METHODS[job.method].build(job, settings, job_dir)
    targets = benchmark_suite(job.family, settings.n, settings.suite_seed)
    method_seed = _method_seed(job, settings)
    t0 = time.perf_counter()
    results = [method.design(t, budget, seed=method_seed) for t in targets]
    eval_s = time.perf_counter() - t0
    rows = results_table(results)
    for row, r in zip(rows, results, strict=True):
        row["method"] = job.method
        row["seed"] = job.seed
        row["history"] = [list(h) for h in r.history]
        row["times_h"] = r.target.times_h.tolist()
        row["target_release"] = r.target.release.tolist()
        row["release"] = r.release.tolist()
        # edits: calls after the episode's first design (and any screening before it)
        c, start = row["calls_to_success"], (r.history[0][0] if r.history else 1)
        trained = METHODS[job.method].trains
        row["edits_to_success"] = c - start if (c is not None and trained) else None
    settings_out = {
        "job": asdict(job),
        "sweep": asdict(settings),
        "budget": budget,
        "method_seed": method_seed,
        "timings_s": {
            "train_s": info.pop("train_s", 0.0),
            "eval_s": eval_s,
            "total_s": time.perf_counter() - started,
        },
        **info,
    }
    _save_results(job_dir, rows, settings_out)
    return job_dir / "results.json"


def _init_worker(threads: int | None) -> None:
    import torch

    if threads is not None:
        torch.set_num_threads(threads)


def sweep(
    jobs: Sequence[Job],
    settings: SweepSettings,
    out: str | os.PathLike[str],
    workers: int = 2,
    progress: bool = True,
    skip_done: bool = True,
    echo: Callable[[str], Any] = print,
) -> list[Path]:
    """Run ``jobs`` in ``workers`` processes (1: in this process); returns the
    ``results.json`` of every job, in the order of ``jobs``.

    Training jobs are started first (they are the longest). A job whose
    ``results.json`` exists is skipped when ``skip_done`` (restart an interrupted sweep
    on the same folder). A failing job is reported and the others go on; the sweep
    raises at the end if any failed, naming them.
    """
    if workers < 1:
        raise ValueError(f"workers={workers} must be a positive number of processes")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(
        out / "sweep.json",
        json.dumps({"settings": asdict(settings), "jobs": [asdict(j) for j in jobs]}, indent=1),
    )
    _load_plugins()
    done = {j: out / j.name / "results.json" for j in jobs}
    todo = [j for j in jobs if not (skip_done and done[j].is_file())]
    todo.sort(key=lambda j: not METHODS[j.method].trains)
    if len(todo) < len(jobs):
        echo(f"sweep: {len(jobs) - len(todo)} job(s) already done in {out}, skipped")
    bar: Any = None
    if progress and todo:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(todo), desc="sweep", unit="job", dynamic_ncols=True)
    failed: dict[str, str] = {}

    def finished(job: Job, error: BaseException | None) -> None:
        if error is not None:
            failed[job.name] = f"{type(error).__name__}: {error}"
            echo(f"sweep: job {job.name} failed: {failed[job.name]}")
        if bar is not None:
            bar.update(1)
            bar.set_postfix_str(job.name)

    if workers == 1:
        for job in todo:
            try:
                run_job(job, settings, out)
                finished(job, None)
            except Exception as exc:
                finished(job, exc)
    else:
        ctx = multiprocessing.get_context("spawn")
        with cf.ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker,
                                    initargs=(settings.threads,)) as pool:  # fmt: skip
            futures = {pool.submit(run_job, j, settings, out): j for j in todo}
            for future in cf.as_completed(futures):
                finished(futures[future], future.exception())
    if bar is not None:
        bar.close()
    if failed:
        raise RuntimeError(
            f"{len(failed)} of {len(todo)} sweep job(s) failed: "
            + "; ".join(f"{k}: {v}" for k, v in failed.items())
        )
    return [done[j] for j in jobs]
