"""The stage's pooled models, as the web app needs them: which names the pool function
serves, of which kind, at which store ref.

The list is the project's pool list (``handlers/pool_models.json``, written by
``featherserve add NAME --pooled``; docs/pool.md), shipped whole in the web function's zip
like every handler file, and read by the same reader as the pool function's
(``model_store.pool_list``). No file means no pooled model; a malformed one raises
``PoolListError`` (the catalog logs it and shows no pooled model rather than failing the
page). A model whose entry names no ``ref`` is served at the stage's version, as its pool
serves it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from model_store.pool_list import KINDS, POOL_ALIAS, PoolList, PoolListError
from model_store.pool_list import PoolEntry as PooledModel

__all__ = ["KINDS", "POOL_ALIAS", "PoolListError", "PooledModel", "pool_list_from",
           "read_pool_list"]


def read_pool_list(path: Path | str) -> dict[str, PooledModel]:
    """Pooled name → model, from the list at ``path`` (empty when there is no file)."""
    return dict(PoolList.read(path, missing_ok=True).entries)


def pool_list_from(data: Any, where: str) -> dict[str, PooledModel]:
    """Pooled name → model, from a parsed list (``where`` names it in errors)."""
    return dict(PoolList.from_document(data, where).entries)
