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
import contextlib
import csv
import json
import math
import os
import sys
import uuid
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any, NoReturn

import torch

from nanoenv.calibration import DEFAULT_MEMBERS
from nanoenv.files import atomic_open, check_output_path
from nanoenv.kinetics.conditions import CONDITION_PRESETS, ReleaseConditions
from nanoenv.kinetics.constants import CONSTANTS_NAMES, SimulatorConstants, resolve_constants
from nanoenv.kinetics.drug import DRUGS, Drug
from nanoenv.kinetics.formulation import (
    GEOMETRY_NAMES,
    PARAMETERS,
    Carrier,
    Formulation,
    Geometry,
    ParameterSpec,
)
from nanoenv.kinetics.simulate import simulate_release
from nanoenv.kinetics.validation import check_sorted_times

__all__ = [
    "SUBCOMMANDS",
    "Subcommand",
    "add_medium_arguments",
    "build_parser",
    "default_time_grid",
    "main",
]

PROG = "nanoenv"
#: Exit code for bad input (argparse uses the same).
EXIT_USAGE = 2
DEFAULT_HORIZON_H = 720.0
DEFAULT_POINTS = 16
#: Most sampling times a generated grid (``--points``) may have.
MAX_POINTS = 10_000


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
        if name == "geometry" and isinstance(value, str):
            try:
                out[name] = float(Geometry.parse(value))
            except ValueError as exc:
                raise UsageError(f"{exc} (in --json file {path!r})") from None
            continue
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
    if isinstance(params.get("geometry"), str):
        params["geometry"] = float(Geometry.parse(params["geometry"]))
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


def _fmt_value(value: float | str) -> str:
    if isinstance(value, str):
        return value
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
                if field == "magnetic_field_ka_m":
                    parts[-1] += f" at {conditions.magnetic_frequency_khz[k].item():g} kHz"
        span = f"from {_fmt_hours(t0)}" if t1 is None else f"{t0:g}-{_fmt_hours(t1)}"
        segments.append((span, ", ".join(parts)))
    if len(segments) == 1:
        return [f"Conditions: {name} ({segments[0][1]} throughout)"]
    return [f"Conditions: {name}", *(f"    {span:<18} {text}" for span, text in segments)]


def _header(formulation: Formulation, drug: Drug, name: str, conditions: Any) -> list[str]:
    design = formulation.to_dicts()[0]
    carrier = design.pop("carrier")
    defaults: dict[str, float | str] = {p.name: p.default for p in PARAMETERS}
    defaults["geometry"] = GEOMETRY_NAMES[int(defaults["geometry"])]
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
    with atomic_open(path, "w", newline="", name="--csv") as handle:
        writer = csv.writer(handle)
        writer.writerow(["time_h", "time_d", "released_fraction", "released_percent"])
        for t, f in zip(times_h, release, strict=True):
            writer.writerow([f"{t:.6g}", f"{t / 24:.6g}", f"{f:.6f}", f"{100 * f:.4f}"])


def _plot(
    path: str,
    formulation: Formulation,
    times_h: list[float],
    release: list[float],
    conditions: ReleaseConditions,
    drug: Drug,
    conditions_name: str,
    carrier: str,
    constants: SimulatorConstants,
) -> None:
    from nanoenv.plotting import plot_release, save_figure

    horizon = max(times_h[-1], 1e-9)
    dense = torch.linspace(0.0, horizon, 400, dtype=torch.float64)
    dense = torch.unique(torch.cat([dense, torch.tensor(times_h, dtype=torch.float64)]))
    curve = simulate_release(formulation, dense, conditions, drug, constants=constants)[0]
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


def _configure_simulate(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "formulation parameters (physical units; unset parameters take their default)"
    )
    for spec in PARAMETERS:
        if spec.scale == "categorical":  # --geometry sphere|cylinder|slab
            group.add_argument(
                _flag(spec),
                dest=spec.name,
                choices=list(GEOMETRY_NAMES),
                default=None,
                help="device shape: sphere (radius), cylinder (radius; length = 2 x "
                "aspect ratio x radius) or slab (half-thickness = radius) (default: sphere)",
            )
            continue
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
    add_medium_arguments(medium)
    medium.add_argument(
        "--constants",
        choices=list(CONSTANTS_NAMES),
        default="literature",
        help="simulator constants: the literature values, or those calibrated on the "
        "shipped release data (microparticles to implants; see README) (default: literature)",
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
    _check_outputs(args, ("--csv", "csv"), ("--plot", "plot"), inputs=[args.json])
    formulation = formulation_from_args(args)
    drug = Drug.preset(args.drug)
    conditions = ReleaseConditions.preset(args.conditions)
    conditions_name = args.conditions.strip().lower()
    times = _times_from_args(args)
    constants = resolve_constants(args.constants)
    release = simulate_release(
        formulation, torch.tensor(times, dtype=torch.float64), conditions, drug,
        constants=constants,
    )[0].tolist()

    carrier = Carrier(int(formulation.carrier[0])).name.lower()
    lines = _header(formulation, drug, conditions_name, conditions)
    lines += [f"Constants: {args.constants}"]
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
        _plot(args.plot, formulation, times, release, conditions, drug, conditions_name, carrier,
              constants)  # fmt: skip
        lines.append(f"Wrote {args.plot}")
    print("\n".join(lines))
    return 0


def _check_outputs(
    args: argparse.Namespace, *flags: tuple[str, str], inputs: Sequence[str | None] = ()
) -> None:
    """Check every output file flag (``("--csv", "csv")``) before any work: not a symlink,
    device, FIFO or folder, not one of ``inputs``, and not another output flag's file."""
    given = [(flag, getattr(args, dest)) for flag, dest in flags if getattr(args, dest)]
    for i, (flag, path) in enumerate(given):
        others = [p for _, p in given[:i]]
        check_output_path(path, flag, inputs=[*inputs, *others])


def _fmt_hours_d(t: float) -> str:
    return f"{t:.1f} h ({t / 24:.2f} d)"


# ---------------------------------------------------------------------------------------
# nanoenv calibrate / nanoenv predict
# ---------------------------------------------------------------------------------------

_DATASETS = ("plai", "liposome")
#: Curve id and release columns of each dataset's measured-curve CSV (for blank releases).
_RELEASE_COLUMNS = {
    "plai": ("Experimental_index", "Release"),
    "liposome": ("IVR_ID", "release_percent"),
}


def _warn(message: str) -> None:
    print(f"{PROG}: warning: {_one_line(message)}", file=sys.stderr)


@contextlib.contextmanager
def _warnings_as_lines() -> Iterator[None]:
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
                    _warn(text)


def _configure_calibrate(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dataset",
        choices=[*_DATASETS, "both"],
        default="both",
        help="shipped data set(s) to fit (default: both; the constants are shared, each data "
        "set gets its own learned correction)",
    )
    parser.add_argument(
        "--steps",
        type=int,
        default=400,
        metavar="N",
        help="Adam steps of the constants fit (default: 400)",
    )
    parser.add_argument(
        "--correction-steps",
        type=int,
        default=300,
        metavar="N",
        help="Adam steps of each learned-correction member; 0 fits the constants only "
        "(default: 300)",
    )
    parser.add_argument(
        "--members",
        type=int,
        default=DEFAULT_MEMBERS,
        metavar="K",
        help="ensemble members of each learned correction "
        f"(default: {DEFAULT_MEMBERS})",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument(
        "--out",
        metavar="FILE.json",
        default="calibrated_constants.json",
        help="where to write the fitted constants and corrections (default: "
        "calibrated_constants.json; written atomically)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def _run_calibrate(args: argparse.Namespace) -> int:
    from nanoenv import calibration
    from nanoenv.data import liposome_curves, plai_curves

    if args.steps < 1:
        raise UsageError(f"--steps={args.steps} must be at least 1 (Adam steps of the constants "
                         "fit)")  # fmt: skip
    if args.correction_steps < 0:
        raise UsageError(f"--correction-steps={args.correction_steps} must be >= 0 (0: fit the "
                         "constants only)")  # fmt: skip
    if args.members < 1:
        raise UsageError(f"--members={args.members} must be at least 1")
    _check_outputs(args, ("--out", "out"))  # before the fit, not after it
    names = list(_DATASETS) if args.dataset == "both" else [args.dataset]
    loaders = {"plai": plai_curves, "liposome": liposome_curves}
    with _warnings_as_lines():
        curve_sets = [loaders[name]() for name in names]
    fit = calibration.fit_calibration(
        curve_sets,
        steps=args.steps,
        correction_steps=args.correction_steps,
        members=args.members,
        seed=args.seed,
        progress=not args.quiet,
    )
    path = calibration.save_calibration(fit, args.out)
    lines = [f"Fitted {len(fit.constants_fit.names)} constants on {', '.join(names)}:"]
    for name in fit.constants_fit.names:
        lines.append(f"  {name:<34} {_fmt_value(float(getattr(fit.constants, name))):>12}")
    for cs in curve_sets:
        for label, model in (
            ("constants", calibration.CalibratedModel(fit.constants)),
            ("constants + correction", fit.model(cs.name)),
        ):
            if label != "constants" and cs.name not in fit.corrections:
                continue
            m = calibration.curve_metrics(
                calibration.predict_curves(model, cs), cs.release, cs.mask
            )
            lines.append(f"{cs.name} training fit, {label}: {_metrics_line(m)}")
    lines.append(f"Wrote {path}")
    print("\n".join(lines))
    return 0


def _metrics_line(m: dict[str, float]) -> str:
    """``MAE=0.093 RMSE=0.131 f2>=50: 61% (n=153 curves)``."""
    return (
        f"MAE={m['mae']:.3f} RMSE={m['rmse']:.3f} f2>=50: {100 * m['f2_share']:.0f}% "
        f"(n={m['n_curves']} curves)"
    )


def _configure_predict(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dataset",
        choices=_DATASETS,
        required=True,
        help="schema of the input: plai (one long CSV) or liposome (formulations + curves)",
    )
    parser.add_argument(
        "--csv",
        metavar="FILE",
        default=None,
        help="plai: CSV in the schema of plai_release.csv (Experimental_index, DP_Group, "
        "LA/GA, Polymer_MW, ..., Time [days]); the Release column may be blank or absent",
    )
    parser.add_argument(
        "--formulations",
        metavar="FILE",
        default=None,
        help="liposome: CSV in the schema of liposome_formulations.csv",
    )
    parser.add_argument(
        "--curves",
        metavar="FILE",
        default=None,
        help="liposome: CSV in the schema of liposome_release_curves.csv (IVR_ID, "
        "time (Hrs), release_percent); release_percent may be blank or absent",
    )
    parser.add_argument(
        "--model",
        metavar="FILE.json",
        default=None,
        help="calibration written by 'nanoenv calibrate' (default: the one shipped with nanoenv)",
    )
    parser.add_argument(
        "--no-correction",
        action="store_true",
        help="use the calibrated constants alone, without the learned correction",
    )
    parser.add_argument(
        "--out",
        metavar="FILE.csv",
        default=None,
        help="write the predictions as CSV (curve_id, group, time_h, predicted_release, "
        "measured_release); default: print them as a table",
    )
    parser.add_argument(
        "--given-until-h",
        type=float,
        default=None,
        metavar="H",
        help="few-shot: condition each curve on its own measured points up to H hours "
        "(e.g. 24 for a one-day test; per-curve MAP of the mechanism parameters with the "
        "calibrated model as prior) and score the later points only",
    )


@contextlib.contextmanager
def _with_release_column(
    path: str, curve_column: str, release_column: str
) -> Iterator[tuple[str, set[str]]]:
    """The CSV at ``path`` with blank (or absent) releases filled with 0, so that the loader
    keeps rows of new formulations; yields the path to load and the ids of curves that
    lack a measurement. Line numbers are preserved for error messages."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.reader(handle))
    except FileNotFoundError:
        raise UsageError(f"no such file: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {path!r}: {exc}") from None
    if not rows:
        raise UsageError(f"{path}: the file is empty (expected a header line)")
    header = [h.strip() for h in rows[0]]
    if curve_column not in header:
        yield path, set()  # the loader reports the missing column
        return
    id_at = header.index(curve_column)
    add = release_column not in header
    at = len(header) if add else header.index(release_column)
    unmeasured: set[str] = set()
    changed = add
    out = [rows[0] + [release_column]] if add else [rows[0]]
    for row in rows[1:]:
        if not any(cell.strip() for cell in row):
            out.append(row)
            continue
        row = list(row) + [""] * max(0, at + 1 - len(row))
        if not row[at].strip():
            unmeasured.add(row[id_at].strip())
            row[at] = "0"
            changed = True
        out.append(row)
    if not changed:
        yield path, set()
        return
    target = Path(path)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "x", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerows(out)
    except OSError:  # read-only directory: use the system temporary directory
        import tempfile

        fd, name = tempfile.mkstemp(suffix=".csv")
        tmp = Path(name)
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerows(out)
    try:
        yield str(tmp), unmeasured
    except ValueError as exc:
        raise ValueError(str(exc).replace(str(tmp), path).replace(tmp.name, target.name)) from None
    finally:
        tmp.unlink(missing_ok=True)


def _load_prediction_curves(args: argparse.Namespace) -> tuple[Any, set[str]]:
    from nanoenv.data import liposome_curves, load_liposome, load_plai, plai_curves

    if args.dataset == "plai":
        if args.csv is None:
            raise UsageError("--dataset plai needs --csv FILE")
        if args.formulations is not None or args.curves is not None:
            raise UsageError("--formulations/--curves are for --dataset liposome; use --csv")
        curve_col, release_col = _RELEASE_COLUMNS["plai"]
        with _with_release_column(args.csv, curve_col, release_col) as (path, unmeasured):
            return plai_curves(_with_rows(load_plai(path), args.csv)), unmeasured
    if args.formulations is None or args.curves is None:
        raise UsageError("--dataset liposome needs --formulations FILE and --curves FILE")
    if args.csv is not None:
        raise UsageError("--csv is for --dataset plai; use --formulations and --curves")
    if not Path(args.formulations).is_file():
        raise UsageError(f"no such file: {args.formulations}")
    curve_col, release_col = _RELEASE_COLUMNS["liposome"]
    with _with_release_column(args.curves, curve_col, release_col) as (path, unmeasured):
        table = load_liposome(args.formulations, path)
        return liposome_curves(_with_rows(table, args.curves)), unmeasured


def _with_rows(table: Any, path: str) -> Any:
    """``table`` if it holds a row to predict; else a one-line error."""
    if len(table) == 0:
        raise UsageError(f"{path}: no usable rows (the file has no data rows, or the loader "
                         "dropped them all: see the warnings); nothing to predict")  # fmt: skip
    return table


def _run_predict(args: argparse.Namespace) -> int:
    from nanoenv import calibration

    inputs = [args.csv, args.formulations, args.curves, args.model]
    _check_outputs(args, ("--out", "out"), inputs=inputs)
    with _warnings_as_lines():
        curves, unmeasured = _load_prediction_curves(args)
        model = calibration.load_calibrated_model(
            None if args.no_correction else args.dataset, args.model
        )
    measured = torch.tensor([str(c) not in unmeasured for c in curves.curve_ids], dtype=torch.bool)
    scored = curves.mask
    given_h = args.given_until_h
    if given_h is None:
        pred = calibration.predict_curves(model, curves)
    else:
        from nanoenv import few_shot

        if not (math.isfinite(given_h) and given_h > 0.0):
            raise UsageError(f"--given-until-h={given_h:g} must be a positive number of hours")
        if not bool(measured.all()):
            raise UsageError(
                f"--given-until-h needs measured release for every curve; "
                f"{int((~measured).sum())} curve(s) have none"
            )
        if not bool(few_shot.given_points(curves, given_h).any()):
            raise UsageError(
                f"--given-until-h={given_h:g}: no measured point at or before {given_h:g} h"
            )
        pred = few_shot.predict_few_shot(model, curves, given_h)
        scored = few_shot.later_points(curves, given_h)
    source = args.model or "shipped calibration"
    members = len(model.corrections)
    lines = [
        f"Model: {source}, calibrated constants"
        + (f" + {members}-member learned correction" if members else " (no correction)")
        + (
            ""
            if given_h is None
            else f", few-shot: each curve conditioned on its points up to {given_h:g} h; "
            "metrics on the later points only"
        )
    ]
    rows = []
    times = curves.times_h.tolist()
    release = curves.release.tolist()
    mask = curves.mask.tolist()
    for b, (cid, group) in enumerate(zip(curves.curve_ids, curves.groups, strict=True)):
        for t in range(len(times[b])):
            if mask[b][t]:
                value = release[b][t] if bool(measured[b]) else None
                rows.append((cid, group, times[b][t], float(pred[b, t]), value))
    if args.out:
        _write_predictions(args.out, rows)
        lines.append(
            f"Wrote {len(rows)} predictions for {len(curves.curve_ids)} curves to {args.out}"
        )
    else:
        lines.append(
            f"{'curve':>8}  {'group':<20} {'time (h)':>10}  {'predicted %':>11}  {'measured %':>10}"
        )
        for cid, group, t, p, y in rows:
            shown = "" if y is None else f"{100 * y:.1f}"
            lines.append(f"{cid!s:>8}  {group[:20]:<20} {t:>10.4g}  {100 * p:>11.1f}  {shown:>10}")
    if bool(measured.any()):
        keep = torch.nonzero(measured)[:, 0]
        m = calibration.curve_metrics(pred[keep], curves.release[keep], scored[keep])
        lines.append(_metrics_line(m))
    else:
        lines.append(f"no measured release in the input: predictions only (n={len(rows)} points)")
    print("\n".join(lines))
    return 0


def _write_predictions(path: str, rows: list[tuple[Any, str, float, float, float | None]]) -> None:
    with atomic_open(path, "w", newline="", name="--out") as handle:
        writer = csv.writer(handle)
        writer.writerow(["curve_id", "group", "time_h", "predicted_release", "measured_release"])
        for cid, group, t, p, y in rows:
            writer.writerow([cid, group, f"{t:.6g}", f"{p:.6f}", "" if y is None else f"{y:.6f}"])


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
    "calibrate": Subcommand(
        help="fit the simulator constants (and learned corrections) to the shipped data",
        description="Fit the simulator constants to the shipped release data sets by "
        "gradient descent through the simulator, then a small learned correction of the "
        "mechanism parameters per data set, and write them as JSON.",
        configure=_configure_calibrate,
        run=_run_calibrate,
    ),
    "predict": Subcommand(
        help="predict release curves of formulations given in the data sets' CSV schema",
        description="Predict the cumulative release at every listed time of each "
        "formulation in a CSV with the schema of the shipped data (new formulations "
        "welcome), from the formulation alone. Where measured release is given, the last "
        "line reports MAE, RMSE and the share of curves with f2 >= 50.",
        configure=_configure_predict,
        run=_run_predict,
    ),
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

    parser = _Parser(
        prog=PROG,
        description="nanoenv: a differentiable drug-release simulator and RL environments "
        "for designing drug-delivery nanoparticles.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--threads", type=int, default=None, metavar="N",
                        help="torch intra-op threads (default: 1 unless OMP_NUM_THREADS is set; "
                        "see nanoenv.compute)")  # fmt: skip
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
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
        from nanoenv.compute import check_device, configure_threads

        configure_threads(args.threads)
        if isinstance(getattr(args, "device", None), str) and args.device != "auto":
            check_device(args.device)  # every verb's --device, before any work
        return args._run(args)
    except (ValueError, OSError) as exc:
        print(f"{PROG}: error: {_one_line(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
