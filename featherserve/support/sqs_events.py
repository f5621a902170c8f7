"""Lambda's SQS event, built from messages as ReceiveMessage returns them (tests, benchmarks).

Lambda's event source mapping hands a function exactly this shape: one record per message,
its body untouched (here: S3's notification JSON), with the queue's ARN and region.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any


def sqs_record(message: Mapping[str, Any], queue_arn: str, *, receive_count: int = 1
               ) -> dict[str, Any]:
    region = queue_arn.split(":")[3]
    now = str(int(time.time() * 1000))
    attributes = dict(message.get("Attributes") or {})
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {
            "ApproximateReceiveCount": str(receive_count),
            "SentTimestamp": attributes.get("SentTimestamp", now),
            "SenderId": attributes.get("SenderId", "AIDAIENQZJOLO23YVJ4VO"),
            "ApproximateFirstReceiveTimestamp": attributes.get(
                "ApproximateFirstReceiveTimestamp", now),
        },
        "messageAttributes": {},
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def sqs_event(messages: Iterable[Mapping[str, Any]], queue_arn: str, *,
              receive_count: int = 1) -> dict[str, Any]:
    return {"Records": [sqs_record(m, queue_arn, receive_count=receive_count)
                        for m in messages]}


class LambdaContext:
    """What a handler reads from Lambda's context: its request id and the time left."""

    def __init__(self, request_id: str = "c0ffee00-0000-4000-8000-000000000001",
                 seconds: float = 900.0) -> None:
        self.aws_request_id = request_id
        self.function_name = "featherserve-test-batch"
        self._deadline = time.monotonic() + seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))
