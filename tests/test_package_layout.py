"""The layout rules of the ``nanoenv`` package (issue 12): modules of readable size, no
private name used across modules, and every re-exported public name resolvable."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "nanoenv"

#: Most lines a module may have, unless it is one idea (listed below with the reason).
MAX_LINES = 600
ONE_IDEA = {
    # the catalogue of cited release laws: independent functions of ~25 lines each
    "kinetics/mechanisms.py",
    # the two-stage simulator: mechanism_parameters -> release_curve -> simulate_release
    "kinetics/simulate.py",
    # one solver: radial mesh, operator, theta-method and spectral time stepping
    "analysis/mol.py",
}

#: Packages split out of single files, whose ``__all__`` must keep resolving.
SPLIT_PACKAGES = (
    "nanoenv.analysis.empirical",
    "nanoenv.calibration",
    "nanoenv.cli",
    "nanoenv.data",
)


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _private_uses(path: Path) -> list[str]:
    """``module:line name`` for each private name of another nanoenv module used in ``path``:
    imported (``from nanoenv.x import _y``) or read as an attribute (``x._y``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    modules: set[str] = set()
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("nanoenv"):
            for alias in node.names:
                modules.add(alias.asname or alias.name)
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.append(f"{path.name}:{node.lineno} {node.module}.{alias.name}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("nanoenv"):
                    modules.add(alias.asname or alias.name.split(".")[0])
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in modules
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
        ):
            found.append(f"{path.name}:{node.lineno} {node.value.id}.{node.attr}")
    return found


def test_the_scan_finds_a_private_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from nanoenv.calibration.predict import _sanitise\n"
        "from nanoenv import calibration as cal\n"
        "x = cal._secret\n"
        "from nanoenv import __version__\n"
    )
    assert _private_uses(sample) == [
        "sample.py:1 nanoenv.calibration.predict._sanitise",
        "sample.py:3 cal._secret",
    ]


def test_no_private_name_is_used_across_nanoenv_modules() -> None:
    found = [use for path in _modules() for use in _private_uses(path)]
    assert found == []


def test_modules_stay_under_600_lines_unless_one_idea() -> None:
    long = {
        path.relative_to(PACKAGE).as_posix(): len(path.read_text(encoding="utf-8").splitlines())
        for path in _modules()
    }
    too_long = {name: n for name, n in long.items() if n > MAX_LINES and name not in ONE_IDEA}
    assert too_long == {}
    assert ONE_IDEA <= set(long), "an exception names a module that no longer exists"


@pytest.mark.parametrize("name", SPLIT_PACKAGES)
def test_split_packages_export_every_public_name(name: str) -> None:
    module = importlib.import_module(name)
    missing = [n for n in module.__all__ if not hasattr(module, n)]
    assert missing == []
    assert len(module.__all__) == len(set(module.__all__))
