"""A model's bulk handler: SQS messages of S3 notifications → scored files.

Each message names objects under ``in/<model>/``; each is scored to
``out/<model>/<same key>.predictions.jsonl`` and ``....summary.json`` (the summary last, so
its presence means the predictions are complete). Powertools' batch utility reports each
failed message (``ReportBatchItemFailures``): SQS retries only those, then moves them to the
dead-letter queue. A refused file is not a failure: its summary says why.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any, cast

from lambda_kit.context import LambdaContext, LambdaHandler
from lambda_kit.errors import BadRequest, ServiceUnavailable, error_document
from model_runtime.batch.exceptions import BatchError, OutOfTime
from model_runtime.batch.job import (
    Outcome,
    out_of_time,
    refusal_for_key,
    score_file,
    summary_document,
)
from model_runtime.batch.s3_events import CreatedObject, created_objects
from model_runtime.batch.s3_io import (
    S3AtomicWriter,
    delete_object,
    open_object,
    put_json,
    s3_client,
)
from model_runtime.batch.scoring import Deadline, ScoringModel
from model_runtime.batch.settings import (
    MAX_KEY_BYTES,
    BatchSettings,
    key_bytes,
    long_key_summary_key,
    output_keys,
)
from model_runtime.lambda_entry import service_of
from model_runtime.model_loading import load_model
from model_runtime.observability import MetricUnit, build_logger, build_metrics
from model_runtime.service import ModelLoader, ModelService
from model_runtime.settings import Settings
from model_store.s3.client import S3Client

# A file that starts with at least this share of the invocation's time had a fair chance;
# running out then means it is too large. Started later, it is retried in a fresh one.
_FAIR_SHARE = 0.9


def build_batch_handler(model: str | Callable[..., Any], *, settings: Settings | None = None,
                        batch_settings: BatchSettings | None = None,
                        loader: ModelLoader = load_model, s3: S3Client | None = None
                        ) -> LambdaHandler:
    """The bulk handler for a model name (loaded now), or for a ``serve_model`` handler
    (sharing its loaded model: one session per process)."""
    service = service_of(model) if callable(model) else None
    if service is None:
        if not isinstance(model, str):
            raise TypeError("serve_batch takes a model name or a handler from serve_model")
        settings = settings or Settings.from_env()
        service = ModelService(model, settings, build_logger(settings, model),
                               build_metrics(settings, model), loader)
        with contextlib.suppress(ServiceUnavailable):  # logged; retried per message
            service.ensure_loaded()
    return BulkScorer(service, batch_settings or BatchSettings.from_env(), s3).handle


class BulkScorer:
    def __init__(self, service: ModelService, settings: BatchSettings,
                 s3: S3Client | None = None) -> None:
        self.service = service
        self.settings = settings
        self.logger = service.logger
        self.metrics = service.metrics
        self._s3 = s3

    def client(self) -> S3Client:
        if self._s3 is None:
            self._s3 = s3_client()
        return self._s3

    def handle(self, event: dict[str, Any], context: LambdaContext | None) -> dict[str, Any]:
        request_id = getattr(context, "aws_request_id", "") or ""
        if not _is_sqs_event(event):
            self.logger.error("not an SQS event", extra={"keys": sorted(event)[:10]
                                                         if isinstance(event, dict) else None})
            refused = BadRequest("this function scores S3 notifications delivered by SQS",
                                 code="unsupported_event")
            return {"batchItemFailures": [], **error_document(refused, request_id)}
        from aws_lambda_powertools.utilities.batch import (  # only when a batch arrives
            BatchProcessor,
            EventType,
            process_partial_response,
        )

        self.logger.append_keys(function_request_id=request_id)
        deadline = Deadline.of(context, self.settings.deadline_margin_s)
        budget = deadline.seconds_left()

        def record_handler(record: Any) -> None:
            self._message(record.message_id, record.body, deadline, budget, request_id)

        self.metrics.add_metric(name="Messages", unit=MetricUnit.Count,
                                value=len(event["Records"]))
        processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
        # Powertools types the context as its own class; Lambda passes the same object.
        response = process_partial_response(event=event, record_handler=record_handler,
                                            processor=processor, context=cast(Any, context))
        failed = len(response.get("batchItemFailures", []))
        if failed:
            self.metrics.add_metric(name="FailedMessages", unit=MetricUnit.Count, value=failed)
        self.metrics.flush_metrics()
        return dict(response)

    def _message(self, message_id: str, body: str, deadline: Deadline, budget: float,
                 request_id: str) -> None:
        try:
            for obj in created_objects(body):
                self._object(obj, message_id, deadline, budget, request_id)
        except BatchError as exc:
            self.logger.warning("message failed; SQS will retry it, then dead-letter it",
                                extra={"message_id": message_id, "reason": str(exc),
                                       "kind": type(exc).__name__})
            raise
        except Exception:
            self.logger.exception("message failed", extra={"message_id": message_id})
            raise

    def _object(self, obj: CreatedObject, message_id: str, deadline: Deadline, budget: float,
                request_id: str) -> None:
        where = {"message_id": message_id, "input": obj.uri}
        if self.settings.bucket and obj.bucket != self.settings.bucket:
            # Only the stage's own bucket (FEATHERSERVE_BATCH_BUCKET): another's is not ours to
            # read or write, whoever sent the message.
            self.logger.warning("refused: the notification names another bucket",
                                extra={**where, "bucket": self.settings.bucket})
            return
        keys = output_keys(self.service.name, obj.key)
        if keys is None:
            # Never act outside in/<model>/: out/ can never loop back here.
            self.logger.warning("ignored: not an input of this model", extra=where)
            return
        predictions_key, summary_key = keys
        deadline.check(0)
        started_with = deadline.seconds_left()
        model = ScoringModel.of(self.service)  # ServiceUnavailable: retried later
        client = self.client()
        refusal = refusal_for_key(obj.key, predictions_key)
        if refusal is not None:  # refused now, for good: not after scoring, at every retry
            if key_bytes(summary_key) > MAX_KEY_BYTES:
                summary_key = long_key_summary_key(self.service.name, obj.key)
            document = summary_document(
                model, Outcome(error=refusal), input_uri=obj.uri, input_bytes=obj.size,
                input_etag=obj.etag, output_uri=None, request_id=message_id,
                function_request_id=request_id)
            put_json(client, obj.bucket, summary_key, document)
            self._record(True, document, {**where, "summary": summary_key})
            return
        source = open_object(client, obj)
        if source is None:
            self.logger.info("skipped: the object was replaced since; its own "
                             "notification scores it", extra=where)
            return
        writer = S3AtomicWriter(client, obj.bucket, predictions_key,
                                part_bytes=self.settings.part_bytes)
        started = time.perf_counter()
        try:
            with contextlib.closing(source.stream):
                outcome = score_file(obj.key, source.stream, source.size, model, writer,
                                     settings=self.settings, request_id=message_id,
                                     deadline=deadline)
        except OutOfTime as exc:
            if started_with < _FAIR_SHARE * budget:
                raise  # it shared the invocation with other files: retry it in a fresh one
            outcome = out_of_time(exc, time.perf_counter() - started)
        if outcome.refused:
            delete_object(client, obj.bucket, predictions_key)  # no stale output beside it
        document = summary_document(
            model, outcome, input_uri=obj.uri, input_bytes=source.size,
            input_etag=source.etag, output_uri=f"s3://{obj.bucket}/{predictions_key}",
            request_id=message_id, function_request_id=request_id)
        put_json(client, obj.bucket, summary_key, document)
        self._record(outcome.refused, document, where)

    def _record(self, refused: bool, document: dict[str, Any], where: dict[str, str]) -> None:
        extra = {**where, "status": document["status"], "rows": document["rows"],
                 "errors": document["errors"], "ms": document["timings_ms"]["total"]}
        if refused:
            extra["code"] = document["error"]["code"]
            self.logger.warning("file refused", extra=extra)
        else:
            self.logger.info("file scored", extra=extra)
        self.metrics.add_metric(name="FilesRefused" if refused else "FilesScored",
                                unit=MetricUnit.Count, value=1)
        self.metrics.add_metric(name="Rows", unit=MetricUnit.Count, value=document["rows"])
        self.metrics.add_metric(name="RowErrors", unit=MetricUnit.Count,
                                value=document["errors"])


def _is_sqs_event(event: Any) -> bool:
    records = event.get("Records") if isinstance(event, dict) else None
    return isinstance(records, list) and bool(records) and all(
        isinstance(r, dict) and r.get("eventSource") == "aws:sqs" for r in records)
