"""The pool's own errors; what a client sees of them goes through ``lambda_kit.errors``.

``PoolListError`` (the pool list shipped with the function is missing or not in the
documented shape: a deploy mistake, so the function's init fails loudly instead of answering
404s) is the pool list reader's, ``model_store.pool_list``: a ``ModelStoreError`` and a
``ValueError``.
"""

from __future__ import annotations

from model_store.pool_list import PoolListError

__all__ = ["PoolListError"]
