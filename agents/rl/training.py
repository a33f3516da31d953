"""Training a PPO or SAC run on the native vector environment.

Training runs on :class:`~nanoenv.envs.FormulationDesignVectorEnv` seen through
:class:`~nanoenv.envs.sb3.SB3VecEnvAdapter` and wrapped in ``VecMonitor`` (episode
return, length and success rate in the logs). :func:`train` writes a new run folder
(:mod:`agents.rl.run_folder`), or continues one (``resume=RUN_DIR``) from its last
checkpoint (the step count carries on), and evaluates it at the end
(:mod:`agents.rl.evaluate`). The training itself is :func:`train_model`, which other
trainers call on a run folder of their own, with an initial-design proposer or a reward
wrapper for the environments (:func:`agents.prior.train_prior_guided`).
"""

from __future__ import annotations

import os
import shutil
import signal
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agents.checkpoints import load_model_file, load_replay_buffer, run_lock, save_model
from agents.rl.callbacks import (
    StopRequested,
    checkpoint_callback_class,
    progress_callback,
    rich_available,
    sigterm_stops,
    tensorboard_available,
)
from agents.rl.config import TrainConfig, load_config
from agents.rl.evaluate import evaluate_run
from agents.rl.models import make_vec_env, new_model
from agents.rl.ppo_torch import train_run
from agents.rl.run_folder import (
    CHECKPOINT_PREFIX,
    FINAL_MODEL,
    last_checkpoint,
    make_run_folder,
    record_training_cost,
    remove_stale_checkpoints,
    start_session,
)
from nanoenv.devices import resolve_device

if TYPE_CHECKING:
    from nanoenv.envs.problem import InitialDesigner

__all__ = ["train", "train_model"]


def train(
    config: TrainConfig | str | os.PathLike[str] | None,
    run_dir: str | os.PathLike[str] | None = None,
    resume: str | os.PathLike[str] | None = None,
    progress: bool = True,
) -> Path:
    """Train ``config`` (a :class:`TrainConfig` or a YAML path) and return the run folder.

    :param config: the run's configuration; with ``resume`` it may be ``None`` (the run's
        own ``config.yaml`` is used) or a config whose ``total_steps`` is the new total.
    :param run_dir: the new run folder (must not exist or be empty); default
        ``<runs_dir>/<algo>_<task>_<UTC timestamp>_s<seed>[_n]``.
    :param resume: a run folder to continue from its last checkpoint (or final model),
        with the step count carried on (``reset_num_timesteps=False``). For SAC the
        replay buffer is restored when it was checkpointed.
    :param progress: show a progress bar.

    The training is :func:`train_model`'s; the held-out evaluation (``eval.at_end``)
    follows it. A ``KeyboardInterrupt`` or SIGTERM saves one more (atomic) checkpoint and
    raises ``KeyboardInterrupt``; earlier checkpoints are never touched. A new run that
    fails before its first checkpoint (a config that SB3 rejects, say) leaves no run
    folder behind. While it trains, the run folder is locked: a second ``train`` or
    ``--resume`` of it fails at once with a ``ValueError``.
    """
    if resume is not None:
        resume = Path(resume)
        if not (resume / "config.yaml").is_file():
            raise ValueError(f"--resume {str(resume)!r} is not a run folder (no config.yaml)")
        saved = load_config(resume / "config.yaml")
        if config is None:
            cfg = saved
        else:
            cfg = load_config(config) if not isinstance(config, TrainConfig) else config
            if (cfg.algo, cfg.task) != (saved.algo, saved.task):
                raise ValueError(
                    f"cannot resume a {saved.algo} run on {saved.task!r} with a "
                    f"{cfg.algo} config on {cfg.task!r}"
                )
        if last_checkpoint(resume) is None and not (resume / FINAL_MODEL).is_file():
            raise ValueError(f"run folder {str(resume)!r} has no checkpoint to resume from")
        run = resume
    else:
        if config is None:
            raise ValueError("a config is needed unless resuming")
        cfg = config if isinstance(config, TrainConfig) else load_config(config)
        existed = run_dir is not None and Path(run_dir).exists()
        first_new = _first_missing(Path(run_dir) if run_dir is not None else Path(cfg.runs_dir))
        run = make_run_folder(run_dir, cfg.runs_dir, f"{cfg.algo}_{cfg.task}", cfg.seed)
        with run_lock(run):  # taken first: a process that loses the race deletes nothing
            try:
                _train_locked(cfg, run, False, progress, [], None, None, True)
            except Exception:
                # nothing trained yet (no checkpoint, no model): leave no half-made folder
                if last_checkpoint(run) is None and not (run / FINAL_MODEL).exists():
                    if existed:
                        for child in run.iterdir():
                            shutil.rmtree(child) if child.is_dir() else child.unlink()
                    else:  # the run folder, and the parents made for it while still empty
                        shutil.rmtree(run, ignore_errors=True)
                        for parent in run.parents if first_new is not None else ():
                            if parent == first_new.parent or not _remove_empty(parent):
                                break
                raise
        if cfg.eval.at_end:
            evaluate_run(run, out=run, progress=False)
        return run
    train_model(cfg, run, resume=True, progress=progress)
    if cfg.eval.at_end:
        evaluate_run(run, out=run, progress=False)
    return run


def _remove_empty(folder: Path) -> bool:
    """Remove ``folder`` if it is empty (another process may be using it otherwise)."""
    try:
        folder.rmdir()
    except OSError:
        return False
    return True


def _first_missing(path: Path) -> Path | None:
    """The outermost folder of ``path`` (itself included) that does not exist yet."""
    missing = None
    for folder in (path, *path.parents):
        if folder.exists():
            break
        missing = folder
    return missing


def train_model(
    cfg: TrainConfig,
    run: Path,
    *,
    resume: bool = False,
    progress: bool = True,
    notes: Sequence[str] = (),
    initial_design: InitialDesigner | None = None,
    env_wrapper: Callable[[Any], Any] | None = None,
    final_checkpoint: bool = True,
) -> Any:
    """Train the model of ``cfg`` in the run folder ``run`` and return it (no evaluation).

    A new run gets ``config.yaml`` and ``meta.json``; every call gets a new
    ``logs/session[_n]`` (``progress.csv``, TensorBoard events when tensorboard is
    installed), checkpoints every ``cfg.checkpoint_every`` environment steps in
    ``checkpoints/`` and ``final_model.zip``, all written atomically.

    :param cfg: the run's configuration (``total_steps`` is the total, resumed steps
        included).
    :param run: the run folder, already made (:func:`make_run_folder`).
    :param resume: continue the run's last checkpoint (or final model) with its step count
        carried on, rather than start a new model.
    :param progress: show a progress bar.
    :param notes: lines for ``meta.json``'s ``notes`` (new runs).
    :param initial_design: proposer of the episodes' first designs (see
        :func:`make_vec_env`); ``None``: ``cfg.env.initial_design``.
    :param env_wrapper: wrapper of the SB3 vector environment inside ``VecMonitor`` (see
        :func:`make_vec_env`), e.g. a training-reward shaping.
    :param final_checkpoint: also save a checkpoint at the last step (what
        :func:`train` resumes from; it carries SAC's replay buffer).

    A ``KeyboardInterrupt`` or SIGTERM (in the main thread) saves one more (atomic)
    checkpoint and raises ``KeyboardInterrupt``; earlier checkpoints are never touched.
    The run folder is locked while this runs (:func:`agents.checkpoints.run_lock`); nothing
    in it is unpickled on resume (:mod:`agents.checkpoints`).
    """
    with run_lock(run):
        return _train_locked(
            cfg, run, resume, progress, list(notes), initial_design, env_wrapper, final_checkpoint
        )


def _restore(cfg: TrainConfig, run: Path, model: Any) -> Path:
    """Load the run's last checkpoint (or final model) and, for SAC, its replay buffer into
    the fresh ``model``; returns the model file. Nothing is unpickled."""
    last = last_checkpoint(run)
    path, buffer = (last[0], last[1]) if last is not None else (run / FINAL_MODEL, None)
    if buffer is not None and buffer.suffix != ".npz":
        raise ValueError(
            f"replay buffer {str(buffer)!r} is a pickle, which nanoenv never loads (it can run "
            "code); delete it to resume with an empty replay buffer"
        )
    load_model_file(model, path)
    if hasattr(model, "replay_buffer"):
        if buffer is None:
            warnings.warn(
                f"resuming {cfg.algo} from {str(path)!r} with an EMPTY replay buffer: no "
                "buffer was saved with it",
                stacklevel=3,
            )
        else:
            load_replay_buffer(model.replay_buffer, buffer)
    return path


def _train_locked(
    cfg: TrainConfig,
    run: Path,
    resume: bool,
    progress: bool,
    notes: list[str],
    initial_design: InitialDesigner | None,
    env_wrapper: Callable[[Any], Any] | None,
    final_checkpoint: bool,
) -> Any:
    from stable_baselines3.common.callbacks import CallbackList
    from stable_baselines3.common.logger import configure

    if cfg.algo == "ppo-torch":  # the torch-native trainer (no proposer / wrapper hooks)
        if initial_design is not None or env_wrapper is not None:
            raise ValueError("algo ppo-torch takes no initial-design proposer or env wrapper")
        return train_run(cfg, run, resume, progress, notes, final_checkpoint)
    device = resolve_device(cfg.device)
    formats = ["csv"]
    if tensorboard_available():
        formats.append("tensorboard")
    else:
        notes.append("tensorboard is not installed: no TensorBoard logs")
    env = make_vec_env(cfg, initial_design=initial_design, wrapper=env_wrapper)
    try:
        # built before anything is written: a config SB3 rejects leaves no files behind
        model = new_model(cfg, env, device)
        path = None
        if resume:
            remove_stale_checkpoints(run)
            path = _restore(cfg, run, model)
            # fresh environment randomness: not the targets of the first segment again
            model.set_random_seed(cfg.seed + model.num_timesteps)
    except BaseException:
        env.close()
        raise
    logs = start_session(run, cfg, notes, path, model.num_timesteps)
    model.set_logger(configure(str(logs), formats))
    remaining = cfg.total_steps - model.num_timesteps
    checkpoint = checkpoint_callback_class()(
        save_freq=max(cfg.checkpoint_every // cfg.num_envs, 1) if cfg.checkpoint_every else 0,
        save_path=str(run / "checkpoints"),
        name_prefix=CHECKPOINT_PREFIX,
        save_replay_buffer=cfg.algo == "sac",
    )
    callbacks: list[Any] = [checkpoint]
    # SB3's own bar needs tqdm and rich; without rich, a small tqdm callback does it
    sb3_bar = progress and rich_available()
    if progress and not sb3_bar:
        callbacks.append(progress_callback(cfg.total_steps, model.num_timesteps))
    previous = sigterm_stops(checkpoint)
    try:
        if remaining > 0:
            model.learn(
                total_timesteps=remaining,
                callback=CallbackList(callbacks),
                reset_num_timesteps=not resume,
                progress_bar=sb3_bar,
            )
    except (KeyboardInterrupt, StopRequested) as exc:
        if getattr(checkpoint, "model", None) is not None:  # learning had started
            checkpoint.save_now()
        env.close()
        if isinstance(exc, StopRequested):
            raise KeyboardInterrupt("SIGTERM: checkpoint saved") from None
        raise
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    record_training_cost(run, model.num_timesteps, env.get_attr("total_sim_calls")[0])
    save_model(model, run / FINAL_MODEL)
    if cfg.checkpoint_every and final_checkpoint:
        if getattr(checkpoint, "model", None) is None:  # nothing left to learn on a resume
            checkpoint.init_callback(model)
        checkpoint.save_now()
    env.close()
    return model
