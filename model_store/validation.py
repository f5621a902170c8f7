"""Frozen values built from JSON field by field, every error naming the field at fault.

Shared by the manifest and its input specs: ``require`` for a rule, ``build`` for a
dataclass from a JSON object (unknown fields refused), ``jsonable`` for the way back.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from model_store.exceptions import ManifestError


def require(condition: bool, where: str, message: str) -> None:
    if not condition:
        raise ManifestError(f"{where}: {message}")


def as_mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ManifestError(f"{where}: must be an object")
    return value


def build(cls: type[Any], data: Mapping[str, Any], where: str,
          tuples: tuple[str, ...] = ()) -> Any:
    """``cls(**data)``; the fields named in ``tuples`` arrive as JSON lists."""
    data = as_mapping(data, where)
    known = {f.name for f in fields(cls)}
    unknown = set(data) - known
    if unknown:
        raise ManifestError(f"{where}: unknown fields {sorted(unknown)}")
    values = {k: (tuple(v) if k in tuples else v) for k, v in data.items()}
    try:
        return cls(**values)
    except TypeError as exc:
        raise ManifestError(f"{where}: {exc}") from exc


def jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        raise ManifestError("manifest values must be finite numbers")
    return value
