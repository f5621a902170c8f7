"""Which featherserve project a command acts on, found as git finds its repository.

In order: ``--project DIR`` (the CLI sets it with :func:`use_project`), the
``FEATHERSERVE_PROJECT`` environment variable, then the current folder and each folder
above it. A project is a folder holding ``serverless.yml`` and a ``pyproject.toml`` whose
``[project] name`` is ``featherserve`` (a clone of the kit). Never the checkout the tool
was installed from: run from a second clone, every path is that clone's.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

PROJECT_ENV = "FEATHERSERVE_PROJECT"
PROJECT_NAME = "featherserve"
MARKERS = ("serverless.yml", "pyproject.toml")


class NotAProject(Exception):
    """No featherserve project here (or at the folder given)."""


def is_project(folder: Path) -> bool:
    if not all((folder / marker).is_file() for marker in MARKERS):
        return False
    try:
        pyproject = tomllib.loads((folder / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False
    return bool(pyproject.get("project", {}).get("name") == PROJECT_NAME)


def find_project(start: Path) -> Path | None:
    """The nearest project folder at or above ``start``, or None."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if is_project(folder):
            return folder
    return None


def resolve_project(explicit: str | Path | None = None, *,
                    environ: dict[str, str] | None = None, cwd: Path | None = None) -> Path:
    """The project folder (explicit > environment > discovery), or ``NotAProject``."""
    environ = dict(os.environ) if environ is None else environ
    for given, source in ((explicit, "--project"), (environ.get(PROJECT_ENV), PROJECT_ENV)):
        if given:
            folder = Path(given).expanduser().resolve()
            if not is_project(folder):
                raise NotAProject(
                    f"{source} names {folder}, which is not a featherserve project (a folder "
                    "with serverless.yml and a pyproject.toml named featherserve)")
            return folder
    here = (cwd or Path.cwd()).resolve()
    found = find_project(here)
    if found is None:
        raise NotAProject(
            f"{here} is not inside a featherserve project (no folder at or above it holds "
            "serverless.yml and a pyproject.toml named featherserve): cd into your clone of "
            f"the kit, or name it with --project DIR or {PROJECT_ENV}=DIR")
    return found


def use_project(folder: Path) -> None:
    """Make ``folder`` the project of this process and of the tools it starts."""
    os.environ[PROJECT_ENV] = str(folder)


def project_root() -> Path:
    return resolve_project()


def project_store() -> Path:
    """The project's own model store (``models/``)."""
    return project_root() / "models"
