"""What ships to Lambda stays apart from the tooling (Chalice's lesson).

Every module of the runtime packages is read (not imported) and each import, including
lazy ones inside functions, must name the standard library, a runtime dependency, or
another runtime package. A function importing the tooling, training, the tests or the
benchmarks would work in the checkout and fail on Lambda, where they are not shipped.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from featherserve.layers.code_package import RUNTIME_PACKAGES
from featherserve.support.processes import ROOT

NEVER_SHIPPED = ("featherserve", "training", "tests", "benchmarks")
# Standard-library accelerators whose name changed between 3.11 (here) and 3.12 (Lambda).
STDLIB_OF_OTHER_VERSIONS = ("_sha2", "_sha256")
# Third-party modules a runtime module may import: the runtime layer's and, lazily, the
# AWS SDK that Lambda's python3.12 runtime provides.
RUNTIME_THIRD_PARTY = ("numpy", "onnxruntime", "PIL", "aws_lambda_powertools", "boto3",
                       "botocore", "snapshot_restore_py",
                       # the web function's own layer
                       "serverless_wsgi", "werkzeug", "markupsafe")


def runtime_modules() -> list[Path]:
    return sorted(p for package in RUNTIME_PACKAGES for p in (ROOT / package).rglob("*.py"))


def imported_names(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append((node.lineno, node.module))
    return names


def test_the_runtime_packages_exist_and_are_packages():
    for package in RUNTIME_PACKAGES:
        assert (ROOT / package / "__init__.py").is_file(), package


@pytest.mark.parametrize("path", runtime_modules(), ids=lambda p: str(p.relative_to(ROOT)))
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
