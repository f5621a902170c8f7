"""The layering, as a test: what ships to Lambda stays apart from the tooling (Chalice's
lesson), each layer imports only those below it, and no modules import each other.

Every module of the project packages is read (not imported) and each import, including
lazy ones inside functions, is checked against two ordered tables of layers:

    runtime   model_store < preprocessing < lambda_kit < {model_runtime | webapp} < handlers
    tooling   training < featherserve < benchmarks        (each may import the whole runtime)

A package may import its own modules, the standard library, its allowed third-party
modules and the packages of lower layers; never a higher layer, never the package beside it
in the same layer (model_runtime and webapp stand side by side), and nothing shipped may
import the tooling, which Lambda does not have. A function importing it would work in the
checkout and fail on Lambda. Separately, the module graph built from module-level imports
has no cycle (a strongly connected component of two or more modules).
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from featherserve.layers.code_package import RUNTIME_PACKAGES
from featherserve.support.processes import ROOT

# Lowest first; the packages of one row stand side by side and may not import each other.
RUNTIME_LAYERS: tuple[tuple[str, ...], ...] = (
    ("model_store",),
    ("preprocessing",),
    ("lambda_kit",),
    ("model_runtime", "webapp"),
    ("handlers",),
)
TOOLING_LAYERS: tuple[tuple[str, ...], ...] = (
    ("training",),
    ("featherserve",),
    ("benchmarks",),
)
RUNTIME = tuple(p for row in RUNTIME_LAYERS for p in row)
TOOLING = tuple(p for row in TOOLING_LAYERS for p in row)
PROJECT = (*RUNTIME, *TOOLING)
NEVER_SHIPPED = (*TOOLING, "tests")
# Standard-library accelerators whose name changed between 3.11 (here) and 3.12 (Lambda).
STDLIB_OF_OTHER_VERSIONS = ("_sha2", "_sha256")
# Third-party modules a runtime module may import: the runtime layer's and, lazily, the
# AWS SDK that Lambda's python3.12 runtime provides.
RUNTIME_THIRD_PARTY = ("numpy", "onnxruntime", "PIL", "aws_lambda_powertools", "boto3",
                       "botocore", "snapshot_restore_py",
                       # the web function's own layer
                       "serverless_wsgi", "werkzeug", "markupsafe")


def allowed_project_imports(package: str) -> frozenset[str]:
    """The project packages ``package`` may import: itself and every lower layer."""
    for stack, below in ((RUNTIME_LAYERS, ()), (TOOLING_LAYERS, RUNTIME)):
        for index, row in enumerate(stack):
            if package in row:
                lower = {p for lower_row in stack[:index] for p in lower_row}
                return frozenset({package, *lower, *below})
    raise AssertionError(f"{package} is in no layer")


def modules_of(packages: tuple[str, ...]) -> list[Path]:
    return sorted(p for package in packages for p in (ROOT / package).rglob("*.py"))


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def absolute(node: ast.ImportFrom, path: Path) -> str:
    """The module an ``ImportFrom`` names, relative imports resolved against ``path``."""
    if node.level == 0:
        return node.module or ""
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package.pop()
    base = package[:len(package) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def imported_names(path: Path) -> list[tuple[int, str]]:
    """Every module ``path`` imports, anywhere in it (lazy imports in functions included)."""
    names = []
    for node in ast.walk(parse(path)):
        if isinstance(node, ast.Import):
            names += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names.append((node.lineno, absolute(node, path)))
    return names


def test_the_layer_tables_name_every_package_once_and_ship_the_runtime_whole():
    assert len(set(PROJECT)) == len(PROJECT)
    assert set(RUNTIME) == set(RUNTIME_PACKAGES)
    for package in PROJECT:
        assert (ROOT / package / "__init__.py").is_file(), package


@pytest.mark.parametrize("path", modules_of(RUNTIME), ids=lambda p: str(p.relative_to(ROOT)))
def test_runtime_modules_import_only_the_runtime(path):
    allowed = (*RUNTIME_PACKAGES, *RUNTIME_THIRD_PARTY)
    bad = []
    for line, name in imported_names(path):
        top = name.split(".")[0]
        if top in sys.stdlib_module_names or top in STDLIB_OF_OTHER_VERSIONS:
            continue
        if top in NEVER_SHIPPED or top not in allowed:
            bad.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    assert bad == [], "a Lambda function would fail importing: " + "; ".join(bad)


def layering_violations(packages: tuple[str, ...]) -> list[str]:
    bad = []
    for path in modules_of(packages):
        package = path.relative_to(ROOT).parts[0]
        allowed = allowed_project_imports(package)
        for line, name in imported_names(path):
            top = name.split(".")[0]
            if top in PROJECT and top not in allowed:
                bad.append(f"{path.relative_to(ROOT)}:{line} imports {name} "
                           f"({package} may import {', '.join(sorted(allowed))})")
    return bad


@pytest.mark.parametrize("row", RUNTIME_LAYERS, ids=lambda row: "+".join(row))
def test_each_runtime_layer_imports_only_the_layers_below_it(row):
    bad = layering_violations(row)
    assert bad == [], "an import against the layering: " + "; ".join(bad)


@pytest.mark.parametrize("row", TOOLING_LAYERS, ids=lambda row: "+".join(row))
def test_each_tooling_layer_imports_only_the_layers_below_it_and_the_runtime(row):
    bad = layering_violations(row)
    assert bad == [], "an import against the layering: " + "; ".join(bad)


# -- cycles between modules ----------------------------------------------------------------
def _module_level(body: list[ast.stmt]) -> Iterator[ast.Import | ast.ImportFrom]:
    """The imports a module runs when it is imported: its top-level statements, and those
    in top-level ``if``/``try``/``with`` blocks, but not ``if TYPE_CHECKING:`` ones."""
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If):
            if not (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"):
                yield from _module_level(node.body)
            yield from _module_level(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, *(h.body for h in node.handlers), node.orelse,
                          node.finalbody):
                yield from _module_level(block)
        elif isinstance(node, ast.With):
            yield from _module_level(node.body)


def module_graph(packages: tuple[str, ...]) -> dict[str, set[str]]:
    """Module → the project modules it imports at module level. ``from a import b`` names
    the module ``a.b`` when there is one (else ``a``); a parent package's ``__init__`` is
    not counted (it runs first, and re-exporting a submodule is not a cycle)."""
    paths = {module_name(p): p for p in modules_of(PROJECT)}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        if name.split(".")[0] not in packages:
            continue
        targets = set()
        for node in _module_level(parse(path).body):
            if isinstance(node, ast.Import):
                targets |= {alias.name for alias in node.names}
            else:
                source = absolute(node, path)
                for alias in node.names:
                    child = f"{source}.{alias.name}"
                    targets.add(child if child in paths else source)
        graph[name] = {t for t in targets if t in paths and t != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of two or more modules (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            for target in edges:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph.get(target, ())))))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def test_the_cycle_finder_finds_a_cycle_and_only_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"d"}, "f": {"f"}}
    assert cycles(graph) == [["a", "b", "c"]]


@pytest.mark.parametrize("packages", [RUNTIME, TOOLING], ids=["runtime", "tooling"])
def test_no_module_level_import_cycles(packages):
    found = cycles(module_graph(packages))
    assert found == [], "modules that import each other: " + "; ".join(
        " ↔ ".join(component) for component in found)
