"""Static check of a code zip: what the handler imports is in it, and no tooling is.

Every module reachable from the handler module by its imports (read from the source with
``ast``: also imports inside functions, which run later, on a request) must be in the
unpacked zip when it is first-party; and no module in the zip may import the tooling
(featherserve, training, tests, benchmarks), which is never shipped to Lambda.
"""

from __future__ import annotations

import ast
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

TOOLING_PACKAGES = frozenset({"featherserve", "training", "tests", "benchmarks"})


@dataclass(frozen=True)
class ImportProblem:
    importer: str
    imported: str
    missing: bool  # else: a tooling import

    def describe(self) -> str:
        if self.missing:
            return f"{self.importer} imports {self.imported}, which is not in the code zip"
        return (f"{self.importer} imports {self.imported}: tooling ({self.imported.split('.')[0]}) "
                "is never shipped to Lambda")


def summarize(problems: Iterable[ImportProblem], shown: int = 3) -> list[str]:
    """One line per missing module (its importers listed) and per tooling import."""
    missing: dict[str, list[str]] = {}
    lines: list[str] = []
    for problem in problems:
        if problem.missing:
            missing.setdefault(problem.imported, []).append(problem.importer)
        else:
            lines.append(problem.describe())
    for module, importers in missing.items():
        named = ", ".join(importers[:shown])
        more = f" and {len(importers) - shown} more" if len(importers) > shown else ""
        lines.insert(0, f"{module} is not in the code zip (imported by {named}{more})")
    return lines


class CodeTree:
    """The modules of an unpacked code zip, by dotted name."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.sources: dict[str, Path | None] = {}  # None: no source (compiled or extension)
        self.packages: set[str] = set()
        for path in sorted(root.rglob("*")):
            if "__pycache__" in path.parts or not path.is_file():
                continue
            parts = list(path.relative_to(root).with_suffix("").parts)
            if not parts or not all(p.isidentifier() for p in parts[:-1]):
                continue
            if path.suffix == ".py" or path.suffix == ".pyc" or path.suffix == ".so":
                parts[-1] = parts[-1].split(".")[0]  # x.cpython-312-x86_64-linux-gnu.so
                if parts[-1] == "__init__":
                    parts.pop()
                    self.packages.add(".".join(parts))
                name = ".".join(parts)
                if name and (path.suffix == ".py" or name not in self.sources):
                    self.sources[name] = path if path.suffix == ".py" else None

    def has(self, module: str) -> bool:
        return module in self.sources

    @property
    def top_level(self) -> set[str]:
        return {name.split(".")[0] for name in self.sources}


def module_of_handler(handler: str) -> str:
    return handler.rpartition(".")[0].replace("/", ".")


def check_code_imports(task_root: Path, handler: str,
                       first_party: Iterable[str] = ()) -> list[ImportProblem]:
    """Problems, importer by importer; first-party is the zip's own top-level names plus
    ``first_party`` (the project's packages, which must be shipped when imported)."""
    tree = CodeTree(task_root)
    ours = tree.top_level | set(first_party) | TOOLING_PACKAGES
    problems: list[ImportProblem] = []
    handler_module = module_of_handler(handler)
    if not tree.has(handler_module):
        problems.append(ImportProblem("the Handler", handler_module, missing=True))
    seen: set[str] = set()
    queue = deque([handler_module, *_parents(handler_module)])
    while queue:
        module = queue.popleft()
        if module in seen or not tree.has(module):
            continue
        seen.add(module)
        for imported in _imports(tree, module):
            top = imported.split(".")[0]
            if top not in ours or top in TOOLING_PACKAGES:
                continue  # third-party (the layers' job), or reported below for every module
            if not tree.has(imported):
                problems.append(ImportProblem(module, imported, missing=True))
            queue.extend([imported, *_parents(imported)])
    for module in sorted(tree.sources):
        problems += [ImportProblem(module, imported, missing=False)
                     for imported in _imports(tree, module)
                     if imported.split(".")[0] in TOOLING_PACKAGES]
    return list(dict.fromkeys(problems))


def _parents(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _imports(tree: CodeTree, module: str) -> list[str]:
    """Modules ``module`` imports, by absolute name; ``from m import x`` counts m.x when
    that is a module of the zip, or when m's source does not define x (a missing module)."""
    source = tree.sources.get(module)
    if source is None:
        return []
    is_package = module in tree.packages
    found: list[str] = []
    for node in _walk(ast.parse(source.read_bytes(), str(source))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(module, is_package, node.level, node.module)
            if base:
                found.append(base)
            for alias in node.names:
                if alias.name == "*":
                    continue
                candidate = f"{base}.{alias.name}" if base else alias.name
                if tree.has(candidate) or (base and tree.has(base)
                                           and not _defines(tree, base, alias.name)):
                    found.append(candidate)
    return list(dict.fromkeys(found))


def _absolute(module: str, is_package: bool, level: int, name: str | None) -> str:
    if level == 0:
        return name or ""
    parts = module.split(".") if is_package else module.split(".")[:-1]
    parts = parts[:len(parts) - (level - 1)]
    return ".".join([*parts, name] if name else parts)


def _defines(tree: CodeTree, module: str, name: str) -> bool:
    """Whether ``module`` binds ``name`` at top level (unknown, say for sourceless: yes)."""
    source = tree.sources.get(module)
    if source is None:
        return True
    body = ast.parse(source.read_bytes(), str(source)).body
    for node in _top_level(body):
        if isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names):
            return True
        if name in _bound_names(node):
            return True
    return False


def _top_level(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    for node in body:
        yield node
        if isinstance(node, (ast.If, ast.Try)):
            for block in (node.body, node.orelse, getattr(node, "finalbody", [])):
                yield from _top_level(block)
            for handler in getattr(node, "handlers", []):
                yield from _top_level(handler.body)


def _bound_names(node: ast.stmt) -> set[str]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return {(a.asname or a.name).split(".")[0] for a in node.names}
    targets: list[ast.expr] = []
    if isinstance(node, ast.Assign):
        targets = node.targets
    elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
        targets = [node.target]
    return {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}


def _walk(node: ast.AST) -> Iterator[ast.AST]:
    """``ast.walk`` minus ``if TYPE_CHECKING:`` blocks, which never run."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        for child in ast.iter_child_nodes(current):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                stack.extend(child.orelse)
                continue
            stack.append(child)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")
