"""Provenance of written results: which source commit produced them.

The one ``git_commit`` helper of nanoenv and agents: calibration files
(:func:`nanoenv.calibration.save_constants`) and training runs record it in their metadata.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

__all__ = ["git_commit"]

#: Seconds each ``git`` call may take before the commit is reported as unknown.
GIT_TIMEOUT_S = 10.0


def git_commit(mark_dirty: bool = False) -> str | None:
    """The commit (40 hex digits) of the git checkout nanoenv is imported from, or
    ``None`` when it is not a git checkout or ``git`` is missing or fails.

    :param mark_dirty: append ``"-dirty"`` when tracked files differ from the commit.
    """
    root = Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
            check=False,
        )
        commit = out.stdout.strip()
        if out.returncode != 0 or not commit:
            return None
        if not mark_dirty:
            return commit
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("-dirty" if status.stdout.strip() else "")
