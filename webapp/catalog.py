"""What the pages show about each model: its manifest, benchmark numbers, an example row.

The catalog reads manifests only (never a model's bytes), from the same store the model
functions read: ``models/`` locally; deployed, the web catalog layer's copy under
/opt/models (or the S3 store when ``modelSource`` is one). Reads are cached briefly so a
page view costs no store round trip, yet a newly published model shows up within a minute.

A pooled model (named in the stage's pool list, ``webapp.pooled``) is listed like any other
and marked ``pooled``: its manifest is read at the ref the pool serves (its store alias
``live``), or at the stage's model version when the store has no such alias for it.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from model_store.base import ModelStore
from model_store.exceptions import ModelStoreError, VersionNotFoundError
from model_store.manifest import ImageSpec, Manifest, TabularSpec
from model_store.stores import open_store
from webapp.bench import BenchNumbers, load_results, numbers_for
from webapp.errors import NotFound
from webapp.pooled import PooledModel, PoolListError, read_pool_list
from webapp.settings import WebSettings

LOG = logging.getLogger("featherserve.web")
CACHE_SECONDS = 60.0

StoreOpener = Callable[[str], ModelStore]


@dataclass(frozen=True)
class CatalogEntry:
    manifest: Manifest
    bench: BenchNumbers | None
    # Tabular models: one real row (manifest order) from examples/<name>.json, if any.
    example_row: tuple[float | str | None, ...] | None
    # Served by the stage's pool function (docs/pool.md), not a function of its own.
    pooled: bool = False

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def is_image(self) -> bool:
        return isinstance(self.manifest.input, ImageSpec)


@dataclass(frozen=True)
class CatalogSnapshot:
    entries: tuple[CatalogEntry, ...]
    # Models whose manifest could not be read: listed by name, never by error text.
    unreadable: tuple[str, ...]


class Catalog:
    def __init__(self, settings: WebSettings, store_opener: StoreOpener = open_store,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self._open_store = store_opener
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: tuple[float, CatalogSnapshot] | None = None

    def snapshot(self) -> CatalogSnapshot:
        with self._lock:
            now = self._clock()
            if self._cached is None or now - self._cached[0] > CACHE_SECONDS:
                self._cached = (now, self._read())
            return self._cached[1]

    def entry(self, name: str) -> CatalogEntry:
        for entry in self.snapshot().entries:
            if entry.name == name:
                return entry
        raise NotFound(f"no model named {name!r} in the catalog", code="model_not_found")

    def _read(self) -> CatalogSnapshot:
        store = self._open_store(self.settings.model_source)
        results = load_results(self.settings.bench_results)
        pooled = self._pooled()
        entries: list[CatalogEntry] = []
        unreadable: list[str] = []
        try:
            names = store.names()
        except ModelStoreError:
            LOG.exception("cannot list the model store %s", self.settings.model_source)
            names = []
        for name in sorted(set(names) | set(pooled)):
            try:
                manifest = self._manifest(store, name, pooled.get(name))
            except ModelStoreError:
                LOG.exception("cannot read the manifest of %s", name)
                unreadable.append(name)
                continue
            bench = numbers_for(results, name, manifest.sha256, self.settings.model_memory_mb)
            entries.append(CatalogEntry(manifest, bench, self._example_row(manifest),
                                        pooled=name in pooled))
        return CatalogSnapshot(tuple(entries), tuple(unreadable))

    def _pooled(self) -> dict[str, PooledModel]:
        try:
            return read_pool_list(self.settings.pool_models_file)
        except PoolListError:
            LOG.exception("the pool list is malformed: no model is shown as pooled")
            return {}

    def _manifest(self, store: ModelStore, name: str, pooled: PooledModel | None) -> Manifest:
        """A dedicated model's manifest at the stage's version; a pooled one's at the ref
        its pool serves (``live``), else (no such alias, or the list names no ref) at the
        stage's version."""
        ref = pooled.ref if pooled is not None else None
        if ref is not None and ref != self.settings.model_version:
            try:
                return store.manifest(name, ref)
            except VersionNotFoundError:
                LOG.warning("pooled model %s has no %r in %s (its pool answers 503 until "
                            "`featherserve promote %s VERSION`); showing %s", name, ref,
                            self.settings.model_source, name, self.settings.model_version)
        return store.manifest(name, self.settings.model_version)

    def _example_row(self, manifest: Manifest) -> tuple[float | str | None, ...] | None:
        if not isinstance(manifest.input, TabularSpec):
            return None
        path = Path(self.settings.examples_dir) / f"{manifest.name}.json"
        try:
            body = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return example_row(body, manifest.input)


def example_row(body: Any, spec: TabularSpec) -> tuple[float | str | None, ...] | None:
    """The first instance of a request body, in manifest order (None if it does not fit)."""
    instances = body.get("instances") if isinstance(body, dict) else None
    if not isinstance(instances, list) or not instances:
        return None
    first = instances[0]
    names = spec.feature_names
    values: Sequence[Any]
    if isinstance(first, dict):
        if set(first) != set(names):
            return None
        values = [first[n] for n in names]
    elif isinstance(first, list) and len(first) == len(names):
        values = first
    else:
        return None
    row: list[float | str | None] = []
    for feature, value in zip(spec.features, values, strict=True):
        if value is None and feature.allow_missing:
            row.append(None)
        elif feature.kind == "category" and isinstance(value, str):
            row.append(value)
        elif feature.kind != "category" and isinstance(value, int | float) \
                and not isinstance(value, bool):
            row.append(float(value))
        else:
            return None
    return tuple(row)
