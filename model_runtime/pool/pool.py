"""``ModelPool``: many models behind one function, loaded on first use, kept in an LRU.

Per model it keeps what a dedicated function keeps for its one model (a ``ModelService``
with the loaded session, card and parsers), so both answer requests with the same code.
Around that:

- the LRU is bounded by an estimated memory budget (``memory.estimated_bytes``) and
  optionally by a count; the least recently used model goes first, never the one just
  loaded;
- a loaded model's alias is read again once it is older than the alias TTL: a promote or a
  rollback is served within the TTL, with no redeploy; a pinned version (a number in the
  pool list) is never read again;
- a model that fails to load (a sha256 mismatch, a missing file, a bad manifest, a store
  that does not answer) is 503 for that model alone, and is tried again after the TTL, not
  on every request. A loaded model whose new version fails keeps serving the version it has.
"""

from __future__ import annotations

import dataclasses
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from aws_lambda_powertools.metrics import single_metric

from lambda_kit.errors import NotFound, ServiceUnavailable
from model_runtime.model_loading import LoadedModel, PredictorFactory, onnx_predictor
from model_runtime.observability import Logger, Metrics, MetricUnit
from model_runtime.pool.memory import estimated_bytes
from model_runtime.pool.pool_list import PoolEntry, PoolList
from model_runtime.pool.settings import PoolSettings
from model_runtime.pool.stores import StoreFactory, open_version, runtime_store
from model_runtime.service import ModelService
from model_runtime.settings import Settings
from model_store.base import ModelStore
from model_store.exceptions import VersionNotFoundError
from model_store.manifest import VERSION_PATTERN, ImageSpec

Clock = Callable[[], float]


@dataclass
class _Loaded:
    service: ModelService
    version: str
    bytes: int
    checked_at: float


@dataclass
class PoolStats:
    hits: int = 0
    misses: int = 0
    evictions: int = 0
    failures: int = 0
    alias_reads: int = 0
    reloads: int = 0  # a new version loaded after an alias moved


@dataclass
class ModelPool:
    models: PoolList
    settings: Settings
    pool_settings: PoolSettings
    logger: Logger
    metrics: Metrics
    store_for: StoreFactory = runtime_store
    predictor_factory: PredictorFactory = onnx_predictor
    clock: Clock = time.monotonic
    stats: PoolStats = field(default_factory=PoolStats)
    _loaded: OrderedDict[str, _Loaded] = field(default_factory=OrderedDict)
    _failed_until: dict[str, float] = field(default_factory=dict)
    _stores: dict[str, ModelStore] = field(default_factory=dict)

    # -- what the handlers ask -------------------------------------------------------------
    def entry(self, name: str) -> PoolEntry:
        """The pool list's entry for ``name``; 404 for a name it does not list (nothing read)."""
        entry = self.models.get(name)
        if entry is None:
            raise NotFound(f"this stage serves no model {name!r}", code="model_not_found")
        return entry

    def service(self, name: str) -> ModelService:
        """``name``'s loaded service (loading it, or its new version, when due)."""
        entry = self.entry(name)
        now = self.clock()
        loaded = self._loaded.get(name)
        if loaded is not None:
            self._loaded.move_to_end(name)
            self.stats.hits += 1
            if self._due(entry, loaded, now):
                return self._refresh(entry, loaded, now)
            return loaded.service
        self.stats.misses += 1
        retry_at = self._failed_until.get(name)
        if retry_at is not None and now < retry_at:
            raise ServiceUnavailable(f"{name} failed to load; retried after the alias TTL")
        return self._load(entry, now, self._resolve(entry, now)).service

    @property
    def loaded_names(self) -> list[str]:
        """Loaded models, least recently used first."""
        return list(self._loaded)

    @property
    def loaded_bytes(self) -> int:
        return sum(e.bytes for e in self._loaded.values())

    def loaded_version(self, name: str) -> str | None:
        loaded = self._loaded.get(name)
        return None if loaded is None else loaded.version

    def clear(self) -> None:
        """Drop every loaded model and failure (before a SnapStart snapshot)."""
        self._loaded.clear()
        self._failed_until.clear()

    def expire_aliases(self) -> None:
        """Read every loaded model's alias again on its next request (after a restore: the
        snapshot's clock says nothing about how old the aliases are)."""
        for loaded in self._loaded.values():
            loaded.checked_at = float("-inf")
        self._failed_until.clear()

    # -- loading ---------------------------------------------------------------------------
    def _due(self, entry: PoolEntry, loaded: _Loaded, now: float) -> bool:
        if VERSION_PATTERN.fullmatch(self._ref(entry)):
            return False
        return now - loaded.checked_at >= self.pool_settings.alias_ttl_s

    def _refresh(self, entry: PoolEntry, loaded: _Loaded, now: float) -> ModelService:
        try:
            version = self._resolve(entry, now)
        except ServiceUnavailable:  # the store did not answer: keep serving what we have
            loaded.checked_at = now
            self._failed_until.pop(entry.name, None)
            return loaded.service
        if version == loaded.version:
            loaded.checked_at = now
            return loaded.service
        try:
            return self._load(entry, now, version).service
        except ServiceUnavailable:
            self.logger.warning("keeping the loaded version: the new one failed to load",
                                extra={"model": entry.name, "serving": loaded.version,
                                       "failed": version})
            loaded.checked_at = now
            self._failed_until.pop(entry.name, None)
            return loaded.service

    def _resolve(self, entry: PoolEntry, now: float) -> str:
        ref = self._ref(entry)
        if VERSION_PATTERN.fullmatch(ref):
            return ref
        self.stats.alias_reads += 1
        try:
            return self._store(entry.source).resolve(entry.name, ref)
        except Exception as exc:
            raise self._failed(entry, now, "resolve", ref, exc) from exc

    def _load(self, entry: PoolEntry, now: float, version: str) -> _Loaded:
        started = time.perf_counter()
        settings = dataclasses.replace(self.settings, model_source=entry.source,
                                       model_version=version)
        try:
            opened = open_version(self._store(entry.source), entry.name, version,
                                  Path(self.settings.model_cache))
            _check_kind(entry, opened.manifest.input)
            predictor = self.predictor_factory(opened, settings)
        except Exception as exc:
            raise self._failed(entry, now, "load", version, exc) from exc
        model = LoadedModel(manifest=opened.manifest, predictor=predictor, source=entry.source)
        service = ModelService(entry.name, settings, self.logger, self.metrics,
                               loader=lambda _name, _settings: model)
        service.ensure_loaded()  # builds the parser, card and result shaper (logs the load)
        previous = self._loaded.pop(entry.name, None)
        if previous is not None:
            self.stats.reloads += 1
        loaded = _Loaded(service, version, estimated_bytes(opened.manifest.bytes), now)
        self._loaded[entry.name] = loaded
        self._failed_until.pop(entry.name, None)
        self._evict(keep=entry.name)
        self.metrics.add_metric(name="PoolLoads", unit=MetricUnit.Count, value=1)
        self.logger.info("pool: model loaded", extra={
            "model": entry.name, "version": version, "estimated_bytes": loaded.bytes,
            "loaded_models": len(self._loaded), "loaded_bytes": self.loaded_bytes,
            "load_ms": round((time.perf_counter() - started) * 1000, 2)})
        return loaded

    def _evict(self, keep: str) -> None:
        limit = self.pool_settings.max_models
        while len(self._loaded) > 1 and (
                self.loaded_bytes > self.pool_settings.memory_bytes
                or (limit and len(self._loaded) > limit)):
            name = next(iter(self._loaded))
            if name == keep:  # only the newest is left over budget: it stays, alone
                break
            evicted = self._loaded.pop(name)
            self.stats.evictions += 1
            self.metrics.add_metric(name="PoolEvictions", unit=MetricUnit.Count, value=1)
            self.logger.info("pool: model evicted", extra={
                "model": name, "version": evicted.version, "estimated_bytes": evicted.bytes})

    def _failed(self, entry: PoolEntry, now: float, step: str, ref: str, exc: Exception
                ) -> ServiceUnavailable:
        """Log the details, remember to leave the model alone until the TTL, and answer 503."""
        self.stats.failures += 1
        self._failed_until[entry.name] = now + self.pool_settings.alias_ttl_s
        self._count_failure(entry.name)
        self.logger.exception(f"pool: model {step} failed", extra={
            "model": entry.name, "source": entry.source, "ref": ref,
            "retry_in_s": self.pool_settings.alias_ttl_s})
        if step == "resolve" and isinstance(exc, VersionNotFoundError):
            # Most often a pooled model's `live` alias that was never set in this store (a
            # version published to S3 carries no alias): say how to set it.
            self.logger.error(
                f"pool: {entry.name} has no alias {ref!r} in its store {entry.source}: run "
                f"`featherserve promote {entry.name} VERSION --store {entry.source}` (the "
                f"pool reads it again within {self.pool_settings.alias_ttl_s} s)",
                extra={"model": entry.name, "source": entry.source, "ref": ref})
        return ServiceUnavailable(f"could not {step} {entry.name}: {exc}")

    def _count_failure(self, name: str) -> None:
        """``PoolLoadFailures`` with the model's ``model`` dimension (the per-model alarms
        query it). In a request for ``name`` the route has set that dimension, so the metric
        rides on the request's own line; elsewhere (the warm set at init, a bulk message)
        the buffer's dimension is another model's or none, so the failure gets a line of its
        own rather than be booked to the wrong model."""
        if self.metrics.dimension_set.get("model") == name:
            self.metrics.add_metric(name="PoolLoadFailures", unit=MetricUnit.Count, value=1)
            return
        shared = {k: v for k, v in self.metrics.default_dimensions.items() if k != "model"}
        with single_metric(name="PoolLoadFailures", unit=MetricUnit.Count, value=1,
                           namespace=self.settings.metrics_namespace,
                           default_dimensions={**shared, "service": self.settings.service_name}
                           ) as metric:
            metric.add_dimension(name="model", value=name)

    def _ref(self, entry: PoolEntry) -> str:
        return entry.ref or self.settings.model_version

    def _store(self, source: str) -> ModelStore:
        store = self._stores.get(source)
        if store is None:
            store = self._stores[source] = self.store_for(source)
        return store


def _check_kind(entry: PoolEntry, spec: object) -> None:
    kind = "image" if isinstance(spec, ImageSpec) else "tabular"
    if kind != entry.kind:
        raise ValueError(f"the pool list says {entry.name} is a {entry.kind} model; its "
                         f"manifest says {kind}")
