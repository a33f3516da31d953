"""The import graph of the first-party code: acyclic, one-way, no private names shared.

Every ``import`` and ``from ... import`` statement in ``nanoenv/``, ``agents/``,
``benchmarks/``, ``experiments/`` and ``tests/`` is read with :mod:`ast` (module-level,
inside functions and under ``if TYPE_CHECKING:`` alike: an import moved into a function
to dodge a cycle is still a cycle), relative imports resolved, and the edges between
first-party modules collected. ``from a.b import c`` is an edge to the module ``a.b.c``
when that is a module, and to ``a.b`` (its ``__init__``) otherwise.

Pinned:

* (a) no cycle among the modules, anywhere in the tree;
* (b) ``nanoenv`` never imports ``agents`` (agents plug in through entry points);
* (c) no private name (a leading underscore, dunders aside) is imported from another
  module (``from x import _y``, multi-line imports included), nor a private module
  imported, nor reached through a module alias (``m._y``, ``monkeypatch.setattr(m,
  "_y", ...)``), anywhere in the tree.

``KNOWN`` would list accepted findings, each with its reason; it is empty.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: Top-level folders of first-party code.
PACKAGES = ("nanoenv", "agents", "benchmarks", "experiments", "tests")

#: Accepted findings, each with a comment saying why: a cycle (the sorted tuple of its
#: modules) or a private import ``"importer -> module.name"``. Empty: keep it so.
KNOWN: set[object] = set()


def module_name(path: Path) -> str:
    """``agents/bench/run.py`` -> ``agents.bench.run``; a package's ``__init__.py`` -> the
    package."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def first_party_files() -> dict[str, Path]:
    """Every first-party module by name."""
    files: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if ".venv" not in path.parts:
                files[module_name(path)] = path
    return files


MODULES = first_party_files()


def _absolute(module: str | None, level: int, importer: str, is_package: bool) -> str:
    """The absolute module of a (possibly relative) ``from`` import."""
    if level == 0:
        return module or ""
    base = importer.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, module] if module else base)


def imports(importer: str) -> Iterator[tuple[str, str | None, int]]:
    """``(module, imported name or None, line)`` of every import statement of a module."""
    path = MODULES[importer]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node.module, node.level, importer, path.name == "__init__.py")
            for alias in node.names:
                yield base, alias.name, node.lineno


def target(module: str, name: str | None) -> str | None:
    """The first-party module an import runs (``None``: a third-party one)."""
    if name is not None and f"{module}.{name}" in MODULES:
        return f"{module}.{name}"
    parts = module.split(".")
    while parts:  # ``import a.b.c`` runs a.b.c; an unknown tail is an attribute
        if ".".join(parts) in MODULES:
            return ".".join(parts)
        parts.pop()
    return None


def graph() -> dict[str, set[str]]:
    """First-party module -> the first-party modules it imports."""
    edges: dict[str, set[str]] = {m: set() for m in MODULES}
    for importer in MODULES:
        for module, name, _ in imports(importer):
            dest = target(module, name)
            if dest is not None and dest != importer:
                edges[importer].add(dest)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[tuple[str, ...]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[tuple[str, ...]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(tuple(sorted(component)))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def module_aliases(importer: str, tree: ast.AST) -> dict[str, str]:
    """Local names bound to first-party modules (``import a.b as m``, ``from a import
    b`` where ``a.b`` is a module, ``import a.b`` binding ``a``)."""
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname is not None:
                    aliases[alias.asname] = alias.name
                else:
                    aliases[alias.name.split(".")[0]] = alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(
                node.module, node.level, importer, MODULES[importer].name == "__init__.py"
            )
            for alias in node.names:
                if f"{base}.{alias.name}" in MODULES:
                    aliases[alias.asname or alias.name] = f"{base}.{alias.name}"
    return {name: module for name, module in aliases.items() if module in MODULES}


def _dotted(node: ast.AST, aliases: dict[str, str]) -> str | None:
    """``m.x.y`` as a dotted name, its first part resolved through ``aliases``."""
    if isinstance(node, ast.Name):
        return aliases.get(node.id)
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value, aliases)
        return None if base is None else f"{base}.{node.attr}"
    return None


def private_uses(importer: str) -> Iterator[str]:
    """Private names of other first-party modules reached through a module alias:
    ``m._x`` and ``monkeypatch.setattr(m, "_x", ...)``."""
    tree = ast.parse(MODULES[importer].read_text(encoding="utf-8"))
    aliases = module_aliases(importer, tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and is_private(node.attr):
            module = _dotted(node.value, aliases)
            if module in MODULES and module != importer:
                yield f"{module}.{node.attr}"
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "setattr"
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
            and is_private(node.args[1].value)
        ):
            module = _dotted(node.args[0], aliases)
            if module in MODULES and module != importer:
                yield f"{module}.{node.args[1].value}"


def private_imports() -> list[str]:
    """``"importer -> module.name"`` for every private name or module imported across
    modules, or reached through a module alias."""
    found = []
    for importer in MODULES:
        for module, name, _line in imports(importer):
            dotted = module if name is None else f"{module}.{name}"
            if target(module, name) is None and not dotted.startswith(PACKAGES):
                continue  # a third-party module's business
            if any(is_private(part) for part in dotted.split(".")):
                found.append(f"{importer} -> {dotted}")
        found.extend(f"{importer} -> {use}" for use in private_uses(importer))
    return sorted(set(found))


def test_the_walker_sees_function_level_and_multi_line_imports(tmp_path: Path) -> None:
    source = "def f():\n    from agents.bench import (\n        registry,\n        _x,\n    )\n"
    tree = ast.parse(source)
    names = [a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names]
    assert names == ["registry", "_x"]
    assert is_private("_x") and not is_private("__version__") and not is_private("x")
    assert _absolute("run", 1, "agents.bench.cli", False) == "agents.bench.run"
    assert _absolute(None, 2, "agents.bench", True) == "agents"
    assert target("agents.bench", "registry") == "agents.bench.registry"
    assert target("nanoenv.tasks", "TASK_FAMILIES") == "nanoenv.tasks"
    assert target("numpy", "ndarray") is None
    uses = "import agents.rl.training as t\nt._x(); monkeypatch.setattr(t, '_y', 1)\n"
    aliases = module_aliases("tests.test_agents", ast.parse(uses))
    assert aliases == {"t": "agents.rl.training"}
    assert _dotted(ast.parse("t.a").body[0].value, aliases) == "agents.rl.training.a"


def test_cycle_finder_finds_a_planted_cycle() -> None:
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(edges) == [("a", "b", "c")]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_graph_sees_the_library() -> None:
    edges = graph()
    assert "agents.bench.registry" in MODULES and "nanoenv.kinetics.simulate" in MODULES
    assert "nanoenv.kinetics" in edges["nanoenv.envs.problem"] or any(
        m.startswith("nanoenv.kinetics") for m in edges["nanoenv.envs.problem"]
    )


def test_no_import_cycles() -> None:
    found = [c for c in cycles(graph()) if c not in KNOWN]
    assert found == [], f"import cycles: {found}"


def test_known_findings_are_still_there() -> None:
    """An entry of ``KNOWN`` that no longer occurs is removed from it (the list shrinks)."""
    current = set(cycles(graph())) | set(private_imports())
    stale = sorted(str(k) for k in KNOWN if k not in current)
    assert stale == [], f"remove from KNOWN (fixed): {stale}"


def test_nanoenv_never_imports_agents() -> None:
    edges = graph()
    found = sorted(
        f"{m} -> {d}"
        for m, ds in edges.items()
        if m.startswith("nanoenv")
        for d in ds
        if d.startswith("agents")
    )
    assert found == []


@pytest.mark.parametrize("package", PACKAGES)
def test_no_private_names_imported_across_modules(package: str) -> None:
    found = [f for f in private_imports() if f.startswith(package) and f not in KNOWN]
    assert found == [], f"private names imported across modules: {found}"
