"""``serve_pool_batch``: one bulk queue for every pooled model of the stage.

The model comes from the object's key, ``in/<model>/...``; the file is then scored by the
bulk path of ``model_runtime.batch`` with that model's service from the pool (the same
loaded session the HTTP function would use). A key naming a model the pool list does not
hold is refused for good (logged, counted, never retried): no store is read for it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lambda_kit.context import LambdaHandler
from model_runtime.batch.entry import BulkScorer
from model_runtime.batch.s3_events import CreatedObject
from model_runtime.batch.scoring import Deadline
from model_runtime.batch.settings import INPUT_PREFIX, BatchSettings
from model_runtime.observability import MetricUnit
from model_runtime.pool.entry import build_pool, pool_of
from model_runtime.pool.pool import ModelPool
from model_store.s3.client import S3Client


def key_model(key: str) -> str | None:
    """The model an input key names: ``in/<model>/<rest>`` → ``<model>`` (else None)."""
    if not key.startswith(INPUT_PREFIX):
        return None
    model, slash, rest = key[len(INPUT_PREFIX):].partition("/")
    return model if model and slash and rest else None


def serve_pool_batch(pool: str | Callable[..., Any] | None = None, *,
                     batch_settings: BatchSettings | None = None, s3: S3Client | None = None,
                     **options: Any) -> LambdaHandler:
    """The pool's bulk handler: given a ``serve_pool`` handler, it shares that pool; given
    nothing (or a kind), it builds its own pool with ``options`` as ``build_pool`` takes them."""
    if pool is None or isinstance(pool, str):
        model_pool = build_pool(pool, **options)
    else:
        found = pool_of(pool)
        if found is None:
            raise TypeError("serve_pool_batch takes a handler from serve_pool, a kind or nothing")
        model_pool = found
    return PoolBulkScorer(model_pool, batch_settings or BatchSettings.from_env(), s3).handle


class PoolBulkScorer(BulkScorer):
    """``BulkScorer`` whose model is chosen per object, from its key: ``handle`` and
    ``_message`` are the base's; ``_object`` scores each file with a one-model scorer."""

    def __init__(self, pool: ModelPool, settings: BatchSettings,
                 s3: S3Client | None = None) -> None:
        self.pool = pool
        self.settings = settings
        self.logger = pool.logger
        self.metrics = pool.metrics
        self._s3 = s3

    def _object(self, obj: CreatedObject, message_id: str, deadline: Deadline, budget: float,
                request_id: str) -> None:
        name = key_model(obj.key)
        where = {"message_id": message_id, "input": obj.uri}
        if name is None or name not in self.pool.models:
            self.logger.warning("refused: the key names no model this pool serves",
                                extra={**where, "model": (name or "")[:80]})
            self.metrics.add_metric(name="FilesRefused", unit=MetricUnit.Count, value=1)
            return
        service = self.pool.service(name)  # ServiceUnavailable: SQS retries the message
        scorer = BulkScorer(service, self.settings, self.client())
        scorer._object(obj, message_id, deadline, budget, request_id)
