"""The pool list: which models a pool function serves, of which kind, from which store and ref
(issue 19, docs/pool.md). The one reader of the format, for the model runtime, the web app
and the tooling (each imports it from here, the lowest package all of them may import)::

    {"source": "s3://bucket/models", "ref": "latest", "kind": "tabular",
     "models": [{"name": "churn_eu", "kind": "tabular", "ref": "live"},
                {"name": "sketches", "kind": "image", "source": "/opt/models"},
                "churn_us"]}

``source``, ``ref`` and ``kind`` at the top are the defaults each model may override; a bare
string is a name with every default. A model's ``kind`` ("tabular" or "image") says how the
pool function answers it. ``ref`` is a store alias (the project's list names ``live`` for
each model) or a version; none means the function's ``FEATHERSERVE_MODEL_VERSION``. An
entry's ``source`` is "" when neither it nor the list names one (the runtime then needs the
function's model source).

A list that is not in this shape raises ``PoolListError``: a ``ModelStoreError`` (the
tooling's callers catch those) and a ``ValueError`` (as a settings error is).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from model_store.exceptions import ModelStoreError
from model_store.manifest import NAME_PATTERN

KINDS = ("tabular", "image")
# The store alias the project's list names for every pooled model (`featherserve add NAME
# --pooled` writes it; promote/rollback move it), as a dedicated function has a Lambda alias.
POOL_ALIAS = "live"


class PoolListError(ModelStoreError, ValueError):
    """The pool list is missing, unreadable or not in the documented shape."""


@dataclass(frozen=True)
class PoolEntry:
    name: str
    kind: str
    source: str = ""  # "": the list names none (the function's model source)
    ref: str | None = None  # None: the function's FEATHERSERVE_MODEL_VERSION


@dataclass(frozen=True)
class PoolList:
    entries: Mapping[str, PoolEntry]  # by name, in the list's order

    def __contains__(self, name: object) -> bool:
        return name in self.entries

    def __iter__(self) -> Iterator[PoolEntry]:
        return iter(self.entries.values())

    def __len__(self) -> int:
        return len(self.entries)

    def get(self, name: str) -> PoolEntry | None:
        return self.entries.get(name)

    def of_kind(self, kind: str) -> Self:
        check_kind(kind)
        return type(self)({e.name: e for e in self if e.kind == kind})

    @classmethod
    def from_document(cls, data: Any, where: str, default_source: str = "") -> Self:
        """The list in ``data`` (parsed JSON); ``where`` names it in errors."""
        if not isinstance(data, dict) or not isinstance(data.get("models"), list):
            raise PoolListError(f"{where}: expected an object with a 'models' list")
        defaults = PoolEntry(name="", kind=_text(data, "kind", where, ""),
                             source=_text(data, "source", where, "") or default_source,
                             ref=_text(data, "ref", where, "") or None)
        entries: dict[str, PoolEntry] = {}
        for item in data["models"]:
            entry = _entry(item, where, defaults)
            if entry.name in entries:
                raise PoolListError(f"{where}: model {entry.name!r} is listed twice")
            entries[entry.name] = entry
        return cls(entries)

    @classmethod
    def read(cls, path: Path | str, default_source: str = "", *,
             missing_ok: bool = False) -> Self:
        """The list in the file at ``path``. No file: an error (a pool function's init
        fails), or with ``missing_ok`` an empty list (no model is pooled)."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError as exc:
            if missing_ok:
                return cls({})
            raise PoolListError(f"cannot read the pool list {path}: {exc}") from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise PoolListError(f"cannot read the pool list {path}: {exc}") from exc
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise PoolListError(f"the pool list {path} is not JSON ({exc})") from exc
        return cls.from_document(data, str(path), default_source)


def check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise PoolListError(f"a pooled model's kind is one of {', '.join(KINDS)}; "
                            f"got {kind[:40]!r}")


def _entry(item: Any, where: str, defaults: PoolEntry) -> PoolEntry:
    if isinstance(item, str):
        item = {"name": item}
    if not isinstance(item, dict):
        raise PoolListError(f"{where}: each model is a name or an object with a 'name'")
    name = _text(item, "name", where, "")
    if not NAME_PATTERN.fullmatch(name):
        raise PoolListError(f"{where}: {name[:80]!r} is not a model name")
    # An empty string names nothing: the list's default holds.
    entry = PoolEntry(name=name, kind=_text(item, "kind", where, "") or defaults.kind,
                      source=_text(item, "source", where, "") or defaults.source,
                      ref=_text(item, "ref", where, "") or defaults.ref)
    if entry.kind not in KINDS:
        raise PoolListError(f"{where}: model {name!r} has kind {entry.kind[:40]!r}, not one "
                            f"of {', '.join(KINDS)}")
    return entry


def _text(data: Mapping[str, Any], key: str, where: str, default: str) -> str:
    value = data.get(key, default)
    if not isinstance(value, str):
        raise PoolListError(f"{where}: {key!r} must be a string, got {type(value).__name__}")
    return value
