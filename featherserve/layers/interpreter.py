"""The target interpreter (CPython 3.12, as on Lambda): finding it, compiling with it, and
importing the built layer with it.

Bytecode is only ever compiled by the target version: a ``.pyc`` from another version is
dead weight that Python ignores. Where to look, in order: an explicit path (CLI option),
``$FEATHERSERVE_PYTHON312``, ``python3.12`` on PATH, then pyenv's ``versions/3.12*``. A
candidate counts only if running it reports CPython 3.12 (a pyenv shim on PATH often fails).
An explicit path or variable that is not CPython 3.12 is an error, never silently skipped.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from featherserve.layers.commands import CommandRunner, run_command
from featherserve.layers.exceptions import LayerBuildError, TargetInterpreterError
from featherserve.layers.tiny_onnx import INPUT_NAME, tiny_add_model

TARGET_PYTHON = "3.12"
TARGET_MACHINE = "x86_64"
PYTHON312_ENV = "FEATHERSERVE_PYTHON312"
# Where Lambda puts a layer's python/ folder; compiled files record source paths under it.
LAMBDA_PYTHON_PATH = "/opt/python"

_PROBE = ("import platform, sys; "
          "print(sys.implementation.name, '%d.%d.%d' % sys.version_info[:3], platform.machine(),"
          " sys.platform)")


@dataclass(frozen=True)
class TargetInterpreter:
    path: str
    version: str
    machine: str
    platform: str
    found_by: str

    @property
    def can_import_layer(self) -> bool:
        """Bytecode is portable; the layer's compiled extensions only load on Linux x86_64."""
        return self.platform == "linux" and self.machine == TARGET_MACHINE

    def describe(self) -> str:
        return f"CPython {self.version} at {self.path} (found via {self.found_by})"


@dataclass(frozen=True)
class InterpreterSearch:
    interpreter: TargetInterpreter | None
    tried: tuple[str, ...] = ()


def probe_interpreter(path: str, found_by: str,
                      run: CommandRunner = run_command) -> tuple[TargetInterpreter | None, str]:
    """Run ``path`` and accept it only if it is CPython 3.12; the text says why not."""
    result = run([path, "-I", "-c", _PROBE], timeout=60)
    if not result.ok:
        reason = result.output_tail(2).replace("\n", " ") or f"exit code {result.returncode}"
        return None, f"{path} ({found_by}) does not run: {reason}"
    parts = result.stdout.split()
    if len(parts) != 4:
        return None, f"{path} ({found_by}) printed {result.stdout.strip()!r}"
    implementation, version, machine, platform = parts
    if implementation != "cpython" or not version.startswith(f"{TARGET_PYTHON}."):
        return None, (f"{path} ({found_by}) is {implementation} {version}, "
                      f"not CPython {TARGET_PYTHON}")
    found = TargetInterpreter(path, version, machine, platform, found_by)
    return found, f"{path} ({found_by}): CPython {version}"


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", path.parents[1].name))


def pyenv_candidates(environ: Mapping[str, str], run: CommandRunner,
                     which: Callable[[str], str | None] = shutil.which) -> list[Path]:
    """``<pyenv root>/versions/3.12*/bin/python3.12``, newest first."""
    root = environ.get("PYENV_ROOT")
    if not root and (pyenv := which("pyenv")):
        result = run([pyenv, "root"], timeout=30)
        root = result.stdout.strip() if result.ok else None
    base = Path(root) if root else Path(environ.get("HOME", "~")).expanduser() / ".pyenv"
    found = base.glob(f"versions/{TARGET_PYTHON}*/bin/python{TARGET_PYTHON}")
    return sorted(found, key=_version_key, reverse=True)


def find_target_interpreter(explicit: str | None = None,
                            environ: Mapping[str, str] | None = None,
                            run: CommandRunner = run_command,
                            which: Callable[[str], str | None] = shutil.which) -> InterpreterSearch:
    """The first working CPython 3.12; an explicit option beats the variable beats the search."""
    environ = os.environ if environ is None else environ
    for path, found_by in ((explicit, "--python312"), (environ.get(PYTHON312_ENV), PYTHON312_ENV)):
        if path:
            interpreter, note = probe_interpreter(path, found_by, run)
            if interpreter is None:
                raise TargetInterpreterError(f"{note}; point it at a CPython {TARGET_PYTHON} "
                                             "or unset it to search PATH and pyenv")
            return InterpreterSearch(interpreter, (note,))
    tried: list[str] = []
    candidates: list[tuple[str, str]] = []
    on_path = which(f"python{TARGET_PYTHON}")
    if on_path:
        candidates.append((on_path, "PATH"))
    candidates += [(str(p), "pyenv") for p in pyenv_candidates(environ, run, which)]
    for path, found_by in candidates:
        interpreter, note = probe_interpreter(path, found_by, run)
        tried.append(note)
        if interpreter is not None:
            return InterpreterSearch(interpreter, tuple(tried))
    if not candidates:
        tried.append(f"no python{TARGET_PYTHON} on PATH and none under pyenv's versions/")
    return InterpreterSearch(None, tuple(tried))


@dataclass(frozen=True)
class BytecodeResult:
    compiled: bool
    interpreter: str | None
    pyc_files: int = 0
    note: str = ""

    def to_dict(self) -> dict[str, object]:
        return {"compiled": self.compiled, "interpreter": self.interpreter,
                "pyc_files": self.pyc_files, "note": self.note}


def compile_bytecode(interpreter: TargetInterpreter, tree: Path,
                     run: CommandRunner = run_command) -> BytecodeResult:
    """Compile ``tree`` with the target Python, reproducibly; unchecked-hash pycs skip the
    mtime check on a read-only /opt, and ``-s/-p`` record /opt/python paths for tracebacks."""
    # One process, in compileall's sorted order: with -j0 the files a worker happens to get
    # change which strings marshal finds already interned, and so a few pycs' bytes.
    result = run([interpreter.path, "-I", "-m", "compileall", "-q",
                  "--invalidation-mode", "unchecked-hash",
                  "-s", str(tree), "-p", LAMBDA_PYTHON_PATH, str(tree)], timeout=1800)
    if not result.ok:
        raise LayerBuildError(f"compileall with {interpreter.path} failed:\n{result.output_tail()}")
    count = sum(1 for _ in tree.rglob("*.pyc"))
    return BytecodeResult(True, interpreter.describe(), count,
                          f"{count} .pyc compiled by CPython {interpreter.version}")


# Runs on the target interpreter with only the layer on sys.path (-S: no site-packages).
IMPORT_CHECK = """
import io, json, os, sys, time
root = os.path.realpath(sys.argv[1])
started = time.perf_counter()
import numpy, onnxruntime, PIL.Image, aws_lambda_powertools
from aws_lambda_powertools import Logger
imported = time.perf_counter() - started
modules = {m.__name__: os.path.realpath(m.__file__)
           for m in (numpy, onnxruntime, PIL.Image, aws_lambda_powertools)}
outside = sorted(n for n, f in modules.items() if not f.startswith(root + os.sep))
import importlib.util
pyc = os.path.exists(importlib.util.cache_from_source(onnxruntime.__file__))
session = onnxruntime.InferenceSession(sys.argv[2], providers=["CPUExecutionProvider"])
x = numpy.arange(6, dtype=numpy.float32).reshape(2, 3)
(y,) = session.run(None, {sys.argv[3]: x})
buffer = io.BytesIO()
PIL.Image.new("L", (8, 8), 200).save(buffer, "PNG")
image_ok = PIL.Image.open(io.BytesIO(buffer.getvalue())).getpixel((1, 1)) == 200
print(json.dumps({"python": sys.version.split()[0], "import_seconds": round(imported, 3),
                  "outside_layer": outside, "session_ok": bool(numpy.array_equal(y, x + x)),
                  "image_ok": image_ok, "bytecode_used": pyc,
                  "onnxruntime": onnxruntime.__version__, "numpy": numpy.__version__}))
"""


@dataclass(frozen=True)
class ImportCheck:
    ran: bool
    ok: bool
    note: str
    details: Mapping[str, object] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {"ran": self.ran, "ok": self.ok, "note": self.note, "details": dict(self.details)}


def check_layer_imports(interpreter: TargetInterpreter, tree: Path,
                        run: CommandRunner = run_command) -> ImportCheck:
    """Import the handler's dependencies from ``tree`` only and run a tiny session."""
    if not interpreter.can_import_layer:
        return ImportCheck(False, False, f"skipped: {interpreter.path} runs on "
                           f"{interpreter.platform}/{interpreter.machine}, the layer is for "
                           f"linux/{TARGET_MACHINE}")
    env = {"PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1",
           "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
    with tempfile.TemporaryDirectory(prefix="featherserve-import-check-") as scratch:
        model = Path(scratch) / "smoke.onnx"
        model.write_bytes(tiny_add_model())
        result = run([interpreter.path, "-S", "-c", IMPORT_CHECK, str(tree), str(model),
                      INPUT_NAME], env=env, timeout=300)
    if not result.ok:
        raise LayerBuildError(f"the built layer does not import on CPython {interpreter.version}:"
                              f"\n{result.output_tail()}")
    try:
        details = json.loads(result.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError) as exc:
        raise LayerBuildError(f"import check printed no result: {result.stdout!r}") from exc
    problems = []
    if details.get("outside_layer"):
        problems.append(f"imported from outside the layer: {details['outside_layer']}")
    if not details.get("session_ok"):
        problems.append("the smoke-test session returned a wrong result")
    if not details.get("image_ok"):
        problems.append("pillow could not round-trip a PNG")
    if problems:
        raise LayerBuildError("import check failed: " + "; ".join(problems))
    return ImportCheck(True, True, f"imports and runs on CPython {details.get('python')} "
                       f"in {details.get('import_seconds')} s", details)
