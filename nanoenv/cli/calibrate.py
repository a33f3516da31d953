"""``nanoenv calibrate``: fit the simulator constants (and a learned correction per data
set) to the shipped release data and write them as JSON.
"""

from __future__ import annotations

import argparse

from nanoenv.calibration import DEFAULT_MEMBERS
from nanoenv.cli.arguments import (
    DATASETS,
    Subcommand,
    check_outputs,
)
from nanoenv.cli.console import (
    UsageError,
    format_value,
    metrics_line,
    warnings_as_lines,
)


def _configure_calibrate(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dataset",
        choices=[*DATASETS, "both"],
        default="both",
        help="shipped data set(s) to fit (default: both; the constants are shared, each data "
        "set gets its own learned correction)",
    )
    parser.add_argument(
        "--steps",
        type=int,
        default=400,
        metavar="N",
        help="Adam steps of the constants fit (default: 400)",
    )
    parser.add_argument(
        "--correction-steps",
        type=int,
        default=300,
        metavar="N",
        help="Adam steps of each learned-correction member; 0 fits the constants only "
        "(default: 300)",
    )
    parser.add_argument(
        "--members",
        type=int,
        default=DEFAULT_MEMBERS,
        metavar="K",
        help=f"ensemble members of each learned correction (default: {DEFAULT_MEMBERS})",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument(
        "--out",
        metavar="FILE.json",
        default="calibrated_constants.json",
        help="where to write the fitted constants and corrections (default: "
        "calibrated_constants.json; written atomically)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def _run_calibrate(args: argparse.Namespace) -> int:
    from nanoenv import calibration
    from nanoenv.data import liposome_curves, plai_curves

    if args.steps < 1:
        raise UsageError(
            f"--steps={args.steps} must be at least 1 (Adam steps of the constants fit)"
        )
    if args.correction_steps < 0:
        raise UsageError(
            f"--correction-steps={args.correction_steps} must be >= 0 (0: fit the constants only)"
        )
    if args.members < 1:
        raise UsageError(f"--members={args.members} must be at least 1")
    check_outputs(args, ("--out", "out"))  # before the fit, not after it
    names = list(DATASETS) if args.dataset == "both" else [args.dataset]
    loaders = {"plai": plai_curves, "liposome": liposome_curves}
    with warnings_as_lines():
        curve_sets = [loaders[name]() for name in names]
    fit = calibration.fit_calibration(
        curve_sets,
        steps=args.steps,
        correction_steps=args.correction_steps,
        members=args.members,
        seed=args.seed,
        progress=not args.quiet,
    )
    path = calibration.save_calibration(fit, args.out)
    lines = [f"Fitted {len(fit.constants_fit.names)} constants on {', '.join(names)}:"]
    for name in fit.constants_fit.names:
        lines.append(f"  {name:<34} {format_value(float(getattr(fit.constants, name))):>12}")
    for cs in curve_sets:
        for label, model in (
            ("constants", calibration.CalibratedModel(fit.constants)),
            ("constants + correction", fit.model(cs.name)),
        ):
            if label != "constants" and cs.name not in fit.corrections:
                continue
            m = calibration.curve_metrics(
                calibration.predict_curves(model, cs), cs.release, cs.mask
            )
            lines.append(f"{cs.name} training fit, {label}: {metrics_line(m)}")
    lines.append(f"Wrote {path}")
    print("\n".join(lines))
    return 0


CALIBRATE = Subcommand(
    help="fit the simulator constants (and learned corrections) to the shipped data",
    description="Fit the simulator constants to the shipped release data sets by "
    "gradient descent through the simulator, then a small learned correction of the "
    "mechanism parameters per data set, and write them as JSON.",
    configure=_configure_calibrate,
    run=_run_calibrate,
)
