"""The whole build as one pipeline: verify models, build the runtime layer, write the
model layers and the function zip, check sizes against Lambda's limits, and write
``<out>/report.json`` and ``<out>/models.json`` (what serverless.yml reads about each model
layer: name, version, sha256).

Each function is one served model's handler (``handlers/<name>.py``): the function zip plus
the runtime layer and that model's layer. A model layer for a model with no function is an
error: it could never be deployed. While any model is pooled (``handlers/pool_models.json``),
the pool function's packed layer ``pool-models.zip`` holds every pooled model's ``live``
version (``pool_layer.py``); a pool that would unzip past Lambda's limit is refused before
anything is written.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from featherserve.layers.code_package import CodeZip, build_function_zip
from featherserve.layers.commands import CommandRunner, run_command
from featherserve.layers.exceptions import LayerBuildError
from featherserve.layers.interpreter import InterpreterSearch, find_target_interpreter
from featherserve.layers.limits import DEFAULT_LIMITS, LambdaLimits
from featherserve.layers.model_layer import (
    ModelRef,
    model_layer_name,
    model_layer_zip,
    plan_model_layer,
    write_model_layers,
)
from featherserve.layers.pool_layer import (
    EMPTY,
    POOL_FUNCTION,
    POOL_LAYER_ENV,
    POOL_LAYER_NAME,
    plan_pool_layer,
    pool_layer_zip,
    refuse_oversized,
)
from featherserve.layers.pool_layer import WAY_OUT as POOL_WAY_OUT
from featherserve.layers.report import CodePackage, FunctionSpec, SizeReport, check_sizes
from featherserve.layers.runtime_layer import (
    PROJECT_ROOT,
    RUNTIME_LAYER_NAME,
    RUNTIME_LOCK,
    RuntimeLayerConfig,
    RuntimeLayerResult,
    build_runtime_layer,
    locked_requirements,
)
from featherserve.layers.web_layer import build_web_catalog_layer, build_web_layer
from featherserve.layers.zipping import BuiltLayer, describe_layer_zip
from model_store.base import LATEST, ModelStore
from model_store.exceptions import ModelStoreError
from model_store.integrity import sha256_file
from model_store.manifest import Manifest

DEFAULT_OUT_DIR = PROJECT_ROOT / "build" / "layers"
# Measure a prebuilt function zip instead of building one (tests, `--code`).
DEFAULT_CODE_PATHS: tuple[Path, ...] = ()
REPORT_FILE = "report.json"
LAYER_INDEX_FILE = "models.json"
RUNTIME_ONLY_FUNCTION = "(runtime only)"
WEB_FUNCTION = "web"


@dataclass(frozen=True)
class LayersRequest:
    out_dir: Path = DEFAULT_OUT_DIR
    # None: every served model, at ``default_ref``.
    models: tuple[ModelRef, ...] | None = None
    # The models that have a function (handler module); None: every model in the store.
    served: tuple[str, ...] | None = None
    default_ref: str = LATEST
    build_runtime: bool = True
    rebuild_runtime: bool = False
    python312: str | None = None
    code_paths: tuple[Path, ...] = DEFAULT_CODE_PATHS
    limits: LambdaLimits = DEFAULT_LIMITS
    lock: Path = RUNTIME_LOCK
    # The web function's layers (its dependencies, and the catalog: manifests, benchmark).
    web: bool = False
    # The pooled models packed into pool-models.zip; None: the project's pool list
    # (handlers/pool_models.json), none when there is no such file.
    pooled: tuple[str, ...] | None = None


@dataclass(frozen=True)
class LayersBuild:
    runtime: RuntimeLayerResult | None
    model_layers: tuple[BuiltLayer, ...]
    code: CodeZip | None
    report: SizeReport
    report_path: Path
    seconds: float

    def to_dict(self) -> dict[str, object]:
        return {**self.report.to_dict(), "seconds": self.seconds,
                "runtime": self.runtime.to_dict() if self.runtime else None,
                "function_zip": self.code.to_dict() if self.code else None}


def runtime_layer_config(out_dir: Path, lock: Path, *, rebuild: bool = False
                         ) -> RuntimeLayerConfig:
    """The one way the runtime layer is configured (`featherserve layers` and any test that
    builds it): the same config gives the same build key, hence the same bytes."""
    return RuntimeLayerConfig(out_dir=out_dir, requirements=locked_requirements(lock),
                              lock_sha256=sha256_file(lock), rebuild=rebuild)


def _runtime_layer(request: LayersRequest, search: InterpreterSearch, run: CommandRunner,
                   log: Callable[[str], None],
                   notes: list[str]) -> tuple[RuntimeLayerResult | None, BuiltLayer | None]:
    config = runtime_layer_config(request.out_dir, request.lock,
                                  rebuild=request.rebuild_runtime)
    if not request.build_runtime:
        if config.zip_path.is_file():
            notes.append("runtime layer not rebuilt (--skip-runtime); sizes from "
                         f"{config.zip_path}")
            return None, describe_layer_zip(RUNTIME_LAYER_NAME, config.zip_path)
        notes.append(f"no runtime layer (--skip-runtime and no {config.zip_path}); "
                     "functions are checked without it")
        return None, None
    runtime = build_runtime_layer(config, search, run, log)
    return runtime, runtime.layer


def build_layers(store: ModelStore, request: LayersRequest, *, run: CommandRunner = run_command,
                 environ: Mapping[str, str] | None = None,
                 log: Callable[[str], None] = lambda _: None) -> LayersBuild:
    """Build every requested layer and the size report; limits are reported, not raised."""
    started = time.perf_counter()
    environ = os.environ if environ is None else environ
    served = request.served if request.served is not None else tuple(store.names())
    refs = request.models
    if refs is None:
        refs = tuple(ModelRef(name, request.default_ref) for name in served)
    unserved = [ref.name for ref in refs if ref.name not in served]
    if unserved:
        raise LayerBuildError(
            f"no function serves {', '.join(unserved)}: a layer for it could never be "
            f"deployed; run `featherserve add {unserved[0]}` first")
    # Integrity first: a corrupt model stops the build before the slow runtime step.
    specs = [plan_model_layer(store, ref, request.out_dir) for ref in refs]
    pooled = _pooled(request)
    empty_pool = environ.get(POOL_LAYER_ENV, "").strip().lower() == EMPTY
    pool_spec = (plan_pool_layer(store, pooled, request.out_dir, empty=empty_pool)
                 if pooled else None)
    notes: list[str] = []
    search = find_target_interpreter(request.python312, environ, run)
    runtime, runtime_layer = _runtime_layer(request, search, run, log, notes)
    code_zip: CodeZip | None = None
    if request.code_paths:
        code = CodePackage.measure(request.code_paths)
    else:
        code_zip = build_function_zip(request.out_dir, search.interpreter, run=run, log=log)
        code = CodePackage.measure((code_zip.layer.zip_path,))
        notes.append(f"function zip: {code_zip.note}")
    if pool_spec is not None:  # before any layer is written
        refuse_oversized(pool_spec, code.unzipped_bytes,
                         runtime_layer.unzipped_bytes if runtime_layer else 0, len(pooled),
                         request.limits)
    model_layers = write_model_layers(specs, log)
    base = (runtime_layer.name,) if runtime_layer else ()
    functions = [FunctionSpec(ref.name, code, (*base, model_layer_name(ref.name))) for ref in refs]
    pool_layers: list[BuiltLayer] = []
    if pool_spec is not None:
        pool_layers = list(write_model_layers([pool_spec], log))
        # pool-batch has the same code and layers: one line answers for both.
        functions.append(FunctionSpec(POOL_FUNCTION, code, (*base, pool_spec.name)))
        if empty_pool:
            notes.append(f"{POOL_LAYER_ENV}={EMPTY}: no pooled model packed; the pool reads "
                         "the stage's modelSource (s3://...)")
    else:
        pool_layer_zip(request.out_dir).unlink(missing_ok=True)  # no model is pooled now
    if not refs:
        notes.append("no served models: no model layers were built")
        if runtime_layer:
            functions.append(FunctionSpec(RUNTIME_ONLY_FUNCTION, code, base))
    # A build of some models only keeps what the others' layers (still in out_dir) hold.
    deployed = deployed_manifests(store, request.out_dir,
                                  [s.manifest for s in specs if s.manifest is not None], served)
    web_layers: list[BuiltLayer] = []
    if request.web:
        web_layers = [build_web_layer(request.out_dir, search.interpreter, run=run, log=log),
                      build_web_catalog_layer(request.out_dir, deployed, store=store,
                                              pooled=pooled)]
        functions.append(FunctionSpec(WEB_FUNCTION, code, tuple(w.name for w in web_layers)))
    layers = ([runtime_layer] if runtime_layer else []) + list(model_layers) + pool_layers \
        + web_layers
    report = check_sizes(functions, layers, request.limits, notes)
    if any(POOL_LAYER_NAME in problem for problem in report.problems):
        # (the unzipped total was refused before writing; this is the zip's upload limit)
        report = dataclasses.replace(report, notes=(*report.notes, POOL_WAY_OUT))
    build = LayersBuild(runtime, model_layers, code_zip, report,
                        request.out_dir / REPORT_FILE, round(time.perf_counter() - started, 2))
    request.out_dir.mkdir(parents=True, exist_ok=True)
    build.report_path.write_text(json.dumps(build.to_dict(), indent=2, sort_keys=True) + "\n")
    write_layer_index(request.out_dir, deployed, served)
    return build


def _pooled(request: LayersRequest) -> tuple[str, ...]:
    if request.pooled is not None:
        return request.pooled
    from featherserve.codegen.handler_modules import HANDLERS_DIR
    from featherserve.codegen.pool_files import read_pooled

    return tuple(sorted(read_pooled(HANDLERS_DIR)))


def deployed_manifests(store: ModelStore, out_dir: Path, built: list[Manifest],
                       served: tuple[str, ...] | list[str]) -> list[Manifest]:
    """This build's manifests, and for every other served model whose layer zip is still in
    ``out_dir``, the manifest the previous ``models.json`` recorded for it (same sha256)."""
    found = {m.name: m for m in built}
    try:
        previous = json.loads((out_dir / LAYER_INDEX_FILE).read_text())
    except (OSError, ValueError):
        previous = {}
    for name in served:
        entry = previous.get(name) if isinstance(previous, dict) else None
        if name in found or not isinstance(entry, dict) \
                or not model_layer_zip(out_dir, name).is_file():
            continue
        try:
            manifest = store.manifest(name, str(entry.get("version")))
        except ModelStoreError:
            continue
        if manifest.sha256 == entry.get("sha256"):
            found[name] = manifest
    return [found[name] for name in sorted(found)]


def write_layer_index(out_dir: Path, manifests: list[Manifest],
                      served: tuple[str, ...] | list[str] | None = None) -> Path:
    """``models.json``: what the template says about each model layer in ``out_dir``.

    A build of some models (``--models``) updates their entries and keeps the others whose
    zips are still there, so an unchanged layer keeps its description (and is not
    re-uploaded); an entry whose zip is gone, or whose model no longer has a function
    (``featherserve remove``), is dropped.
    """
    path = out_dir / LAYER_INDEX_FILE
    index: dict[str, dict[str, str]] = {}
    if path.is_file():
        try:
            index = {name: entry for name, entry in json.loads(path.read_text()).items()
                     if model_layer_zip(out_dir, name).is_file()
                     and (served is None or name in served)}
        except (ValueError, AttributeError):
            index = {}  # a damaged index is rebuilt from what this build knows
    for m in manifests:
        index[m.name] = {"version": m.version, "sha256": m.sha256,
                         "label": f"{m.name} v{m.version} sha256:{m.sha256[:12]}"}
    path.write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")
    return path
