"""Matplotlib figures of release curves and of the release medium.

Everything here draws on :class:`matplotlib.figure.Figure` objects with an Agg
canvas created directly (not through :mod:`matplotlib.pyplot`), so no display,
no global figure registry and no backend switch is ever needed; figures are
freed as soon as they go out of scope.

* :func:`plot_release` — cumulative release (%) against time, an optional
  dashed target curve, and beneath it a short panel with the medium schedule
  (pH, temperature and any light / magnetic-field / enzyme stimulus);
* :func:`figure_to_rgb_array` — an ``(H, W, 3)`` ``uint8`` image of a figure
  (for ``render_mode="rgb_array"`` of a Gymnasium environment);
* :func:`save_figure` — write a figure atomically (:func:`nanoenv.files.atomic_open`).

Release values are **cumulative fractions** in ``[0, 1]`` (as returned by
:func:`nanoenv.kinetics.simulate_release`); they are drawn in percent.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from nanoenv.kinetics.conditions import ReleaseConditions

__all__ = [
    "DAYS_THRESHOLD_H",
    "figure_to_rgb_array",
    "plot_release",
    "save_figure",
    "time_axis",
]

#: Horizons longer than this (hours) are drawn in days.
DAYS_THRESHOLD_H = 72.0

#: Colour cycle of the curves (colour-blind-friendly, after Okabe & Ito 2008).
CURVE_COLORS = (
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#E69F00",  # orange
    "#56B4E9",  # sky blue
    "#000000",  # black
    "#F0E442",  # yellow
)
_PH_COLOR = "#3B6FB6"
_TEMPERATURE_COLOR = "#C0392B"
_GRID_COLOR = "#E3E3E3"
#: Stimulus field -> (legend label, unit, shading colour).
_STIMULI = {
    "light_mw_cm2": ("light", "mW/cm²", "#F2C12E"),
    "magnetic_field_ka_m": ("magnetic field", "kA/m", "#8E6BBF"),
    "enzyme_activity": ("enzyme", "× ref.", "#4BAE6A"),
}

ArrayLike = torch.Tensor | np.ndarray | Sequence[float] | Sequence[Sequence[float]]


# ---------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------


def _as_array(x: Any, name: str) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim not in (1, 2) or arr.shape[-1] == 0:
        raise ValueError(
            f"{name} must be a non-empty 1-D (T,) or 2-D (B, T) array; got {arr.shape}"
        )
    return arr


def time_axis(horizon_h: float) -> tuple[float, str]:
    """The divisor and axis label used for a time axis reaching ``horizon_h`` hours.

    Horizons longer than :data:`DAYS_THRESHOLD_H` are drawn in days.

    >>> time_axis(24.0)
    (1.0, 'Time (h)')
    >>> time_axis(720.0)
    (24.0, 'Time (days)')
    """
    return (24.0, "Time (days)") if horizon_h > DAYS_THRESHOLD_H else (1.0, "Time (h)")


def _style_axes(ax: Axes) -> None:
    ax.grid(True, color=_GRID_COLOR, linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color("#555555")
    ax.tick_params(colors="#333333", labelsize=9)


def _schedules(conditions: ReleaseConditions) -> list[int]:
    """Row indices of the distinct schedules (one for a shared ``(K,)`` schedule)."""
    if conditions.batch_size is None:
        return [0]
    fields = ("start_h", "ph", "temperature_c", *_STIMULI)
    rows: list[int] = []
    for i in range(conditions.batch_size):
        if not any(
            all(torch.equal(getattr(conditions, f)[i], getattr(conditions, f)[j]) for f in fields)
            for j in rows
        ):
            rows.append(i)
    return rows


def _field(conditions: ReleaseConditions, name: str, row: int) -> np.ndarray:
    value = getattr(conditions, name)
    return (value if value.dim() == 1 else value[row]).detach().cpu().numpy()


def _steps(start_h: np.ndarray, value: np.ndarray, horizon_h: float) -> tuple[np.ndarray, ...]:
    """Step-line vertices of a piecewise-constant field on ``[0, horizon_h]``."""
    keep = start_h < horizon_h
    keep[0] = True
    x = np.append(start_h[keep], horizon_h)
    y = np.append(value[keep], value[keep][-1])
    return x, y


def _draw_schedule(
    ax: Axes,
    conditions: ReleaseConditions,
    horizon_h: float,
    scale: float,
    colors: Sequence[str] | None,
    labels: Sequence[str] | None = None,
) -> None:
    rows = _schedules(conditions)
    start = conditions.start_h if conditions.start_h.dim() == 1 else None
    twin = ax.twinx()
    handles = []
    ph_all, temp_all = [], []
    for n, row in enumerate(rows):
        s = (start if start is not None else conditions.start_h[row]).detach().cpu().numpy()
        x, ph = _steps(s, _field(conditions, "ph", row), horizon_h)
        _, temp = _steps(s, _field(conditions, "temperature_c", row), horizon_h)
        ph_all.append(ph)
        temp_all.append(temp)
        ph_color = _PH_COLOR if len(rows) == 1 or colors is None else colors[row % len(colors)]
        if len(rows) == 1:
            suffix = ""
        elif labels is not None and row < len(labels):
            suffix = f" ({labels[row]})"
        else:
            suffix = f" #{row + 1}"
        (h_ph,) = ax.step(x / scale, ph, where="post", color=ph_color, lw=1.8, label="pH" + suffix)
        (h_t,) = twin.step(
            x / scale,
            temp,
            where="post",
            color=_TEMPERATURE_COLOR,
            lw=1.4,
            ls=(0, (4, 2)) if n else "-",
            label="temperature" + suffix,
        )
        if n == 0:
            handles += [h_ph, h_t]
        elif len(handles) < 6:
            handles.append(h_ph)
        # stimuli: shaded where non-zero, the legend gives the (largest) level
        for name, (label, unit, color) in _STIMULI.items():
            _, level = _steps(s, _field(conditions, name, row), horizon_h)
            on = level[:-1] > 0
            if not on.any():
                continue
            min_width = 0.006 * horizon_h  # keep a 1 h pulse visible on a 30-day axis
            for i in np.flatnonzero(on):
                x0, x1 = x[i], max(x[i + 1], min(x[i] + min_width, horizon_h))
                span = ax.axvspan(
                    x0 / scale,
                    x1 / scale,
                    color=color,
                    alpha=0.5 if x1 - x0 < 0.05 * horizon_h else 0.2,
                    lw=0,
                    label=f"{label} ({level[:-1].max():g} {unit})",
                )
            if span.get_label() not in {h.get_label() for h in handles}:
                handles.append(span)

    # pH in the upper band of the panel, temperature in the lower one, so that
    # constant schedules (pH 7.4, 37 °C) do not draw on top of each other
    ph_all_arr, temp_all_arr = np.concatenate(ph_all), np.concatenate(temp_all)
    lo, hi = ph_all_arr.min(), ph_all_arr.max()
    span = max(hi - lo, 0.6)
    ax.set_ylim(lo - 0.9 * span, hi + 0.3 * span)
    lo, hi = temp_all_arr.min(), temp_all_arr.max()
    span = max(hi - lo, 3.0)
    twin.set_ylim(lo - 0.3 * span, hi + 0.9 * span)

    _style_axes(ax)
    ax.set_ylabel("pH", color=_PH_COLOR, fontsize=10)
    ax.tick_params(axis="y", colors=_PH_COLOR)
    _level_ticks(ax, ph_all_arr)
    twin.set_ylabel("T (°C)", color=_TEMPERATURE_COLOR, fontsize=10)
    twin.tick_params(axis="y", colors=_TEMPERATURE_COLOR, labelsize=9)
    _level_ticks(twin, temp_all_arr)
    for side in ("top", "left", "bottom"):
        twin.spines[side].set_visible(False)
    twin.spines["right"].set_color("#555555")
    ax.legend(
        handles=handles,
        loc="lower left",
        bbox_to_anchor=(0.0, 1.0),
        ncol=min(len(handles), 4),
        fontsize=8,
        frameon=False,
        handlelength=1.6,
        borderaxespad=0.1,
        columnspacing=1.2,
    )


def _level_ticks(ax: Axes, values: np.ndarray) -> None:
    """Ticks at the schedule's levels when there are few of them, else three nice ticks."""
    levels = np.unique(np.round(values, 6))
    if len(levels) <= 3 and (len(levels) == 1 or np.diff(levels).min() > 0.08 * np.ptp(levels)):
        ax.set_yticks(levels, [f"{v:g}" for v in levels])
    else:
        from matplotlib.ticker import MaxNLocator

        ax.yaxis.set_major_locator(MaxNLocator(nbins=3, min_n_ticks=2))


# ---------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------


def plot_release(
    times_h: ArrayLike,
    curves: ArrayLike,
    *,
    labels: Sequence[str] | None = None,
    target: ArrayLike | tuple[ArrayLike, ArrayLike] | None = None,
    conditions: ReleaseConditions | None = None,
    title: str | None = None,
    ax: Axes | None = None,
    points: tuple[ArrayLike, ArrayLike] | None = None,
    figsize: tuple[float, float] = (7.0, 5.0),
    dpi: float = 100.0,
) -> Figure:
    """Draw cumulative release (%) against time, with the medium schedule beneath.

    :param times_h: ``(T,)`` times in hours shared by the curves, or ``(B, T)`` one row
        per curve.
    :param curves: ``(T,)`` or ``(B, T)`` cumulative fractions released, in ``[0, 1]``.
    :param labels: one legend label per curve (no legend entry when ``None``).
    :param target: dashed target curve: ``(T,)`` fractions on ``times_h`` or a pair
        ``(target_times_h, target_fractions)``.
    :param conditions: medium schedule drawn in a short panel beneath (shared x axis):
        pH as a step line, temperature on a twin axis, and light, magnetic field and
        enzyme as shaded spans where they are non-zero. Omitted when ``None``.
    :param title: figure title.
    :param ax: draw the release into this axes (the schedule panel, if any, is appended
        beneath it) instead of a new figure.
    :param points: sampled points drawn as markers in the curves' colours, a pair
        ``(times_h, fractions)`` with fractions ``(T',)`` or ``(B, T')`` (e.g. the table
        grid of a dense curve, or measured data).
    :param figsize: size of a new figure, inches.
    :param dpi: resolution of a new figure, dots per inch.
    :returns: the figure holding the axes.

    The time axis is in hours, or in days when the horizon exceeds
    :data:`DAYS_THRESHOLD_H` (72 h).
    """
    t = _as_array(times_h, "times_h")
    y = _as_array(curves, "curves")
    if y.ndim == 1:
        y = y[None]
    if t.ndim == 2 and t.shape[0] not in (1, y.shape[0]):
        raise ValueError(f"times_h has {t.shape[0]} rows but there are {y.shape[0]} curves")
    t = np.broadcast_to(t if t.ndim == 2 else t[None], (y.shape[0], t.shape[-1]))
    if y.shape[-1] != t.shape[-1]:
        raise ValueError(
            f"curves have {y.shape[-1]} time points but times_h has {t.shape[-1]}; "
            "give one value per time"
        )
    if labels is not None and len(labels) != y.shape[0]:
        raise ValueError(f"got {len(labels)} labels for {y.shape[0]} curves")

    target_xy = None
    if target is not None:
        if isinstance(target, tuple):
            target_xy = (_as_array(target[0], "target times"), _as_array(target[1], "target"))
        else:
            target_xy = (t[0], _as_array(target, "target"))
        if target_xy[0].shape[-1] != target_xy[1].shape[-1]:
            raise ValueError("target times and target values must have the same length")
    points_xy = None
    if points is not None:
        pt, pv = _as_array(points[0], "points times"), _as_array(points[1], "points")
        pv = pv if pv.ndim == 2 else pv[None]
        if pt.shape[-1] != pv.shape[-1]:
            raise ValueError("points times and point values must have the same length")
        points_xy = (pt, pv)

    horizon = float(t.max())
    if target_xy is not None:
        horizon = max(horizon, float(target_xy[0].max()))
    if points_xy is not None:
        horizon = max(horizon, float(points_xy[0].max()))
    horizon = horizon if horizon > 0 else 1.0
    scale, xlabel = time_axis(horizon)

    # -- layout ------------------------------------------------------------------------
    schedule_ax = None
    if ax is None:
        fig = Figure(figsize=figsize, dpi=dpi, facecolor="white")
        FigureCanvasAgg(fig)
        if conditions is not None:
            grid = fig.add_gridspec(2, 1, height_ratios=(3.2, 1.0), hspace=0.28)
            ax = fig.add_subplot(grid[0])
            schedule_ax = fig.add_subplot(grid[1], sharex=ax)
            fig.subplots_adjust(left=0.1, right=0.89, top=0.9 if title else 0.95, bottom=0.1)
        else:
            ax = fig.add_subplot()
            fig.subplots_adjust(left=0.1, right=0.95, top=0.9 if title else 0.95, bottom=0.11)
    else:
        fig = ax.get_figure()
        if conditions is not None:
            from mpl_toolkits.axes_grid1 import make_axes_locatable

            schedule_ax = make_axes_locatable(ax).append_axes(
                "bottom", size="30%", pad=0.45, sharex=ax
            )

    # -- release -----------------------------------------------------------------------
    for i in range(y.shape[0]):
        color = CURVE_COLORS[i % len(CURVE_COLORS)]
        ax.plot(
            t[i] / scale,
            100.0 * y[i],
            color=color,
            lw=2.0,
            label=None if labels is None else labels[i],
            solid_capstyle="round",
        )
    if points_xy is not None:
        pt, pv = points_xy
        for i in range(pv.shape[0]):
            row_t = pt if pt.ndim == 1 else pt[min(i, pt.shape[0] - 1)]
            ax.plot(
                row_t / scale,
                100.0 * pv[i],
                ls="none",
                marker="o",
                ms=4.5,
                mfc="white",
                mew=1.4,
                color=CURVE_COLORS[i % len(CURVE_COLORS)],
                clip_on=False,
                zorder=3,
            )
    if target_xy is not None:
        tx, ty = target_xy
        ax.plot(tx / scale, 100.0 * ty, color="#444444", lw=1.6, ls=(0, (5, 3)), label="target")

    _style_axes(ax)
    ax.set_xlim(0.0, horizon / scale)
    ax.set_ylim(-2.0, 102.0)
    ax.set_yticks([0, 25, 50, 75, 100])
    ax.set_ylabel("Cumulative release (%)", fontsize=10)
    if labels is not None or target_xy is not None:
        ax.legend(loc="lower right", fontsize=9, frameon=True, framealpha=0.9, edgecolor="#DDDDDD")
    if title:
        if schedule_ax is not None and ax.get_figure() is fig and len(fig.axes) == 2:
            fig.suptitle(title, fontsize=12, y=0.975)
        else:
            ax.set_title(title, fontsize=12)

    if schedule_ax is None:
        ax.set_xlabel(xlabel, fontsize=10)
    else:
        ax.tick_params(labelbottom=False)
        _draw_schedule(schedule_ax, conditions, horizon, scale, CURVE_COLORS, labels)
        schedule_ax.set_xlim(0.0, horizon / scale)
        schedule_ax.set_xlabel(xlabel, fontsize=10)
    return fig


def figure_to_rgb_array(fig: Figure) -> np.ndarray:
    """Render ``fig`` with Agg and return its pixels as an ``(H, W, 3)`` ``uint8`` array."""
    canvas = fig.canvas
    if not isinstance(canvas, FigureCanvasAgg):
        canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.array(canvas.buffer_rgba(), dtype=np.uint8)[..., :3]


def save_figure(fig: Figure, path: str | os.PathLike[str], **savefig_kwargs: Any) -> Path:
    """Write ``fig`` to ``path`` atomically and return the path.

    The image is written with :func:`nanoenv.files.atomic_open` (a temporary file in the
    same folder moved over ``path``), so readers never see a half-written file; a
    symbolic link or a special file (device, FIFO) at ``path`` is refused.
    The format comes from the file extension (PNG when there is none); missing
    parent folders are created. Extra keyword arguments go to
    :meth:`matplotlib.figure.Figure.savefig` (e.g. ``dpi=150``).
    """
    from nanoenv.files import atomic_open

    path = Path(path)
    fmt = savefig_kwargs.pop("format", None) or (path.suffix[1:].lower() or "png")
    with atomic_open(path, "wb", name="plot file") as handle:
        fig.savefig(handle, format=fmt, facecolor=fig.get_facecolor(), **savefig_kwargs)
    return path
