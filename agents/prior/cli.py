"""``nanoenv design``: formulations for a target release curve, from the shipped prior.

Registered through the ``nanoenv.commands`` entry-point group as ``design = "agents.prior.
cli:DESIGN"``. The target file is a CSV with two columns, time in hours and cumulative
release (a fraction, or percent when the largest value exceeds 1.5); an optional header
row is skipped. The curve is resampled onto the 24-point grid every target uses
(:func:`nanoenv.tasks.time_grid` from 0 to the last time, ``t ∝ s^1.5``) by linear
interpolation, with release 0 at t = 0 when the first measurement is later — as the
``dataset`` task families do. ``--samples`` candidates are drawn from the pretrained prior
conditioned on that curve, the medium and the drug, simulated in one batched call, and the
best ``--top-k`` are printed in physical units with their predicted f2 (computed on the
24-point grid).
"""

from __future__ import annotations

import argparse
import math
import re
from pathlib import Path

import numpy as np
import torch

from nanoenv.cli import Subcommand, add_medium_arguments
from nanoenv.files import check_output_path
from nanoenv.kinetics import Carrier, Drug, ReleaseConditions
from nanoenv.tasks import Target, time_grid

__all__ = ["DESIGN", "read_target_curve", "target_from_curve"]

_SPLIT = re.compile(r"[,;\t ]+")
#: Most candidates ``--samples`` may ask for (they are simulated in one batch).
MAX_SAMPLES = 100_000


def read_target_curve(path: str | Path) -> tuple[np.ndarray, np.ndarray, bool]:
    """Read a two-column target curve (time h, release fraction or %) and check it.

    :returns: ``(times_h, release_fraction, was_percent)``.
    :raises ValueError: naming the file, the row and the allowed range, when the file is
        missing or unreadable, has other than two columns, has fewer than 3 points, times
        that are negative or not strictly increasing, or release outside 0–1 (fraction) or
        0–100 % (percent).
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"--target file {str(path)!r} does not exist")
    rows: list[tuple[int, list[str]]] = []
    try:  # utf-8-sig: a byte-order mark (spreadsheet exports) is not part of the first cell
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(
            f"--target file {str(path)!r} cannot be read as UTF-8 text: "
            f"{' '.join(str(exc).split())}"
        ) from None
    for lineno, line in enumerate(text.splitlines(), start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        rows.append((lineno, [c for c in _SPLIT.split(text) if c]))
    if rows:
        try:
            [float(c) for c in rows[0][1]]
        except ValueError:
            rows = rows[1:]  # a header
    if not rows:
        raise ValueError(
            f"--target file {str(path)!r} holds no data rows; expected two columns: "
            "time (h), release (fraction or %)"
        )
    times, release = [], []
    for lineno, cells in rows:
        if len(cells) != 2:
            raise ValueError(
                f"--target file {str(path)!r} line {lineno} has {len(cells)} column(s); "
                "expected 2: time (h), release (fraction or %)"
            )
        try:
            t, y = float(cells[0]), float(cells[1])
        except ValueError:
            raise ValueError(
                f"--target file {str(path)!r} line {lineno}: {cells} are not numbers"
            ) from None
        if not (math.isfinite(t) and math.isfinite(y)):
            raise ValueError(
                f"--target file {str(path)!r} line {lineno}: time and release "
                f"must be finite; got {t}, {y}"
            )
        times.append(t)
        release.append(y)
    t_arr, y_arr = np.asarray(times), np.asarray(release)
    if len(t_arr) < 3:
        raise ValueError(
            f"--target file {str(path)!r} has {len(t_arr)} point(s); at least 3 are needed"
        )
    if t_arr[0] < 0:
        raise ValueError(f"--target time {t_arr[0]:g} h must be >= 0 (allowed: 0 h and later)")
    bad = np.nonzero(np.diff(t_arr) <= 0)[0]
    if len(bad):
        i = int(bad[0])
        raise ValueError(
            f"--target times must be strictly increasing (hours); {t_arr[i + 1]:g} h follows "
            f"{t_arr[i]:g} h"
        )
    percent = bool(y_arr.max() > 1.5)
    low, high, unit = (0.0, 100.0, "%") if percent else (0.0, 1.0, "fraction")
    out = np.nonzero((y_arr < low) | (y_arr > high))[0]
    if len(out):
        i = int(out[0])
        raise ValueError(
            f"--target release {y_arr[i]:g} at {t_arr[i]:g} h is outside [{low:g}, {high:g}] "
            f"({unit}; percent is assumed when the largest value exceeds 1.5)"
        )
    return t_arr, (y_arr / 100.0 if percent else y_arr), percent


def target_from_curve(
    times_h: np.ndarray,
    release: np.ndarray,
    conditions: ReleaseConditions,
    drug: Drug,
    carrier: str | Carrier = "polymer",
) -> Target:
    """A :class:`Target` on the 24-point :func:`time_grid` to the last time, by linear
    interpolation of ``release`` (fractions) at ``times_h`` (hours, release 0 at t = 0 when
    the first time is later)."""
    t, y = np.asarray(times_h, dtype=float), np.asarray(release, dtype=float)
    if t[0] > 0:
        t, y = np.concatenate([[0.0], t]), np.concatenate([[0.0], y])
    if not t[-1] > 0:
        raise ValueError(f"the last target time must be positive (hours); got {t[-1]:g}")
    grid = time_grid(float(t[-1]))
    curve = torch.as_tensor(np.interp(grid.numpy(), t, y), dtype=torch.float64)
    return Target("design", grid, curve, conditions, drug, Carrier.parse(carrier))


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--target",
        required=True,
        metavar="CSV",
        help="two columns: time (h), release (fraction, or %% if max > 1.5)",
    )
    add_medium_arguments(parser, "--schedule")
    parser.add_argument("--carrier", default="polymer", choices=["polymer", "liposome"])
    parser.add_argument(
        "--top-k", type=int, default=5, metavar="K", help="formulations printed (default 5)"
    )
    parser.add_argument(
        "--samples",
        type=int,
        default=256,
        metavar="M",
        help="candidates drawn from the prior and simulated (default 256)",
    )
    parser.add_argument(
        "--prior",
        "--kind",
        dest="kind",
        default="cvae",
        choices=["cvae", "flow", "gan"],
        help="generative prior: conditional VAE, RealNVP flow or WGAN-GP (default cvae)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the prior's samples")
    parser.add_argument(
        "--plot",
        metavar="PNG",
        default=None,
        help="write the top-k curves against the target to this image",
    )


def _unit(unit: str) -> str:
    return {"": "dimensionless", "degC": "°C"}.get(unit, unit)


def _run(args: argparse.Namespace) -> int:
    from agents.prior.screen import sample_and_screen
    from agents.prior.train import load_default_prior
    from nanoenv.design_space import DesignSpace

    if args.top_k < 1:
        raise ValueError(f"--top-k={args.top_k} must be a positive number of formulations")
    if not 1 <= args.samples <= MAX_SAMPLES:
        raise ValueError(
            f"--samples={args.samples} must be in [1, {MAX_SAMPLES}] candidates "
            "(one batched simulation)"
        )
    if args.top_k > args.samples:
        raise ValueError(f"--top-k={args.top_k} must not exceed --samples={args.samples}")
    if args.plot:
        check_output_path(args.plot, "--plot", inputs=[args.target])
    conditions = ReleaseConditions.preset(args.schedule)
    drug = Drug.preset(args.drug)
    times, release, percent = read_target_curve(args.target)
    torch.set_num_threads(min(torch.get_num_threads(), 2))
    target = target_from_curve(times, release, conditions, drug, args.carrier)
    prior = load_default_prior(args.carrier, args.kind)
    res = sample_and_screen(prior, target, args.samples, args.top_k, seed=args.seed)
    space = DesignSpace.for_carrier(args.carrier)
    k = len(res.f2)
    lines = [
        f"target: {len(times)} points to {times[-1]:g} h (release read as "
        f"{'percent' if percent else 'fractions'}), resampled onto 24 grid points; medium "
        f"{args.schedule}, drug {args.drug}, {args.carrier} carrier",
        f"screened {res.sim_calls} candidates from the {args.kind} prior in one batched "
        f"simulation: {100 * res.in_bounds:.0f} % inside the bounds, {100 * res.feasible:.0f} % "
        f"feasible (zero stability cost), diversity {res.diversity:.2f} (mean pairwise "
        "distance, normalised units)",
        "",
    ]
    width = max(len(f"{p.name} ({_unit(p.unit)})") for p in space.parameters) + 2
    header = "".ljust(width) + "".join(f"#{i + 1}".rjust(11) for i in range(k))
    lines.append(header)
    lines.append("predicted f2".ljust(width) + "".join(f"{float(v):11.1f}" for v in res.f2))
    lines.append("stability cost".ljust(width) + "".join(f"{float(v):11.3f}" for v in res.cost))
    values = res.formulation.to_dicts()
    for p in space.parameters:
        label = f"{p.name} ({_unit(p.unit)})"
        lines.append(label.ljust(width) + "".join(f"{v[p.name]:11.4g}" for v in values))
    if args.plot:
        from nanoenv.plotting import plot_release, save_figure

        fig = plot_release(
            target.times_h.numpy(),
            res.release.numpy(),
            labels=[f"#{i + 1}: f2 = {float(f):.1f}" for i, f in enumerate(res.f2)],
            target=(times, release),
            conditions=conditions,
            title=f"top {k} of {res.sim_calls} prior samples ({args.kind})",
        )
        path = save_figure(fig, args.plot)
        import matplotlib.pyplot as plt

        plt.close(fig)
        lines += ["", f"Wrote {path}"]
    print("\n".join(lines))
    return 0


DESIGN = Subcommand(
    help="propose formulations for a target release curve (generative prior + screening)",
    description="Read a target curve (CSV: time in hours, cumulative release as a fraction or "
    "in percent), resample it onto the 24-point target grid, draw --samples formulations from "
    "the pretrained conditional generative prior for that curve, medium and drug, simulate "
    "them in one batch and print the --top-k in physical units with their predicted f2; "
    "--plot writes their curves against the target.",
    configure=_configure,
    run=_run,
)
