"""The runtime-dependency layer: what a handler imports, built for Lambda's python3.12 x86_64.

Steps: pip install the ``[project].dependencies`` of pyproject.toml (the one source of truth)
for the target platform into a staging folder, trim it, compile bytecode with a CPython 3.12
if one is available, import-check it on that interpreter, move it to
``<out>/runtime/python`` (local tools put that on PYTHONPATH to emulate /opt/python) and zip
it to ``<out>/runtime.zip``. A build key (requirements + target + trim rules + bytecode
interpreter) in ``<out>/runtime/.build-key`` lets an unchanged build be reused without pip;
``rebuild=True`` forces a fresh download (e.g. to pick up new upstream releases).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import sys
import time
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from featherserve.layers.commands import CommandRunner, run_command
from featherserve.layers.exceptions import LayerBuildError
from featherserve.layers.interpreter import (
    BytecodeResult,
    ImportCheck,
    InterpreterSearch,
    check_layer_imports,
    compile_bytecode,
)
from featherserve.layers.trim import (
    DEFAULT_TRIM_RULES,
    TrimResult,
    TrimRule,
    rules_fingerprint,
    trim_tree,
)
from featherserve.layers.zipping import (
    BuiltLayer,
    LayerSpec,
    describe_layer_zip,
    entries_from_tree,
    tree_bytes,
    write_layer_zip,
)
from featherserve.project import project_root

PROJECT_ROOT = project_root()
PYPROJECT = PROJECT_ROOT / "pyproject.toml"
# Exact versions with sha256 of what the runtime layer installs (`featherserve lock`).
RUNTIME_LOCK = PROJECT_ROOT / "requirements" / "runtime.lock"
RUNTIME_LAYER_NAME = "runtime"
LAYER_PYTHON_DIR = "python"  # Lambda adds /opt/python to sys.path
BUILD_KEY_FILE = ".build-key"
BUILD_INFO_FILE = "build-info.json"
# Bump when the build steps change in a way the key would not otherwise notice.
# 2: RECORDs forget trimmed files; 3: bytecode compiled in one process (reproducible pycs).
BUILD_LAYOUT_VERSION = 3


@dataclass(frozen=True)
class RuntimeTarget:
    """The Lambda runtime the layer is for (see DESIGN.md: manylinux_2_28 needs AL2023)."""

    python_version: str = "3.12"
    platform: str = "manylinux_2_28_x86_64"
    implementation: str = "cp"

    @property
    def pyc_tag(self) -> str:
        return f"cpython-{self.python_version.replace('.', '')}"


def read_runtime_requirements(pyproject: Path = PYPROJECT) -> tuple[str, ...]:
    """``[project].dependencies``: exactly what a handler needs on Lambda."""
    try:
        data = tomllib.loads(pyproject.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise LayerBuildError(f"{pyproject}: cannot read runtime dependencies ({exc})") from exc
    dependencies = data.get("project", {}).get("dependencies")
    if not dependencies or not all(isinstance(d, str) for d in dependencies):
        raise LayerBuildError(f"{pyproject}: [project].dependencies must be a non-empty list")
    return tuple(dependencies)


def locked_requirements(lock: Path = RUNTIME_LOCK) -> tuple[str, ...]:
    """pip arguments that install exactly the lock: these versions, these bytes, no more."""
    if not lock.is_file():
        raise LayerBuildError(f"{lock} is missing: run `featherserve lock` and commit it")
    return ("--require-hashes", "--no-deps", "-r", str(lock))


def pip_install_command(requirements: Sequence[str], target: RuntimeTarget, dest: Path,
                        python: str = sys.executable) -> list[str]:
    # --no-compile: pip would write .pyc for the build machine's Python, not the target's.
    return [python, "-m", "pip", "install", "--platform", target.platform,
            "--python-version", target.python_version, "--implementation", target.implementation,
            "--only-binary=:all:", "--target", str(dest), "--no-compile", "--no-input",
            "--disable-pip-version-check", *requirements]


@dataclass(frozen=True)
class RuntimeLayerConfig:
    out_dir: Path
    requirements: tuple[str, ...]
    target: RuntimeTarget = field(default_factory=RuntimeTarget)
    trim_rules: tuple[TrimRule, ...] = DEFAULT_TRIM_RULES
    rebuild: bool = False
    # The lock's sha256, so a changed lock (not only changed arguments) rebuilds the layer.
    lock_sha256: str = ""

    @property
    def runtime_dir(self) -> Path:
        return self.out_dir / RUNTIME_LAYER_NAME

    @property
    def python_dir(self) -> Path:
        return self.runtime_dir / LAYER_PYTHON_DIR

    @property
    def zip_path(self) -> Path:
        return self.out_dir / f"{RUNTIME_LAYER_NAME}.zip"

    def build_key(self, bytecode_python: str | None) -> str:
        material = {"requirements": list(self.requirements), "lock": self.lock_sha256,
                    "target": self.target.__dict__,
                    "trim_rules": rules_fingerprint(self.trim_rules),
                    "bytecode_python": bytecode_python, "layout": BUILD_LAYOUT_VERSION}
        return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class RuntimeLayerResult:
    layer: BuiltLayer
    python_dir: Path
    reused: bool
    build_key: str
    installed: tuple[str, ...]
    bytes_before_trim: int
    trim: tuple[TrimResult, ...]
    bytecode: BytecodeResult
    import_check: ImportCheck
    interpreter_notes: tuple[str, ...]
    seconds: dict[str, float]

    @property
    def trimmed_bytes(self) -> int:
        return sum(t.removed_bytes for t in self.trim)

    def to_dict(self) -> dict[str, object]:
        return {"layer": self.layer.to_dict(), "python_dir": str(self.python_dir),
                "reused": self.reused, "build_key": self.build_key,
                "installed": list(self.installed), "bytes_before_trim": self.bytes_before_trim,
                "trimmed_bytes": self.trimmed_bytes, "trim": [t.to_dict() for t in self.trim],
                "bytecode": self.bytecode.to_dict(), "import_check": self.import_check.to_dict(),
                "interpreter_notes": list(self.interpreter_notes), "seconds": self.seconds}


def _layer_spec(config: RuntimeLayerConfig) -> LayerSpec:
    # A local tool that put python/ on PYTHONPATH may have left bytecode for its own Python.
    foreign = (".pyc", ".pyo")
    entries = tuple(e for e in entries_from_tree(config.python_dir, LAYER_PYTHON_DIR)
                    if not (e.arcname.endswith(foreign)
                            and f".{config.target.pyc_tag}." not in e.arcname))
    return LayerSpec(RUNTIME_LAYER_NAME, config.zip_path, entries,
                     f"{', '.join(config.requirements)} for {config.target.platform} "
                     f"CPython {config.target.python_version}")


def _reuse(config: RuntimeLayerConfig, key: str, search: InterpreterSearch,
           log: Callable[[str], None]) -> RuntimeLayerResult | None:
    key_file, info_file = config.runtime_dir / BUILD_KEY_FILE, config.runtime_dir / BUILD_INFO_FILE
    if config.rebuild or not (key_file.is_file() and info_file.is_file()
                              and config.python_dir.is_dir()):
        return None
    if key_file.read_text().strip() != key:
        log("runtime layer: requirements, target or trim rules changed; rebuilding")
        return None
    try:
        info = json.loads(info_file.read_text())
        recorded_sha = str(info["layer"]["sha256"])
        trim = tuple(TrimResult(**t) for t in info["trim"])
        bytecode = BytecodeResult(**info["bytecode"])
        check = ImportCheck(**info["import_check"])
    except (ValueError, KeyError, TypeError):
        log(f"runtime layer: {info_file} is unreadable; rebuilding")
        return None
    started = time.perf_counter()
    layer = None
    if config.zip_path.is_file():
        with contextlib.suppress(LayerBuildError):
            layer = describe_layer_zip(RUNTIME_LAYER_NAME, config.zip_path)
    if layer is None or layer.sha256 != recorded_sha:
        layer = write_layer_zip(_layer_spec(config))
    log(f"runtime layer: reusing the build in {config.python_dir} (key {key[:12]}; "
        "--rebuild-runtime to download again)")
    seconds = {**info.get("seconds", {}), "reuse": round(time.perf_counter() - started, 2)}
    return RuntimeLayerResult(
        layer=layer, python_dir=config.python_dir, reused=True, build_key=key,
        installed=tuple(info.get("installed", ())),
        bytes_before_trim=int(info.get("bytes_before_trim", 0)),
        trim=trim, bytecode=bytecode, import_check=check,
        interpreter_notes=tuple(search.tried), seconds=seconds)


def build_runtime_layer(config: RuntimeLayerConfig, search: InterpreterSearch,
                        run: CommandRunner = run_command,
                        log: Callable[[str], None] = lambda _: None) -> RuntimeLayerResult:
    """Build (or reuse) the runtime layer; raise ``LayerBuildError`` if any step fails."""
    interpreter = search.interpreter
    key = config.build_key(interpreter.version if interpreter else None)
    reused = _reuse(config, key, search, log)
    if reused is not None:
        return reused
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(step: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[step] = round(now - clock, 2)
        clock = now

    config.runtime_dir.mkdir(parents=True, exist_ok=True)
    (config.runtime_dir / BUILD_KEY_FILE).unlink(missing_ok=True)
    staging = config.runtime_dir / f".staging-{LAYER_PYTHON_DIR}"
    shutil.rmtree(staging, ignore_errors=True)
    command = pip_install_command(config.requirements, config.target, staging)
    log(f"runtime layer: {' '.join(command[1:])}")
    result = run(command, timeout=1800)
    if not result.ok:
        raise LayerBuildError(f"pip install for {config.target.platform} failed:\n"
                              f"{result.output_tail()}")
    lap("pip")
    installed = tuple(sorted(p.name.removesuffix(".dist-info").replace("-", "==", 1)
                             for p in staging.glob("*.dist-info")))
    _, before = tree_bytes([staging])
    trim = trim_tree(staging, config.trim_rules)
    lap("trim")
    if interpreter is None:
        bytecode = BytecodeResult(False, None, 0, "no CPython 3.12 found: the layer ships "
                                  "WITHOUT bytecode (compiled at every cold start)")
        check = ImportCheck(False, False, "skipped: no CPython 3.12 interpreter to import with")
    else:
        log(f"runtime layer: compiling bytecode with {interpreter.describe()}")
        bytecode = compile_bytecode(interpreter, staging, run)
        lap("bytecode")
        check = check_layer_imports(interpreter, staging, run)
        lap("import_check")
    shutil.rmtree(config.python_dir, ignore_errors=True)
    staging.rename(config.python_dir)
    layer = write_layer_zip(_layer_spec(config))
    lap("zip")
    seconds["total"] = round(sum(seconds.values()), 2)
    built = RuntimeLayerResult(
        layer=layer, python_dir=config.python_dir, reused=False, build_key=key,
        installed=installed, bytes_before_trim=before, trim=trim, bytecode=bytecode,
        import_check=check, interpreter_notes=tuple(search.tried), seconds=seconds)
    info = json.dumps(built.to_dict(), indent=2, sort_keys=True) + "\n"
    (config.runtime_dir / BUILD_INFO_FILE).write_text(info)
    (config.runtime_dir / BUILD_KEY_FILE).write_text(key + "\n")
    return built
