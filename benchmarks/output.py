"""Writing benchmark results (shared by the benchmark scripts)."""

from __future__ import annotations

from pathlib import Path

from nanoenv.files import atomic_write


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (:func:`nanoenv.files.atomic_write`)."""
    atomic_write(path, text)
