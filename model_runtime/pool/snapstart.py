"""SnapStart for a pool: nothing model-specific in the snapshot, unless a warm set is named.

Before the snapshot, every loaded model is dropped except the warm set
(``FEATHERSERVE_POOL_WARM``), which is loaded then so each restored copy starts with it.
After a restore, the seeds are renewed as for a dedicated function, and every loaded
model's alias is read again on its next request: the snapshot may be days old.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from lambda_kit.errors import HttpError
from model_runtime.pool.pool import ModelPool
from model_runtime.snapstart import renew_process_seeds


def before_snapshot(pool: ModelPool) -> None:
    pool.clear()
    for name in pool.pool_settings.warm_names:
        with contextlib.suppress(HttpError):
            pool.service(name)
    pool.metrics.clear_metrics()
    pool.logger.info("before snapshot: pool ready", extra={"loaded": pool.loaded_names})


def after_restore(pool: ModelPool, on_restore: Callable[[], None] | None = None) -> None:
    renew_process_seeds()
    pool.expire_aliases()
    pool.metrics.clear_metrics()
    pool.logger.remove_keys(["function_request_id", "cold_start", "model"])
    if on_restore is not None:
        on_restore()
    pool.logger.info("after restore: seeds renewed, aliases due")


def register_pool_hooks(pool: ModelPool, on_restore: Callable[[], None] | None = None) -> bool:
    try:
        from snapshot_restore_py import register_after_restore, register_before_snapshot
    except ImportError:
        pool.logger.warning("SnapStart init without snapshot-restore-py: no hooks")
        return False
    register_before_snapshot(before_snapshot, pool)
    register_after_restore(after_restore, pool, on_restore)
    return True
