"""Training callbacks: atomic checkpoints that also stop training on SIGTERM, and a tqdm
progress bar over environment steps (stable-baselines3 classes, built on first use so that
importing this module does not import SB3)."""

from __future__ import annotations

import importlib.util
import re
import signal
import threading
from pathlib import Path
from typing import Any

from agents.checkpoints import prune_replay_buffers, save_model, save_replay_buffer

__all__ = [
    "KEEP_REPLAY_BUFFERS",
    "StopRequested",
    "checkpoint_callback_class",
    "progress_callback",
    "rich_available",
    "sigterm_stops",
    "tensorboard_available",
]

#: Replay buffers kept in ``checkpoints/`` (those of the latest checkpoints; older ones,
#: up to ~100 MB each, are deleted).
KEEP_REPLAY_BUFFERS = 2


class StopRequested(Exception):
    """SIGTERM arrived: stop at the next step, save and exit (like Ctrl-C)."""


def checkpoint_callback_class() -> type:
    """SB3's ``CheckpointCallback`` made atomic and stoppable (the class, built on first use)."""
    from stable_baselines3.common.callbacks import CheckpointCallback

    class AtomicCheckpointCallback(CheckpointCallback):
        """SB3's ``CheckpointCallback`` with safe, atomic checkpoints: the replay buffer
        (SAC) as ``.npz`` first, then the model zip, each written atomically
        (:mod:`nanoenv.files`), so a checkpoint whose model exists is complete; buffers
        older than the last :data:`KEEP_REPLAY_BUFFERS` checkpoints are deleted. It
        also ends training at the next step once ``stop_requested`` is set (SIGTERM)."""

        stop_requested = False

        def save_now(self) -> None:
            """Save a checkpoint at the current step count."""
            buffer = getattr(self.model, "replay_buffer", None)
            with_buffer = self.save_replay_buffer and buffer is not None
            if with_buffer:
                save_replay_buffer(buffer, self._checkpoint_path("replay_buffer_", "npz"))
            save_model(self.model, self._checkpoint_path(extension="zip"))
            if with_buffer:
                steps = sorted(
                    int(m.group(1))
                    for p in Path(self.save_path).glob(f"{self.name_prefix}_*_steps.zip")
                    if (m := re.fullmatch(rf"{self.name_prefix}_(\d+)_steps\.zip", p.name))
                )
                prune_replay_buffers(self.save_path, set(steps[-KEEP_REPLAY_BUFFERS:]))

        def _on_step(self) -> bool:
            if self.save_freq > 0 and self.n_calls % self.save_freq == 0:
                self.save_now()
            if self.stop_requested:
                raise StopRequested
            return True

    return AtomicCheckpointCallback


def progress_callback(total: int, initial: int) -> Any:
    """A tqdm progress bar over environment steps (SB3's own bar needs ``rich`` too)."""
    from stable_baselines3.common.callbacks import BaseCallback
    from tqdm.auto import tqdm

    class TqdmCallback(BaseCallback):
        def _on_training_start(self) -> None:
            self.bar = tqdm(total=total, initial=initial, unit="step", dynamic_ncols=True)

        def _on_step(self) -> bool:
            self.bar.update(self.model.num_timesteps - self.bar.n)
            return True

        def _on_training_end(self) -> None:
            self.bar.close()

    return TqdmCallback()


def rich_available() -> bool:
    """Whether ``rich`` is installed (SB3's own progress bar needs it, and tqdm)."""
    return importlib.util.find_spec("rich") is not None


def tensorboard_available() -> bool:
    """Whether ``tensorboard`` is installed (TensorBoard logs beside ``progress.csv``)."""
    return importlib.util.find_spec("tensorboard") is not None


def sigterm_stops(checkpoint: Any) -> Any:
    """Make SIGTERM stop training like Ctrl-C: it sets ``checkpoint.stop_requested``;
    returns the previous handler (``None`` outside the main thread, where signals cannot
    be handled)."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def stop(signum: int, frame: Any) -> None:
        checkpoint.stop_requested = True

    return signal.signal(signal.SIGTERM, stop)
