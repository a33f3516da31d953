"""Argument helpers shared by the ``nanoenv`` subcommands: the one-line-error parser, the
:class:`Subcommand` record, the sampling-time grid, the drug and medium presets, the
output-path check and the names of the shipped data sets.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import NoReturn

from nanoenv.cli.console import (
    EXIT_USAGE,
    PROG,
    UsageError,
    one_line,
)
from nanoenv.files import check_output_path
from nanoenv.kinetics.conditions import CONDITION_PRESETS
from nanoenv.kinetics.drug import DRUGS

#: Last sampling time of the default grid, hours (30 days).
DEFAULT_HORIZON_H = 720.0
#: Sampling times of the default grid, 0 h and the horizon included.
DEFAULT_POINTS = 16
#: Most sampling times a generated grid (``--points``) may have.
MAX_POINTS = 10_000


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr (exit code 2)."""

    def error(self, message: str) -> NoReturn:
        hint = f" (see '{self.prog} --help')"
        self.exit(EXIT_USAGE, f"{PROG}: error: {one_line(message)}{hint}\n")


@dataclass(frozen=True)
class Subcommand:
    """One ``nanoenv`` subcommand.

    :param help: one-line summary shown by ``nanoenv --help``.
    :param description: paragraph shown by ``nanoenv <command> --help``.
    :param configure: adds the command's arguments to its parser.
    :param run: runs the command on the parsed arguments and returns the exit code.
    """

    help: str
    description: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


_HOUR_MANTISSAS = (1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0)
_DAY_MANTISSAS = (1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0)


def _nice_times(horizon_h: float) -> list[float]:
    """Round sampling times below ``horizon_h``: 1-1.5-2-3-4-5-6 × 10^k hours up to 6 h,
    8, 12 and 18 h, then 1-1.5-2-3-4-5-6-7-8 × 10^k days and 2, 3 and 4 weeks."""
    out = {8.0, 12.0, 18.0}
    for k in range(-4, 1):
        out.update(m * 10.0**k for m in _HOUR_MANTISSAS)
    for k in range(0, 6):
        out.update(24.0 * m * 10.0**k for m in _DAY_MANTISSAS)
    out.update(24.0 * d for d in (14.0, 21.0, 28.0))
    return sorted(t for t in out if t < horizon_h)


def default_time_grid(
    horizon_h: float = DEFAULT_HORIZON_H, points: int = DEFAULT_POINTS
) -> list[float]:
    """``points`` sampling times from 0 to ``horizon_h`` hours, denser early.

    The grid starts at 0 and ends at ``horizon_h``; between them the times are
    spaced geometrically (release is fastest early), from ``horizon_h / 1440``
    (30 min for 30 days) for long grids or a doubling sequence for short ones,
    then snapped to round values (0.5 h, 1.5 h, 12 h, 2 d, …) when that keeps
    them distinct.

    >>> default_time_grid(720.0, 5)
    [0.0, 96.0, 192.0, 360.0, 720.0]
    """
    if not (math.isfinite(horizon_h) and horizon_h > 0):
        raise UsageError(f"--horizon-h={horizon_h:g} must be a positive, finite number of hours")
    if not 2 <= points <= MAX_POINTS:
        raise UsageError(
            f"--points={points} must be in [2, {MAX_POINTS}] (sampling times, 0 h and the "
            "horizon included); give --times for an explicit grid"
        )
    if points == 2:
        return [0.0, float(horizon_h)]
    first = horizon_h / min(1440.0, 2.0 ** min(points - 2, 11))  # 2^11 > 1440: no overflow
    ratio = (horizon_h / first) ** (1.0 / (points - 2))
    raw = [first * ratio**i for i in range(points - 2)]
    nice = _nice_times(horizon_h)
    if nice:
        snapped = [min(nice, key=lambda c, t=t: abs(math.log(c / t))) for t in raw]
        if all(a < b for a, b in pairwise(snapped)):
            return [0.0, *snapped, float(horizon_h)]
    rounded = [*(float(f"{t:.3g}") for t in raw), float(horizon_h)]
    if all(a < b for a, b in pairwise(rounded)):
        return [0.0, *rounded]
    return [0.0, *raw, float(horizon_h)]


def parse_times(text: str) -> list[float]:
    """Parse ``--times`` ("0,1,2,24") into hours; the order and sign are checked later."""
    items = [s.strip() for s in text.split(",")]
    times = []
    for item in items:
        if not item:
            raise UsageError(
                f"--times {text!r} has an empty entry; give comma-separated hours such as "
                "0,1,24,168"
            )
        try:
            times.append(float(item))
        except ValueError:
            raise UsageError(
                f"--times entry {item!r} is not a number of hours; give comma-separated hours "
                "such as 0,1,24,168"
            ) from None
    return times


def add_medium_arguments(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    conditions_flag: str = "--conditions",
) -> None:
    """Add the release-medium and drug preset options of a subcommand.

    :param parser: the parser (or argument group) that takes them.
    :param conditions_flag: the medium's flag (``--conditions``, or another name such as
        ``--schedule``), default ``sink``, a name for :meth:`ReleaseConditions.preset`; the
        drug's is ``--drug``, default ``doxorubicin``, a name for :meth:`Drug.preset`.
    """
    parser.add_argument(
        conditions_flag,
        default="sink",
        metavar="PRESET",
        help=f"release-medium preset, one of: {', '.join(CONDITION_PRESETS)} (default: sink)",
    )
    parser.add_argument(
        "--drug",
        default="doxorubicin",
        metavar="PRESET",
        help=f"drug preset, one of: {', '.join(DRUGS)} (default: doxorubicin)",
    )


def check_outputs(
    args: argparse.Namespace, *flags: tuple[str, str], inputs: Sequence[str | None] = ()
) -> None:
    """Check every output file flag (``("--csv", "csv")``) before any work: not a symlink,
    device, FIFO or folder, not one of ``inputs``, and not another output flag's file."""
    given = [(flag, getattr(args, dest)) for flag, dest in flags if getattr(args, dest)]
    for i, (flag, path) in enumerate(given):
        others = [p for _, p in given[:i]]
        check_output_path(path, flag, inputs=[*inputs, *others])


#: The shipped release data sets ``calibrate`` fits and whose CSV schema ``predict`` reads.
DATASETS = ("plai", "liposome")
