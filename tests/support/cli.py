"""The ``featherserve`` command in process, as the tests under tests/featherserve run it."""

from __future__ import annotations

import pytest

import featherserve.cli as cli
from featherserve.support.processes import ROOT


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``featherserve --project <checkout> *argv``: its exit code, stdout and stderr, less
    the line naming the project a writing command acts on (test_project_discovery.py)."""
    # The project these tests run in, named: some run from a scratch folder.
    code = cli.main(["--project", str(ROOT), *argv])
    out, err = capsys.readouterr()
    said = err.splitlines(keepends=True)
    if said and said[0].startswith("featherserve: project "):
        err = "".join(said[1:])
    return code, out, err
