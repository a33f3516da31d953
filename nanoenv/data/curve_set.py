"""A set of measured release curves with their simulator inputs and model features
(:class:`CurveSet`), and the grouped folds that validate models on them
(:func:`grouped_folds`: by group, never by row).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np
import torch

from nanoenv.data.loaders import parse_dp_group
from nanoenv.kinetics.conditions import ReleaseConditions
from nanoenv.kinetics.drug import Drug
from nanoenv.kinetics.formulation import Formulation

__all__ = ["CurveSet", "grouped_folds", "padded_times"]


@dataclass(frozen=True, eq=False)  # tensors have no truth value: compare by identity
class CurveSet:
    """``B`` measured release curves with their simulator inputs and model features.

    :param name: ``"plai"`` or ``"liposome"``.
    :param curve_ids: ``B`` curve ids (PLAI ``Experimental_index``, liposome ``IVR_ID``).
    :param groups: ``B`` group labels (PLAI ``DP_Group``, liposome ``API_name``),
        for grouped cross-validation (:func:`grouped_folds`).
    :param formulation: ``B`` designs, float64, physical units.
    :param drug: one drug per curve (``(B,)`` float64 tensors).
    :param conditions: one medium schedule per curve, ``(B, K)`` float64.
    :param times_h: ``(B, T)`` float64 measurement times, hours; each row padded
        to ``T`` by repeating its last time.
    :param release: ``(B, T)`` float64 cumulative fraction released (0–1,
        non-decreasing), padded by repeating the last value.
    :param mask: ``(B, T)`` bool, ``True`` on real points.
    :param features: ``(B, F)`` float64 model inputs computed from the formulation,
        drug and medium alone — never from a measured release. Unstandardised.
    :param feature_names: ``F`` names of the feature columns.
    :param notes: clamps and fill values applied by the mapping.
    """

    name: str
    curve_ids: list
    groups: list[str]
    formulation: Formulation
    drug: Drug
    conditions: ReleaseConditions
    times_h: torch.Tensor
    release: torch.Tensor
    mask: torch.Tensor
    features: torch.Tensor
    feature_names: list[str]
    notes: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.curve_ids)

    @property
    def drugs(self) -> list[str]:
        """``B`` drug labels, for leave-one-drug-out validation: the drug code of the PLAI
        ``DP_Group`` (``"PTX-PLGA"`` → ``"PTX"``, :func:`~nanoenv.data.parse_dp_group`);
        for the liposome data (and any label that names no polymer) the group already is
        the drug (``API_name``)."""
        if self.name != "plai":
            return list(self.groups)
        out = []
        for g in self.groups:
            try:
                out.append(parse_dp_group(g)[0])
            except ValueError:
                out.append(g)
        return out

    def subset(
        self, index: int | slice | Sequence[int] | Sequence[bool] | np.ndarray | torch.Tensor
    ) -> CurveSet:
        """The curves selected by ``index`` (positions, a boolean mask or a slice).

        Time padding is trimmed to the longest selected curve.
        """
        if not isinstance(index, slice | int):
            index = np.asarray(index)
            if index.dtype != np.bool_:
                index = index.astype(np.int64)
        positions = np.atleast_1d(np.arange(len(self))[index])
        if positions.size == 0:
            raise ValueError("subset selects no curves; select at least one")
        idx = torch.as_tensor(positions, dtype=torch.long)
        mask = self.mask[idx]
        width = int(mask.sum(dim=1).max())
        drug = Drug(
            name=self.drug.name,
            **{
                f.name: torch.as_tensor(getattr(self.drug, f.name))[idx]
                for f in fields(Drug)
                if f.name != "name"
            },
        )
        conditions = ReleaseConditions(
            **{f.name: getattr(self.conditions, f.name)[idx] for f in fields(ReleaseConditions)}
        )
        return CurveSet(
            name=self.name,
            curve_ids=[self.curve_ids[i] for i in positions],
            groups=[self.groups[i] for i in positions],
            formulation=self.formulation[idx],
            drug=drug,
            conditions=conditions,
            times_h=self.times_h[idx, :width],
            release=self.release[idx, :width],
            mask=mask[:, :width],
            features=self.features[idx],
            feature_names=list(self.feature_names),
            notes=self.notes,
        )


def grouped_folds(
    groups: Sequence[str], n_splits: int = 5, seed: int = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Group k-fold split: ``n_splits`` pairs ``(train_idx, test_idx)``, no group in both.

    Groups are assigned, largest first, to the fold holding the fewest curves
    so far (as scikit-learn's ``GroupKFold``); ``seed`` shuffles the order of
    equally large groups. Every curve is in exactly one test fold.

    :param groups: one group label per curve (e.g. :attr:`CurveSet.groups`).
    :param n_splits: number of folds, 2 to the number of distinct groups.
    :param seed: seed of the tie-breaking shuffle.
    :returns: sorted integer position arrays.
    """
    labels = np.asarray([str(g) for g in groups], dtype=object)
    unique, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    if not 2 <= n_splits <= len(unique):
        raise ValueError(
            f"n_splits={n_splits} must be between 2 and the number of groups ({len(unique)})"
        )
    order = np.random.default_rng(seed).permutation(len(unique))
    order = order[np.argsort(-counts[order], kind="stable")]
    load = np.zeros(n_splits, dtype=np.int64)
    fold_of_group = np.empty(len(unique), dtype=np.int64)
    for g in order:
        fold = int(np.argmin(load))
        fold_of_group[g] = fold
        load[fold] += counts[g]
    fold_of_curve = fold_of_group[inverse]
    return [
        (np.flatnonzero(fold_of_curve != k), np.flatnonzero(fold_of_curve == k))
        for k in range(n_splits)
    ]


def padded_times(curves: CurveSet) -> torch.Tensor:
    """Padded ``(B, T)`` times made non-decreasing (padding repeats the last real time)."""
    t = curves.times_h.to(torch.float64)
    t = torch.where(curves.mask, t, torch.zeros_like(t)).clamp(min=0.0)
    return torch.cummax(t, dim=-1).values
