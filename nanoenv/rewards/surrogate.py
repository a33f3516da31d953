"""A learned release surrogate trained on the real PLAI curves, and a reward built on it.

This module is the worked example of plugging a *new* reward model into the
environment API (:mod:`nanoenv.rewards`): instead of scoring the simulator's
curve, :class:`SurrogateReward` scores the curve a small network trained on
measured data predicts for the same design. Use it as
``gym.make("nanoenv/FormulationDesign-v0", reward_model="surrogate")``.

:class:`ReleaseSurrogate` maps a formulation (the design parameters the
environments edit) and two drug descriptors to the parameters of a
two-phase Weibull release curve with a plateau (Weibull 1951; Papadopoulou et
al., Int. J. Pharm. 309, 44-50, 2006, for its use on release data)::

    F(t) = F_max · [w · (1 − exp(−(t/τ₁)^β₁)) + (1 − w) · (1 − exp(−(t/τ₂)^β₂))]

with ``t`` in hours, ``0 < F_max ≤ 1``, ``0 < w < 1``, ``τ₁ < τ₂`` and
``β > 0``. Every predicted curve is therefore ``0`` at ``t = 0``, in ``[0, 1]``
and non-decreasing in time by construction; time enters only through
``log t``. The design is differentiable end to end: gradients flow from a
predicted curve (and the reward) to ``Formulation.values``.

Inputs (raw, then standardised with the training set's mean and standard
deviation; see :data:`SURROGATE_INPUTS`): ``log10`` radius (nm), zeta
potential (mV), lactide fraction, ``log10`` polymer Mw (kDa), drug loading,
PEG fraction, crosslink ratio, ``log10`` drug molecular weight (g/mol) and drug
logP. An input that is constant in the training data (zeta and PEG in PLAI,
which does not report them) gets a zero scale, so predictions do not depend on
it: the data say nothing about it.

Domain: the PLAI data (Bannigan et al., Nat. Commun. 14, 35, 2023) are
polyester nanoparticles, microparticles and implants (radius 0.14 µm to 1.2 mm with
SA-V in mm⁻¹, 72 h to 190 days of release). Predictions for smaller nanoparticles (the
default polymer design space, 25-250 nm) or for liposomes are extrapolations, useful as
an example of a data-driven reward, not as a validated model.
"""

from __future__ import annotations

import copy
import functools
import math
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from nanoenv.kinetics import PARAMETER_INDEX, Drug, Formulation
from nanoenv.metrics import f2_similarity
from nanoenv.rewards.base import RewardOutput
from nanoenv.rewards.builtin import stability_cost
from nanoenv.targets import TargetBatch

if TYPE_CHECKING:
    from nanoenv.data import CurveSet

__all__ = [
    "SURROGATE_INPUTS",
    "ReleaseSurrogate",
    "SurrogateReward",
    "fold_errors",
    "masked_mse",
    "mean_curve_baseline",
    "plai_surrogate",
    "train_surrogate",
]

#: Raw network inputs, in column order (units in the names).
SURROGATE_INPUTS: tuple[str, ...] = (
    "log10_radius_nm",
    "zeta_mv",
    "lactide_fraction",
    "log10_polymer_mw_kda",
    "drug_loading",
    "peg_fraction",
    "crosslink_ratio",
    "log10_drug_mw_g_mol",
    "drug_logp",
)
_DESIGN_COLUMNS = (
    "radius_nm",
    "zeta_mv",
    "lactide_fraction",
    "polymer_mw_kda",
    "drug_loading",
    "peg_fraction",
    "crosslink_ratio",
)
_LOG_COLUMNS = frozenset({"radius_nm", "polymer_mw_kda"})
_N_CURVE_PARAMETERS = 6  # F_max, w, log τ₁, log gap τ₂/τ₁, β₁, β₂
_MIN_TIME_H = 1e-6  # log t is clamped here; F is exactly 0 at t = 0


def _drug_columns(
    drug: Drug | None, batch: int, default: torch.Tensor, like: torch.Tensor
) -> torch.Tensor:
    """``(B, 2)`` raw drug inputs ``log10 MW``, ``logP``; ``default`` when ``drug`` is None."""
    if drug is None:
        return default.to(like).expand(batch, -1)
    mw = torch.as_tensor(drug.mw_g_mol, dtype=like.dtype, device=like.device).reshape(-1)
    logp = torch.as_tensor(drug.logp, dtype=like.dtype, device=like.device).reshape(-1)
    return torch.stack([torch.log10(mw), logp], dim=1).expand(batch, -1)


class ReleaseSurrogate(nn.Module):
    """Formulation + drug → cumulative release curve (two-phase Weibull with a plateau).

    :param hidden: width of the two tanh hidden layers; ``0`` (the default) maps the
        standardised inputs linearly to the curve parameters, which generalises best to
        unseen drug–polymer groups on PLAI (see :func:`fold_errors`).

    The input standardisation (:attr:`input_mean`, :attr:`input_scale`) and the
    default drug (:attr:`default_drug`, the training set's median ``log10 MW``
    and ``logP``) are buffers, set by :func:`train_surrogate` and saved with
    the weights.

    >>> model = ReleaseSurrogate()
    >>> model(Formulation.default(3), torch.linspace(0, 720, 8)).shape
    torch.Size([3, 8])
    """

    input_mean: torch.Tensor
    input_scale: torch.Tensor
    default_drug: torch.Tensor

    def __init__(self, hidden: int = 0) -> None:
        super().__init__()
        self.hidden = hidden
        n = len(SURROGATE_INPUTS)
        layers: list[nn.Module] = []
        width = n
        for _ in range(2 if hidden > 0 else 0):
            layers += [nn.Linear(width, hidden), nn.Tanh()]
            width = hidden
        self.net = nn.Sequential(*layers, nn.Linear(width, _N_CURVE_PARAMETERS))
        self.register_buffer("input_mean", torch.zeros(n))
        self.register_buffer("input_scale", torch.ones(n))
        # log10(400 g/mol), logP 2: a typical small-molecule drug until trained
        self.register_buffer("default_drug", torch.tensor([math.log10(400.0), 2.0]))
        head = self.net[-1]
        with torch.no_grad():  # start near a generic two-phase curve: 10 h burst, 40-day bulk
            head.weight.mul_(0.1)
            head.bias.copy_(torch.tensor([2.0, -1.0, math.log(10.0), math.log(100.0), 0.0, 0.0]))

    # -- inputs ---------------------------------------------------------------------------
    def raw_inputs(self, formulation: Formulation, drug: Drug | None = None) -> torch.Tensor:
        """``(B, 9)`` unstandardised inputs (:data:`SURROGATE_INPUTS`), differentiable.

        :param formulation: ``B`` designs in physical units.
        :param drug: one drug or ``B`` stacked drugs; ``None`` uses :attr:`default_drug`.
        """
        v = formulation.values
        cols = []
        for name in _DESIGN_COLUMNS:
            col = v[:, PARAMETER_INDEX[name]]
            cols.append(torch.log10(col) if name in _LOG_COLUMNS else col)
        design = torch.stack(cols, dim=1)
        return torch.cat([design, _drug_columns(drug, len(v), self.default_drug, v)], dim=1)

    def curve_parameters(
        self, formulation: Formulation, drug: Drug | None = None
    ) -> dict[str, torch.Tensor]:
        """The ``(B,)`` curve parameters: ``f_max``, ``w``, ``tau1_h``, ``tau2_h``, ``beta1``,
        ``beta2`` (times in hours)."""
        x = self.raw_inputs(formulation, drug).to(self.input_mean.dtype)
        x = (x - self.input_mean) * self.input_scale
        out = self.net(x).to(formulation.dtype)
        f_max, w, log_tau1, gap, b1, b2 = out.unbind(1)
        log_tau1 = log_tau1.clamp(-10.0, 15.0)  # 4.5e-5 h to 3.3e6 h: keeps exp finite
        return {
            "f_max": torch.sigmoid(f_max),
            "w": torch.sigmoid(w),
            "tau1_h": torch.exp(log_tau1),
            "tau2_h": torch.exp(log_tau1 + nn.functional.softplus(gap)),
            "beta1": 0.1 + 2.9 * torch.sigmoid(b1),  # β in (0.1, 3): convex to sigmoidal
            "beta2": 0.1 + 2.9 * torch.sigmoid(b2),
        }

    def forward(
        self, formulation: Formulation, times_h: torch.Tensor, drug: Drug | None = None
    ) -> torch.Tensor:
        """``(B, T)`` predicted cumulative fraction released, in ``[0, 1]``, non-decreasing.

        :param formulation: ``B`` designs in physical units.
        :param times_h: ``(T,)`` or ``(B, T)`` non-negative times, hours.
        :param drug: one drug or ``B`` stacked drugs; ``None`` uses :attr:`default_drug`.
        """
        p = self.curve_parameters(formulation, drug)
        t = torch.as_tensor(times_h, dtype=formulation.dtype, device=formulation.device)
        t = t.expand(len(formulation), -1) if t.dim() == 1 else t
        log_t = torch.log(t.clamp_min(_MIN_TIME_H))

        def weibull(tau: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
            return -torch.expm1(-torch.exp(beta[:, None] * (log_t - torch.log(tau)[:, None])))

        phases = p["w"][:, None] * weibull(p["tau1_h"], p["beta1"]) + (
            1.0 - p["w"][:, None]
        ) * weibull(p["tau2_h"], p["beta2"])
        release = p["f_max"][:, None] * phases
        return torch.where(t > 0, release, torch.zeros_like(release))

    # -- persistence ----------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Write the weights, buffers and width to ``path`` (a torch file)."""
        from nanoenv.files import atomic_open

        with atomic_open(path, "wb") as handle:
            torch.save({"hidden": self.hidden, "state_dict": self.state_dict()}, handle)

    @classmethod
    def load(cls, path: str | Path, map_location: str | torch.device = "cpu") -> ReleaseSurrogate:
        """Read a model written by :meth:`save`."""
        blob = torch.load(Path(path), map_location=map_location, weights_only=True)
        model = cls(hidden=int(blob["hidden"])).to(blob["state_dict"]["input_mean"].dtype)
        model.load_state_dict(blob["state_dict"])
        return model


def masked_mse(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over curves of each curve's mean squared error on its real points (``mask``).

    Every curve weighs the same however many points it has.
    """
    m = mask.to(pred.dtype)
    per_curve = ((pred - target) ** 2 * m).sum(dim=1) / m.sum(dim=1).clamp_min(1.0)
    return per_curve.mean()


def train_surrogate(
    curves: CurveSet,
    epochs: int = 500,
    seed: int = 0,
    progress: bool = False,
    *,
    hidden: int = 0,
    lr: float = 1e-2,
    weight_decay: float = 0.0,
    l2: float = 1e-3,
) -> ReleaseSurrogate:
    """Fit a :class:`ReleaseSurrogate` to measured curves (full-batch Adam, masked MSE).

    Deterministic for a given ``seed`` (initialisation drawn under a forked RNG,
    float64, full batch, one thread); well under a second for the 153 PLAI curves.

    :param curves: e.g. :func:`nanoenv.data.plai_curves` or a ``subset`` of it.
    :param epochs: full-batch Adam steps.
    :param seed: seed of the weight initialisation.
    :param progress: print the loss every tenth of the run.
    :param hidden: hidden-layer width.
    :param lr: Adam learning rate (cosine-annealed to 0).
    :param weight_decay: AdamW decoupled weight decay.
    :param l2: ridge penalty ``l2 · Σ W²`` on the weight matrices (not biases), added to
        the loss; shrinks predictions toward one shared curve, which is what generalises
        to unseen drug–polymer groups.
    :returns: the model in eval mode, float64, with its training loss history in
        ``model.loss_history`` (one float per epoch).
    """
    if epochs < 1 or hidden < 0:
        raise ValueError(f"epochs={epochs} must be positive and hidden={hidden} non-negative")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = ReleaseSurrogate(hidden=hidden).double()
    formulation = curves.formulation.to(dtype=torch.float64)
    drug = curves.drug
    times = curves.times_h.double()
    release = curves.release.double()
    mask = curves.mask
    with torch.no_grad():
        x = model.raw_inputs(formulation, drug)
        mean, std = x.mean(dim=0), x.std(dim=0)
        model.input_mean.copy_(mean)
        model.input_scale.copy_(torch.where(std > 1e-9, 1.0 / std.clamp_min(1e-9), 0.0))
        model.default_drug.copy_(x[:, -2:].median(dim=0).values)
    optimiser = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=epochs)
    history: list[float] = []
    start = time.perf_counter()
    model.train()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny full batch: extra threads only add contention
    try:
        _fit(
            model,
            optimiser,
            schedule,
            formulation,
            times,
            drug,
            release,
            mask,
            epochs,
            progress,
            history,
            start,
            l2,
        )
    finally:
        torch.set_num_threads(threads)
    model.eval()
    model.loss_history = history
    return model


def _fit(
    model: ReleaseSurrogate,
    optimiser: torch.optim.Optimizer,
    schedule: torch.optim.lr_scheduler.LRScheduler,
    formulation: Formulation,
    times: torch.Tensor,
    drug: Drug,
    release: torch.Tensor,
    mask: torch.Tensor,
    epochs: int,
    progress: bool,
    history: list[float],
    start: float,
    l2: float,
) -> None:
    """The training loop of :func:`train_surrogate` (appends to ``history``)."""
    weights = [p for name, p in model.named_parameters() if name.endswith("weight")]
    for epoch in range(epochs):
        optimiser.zero_grad()
        loss = masked_mse(model(formulation, times, drug), release, mask)
        penalty = l2 * sum((w**2).sum() for w in weights)
        (loss + penalty).backward()
        optimiser.step()
        schedule.step()
        history.append(loss.item())
        if progress and (epoch + 1) % max(1, epochs // 10) == 0:
            print(
                f"epoch {epoch + 1:5d}  masked MSE {history[-1]:.5f}  "
                f"({time.perf_counter() - start:.1f} s)"
            )


@functools.lru_cache(maxsize=1)
def plai_surrogate() -> ReleaseSurrogate:
    """The surrogate trained on every shipped PLAI curve (trained on first call, then cached).

    Takes a few seconds once per process (mostly loading the data; then 500 Adam steps).
    """
    from nanoenv.data import DataCleaningWarning, plai_curves  # pandas on demand

    with warnings.catch_warnings():
        # the cleaning report is for people loading the data; the surrogate just uses the curves
        warnings.simplefilter("ignore", DataCleaningWarning)
        curves = plai_curves()
    return train_surrogate(curves)


class SurrogateReward:
    """Score ``f2/100`` between the *surrogate's* predicted curve and the target, with the
    stability cost (:func:`nanoenv.rewards.builtin.stability_cost`).

    The simulator's curve is ignored: the score is what a model trained on measured
    PLAI release data predicts for the design, a data-driven reward. It is
    differentiable in ``formulation.values``.

    :param model: a trained :class:`ReleaseSurrogate`; default :func:`plai_surrogate`,
        trained on the first call (seconds) and cached for the process.
    :param drug: the drug the surrogate is told about when the targets carry none (a
        preset name or a :class:`Drug`); ``None`` uses the training set's median drug. A
        :class:`~nanoenv.targets.TargetBatch` carries each target's drug, which takes
        precedence.
    """

    name = "surrogate"

    def __init__(
        self, model: ReleaseSurrogate | None = None, drug: Drug | str | None = None
    ) -> None:
        self._model = model
        self.drug = Drug.preset(drug) if isinstance(drug, str) else drug
        self._copies: dict[tuple[torch.device, torch.dtype], ReleaseSurrogate] = {}

    @property
    def model(self) -> ReleaseSurrogate:
        """The surrogate (trained on first access when none was given)."""
        if self._model is None:
            self._model = plai_surrogate()
        return self._model

    def _model_on(self, device: torch.device, dtype: torch.dtype) -> ReleaseSurrogate:
        key = (device, dtype)
        if key not in self._copies:
            frozen = copy.deepcopy(self.model).to(device=device, dtype=dtype).eval()
            self._copies[key] = frozen.requires_grad_(False)
        return self._copies[key]

    def predict(self, targets: TargetBatch, formulation: Formulation) -> torch.Tensor:
        """``(B, T)`` surrogate curves of ``formulation`` on the targets' time grids."""
        model = self._model_on(formulation.device, formulation.dtype)
        drug = getattr(targets, "drug", None) or self.drug
        return model(formulation, targets.times_h.to(formulation.dtype), drug)

    def __call__(
        self, release: torch.Tensor, targets: TargetBatch, formulation: Formulation
    ) -> RewardOutput:
        predicted = self.predict(targets, formulation).to(release.dtype)
        target = targets.release.to(release.dtype)
        return RewardOutput(
            f2_similarity(predicted, target, validate=False) / 100.0,
            stability_cost(formulation).to(release.dtype),
        )


def fold_errors(
    curves: CurveSet, folds: Sequence[tuple[Sequence[int], Sequence[int]]], **train_kwargs
) -> list[dict[str, float]]:
    """Held-out masked RMSE of the surrogate and of a constant mean-curve baseline per fold.

    The baseline predicts, for every design, the training curves' mean release
    interpolated in ``log t`` (means over 12 quantile bins of the training times).

    :param curves: the curves to split.
    :param folds: ``(train_idx, test_idx)`` pairs, e.g. :func:`nanoenv.data.grouped_folds`.
    :param train_kwargs: passed to :func:`train_surrogate`.
    :returns: one dict per fold with ``surrogate_rmse``, ``baseline_rmse`` (fractions) and
        ``train_s`` (seconds).
    """
    out = []
    for train_idx, test_idx in folds:
        train, test = curves.subset(train_idx), curves.subset(test_idx)
        start = time.perf_counter()
        model = train_surrogate(train, **train_kwargs)
        seconds = time.perf_counter() - start
        with torch.no_grad():
            pred = model(test.formulation.to(dtype=torch.float64), test.times_h, test.drug)
        base = mean_curve_baseline(train)(test.times_h)
        out.append(
            {
                "surrogate_rmse": math.sqrt(float(masked_mse(pred, test.release, test.mask))),
                "baseline_rmse": math.sqrt(float(masked_mse(base, test.release, test.mask))),
                "train_s": seconds,
            }
        )
    return out


def mean_curve_baseline(
    curves: CurveSet, n_bins: int = 12
) -> Callable[[torch.Tensor], torch.Tensor]:
    """A function ``times_h (B, T) → (B, T)``: the mean measured release, interpolated in
    ``log t`` between the means of ``n_bins`` quantile bins of the positive measurement times
    (release 0 at ``t = 0``). The same curve for every design."""
    t = curves.times_h[curves.mask]
    r = curves.release[curves.mask]
    pos = t > 0
    log_t, r = torch.log(t[pos]), r[pos]
    edges = torch.quantile(log_t, torch.linspace(0, 1, n_bins + 1, dtype=log_t.dtype))
    bin_of = torch.bucketize(log_t, edges[1:-1])
    knots_x = torch.stack([log_t[bin_of == k].mean() for k in range(n_bins)])
    knots_y = torch.cummax(torch.stack([r[bin_of == k].mean() for k in range(n_bins)]), 0).values

    def predict(times_h: torch.Tensor) -> torch.Tensor:
        x = torch.log(times_h.clamp_min(_MIN_TIME_H))
        i = torch.bucketize(x, knots_x).clamp(1, n_bins - 1)
        x0, x1 = knots_x[i - 1], knots_x[i]
        y0, y1 = knots_y[i - 1], knots_y[i]
        y = y0 + (y1 - y0) * ((x - x0) / (x1 - x0)).clamp(0.0, 1.0)
        y = torch.where(x < knots_x[0], knots_y[0] * torch.exp(x - knots_x[0]), y)
        return torch.where(times_h > 0, y, torch.zeros_like(y))

    return predict
