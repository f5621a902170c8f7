"""Trim rules: delete what a handler never imports from a ``pip install --target`` tree.

Each rule is plain data with one ``select(root)`` step that names what to remove; ``trim_tree``
applies the rules in order and reports files and bytes saved per rule (a file counts for
the first rule that removes it). ``*.dist-info`` folders are never touched by pattern rules:
they carry the licences, and ``importlib.metadata`` reads them.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from featherserve.layers.elf import read_elf_linkage
from featherserve.layers.zipping import tree_bytes


@dataclass(frozen=True)
class Removal:
    paths: tuple[Path, ...]
    note: str = ""


@dataclass(frozen=True)
class TrimResult:
    rule: str
    description: str
    removed_files: int
    removed_bytes: int
    note: str = ""

    def to_dict(self) -> dict[str, object]:
        return {"rule": self.rule, "description": self.description,
                "removed_files": self.removed_files, "removed_bytes": self.removed_bytes,
                "note": self.note}


class TrimRule(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def description(self) -> str: ...

    def select(self, root: Path) -> Removal: ...


def _walk_outside_dist_info(root: Path) -> Iterator[tuple[Path, list[str], list[str]]]:
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        if here == root:
            dirs[:] = [d for d in dirs if not d.endswith(".dist-info")]
        dirs.sort()
        yield here, dirs, sorted(files)


@dataclass(frozen=True)
class PatternRule:
    """Remove folders by name, files by suffix, and fixed paths relative to the tree's root."""

    name: str
    description: str
    dir_names: tuple[str, ...] = ()
    suffixes: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()

    def select(self, root: Path) -> Removal:
        chosen = [root / p for p in self.paths if (root / p).exists()]
        for folder, dirs, files in _walk_outside_dist_info(root):
            for name in list(dirs):
                if name in self.dir_names:
                    chosen.append(folder / name)
                    dirs.remove(name)  # removed whole; no need to look inside
            chosen.extend(folder / f for f in files if f.endswith(self.suffixes))
        return Removal(paths=tuple(_outermost(chosen)))


def _normalise(distribution: str) -> str:
    return re.sub(r"[-_.]+", "_", distribution).lower()


@dataclass(frozen=True)
class UnusedDistributionRule:
    """Remove whole distributions (every file in their RECORD, and their dist-info)."""

    name: str
    description: str
    distributions: tuple[str, ...]

    def select(self, root: Path) -> Removal:
        wanted = {_normalise(d) for d in self.distributions}
        chosen: list[Path] = []
        found: list[str] = []
        for dist_info in sorted(root.glob("*.dist-info")):
            project = dist_info.name.removesuffix(".dist-info").rsplit("-", 1)[0]
            if _normalise(project) not in wanted:
                continue
            found.append(project)
            chosen.append(dist_info)
            record = dist_info / "RECORD"
            if record.is_file():
                with record.open(newline="") as stream:
                    for row in csv.reader(stream):
                        path = (root / row[0]).resolve() if row else None
                        if path and path.is_relative_to(root.resolve()) and path.exists():
                            chosen.append(root / path.relative_to(root.resolve()))
        note = f"removed {', '.join(found)}" if found else "none installed"
        return Removal(paths=tuple(_outermost(chosen)), note=note)


@dataclass(frozen=True)
class InstallRequestRule:
    """Remove the files in each dist-info that record how pip was asked, not what it
    installed (REQUESTED: named on the command line or a dependency; direct_url.json)."""

    name: str
    description: str
    file_names: tuple[str, ...] = ("REQUESTED", "direct_url.json")

    def select(self, root: Path) -> Removal:
        chosen = [dist_info / name for dist_info in sorted(root.glob("*.dist-info"))
                  for name in self.file_names if (dist_info / name).is_file()]
        return Removal(paths=tuple(chosen))


_SHARED_LIBRARY = re.compile(r"\.so(\.[0-9]+)*$")


@dataclass(frozen=True)
class UnlinkedLibraryRule:
    """Remove shared libraries that no other ELF file in the tree lists as DT_NEEDED.

    ``dlopen`` is invisible to this check, which is why the runtime build also imports the
    trimmed tree and runs a session on the target interpreter.
    """

    name: str
    description: str
    pattern: str
    file_name: str = field(default=r"^lib[^/]*\.so(\.[0-9]+)*$")

    def select(self, root: Path) -> Removal:
        accept = re.compile(self.file_name)
        candidates = [p for p in sorted(root.glob(self.pattern))
                      if p.is_file() and accept.match(p.name)]
        if not candidates:
            return Removal(paths=(), note="not present")
        users = [p for p in _shared_objects(root) if p not in candidates]
        removable, notes = [], []
        for library in candidates:
            linkage = read_elf_linkage(library)
            names = {library.name} | ({linkage.soname} if linkage and linkage.soname else set())
            needing = [p for p in users
                       if (lk := read_elf_linkage(p)) and names.intersection(lk.needed)]
            if needing:
                notes.append(f"kept {library.name}: NEEDED by "
                             f"{', '.join(p.relative_to(root).as_posix() for p in needing)}")
            else:
                removable.append(library)
                notes.append(f"{library.name} ({', '.join(sorted(names))}) is not NEEDED by "
                             f"any of the {len(users)} other ELF files")
        return Removal(paths=tuple(removable), note="; ".join(notes))


def _shared_objects(root: Path) -> Iterator[Path]:
    for folder, _dirs, files in os.walk(root):
        for name in sorted(files):
            if _SHARED_LIBRARY.search(name):
                yield Path(folder) / name


def _outermost(paths: Iterable[Path]) -> list[Path]:
    """Drop paths that sit inside another chosen path; keep the order stable."""
    unique = sorted(set(paths))
    kept: list[Path] = []
    for path in unique:
        if not any(path.is_relative_to(parent) for parent in kept):
            kept.append(path)
    return kept


DEFAULT_TRIM_RULES: tuple[TrimRule, ...] = (
    PatternRule("host-bytecode", "__pycache__ and .pyc written by the build machine's Python",
                dir_names=("__pycache__",), suffixes=(".pyc", ".pyo")),
    PatternRule("console-scripts", "bin/ scripts pip wrote with the build machine's shebang",
                paths=("bin",)),
    PatternRule("tests", "tests/ folders inside packages", dir_names=("tests",)),
    PatternRule("c-build-files", "C/C++ headers, Cython declarations, static libs, pkg-config",
                dir_names=("include", "pkgconfig"),
                suffixes=(".h", ".hpp", ".c", ".cpp", ".pxd", ".pxi", ".pyx", ".a")),
    PatternRule("type-stubs", ".pyi stubs (only type checkers read them; py.typed is kept)",
                suffixes=(".pyi",)),
    PatternRule("onnxruntime-tooling",
                "onnxruntime's training/, tools/, transformers/ and quantization/ "
                "(offline tooling; inference never imports them)",
                paths=("onnxruntime/training", "onnxruntime/tools", "onnxruntime/transformers",
                       "onnxruntime/quantization")),
    UnlinkedLibraryRule("onnxruntime-c-api",
                        "onnxruntime's C API library (the Python binding links ORT statically)",
                        pattern="onnxruntime/capi/libonnxruntime.so*",
                        file_name=r"^libonnxruntime\.so(\.[0-9]+)*$"),
    UnusedDistributionRule("unused-distributions",
                           "sympy, mpmath, protobuf, flatbuffers: only onnxruntime's removed "
                           "tooling imports them",
                           distributions=("sympy", "mpmath", "protobuf", "flatbuffers")),
    # The same lock installed as `-r lock` or as names marks different packages REQUESTED:
    # without these files the layer's bytes depend only on what is installed.
    InstallRequestRule("install-request-markers",
                       "dist-info REQUESTED and direct_url.json (how pip was called, not what "
                       "it installed)"),
)


def trim_tree(root: Path, rules: Sequence[TrimRule] = DEFAULT_TRIM_RULES) -> tuple[TrimResult, ...]:
    """Apply ``rules`` in order to ``root``; return what each one removed."""
    results = []
    for rule in rules:
        removal = rule.select(root)
        files, size = tree_bytes(removal.paths)
        for path in removal.paths:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
            _prune_empty_parents(path.parent, root)
        results.append(TrimResult(rule.name, rule.description, files, size, removal.note))
    forget_removed_files(root)
    return tuple(results)


def forget_removed_files(root: Path) -> None:
    """Drop RECORD lines of files no longer in the tree.

    Besides keeping each RECORD true, this keeps the layer reproducible: pip records the
    console scripts it wrote (trimmed above) with their hashes, and a script's shebang names
    the build machine's Python, so those lines differ from one checkout to another.
    """
    top = root.resolve()
    for record in sorted(root.glob("*.dist-info/RECORD")):
        lines = record.read_text(encoding="utf-8").splitlines(keepends=True)
        kept = [line for line in lines
                if (target := (top / line.split(",", 1)[0]).resolve()).is_relative_to(top)
                and target.exists()]
        if kept != lines:
            record.write_text("".join(kept), encoding="utf-8")


def _prune_empty_parents(folder: Path, root: Path) -> None:
    while folder != root and folder.is_relative_to(root) and folder.is_dir():
        if any(folder.iterdir()):
            return
        folder.rmdir()
        folder = folder.parent


def rules_fingerprint(rules: Sequence[TrimRule]) -> str:
    """A stable text that changes whenever a rule changes (part of the runtime build key)."""
    return repr(tuple(rules))
