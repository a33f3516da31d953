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

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from nanoenv.data.cleaning import (
    CLIP_TOLERANCE,
    REJECT_TOLERANCE,
    CleaningReport,
    DataCleaningWarning,
    ExcludedRow,
    check_integer_ids,
    check_ranges,
    clean_curves,
    exclude_missing,
    finish_table,
    numeric_columns,
    read_csv_text,
    require_columns,
    row_error,
)

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

__all__ = [
    "LIPOSOME_COLUMNS",
    "LIPOSOME_STRUCTURES",
    "PLAI_COLUMNS",
    "PLAI_LEAKY_COLUMNS",
    "PLAI_POLYMERS",
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
        raw = read_csv_text(local, name, report)
    require_columns(raw, [*_PLAI_NUMERIC, *_PLAI_TEXT], name)
    report.dropped_columns += [c for c in PLAI_LEAKY_COLUMNS if c in raw.columns]
    report.dropped_columns += [
        c
        for c in raw.columns
        if c not in (*_PLAI_NUMERIC, *_PLAI_TEXT, *PLAI_LEAKY_COLUMNS, "source_line")
    ]
    table = numeric_columns(raw, _PLAI_NUMERIC, name)
    table = exclude_missing(
        table, [*_PLAI_NUMERIC, *_PLAI_TEXT], "Experimental_index", name, report
    )
    check_integer_ids(table, "Experimental_index", name)
    check_ranges(
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
            raise row_error(name, int(line), "DP_Group", str(err)) from None
    table["drug_code"] = [p[0] for p in parsed]
    table["polymer"] = [p[1] for p in parsed]

    per_row = ("Experimental_index", "Time", "Release")
    constant = [c for c in (*_PLAI_NUMERIC, *_PLAI_TEXT) if c not in per_row]
    first = table.groupby("Experimental_index")[constant].transform("first")
    differs = (table[constant] != first).any(axis=1)
    if differs.any():
        i = int(np.flatnonzero(differs.to_numpy())[0])
        column = next(c for c in constant if table[c].iloc[i] != first[c].iloc[i])
        raise row_error(
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
    table = clean_curves(table, name, report, "Release", 1.0)
    return finish_table(table, PLAI_COLUMNS, report)


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
        forms = read_csv_text(local, fname, report)
    with _local_path(curves_path, "liposome/liposome_release_curves.csv") as (local, cname):
        report.files.append(cname)
        curves = read_csv_text(local, cname, report)

    # formulations: one row per release test
    require_columns(forms, [*_LIPO_FORMULATION_NUMERIC, *_LIPO_FORMULATION_TEXT], fname)
    for column in (*_LIPO_OPTIONAL, *_LIPO_OPTIONAL_TEXT):
        if column not in forms.columns:
            forms[column] = np.nan
            report.notes.append(f"optional column {column!r} absent from {fname}")
    used = {*_LIPO_FORMULATION_NUMERIC, *_LIPO_FORMULATION_TEXT, *_LIPO_OPTIONAL}
    used |= {*_LIPO_OPTIONAL_TEXT, "source_line"}
    report.dropped_columns += [c for c in forms.columns if c not in used]
    forms = numeric_columns(forms, {**_LIPO_FORMULATION_NUMERIC, **_LIPO_OPTIONAL}, fname)
    forms = exclude_missing(forms, _LIPO_NEEDED, "IVR_ID", fname, report)
    for column in ("IVR_ID", "formulation_ID", "API_ID"):
        check_integer_ids(forms, column, fname)
    check_ranges(forms, {**_LIPO_FORMULATION_NUMERIC, **_LIPO_OPTIONAL}, fname)
    duplicated = forms["IVR_ID"].duplicated()
    if duplicated.any():
        i = int(np.flatnonzero(duplicated.to_numpy())[0])
        raise row_error(
            fname,
            int(forms["source_line"].iloc[i]),
            "IVR_ID",
            f"release test {int(forms['IVR_ID'].iloc[i])} is listed twice; one row per test",
        )
    structure = forms["structure_type"].str.upper()
    unknown = structure.notna() & ~structure.isin(LIPOSOME_STRUCTURES)
    if unknown.any():
        i = int(np.flatnonzero(unknown.to_numpy())[0])
        raise row_error(
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
    require_columns(curves, list(_LIPO_CURVE_NUMERIC), cname)
    report.dropped_columns += [
        c for c in curves.columns if c not in (*_LIPO_CURVE_NUMERIC, "source_line")
    ]
    curves = numeric_columns(curves, _LIPO_CURVE_NUMERIC, cname)
    curves = exclude_missing(curves, list(_LIPO_CURVE_NUMERIC), "IVR_ID", cname, report)
    check_integer_ids(curves, "IVR_ID", cname)
    check_ranges(
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
    table = clean_curves(table, cname, report, "release_percent", 100.0)
    for column in ("formulation_id", "api_id"):
        table[column] = table[column].astype("Int64")
    return finish_table(table, LIPOSOME_COLUMNS, report)
