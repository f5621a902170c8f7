"""The pool list: which models a pool function serves, and where each one's store is.

A JSON file shipped with the function (``FEATHERSERVE_POOL_MODELS_FILE``, default
``pool_models.json`` in the task root)::

    {"source": "s3://bucket/models", "ref": "latest",
     "models": [{"name": "churn_eu", "kind": "tabular"},
                {"name": "churn_us", "kind": "tabular", "ref": "prod"},
                {"name": "sketches", "kind": "image", "source": "/opt/models"}]}

``source`` and ``ref`` at the top are the defaults each model may override; a model's
``kind`` ("tabular" or "image") says how the pool function answers it (one function serves
both kinds; a manifest that contradicts the kind is a 503). ``ref`` is an alias (read again
after the alias TTL) or a version number (pinned).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from model_runtime.pool.exceptions import PoolListError
from model_store.manifest import NAME_PATTERN

KINDS = ("tabular", "image")


@dataclass(frozen=True)
class PoolEntry:
    name: str
    kind: str
    source: str
    ref: str | None = None  # None: the function's FEATHERSERVE_MODEL_VERSION


@dataclass(frozen=True)
class PoolList:
    entries: Mapping[str, PoolEntry]

    def __contains__(self, name: object) -> bool:
        return name in self.entries

    def __iter__(self) -> Iterator[PoolEntry]:
        return iter(self.entries.values())

    def __len__(self) -> int:
        return len(self.entries)

    def get(self, name: str) -> PoolEntry | None:
        return self.entries.get(name)

    def of_kind(self, kind: str) -> PoolList:
        check_kind(kind)
        return PoolList({e.name: e for e in self if e.kind == kind})

    @classmethod
    def from_document(cls, data: Any, where: str, default_source: str = "") -> PoolList:
        if not isinstance(data, dict) or not isinstance(data.get("models"), list):
            raise PoolListError(f"{where}: expected an object with a 'models' list")
        source = _text(data, "source", where, "") or default_source
        ref = _text(data, "ref", where, "") or None
        kind = _text(data, "kind", where, "")
        entries: dict[str, PoolEntry] = {}
        for item in data["models"]:
            entry = _entry(item, where, source, ref, kind)
            if entry.name in entries:
                raise PoolListError(f"{where}: model {entry.name!r} is listed twice")
            entries[entry.name] = entry
        return cls(entries)

    @classmethod
    def read(cls, path: Path, default_source: str = "") -> PoolList:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise PoolListError(f"cannot read the pool list {path}: {exc}") from exc
        return cls.from_document(data, str(path), default_source)


def check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise PoolListError(f"a pooled model's kind is one of {', '.join(KINDS)}; "
                            f"got {kind!r}")


def _entry(item: Any, where: str, source: str, ref: str | None, kind: str) -> PoolEntry:
    if isinstance(item, str):
        item = {"name": item}
    if not isinstance(item, dict):
        raise PoolListError(f"{where}: each model is a name or an object with a 'name'")
    name = _text(item, "name", where, "")
    if not NAME_PATTERN.fullmatch(name):
        raise PoolListError(f"{where}: {name[:80]!r} is not a model name")
    entry = PoolEntry(name=name, kind=_text(item, "kind", where, kind),
                      source=_text(item, "source", where, source),
                      ref=_text(item, "ref", where, "") or ref)
    check_kind(entry.kind)
    if not entry.source:
        raise PoolListError(f"{where}: model {name!r} has no source (a store folder or "
                            "s3://bucket/prefix), and the list names no default")
    return entry


def _text(data: Mapping[str, Any], key: str, where: str, default: str) -> str:
    value = data.get(key, default)
    if not isinstance(value, str):
        raise PoolListError(f"{where}: {key!r} must be a string, got {type(value).__name__}")
    return value
