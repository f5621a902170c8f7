"""The pool list as the pool function reads it: which models it serves, and where each
one's store is (``FEATHERSERVE_POOL_MODELS_FILE``, default ``pool_models.json`` in the task
root). The format and its reader are ``model_store.pool_list`` (the web app and the tooling
read the same file with it); the runtime adds that every model must have a store: the list's
or the model's ``source``, else the function's model source.

A missing or malformed list raises ``PoolListError`` at init: the function fails loudly
instead of answering 404s. A manifest that contradicts a model's ``kind`` is a 503.
"""

from __future__ import annotations

from typing import Any, Self

from model_store import pool_list
from model_store.pool_list import KINDS, PoolEntry, PoolListError, check_kind

__all__ = ["KINDS", "PoolEntry", "PoolList", "PoolListError", "check_kind"]


class PoolList(pool_list.PoolList):
    """The list; reading it (``read``, ``from_document``) also requires each model's store."""

    @classmethod
    def from_document(cls, data: Any, where: str, default_source: str = "") -> Self:
        listed = super().from_document(data, where, default_source)
        for entry in listed:
            if not entry.source:
                raise PoolListError(f"{where}: model {entry.name!r} has no source (a store "
                                    "folder or s3://bucket/prefix), and the list names no "
                                    "default")
        return listed
