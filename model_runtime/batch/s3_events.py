"""An SQS message body → the S3 objects it says were created.

Understood shapes, each as AWS writes it: an S3 event notification (``{"Records": [...]}``,
keys URL-encoded with ``+`` for spaces), the ``s3:TestEvent`` S3 sends when notifications
are configured (nothing to do), the same notification wrapped by SNS (fan-out setups), and
EventBridge's "Object Created" event (keys not encoded). Anything else is unreadable.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from model_runtime.batch.exceptions import UnreadableMessage

_MAX_SNS_DEPTH = 1


@dataclass(frozen=True)
class CreatedObject:
    bucket: str
    key: str
    size: int | None = None
    # Read with If-Match on it: a notification for an object since replaced is stale.
    etag: str | None = None
    version_id: str | None = None

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def created_objects(body: str) -> list[CreatedObject]:
    """The objects a message announces (empty for a test event or other event names)."""
    try:
        message = json.loads(body)
    except (TypeError, ValueError):
        raise UnreadableMessage("the message body is not JSON") from None
    return _from_message(message, depth=0)


def _from_message(message: Any, depth: int) -> list[CreatedObject]:
    if not isinstance(message, dict):
        raise UnreadableMessage("the message body is not a JSON object")
    if message.get("Event") == "s3:TestEvent":
        return []
    if isinstance(message.get("Records"), list):
        return [o for o in (_from_record(r) for r in message["Records"]) if o is not None]
    if message.get("Type") == "Notification" and isinstance(message.get("Message"), str):
        if depth >= _MAX_SNS_DEPTH:
            raise UnreadableMessage("an SNS notification inside another one")
        try:
            inner = json.loads(message["Message"])
        except ValueError:
            raise UnreadableMessage("the SNS notification's Message is not JSON") from None
        return _from_message(inner, depth + 1)
    if message.get("source") == "aws.s3" and isinstance(message.get("detail"), dict):
        return _from_eventbridge(message)
    raise UnreadableMessage("not an S3 event notification (no Records)")


def _from_record(record: Any) -> CreatedObject | None:
    if not isinstance(record, dict) or record.get("eventSource") != "aws:s3":
        raise UnreadableMessage("a record that is not an S3 event")
    if not str(record.get("eventName", "")).startswith("ObjectCreated:"):
        return None  # removals, restores, ...: nothing to score
    s3 = record.get("s3")
    bucket = s3.get("bucket") if isinstance(s3, dict) else None
    obj = s3.get("object") if isinstance(s3, dict) else None
    if not isinstance(bucket, dict) or not isinstance(obj, dict):
        raise UnreadableMessage("an S3 record without s3.bucket and s3.object")
    return _created(bucket.get("name"), obj.get("key"), obj.get("size"), obj.get("eTag"),
                    obj.get("versionId"), encoded=True)


def _from_eventbridge(message: dict[str, Any]) -> list[CreatedObject]:
    if message.get("detail-type") != "Object Created":
        return []
    detail = message["detail"]
    bucket, obj = detail.get("bucket"), detail.get("object")
    if not isinstance(bucket, dict) or not isinstance(obj, dict):
        raise UnreadableMessage("an EventBridge S3 event without detail.bucket and .object")
    return [_created(bucket.get("name"), obj.get("key"), obj.get("size"), obj.get("etag"),
                     obj.get("version-id"), encoded=False)]


def _created(bucket: Any, key: Any, size: Any, etag: Any, version_id: Any, *,
             encoded: bool) -> CreatedObject:
    if not isinstance(bucket, str) or not bucket or not isinstance(key, str) or not key:
        raise UnreadableMessage("an S3 event without a bucket name and an object key")
    return CreatedObject(
        bucket=bucket,
        key=unquote_plus(key) if encoded else key,
        size=size if isinstance(size, int) and not isinstance(size, bool) else None,
        etag=etag.strip('"') if isinstance(etag, str) and etag else None,
        version_id=version_id if isinstance(version_id, str) and version_id else None)
