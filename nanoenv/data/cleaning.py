"""How a release CSV is cleaned: the cleaning report (:class:`CleaningReport`,
:class:`ExcludedRow`, :class:`DataCleaningWarning`), reading every cell as text, the
validation that names the file, line and column of a bad value, and the per-curve
cleaning steps (clip, exclude, sort, merge duplicates, running maximum). The steps are
listed in :mod:`nanoenv.data.loaders`, which applies them to each shipped data set.
"""

from __future__ import annotations

import codecs
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "CLIP_TOLERANCE",
    "REJECT_TOLERANCE",
    "CleaningReport",
    "DataCleaningWarning",
    "ExcludedRow",
    "check_integer_ids",
    "check_ranges",
    "clean_curves",
    "exclude_missing",
    "finish_table",
    "numeric_columns",
    "read_csv_text",
    "require_columns",
    "row_error",
]

CLIP_TOLERANCE = 0.05
#: Fractions further than this outside [0, 1] are a unit or schema error (ValueError).
REJECT_TOLERANCE = 0.25


class DataCleaningWarning(UserWarning):
    """Rows of a dataset were excluded or values were clamped; see the cleaning report."""


@dataclass(frozen=True)
class ExcludedRow:
    """One CSV row that could not be used, and why.

    :param file: file name (or path of a user file).
    :param line: 1-based line number in the file (line 1 is the header).
    :param curve_id: curve the row belongs to (``None`` when unknown).
    :param column: column holding the offending value.
    :param value: the offending value as read (``None`` when missing).
    :param reason: why the row cannot be used.
    """

    file: str
    line: int
    curve_id: int | None
    column: str
    value: float | str | None
    reason: str


@dataclass
class CleaningReport:
    """What a loader changed, excluded or kept missing (in ``df.attrs["cleaning_report"]``).

    Counts refer to data points (rows of the long table) unless named ``curves``.

    :param dataset: ``"plai"`` or ``"liposome"``.
    :param files: the files read.
    :param rows_read: data rows read (blank lines not counted).
    :param blank_lines: blank lines skipped.
    :param bom_stripped: files whose header started with a UTF-8 byte-order mark.
    :param release_unit: unit of the release column in the file (``"fraction"`` or ``"percent"``).
    :param dropped_columns: leaky or unused columns not carried into the table.
    :param curves: curves in the cleaned table.
    :param points: points (rows) in the cleaned table.
    :param clipped_above_one: points in ``(1, 1.05]`` clipped to 1.
    :param clipped_below_zero: points in ``[-0.05, 0)`` clipped to 0.
    :param curves_reordered: curves whose points were not in time order.
    :param duplicate_times_merged: points removed by merging duplicate times (mean release).
    :param points_raised_by_running_max: points raised to make curves non-decreasing.
    :param largest_step_down: largest drop (fraction) removed by the running maximum.
    :param missing: per column, the number of curves whose value is missing (kept as NaN).
    :param excluded: every row that could not be used.
    :param notes: other observations (formulations without curves, values recoded).
    """

    dataset: str
    files: list[str]
    rows_read: int = 0
    blank_lines: int = 0
    bom_stripped: list[str] = field(default_factory=list)
    release_unit: str = "fraction"
    dropped_columns: list[str] = field(default_factory=list)
    curves: int = 0
    points: int = 0
    clipped_above_one: int = 0
    clipped_below_zero: int = 0
    curves_reordered: int = 0
    duplicate_times_merged: int = 0
    points_raised_by_running_max: int = 0
    largest_step_down: float = 0.0
    missing: dict[str, int] = field(default_factory=dict)
    excluded: list[ExcludedRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """The report as plain Python objects (JSON-serialisable)."""
        return asdict(self)

    def excluded_by_reason(self) -> dict[str, int]:
        """Number of excluded rows per reason."""
        counts: dict[str, int] = {}
        for row in self.excluded:
            counts[row.reason] = counts.get(row.reason, 0) + 1
        return counts

    def summary(self) -> str:
        """A short human-readable summary."""
        lines = [
            f"{self.dataset}: {self.curves} curves, {self.points} points "
            f"from {self.rows_read} rows ({', '.join(self.files)})",
            f"  release unit in file: {self.release_unit}",
        ]
        if self.bom_stripped:
            lines.append(f"  UTF-8 BOM stripped from: {', '.join(self.bom_stripped)}")
        if self.dropped_columns:
            lines.append(f"  dropped columns: {', '.join(self.dropped_columns)}")
        if self.blank_lines:
            lines.append(f"  blank lines skipped: {self.blank_lines}")
        lines += [
            f"  clipped to 1 (within {CLIP_TOLERANCE}): {self.clipped_above_one}; "
            f"clipped to 0: {self.clipped_below_zero}",
            f"  curves re-sorted by time: {self.curves_reordered}; "
            f"duplicate times merged: {self.duplicate_times_merged}",
            f"  points raised by running max: {self.points_raised_by_running_max} "
            f"(largest step down {self.largest_step_down:.4f})",
        ]
        if self.missing:
            lines.append(
                "  curves with missing values (kept NaN): "
                + ", ".join(f"{k}={v}" for k, v in self.missing.items())
            )
        for reason, n in self.excluded_by_reason().items():
            lines.append(f"  excluded {n} row(s): {reason}")
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)


def row_error(file: str, line: int | str, column: str, message: str) -> ValueError:
    """The ``ValueError`` for a bad value: ``<file>, line <n>, column '<c>': <message>``."""
    return ValueError(f"{file}, line {line}, column {column!r}: {message}")


def read_csv_text(path: Path, name: str, report: CleaningReport) -> pd.DataFrame:
    """Read every cell as text, strip a BOM and header spaces, number the lines, drop blanks."""
    with path.open("rb") as handle:
        has_bom = handle.read(len(codecs.BOM_UTF8)) == codecs.BOM_UTF8
    # utf-8-sig drops a leading BOM; strip any left glued to the first name, too
    table = pd.read_csv(path, dtype=str, encoding="utf-8-sig", skip_blank_lines=False)
    columns = [str(c) for c in table.columns]
    if columns and columns[0].startswith("\ufeff"):
        has_bom = True
        columns[0] = columns[0].lstrip("\ufeff")
    if has_bom:
        report.bom_stripped.append(name)
    table.columns = [c.strip() for c in columns]
    for column in table.columns:
        if table[column].notna().any():
            table[column] = table[column].str.strip().replace("", np.nan)
    # row i of the frame is line i + 2 of the file (line 1 is the header)
    table["source_line"] = np.arange(len(table), dtype=np.int64) + 2
    blank = table.drop(columns="source_line").isna().all(axis=1)
    report.blank_lines += int(blank.sum())
    table = table.loc[~blank].reset_index(drop=True)
    report.rows_read += len(table)
    return table


def require_columns(table: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    """``ValueError`` naming the header line when a required column is missing."""
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise row_error(
            name,
            "1 (header)",
            missing[0],
            f"required column(s) {missing} missing; the file has columns "
            f"{[c for c in table.columns if c != 'source_line']}",
        )


def numeric_columns(
    table: pd.DataFrame,
    schema: dict[str, tuple[str, float, tuple[float, float] | None]],
    name: str,
) -> pd.DataFrame:
    """Convert the schema's columns to float (``ValueError`` on text in a numeric column)."""
    out = table.copy()
    for column in schema:
        if column not in table.columns:
            continue
        values = pd.to_numeric(table[column], errors="coerce").astype(np.float64)
        bad = (values.isna() & table[column].notna()) | np.isinf(values)
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise row_error(
                name,
                int(table["source_line"].iloc[i]),
                column,
                f"{table[column].iloc[i]!r} is not a finite number",
            )
        out[column] = values
    return out


def check_ranges(
    table: pd.DataFrame,
    schema: dict[str, tuple[str, float, tuple[float, float] | None]],
    name: str,
    hints: dict[str, str] | None = None,
) -> None:
    """``ValueError`` naming line and column for the first value outside its valid range."""
    hints = hints or {}
    for column, (_, _, bounds) in schema.items():
        if bounds is None or column not in table.columns:
            continue
        low, high = bounds
        if low == -np.inf and high == np.inf:
            continue  # finiteness was checked on conversion
        values = table[column]
        bad = (values < low) | (values > high)
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise row_error(
                name,
                int(table["source_line"].iloc[i]),
                column,
                f"value {values.iloc[i]:g} is outside the valid range "
                f"{_describe_range(low, high)}{hints.get(column, '')}",
            )


def _describe_range(low: float, high: float) -> str:
    if 0 < low < 1e-100:
        return "> 0" if high == np.inf else f"(0, {high:g}]"
    if high == np.inf:
        return f">= {low:g}"
    if low == -np.inf:
        return f"<= {high:g}"
    return f"[{low:g}, {high:g}]"


def check_integer_ids(table: pd.DataFrame, column: str, name: str) -> None:
    """``ValueError`` naming line and column for the first non-integer curve id."""
    values = table[column]
    bad = values.notna() & (values != np.round(values))
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise row_error(
            name,
            int(table["source_line"].iloc[i]),
            column,
            f"id {values.iloc[i]!r} is not an integer",
        )


def exclude_missing(
    table: pd.DataFrame, columns: Sequence[str], id_column: str, name: str, report: CleaningReport
) -> pd.DataFrame:
    """Drop rows with a missing value in ``columns``, listing each in the report."""
    missing = table[list(columns)].isna()
    drop = missing.any(axis=1)
    for i in np.flatnonzero(drop.to_numpy()):
        row = table.iloc[i]
        column = columns[int(np.flatnonzero(missing.iloc[i].to_numpy())[0])]
        cid = row[id_column]
        report.excluded.append(
            ExcludedRow(
                name,
                int(row["source_line"]),
                None if pd.isna(cid) else int(cid),
                column,
                None,
                f"missing {column}: the row cannot be used",
            )
        )
    return table.loc[~drop].reset_index(drop=True)


def clean_curves(
    table: pd.DataFrame,
    name: str,
    report: CleaningReport,
    release_column: str,
    release_scale: float,
) -> pd.DataFrame:
    """Clip, exclude, sort, merge duplicates and enforce monotonicity, per curve.

    ``table`` holds ``curve_id``, ``time_h``, ``release`` (fraction) and
    ``source_line`` plus per-curve constant columns. ``release_column`` and
    ``release_scale`` (file units per fraction) name excluded values as in the file.
    """
    release = table["release"]
    beyond = (release > 1.0 + CLIP_TOLERANCE) | (release < -CLIP_TOLERANCE)
    for i in np.flatnonzero(beyond.to_numpy()):
        row = table.iloc[i]
        report.excluded.append(
            ExcludedRow(
                name,
                int(row["source_line"]),
                int(row["curve_id"]),
                release_column,
                float(f"{row['release'] * release_scale:.12g}"),  # undo the unit round-off
                f"release beyond the clipping tolerance [-{CLIP_TOLERANCE}, "
                f"1 + {CLIP_TOLERANCE}] (as a fraction): not clipped, excluded",
            )
        )
    table = table.loc[~beyond].copy()
    report.clipped_above_one += int((table["release"] > 1.0).sum())
    report.clipped_below_zero += int((table["release"] < 0.0).sum())
    table["release"] = table["release"].clip(0.0, 1.0)

    unsorted = table.groupby("curve_id", sort=False)["time_h"].apply(
        lambda t: bool((np.diff(t.to_numpy()) < 0).any())
    )
    report.curves_reordered += int(unsorted.sum())
    table = table.sort_values(["curve_id", "time_h"], kind="stable")

    n_before = len(table)
    constant = [c for c in table.columns if c not in ("time_h", "release", "source_line")]
    aggregations = {c: "first" for c in constant if c != "curve_id"}
    aggregations |= {"release": "mean", "source_line": "first"}
    table = table.groupby(["curve_id", "time_h"], sort=True, as_index=False, dropna=False).agg(
        aggregations
    )
    report.duplicate_times_merged += n_before - len(table)

    running = table.groupby("curve_id", sort=False)["release"].cummax()
    raised = running > table["release"]
    report.points_raised_by_running_max += int(raised.sum())
    if raised.any():
        report.largest_step_down = max(
            report.largest_step_down, float((running - table["release"]).max())
        )
    table["release"] = running
    return table.reset_index(drop=True)


def finish_table(
    table: pd.DataFrame, columns: Sequence[str], report: CleaningReport
) -> pd.DataFrame:
    """Keep ``columns``, record the curve and point counts in ``report``, attach it as
    ``table.attrs["cleaning_report"]`` and warn (:class:`DataCleaningWarning`) when rows
    were excluded."""
    table = table.loc[:, list(columns)].reset_index(drop=True)
    table["curve_id"] = table["curve_id"].astype(np.int64)
    table["source_line"] = table["source_line"].astype(np.int64)
    report.curves = int(table["curve_id"].nunique())
    report.points = len(table)
    table.attrs["cleaning_report"] = report
    if report.excluded:
        warnings.warn(
            f"{report.dataset}: {len(report.excluded)} row(s) could not be used and were "
            "excluded: "
            + "; ".join(f"{n} x {reason}" for reason, n in report.excluded_by_reason().items())
            + " (details in df.attrs['cleaning_report'].excluded)",
            DataCleaningWarning,
            stacklevel=3,
        )
    return table
