"""The function zip: the runtime packages, whole, with CPython 3.12 bytecode.

What a Lambda function may import lives in ``RUNTIME_PACKAGES`` and ships by package,
never by a hand-kept list of files, so a new module can never be left out. The zip is
reproducible (sorted entries, fixed timestamps: see ``zipping``) and serverless.yml uses
it as ``package.artifact``. Bytecode is compiled by the target interpreter with
``unchecked-hash`` invalidation: Lambda's task root is read-only, and an unchecked pyc
is used without stat-ing or hashing its source at every cold start.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from featherserve.layers.commands import CommandRunner, run_command
from featherserve.layers.exceptions import LayerBuildError
from featherserve.layers.interpreter import TargetInterpreter
from featherserve.layers.runtime_layer import PROJECT_ROOT
from featherserve.layers.zipping import BuiltLayer, LayerSpec, entries_from_tree, write_layer_zip

# Every package a function may import from the project. Tooling (featherserve), training,
# tests and benchmarks are never shipped, and nothing shipped may import them.
RUNTIME_PACKAGES: tuple[str, ...] = ("model_store", "preprocessing", "lambda_kit", "model_runtime",
                                     "webapp", "handlers")
FUNCTION_ZIP = "function.zip"
# Where Lambda unpacks the function zip (recorded in the pycs, so tracebacks read right).
LAMBDA_TASK_ROOT = "/var/task"
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", ".*")


@dataclass(frozen=True)
class CodeZip:
    layer: BuiltLayer
    packages: tuple[str, ...]
    bytecode_by: str | None
    pyc_files: int

    @property
    def note(self) -> str:
        if self.bytecode_by is None:
            return ("no CPython 3.12 found: the function zip ships WITHOUT bytecode "
                    "(compiled at every cold start)")
        return f"{self.pyc_files} .pyc compiled by {self.bytecode_by}"

    def to_dict(self) -> dict[str, object]:
        return {**self.layer.to_dict(), "packages": list(self.packages),
                "bytecode_by": self.bytecode_by, "pyc_files": self.pyc_files}


def stage_packages(root: Path, packages: Sequence[str], dest: Path) -> None:
    """Copy each package whole into ``dest`` (sources only, no stale bytecode)."""
    for package in packages:
        source = root / package
        if not (source / "__init__.py").is_file():
            raise LayerBuildError(f"runtime package {package!r} not found at {source} "
                                  "(a folder with __init__.py)")
        shutil.copytree(source, dest / package, ignore=_IGNORED)


def build_function_zip(out_dir: Path, interpreter: TargetInterpreter | None, *,
                       root: Path = PROJECT_ROOT,
                       packages: Sequence[str] = RUNTIME_PACKAGES,
                       run: CommandRunner = run_command,
                       log: Callable[[str], None] = lambda _: None) -> CodeZip:
    """Write ``<out_dir>/function.zip`` from ``packages`` under ``root``."""
    with tempfile.TemporaryDirectory(prefix="featherserve-code-") as staging_name:
        staging = Path(staging_name)
        stage_packages(root, packages, staging)
        pyc_files = 0
        if interpreter is not None:
            result = run([interpreter.path, "-I", "-m", "compileall", "-q",
                          "--invalidation-mode", "unchecked-hash",
                          "-s", str(staging), "-p", LAMBDA_TASK_ROOT, str(staging)],
                         timeout=600)
            if not result.ok:
                raise LayerBuildError(f"compileall with {interpreter.path} failed:\n"
                                      f"{result.output_tail()}")
            pyc_files = sum(1 for _ in staging.rglob("*.pyc"))
        spec = LayerSpec(name="function", zip_path=out_dir / FUNCTION_ZIP,
                         entries=entries_from_tree(staging, ""),
                         description="the function code: " + ", ".join(packages))
        layer = write_layer_zip(spec)
    code = CodeZip(layer, tuple(packages), interpreter.describe() if interpreter else None,
                   pyc_files)
    log(f"function zip: {', '.join(packages)} -> {layer.zip_path} ({code.note})")
    return code
