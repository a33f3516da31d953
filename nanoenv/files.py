"""Writing output files safely: the one atomic-write helper of nanoenv and agents.

Every result, checkpoint, plot and table that nanoenv or its agents write goes through
:func:`atomic_open` (or :func:`atomic_write`): the content is written to a temporary
file with a unique name in the target's own folder, flushed and ``fsync``-ed, then moved
over the target with :func:`os.replace`, and the folder entry is ``fsync``-ed. A reader
(or a run killed half-way, ``kill -9`` included) sees the old file or the new one,
never a truncated one, and two writers of one path never share a temporary file.

What is refused, with a one-line ``ValueError`` naming the path, before anything is
written:

* a target that exists and is not a regular file (``/dev/full``, a FIFO, a socket, a
  folder): replacing it would turn a device into a file or swallow a pipe;
* a target that is a symbolic link, unless ``follow_symlinks=True`` (then the file the
  link points to is replaced and the link is kept);
* (:func:`check_output_path`) an output that is one of the command's inputs, such as
  ``predict --csv F --out F``.

Command-line entry points call :func:`check_output_path` on their output paths before
any expensive work, so a bad ``--out`` is reported at once, not after a fit.

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> atomic_write(folder / "a.txt", "hello\\n").read_text()
'hello\\n'
>>> sorted(p.name for p in folder.iterdir())  # no temporary file left behind
['a.txt']
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

__all__ = ["atomic_open", "atomic_write", "check_output_path", "fsync_folder"]

#: Permissions of a new file (mkstemp's 0600 would hide shared results from the group).
NEW_FILE_MODE = 0o644


def _describe(mode: int) -> str:
    kinds = (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISSOCK, "a socket"),
    )
    return next((text for test, text in kinds if test(mode)), "not a regular file")


def _target(path: str | os.PathLike[str], name: str, follow_symlinks: bool) -> Path:
    """The file that a write to ``path`` replaces, after the symlink and file-type checks."""
    target = Path(path)
    if str(target) == "":
        raise ValueError(f"{name} is empty; give a file path")
    if target.is_symlink():
        if not follow_symlinks:
            raise ValueError(
                f"{name} {str(target)!r} is a symbolic link; refusing to replace it "
                "(give the real path, or pass follow_symlinks=True to write its target)"
            )
        target = Path(os.path.realpath(target))
    try:
        mode = target.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):  # new (or under a file: checked later)
        return target
    except OSError as exc:
        raise ValueError(f"{name} {str(target)!r} cannot be examined: {exc.strerror}") from None
    if not stat.S_ISREG(mode):
        raise ValueError(
            f"{name} {str(target)!r} is {_describe(mode)}; only a regular file (new or "
            "existing) can be written"
        )
    return target


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def check_output_path(
    path: str | os.PathLike[str],
    name: str = "--out",
    *,
    inputs: Iterable[str | os.PathLike[str] | None] = (),
    follow_symlinks: bool = False,
) -> Path:
    """Check an output path before any work is done; returns the file it will replace.

    :param path: the output file.
    :param name: how the user gave it (``"--out"``, ``"--csv"``), for the message.
    :param inputs: the command's input files; the output must be none of them.
    :param follow_symlinks: accept a symbolic link (its target is then written).
    :raises ValueError: (one line) the path is a symlink, an existing non-regular file
        (device, FIFO, folder), one of ``inputs``, or its folder is a file or not
        writable.
    """
    target = _target(path, name, follow_symlinks)
    for source in inputs:
        if source is not None and _same_file(target, Path(source)):
            raise ValueError(
                f"{name} {str(path)!r} is also an input of this command; refusing to "
                "overwrite an input (choose another output file)"
            )
    parent = target.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise ValueError(f"{name} {str(path)!r}: {str(parent)!r} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"{name} {str(path)!r}: folder {str(parent)!r} is not writable")
    return target


def fsync_folder(folder: str | os.PathLike[str]) -> None:
    """Flush a folder's entries to disk (so a rename survives a power cut); best effort on
    systems that cannot open folders."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_open(
    path: str | os.PathLike[str],
    mode: str = "w",
    *,
    encoding: str | None = "utf-8",
    newline: str | None = None,
    follow_symlinks: bool = False,
    name: str = "output file",
) -> Iterator[IO[Any]]:
    """Open ``path`` for an atomic (all-or-nothing) write; the file appears on leaving the
    ``with`` block, and an exception inside it leaves the old file (if any) untouched.

    :param path: the file to write; missing parent folders are created.
    :param mode: ``"w"`` (text) or ``"wb"`` (binary).
    :param encoding: text encoding (text mode only).
    :param newline: as for :func:`open` (``""`` for the csv module).
    :param follow_symlinks: write the target of a symbolic link (default: refuse links).
    :param name: how the path is named in error messages (``"--csv"``).
    :raises ValueError: the target is a symbolic link (unless allowed) or exists and is
        not a regular file.

    The temporary file is ``.<name>.<random>.tmp`` in the target's folder (unique: two
    writers never collide); an existing target keeps its permissions, a new one gets
    ``0644``.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"mode={mode!r}; allowed: 'w' (text), 'wb' (binary)")
    target = _target(path, name, follow_symlinks)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        permissions = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        permissions = NEW_FILE_MODE
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        os.fchmod(fd, permissions)
        if mode == "wb":
            handle: IO[Any] = os.fdopen(fd, "wb")
        else:
            handle = os.fdopen(fd, "w", encoding=encoding, newline=newline)
        with handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_folder(target.parent)


def atomic_write(
    path: str | os.PathLike[str],
    data: str | bytes,
    *,
    encoding: str = "utf-8",
    follow_symlinks: bool = False,
    name: str = "output file",
) -> Path:
    """Write ``data`` (text or bytes) to ``path`` atomically (see :func:`atomic_open`) and
    return the path written."""
    mode = "wb" if isinstance(data, bytes | bytearray) else "w"
    with atomic_open(
        path,
        mode,
        encoding=encoding if mode == "w" else None,
        follow_symlinks=follow_symlinks,
        name=name,
    ) as handle:
        handle.write(data)
    target = Path(path)
    return Path(os.path.realpath(target)) if follow_symlinks and target.is_symlink() else target
