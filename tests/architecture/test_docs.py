"""The documentation names only things that exist.

For README.md and every page under docs/: each repository path written in backticks, in a
code block or as a link exists (a glob matches something); each `make TARGET` is a target
of the Makefile; each `featherserve COMMAND` is a subcommand of the real CLI parser; each
`python -m MODULE` is a module of the project; each link's `#anchor` is a heading of its
page. The README stays the front door (at most 300 lines), and every page is linked from
the README or docs/DESIGN.md, so none is an orphan.
"""

from __future__ import annotations

import argparse
import re
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DESIGN = ROOT / "docs" / "DESIGN.md"
PAGES = sorted((ROOT / "docs").glob("*.md"))
DOCUMENTS = [README, *PAGES]
MAX_README_LINES = 300

# Paths the docs name that a clean checkout does not have, because a command makes them.
# A path under one of these is not checked (its first part still says where it comes from).
GENERATED = {
    "build/": "make layers, make bench --quick, featherserve train: build output",
    ".serverless/": "make package / sls package writes it",
    ".venv/": "make setup creates the virtualenv",
    "node_modules/": "make setup runs npm ci",
}

# What may stand in for a name the user picks: <model>, NAME, {name}, ..., s3://...
PLACEHOLDER = re.compile(r"<[^>]*>|\{[^}]*\}|\.\.\.|…|\b[A-Z][A-Z_0-9]{2,}\b|\[|\]")
SPAN = re.compile(r"(?<!`)`((?:[^`\n]|\n(?!\n))+)`(?!`)")  # may wrap, not past a blank line
LINK = re.compile(r"\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
MAKE = re.compile(r"(?:^|[\s;&|(`])make\s+([a-z][\w-]*)")
FEATHERSERVE = re.compile(r"(?:^|[\s;&|(`/])featherserve\s+(?:--project\s+\S+\s+)?([a-z][\w/-]*)")
# `python -m` of a tool the project installs rather than a module of its own.
THIRD_PARTY_MODULES = frozenset({"pytest", "pip", "venv"})
PYTHON_M = re.compile(r"python3?\s+-m\s+([A-Za-z_][\w.]*)")
# A relative path ending so is the repository's even when its first part is misspelt; data
# files (.csv, .json, ...) are also the user's own or S3 keys, checked only under a top-level.
SOURCE_SUFFIXES = (".py", ".md", ".yml", ".yaml", ".js", ".toml", ".lock")


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _code(text: str) -> list[str]:
    """Inline code spans and fenced blocks: where the docs write paths and commands."""
    fenced = FENCE.findall(text)
    prose = FENCE.sub("", text)
    return SPAN.findall(prose) + fenced


@cache
def _top_level() -> frozenset[str]:
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.split()
    names = {name.split("/")[0] for name in tracked}
    return frozenset(names | {prefix.rstrip("/") for prefix in GENERATED})


def _candidates(text: str) -> Iterator[str]:
    """Tokens in code that look like repository paths (first part a top-level entry, or a
    relative path with a source-file suffix)."""
    for code in _code(text):
        for raw in code.split():
            token = raw.split("=", 1)[-1].lstrip("@(\"'").rstrip(".,;:)\"'")
            if "/" not in token and not token.endswith(SOURCE_SUFFIXES):
                continue
            if token.startswith(("/", "~", "$", "-")) or "://" in token or ":" in token:
                continue
            first = token.split("/")[0]
            if first in _top_level() or ("/" in token and token.endswith(SOURCE_SUFFIXES)):
                yield token


def _exists(token: str) -> bool:
    path = token.rstrip("/")
    if any(ch in path for ch in "*?"):
        return any(ROOT.glob(path))
    return (ROOT / path).exists()


def _missing_paths(doc: Path) -> list[str]:
    missing = []
    for token in sorted(set(_candidates(_text(doc)))):
        if _exists(token) or any(token.startswith(prefix) for prefix in GENERATED):
            continue
        if PLACEHOLDER.search(token):  # handlers/NAME.py, models/<name>/..., {a,b}
            continue
        missing.append(token)
    return missing


def _links(doc: Path) -> Iterator[tuple[str, str]]:
    """(target path relative to the root, anchor) of each local link."""
    for target in LINK.findall(FENCE.sub("", _text(doc))):
        if "://" in target or target.startswith("mailto:"):
            continue
        file_part, _, anchor = target.partition("#")
        resolved = (doc.parent / file_part).resolve() if file_part else doc
        yield str(resolved.relative_to(ROOT)) if resolved != ROOT else ".", anchor


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"\s", "-", re.sub(r"[^\w\s-]", "", heading.strip().lower()))


def _anchors(page: Path) -> set[str]:
    headings = re.findall(r"^#+\s+(.*)$", FENCE.sub("", _text(page)), re.MULTILINE)
    return {_slug(heading) for heading in headings}


@cache
def _make_targets() -> frozenset[str]:
    makefile = _text(ROOT / "Makefile")
    return frozenset(re.findall(r"^([A-Za-z][\w.-]*)\s*:(?!=)", makefile, re.MULTILINE))


@cache
def _subcommands() -> frozenset[str]:
    from featherserve.cli import build_parser  # here: the other checks need no tooling import

    for action in build_parser()._actions:
        if isinstance(action, argparse._SubParsersAction):
            return frozenset(action.choices)
    raise AssertionError("featherserve's parser has no subcommands")


def _module_exists(module: str) -> bool:
    base = ROOT.joinpath(*module.split("."))
    return (module in THIRD_PARTY_MODULES or base.with_suffix(".py").is_file()
            or (base / "__init__.py").is_file() or (base / "__main__.py").is_file())


def _name(doc: Path) -> str:
    return str(doc.relative_to(ROOT))


@pytest.mark.parametrize("doc", DOCUMENTS, ids=_name)
def test_every_path_named_exists(doc: Path) -> None:
    assert _missing_paths(doc) == [], f"{_name(doc)} names paths that do not exist"


@pytest.mark.parametrize("doc", DOCUMENTS, ids=_name)
def test_every_link_resolves(doc: Path) -> None:
    broken = []
    for target, anchor in _links(doc):
        path = ROOT / target
        if not path.exists():
            broken.append(target)
        elif anchor and path.suffix == ".md" and anchor not in _anchors(path):
            broken.append(f"{target}#{anchor}")
    assert broken == [], f"{_name(doc)} links to what does not exist"


@pytest.mark.parametrize("doc", DOCUMENTS, ids=_name)
def test_every_make_target_exists(doc: Path) -> None:
    named = {target for code in _code(_text(doc)) for target in MAKE.findall(code)}
    assert named - _make_targets() == set(), f"{_name(doc)} names targets the Makefile lacks"


@pytest.mark.parametrize("doc", DOCUMENTS, ids=_name)
def test_every_featherserve_command_exists(doc: Path) -> None:
    named = {part for code in _code(_text(doc)) for found in FEATHERSERVE.findall(code)
             for part in found.split("/") if part}
    assert named - _subcommands() == set(), f"{_name(doc)} names commands the CLI lacks"


@pytest.mark.parametrize("doc", DOCUMENTS, ids=_name)
def test_every_python_module_exists(doc: Path) -> None:
    named = {module for code in _code(_text(doc)) for module in PYTHON_M.findall(code)}
    assert {m for m in named if not _module_exists(m)} == set(), (
        f"{_name(doc)} runs modules the project lacks")


def test_the_readme_names_every_command() -> None:
    """The README's commands table is complete: every subcommand and every Make target."""
    code = _code(_text(README))
    commands = {part for text in code for found in FEATHERSERVE.findall(text)
                for part in found.split("/") if part}
    commands |= {word for text in code for word in re.findall(r"^`?([a-z][\w-]*)\b", text)}
    targets = {target for text in code for target in MAKE.findall(text)}
    assert _subcommands() - commands == set(), "featherserve commands the README leaves out"
    assert _make_targets() - targets == set(), "make targets the README leaves out"


def test_readme_fits_on_a_few_screens() -> None:
    lines = len(_text(README).splitlines())
    assert lines <= MAX_README_LINES, f"README.md has {lines} lines (at most {MAX_README_LINES})"


def test_every_page_is_linked_from_the_readme_or_design() -> None:
    linked = {target for doc in (README, DESIGN) for target, _ in _links(doc)}
    orphans = [_name(page) for page in PAGES if _name(page) not in linked]
    assert orphans == [], "pages no one links to"


def test_the_checks_catch_what_they_are_for() -> None:
    """A wrong path, target, command, module or anchor is found: the checks can fail."""
    text = ("See `model_runtime/no_such_file.py` and `examples/`.\n\n```sh\n"
            "make no-such-target\n.venv/bin/featherserve no-such-command\n"
            "python -m benchmarks.no_such_module\n```\n")
    assert set(_candidates(text)) == {"model_runtime/no_such_file.py", "examples/",
                                      ".venv/bin/featherserve"}
    assert not _exists("model_runtime/no_such_file.py") and _exists("examples/")
    assert [t for code in _code(text) for t in MAKE.findall(code)] == ["no-such-target"]
    assert [c for code in _code(text) for c in FEATHERSERVE.findall(code)] == ["no-such-command"]
    assert not _module_exists("benchmarks.no_such_module") and _module_exists("benchmarks")
    assert _slug("2. Choose the stage's settings") == "2-choose-the-stages-settings"
    assert _slug("`sls invoke local` and the Python version") == (
        "sls-invoke-local-and-the-python-version")
    assert "no-such-heading" not in _anchors(DESIGN)
