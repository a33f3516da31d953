"""The cargo: the drug properties that the release physics uses.

Values of the presets are from DrugBank / PubChem experimental properties
(molecular weight, logP, pKa of the ionisable group that matters at
physiological pH, aqueous solubility at 25 °C of the form usually loaded).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from nanoenv.kinetics.validation import check_in_range, unchecked

__all__ = ["DRUGS", "DRUG_BOUNDS", "DRUG_FIELDS", "Drug"]

#: Accepted range and unit of each numeric field of :class:`Drug`.
DRUG_BOUNDS = {
    "mw_g_mol": (30.0, 2.0e5, "g/mol"),
    "logp": (-10.0, 15.0, "dimensionless"),
    "pka": (-5.0, 20.0, "dimensionless"),
    "charge": (-1.0, 1.0, "sign: +1 base, -1 acid, 0 neutral"),
    "solubility_mg_ml": (1e-9, 1e4, "mg/mL"),
}
#: The numeric fields of :class:`Drug` (every field but ``name``).
DRUG_FIELDS: tuple[str, ...] = tuple(DRUG_BOUNDS)


@dataclass(frozen=True)
class Drug:
    """Physicochemical properties of the loaded drug.

    Fields are floats for one drug or ``(B,)`` tensors for one drug per design
    (see :meth:`stack`).

    :param name: label (``"doxorubicin"``; ``"mixed"`` for a stacked batch).
    :param mw_g_mol: molecular weight, g/mol. Sets diffusivity in the matrix
        (larger molecules diffuse more slowly).
    :param logp: octanol/water partition coefficient (log10). Hydrophobic
        drugs partition into the polymer and through lipid bilayers.
    :param pka: pKa of the ionisable group (Henderson–Hasselbalch sets the
        charged share at each medium pH).
    :param charge: +1 for a base (cationic when protonated), -1 for an acid
        (anionic when deprotonated), 0 for a drug that stays neutral.
    :param solubility_mg_ml: aqueous solubility at pH 7.4, mg/mL (sets the
        dissolved/dispersed split, Baker–Lonsdale); at other pH an ionisable drug's
        solubility follows Henderson–Hasselbalch
        (:func:`~nanoenv.kinetics.mechanisms.ionised_solubility_factor`).
    """

    name: str
    mw_g_mol: float | torch.Tensor
    logp: float | torch.Tensor
    pka: float | torch.Tensor
    charge: float | torch.Tensor
    solubility_mg_ml: float | torch.Tensor

    def __post_init__(self) -> None:
        for key, (low, high, unit) in DRUG_BOUNDS.items():
            check_in_range(f"drug.{key}", getattr(self, key), low, high, unit)

    @staticmethod
    def preset(name: str) -> Drug:
        """The preset drug called ``name`` (see :data:`DRUGS`)."""
        key = name.strip().lower().replace("_", "-").replace(" ", "-")
        key = {"5fu": "5-fluorouracil", "5-fu": "5-fluorouracil", "dox": "doxorubicin"}.get(
            key, key
        )
        if key not in DRUGS:
            raise ValueError(f"unknown drug preset {name!r}; allowed: {sorted(DRUGS)}")
        return DRUGS[key]

    @classmethod
    def stack(cls, drugs: Sequence[Drug]) -> Drug:
        """One drug per design: a :class:`Drug` whose fields are ``(B,)`` float64 tensors
        (fields matched by name)."""
        if len(drugs) == 0:
            raise ValueError("stack needs at least one Drug; got none")
        names = {d.name for d in drugs}
        values = torch.tensor(
            [[float(getattr(d, k)) for k in DRUG_FIELDS] for d in drugs], dtype=torch.float64
        )
        # the drugs were validated when built: their values are not checked again
        return cls.from_validated(
            name=names.pop() if len(names) == 1 else "mixed",
            **dict(zip(DRUG_FIELDS, values.unbind(1), strict=True)),
        )

    @classmethod
    def from_validated(cls, **values: Any) -> Drug:
        """A drug from fields taken from validated drugs (``name`` and every numeric field),
        without checking them again: for internal paths that move, stack, select or merge
        validated drugs (the environments do so on every reset). Anything else must use the
        constructor."""
        return unchecked(cls, values)

    def to(
        self, device: torch.device | str | None = None, dtype: torch.dtype | None = None
    ) -> Drug:
        """This drug with every numeric field a tensor on ``device`` with ``dtype`` (``None``:
        a tensor field keeps its dtype, a float becomes float64)."""

        def move(value: float | torch.Tensor) -> torch.Tensor:
            keep = value.dtype if isinstance(value, torch.Tensor) else torch.float64
            return torch.as_tensor(value, device=device, dtype=dtype or keep)

        return Drug.from_validated(
            name=self.name, **{k: move(getattr(self, k)) for k in DRUG_FIELDS}
        )

    def tensors(
        self, device: torch.device | None = None, dtype: torch.dtype | None = None
    ) -> dict[str, torch.Tensor]:
        """Every numeric field as a tensor on ``device`` with ``dtype`` (for the simulator)."""
        dtype = dtype or torch.get_default_dtype()
        return {
            key: torch.as_tensor(getattr(self, key), device=device, dtype=dtype)
            for key in DRUG_FIELDS
        }


#: Preset drugs. Sources: DrugBank experimental properties (accessed 2025).
DRUGS: dict[str, Drug] = {
    d.name: d
    for d in (
        # anthracycline, amine pKa 8.3 (cationic at pH 7.4); HCl salt ~10 mg/mL
        Drug("doxorubicin", 543.5, 1.27, 8.3, +1.0, 10.0),
        # taxane, no ionisable group in range; ~0.3 µg/mL
        Drug("paclitaxel", 853.9, 3.0, 10.4, 0.0, 3.0e-4),
        # corticosteroid, neutral; 0.089 mg/mL
        Drug("dexamethasone", 392.5, 1.83, 12.4, 0.0, 0.089),
        # local anaesthetic, tertiary amine pKa 7.9; free base ~4.1 mg/mL
        Drug("lidocaine", 234.3, 2.44, 7.9, +1.0, 4.1),
        # antimetabolite, weak acid (N3-H) pKa 8.0; 12.2 mg/mL
        Drug("5-fluorouracil", 130.08, -0.89, 8.0, -1.0, 12.2),
        # NSAID, carboxylic acid pKa 4.9; 0.021 mg/mL
        Drug("ibuprofen", 206.3, 3.97, 4.91, -1.0, 0.021),
    )
}
