"""The data-driven reference: gradient-boosted trees on the formulation features plus
time (:class:`TreeBaseline`).
"""

from __future__ import annotations

import contextlib
import math
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from nanoenv.data.curve_set import padded_times

if TYPE_CHECKING:  # pragma: no cover
    from nanoenv.data import CurveSet


class StumpBoost:
    """Least-squares gradient boosting of depth-1 trees (numpy), used when scikit-learn
    is not installed. Candidate thresholds are feature quantiles."""

    def __init__(self, n_estimators: int = 300, learning_rate: float = 0.1, n_bins: int = 32):
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.n_bins = n_bins

    def fit(self, x: np.ndarray, y: np.ndarray) -> StumpBoost:
        x = np.nan_to_num(np.asarray(x, dtype=float), nan=0.0)
        y = np.asarray(y, dtype=float)
        self.base_ = float(y.mean())
        qs = np.linspace(0.0, 1.0, self.n_bins + 2)[1:-1]
        cuts = [np.unique(np.quantile(x[:, j], qs)) for j in range(x.shape[1])]
        residual = y - self.base_
        self.stumps_: list[tuple[int, float, float, float]] = []
        for _ in range(self.n_estimators):
            best = (math.inf, 0, 0.0, 0.0, 0.0)
            total = residual.sum()
            n = len(residual)
            for j, thresholds in enumerate(cuts):
                order = np.argsort(x[:, j], kind="stable")
                xs, rs = x[order, j], np.cumsum(residual[order])
                for t in thresholds:
                    k = int(np.searchsorted(xs, t, side="right"))
                    if k == 0 or k == n:
                        continue
                    left, right = rs[k - 1], total - rs[k - 1]
                    gain = left * left / k + right * right / (n - k)
                    if -gain < best[0]:
                        best = (-gain, j, float(t), left / k, right / (n - k))
            _, j, t, lv, rv = best
            step = self.learning_rate * np.where(x[:, j] <= t, lv, rv)
            residual = residual - step
            self.stumps_.append((j, t, self.learning_rate * lv, self.learning_rate * rv))
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        x = np.nan_to_num(np.asarray(x, dtype=float), nan=0.0)
        out = np.full(len(x), self.base_)
        for j, t, lv, rv in self.stumps_:
            out += np.where(x[:, j] <= t, lv, rv)
        return out


def _blas_threads(n: int) -> contextlib.AbstractContextManager[Any]:
    """Limit OpenMP/BLAS threads (scikit-learn's) to ``n`` when threadpoolctl is present;
    idle OpenMP workers otherwise spin and slow torch down on small machines."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - depends on the environment
        return contextlib.nullcontext()
    return threadpool_limits(n)


class TreeBaseline:
    """Gradient-boosted trees on ``features + log(1 + time/h)`` → fraction released.

    The data-driven reference the physics is compared against (like the light gradient
    boosting model of Bannigan et al. 2023). Uses scikit-learn's
    ``HistGradientBoostingRegressor`` (monotone increasing in time) when installed (extra
    ``nanoenv[calibration]``), else a small numpy boosted-stumps regressor.
    Predictions are clipped to ``[0, 1]`` and made non-decreasing in time.
    """

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self.model: Any = None
        self.feature_names: list[str] | None = None

    @staticmethod
    def _design(curves: CurveSet) -> tuple[np.ndarray, np.ndarray]:
        feats = curves.features.detach().cpu().numpy().astype(float)
        t = padded_times(curves).cpu().numpy()
        n_t = t.shape[1]
        x = np.concatenate([np.repeat(feats, n_t, axis=0), np.log1p(t).reshape(-1, 1)], axis=1)
        return x, curves.mask.cpu().numpy().reshape(-1)

    def fit(self, curves: CurveSet) -> TreeBaseline:
        x, mask = self._design(curves)
        y = curves.release.detach().cpu().numpy().reshape(-1)
        self.feature_names = list(curves.feature_names)
        try:
            from sklearn.ensemble import HistGradientBoostingRegressor
        except ImportError:  # pragma: no cover - depends on the environment
            self.model = StumpBoost().fit(x[mask], y[mask])
            return self
        monotone = [0] * (x.shape[1] - 1) + [1]
        with _blas_threads(1):
            self.model = HistGradientBoostingRegressor(
                max_iter=300,
                learning_rate=0.05,
                max_leaf_nodes=15,
                min_samples_leaf=10,
                l2_regularization=1.0,
                monotonic_cst=monotone,
                random_state=self.seed,
            ).fit(x[mask], y[mask])
        return self

    def predict(self, curves: CurveSet) -> torch.Tensor:
        if self.model is None:
            raise ValueError("TreeBaseline.predict called before fit")
        x, _ = self._design(curves)
        with _blas_threads(1):
            y = self.model.predict(x).reshape(curves.times_h.shape)
        y = np.maximum.accumulate(np.clip(y, 0.0, 1.0), axis=-1)
        return torch.as_tensor(y, dtype=torch.float64)
