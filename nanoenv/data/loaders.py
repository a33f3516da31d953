"""Loaders for the shipped in-vitro release datasets: tidy long tables in canonical units.

Two public datasets ship with the package (``nanoenv/data/files``, read with
:mod:`importlib.resources`, so a non-editable install works offline; licenses
and citations are in ``files/LICENSES.md``):

* **PLAI** — polymeric long-acting injectables, Bannigan et al., *Nat. Commun.*
  14, 35 (2023), doi:10.1038/s41467-022-35343-w (MIT).
  :func:`load_plai` reads ``plai/plai_release.csv``.
* **Liposome** — liposome in-vitro release tests, Yanes et al., *Digital
  Discovery* (2025), doi:10.1039/D5DD00112A, and *Int. J. Pharm. X* (2025)
  100393, doi:10.1016/j.ijpx.2025.100393 (CC BY 4.0).
  :func:`load_liposome` reads ``liposome/liposome_formulations.csv`` and
  ``liposome/liposome_release_curves.csv``.

Both return one row per (curve, time point) with ``curve_id``, ``group`` (the
label to split cross-validation folds by: PLAI ``DP_Group``, liposome
``API_name``), ``time_h`` (hours), ``release`` (cumulative fraction, 0–1) and the
formulation, drug and medium columns in snake_case with the unit in the name.
``source_line`` is the 1-based line of the row in its CSV file (line 1 is the
header). The columns are listed in :data:`PLAI_COLUMNS` and
:data:`LIPOSOME_COLUMNS`. The leaky PLAI columns ``T=0.25``, ``T=0.5`` and
``T=1.0`` (measured release at 0.25, 0.5 and 1 day) are **dropped**: they are
the curve itself and must never be model inputs.

Cleaning (every step is counted in the :class:`CleaningReport` attached as
``df.attrs["cleaning_report"]``; nothing is dropped without being listed there
and announced by a :class:`DataCleaningWarning`):

1. **Byte-order mark.** A UTF-8 BOM glued to the first header name (Excel
   exports) is stripped; header names are stripped of surrounding spaces.
2. **Blank lines** are skipped (counted).
3. **Units.** PLAI ``Time`` is in days and becomes hours (×24); PLAI
   ``Release`` is already a fraction; liposome ``release_percent`` is percent
   and becomes a fraction (÷100). Polymer molecular weight Da → kDa.
4. **Validation** (``ValueError`` naming the file, the 1-based line and the
   column): a missing required column, a non-numeric value in a numeric
   column, a negative time, a release far outside the valid range (fractions
   outside ``[-0.25, 1.25]``, percentages outside ``[-25, 125]`` — usually a
   unit mix-up), a physically impossible formulation value (e.g. a negative
   molecular weight, a pH outside 0–14), an unknown PLAI polymer label or
   liposome structure type, formulation values that change within one PLAI
   curve, or a liposome release test listed twice.
5. **Missing values.** A row missing its curve id, time or release, or (PLAI)
   any formulation value, or (liposome) its drug name or descriptors, cannot be
   used: it is excluded and reported. A liposome curve whose ``IVR_ID`` has no
   formulation row is excluded and reported. Optional liposome values that are
   often unreported (zeta potential for about half the tests, size, PDI,
   drug:lipid ratio, medium pH and temperature, structure type) are kept as NaN
   in the table; :func:`nanoenv.data.liposome_curves` fills them (with
   indicator features). A lipid composition given as ``weighted_Mw = 0`` (no
   lipid has zero mass: the value is missing) has its ``weighted_Mw`` and
   ``weighted_Tm`` set to NaN; a zero ``weighted_Tm`` with a real
   ``weighted_Mw`` is kept (fluid lipids such as POPC, Tm −2 °C, do average to
   about 0 °C).
6. **Out-of-range releases.** Points in ``(1, 1.05]`` are clipped to 1 and
   points in ``[-0.05, 0)`` to 0 (digitisation error of a few percent around
   the 0 % and 100 % lines). Points beyond those tolerances (but not far
   enough to be a unit error) are excluded and reported, not clipped.
7. **Order.** Points are sorted by time within each curve (some liposome curves
   were digitised backwards or with the first point last).
8. **Duplicate time points** in one curve are merged into one point whose
   release is the mean of the duplicates (replicate readings or a vertical
   jump digitised at one abscissa).
9. **Steps down.** Cumulative release cannot decrease, but digitised curves
   (points read off published plots) and fluorescence read-outs carry noise of
   a few percent, so a few points lie below an earlier one. Each curve is made
   non-decreasing by a running maximum; the number of raised points and the
   largest drop are reported.

A user CSV in the same schema as the shipped files (see the ``path``
arguments) goes through the same validation and cleaning.
"""

from __future__ import annotations

import codecs
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

__all__ = [
    "LIPOSOME_COLUMNS",
    "LIPOSOME_STRUCTURES",
    "PLAI_COLUMNS",
    "PLAI_LEAKY_COLUMNS",
    "PLAI_POLYMERS",
    "CleaningReport",
    "DataCleaningWarning",
    "ExcludedRow",
    "data_file",
    "load_liposome",
    "load_plai",
    "parse_dp_group",
]

#: Polymer labels of the PLAI dataset (the suffix of ``DP_Group``). ``PLGA``:
#: poly(lactide-co-glycolide); ``PLA``: polylactide; ``PCL``: polycaprolactone;
#: ``PEA``: poly(ester amide); ``PVL-co-PAVL``: poly(valerolactone-co-
#: allylvalerolactone); ``PLA-co-PALA`` / ``PLGA-co-PALA`` / ``PLGA-co-PAVL``:
#: (glycolide-)lactide copolymers with allyl-lactide / allyl-valerolactone, the
#: allyl groups being the cross-linking sites (``CL Ratio``).
PLAI_POLYMERS: tuple[str, ...] = (
    "PLGA",
    "PLA",
    "PCL",
    "PEA",
    "PVL-co-PAVL",
    "PLA-co-PALA",
    "PLGA-co-PALA",
    "PLGA-co-PAVL",
)

#: PLAI columns that hold the measured release at 0.25, 0.5 and 1 day: they leak
#: the curve, so the loader drops them.
PLAI_LEAKY_COLUMNS: tuple[str, ...] = ("T=0.25", "T=0.5", "T=1.0")

#: Liposome lamellarity/size classes: small, large and multilamellar vesicles,
#: and large multivesicular vesicles.
LIPOSOME_STRUCTURES: tuple[str, ...] = ("SUV", "LUV", "MLV", "LMVV")

#: Fractions within this distance outside [0, 1] are clipped (digitisation error).
CLIP_TOLERANCE = 0.05
#: Fractions further than this outside [0, 1] are a unit or schema error (ValueError).
REJECT_TOLERANCE = 0.25

# -- schemas ---------------------------------------------------------------------------------
# source column -> (output column, unit scale, (low, high) physically valid range or None)
_PLAI_NUMERIC: dict[str, tuple[str, float, tuple[float, float] | None]] = {
    "Experimental_index": ("curve_id", 1.0, None),
    "Time": ("time_h", 24.0, (0.0, np.inf)),
    "Release": ("release", 1.0, (-REJECT_TOLERANCE, 1.0 + REJECT_TOLERANCE)),
    "LA/GA": ("la_ga_ratio", 1.0, (0.0, np.inf)),
    "Polymer_MW": ("polymer_mw_kda", 1e-3, (1e-300, np.inf)),
    "CL Ratio": ("crosslink_ratio", 1.0, (0.0, 1.0)),
    "DLC": ("drug_loading", 1.0, (0.0, 1.0)),
    "Initial D/M ratio": ("initial_drug_polymer_ratio", 1.0, (0.0, np.inf)),
    "SA-V": ("sa_v_per_mm", 1.0, (1e-300, np.inf)),
    "SE": ("solubility_enhancer_fraction", 1.0, (0.0, 1.0)),
    "Drug_Mw": ("drug_mw_g_mol", 1.0, (1e-300, np.inf)),
    "Drug_LogP": ("drug_logp", 1.0, (-np.inf, np.inf)),
    "Drug_Pka": ("drug_pka", 1.0, (-np.inf, np.inf)),
    "Drug_Tm": ("drug_tm_c", 1.0, (-273.15, np.inf)),
    "Drug_TPSA": ("drug_tpsa_a2", 1.0, (0.0, np.inf)),
    "Drug_NHA": ("drug_h_acceptors", 1.0, (0.0, np.inf)),
}
_PLAI_TEXT = {"DP_Group": "group"}

_LIPO_FORMULATION_NUMERIC: dict[str, tuple[str, float, tuple[float, float] | None]] = {
    "IVR_ID": ("curve_id", 1.0, None),
    "formulation_ID": ("formulation_id", 1.0, None),
    "media_pH": ("media_ph", 1.0, (0.0, 14.0)),
    "media_temp_oC": ("media_temp_c", 1.0, (0.0, 100.0)),
    "drug_loading": ("drug_lipid_ratio", 1.0, (0.0, np.inf)),
    "Z_average_nm": ("z_average_nm", 1.0, (1e-300, np.inf)),
    "PDI": ("pdi", 1.0, (0.0, 1.0)),
    "zeta_potential": ("zeta_mv", 1.0, (-100.0, 100.0)),
    "weighted_Mw": ("lipid_mw_g_mol", 1.0, (0.0, np.inf)),
    "weighted_Tm": ("lipid_tm_c", 1.0, (-50.0, 100.0)),
    "MolWt": ("drug_mw_g_mol", 1.0, (1e-300, np.inf)),
    "MolLogP": ("drug_logp", 1.0, (-np.inf, np.inf)),
    "TPSA": ("drug_tpsa_a2", 1.0, (0.0, np.inf)),
    "NumHAcceptors": ("drug_h_acceptors", 1.0, (0.0, np.inf)),
    "NumHDonors": ("drug_h_donors", 1.0, (0.0, np.inf)),
    "NumRotatableBonds": ("drug_rotatable_bonds", 1.0, (0.0, np.inf)),
}
_LIPO_FORMULATION_TEXT = {
    "API_name": "group",
    "release_method": "release_method",
    "structure_type": "structure_type",
}
# optional: filled with NaN when the column is absent
_LIPO_OPTIONAL: dict[str, tuple[str, float, tuple[float, float] | None]] = {
    "API_ID": ("api_id", 1.0, None),
    "media_volume_mL": ("media_volume_ml", 1.0, (1e-300, np.inf)),
}
_LIPO_OPTIONAL_TEXT = {"SMILES": "smiles"}
# a liposome test without these cannot be mapped onto the simulator
_LIPO_NEEDED = ("IVR_ID", "API_name", "MolWt", "MolLogP")
_LIPO_CURVE_NUMERIC: dict[str, tuple[str, float, tuple[float, float] | None]] = {
    "IVR_ID": ("curve_id", 1.0, None),
    "time (Hrs)": ("time_h", 1.0, (0.0, np.inf)),
    "release_percent": ("release", 0.01, (-100 * REJECT_TOLERANCE, 100 + 100 * REJECT_TOLERANCE)),
}

#: Columns of :func:`load_plai`, in order.
PLAI_COLUMNS: tuple[str, ...] = (
    "curve_id",
    "group",
    "drug_code",
    "polymer",
    "time_h",
    "release",
    "la_ga_ratio",
    "polymer_mw_kda",
    "crosslink_ratio",
    "drug_loading",
    "initial_drug_polymer_ratio",
    "sa_v_per_mm",
    "solubility_enhancer_fraction",
    "drug_mw_g_mol",
    "drug_logp",
    "drug_pka",
    "drug_tm_c",
    "drug_tpsa_a2",
    "drug_h_acceptors",
    "source_line",
)

#: Columns of :func:`load_liposome`, in order.
LIPOSOME_COLUMNS: tuple[str, ...] = (
    "curve_id",
    "group",
    "formulation_id",
    "time_h",
    "release",
    "release_method",
    "structure_type",
    "media_ph",
    "media_temp_c",
    "media_volume_ml",
    "drug_lipid_ratio",
    "z_average_nm",
    "pdi",
    "zeta_mv",
    "lipid_mw_g_mol",
    "lipid_tm_c",
    "api_id",
    "drug_mw_g_mol",
    "drug_logp",
    "drug_tpsa_a2",
    "drug_h_acceptors",
    "drug_h_donors",
    "drug_rotatable_bonds",
    "smiles",
    "source_line",
    "formulation_line",
)


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


# -- shipped files ---------------------------------------------------------------------------
def data_file(relative: str) -> Traversable:
    """A shipped data file, e.g. ``data_file("plai/plai_release.csv")`` (via importlib.resources).

    :param relative: path below ``nanoenv/data/files`` with ``/`` separators.
    :raises FileNotFoundError: when the package does not hold that file.
    """
    node = resources.files("nanoenv.data").joinpath("files")
    for part in relative.split("/"):
        node = node.joinpath(part)
    if not node.is_file():
        raise FileNotFoundError(f"nanoenv.data has no shipped file files/{relative}")
    return node


@contextmanager
def _local_path(path: str | Path | None, shipped: str) -> Iterator[tuple[Path, str]]:
    """A filesystem path for a user file or a shipped one, and the name used in messages."""
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no such data file: {path}")
        yield path, str(path)
        return
    with resources.as_file(data_file(shipped)) as local:
        yield Path(local), Path(shipped).name


# -- reading and validation ------------------------------------------------------------------
def _fail(file: str, line: int | str, column: str, message: str) -> ValueError:
    return ValueError(f"{file}, line {line}, column {column!r}: {message}")


def _read_csv(path: Path, name: str, report: CleaningReport) -> pd.DataFrame:
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


def _require(table: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise _fail(
            name,
            "1 (header)",
            missing[0],
            f"required column(s) {missing} missing; the file has columns "
            f"{[c for c in table.columns if c != 'source_line']}",
        )


def _numeric(
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
            raise _fail(
                name,
                int(table["source_line"].iloc[i]),
                column,
                f"{table[column].iloc[i]!r} is not a finite number",
            )
        out[column] = values
    return out


def _check_ranges(
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
            raise _fail(
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


def _check_integer_ids(table: pd.DataFrame, column: str, name: str) -> None:
    values = table[column]
    bad = values.notna() & (values != np.round(values))
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise _fail(
            name,
            int(table["source_line"].iloc[i]),
            column,
            f"id {values.iloc[i]!r} is not an integer",
        )


def _exclude_missing(
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


def parse_dp_group(label: str) -> tuple[str, str]:
    """Split a PLAI ``DP_Group`` label into ``(drug_code, polymer)``.

    The polymer is the longest known suffix from :data:`PLAI_POLYMERS` after a
    hyphen, so drug codes may themselves hold hyphens (``"5-FU-PLGA"`` →
    ``("5-FU", "PLGA")``) and copolymer labels are not cut short
    (``"PTX-PLGA-co-PALA"`` → ``("PTX", "PLGA-co-PALA")``). Matching is
    case-insensitive; the canonical spelling is returned.

    :raises ValueError: when no known polymer ends the label, or no drug precedes it.
    """
    text = str(label).strip()
    for polymer in sorted(PLAI_POLYMERS, key=len, reverse=True):
        suffix = "-" + polymer
        if text.upper().endswith(suffix.upper()) and len(text) > len(suffix):
            return text[: -len(suffix)], polymer
    raise ValueError(
        f"DP_Group label {label!r} does not end with a known polymer; expected "
        f"'<drug>-<polymer>' with polymer one of {list(PLAI_POLYMERS)}"
    )


# -- curve cleaning (shared) -----------------------------------------------------------------
def _clean_curves(
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


def _finish(table: pd.DataFrame, columns: Sequence[str], report: CleaningReport) -> pd.DataFrame:
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


# -- PLAI ------------------------------------------------------------------------------------
def load_plai(path: str | Path | None = None) -> pd.DataFrame:
    """The PLAI release curves as a tidy long table (one row per curve and time point).

    :param path: a CSV in the schema of the shipped ``plai/plai_release.csv``
        (columns ``Experimental_index``, ``DP_Group``, ``LA/GA``, ``Polymer_MW``
        [Da], ``CL Ratio``, ``Drug_Tm`` [°C], ``Drug_Pka``, ``Initial D/M ratio``,
        ``DLC`` [fraction], ``SA-V`` [mm⁻¹], ``SE``, ``Drug_Mw`` [g/mol],
        ``Drug_TPSA`` [Å²], ``Drug_NHA``, ``Drug_LogP``, ``Time`` [days],
        ``Release`` [fraction]; the leaky ``T=`` columns are optional and
        dropped). ``None`` reads the shipped file (Bannigan et al., *Nat.
        Commun.* 14, 35 (2023); MIT).
    :returns: DataFrame with the columns of :data:`PLAI_COLUMNS`: ``curve_id``
        (``Experimental_index``), ``group`` (``DP_Group``), ``drug_code`` and
        ``polymer`` (parsed from ``DP_Group``, see :func:`parse_dp_group`),
        ``time_h`` (hours), ``release`` (fraction, non-decreasing per curve),
        ``la_ga_ratio`` (lactide:glycolide ratio, 1.0 = 50:50, 0 for
        non-PLGA polymers), ``polymer_mw_kda``, ``crosslink_ratio``,
        ``drug_loading`` (DLC, mass fraction), ``initial_drug_polymer_ratio``
        (mass ratio), ``sa_v_per_mm`` (surface-area-to-volume, mm⁻¹; see below),
        ``solubility_enhancer_fraction``, ``drug_mw_g_mol``, ``drug_logp``,
        ``drug_pka``, ``drug_tm_c`` (°C), ``drug_tpsa_a2`` (Å²),
        ``drug_h_acceptors`` and ``source_line``. Sorted by curve and time.
        ``df.attrs["cleaning_report"]`` holds the :class:`CleaningReport`.
    :raises ValueError: on a schema or range error (the message names the file,
        the 1-based line and the column); see the module docstring.

    **Unit of** ``SA-V``: mm⁻¹. Neither the article's text we could reach nor the
    authors' repository (github.com/aspuru-guzik-group/long-acting-injectables at commit
    0df9c4a: README, notebooks, the ``Dataset_14_feat`` / ``Dataset_17_feat`` tables,
    ``zero_shot_models/Figure_1_dataset_zero_shot.xlsx``, which holds only the models'
    absolute errors) states the unit, so it is settled from the values:

    * the 48 curves of the authors' own cross-linked implants (``PVL-co-PAVL``,
      ``PLA-co-PALA``, ``PLGA-co-PALA``, ``PLGA-co-PAVL``) have ``SA-V`` 2.48 and 2.89.
      The dataset's record (Materials Data Facility, doi:10.18126/4hfb-s3y1) says the
      group's devices are spheres and cylinders. In mm⁻¹ these are millimetre rods (a
      cylinder 2 mm across and 4.2 mm long has S/V = 2/r + 2/h = 2.48 mm⁻¹; 2.25 mm long,
      2.89 mm⁻¹), the size of an injectable implant; in cm⁻¹ they would be 2 cm across
      and 4 cm long (or 2.4 cm spheres), far beyond anything injected through a needle;
    * at the other end, ``PTX-PLGA`` with ``SA-V`` 22018 becomes a sphere of 0.27 µm
      diameter (mm⁻¹; typical paclitaxel–PLGA nanoparticles) rather than 2.7 µm (cm⁻¹);
      both are plausible, so the small end does not decide;
    * in mm⁻¹ every device (radius 0.14 µm to 1.2 mm) lies inside the simulator's size
      range; in cm⁻¹ the 48 implant curves exceed its 1 cm bound and had to be clamped;
    * the data agree weakly: grouped 5-fold CV MAE (PLAI, constants fitted) 0.225 with
      mm⁻¹ vs 0.227 with cm⁻¹, and 0.214 vs 0.226 with a 3-member correction
      (``benchmarks/results/calibration.md``).

    The unit remains an inference (the supplementary information could not be checked);
    a user who knows otherwise can scale the column (``df["sa_v_per_mm"] /= 10`` for
    cm⁻¹) before :func:`nanoenv.data.plai_curves`.
    """
    report = CleaningReport("plai", [], release_unit="fraction")
    with _local_path(path, "plai/plai_release.csv") as (local, name):
        report.files.append(name)
        raw = _read_csv(local, name, report)
    _require(raw, [*_PLAI_NUMERIC, *_PLAI_TEXT], name)
    report.dropped_columns += [c for c in PLAI_LEAKY_COLUMNS if c in raw.columns]
    report.dropped_columns += [
        c
        for c in raw.columns
        if c not in (*_PLAI_NUMERIC, *_PLAI_TEXT, *PLAI_LEAKY_COLUMNS, "source_line")
    ]
    table = _numeric(raw, _PLAI_NUMERIC, name)
    table = _exclude_missing(
        table, [*_PLAI_NUMERIC, *_PLAI_TEXT], "Experimental_index", name, report
    )
    _check_integer_ids(table, "Experimental_index", name)
    _check_ranges(
        table,
        _PLAI_NUMERIC,
        name,
        {"Release": " (a fraction of the dose; is it in percent?)", "Time": " (days)"},
    )
    parsed = []
    for label, line in zip(table["DP_Group"], table["source_line"], strict=True):
        try:
            parsed.append(parse_dp_group(label))
        except ValueError as err:
            raise _fail(name, int(line), "DP_Group", str(err)) from None
    table["drug_code"] = [p[0] for p in parsed]
    table["polymer"] = [p[1] for p in parsed]

    per_row = ("Experimental_index", "Time", "Release")
    constant = [c for c in (*_PLAI_NUMERIC, *_PLAI_TEXT) if c not in per_row]
    first = table.groupby("Experimental_index")[constant].transform("first")
    differs = (table[constant] != first).any(axis=1)
    if differs.any():
        i = int(np.flatnonzero(differs.to_numpy())[0])
        column = next(c for c in constant if table[c].iloc[i] != first[c].iloc[i])
        raise _fail(
            name,
            int(table["source_line"].iloc[i]),
            column,
            f"value {table[column].iloc[i]!r} differs from {first[column].iloc[i]!r} earlier "
            f"in curve {int(table['Experimental_index'].iloc[i])}; formulation values must be "
            "constant within a curve",
        )

    for column, (out, scale, _) in _PLAI_NUMERIC.items():
        table[out] = table[column] * scale if scale != 1.0 else table[column]
    table["group"] = table["DP_Group"]
    table = table.loc[:, list(PLAI_COLUMNS)]
    zero_dlc = sorted(int(c) for c in table.loc[table["drug_loading"] == 0, "curve_id"].unique())
    if zero_dlc:
        report.notes.append(
            f"DLC = 0 for curves {zero_dlc} (rounded to two decimals in the source); kept as 0"
        )
    table = _clean_curves(table, name, report, "Release", 1.0)
    return _finish(table, PLAI_COLUMNS, report)


# -- liposome --------------------------------------------------------------------------------
def load_liposome(
    formulations_path: str | Path | None = None,
    curves_path: str | Path | None = None,
) -> pd.DataFrame:
    """The liposome in-vitro release tests as a tidy long table (one row per curve and time).

    :param formulations_path: a CSV in the schema of the shipped
        ``liposome/liposome_formulations.csv`` (one row per release test:
        ``IVR_ID``, ``formulation_ID``, ``release_method``, ``media_pH``,
        ``media_temp_oC`` [°C], ``drug_loading`` [drug:lipid ratio],
        ``structure_type``, ``Z_average_nm`` [nm, diameter], ``PDI``,
        ``zeta_potential`` [mV], ``API_name``, ``weighted_Mw`` [g/mol],
        ``weighted_Tm`` [°C], ``MolWt`` [g/mol], ``TPSA`` [Å²],
        ``NumHAcceptors``, ``NumHDonors``, ``NumRotatableBonds``, ``MolLogP``;
        ``API_ID``, ``media_volume_mL`` and ``SMILES`` are optional).
        ``None`` reads the shipped file.
    :param curves_path: a CSV in the schema of the shipped
        ``liposome/liposome_release_curves.csv`` (``IVR_ID``, ``time (Hrs)``
        [h], ``release_percent`` [%]). ``None`` reads the shipped file.
        (Yanes et al., *Digital Discovery* (2025) and *Int. J. Pharm. X* (2025)
        100393; CC BY 4.0.)
    :returns: DataFrame with the columns of :data:`LIPOSOME_COLUMNS`:
        ``curve_id`` (``IVR_ID``), ``group`` (``API_name``), ``formulation_id``,
        ``time_h`` (hours), ``release`` (fraction, non-decreasing per curve),
        ``release_method`` (as written), ``structure_type`` (upper case or NaN),
        ``media_ph``, ``media_temp_c`` (°C), ``media_volume_ml``,
        ``drug_lipid_ratio``, ``z_average_nm`` (hydrodynamic diameter, nm),
        ``pdi``, ``zeta_mv``, ``lipid_mw_g_mol`` and ``lipid_tm_c`` (lipid
        composition-weighted molecular weight and phase-transition temperature),
        ``api_id``, the RDKit drug descriptors ``drug_mw_g_mol``, ``drug_logp``,
        ``drug_tpsa_a2``, ``drug_h_acceptors``, ``drug_h_donors``,
        ``drug_rotatable_bonds``, ``smiles``, and ``source_line`` /
        ``formulation_line`` (lines in the curves / formulations file). Missing
        optional values stay NaN. ``df.attrs["cleaning_report"]`` holds the
        :class:`CleaningReport`.
    :raises ValueError: on a schema or range error (the message names the file,
        the 1-based line and the column); see the module docstring.
    """
    report = CleaningReport("liposome", [], release_unit="percent")
    with _local_path(formulations_path, "liposome/liposome_formulations.csv") as (local, fname):
        report.files.append(fname)
        forms = _read_csv(local, fname, report)
    with _local_path(curves_path, "liposome/liposome_release_curves.csv") as (local, cname):
        report.files.append(cname)
        curves = _read_csv(local, cname, report)

    # formulations: one row per release test
    _require(forms, [*_LIPO_FORMULATION_NUMERIC, *_LIPO_FORMULATION_TEXT], fname)
    for column in (*_LIPO_OPTIONAL, *_LIPO_OPTIONAL_TEXT):
        if column not in forms.columns:
            forms[column] = np.nan
            report.notes.append(f"optional column {column!r} absent from {fname}")
    used = {*_LIPO_FORMULATION_NUMERIC, *_LIPO_FORMULATION_TEXT, *_LIPO_OPTIONAL}
    used |= {*_LIPO_OPTIONAL_TEXT, "source_line"}
    report.dropped_columns += [c for c in forms.columns if c not in used]
    forms = _numeric(forms, {**_LIPO_FORMULATION_NUMERIC, **_LIPO_OPTIONAL}, fname)
    forms = _exclude_missing(forms, _LIPO_NEEDED, "IVR_ID", fname, report)
    for column in ("IVR_ID", "formulation_ID", "API_ID"):
        _check_integer_ids(forms, column, fname)
    _check_ranges(forms, {**_LIPO_FORMULATION_NUMERIC, **_LIPO_OPTIONAL}, fname)
    duplicated = forms["IVR_ID"].duplicated()
    if duplicated.any():
        i = int(np.flatnonzero(duplicated.to_numpy())[0])
        raise _fail(
            fname,
            int(forms["source_line"].iloc[i]),
            "IVR_ID",
            f"release test {int(forms['IVR_ID'].iloc[i])} is listed twice; one row per test",
        )
    structure = forms["structure_type"].str.upper()
    unknown = structure.notna() & ~structure.isin(LIPOSOME_STRUCTURES)
    if unknown.any():
        i = int(np.flatnonzero(unknown.to_numpy())[0])
        raise _fail(
            fname,
            int(forms["source_line"].iloc[i]),
            "structure_type",
            f"unknown structure type {forms['structure_type'].iloc[i]!r}; allowed: "
            f"{list(LIPOSOME_STRUCTURES)} or empty",
        )
    forms["structure_type"] = structure
    no_lipid = forms["weighted_Mw"] == 0
    if no_lipid.any():
        ids = sorted(int(c) for c in forms.loc[no_lipid, "IVR_ID"])
        report.notes.append(
            f"weighted_Mw = 0 (lipid composition not reported) for IVR_ID {ids}: "
            "weighted_Mw and weighted_Tm set to NaN"
        )
        forms.loc[no_lipid, ["weighted_Mw", "weighted_Tm"]] = np.nan

    # curves
    _require(curves, list(_LIPO_CURVE_NUMERIC), cname)
    report.dropped_columns += [
        c for c in curves.columns if c not in (*_LIPO_CURVE_NUMERIC, "source_line")
    ]
    curves = _numeric(curves, _LIPO_CURVE_NUMERIC, cname)
    curves = _exclude_missing(curves, list(_LIPO_CURVE_NUMERIC), "IVR_ID", cname, report)
    _check_integer_ids(curves, "IVR_ID", cname)
    _check_ranges(
        curves,
        _LIPO_CURVE_NUMERIC,
        cname,
        {"release_percent": " (percent of the dose; is it a fraction?)", "time (Hrs)": " (h)"},
    )
    if len(curves) and bool((curves["release_percent"].abs() <= 1.0 + CLIP_TOLERANCE).all()):
        report.notes.append(
            f"every release_percent in {cname} is <= {1 + CLIP_TOLERANCE:g}: check that the "
            "values are percent, not fractions"
        )
        warnings.warn(report.notes[-1], DataCleaningWarning, stacklevel=2)

    orphan = ~curves["IVR_ID"].isin(forms["IVR_ID"])
    for i in np.flatnonzero(orphan.to_numpy()):
        row = curves.iloc[i]
        report.excluded.append(
            ExcludedRow(
                cname,
                int(row["source_line"]),
                int(row["IVR_ID"]),
                "IVR_ID",
                int(row["IVR_ID"]),
                "no formulation row for this IVR_ID: the curve cannot be mapped",
            )
        )
    curves = curves.loc[~orphan]
    without = sorted(set(forms["IVR_ID"].astype(int)) - set(curves["IVR_ID"].astype(int)))
    if without:
        report.notes.append(
            f"{len(without)} formulation row(s) have no release curve (not in the table)"
        )

    forms = forms.rename(columns={"source_line": "formulation_line"})
    forms = forms.rename(
        columns={
            c: out
            for c, (out, _, _) in {**_LIPO_FORMULATION_NUMERIC, **_LIPO_OPTIONAL}.items()
            if c != "IVR_ID"
        }
        | _LIPO_FORMULATION_TEXT
        | _LIPO_OPTIONAL_TEXT
    )
    curves = curves.rename(columns={"time (Hrs)": "time_h"})
    curves["release"] = curves["release_percent"] * 0.01
    table = curves[["IVR_ID", "time_h", "release", "source_line"]].merge(
        forms, on="IVR_ID", how="inner", validate="many_to_one"
    )
    table = table.rename(columns={"IVR_ID": "curve_id"})
    table = table.loc[:, list(LIPOSOME_COLUMNS)]
    per_curve = table.groupby("curve_id").first()
    for column in (
        "release_method",
        "structure_type",
        "media_ph",
        "media_temp_c",
        "drug_lipid_ratio",
        "z_average_nm",
        "pdi",
        "zeta_mv",
        "lipid_tm_c",
        "media_volume_ml",
    ):
        n = int(per_curve[column].isna().sum())
        if n:
            report.missing[column] = n
    table = _clean_curves(table, cname, report, "release_percent", 100.0)
    for column in ("formulation_id", "api_id"):
        table[column] = table[column].astype("Int64")
    return _finish(table, LIPOSOME_COLUMNS, report)
