"""The whole layer build as one pipeline: verify models, build the runtime layer, write the
model layers, check sizes against Lambda's limits, and write ``<out>/report.json``.

Each function is one model's handler: its code package plus the runtime layer and that
model's layer. With no models in the store only the runtime layer is built and checked.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from featherserve.layers.commands import CommandRunner, run_command
from featherserve.layers.interpreter import find_target_interpreter
from featherserve.layers.limits import DEFAULT_LIMITS, LambdaLimits
from featherserve.layers.model_layer import (
    ModelRef,
    model_layer_name,
    plan_model_layer,
    write_model_layers,
)
from featherserve.layers.report import CodePackage, FunctionSpec, SizeReport, check_sizes
from featherserve.layers.runtime_layer import (
    PROJECT_ROOT,
    PYPROJECT,
    RUNTIME_LAYER_NAME,
    RuntimeLayerConfig,
    RuntimeLayerResult,
    build_runtime_layer,
    read_runtime_requirements,
)
from featherserve.layers.zipping import BuiltLayer, describe_layer_zip
from model_store.base import LATEST, ModelStore

DEFAULT_OUT_DIR = PROJECT_ROOT / "build" / "layers"
# What a function's own package holds: the handlers and the store code they import.
DEFAULT_CODE_PATHS = (PROJECT_ROOT / "handlers", PROJECT_ROOT / "model_store")
REPORT_FILE = "report.json"
RUNTIME_ONLY_FUNCTION = "(runtime only)"


@dataclass(frozen=True)
class LayersRequest:
    out_dir: Path = DEFAULT_OUT_DIR
    # None: every model in the store, at ``default_ref``.
    models: tuple[ModelRef, ...] | None = None
    default_ref: str = LATEST
    build_runtime: bool = True
    rebuild_runtime: bool = False
    python312: str | None = None
    code_paths: tuple[Path, ...] = DEFAULT_CODE_PATHS
    limits: LambdaLimits = DEFAULT_LIMITS
    pyproject: Path = PYPROJECT


@dataclass(frozen=True)
class LayersBuild:
    runtime: RuntimeLayerResult | None
    model_layers: tuple[BuiltLayer, ...]
    report: SizeReport
    report_path: Path
    seconds: float

    def to_dict(self) -> dict[str, object]:
        return {**self.report.to_dict(), "seconds": self.seconds,
                "runtime": self.runtime.to_dict() if self.runtime else None}


def _runtime_layer(request: LayersRequest, run: CommandRunner,
                   environ: Mapping[str, str], log: Callable[[str], None],
                   notes: list[str]) -> tuple[RuntimeLayerResult | None, BuiltLayer | None]:
    config = RuntimeLayerConfig(out_dir=request.out_dir,
                                requirements=read_runtime_requirements(request.pyproject),
                                rebuild=request.rebuild_runtime)
    if not request.build_runtime:
        if config.zip_path.is_file():
            notes.append("runtime layer not rebuilt (--skip-runtime); sizes from "
                         f"{config.zip_path}")
            return None, describe_layer_zip(RUNTIME_LAYER_NAME, config.zip_path)
        notes.append(f"no runtime layer (--skip-runtime and no {config.zip_path}); "
                     "functions are checked without it")
        return None, None
    search = find_target_interpreter(request.python312, environ, run)
    runtime = build_runtime_layer(config, search, run, log)
    return runtime, runtime.layer


def build_layers(store: ModelStore, request: LayersRequest, *, run: CommandRunner = run_command,
                 environ: Mapping[str, str] | None = None,
                 log: Callable[[str], None] = lambda _: None) -> LayersBuild:
    """Build every requested layer and the size report; limits are reported, not raised."""
    started = time.perf_counter()
    environ = os.environ if environ is None else environ
    refs = request.models
    if refs is None:
        refs = tuple(ModelRef(name, request.default_ref) for name in store.names())
    # Integrity first: a corrupt model stops the build before the slow runtime step.
    specs = [plan_model_layer(store, ref, request.out_dir) for ref in refs]
    code = CodePackage.measure(request.code_paths)
    notes: list[str] = []
    runtime, runtime_layer = _runtime_layer(request, run, environ, log, notes)
    model_layers = write_model_layers(specs, log)
    base = (runtime_layer.name,) if runtime_layer else ()
    functions = [FunctionSpec(ref.name, code, (*base, model_layer_name(ref.name))) for ref in refs]
    if not refs:
        notes.append("no models in the store: no model layers were built")
        if runtime_layer:
            functions.append(FunctionSpec(RUNTIME_ONLY_FUNCTION, code, base))
    layers = ([runtime_layer] if runtime_layer else []) + list(model_layers)
    report = check_sizes(functions, layers, request.limits, notes)
    build = LayersBuild(runtime, model_layers, report, request.out_dir / REPORT_FILE,
                        round(time.perf_counter() - started, 2))
    request.out_dir.mkdir(parents=True, exist_ok=True)
    build.report_path.write_text(json.dumps(build.to_dict(), indent=2, sort_keys=True) + "\n")
    return build
