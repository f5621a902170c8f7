"""Many tiny models for the pool tests: a store of them, the pool list naming them, a store
that counts its reads, a clock the test moves, and API Gateway events for any model."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from featherserve.support.events import load_event, with_body, with_route
from model_store.base import LATEST, VerifiedModel
from model_store.local import LocalStore
from model_store.manifest import Manifest
from tests.support.tiny_models import TINY_FEATURES, publish_tiny_tabular

EVENT_FORMATS = ("v1", "v2")
T = TypeVar("T")


def model_names(count: int) -> list[str]:
    return [f"pooled_{i:03d}" for i in range(count)]


def publish_many(root: Path, count: int, *, seed: int = 0) -> dict[str, list[Manifest]]:
    """``count`` tiny tabular models with their own weights, some with two or three versions."""
    rng = np.random.default_rng(seed)
    published: dict[str, list[Manifest]] = {}
    for i, name in enumerate(model_names(count)):
        published[name] = [publish_tiny_tabular(root, name, rng.normal(size=(3, 2)))
                           for _ in range(1 + i % 3)]
    return published


def write_pool_list(path: Path, names: list[str], source: str, *, kind: str = "tabular",
                    ref: str | None = None, extra: list[dict[str, Any]] | None = None) -> Path:
    document: dict[str, Any] = {"source": source, "kind": kind,
                                "models": [*names, *(extra or [])]}
    if ref is not None:
        document["ref"] = ref
    path.write_text(json.dumps(document))
    return path


class CountingStore(LocalStore):
    """A ``LocalStore`` that counts the reads a pool makes of it (not the store's own calls
    inside one read: ``open`` resolving its ref is one read)."""

    def __init__(self, root: Path | str) -> None:
        super().__init__(root)
        self.reads: list[tuple[str, str]] = []
        self._depth = 0

    def _read(self, kind: str, name: str, read: Callable[[], T]) -> T:
        if self._depth == 0:
            self.reads.append((kind, name))
        self._depth += 1
        try:
            return read()
        finally:
            self._depth -= 1

    def names(self) -> list[str]:
        return self._read("names", "", lambda: LocalStore.names(self))

    def versions(self, name: str) -> list[str]:
        return self._read("versions", name, lambda: LocalStore.versions(self, name))

    def aliases(self, name: str) -> dict[str, str]:
        return self._read("aliases", name, lambda: LocalStore.aliases(self, name))

    def resolve(self, name: str, ref: str = LATEST) -> str:
        return self._read("resolve", name, lambda: LocalStore.resolve(self, name, ref))

    def manifest(self, name: str, ref: str = LATEST) -> Manifest:
        return self._read("manifest", name, lambda: LocalStore.manifest(self, name, ref))

    def open(self, name: str, ref: str = LATEST) -> VerifiedModel:
        return self._read("open", name, lambda: LocalStore.open(self, name, ref))

    def count(self, kind: str) -> int:
        return sum(1 for k, _ in self.reads if k == kind)


class ManualClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def build_pool_layer(store_root: Path, names: list[str], out: Path) -> Path:
    """The packed pool-models layer of ``names`` (their ``live`` versions), as `featherserve
    layers` writes it into ``out``."""
    from featherserve.layers.model_layer import write_model_layers
    from featherserve.layers.pool_layer import plan_pool_layer

    (layer,) = write_model_layers([plan_pool_layer(LocalStore(store_root), names, out)])
    return layer.zip_path


def predict_event(name: str, instances: list[Any], form: str = "v1",
                  query: dict[str, str] | None = None) -> dict[str, Any]:
    """A real API Gateway predict event (REST v1 or HTTP API v2) re-aimed at ``name``."""
    event = load_event(f"breast_cancer_predict_{form}")
    event = with_route(event, "POST", f"/models/{name}/predict", query)
    event["pathParameters"] = {"name": name}
    return with_body(event, json.dumps({"instances": instances}),
                     content_type="application/json")


def card_event(name: str, form: str = "v1", method: str = "GET",
               path: str | None = None) -> dict[str, Any]:
    event = load_event(f"breast_cancer_card_{form}")
    event = with_route(event, method, path or f"/models/{name}")
    event["pathParameters"] = {"name": name}
    return event


def row(values: list[float]) -> dict[str, float]:
    return dict(zip(TINY_FEATURES, values, strict=True))
