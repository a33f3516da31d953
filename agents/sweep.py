"""Methods × task families × seeds, in parallel processes on one machine.

The engine behind ``nanoenv bench run``, ``experiments/sweep.py`` and
``benchmarks/bench_agents.py``. A :class:`Job` is one method on one family with one seed.
Methods are the designers of :mod:`agents.bench.registry` (built-ins, installed plug-ins,
``module:Class``): a trained method (``ppo``, ``sac``, ``prior+ppo``) trains on the
family's generator with that seed first; a search method (``random``, ``cmaes``,
``gradient``, ``bo``) is seeded by it.

Every job designs for the same held-out targets — the frozen suite's (``suite``, e.g.
``"nanoenv-bench-v1"``, with its references: normalised scores) or
``benchmark_suite(family, n, suite_seed)`` — through the one evaluation pipeline,
:func:`agents.bench.runner.score_designer`, and writes
``<out>/<method>_<family>_s<seed>/results.json`` (+ ``.csv``) in the format
:mod:`agents.report` reads, with its timings; trained jobs keep their run folder beside
it. With ``budgets`` every method spends ``max(budgets)`` simulator calls per target and
is scored at each budget; without, each gets its own budget (one episode for a policy,
``budget`` for a search) and stops at its first success. Jobs run in ``workers`` spawned
processes (``backend="local"``, the default, no extra dependency) or as Ray tasks on a
local Ray instance or a cluster (``backend="ray"``, :mod:`agents.ray_backend`; the
``ray`` extra), each with ``threads`` torch threads; either way a finished job is never
rerun when the sweep is restarted on the same folder (``skip_done``), and an RL job
interrupted (``kill -9``) resumes from its last checkpoint.

>>> jobs = make_jobs(["random"], ["realisable"], seeds=[0, 1])
>>> [j.name for j in jobs]
['random_realisable_s0', 'random_realisable_s1']
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import contextlib
import json
import multiprocessing
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from agents.bench.registry import BuildContext, get_method
from nanoenv.devices import DEVICES, resolve_device
from nanoenv.files import atomic_write

__all__ = [
    "BACKENDS",
    "Job",
    "SweepSettings",
    "add_backend_arguments",
    "backend_options",
    "check_backend",
    "make_jobs",
    "run_job",
    "sweep",
]


#: Where the jobs of a sweep run: ``local`` processes, or ``ray`` tasks.
BACKENDS = ("local", "ray")


@dataclass(frozen=True)
class SweepSettings:
    """What every job of a sweep shares.

    :param n: held-out targets per family (``None`` with a suite: all of them).
    :param suite_seed: seed of ``benchmark_suite`` when no frozen suite is given.
    :param budget: simulator calls per target for search methods (without ``budgets``).
    :param steps: training steps per trained method (``{"ppo": 50000}``); a method not
        listed trains for its config's ``total_steps``.
    :param configs_dir: folder of the ``<algo>_<family>.yaml`` training configs.
    :param device: ``"cpu"``, ``"cuda"`` or ``"auto"`` for networks and simulator.
    :param threads: torch threads per worker process (``None``: torch's default).
    :param success_f2: f2 that counts as success.
    :param suite: a frozen suite (version or file) whose targets and references are used.
    :param budgets: score every method at these simulator-call budgets, each spending the
        largest (the bench); ``None``: each method's own budget, stopping at success.
    """

    n: int | None = 16
    suite_seed: int = 1000
    budget: int = 500
    steps: dict[str, int] = field(default_factory=dict)
    configs_dir: str = "experiments/configs"
    device: str = "cpu"
    threads: int | None = 1
    success_f2: float = 50.0
    suite: str | None = None
    budgets: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        from agents.rl import MAX_EVAL_BUDGET, MAX_EVAL_TARGETS

        for name, value, high in (
            ("n", self.n, MAX_EVAL_TARGETS),
            ("budget", self.budget, MAX_EVAL_BUDGET),
        ):
            if value is None and name == "n" and self.suite is not None:
                continue
            if isinstance(value, bool) or value is None or int(value) != value or value < 1:
                raise ValueError(f"{name}={value!r} must be a positive integer")
            if value > high:
                raise ValueError(f"{name}={value!r} must be at most {high}")
        for algo, steps in self.steps.items():
            if isinstance(steps, bool) or int(steps) != steps or steps < 1:
                raise ValueError(f"steps[{algo!r}]={steps!r} must be a positive integer")
        if self.device not in DEVICES:
            raise ValueError(f"device={self.device!r}; allowed: 'cpu', 'cuda', 'auto'")
        resolve_device(self.device)  # 'cuda' without a GPU: an error before any job
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"threads={self.threads} must be positive (or None)")
        if self.budgets is not None:
            from agents.bench.runner import check_budgets

            object.__setattr__(self, "budgets", check_budgets(self.budgets))

    @property
    def stop_on_success(self) -> bool:
        """Methods stop at their first success only without fixed ``budgets``."""
        return self.budgets is None


@dataclass(frozen=True)
class Job:
    """One method on one task family with one seed."""

    method: str
    family: str
    seed: int

    @property
    def name(self) -> str:
        return f"{self.method.replace(':', '.')}_{self.family}_s{self.seed}"


def make_jobs(methods: Sequence[str], families: Sequence[str], seeds: Sequence[int]) -> list[Job]:
    """Every method × family × seed, with unknown names rejected before anything runs."""
    from nanoenv.tasks import get_family

    for m in methods:
        get_method(m)
    for family in families:
        get_family(family)
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds {list(seeds)} repeat a seed")
    if len(set(methods)) != len(methods):
        raise ValueError(f"methods {list(methods)} repeat a method")
    return [Job(m, f, int(s)) for m in methods for f in families for s in seeds]


def _targets(
    job: Job, settings: SweepSettings
) -> tuple[list[Any], list[Any] | None, int, dict[str, str] | None]:
    """The job's targets, their references and the suite seed, and (frozen suites only)
    the suite's version and content hash."""
    if settings.suite is None:
        from nanoenv.tasks import benchmark_suite

        assert settings.n is not None
        seed = settings.suite_seed
        return benchmark_suite(job.family, settings.n, seed), None, seed, None
    from nanoenv.bench import load_suite

    suite = load_suite(settings.suite)
    targets = suite.targets(job.family, settings.n)
    refs = None
    if suite.has_references(job.family):
        refs = suite.references(job.family)[: len(targets)]
    identity = {"version": suite.version, "content_hash": suite.content_hash}
    return targets, refs, int(suite.families[job.family]["seed"]), identity


def run_job(job: Job, settings: SweepSettings, out: str | os.PathLike[str]) -> Path:
    """Build, (train,) and evaluate one job; returns its ``results.json``."""
    import torch

    from agents.bench.runner import method_seed, score_designer
    from agents.rl import save_results

    if settings.threads is not None:
        torch.set_num_threads(settings.threads)
    job_dir = Path(out) / job.name
    job_dir.mkdir(parents=True, exist_ok=True)
    for stale in job_dir.glob(".*.tmp"):  # a write interrupted by a kill (unique names)
        stale.unlink(missing_ok=True)
    started = time.perf_counter()
    entry = get_method(job.method)
    targets, refs, suite_seed, suite_identity = _targets(job, settings)
    ctx = BuildContext(
        job.method,
        job.family,
        job.seed,
        job_dir,
        settings.device,
        settings.success_f2,
        settings.stop_on_success,
        dict(settings.steps),
        settings.configs_dir,
    )
    built = entry.build(ctx)
    budgets = settings.budgets or (built.budget or settings.budget,)
    if settings.budgets is not None and entry.max_budget is not None:
        budgets = tuple(b for b in budgets if b <= entry.max_budget) or (entry.max_budget,)
    seed = method_seed(suite_seed, job.seed)
    t0 = time.perf_counter()
    rows = score_designer(
        built.designer, targets, seed=seed, budgets=budgets, references=refs, trains=entry.trains
    )
    eval_s = time.perf_counter() - t0
    for row in rows:
        row["method"] = job.method
        row["seed"] = job.seed
        row["track"] = entry.track
    info = dict(built.info)
    settings_out = {
        "job": asdict(job),
        "sweep": asdict(settings),
        "track": entry.track,
        "budget": budgets[-1],
        "budgets": list(budgets),
        "method_seed": seed,
        "suite_seed": suite_seed,
        "timings_s": {
            "train_s": info.pop("train_s", 0.0),
            "eval_s": eval_s,
            "total_s": time.perf_counter() - started,
        },
        **info,
    }
    if suite_identity is not None:
        settings_out["suite"] = suite_identity
    save_results(job_dir, rows, settings_out)
    return job_dir / "results.json"


def _init_worker(threads: int | None) -> None:
    import torch

    if threads is not None:
        torch.set_num_threads(threads)


def check_backend(
    workers: int,
    backend: str = "local",
    address: str | None = None,
    cpus_per_job: float = 1.0,
    gpus_per_job: float = 0.0,
) -> None:
    """Check :func:`sweep`'s backend keywords before any work: one-line ``ValueError``s,
    including a missing ``ray`` package (naming the extra to install)."""
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers={workers!r} must be a positive number of processes")
    if backend not in BACKENDS:
        raise ValueError(f"backend={backend!r}; allowed: {list(BACKENDS)}")
    if backend == "ray":
        from agents.ray_backend import check_ray_options, import_ray

        import_ray()
        check_ray_options(workers, address, cpus_per_job, gpus_per_job)
    elif (address, cpus_per_job, gpus_per_job) != (None, 1.0, 0.0):
        raise ValueError(
            f"address={address!r}, cpus_per_job={cpus_per_job!r} and "
            f"gpus_per_job={gpus_per_job!r} apply to backend='ray' only; "
            "the local pool runs one job per process"
        )


def sweep(
    jobs: Sequence[Job],
    settings: SweepSettings,
    out: str | os.PathLike[str],
    workers: int = 2,
    progress: bool = True,
    skip_done: bool = True,
    echo: Callable[[str], Any] = print,
    *,
    backend: str = "local",
    address: str | None = None,
    cpus_per_job: float = 1.0,
    gpus_per_job: float = 0.0,
) -> list[Path]:
    """Run ``jobs`` in ``workers`` processes (1: in this process) or as Ray tasks;
    returns the ``results.json`` of every job, in the order of ``jobs``.

    Training jobs are started first (they are the longest). A job whose
    ``results.json`` exists is skipped when ``skip_done`` (restart an interrupted sweep
    on the same folder, with either backend). A failing job is reported and the others
    go on; the sweep raises at the end if any failed, naming them.

    :param backend: ``"local"`` (a process pool on this machine) or ``"ray"``
        (:func:`agents.ray_backend.run_on_ray`; needs the ``ray`` extra).
    :param address: Ray only: ``None`` starts a local Ray instance with ``workers``
        CPUs; ``"auto"`` or ``"<host>:<port>"`` joins a running cluster (whose nodes must
        share ``out``'s filesystem).
    :param cpus_per_job: Ray only: CPUs reserved per job (> 0).
    :param gpus_per_job: Ray only: GPUs reserved per job (a fraction shares a GPU).
    """
    check_backend(workers, backend, address, cpus_per_job, gpus_per_job)
    out = Path(out)
    done = {j: out / j.name / "results.json" for j in jobs}
    todo = [j for j in jobs if not (skip_done and done[j].is_file())]
    todo.sort(key=lambda j: not get_method(j.method).trains)
    session: Any = contextlib.nullcontext()
    if backend == "ray" and todo:  # joined first: an unreachable cluster writes nothing
        from agents.ray_backend import ray_session

        session = ray_session(workers, address, cpus_per_job, gpus_per_job)
    with session:
        out.mkdir(parents=True, exist_ok=True)
        where = {
            "name": backend,
            "workers": workers,
            "address": address,
            "cpus_per_job": cpus_per_job,
            "gpus_per_job": gpus_per_job,
        }
        record = {"settings": asdict(settings), "jobs": [asdict(j) for j in jobs], "backend": where}
        atomic_write(out / "sweep.json", json.dumps(record, indent=1))
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

        if backend == "ray" and todo:
            from agents.ray_backend import run_on_ray

            run_on_ray(
                run_job,
                todo,
                settings,
                out,
                finished,
                workers=workers,
                address=address,
                cpus_per_job=cpus_per_job,
                gpus_per_job=gpus_per_job,
            )
        elif workers == 1:
            for job in todo:
                try:
                    run_job(job, settings, out)
                    finished(job, None)
                except Exception as exc:
                    finished(job, exc)
        else:
            ctx = multiprocessing.get_context("spawn")
            with cf.ProcessPoolExecutor(
                workers, mp_context=ctx, initializer=_init_worker, initargs=(settings.threads,)
            ) as pool:
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


def add_backend_arguments(parser: argparse.ArgumentParser) -> None:
    """``--backend``, ``--address``, ``--cpus-per-job`` and ``--gpus-per-job``, the same
    in every script that runs a sweep; read them back with :func:`backend_options`."""
    parser.add_argument(
        "--backend",
        default="local",
        choices=BACKENDS,
        help="local: a process pool on this machine; ray: Ray tasks (pip install -e '.[ray]')",
    )
    parser.add_argument(
        "--address",
        default=None,
        help="Ray cluster to join: auto or HOST:PORT (shared filesystem "
        "assumed); default: start a local Ray instance with --workers CPUs",
    )
    parser.add_argument(
        "--cpus-per-job", type=float, default=1.0, help="Ray: CPUs reserved per job"
    )
    parser.add_argument(
        "--gpus-per-job",
        type=float,
        default=0.0,
        help="Ray: GPUs reserved per job (a fraction shares one)",
    )


def backend_options(args: argparse.Namespace) -> dict[str, Any]:
    """The :func:`sweep` keywords of :func:`add_backend_arguments`'s flags."""
    return {
        "backend": args.backend,
        "address": args.address,
        "cpus_per_job": args.cpus_per_job,
        "gpus_per_job": args.gpus_per_job,
    }
