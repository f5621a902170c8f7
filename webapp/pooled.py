"""The stage's pooled models, as the web app needs them: which names the pool function
serves, of which kind, at which store ref.

The list is the project's pool list (``handlers/pool_models.json``, written by
``featherserve add NAME --pooled``; docs/pool.md), shipped whole in the web function's zip
like every handler file. The model runtime has its own reader (``model_runtime.pool``);
the web app sits beside it, not above it, so this is a small reader of the same format::

    {"models": [{"name": "churn_eu", "kind": "tabular", "ref": "live"}, "churn_us", ...]}

(a top-level ``kind`` or ``ref`` is every entry's default; a bare string is a name). No file
means no pooled model; a malformed one raises ``PoolListError`` (the catalog logs it and
shows no pooled model rather than failing the page).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from model_store.manifest import NAME_PATTERN

KINDS = ("tabular", "image")
# The store alias a pooled model is served at (the project's list names it for each).
POOL_ALIAS = "live"


class PoolListError(ValueError):
    """The pool list exists but is not one."""


@dataclass(frozen=True)
class PooledModel:
    name: str
    kind: str
    ref: str = POOL_ALIAS  # the store ref the pool serves


def read_pool_list(path: Path | str) -> dict[str, PooledModel]:
    """Pooled name → model, from the list at ``path`` (empty when there is no file)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise PoolListError(f"cannot read the pool list {path}: {exc}") from exc
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise PoolListError(f"{path}: not JSON ({exc})") from exc
    return pool_list_from(data, str(path))


def pool_list_from(data: Any, where: str) -> dict[str, PooledModel]:
    if not isinstance(data, dict) or not isinstance(data.get("models"), list):
        raise PoolListError(f"{where}: expected an object with a 'models' list")
    kind, ref = _text(data, "kind", where, ""), _text(data, "ref", where, "") or POOL_ALIAS
    models: dict[str, PooledModel] = {}
    for item in data["models"]:
        entry = {"name": item} if isinstance(item, str) else item
        if not isinstance(entry, dict):
            raise PoolListError(f"{where}: each model is a name or an object with a 'name'")
        name = _text(entry, "name", where, "")
        if not NAME_PATTERN.fullmatch(name):
            raise PoolListError(f"{where}: {name[:80]!r} is not a model name")
        model = PooledModel(name, _text(entry, "kind", where, kind),
                            _text(entry, "ref", where, "") or ref)
        if model.kind not in KINDS:
            raise PoolListError(f"{where}: model {name!r} has kind {model.kind[:40]!r}, not "
                                f"one of {', '.join(KINDS)}")
        if name in models:
            raise PoolListError(f"{where}: model {name!r} is listed twice")
        models[name] = model
    return models


def _text(data: Mapping[str, Any], key: str, where: str, default: str) -> str:
    value = data.get(key, default)
    if not isinstance(value, str):
        raise PoolListError(f"{where}: {key!r} must be a string, got {type(value).__name__}")
    return value
