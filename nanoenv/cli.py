"""Command-line interface: ``nanoenv <command> …`` (also ``python -m nanoenv``).

Each subcommand is one :class:`Subcommand` in :data:`SUBCOMMANDS`: a function that
adds its arguments to an :class:`argparse.ArgumentParser` and a function that runs
it and returns the exit code. Adding a command (``train``, ``evaluate``, …) means
writing those two functions and one registry entry.

Errors in the user's input (a parameter outside its bounds, an unknown preset, a
malformed time grid, an unreadable JSON file, …) are reported as one line
``nanoenv: error: <message>`` on stderr with exit code 2, never as a traceback.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any, NoReturn

import torch

from nanoenv.kinetics.conditions import CONDITION_PRESETS, ReleaseConditions
from nanoenv.kinetics.drug import DRUGS, Drug
from nanoenv.kinetics.formulation import PARAMETERS, Carrier, Formulation, ParameterSpec
from nanoenv.kinetics.simulate import simulate_release
from nanoenv.kinetics.validation import check_sorted_times

__all__ = ["SUBCOMMANDS", "Subcommand", "build_parser", "default_time_grid", "main"]

PROG = "nanoenv"
#: Exit code for bad input (argparse uses the same).
EXIT_USAGE = 2
DEFAULT_HORIZON_H = 720.0
DEFAULT_POINTS = 16


class UsageError(ValueError):
    """Bad command-line input detected by the CLI itself."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr (exit code 2)."""

    def error(self, message: str) -> NoReturn:
        hint = f" (see '{self.prog} --help')"
        self.exit(EXIT_USAGE, f"{PROG}: error: {_one_line(message)}{hint}\n")


def _one_line(message: str) -> str:
    return " ".join(str(message).split())


# ---------------------------------------------------------------------------------------
# Subcommand registry
# ---------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------
# Time grid
# ---------------------------------------------------------------------------------------

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
    if points < 2:
        raise UsageError(f"--points={points} must be at least 2 (0 h and the horizon)")
    if points == 2:
        return [0.0, float(horizon_h)]
    first = horizon_h / min(1440.0, 2.0 ** (points - 2))
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


# ---------------------------------------------------------------------------------------
# Formulation input
# ---------------------------------------------------------------------------------------


def _flag(spec: ParameterSpec) -> str:
    return "--" + spec.name.replace("_", "-")


def _unit(spec: ParameterSpec) -> str:
    return spec.unit or "dimensionless"


def _parameter_help(spec: ParameterSpec) -> str:
    used_by = (
        ""
        if len(spec.carriers) == len(Carrier)
        else f"; {'/'.join(c.name.lower() for c in spec.carriers)} only"
    )
    text = (
        f"{spec.description} [{_unit(spec)}; range {spec.low:g} to {spec.high:g}; "
        f"default {spec.default:g}{used_by}]"
    )
    return text.replace("%", "%%")


def load_json_parameters(path: str) -> dict[str, Any]:
    """Read a JSON object of formulation parameters (and optionally ``"carrier"``)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise UsageError(f"cannot read --json file {path!r}: {reason}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"--json file {path!r} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise UsageError(
            f"--json file {path!r} must hold a JSON object of parameter names to values; "
            f"got a {type(data).__name__}"
        )
    known = {p.name for p in PARAMETERS}
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = str(key).strip().replace("-", "_")
        if name == "carrier":
            if isinstance(value, bool) or not isinstance(value, str | int):
                raise UsageError(
                    f"carrier in --json file {path!r} must be 'polymer' or 'liposome'; "
                    f"got {json.dumps(value)}"
                )
            out[name] = Carrier.parse(value)
            continue
        if name not in known:
            raise UsageError(
                f"unknown formulation parameter {key!r} in --json file {path!r}; allowed: "
                f"carrier, {', '.join(sorted(known))}"
            )
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise UsageError(
                f"{name} in --json file {path!r} must be a number; got {json.dumps(value)}"
            )
        out[name] = float(value)
    return out


def formulation_from_args(args: argparse.Namespace) -> Formulation:
    """One design from ``--json`` (if any) overridden by the per-parameter flags."""
    params = load_json_parameters(args.json) if args.json else {}
    for spec in PARAMETERS:
        value = getattr(args, spec.name)
        if value is not None:
            params[spec.name] = value
    if args.carrier is not None:
        params["carrier"] = args.carrier
    for spec in PARAMETERS:
        value = params.get(spec.name)
        if value is not None and not math.isfinite(value):
            raise UsageError(
                f"{spec.name}={value} must be a finite number in the allowed range "
                f"[{spec.low:g}, {spec.high:g}] ({_unit(spec)})"
            )
    return Formulation.from_dict(params, dtype=torch.float64)


# ---------------------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------------------


def t50_hours(times_h: Sequence[float], release: Sequence[float]) -> float | None:
    """Time at which ``release`` first reaches 0.5 (linear interpolation); ``None`` if never."""
    for i, (t, f) in enumerate(zip(times_h, release, strict=True)):
        if f >= 0.5:
            if i == 0:
                return float(t)
            t0, f0 = times_h[i - 1], release[i - 1]
            return float(t0 + (0.5 - f0) * (t - t0) / (f - f0))
    return None


def mean_dissolution_time_h(times_h: Sequence[float], release: Sequence[float]) -> float | None:
    """Mean dissolution time (hours) of the release inside the grid; ``None`` if undefined."""
    if len(times_h) < 2 or release[-1] - release[0] <= 0:
        return None
    try:
        from nanoenv.metrics import mean_dissolution_time
    except ImportError:  # pragma: no cover - metrics ships with the package
        mid = [0.5 * (a + b) for a, b in pairwise(times_h)]
        d_f = [b - a for a, b in pairwise(release)]
        return sum(m * d for m, d in zip(mid, d_f, strict=True)) / sum(d_f)
    value = mean_dissolution_time(
        torch.tensor(times_h, dtype=torch.float64), torch.tensor(release, dtype=torch.float64)
    )
    return float(value)


def _fmt_value(value: float) -> str:
    if value == 0 or 1e-3 <= abs(value) < 1e5:
        return f"{value:.6g}"
    return f"{value:.3g}"


def _describe_drug(drug: Drug) -> str:
    kind = {1.0: "base", -1.0: "acid", 0.0: "neutral"}.get(float(drug.charge), "")
    return (
        f"{drug.name} ({float(drug.mw_g_mol):g} g/mol, logP {float(drug.logp):g}, "
        f"pKa {float(drug.pka):g}, {kind}, solubility {float(drug.solubility_mg_ml):g} mg/mL)"
    )


def _fmt_hours(t: float) -> str:
    return f"{t:g} h" if t < 48 else f"{t:g} h ({t / 24:g} d)"


def _describe_conditions(name: str, conditions: ReleaseConditions) -> list[str]:
    start = conditions.start_h.tolist()
    segments = []
    for k, t0 in enumerate(start):
        t1 = start[k + 1] if k + 1 < len(start) else None
        if t1 is not None and t1 == t0:
            continue  # zero-length padding segment
        parts = [
            f"pH {conditions.ph[k].item():g}",
            f"{conditions.temperature_c[k].item():g} °C",
        ]
        for field, label, unit in (
            ("light_mw_cm2", "light", "mW/cm²"),
            ("magnetic_field_ka_m", "magnetic field", "kA/m"),
            ("enzyme_activity", "enzyme activity", "x reference"),
        ):
            value = getattr(conditions, field)[k].item()
            if value:
                parts.append(f"{label} {value:g} {unit}")
        span = f"from {_fmt_hours(t0)}" if t1 is None else f"{t0:g}-{_fmt_hours(t1)}"
        segments.append((span, ", ".join(parts)))
    if len(segments) == 1:
        return [f"Conditions: {name} ({segments[0][1]} throughout)"]
    return [f"Conditions: {name}", *(f"    {span:<18} {text}" for span, text in segments)]


def _header(formulation: Formulation, drug: Drug, name: str, conditions: Any) -> list[str]:
    design = formulation.to_dicts()[0]
    carrier = design.pop("carrier")
    defaults = {p.name: p.default for p in PARAMETERS}
    units = {p.name: p.unit for p in PARAMETERS}
    lines = [f"Formulation ({carrier}; * = changed from the default):"]
    width = max(len(k) for k in design)
    for key, value in design.items():
        mark = "*" if value != defaults[key] else " "
        lines.append(f"  {mark} {key:<{width}}  {_fmt_value(value):>10}  {units[key]}".rstrip())
    lines.append(f"Drug: {_describe_drug(drug)}")
    lines += _describe_conditions(name, conditions)
    return lines


def _table(times_h: Sequence[float], release: Sequence[float]) -> list[str]:
    lines = [f"  {'time (h)':>10}  {'time (d)':>9}  {'released (%)':>12}"]
    lines.append(f"  {'-' * 10}  {'-' * 9}  {'-' * 12}")
    for t, f in zip(times_h, release, strict=True):
        lines.append(f"  {t:>10.4g}  {t / 24:>9.3f}  {100 * f:>12.1f}")
    return lines


def _write_csv(path: str, times_h: Sequence[float], release: Sequence[float]) -> None:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "x", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["time_h", "time_d", "released_fraction", "released_percent"])
            for t, f in zip(times_h, release, strict=True):
                writer.writerow([f"{t:.6g}", f"{t / 24:.6g}", f"{f:.6f}", f"{100 * f:.4f}"])
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _plot(
    path: str,
    formulation: Formulation,
    times_h: list[float],
    release: list[float],
    conditions: ReleaseConditions,
    drug: Drug,
    conditions_name: str,
    carrier: str,
) -> None:
    from nanoenv.plotting import plot_release, save_figure

    horizon = max(times_h[-1], 1e-9)
    dense = torch.linspace(0.0, horizon, 400, dtype=torch.float64)
    dense = torch.unique(torch.cat([dense, torch.tensor(times_h, dtype=torch.float64)]))
    curve = simulate_release(formulation, dense, conditions, drug)[0]
    radius = formulation.radius_nm.item()
    fig = plot_release(
        dense,
        curve,
        labels=[f"{carrier}, {radius:g} nm"],
        conditions=conditions,
        points=(times_h, release),
        title=f"{drug.name} release, {conditions_name.replace('_', ' ')} conditions",
    )
    save_figure(fig, path, dpi=150)


# ---------------------------------------------------------------------------------------
# nanoenv simulate
# ---------------------------------------------------------------------------------------


def _configure_simulate(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "formulation parameters (physical units; unset parameters take their default)"
    )
    for spec in PARAMETERS:
        group.add_argument(
            _flag(spec),
            dest=spec.name,
            type=float,
            default=None,
            metavar=(spec.unit or "X").upper(),
            help=_parameter_help(spec),
        )
    group.add_argument(
        "--carrier",
        choices=[c.name.lower() for c in Carrier],
        default=None,
        help="carrier family (default: polymer, or the JSON file's 'carrier')",
    )
    group.add_argument(
        "--json",
        metavar="FILE",
        default=None,
        help="JSON object of parameter names to values (and optionally 'carrier'); "
        "flags given on the command line override it",
    )

    medium = parser.add_argument_group("drug and release medium")
    medium.add_argument(
        "--conditions",
        default="sink",
        metavar="PRESET",
        help=f"release-medium preset, one of: {', '.join(CONDITION_PRESETS)} (default: sink)",
    )
    medium.add_argument(
        "--drug",
        default="doxorubicin",
        metavar="PRESET",
        help=f"drug preset, one of: {', '.join(DRUGS)} (default: doxorubicin)",
    )

    grid = parser.add_argument_group("time grid")
    grid.add_argument(
        "--times",
        default=None,
        metavar="H,H,...",
        help="comma-separated sampling times in hours, sorted, non-negative "
        "(e.g. 0,1,24,168); replaces --horizon-h/--points",
    )
    grid.add_argument(
        "--horizon-h",
        type=float,
        default=None,
        metavar="H",
        help=f"last sampling time, hours (default: {DEFAULT_HORIZON_H:g} = 30 days)",
    )
    grid.add_argument(
        "--points",
        type=int,
        default=None,
        metavar="N",
        help=f"number of sampling times including 0 h, spaced geometrically so that early "
        f"times are denser (default: {DEFAULT_POINTS})",
    )

    out = parser.add_argument_group("output")
    out.add_argument(
        "--plot", metavar="FILE.png", default=None, help="write a plot of the curve and schedule"
    )
    out.add_argument("--csv", metavar="FILE.csv", default=None, help="write the curve as CSV")


def _times_from_args(args: argparse.Namespace) -> list[float]:
    if args.times is not None:
        if args.horizon_h is not None or args.points is not None:
            raise UsageError("give either --times or --horizon-h/--points, not both")
        times = parse_times(args.times)
        check_sorted_times("--times", torch.tensor(times, dtype=torch.float64), "h")
        return times
    horizon = DEFAULT_HORIZON_H if args.horizon_h is None else args.horizon_h
    points = DEFAULT_POINTS if args.points is None else args.points
    return default_time_grid(horizon, points)


def _run_simulate(args: argparse.Namespace) -> int:
    formulation = formulation_from_args(args)
    drug = Drug.preset(args.drug)
    conditions = ReleaseConditions.preset(args.conditions)
    conditions_name = args.conditions.strip().lower()
    times = _times_from_args(args)
    release = simulate_release(
        formulation, torch.tensor(times, dtype=torch.float64), conditions, drug
    )[0].tolist()

    carrier = Carrier(int(formulation.carrier[0])).name.lower()
    lines = _header(formulation, drug, conditions_name, conditions)
    lines += ["", *_table(times, release), ""]
    mdt = mean_dissolution_time_h(times, release)
    lines.append(
        "Mean dissolution time: "
        + ("n/a (no release over the grid)" if mdt is None else f"{_fmt_hours_d(mdt)}")
    )
    t50 = t50_hours(times, release)
    lines.append(
        "t50 (50 % released): "
        + (
            f"{_fmt_hours_d(t50)}"
            if t50 is not None
            else f"not reached within {times[-1]:g} h (max {100 * max(release):.1f} %)"
        )
    )
    if args.csv:
        _write_csv(args.csv, times, release)
        lines.append(f"Wrote {args.csv}")
    if args.plot:
        _plot(args.plot, formulation, times, release, conditions, drug, conditions_name, carrier)
        lines.append(f"Wrote {args.plot}")
    print("\n".join(lines))
    return 0


def _fmt_hours_d(t: float) -> str:
    return f"{t:.1f} h ({t / 24:.2f} d)"


# ---------------------------------------------------------------------------------------
# Parser and entry point
# ---------------------------------------------------------------------------------------

#: Every subcommand, in the order ``nanoenv --help`` lists them.
SUBCOMMANDS: dict[str, Subcommand] = {
    "simulate": Subcommand(
        help="simulate the release curve of one formulation",
        description="Simulate the cumulative drug release of one formulation in a release "
        "medium and print it as a table (optionally as a CSV file and a plot).",
        configure=_configure_simulate,
        run=_run_simulate,
    ),
}


def build_parser() -> argparse.ArgumentParser:
    """The ``nanoenv`` parser with one subparser per entry of :data:`SUBCOMMANDS`."""
    from nanoenv import __version__

    parser = _Parser(
        prog=PROG,
        description="nanoenv: a differentiable drug-release simulator and RL environments "
        "for designing drug-delivery nanoparticles.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name, command in SUBCOMMANDS.items():
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
        return args._run(args)
    except (ValueError, OSError) as exc:
        print(f"{PROG}: error: {_one_line(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
