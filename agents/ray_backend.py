"""The Ray backend of :func:`agents.sweep.sweep`: sweep jobs as Ray tasks, on a local Ray
instance or on a cluster.

``sweep(..., backend="ray")`` (``--backend ray`` of ``experiments/sweep.py``, ``nanoenv
bench run`` and ``benchmarks/bench_agents.py``) runs each :class:`~agents.sweep.Job` as
one Ray task that calls :func:`agents.sweep.run_job` — the very function the local
process pool calls — so a job gives the same rows on either backend, and resuming is the
same: a job whose ``results.json`` exists is skipped by :func:`~agents.sweep.sweep`
before anything is submitted, and an RL job interrupted after its first checkpoint
resumes from it (:func:`agents.bench.builtin.run_or_resume`).

* ``address=None``: a local Ray instance is started with ``ray.init(num_cpus=workers)``
  (no dashboard) and shut down at the end; ``address="auto"`` or ``"<host>:<port>"``
  (or ``"ray://<host>:<port>"``) joins a running cluster (``ray start --head``). A Ray
  already initialised in this process (``ray.init`` called by the user) is used as it is.
* Each task asks for ``cpus_per_job`` CPUs and ``gpus_per_job`` GPUs (a fraction shares
  a GPU between jobs); it runs ``settings.threads`` torch threads.
* **Shared filesystem assumed**: every node writes ``<out>/<job>/results.json`` (and
  the RL run folders) under the same absolute path as the driver, and reads the
  training configs from ``settings.configs_dir``; a source checkout of nanoenv is put on
  the workers' ``PYTHONPATH``, an installed one must be installed on every node.
* A task whose worker process dies (a node lost, ``kill -9``) is retried by Ray up to
  :data:`MAX_RETRIES` times, and :func:`~agents.sweep.run_job` then resumes an RL job
  from its checkpoint; an exception raised by a job is not retried (it is reported like
  the local pool's).

``ray`` is an optional dependency (``pip install -e ".[ray]"``), imported only here and
only when this backend is asked for.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from nanoenv.optional import import_optional

__all__ = ["MAX_RETRIES", "check_ray_options", "import_ray", "ray_session", "run_on_ray"]

#: Ray retries of a task whose worker died (not of a job that raised).
MAX_RETRIES = 3
#: A sweep job (:class:`agents.sweep.Job`); this module does not import the sweep.
Job = TypeVar("Job")


def import_ray() -> Any:
    """The ``ray`` module, or a one-line ``ValueError`` naming the extra to install."""
    return import_optional("ray", "ray", "backend='ray'")


def check_ray_options(
    workers: int, address: str | None, cpus_per_job: float, gpus_per_job: float
) -> None:
    """Check the backend's options before any work (``ValueError``, one line each).

    :param workers: CPUs of the local Ray instance started when ``address`` is ``None``.
    :param address: ``None``, ``"auto"``, ``"<host>:<port>"`` or ``"ray://<host>:<port>"``.
    :param cpus_per_job: CPUs each task reserves, > 0 (a fraction packs several per CPU).
    :param gpus_per_job: GPUs each task reserves, >= 0 (a fraction shares a GPU).
    """
    for name, value, low_ok in (
        ("cpus_per_job", cpus_per_job, False),
        ("gpus_per_job", gpus_per_job, True),
    ):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not ok or not math.isfinite(value) or value < 0 or (value == 0 and not low_ok):
            allowed = "a finite number >= 0" if low_ok else "a finite number > 0"
            raise ValueError(f"{name}={value!r}; allowed: {allowed} (resources per Ray task)")
    if address is not None and (not isinstance(address, str) or not address.strip()):
        raise ValueError(
            f"address={address!r}; allowed: 'auto', '<host>:<port>' or "
            "'ray://<host>:<port>' of a running Ray cluster"
        )
    if address is None:
        if cpus_per_job > workers:
            raise ValueError(
                f"cpus_per_job={cpus_per_job:g} is more than the local Ray "
                f"instance's workers={workers} CPUs; no job could start"
            )
        if gpus_per_job > 0:
            import torch

            if not torch.cuda.is_available():
                raise ValueError(
                    f"gpus_per_job={gpus_per_job:g} but torch finds no CUDA "
                    "device here for the local Ray instance; allowed: 0"
                )


def _source_root() -> str | None:
    """The checkout holding :mod:`agents` when it is not an installed package."""
    import agents

    root = Path(agents.__file__).resolve().parents[1]
    return str(root) if (root / "pyproject.toml").is_file() else None


@contextlib.contextmanager
def ray_session(
    workers: int = 2,
    address: str | None = None,
    cpus_per_job: float = 1.0,
    gpus_per_job: float = 0.0,
) -> Iterator[None]:
    """Ray for the duration of the block: a Ray already initialised in this process is
    used as it is; else a local instance with ``workers`` CPUs is started (``address``
    ``None``) or the cluster at ``address`` is joined, and shut down at the end. An
    unreachable ``address``, or a cluster with fewer CPUs or GPUs in all than one job
    asks for, raises a one-line ``ValueError``."""
    ray = import_ray()
    started = _connect(ray, workers, address)
    try:
        have = ray.cluster_resources()
        for key, need, flag in (
            ("CPU", cpus_per_job, "cpus_per_job"),
            ("GPU", gpus_per_job, "gpus_per_job"),
        ):
            if need > 0 and have.get(key, 0.0) < need:
                raise ValueError(
                    f"{flag}={need:g} but the Ray cluster has "
                    f"{have.get(key, 0.0):g} {key}(s) in all; no job could "
                    "start"
                )
        yield
    finally:
        if started:
            ray.shutdown()


def _check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """A one-line error within ``timeout_s`` when nothing listens at ``host:port`` (Ray's
    own client retries for minutes)."""
    import socket

    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ValueError(
            f"address={address!r}; allowed: 'auto', '<host>:<port>' or "
            "'ray://<host>:<port>' of a running Ray cluster"
        )
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise ValueError(
            f"address={address!r}: no Ray cluster answers there ({exc}); start "
            "one with `ray start --head` or give its address"
        ) from None


def _connect(ray: Any, workers: int, address: str | None) -> bool:
    """Start or join Ray; ``True`` when this call started it (and must shut it down)."""
    if ray.is_initialized():
        return False
    env: dict[str, str] = {}
    root = _source_root()
    if root is not None:
        path = os.environ.get("PYTHONPATH")
        env["PYTHONPATH"] = root + (os.pathsep + path if path else "")
    kwargs: dict[str, Any] = {"runtime_env": {"env_vars": env}} if env else {}
    if address not in (None, "auto", "local"):
        _check_reachable(address)
    try:
        if address is None:
            ray.init(address="local", num_cpus=workers, include_dashboard=False, **kwargs)
        else:
            ray.init(address=address, **kwargs)
    except (ConnectionError, RuntimeError) as exc:
        raise ValueError(
            f"address={address!r}: cannot connect to a Ray cluster: {' '.join(str(exc).split())}"
        ) from None
    return True


def run_on_ray(
    run_job: Callable[[Job, Any, str], Any],
    jobs: Sequence[Job],
    settings: Any,
    out: str | os.PathLike[str],
    finished: Callable[[Job, BaseException | None], Any],
    *,
    workers: int = 2,
    address: str | None = None,
    cpus_per_job: float = 1.0,
    gpus_per_job: float = 0.0,
) -> None:
    """Run ``run_job(job, settings, out)`` for each of ``jobs`` as a Ray task (see the
    module text; the sweep passes :func:`agents.sweep.run_job`, the very function its
    local pool runs, and its :class:`~agents.sweep.SweepSettings`); calls
    ``finished(job, error)`` as
    each one ends (``error`` is the job's exception, ``None`` on success), in completion
    order. Jobs are submitted in the order given (the sweep puts training jobs first)."""
    ray = import_ray()
    check_ray_options(workers, address, cpus_per_job, gpus_per_job)
    with ray_session(workers, address, cpus_per_job, gpus_per_job):
        task = ray.remote(run_job).options(
            num_cpus=cpus_per_job,
            num_gpus=gpus_per_job,
            max_retries=MAX_RETRIES,
            retry_exceptions=False,
            name="nanoenv-sweep-job",
        )
        target = str(Path(out).resolve())
        pending = {task.remote(job, settings, target): job for job in jobs}
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                job = pending.pop(ref)
                try:
                    ray.get(ref)
                except ray.exceptions.RayTaskError as exc:
                    finished(job, exc.cause if isinstance(exc.cause, BaseException) else exc)
                except ray.exceptions.RayError as exc:  # worker died MAX_RETRIES times, ...
                    finished(job, exc)
                else:
                    finished(job, None)
