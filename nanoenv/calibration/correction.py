"""Learned, bounded correction of the mechanism parameters (:class:`MechanismCorrection`)
and the settings of its ensemble.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from nanoenv.kinetics.simulate import MechanismParameters

#: Members of the correction ensemble by default (``fit_calibration``, ``fit_model``,
#: ``cross_validate``, ``nanoenv calibrate``): averaging members reduces the variance
#: that dominates the error on unseen groups. Grouped 5-fold CV on PLAI (bounded
#: constants with both size terms, default correction settings): 5 members MAE 0.197,
#: 10 members 0.185 (``benchmarks/results/calibration_experiments.md``, section I).
DEFAULT_MEMBERS = 10

#: Settings of the correction ensemble that :func:`fit_calibration` (and so ``nanoenv
#: calibrate`` and the ``"calibrated+correction"`` cross-validation) uses unless told
#: otherwise: every measured point weighs the same, learning rate 0.03, smoothed-MAE loss,
#: and each member bagged on 80 % of the groups with early stopping on the other 20 %.
#: Chosen by grouped 5-fold CV on PLAI with bounded constants (MAE of the held-out
#: curves, 5 members unless noted): previous settings (group weighting, lr 0.01, MSE)
#: 0.224; point weighting 0.206; lr 0.03 0.203; point weighting + lr 0.03 0.208, + bagging
#: with early stopping 0.201, + 10 members 0.196, + MAE loss 0.193 (10 members). Each
#: change alone is within the fold-to-fold noise (±0.01-0.02), so treat the ranking as
#: indicative; see ``benchmarks/results/calibration.md``.
DEFAULT_CORRECTION_OPTIONS: dict[str, Any] = {
    "weighting": "points",
    "lr": 0.03,
    "loss": "mae",
    "subsample": 0.8,
}

#: The correction settings before the bounded calibration (for comparison runs).
PREVIOUS_CORRECTION_OPTIONS: dict[str, Any] = {
    "weighting": "groups",
    "lr": 0.01,
    "loss": "mse",
    "subsample": None,
}


_LN10 = math.log(10.0)


class MechanismCorrection(nn.Module):
    """Bounded, feature-driven corrections of the mechanism parameters.

    An MLP maps standardised formulation features ``(B, F)`` to additive corrections
    of the mechanism parameters, each bounded by ``tanh × scale`` so that the physics
    keeps the shape of the curve (a corrected curve is still burst + diffusion +
    erosion, or burst + membrane leakage):

    0. ``log_transport``: natural log of a factor on the transport rate (matrix
       diffusivity of a polymer particle, membrane leak rate of a liposome);
       default bound ±4 decades;
    1. ``log_hydrolysis``: natural log of a factor on the chain-scission rate;
       ±1.5 decades;
    2. ``burst_logit``: added to the logit of the burst fraction; ±4;
    3. ``log_erosion_mw``: added to ``ln Mw_c`` (critical molecular weight of erosion
       onset), i.e. subtracted from ``ln(Mw₀/Mw_c)``; ±3 (a factor of e³ ≈ 20);
    4. ``log_burst_time``: natural log of a factor on the burst time constant; ±3;
    5. ``log_erosion_width``: natural log of a factor on the width of erosion onset; ±1.5.

    Channels 0-3 are the ones the simulator's physics names directly; 4 and 5 let
    bursts last hours or days and erosion set in sharply or gradually, which the real
    PLAI curves need (an oracle fit of channels 0-3 alone per curve reaches only
    MAE 0.08 on the training curves, with 4 and 5 0.05). A scale of 0 switches a
    channel off. Missing (NaN) features are imputed with the training mean (0 after
    standardising).

    :param n_features: ``F``.
    :param hidden: width of the two hidden layers; 0 makes the map linear.
    :param scales: bound of each channel (see above); natural-log units for the rates.
    :param feature_names: names of the feature columns, checked at prediction time.
    """

    CHANNELS: tuple[str, ...] = (
        "log_transport",
        "log_hydrolysis",
        "burst_logit",
        "log_erosion_mw",
        "log_burst_time",
        "log_erosion_width",
    )
    DEFAULT_SCALES: tuple[float, ...] = (4.0 * _LN10, 1.5 * _LN10, 4.0, 3.0, 3.0, 1.5)

    def __init__(
        self,
        n_features: int,
        hidden: int = 16,
        scales: Sequence[float] = DEFAULT_SCALES,
        feature_names: Sequence[str] | None = None,
    ) -> None:
        super().__init__()
        if len(scales) != len(self.CHANNELS):
            raise ValueError(f"scales needs {len(self.CHANNELS)} values; got {len(scales)}")
        self.n_features = int(n_features)
        self.hidden = int(hidden)
        self.feature_names = list(feature_names) if feature_names is not None else None
        out = len(self.CHANNELS)
        if hidden > 0:
            layers: list[nn.Module] = [
                nn.Linear(n_features, hidden),
                nn.Tanh(),
                nn.Linear(hidden, hidden),
                nn.Tanh(),
                nn.Linear(hidden, out),
            ]
        else:
            layers = [nn.Linear(n_features, out)]
        self.net = nn.Sequential(*layers).to(torch.float64)
        with torch.no_grad():  # start close to the identity correction
            last = self.net[-1]
            last.weight.mul_(0.1)
            last.bias.zero_()
        self.register_buffer("scales", torch.tensor(list(scales), dtype=torch.float64))
        self.register_buffer("mean", torch.zeros(n_features, dtype=torch.float64))
        self.register_buffer("std", torch.ones(n_features, dtype=torch.float64))

    def fit_scaler(self, features: torch.Tensor) -> None:
        """Set the standardisation from training features ``(B, F)`` (NaN ignored)."""
        x = torch.as_tensor(features, dtype=torch.float64)
        finite = torch.isfinite(x)
        count = finite.sum(0).clamp(min=1)
        mean = torch.where(finite, x, 0.0).sum(0) / count
        var = torch.where(finite, (x - mean) ** 2, 0.0).sum(0) / count
        std = var.sqrt()
        self.mean.copy_(mean)
        self.std.copy_(torch.where(std > 1e-12, std, torch.ones_like(std)))

    def standardise(self, features: torch.Tensor) -> torch.Tensor:
        """``(x − mean)/std`` with NaN → 0 and values clipped to ±5 standard deviations."""
        x = torch.as_tensor(features, dtype=torch.float64, device=self.mean.device)
        z = (x - self.mean) / self.std
        return torch.nan_to_num(z, nan=0.0, posinf=5.0, neginf=-5.0).clamp(-5.0, 5.0)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """``(B, 6)`` corrections (see the class docstring for the channels)."""
        return torch.tanh(self.net(self.standardise(features))) * self.scales

    @staticmethod
    def apply(m: MechanismParameters, delta: torch.Tensor) -> MechanismParameters:
        """Apply corrections ``delta`` ``(B, 6)`` (channels :attr:`CHANNELS`) to ``m``.

        The burst time and erosion width become ``(B, 1)`` tensors (per curve).
        """
        transport = torch.exp(delta[:, 0:1])
        burst = m.burst_fraction.clamp(1e-9, 1.0 - 1e-9)
        burst = torch.sigmoid(torch.logit(burst) + delta[:, 2])
        return dataclasses.replace(
            m,
            diffusivity_nm2_h=m.diffusivity_nm2_h * transport,
            leak_rate_per_h=m.leak_rate_per_h * transport,
            hydrolysis_per_h=m.hydrolysis_per_h * torch.exp(delta[:, 1:2]),
            burst_fraction=burst,
            erosion_critical=m.erosion_critical - delta[:, 3],
            burst_time_h=m.burst_time_h * torch.exp(delta[:, 4:5]),
            erosion_width=m.erosion_width * torch.exp(delta[:, 5:6]),
        )

    def config(self) -> dict[str, Any]:
        """JSON-serialisable architecture, scaler and weights."""
        return {
            "n_features": self.n_features,
            "hidden": self.hidden,
            "scales": self.scales.tolist(),
            "feature_names": self.feature_names,
            "state": {k: v.detach().cpu().tolist() for k, v in self.state_dict().items()},
        }

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> MechanismCorrection:
        """Inverse of :meth:`config`."""
        model = cls(
            int(config["n_features"]),
            hidden=int(config["hidden"]),
            scales=config["scales"],
            feature_names=config.get("feature_names"),
        )
        state = {k: torch.tensor(v, dtype=torch.float64) for k, v in config["state"].items()}
        model.load_state_dict(state)
        return model
