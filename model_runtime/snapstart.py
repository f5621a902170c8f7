"""SnapStart: what runs before Lambda snapshots an initialised function, and after a restore.

With SnapStart (``snapStart: true`` for a stage, see serverless.yml), Lambda runs the init
once per published version, snapshots the memory, and starts every new execution
environment from a copy of that snapshot. So:

- before the snapshot, everything a request needs is loaded and run once (model, session,
  a warm-up inference): the restored copies start warm;
- after each restore, what must not be shared between copies is renewed: random seeds
  (``random``, numpy's legacy global generator, ``tempfile``'s name sequence), request-scoped
  log keys and any metric buffered before the snapshot. ``uuid.uuid4`` and ``secrets`` read
  the OS's entropy on every call and need nothing. Then one warm-up pass touches again what
  a request uses (a restore maps the snapshot's memory back lazily, and its caches are
  cold): ~1–2 ms of billed restore time instead of a slower first request.

Hooks are registered with ``snapshot-restore-py`` (the runtime layer ships it), only when
Lambda says the init is a SnapStart one: other cold starts never import it.
"""

from __future__ import annotations

import os
import random
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from model_runtime.warmup import warm_up

if TYPE_CHECKING:
    from model_runtime.service import ModelService

# Set by Lambda during init: "on-demand", "provisioned-concurrency" or "snap-start".
INITIALIZATION_TYPE = "AWS_LAMBDA_INITIALIZATION_TYPE"
SNAP_START = "snap-start"
# Log keys that belong to one request; a restored copy must not start with the snapshot's.
REQUEST_KEYS = ("function_request_id", "cold_start")
Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def is_snap_start(environ: dict[str, str] | None = None) -> bool:
    return (os.environ if environ is None else environ).get(INITIALIZATION_TYPE) == SNAP_START


def before_snapshot(handler: Handler, service: ModelService) -> None:
    """Load the model if init could not, and run the sample requests once more."""
    statuses = warm_up(handler, service)
    service.logger.info("before snapshot: warmed up", extra={"statuses": statuses})


def after_restore(handler: Handler, service: ModelService,
                  on_restore: Callable[[], None] | None = None) -> None:
    """Renew what every restored copy must have of its own, then warm up once."""
    renew_process_seeds()
    warm_up(handler, service)  # clears the metrics and request keys it leaves
    service.metrics.clear_metrics()
    service.logger.remove_keys(list(REQUEST_KEYS))
    if on_restore is not None:
        on_restore()
    service.logger.info("after restore: seeds renewed, buffers cleared")


def renew_process_seeds() -> None:
    """Seeds every restored copy must not share (``random``, numpy's, ``tempfile``'s names)."""
    random.seed()  # from os.urandom
    numpy_random = sys.modules.get("numpy.random")
    if numpy_random is not None:
        numpy_random.seed()
    tempfile = sys.modules.get("tempfile")
    if tempfile is not None:
        tempfile._name_sequence = None  # type: ignore[attr-defined]  # re-seeded on next use


def register_snapshot_hooks(handler: Handler, service: ModelService,
                            on_restore: Callable[[], None] | None = None) -> bool:
    """Register both hooks with ``snapshot_restore_py``; False when it is not installed."""
    try:
        from snapshot_restore_py import register_after_restore, register_before_snapshot
    except ImportError:
        service.logger.warning("SnapStart init without snapshot-restore-py: no hooks")
        return False
    register_before_snapshot(before_snapshot, handler, service)
    register_after_restore(after_restore, handler, service, on_restore)
    return True
