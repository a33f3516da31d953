"""The real release curves mapped onto the simulator's inputs, with model features.

:func:`plai_curves` and :func:`liposome_curves` turn the tidy tables of
:mod:`nanoenv.data.loaders` into a :class:`CurveSet`: one
:class:`~nanoenv.kinetics.Formulation`, one stacked
:class:`~nanoenv.kinetics.Drug` and one stacked
:class:`~nanoenv.kinetics.ReleaseConditions` per curve, the measured curves as
padded ``(B, T)`` tensors with a mask, and a ``(B, F)`` feature matrix built
from the formulation alone (for learned corrections). Everything is float64 in
physical units, so ``simulate_release(cs.formulation, cs.times_h,
cs.conditions, cs.drug)`` compares directly with ``cs.release`` on
``cs.mask``.

The mapping is approximate by nature (the datasets describe their particles
with fewer, different parameters than the simulator); each choice is
documented on :func:`plai_curves` and :func:`liposome_curves`. A value that
falls outside the simulator's bounds is clamped into them, with a
:class:`~nanoenv.data.loaders.DataCleaningWarning` and a line in
:attr:`CurveSet.notes`; features keep the unclamped values.

Validate by group, never by row: the datasets hold many curves of the same drug
(and polymer), so :func:`grouped_folds` splits by :attr:`CurveSet.groups`.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch

from nanoenv.data.cleaning import DataCleaningWarning
from nanoenv.data.curve_set import CurveSet
from nanoenv.data.loaders import (
    LIPOSOME_COLUMNS,
    LIPOSOME_STRUCTURES,
    PLAI_COLUMNS,
    PLAI_POLYMERS,
    load_liposome,
    load_plai,
)
from nanoenv.kinetics.conditions import ReleaseConditions
from nanoenv.kinetics.drug import DRUG_BOUNDS, Drug
from nanoenv.kinetics.formulation import Carrier, Formulation
from nanoenv.kinetics.parameters import spec

__all__ = [
    "LIPOSOME_FALLBACKS",
    "LIPOSOME_RELEASE_METHODS",
    "PLAI_POLYMER_FAMILY",
    "gse_solubility_mg_ml",
    "liposome_curves",
    "plai_curves",
]

#: Release-method labels of the liposome data, as feature slugs (lower case,
#: non-alphanumerics → ``_``); any other method sets ``method_other``.
LIPOSOME_RELEASE_METHODS: tuple[str, ...] = (
    "dialysis",
    "self_quenching",
    "modifiedusp_4",
    "dowex_50_cation_exchange",
    "vdc",
    "float_a_lyzer",
    "sample_and_separate",
    "dispersion_releaser",
)

#: ``Formulation.polymer_family`` code of each PLAI polymer label: 0 lactide–glycolide
#: (``PLGA``, ``PLA`` and their cross-linkable ``-co-PALA`` / ``-co-PAVL`` copolymers, whose
#: backbone is lactide–glycolide), 1 ``PCL``, 2 ``PVL-co-PAVL`` (poly(valerolactone)), 3
#: ``PEA`` (poly(ester amide)).
PLAI_POLYMER_FAMILY: dict[str, int] = {
    "PLGA": 0,
    "PLA": 0,
    "PLA-co-PALA": 0,
    "PLGA-co-PALA": 0,
    "PLGA-co-PAVL": 0,
    "PCL": 1,
    "PVL-co-PAVL": 2,
    "PEA": 3,
}

#: Melting point assumed by the GSE when a drug's is unknown, °C.
DEFAULT_DRUG_TM_C = 125.0
#: pKa assumed for a liposome drug without a :data:`~nanoenv.kinetics.DRUGS` preset.
DEFAULT_PKA = 7.0

#: Fill values for liposome properties missing from every curve of a table (otherwise
#: the median of the known values is used): the simulator's defaults (100 nm
#: radius, −30 mV, drug:lipid 0.1, DPPC Tm 41 °C), a typical PDI, and sink
#: conditions (pH 7.4, 37 °C).
LIPOSOME_FALLBACKS: dict[str, float] = {
    "z_average_nm": 200.0,
    "pdi": 0.15,
    "zeta_mv": -30.0,
    "drug_lipid_ratio": 0.1,
    "lipid_tm_c": 41.0,
    "media_ph": 7.4,
    "media_temp_c": 37.0,
}


# the loaders' columns this mapping reads (the rest are provenance)
_PLAI_NEEDED = tuple(c for c in PLAI_COLUMNS if c not in ("drug_code", "source_line"))
_LIPOSOME_NEEDED = tuple(
    c
    for c in LIPOSOME_COLUMNS
    if c
    not in (
        "smiles",
        "lipid_mw_g_mol",
        "formulation_id",
        "source_line",
        "media_volume_ml",
        "formulation_line",
        "api_id",
    )
)


# -- shared helpers --------------------------------------------------------------------------
def gse_solubility_mg_ml(
    logp: np.ndarray | float, tm_c: np.ndarray | float, mw_g_mol: np.ndarray | float
) -> np.ndarray:
    """Aqueous solubility from the General Solubility Equation, mg/mL.

    ``log10 S [mol/L] = 0.5 − 0.01 (Tm − 25) − logP`` (Jain & Yalkowsky,
    *J. Pharm. Sci.* 90 (2001) 234), with the melting term zero for liquids
    (``Tm < 25 °C``); ``S [mg/mL] = S [mol/L] × MW [g/mol]``.

    :param logp: octanol/water partition coefficient (log10).
    :param tm_c: melting point, °C.
    :param mw_g_mol: molecular weight, g/mol.
    """
    tm = np.asarray(tm_c, dtype=np.float64)
    log_s = 0.5 - 0.01 * np.maximum(tm - 25.0, 0.0) - np.asarray(logp, dtype=np.float64)
    return 10.0**log_s * np.asarray(mw_g_mol, dtype=np.float64)


def _clamp(
    label: str,
    values: np.ndarray,
    low: float,
    high: float,
    unit: str,
    curve_ids: Sequence[int],
    notes: list[str],
) -> np.ndarray:
    """Clamp into ``[low, high]``, noting which curves moved (``_build`` warns)."""
    outside = (values < low) | (values > high)
    if outside.any():
        ids = [int(c) for c in np.asarray(curve_ids)[outside]]
        shown = ids if len(ids) <= 12 else [*ids[:12], "..."]
        note = (
            f"{label}: {int(outside.sum())} curve(s) outside the simulator range "
            f"[{low:g}, {high:g}] {unit} (values {values[outside].min():.4g} to "
            f"{values[outside].max():.4g}) clamped; curves {shown}"
        )
        notes.append(note)
    return np.clip(values, low, high)


def _fill(label: str, values: np.ndarray, notes: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Replace NaN by the median of the known values (or :data:`LIPOSOME_FALLBACKS`
    when none is known); return the filled values and the 0/1 missing flag."""
    missing = np.isnan(values)
    if not missing.any():
        return values, missing.astype(np.float64)
    if missing.all():
        fill = LIPOSOME_FALLBACKS[label]
        source = "fallback, no known value"
    else:
        fill = float(np.median(values[~missing]))
        source = "median of the known values"
    notes.append(
        f"{label}: {int(missing.sum())} missing value(s) filled with {fill:.4g} ({source})"
    )
    return np.where(missing, fill, values), missing.astype(np.float64)


def _slug(text: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", str(text).lower()).strip("_")


def _require(df: pd.DataFrame, columns: Sequence[str], loader: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(
            f"the table lacks column(s) {missing}; pass the DataFrame returned by {loader}()"
        )


def _per_curve(df: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    """One row of constant columns per curve, and padded ``(B, T)`` times, releases and mask."""
    df = df.sort_values(["curve_id", "time_h"], kind="stable")
    times = df["time_h"].to_numpy(np.float64)
    release = df["release"].to_numpy(np.float64)
    if not (np.isfinite(times).all() and np.isfinite(release).all()):
        raise ValueError("time_h and release must be finite; clean the table with the loader")
    if (times < 0).any() or (release < 0).any() or (release > 1).any():
        raise ValueError(
            "time_h must be >= 0 h and release within [0, 1] (fraction); clean the table "
            "with the loader"
        )
    grouped = df.groupby("curve_id", sort=True)
    per_curve = grouped.first()
    lengths = grouped.size().to_numpy()
    b, t = len(lengths), int(lengths.max())
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    col = np.minimum(np.arange(t)[None, :], lengths[:, None] - 1)
    flat = starts[:, None] + col
    mask = np.arange(t)[None, :] < lengths[:, None]
    padded_release = release[flat]
    if (np.diff(padded_release, axis=1) < 0).any():
        raise ValueError("release must be non-decreasing in time; clean the table with the loader")
    return per_curve, times[flat].reshape(b, t), padded_release.reshape(b, t), mask


def _tensor(values: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(values, dtype=np.float64))  # a writable copy


def _build(
    name: str,
    per_curve: pd.DataFrame,
    times: np.ndarray,
    release: np.ndarray,
    mask: np.ndarray,
    formulation: Formulation,
    drug: Drug,
    ph: np.ndarray,
    temperature_c: np.ndarray,
    features: dict[str, np.ndarray],
    notes: list[str],
) -> CurveSet:
    clamped = [note for note in notes if " clamped; curves " in note]
    if clamped:
        # stacklevel 3: _build -> plai_curves / liposome_curves -> the caller
        warnings.warn("; ".join(clamped), DataCleaningWarning, stacklevel=3)
    b = len(per_curve)
    conditions = ReleaseConditions(
        start_h=torch.zeros(b, 1, dtype=torch.float64),
        ph=_tensor(ph).reshape(b, 1),
        temperature_c=_tensor(temperature_c).reshape(b, 1),
    )
    matrix = np.column_stack([np.asarray(v, dtype=np.float64) for v in features.values()])
    if not np.isfinite(matrix).all():
        bad = [k for k, v in features.items() if not np.isfinite(v).all()]
        raise ValueError(f"features {bad} are not finite")
    return CurveSet(
        name=name,
        curve_ids=[int(c) for c in per_curve.index],
        groups=[str(g) for g in per_curve["group"]],
        formulation=formulation,
        drug=drug,
        conditions=conditions,
        times_h=_tensor(times),
        release=_tensor(release),
        mask=torch.as_tensor(mask, dtype=torch.bool),
        features=_tensor(matrix),
        feature_names=list(features),
        notes=tuple(notes),
    )


# -- PLAI ------------------------------------------------------------------------------------
def plai_curves(df: pd.DataFrame | None = None) -> CurveSet:
    """The PLAI curves (polymeric long-acting injectables) as a :class:`CurveSet`.

    :param df: a table from :func:`nanoenv.data.load_plai` (default: the shipped data).

    Mapping onto the simulator (``Carrier.POLYMER``):

    * ``radius_nm = 3 / SA-V``: the radius of the sphere with the device's
      surface-area-to-volume ratio (``S/V = 3/R`` for a sphere). ``SA-V`` is in mm⁻¹
      (the evidence is on :func:`~nanoenv.data.load_plai`), so
      ``R [nm] = 3e6 / SA-V``: on the shipped data R runs from 0.14 µm
      (paclitaxel–PLGA nanoparticles) to 1.2 mm (the authors' millimetre implants),
      all inside the simulator's bounds.
    * ``lactide_fraction``: ``LA/GA`` is a lactide:glycolide *ratio* r (1.0 =
      50:50, 3.0 = 75:25), so ``r / (1 + r)`` for polymers whose label starts
      with ``PLGA`` (``PLGA``, ``PLGA-co-PALA``, ``PLGA-co-PAVL``), and 1.0 for
      glycolide-free polyesters (``PLA``, ``PLA-co-PALA``, ``PCL``, ``PEA``,
      ``PVL-co-PAVL``).
    * ``polymer_family`` (:data:`PLAI_POLYMER_FAMILY`): PCL, PVL and PEA are their own
      families, each with its own hydrolysis rate and diffusivity offset in the
      simulator (``hydrolysis_pcl_per_day``, ``diffusivity_pcl_offset``, …); the
      lactide–glycolide copolymers follow the lactide-fraction law. The polymer label is
      also a one-hot feature for the learned correction.
    * ``polymer_mw_kda = Polymer_MW / 1000`` (clamped into [1, 1000] kDa with a
      warning); ``crosslink_ratio = CL Ratio``; ``drug_loading = DLC``
      (clamped to <= 0.6 with a warning).
    * Not described by the data, so at their defaults: zeta −30 mV, no PEG, no
      stimulus-responsive components.
    * Drug: ``mw = Drug_Mw``, ``logp = Drug_LogP``, ``pka = Drug_Pka``, charge
      0 (the data give a pKa but not whether the group is acidic or basic),
      solubility from the General Solubility Equation with ``Drug_Tm``
      (:func:`gse_solubility_mg_ml`), clipped into the :class:`Drug` bounds.
    * Conditions: sink, pH 7.4, 37 °C (the source's standard release medium).

    Features (raw values, unclamped, in this order): ``log10_radius_nm``,
    ``lactide_fraction``, ``log10_polymer_mw_kda``, ``crosslink_ratio``,
    ``drug_loading``, ``initial_drug_polymer_ratio``,
    ``solubility_enhancer_fraction``, ``drug_mw_g_mol``, ``drug_logp``,
    ``drug_pka``, ``drug_tpsa_a2``, ``drug_h_acceptors``, ``drug_tm_c``, and
    one ``polymer_<family>`` indicator per entry of
    :data:`~nanoenv.data.loaders.PLAI_POLYMERS`. The leaky ``T=`` release
    columns are never among them.
    """
    if df is None:
        df = load_plai()
    _require(df, _PLAI_NEEDED, "load_plai")
    unknown = sorted(set(df["polymer"]) - set(PLAI_POLYMERS))
    if unknown:
        raise ValueError(f"unknown polymer(s) {unknown}; allowed: {list(PLAI_POLYMERS)}")
    per_curve, times, release, mask = _per_curve(df)
    ids = per_curve.index.to_numpy()
    notes: list[str] = []

    def column(name: str) -> np.ndarray:
        return per_curve[name].to_numpy(np.float64)

    radius = 3.0e6 / column("sa_v_per_mm")
    ratio = column("la_ga_ratio")
    polymer = per_curve["polymer"].to_numpy(dtype=object)
    is_plga = np.array([p.startswith("PLGA") for p in polymer])
    lactide = np.where(is_plga, ratio / (1.0 + ratio), 1.0)
    family = np.array([PLAI_POLYMER_FAMILY[p] for p in polymer], dtype=np.float64)
    mw_kda = column("polymer_mw_kda")
    loading = column("drug_loading")

    def bounded(name: str, values: np.ndarray) -> np.ndarray:
        p = spec(name)
        return _clamp(name, values, p.low, p.high, p.unit or "(fraction)", ids, notes)

    b = len(per_curve)
    formulation = Formulation.from_dict(
        {
            "radius_nm": bounded("radius_nm", radius),
            "zeta_mv": np.full(b, -30.0),
            "lactide_fraction": bounded("lactide_fraction", lactide),
            "polymer_mw_kda": bounded("polymer_mw_kda", mw_kda),
            "drug_loading": bounded("drug_loading", loading),
            "peg_fraction": np.zeros(b),
            "crosslink_ratio": bounded("crosslink_ratio", column("crosslink_ratio")),
            "polymer_family": family,
        },
        carrier=Carrier.POLYMER,
        dtype=torch.float64,
    )
    solubility = gse_solubility_mg_ml(
        column("drug_logp"), column("drug_tm_c"), column("drug_mw_g_mol")
    )
    drug = _drug(
        ids,
        mw=column("drug_mw_g_mol"),
        logp=column("drug_logp"),
        pka=column("drug_pka"),
        charge=np.zeros(b),
        solubility=solubility,
        notes=notes,
    )
    features = {
        "log10_radius_nm": np.log10(radius),
        "lactide_fraction": lactide,
        "log10_polymer_mw_kda": np.log10(mw_kda),
        "crosslink_ratio": column("crosslink_ratio"),
        "drug_loading": loading,
        "initial_drug_polymer_ratio": column("initial_drug_polymer_ratio"),
        "solubility_enhancer_fraction": column("solubility_enhancer_fraction"),
        "drug_mw_g_mol": column("drug_mw_g_mol"),
        "drug_logp": column("drug_logp"),
        "drug_pka": column("drug_pka"),
        "drug_tpsa_a2": column("drug_tpsa_a2"),
        "drug_h_acceptors": column("drug_h_acceptors"),
        "drug_tm_c": column("drug_tm_c"),
    }
    for family in PLAI_POLYMERS:
        features[f"polymer_{_slug(family)}"] = (polymer == family).astype(np.float64)
    return _build(
        "plai",
        per_curve,
        times,
        release,
        mask,
        formulation,
        drug,
        np.full(b, 7.4),
        np.full(b, 37.0),
        features,
        notes,
    )


def _drug(
    ids: np.ndarray,
    *,
    mw: np.ndarray,
    logp: np.ndarray,
    pka: np.ndarray,
    charge: np.ndarray,
    solubility: np.ndarray,
    notes: list[str],
) -> Drug:
    """One drug per curve, each property clipped into the :class:`Drug` bounds (noted)."""
    values = {"mw_g_mol": mw, "logp": logp, "pka": pka, "solubility_mg_ml": solubility}
    units = {"mw_g_mol": "g/mol", "logp": "", "pka": "", "solubility_mg_ml": "mg/mL"}
    clipped = {
        key: _clamp(f"drug.{key}", v, *DRUG_BOUNDS[key][:2], units[key], ids, notes)
        for key, v in values.items()
    }
    return Drug(
        name="mixed",
        charge=_tensor(charge),
        **{key: _tensor(v) for key, v in clipped.items()},
    )


# -- liposome --------------------------------------------------------------------------------
def liposome_curves(df: pd.DataFrame | None = None) -> CurveSet:
    """The liposome release tests as a :class:`CurveSet`.

    :param df: a table from :func:`nanoenv.data.load_liposome` (default: the shipped data).

    Mapping onto the simulator (``Carrier.LIPOSOME``):

    * ``radius_nm = Z_average / 2`` (the Z-average is a hydrodynamic diameter).
    * ``zeta_mv = zeta_potential``; ``drug_lipid_ratio = drug_loading``
      (clamped into [0.001, 2] with a warning); ``lipid_tm_c = weighted_Tm``
      (the composition-weighted phase-transition temperature); no PEG (the
      tables give only weighted lipid properties, from which a PEG-lipid share
      cannot be derived).
    * Missing values (zeta potential for about half the tests, size, PDI,
      drug:lipid ratio, lipid Tm, medium pH and temperature) are filled with the
      median of the known values in ``df`` (pH 7.4 and 37 °C on the shipped
      data; :data:`LIPOSOME_FALLBACKS` when no curve of ``df`` knows the value)
      and flagged by a ``<name>_missing`` feature. The medians use no release
      values, but are taken over all of ``df`` (so over train and test curves
      alike when a fold is cut later with :meth:`CurveSet.subset`).
    * Conditions: sink at the test's ``media_pH`` and ``media_temp_oC``
      (25–60 °C and pH 1.2–8.5 in the shipped data: real thermal and pH
      triggers).
    * Drug: ``mw = MolWt`` and ``logp = MolLogP`` (RDKit). When ``API_name``
      names a :data:`~nanoenv.kinetics.DRUGS` preset (doxorubicin, paclitaxel,
      ...), its pKa, charge and experimental solubility are used; otherwise
      pKa 7.0, charge 0, and the solubility from the General Solubility
      Equation with an assumed melting point of 125 °C (the tables give no
      melting points), clipped into the :class:`Drug` bounds.

    Features (in this order): ``log10_radius_nm``, ``size_missing``, ``pdi``,
    ``pdi_missing``, ``zeta_mv``, ``zeta_missing``, ``log10_drug_lipid_ratio``,
    ``drug_lipid_ratio_missing``, ``lipid_tm_c``, ``lipid_tm_missing``,
    ``media_ph``, ``media_ph_missing``, ``media_temp_c``,
    ``media_temp_missing``, ``drug_mw_g_mol``, ``drug_logp``,
    ``drug_tpsa_a2``, ``drug_h_acceptors``, ``drug_h_donors``,
    ``drug_rotatable_bonds``, one ``method_<slug>`` indicator per entry of
    :data:`LIPOSOME_RELEASE_METHODS` plus ``method_other``, and one
    ``structure_<type>`` indicator per entry of
    :data:`~nanoenv.data.loaders.LIPOSOME_STRUCTURES` plus
    ``structure_unknown``.
    """
    if df is None:
        df = load_liposome()
    _require(df, _LIPOSOME_NEEDED, "load_liposome")
    per_curve, times, release, mask = _per_curve(df)
    ids = per_curve.index.to_numpy()
    b = len(per_curve)
    notes: list[str] = []

    def column(name: str) -> np.ndarray:
        return per_curve[name].to_numpy(np.float64)

    diameter, size_missing = _fill("z_average_nm", column("z_average_nm"), notes)
    pdi, pdi_missing = _fill("pdi", column("pdi"), notes)
    zeta, zeta_missing = _fill("zeta_mv", column("zeta_mv"), notes)
    ratio, ratio_missing = _fill("drug_lipid_ratio", column("drug_lipid_ratio"), notes)
    tm, tm_missing = _fill("lipid_tm_c", column("lipid_tm_c"), notes)
    ph, ph_missing = _fill("media_ph", column("media_ph"), notes)
    temperature, temperature_missing = _fill("media_temp_c", column("media_temp_c"), notes)
    radius = diameter / 2.0

    def bounded(name: str, values: np.ndarray) -> np.ndarray:
        p = spec(name)
        return _clamp(name, values, p.low, p.high, p.unit or "(ratio)", ids, notes)

    formulation = Formulation.from_dict(
        {
            "radius_nm": bounded("radius_nm", radius),
            "zeta_mv": bounded("zeta_mv", zeta),
            "peg_fraction": np.zeros(b),
            "lipid_tm_c": bounded("lipid_tm_c", tm),
            "drug_lipid_ratio": bounded("drug_lipid_ratio", ratio),
        },
        carrier=Carrier.LIPOSOME,
        dtype=torch.float64,
    )

    mw, logp = column("drug_mw_g_mol"), column("drug_logp")
    pka = np.full(b, DEFAULT_PKA)
    charge = np.zeros(b)
    solubility = gse_solubility_mg_ml(logp, DEFAULT_DRUG_TM_C, mw)
    matched: set[str] = set()
    for i, name in enumerate(per_curve["group"]):
        try:
            preset = Drug.preset(str(name))
        except ValueError:
            continue
        matched.add(preset.name)
        pka[i], charge[i] = float(preset.pka), float(preset.charge)
        solubility[i] = float(preset.solubility_mg_ml)
    notes.append(f"drug presets used for pKa, charge and solubility: {sorted(matched)}")
    drug = _drug(ids, mw=mw, logp=logp, pka=pka, charge=charge, solubility=solubility, notes=notes)

    methods = np.array([_slug(m) for m in per_curve["release_method"].fillna("")])
    structures = per_curve["structure_type"].fillna("").astype(str).str.upper().to_numpy()
    features = {
        "log10_radius_nm": np.log10(radius),
        "size_missing": size_missing,
        "pdi": pdi,
        "pdi_missing": pdi_missing,
        "zeta_mv": zeta,
        "zeta_missing": zeta_missing,
        "log10_drug_lipid_ratio": np.log10(np.maximum(ratio, 1e-6)),
        "drug_lipid_ratio_missing": ratio_missing,
        "lipid_tm_c": tm,
        "lipid_tm_missing": tm_missing,
        "media_ph": ph,
        "media_ph_missing": ph_missing,
        "media_temp_c": temperature,
        "media_temp_missing": temperature_missing,
        "drug_mw_g_mol": mw,
        "drug_logp": logp,
        "drug_tpsa_a2": column("drug_tpsa_a2"),
        "drug_h_acceptors": column("drug_h_acceptors"),
        "drug_h_donors": column("drug_h_donors"),
        "drug_rotatable_bonds": column("drug_rotatable_bonds"),
    }
    for method in LIPOSOME_RELEASE_METHODS:
        features[f"method_{method}"] = (methods == method).astype(np.float64)
    features["method_other"] = (~np.isin(methods, LIPOSOME_RELEASE_METHODS)).astype(np.float64)
    for structure in LIPOSOME_STRUCTURES:
        features[f"structure_{structure.lower()}"] = (structures == structure).astype(np.float64)
    features["structure_unknown"] = (~np.isin(structures, LIPOSOME_STRUCTURES)).astype(np.float64)
    return _build(
        "liposome",
        per_curve,
        times,
        release,
        mask,
        formulation,
        drug,
        ph,
        temperature,
        features,
        notes,
    )
