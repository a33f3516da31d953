"""Real in-vitro release data, cleaned and mapped onto the simulator.

* :func:`load_plai`, :func:`load_liposome`: tidy long tables in canonical units
  (hours, fractions), with a :class:`CleaningReport` in ``df.attrs``.
* :func:`plai_curves`, :func:`liposome_curves`: :class:`CurveSet` objects holding
  the simulator inputs (formulation, drug, conditions), the padded measured
  curves and formulation-only features.
* :func:`grouped_folds`: cross-validation folds split by drug (or drug–polymer)
  group.

The data files ship inside the package (``nanoenv/data/files``); their licenses
(MIT for PLAI, CC BY 4.0 for the liposome data) and citations are in
``nanoenv/data/files/LICENSES.md``.
"""

from nanoenv.data.cleaning import CleaningReport, DataCleaningWarning, ExcludedRow
from nanoenv.data.curve_set import CurveSet, grouped_folds
from nanoenv.data.curves import (
    LIPOSOME_RELEASE_METHODS,
    PLAI_POLYMER_FAMILY,
    gse_solubility_mg_ml,
    liposome_curves,
    plai_curves,
)
from nanoenv.data.loaders import (
    LIPOSOME_COLUMNS,
    LIPOSOME_STRUCTURES,
    PLAI_COLUMNS,
    PLAI_LEAKY_COLUMNS,
    PLAI_POLYMERS,
    data_file,
    load_liposome,
    load_plai,
    parse_dp_group,
)

__all__ = [
    "LIPOSOME_COLUMNS",
    "LIPOSOME_RELEASE_METHODS",
    "LIPOSOME_STRUCTURES",
    "PLAI_COLUMNS",
    "PLAI_LEAKY_COLUMNS",
    "PLAI_POLYMERS",
    "PLAI_POLYMER_FAMILY",
    "CleaningReport",
    "CurveSet",
    "DataCleaningWarning",
    "ExcludedRow",
    "data_file",
    "grouped_folds",
    "gse_solubility_mg_ml",
    "liposome_curves",
    "load_liposome",
    "load_plai",
    "parse_dp_group",
    "plai_curves",
]
