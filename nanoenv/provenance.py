"""Where a result came from: the source commit and the package versions that made it
(recorded in run folders, calibration files and benchmark outputs).

>>> sorted(package_versions(["numpy"]))
['numpy', 'python']
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

__all__ = ["DEFAULT_PACKAGES", "git_commit", "package_versions"]

#: Distributions whose versions a run records by default.
DEFAULT_PACKAGES = ("torch", "stable-baselines3", "gymnasium", "nanoenv", "numpy")
#: The source checkout (when nanoenv is not installed from a wheel).
SOURCE_ROOT = Path(__file__).resolve().parent.parent


def git_commit(root: str | Path = SOURCE_ROOT, *, mark_dirty: bool = True) -> str | None:
    """The commit checked out at ``root``, with ``-dirty`` when tracked files are modified
    (and ``mark_dirty``); ``None`` outside a git checkout or without git."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        if not mark_dirty:
            return out.stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def package_versions(packages: Sequence[str] = DEFAULT_PACKAGES) -> dict[str, str | None]:
    """``{"python": ..., package: version or None}`` of the running interpreter."""
    out: dict[str, str | None] = {"python": sys.version.split()[0]}
    for name in packages:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out
