"""What the command line prints besides results: one-line errors and warnings on stderr,
numbers and metrics formatted for a terminal.
"""

from __future__ import annotations

import contextlib
import sys
import warnings
from collections.abc import Iterator

#: Program name in messages and ``--help``.
PROG = "nanoenv"
#: Exit code for bad input (argparse uses the same).
EXIT_USAGE = 2


class UsageError(ValueError):
    """Bad command-line input detected by the CLI itself."""


def one_line(message: str) -> str:
    """``message`` with every run of whitespace (newlines included) made one space."""
    return " ".join(str(message).split())


def warn(message: str) -> None:
    """Print ``nanoenv: warning: <message>`` as one line on stderr."""
    print(f"{PROG}: warning: {one_line(message)}", file=sys.stderr)


@contextlib.contextmanager
def warnings_as_lines() -> Iterator[None]:
    """Report Python warnings raised inside as one ``nanoenv: warning: …`` line each."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        finally:
            seen: set[str] = set()
            for w in caught:
                text = str(w.message)
                if text not in seen:
                    seen.add(text)
                    warn(text)


def format_value(value: float | str) -> str:
    """A parameter value for a table: 6 significant digits, 3 in scientific notation
    outside ``[1e-3, 1e5)``; strings unchanged."""
    if isinstance(value, str):
        return value
    if value == 0 or 1e-3 <= abs(value) < 1e5:
        return f"{value:.6g}"
    return f"{value:.3g}"


def metrics_line(m: dict[str, float]) -> str:
    """``MAE=0.093 RMSE=0.131 f2>=50: 61% (n=153 curves)``."""
    return (
        f"MAE={m['mae']:.3f} RMSE={m['rmse']:.3f} f2>=50: {100 * m['f2_share']:.0f}% "
        f"(n={m['n_curves']} curves)"
    )
