"""Aliases with history: the version ``prod`` (``staging``, ...) names, and what it named before.

Both stores keep one ``aliases.json`` per model::

    {"aliases": {"prod": "3"}, "history": {"prod": ["1", "2"]}}

``history`` lists earlier targets, oldest first; ``rollback`` pops the last one. Stores
written before history existed hold the flat form ``{"prod": "3"}``, which is still read.
``latest`` is never stored: a store derives it from the highest published version.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from model_store.base import LATEST, PROD

__all__ = ["ALIAS_PATTERN", "PROD", "AliasError", "AliasTable", "check_alias_name", "resolve_ref"]
from model_store.exceptions import ModelStoreError, VersionNotFoundError
from model_store.manifest import VERSION_PATTERN

ALIAS_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{0,62}\Z")
# Enough to walk back through a long run of bad releases, small enough to read at a glance.
HISTORY_LIMIT = 50


class AliasError(ModelStoreError):
    """An alias cannot be set or rolled back (bad name, ``latest``, no earlier version)."""


def check_alias_name(alias: str) -> None:
    if alias == LATEST:
        raise AliasError("'latest' always names the newest version; it cannot be moved")
    if not ALIAS_PATTERN.fullmatch(alias) or VERSION_PATTERN.fullmatch(alias):
        raise AliasError(f"alias {alias!r} must be a lower-case word, not a number")


@dataclass(frozen=True)
class AliasTable:
    """A model's stored aliases (never ``latest``) and each alias's earlier targets."""

    targets: Mapping[str, str] = field(default_factory=dict)
    history: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    # -- reading and writing ---------------------------------------------------------------
    @classmethod
    def from_json(cls, raw: str | bytes, where: str) -> AliasTable:
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ModelStoreError(f"{where}: aliases file is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise ModelStoreError(f"{where}: aliases file is not a JSON object")
        if isinstance(data.get("aliases"), dict):
            targets, history = data["aliases"], data.get("history", {})
        else:  # the flat form of older stores
            targets, history = data, {}
        if not isinstance(history, dict):
            raise ModelStoreError(f"{where}: 'history' must be an object of lists")
        return cls(targets={_alias(k, where): _version(v, where) for k, v in targets.items()
                            if k != LATEST},
                   history={str(k): tuple(_version(v, where) for v in _list(vs, where))
                            for k, vs in history.items() if vs})

    def to_json(self) -> str:
        data: dict[str, Any] = {
            "aliases": dict(sorted(self.targets.items())),
            "history": {k: list(v) for k, v in sorted(self.history.items()) if v},
        }
        return json.dumps(data, indent=2) + "\n"

    def with_latest(self, latest: str) -> dict[str, str]:
        """Every alias a client can ask for, ``latest`` included."""
        return {**self.targets, LATEST: latest}

    # -- changes (each returns a new table) ------------------------------------------------
    def moved(self, alias: str, version: str) -> AliasTable:
        """``alias`` now names ``version``; its previous target goes on its history."""
        check_alias_name(alias)
        previous = self.targets.get(alias)
        if previous == version:
            return self
        history = dict(self.history)
        if previous is not None:
            history[alias] = (*history.get(alias, ()), previous)[-HISTORY_LIMIT:]
        return AliasTable(targets={**self.targets, alias: version}, history=history)

    def rolled_back(self, model: str, alias: str) -> AliasTable:
        """``alias`` names its previous target again, which leaves its history."""
        check_alias_name(alias)
        if alias not in self.targets:
            known = ", ".join(sorted(self.targets)) or "none"
            raise AliasError(f"model {model!r} has no alias {alias!r} to roll back "
                             f"(aliases: {known})")
        earlier = self.history.get(alias, ())
        if not earlier:
            raise AliasError(
                f"alias {alias!r} of model {model!r} names version {self.targets[alias]} and "
                "has no earlier version to roll back to; promote a version explicitly")
        history = {**self.history, alias: earlier[:-1]}
        return AliasTable(targets={**self.targets, alias: earlier[-1]}, history=history)


def resolve_ref(model: str, ref: str, versions: Sequence[str],
                read_table: Callable[[], AliasTable]) -> str:
    """The version ``ref`` names among ``versions`` (non-empty, ascending)."""
    if VERSION_PATTERN.fullmatch(ref):
        if ref not in versions:
            raise VersionNotFoundError(
                f"model {model!r} has no version {ref}; versions: {', '.join(versions)}")
        return ref
    aliases = read_table().with_latest(versions[-1])
    if ref not in aliases:
        raise VersionNotFoundError(
            f"model {model!r} has no alias {ref!r}; aliases: {', '.join(sorted(aliases))}")
    if aliases[ref] not in versions:
        raise VersionNotFoundError(
            f"alias {ref!r} of model {model!r} names version {aliases[ref]}, which is not in "
            f"the store; versions: {', '.join(versions)}")
    return aliases[ref]


def _alias(value: Any, where: str) -> str:
    text = str(value)
    if not ALIAS_PATTERN.fullmatch(text):
        raise ModelStoreError(f"{where}: {text[:80]!r} is not an alias name")
    return text


def _version(value: Any, where: str) -> str:
    text = str(value)
    if not VERSION_PATTERN.fullmatch(text):
        raise ModelStoreError(f"{where}: {text[:80]!r} is not a version number")
    return text


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise ModelStoreError(f"{where}: alias history must be lists of versions")
    return value
