"""The web function's two layers, apart from the model functions' so their cold start
does not change:

- ``web.zip``: pyproject's ``web`` extra (werkzeug, serverless-wsgi; exact pins) from pip
  for python3.12 manylinux_2_28_x86_64, binary only, with CPython 3.12 bytecode when a 3.12
  is found; reused while the requirements and the interpreter are the same.
- ``web-catalog.zip``: what the pages show, without any model's bytes: each served model's
  manifest under ``models/<name>/<version>/`` (so /opt/models is the same store layout the
  handlers read), the latest benchmark (``featherserve-web/bench/results.json``, without
  the raw latencies) and the example rows (``featherserve-web/examples/<name>.json``).
  Pooled models (the project's pool list, ``handlers/pool_models.json``) are in it too: each
  one's manifest at the ref its pool serves (its store alias ``live``), with an alias table
  naming that version ``live`` so the web catalog reads it there as it would in the store
  (without a ``live`` alias in the store: the build's ``default_ref``, and no alias table).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from featherserve.layers.commands import CommandRunner, run_command
from featherserve.layers.exceptions import LayerBuildError
from featherserve.layers.interpreter import TargetInterpreter, compile_bytecode
from featherserve.layers.runtime_layer import (
    BUILD_LAYOUT_VERSION,
    LAYER_PYTHON_DIR,
    PROJECT_ROOT,
    PYPROJECT,
    RuntimeTarget,
    locked_requirements,
    pip_install_command,
)
from featherserve.layers.zipping import (
    BuiltLayer,
    LayerEntry,
    LayerSpec,
    entries_from_tree,
    write_layer_zip,
)
from model_store.aliases import ALIAS_PATTERN, AliasTable
from model_store.base import ALIASES_FILE, LATEST, MANIFEST_FILE, PROJECT_STORE, ModelStore
from model_store.exceptions import ModelStoreError, VersionNotFoundError
from model_store.local import LocalStore
from model_store.manifest import Manifest
from model_store.pool_list import POOL_ALIAS, PoolList, PoolListError

WEB_LAYER = "web"
WEB_CATALOG_LAYER = "web-catalog"
WEB_DIR = "featherserve-web"
BENCH_RESULTS = PROJECT_ROOT / "bench" / "results" / "results.json"
EXAMPLES_DIR = PROJECT_ROOT / "examples"
HANDLERS_DIR = PROJECT_ROOT / "handlers"
POOL_LIST_FILE = "pool_models.json"
_KEY_FILE = ".build-key"
# The project's own build: another output folder (a test's, a copy's) reuses its web layer
# when the requirements and interpreter are the same, instead of running pip again.
SHARED_BUILD = PROJECT_ROOT / "build" / "layers" / WEB_LAYER


def read_web_requirements(pyproject: Path = PYPROJECT) -> tuple[str, ...]:
    data = tomllib.loads(pyproject.read_text())
    found = data.get("project", {}).get("optional-dependencies", {}).get("web")
    if not found:
        raise LayerBuildError(f"{pyproject}: [project.optional-dependencies].web is missing")
    unpinned = [r for r in found if "==" not in r]
    if unpinned:
        raise LayerBuildError(f"the web layer needs exact pins (==), not {unpinned}")
    return tuple(found)


# Exact versions with sha256 of the `web` extra for Lambda's platform (`featherserve lock`).
WEB_LOCK = PROJECT_ROOT / "requirements" / "web.lock"


def build_web_layer(out_dir: Path, interpreter: TargetInterpreter | None, *,
                    requirements: Sequence[str] | None = None,
                    run: CommandRunner = run_command,
                    log: Callable[[str], None] = lambda _: None) -> BuiltLayer:
    locked = ""
    if requirements is None:
        requirements, locked = locked_requirements(WEB_LOCK), WEB_LOCK.read_text()
    requirements = tuple(requirements)
    target = RuntimeTarget()
    folder = out_dir / WEB_LAYER
    python_dir = folder / LAYER_PYTHON_DIR
    key = hashlib.sha256(json.dumps([requirements, locked, BUILD_LAYOUT_VERSION, target.__dict__,
                                     interpreter.version if interpreter else None]).encode()
                         ).hexdigest()
    key_file = folder / _KEY_FILE
    if not _built(folder, key) and folder.resolve() != SHARED_BUILD.resolve() \
            and _built(SHARED_BUILD, key):
        shutil.rmtree(folder, ignore_errors=True)
        shutil.copytree(SHARED_BUILD, folder, symlinks=True)
        log(f"web layer: reused {SHARED_BUILD}")
    if not _built(folder, key):
        shutil.rmtree(folder, ignore_errors=True)
        staging = folder / ".staging"
        command = pip_install_command(requirements, target, staging)
        log(f"web layer: {' '.join(command[1:])}")
        result = run(command, timeout=900)
        if not result.ok:
            raise LayerBuildError(f"pip install for the web layer failed:\n{result.output_tail()}")
        for junk in staging.glob("bin"):
            shutil.rmtree(junk)
        if interpreter is not None:
            compile_bytecode(interpreter, staging, run)
        else:
            log("web layer: no CPython 3.12 found: it ships WITHOUT bytecode")
        staging.rename(python_dir)
        key_file.write_text(key + "\n")
    entries = entries_from_tree(python_dir, LAYER_PYTHON_DIR)
    return write_layer_zip(LayerSpec(WEB_LAYER, out_dir / f"{WEB_LAYER}.zip", entries,
                                     "werkzeug and serverless-wsgi for python3.12"))


def _built(folder: Path, key: str) -> bool:
    key_file = folder / _KEY_FILE
    return key_file.is_file() and key_file.read_text().strip() == key \
        and (folder / LAYER_PYTHON_DIR).is_dir()


def trimmed_results(results: dict[str, Any]) -> dict[str, Any]:
    """The benchmark without its raw per-request latencies (megabytes the page never reads)."""
    warm = {model: {**data, "variants": {name: {k: v for k, v in variant.items()
                                                 if k != "latencies_us"}
                                          for name, variant in data.get("variants", {}).items()}}
            for model, data in (results.get("warm") or {}).items()}
    return {key: value for key, value in results.items() if key not in ("warm", "inference")} \
        | {"warm": warm}


@dataclass(frozen=True)
class PooledManifest:
    manifest: Manifest
    alias: str | None  # the store alias naming this version (the pool's ``live``), if any


def pooled_manifests(store: ModelStore, handlers_dir: Path = HANDLERS_DIR, *,
                     names: Sequence[str] | None = None,
                     default_ref: str = LATEST) -> list[PooledManifest]:
    """Each pooled model's manifest at the ref its pool serves (no ref in the list, or a
    missing alias: at ``default_ref``); a malformed pool list or a model the store lacks
    stops the build.
    ``names``: these models, at ``live``, instead of the pool list in ``handlers_dir``."""
    if names is not None:
        pooled: dict[str, str | None] = dict.fromkeys(names, POOL_ALIAS)
    else:
        try:
            listed = PoolList.read(handlers_dir / POOL_LIST_FILE, missing_ok=True)
        except PoolListError as exc:
            raise LayerBuildError(f"{exc}; it is written by `featherserve add NAME --pooled`") \
                from exc
        pooled = {entry.name: entry.ref for entry in listed}
    found: list[PooledManifest] = []
    for name in sorted(pooled):
        try:
            found.append(_pooled_manifest(store, name, pooled[name], default_ref))
        except ModelStoreError as exc:
            raise LayerBuildError(f"pooled model {name} (handlers/{POOL_LIST_FILE}): {exc}") \
                from exc
    return found


def _pooled_manifest(store: ModelStore, name: str, ref: str | None,
                     default_ref: str) -> PooledManifest:
    """At ``ref``; at ``default_ref`` when the list names no ref (its pool serves the stage's
    version) or the store has no such alias."""
    if ref is not None:
        try:
            return PooledManifest(store.manifest(name, ref), ref)
        except VersionNotFoundError:
            pass
    return PooledManifest(store.manifest(name, default_ref), None)


def build_web_catalog_layer(out_dir: Path, manifests: Sequence[Manifest], *,
                            bench_results: Path = BENCH_RESULTS,
                            examples_dir: Path = EXAMPLES_DIR,
                            store: ModelStore | None = None,
                            handlers_dir: Path = HANDLERS_DIR,
                            pooled: Sequence[str] | None = None,
                            default_ref: str = LATEST) -> BuiltLayer:
    """``manifests``: the dedicated models' (one per served function); the pooled models'
    (``pooled``, else the pool list in ``handlers_dir``) are read from ``store`` (None: the
    project's store), as their pool serves them."""
    found = [p for p in pooled_manifests(store or LocalStore(PROJECT_STORE), handlers_dir,
                                         names=pooled, default_ref=default_ref)
             if p.manifest.name not in {m.name for m in manifests}]
    entries = [LayerEntry(f"models/{m.name}/{m.version}/{MANIFEST_FILE}", data=m.to_json().encode())
               for m in manifests]
    for p in found:
        m = p.manifest
        entries.append(LayerEntry(f"models/{m.name}/{m.version}/{MANIFEST_FILE}",
                                  data=m.to_json().encode()))
        if p.alias is not None and ALIAS_PATTERN.fullmatch(p.alias) and p.alias != LATEST:
            table = AliasTable(targets={p.alias: m.version})
            entries.append(LayerEntry(f"models/{m.name}/{ALIASES_FILE}",
                                      data=table.to_json().encode()))
    manifests = [*manifests, *(p.manifest for p in found)]
    if bench_results.is_file():
        results = json.loads(bench_results.read_text())
        trimmed = json.dumps(trimmed_results(results), sort_keys=True).encode()
        entries.append(LayerEntry(f"{WEB_DIR}/bench/results.json", data=trimmed))
    for manifest in manifests:
        example = examples_dir / f"{manifest.name}.json"
        if example.is_file():
            entries.append(LayerEntry(f"{WEB_DIR}/examples/{manifest.name}.json",
                                      data=example.read_bytes()))
    return write_layer_zip(LayerSpec(WEB_CATALOG_LAYER, out_dir / f"{WEB_CATALOG_LAYER}.zip",
                                     tuple(entries), "manifests, benchmark and examples"))
