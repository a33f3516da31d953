"""Command-line interface: ``nanoenv <command> …`` (also ``python -m nanoenv``).

Each subcommand is one :class:`Subcommand` in :data:`SUBCOMMANDS`: a function that
adds its arguments to an :class:`argparse.ArgumentParser` and a function that runs
it and returns the exit code. Adding a command (``train``, ``evaluate``, …) means
writing those two functions and one registry entry. One module per command
(:mod:`~nanoenv.cli.simulate`, :mod:`~nanoenv.cli.calibrate`,
:mod:`~nanoenv.cli.predict`); the helpers they share live in
:mod:`~nanoenv.cli.arguments` and :mod:`~nanoenv.cli.console`.

Errors in the user's input (a parameter outside its bounds, an unknown preset, a
malformed time grid, an unreadable JSON file, …) are reported as one line
``nanoenv: error: <message>`` on stderr with exit code 2, never as a traceback.
"""

from __future__ import annotations

import argparse
import sys
import warnings

from nanoenv.cli.arguments import (
    OneLineParser,
    Subcommand,
    add_medium_arguments,
    default_time_grid,
    parse_times,
)
from nanoenv.cli.calibrate import CALIBRATE
from nanoenv.cli.console import EXIT_USAGE, PROG, UsageError, one_line
from nanoenv.cli.predict import PREDICT
from nanoenv.cli.simulate import (
    SIMULATE,
    formulation_from_args,
    load_json_parameters,
    mean_dissolution_time_h,
    t50_hours,
)
from nanoenv.devices import resolve_device
from nanoenv.threads import configure_threads

__all__ = [
    "EXIT_USAGE",
    "PROG",
    "SUBCOMMANDS",
    "Subcommand",
    "UsageError",
    "add_medium_arguments",
    "build_parser",
    "default_time_grid",
    "extra_subcommands",
    "formulation_from_args",
    "load_json_parameters",
    "main",
    "mean_dissolution_time_h",
    "parse_times",
    "t50_hours",
]

#: Every subcommand, in the order ``nanoenv --help`` lists them.
SUBCOMMANDS: dict[str, Subcommand] = {
    "simulate": SIMULATE,
    "calibrate": CALIBRATE,
    "predict": PREDICT,
}

#: Entry-point group through which other packages add subcommands (``agents`` adds
#: ``train`` and ``evaluate``); each entry point resolves to a :class:`Subcommand`.
ENTRY_POINT_GROUP = "nanoenv.commands"


def extra_subcommands() -> dict[str, Subcommand]:
    """Subcommands registered by installed packages in :data:`ENTRY_POINT_GROUP` (names
    already in :data:`SUBCOMMANDS` are ignored; one that fails to load is skipped with a
    warning)."""
    from importlib.metadata import entry_points

    found: dict[str, Subcommand] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in SUBCOMMANDS or ep.name in found:
            continue
        try:
            command = ep.load()
        except Exception as exc:  # a broken plug-in must not break the built-in commands
            warnings.warn(f"{PROG}: cannot load command {ep.name!r}: {exc}", stacklevel=2)
            continue
        if isinstance(command, Subcommand):
            found[ep.name] = command
    return found


def build_parser() -> argparse.ArgumentParser:
    """The ``nanoenv`` parser with one subparser per entry of :data:`SUBCOMMANDS`."""
    from nanoenv import __version__

    parser = OneLineParser(
        prog=PROG,
        description="nanoenv: a differentiable drug-release simulator and RL environments "
        "for designing drug-delivery nanoparticles.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        metavar="N",
        help="torch intra-op threads (default: 1 unless OMP_NUM_THREADS is set; "
        "see nanoenv.threads)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    sub.required = True
    for name, command in {**SUBCOMMANDS, **extra_subcommands()}.items():
        p = sub.add_parser(name, help=command.help, description=command.description)
        command.configure(p)
        p.set_defaults(_run=command.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``nanoenv`` with ``argv`` (default: ``sys.argv[1:]``) and return the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error already reported
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    try:
        configure_threads(args.threads)
        if isinstance(getattr(args, "device", None), str):
            resolve_device(args.device, "--device")  # every verb's --device, before any work
        return args._run(args)
    except (ValueError, OSError) as exc:
        print(f"{PROG}: error: {one_line(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
