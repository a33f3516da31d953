"""``nanoenv predict``: release curves of formulations given in the shipped data sets' CSV
schema, zero-shot or few-shot, scored where measured release is given.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import math
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from nanoenv.cli.arguments import (
    DATASETS,
    Subcommand,
    check_outputs,
)
from nanoenv.cli.console import (
    UsageError,
    metrics_line,
    warnings_as_lines,
)
from nanoenv.files import atomic_open

#: Curve id and release columns of each dataset's measured-curve CSV (for blank releases).
_RELEASE_COLUMNS = {
    "plai": ("Experimental_index", "Release"),
    "liposome": ("IVR_ID", "release_percent"),
}


def _configure_predict(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dataset",
        choices=DATASETS,
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
        raise UsageError(
            f"{path}: no usable rows (the file has no data rows, or the loader "
            "dropped them all: see the warnings); nothing to predict"
        )
    return table


def _run_predict(args: argparse.Namespace) -> int:
    from nanoenv import calibration

    inputs = [args.csv, args.formulations, args.curves, args.model]
    check_outputs(args, ("--out", "out"), inputs=inputs)
    with warnings_as_lines():
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
        lines.append(metrics_line(m))
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


PREDICT = Subcommand(
    help="predict release curves of formulations given in the data sets' CSV schema",
    description="Predict the cumulative release at every listed time of each "
    "formulation in a CSV with the schema of the shipped data (new formulations "
    "welcome), from the formulation alone. Where measured release is given, the last "
    "line reports MAE, RMSE and the share of curves with f2 >= 50.",
    configure=_configure_predict,
    run=_run_predict,
)
