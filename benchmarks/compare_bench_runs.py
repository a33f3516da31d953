"""Are two ``nanoenv bench run`` output folders the same, apart from wall-clock fields?

A refactor must not change what the benchmark measures: run the same command before and
after it (fixed seeds) and compare the folders. Every JSON file (``bench.json`` and each
job's ``results.json`` and ``run/meta.json``) is compared value for value, ignoring only
fields that record when, where and how long (timings, dates, the command line, the output
path, the git commit).

    python -m nanoenv bench run --quick --methods random cmaes gradient ppo \\
        --families realisable sustained ph_triggered therapeutic_window \\
        --workers 1 --no-progress --out /tmp/before      # on the old commit
    ... the same with --out /tmp/after                    # on the new commit
    python benchmarks/compare_bench_runs.py /tmp/before /tmp/after

Exit status 0 when identical, 1 otherwise (each difference is printed).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

#: Keys (substrings) whose values record when, where or how long, not what was measured.
VOLATILE = (
    "wall_s",
    "process_s",
    "seconds",
    "elapsed_s",
    "timings_s",
    "started",
    "finished",
    "date",
    "git_commit",
    "command",
    "created",
)


def strip(value: Any) -> Any:
    """``value`` without its volatile fields and output paths (``run``, ``out``, ``plots``)."""
    if isinstance(value, dict):
        return {
            k: strip(v)
            for k, v in value.items()
            if not any(t in k for t in VOLATILE)
            and k != "plots"  # file paths under the output folder
            and not (k in ("run", "out") and isinstance(v, str))
        }
    if isinstance(value, list):
        return [strip(v) for v in value]
    return value


def differences(a: Path, b: Path) -> list[str]:
    """The relative paths (and top-level keys of ``bench.json``) where ``a`` and ``b``
    differ."""
    files_a = {p.relative_to(a) for p in a.rglob("*.json")}
    files_b = {p.relative_to(b) for p in b.rglob("*.json")}
    out = [f"only in one folder: {p}" for p in sorted(files_a ^ files_b)]
    for rel in sorted(files_a & files_b):
        x = strip(json.loads((a / rel).read_text()))
        y = strip(json.loads((b / rel).read_text()))
        if x != y:
            keys = sorted(k for k in set(x) | set(y) if x.get(k) != y.get(k))
            out.append(f"{rel}: {', '.join(keys)}" if isinstance(x, dict) else str(rel))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    args = parser.parse_args(argv)
    for folder in (args.before, args.after):
        if not (folder / "bench.json").is_file():
            parser.error(f"{folder}: no bench.json (not a `nanoenv bench run` output folder)")
    diffs = differences(args.before, args.after)
    for line in diffs:
        print("DIFF", line)
    print("identical (wall-clock fields ignored)" if not diffs else f"{len(diffs)} differences")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
