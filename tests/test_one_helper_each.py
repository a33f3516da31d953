"""One of each shared helper: device names, provenance, optional imports, atomic writes,
timestamps — each defined once and behaving as documented."""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

import pytest
import torch

from nanoenv.devices import DEVICES, resolve_device
from nanoenv.optional import import_optional
from nanoenv.provenance import git_commit, package_versions

ROOT = Path(__file__).resolve().parent.parent

#: Each helper's one home (module path relative to the repository root).
HOMES = {
    "resolve_device": "nanoenv/devices.py",
    "git_commit": "nanoenv/provenance.py",
    "package_versions": "nanoenv/provenance.py",
    "import_optional": "nanoenv/optional.py",
    "atomic_write": "nanoenv/files.py",
    "utc_stamp": "agents/rl/run_folder.py",
}
#: Other names the same helpers went by.
ALIASES = {
    "_resolve_device": "resolve_device",
    "_git_commit": "git_commit",
    "_package_versions": "package_versions",
    "_import_optuna": "import_optional",
    "write_atomic": "atomic_write",
    "_utc_stamp": "utc_stamp",
}
#: Copies inside code another engineer is rewriting (the calibration split); emptied
#: after the merge.
KNOWN: set[tuple[str, str]] = set()


def test_each_helper_is_defined_once() -> None:
    found: dict[str, list[str]] = {}
    for package in ("nanoenv", "agents", "benchmarks", "experiments"):
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    name = ALIASES.get(node.name, node.name)
                    rel = path.relative_to(ROOT).as_posix()
                    if name in HOMES and (rel, node.name) not in KNOWN:
                        found.setdefault(name, []).append(rel)
    assert found == {name: [home] for name, home in HOMES.items()}


def test_resolve_device_names() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert DEVICES == ("cpu", "cuda", "auto")


@pytest.mark.parametrize("bad", ["gpu", "mps", "", "cuda:x", 3])
def test_resolve_device_rejects_unknown_names_in_one_line(bad: object) -> None:
    with pytest.raises(ValueError, match=r"^--device=.*; allowed: 'cpu', 'cuda', 'cuda:N' or"):
        resolve_device(bad, "--device")  # type: ignore[arg-type]


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present")
def test_resolve_device_refuses_cuda_without_a_gpu() -> None:
    with pytest.raises(ValueError, match=r"^device='cuda' but torch finds no CUDA device"):
        resolve_device("cuda")
    with pytest.raises(ValueError, match=r"^device='cuda:0' but torch finds no CUDA device"):
        resolve_device("cuda:0")


def test_git_commit_of_this_checkout_and_outside_one(tmp_path: Path) -> None:
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    commit = git_commit()
    if head.returncode != 0:  # an installed copy, not a checkout
        assert commit is None
    else:
        assert commit is not None and re.fullmatch(r"[0-9a-f]{40}(-dirty)?", commit)
        assert commit.startswith(head.stdout.strip())
    assert git_commit(tmp_path) is None  # not a git checkout


def test_package_versions() -> None:
    versions = package_versions(["numpy", "no-such-distribution-x"])
    assert set(versions) == {"python", "numpy", "no-such-distribution-x"}
    assert versions["numpy"] == __import__("numpy").__version__
    assert versions["no-such-distribution-x"] is None


def test_import_optional_names_the_extra() -> None:
    assert import_optional("json", "none", "this test").dumps([1]) == "[1]"
    with pytest.raises(
        ValueError,
        match=r"^nanoenv tune needs the optional package no_such_module_x, which is not "
        r"installed; install the extra: pip install -e \"\.\[tune\]\"$",
    ):
        import_optional("no_such_module_x", "tune", "nanoenv tune")
