"""Pooled models: one function serves many models of every kind, each loaded on first use
and kept in a memory-bounded LRU, each still versioned, verified and rolled back alone.

    handler = serve_pool()                     # HTTP: /models/{name}/predict, /models/{name}
    batch_handler = serve_pool_batch(handler)  # bulk: in/<model>/... from one shared queue

See docs/pool.md. The exports load on first use, as ``model_runtime``'s do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from model_runtime import lazy_exports

if TYPE_CHECKING:
    from model_runtime.pool.batch import serve_pool_batch
    from model_runtime.pool.entry import serve_pool
    from model_runtime.pool.pool import ModelPool
    from model_runtime.pool.pool_list import PoolEntry, PoolList
    from model_runtime.pool.settings import PoolSettings

__all__ = ["ModelPool", "PoolEntry", "PoolList", "PoolSettings", "serve_pool",
           "serve_pool_batch"]
__getattr__ = lazy_exports(__name__, {"serve_pool": "model_runtime.pool.entry",
                                      "serve_pool_batch": "model_runtime.pool.batch",
                                      "ModelPool": "model_runtime.pool.pool",
                                      "PoolEntry": "model_runtime.pool.pool_list",
                                      "PoolList": "model_runtime.pool.pool_list",
                                      "PoolSettings": "model_runtime.pool.settings"})
