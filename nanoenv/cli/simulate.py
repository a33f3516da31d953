"""``nanoenv simulate``: the release curve of one formulation, as a table (optionally a
CSV file and a plot).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
from collections.abc import Sequence
from itertools import pairwise
from pathlib import Path
from typing import Any

import torch

from nanoenv.cli.arguments import (
    DEFAULT_HORIZON_H,
    DEFAULT_POINTS,
    Subcommand,
    add_medium_arguments,
    check_outputs,
    default_time_grid,
    parse_times,
)
from nanoenv.cli.console import (
    UsageError,
    format_value,
)
from nanoenv.files import atomic_open
from nanoenv.kinetics.conditions import ReleaseConditions
from nanoenv.kinetics.constants import CONSTANTS_NAMES, SimulatorConstants, resolve_constants
from nanoenv.kinetics.drug import Drug
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
        lines.append(f"  {mark} {key:<{width}}  {format_value(value):>10}  {units[key]}".rstrip())
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
    check_outputs(args, ("--csv", "csv"), ("--plot", "plot"), inputs=[args.json])
    formulation = formulation_from_args(args)
    drug = Drug.preset(args.drug)
    conditions = ReleaseConditions.preset(args.conditions)
    conditions_name = args.conditions.strip().lower()
    times = _times_from_args(args)
    constants = resolve_constants(args.constants)
    release = simulate_release(
        formulation,
        torch.tensor(times, dtype=torch.float64),
        conditions,
        drug,
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
        _plot(
            args.plot,
            formulation,
            times,
            release,
            conditions,
            drug,
            conditions_name,
            carrier,
            constants,
        )
        lines.append(f"Wrote {args.plot}")
    print("\n".join(lines))
    return 0


def _fmt_hours_d(t: float) -> str:
    return f"{t:.1f} h ({t / 24:.2f} d)"


SIMULATE = Subcommand(
    help="simulate the release curve of one formulation",
    description="Simulate the cumulative drug release of one formulation in a release "
    "medium and print it as a table (optionally as a CSV file and a plot).",
    configure=_configure_simulate,
    run=_run_simulate,
)
