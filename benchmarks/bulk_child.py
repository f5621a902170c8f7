"""One fresh process playing one Lambda execution environment of a model's functions:
``python -m benchmarks.bulk_child SPEC.json`` prints one JSON line of measurements.

It imports ``handlers.<model>`` (both of its handlers, as Lambda would), warms the batch
handler up with a one-row file (boto3 and the S3 client loaded), then: resting RSS; the
large invocation (one SQS event, as Lambda's poller would send it) with the peak RSS during
it (VmHWM, reset just before); and the HTTP handler's warm per-instance cost on the same
rows or images, in the same process.
"""

from __future__ import annotations

import base64
import importlib
import json
import sys
import time
from pathlib import Path
from typing import Any

from featherserve.support.sqs_events import LambdaContext, sqs_event


def status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux 4.0+); False where it cannot be."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def invoke(handler: Any, messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    answer: dict[str, Any] = handler(sqs_event(messages, queue_arn), LambdaContext())
    if answer.get("batchItemFailures"):
        raise RuntimeError(f"the batch handler failed messages: {answer}")
    return answer


def http_cost(handler: Any, events: list[dict[str, Any]], instances_per_event: int,
              rounds: int) -> dict[str, float]:
    for event in events[:5]:  # warm
        handler(event, LambdaContext())
    started = time.perf_counter()
    for _ in range(rounds):
        for event in events:
            response = handler(event, LambdaContext())
            if response["statusCode"] != 200:
                raise RuntimeError(f"HTTP handler answered {response}")
    seconds = time.perf_counter() - started
    instances = rounds * len(events) * instances_per_event
    return {"requests": rounds * len(events), "instances_per_request": instances_per_event,
            "seconds": seconds, "ms_per_request": seconds * 1000 / (rounds * len(events)),
            "us_per_instance": seconds * 1e6 / instances}


def http_events(spec: dict[str, Any]) -> list[dict[str, Any]]:
    template = json.loads(Path(spec["http_event"]).read_text())
    events = []
    for body in spec["http_bodies"]:
        event = dict(template)
        event["path"] = f"/models/{spec['model']}/predict"
        event["queryStringParameters"] = event["multiValueQueryStringParameters"] = None
        content_type = spec["http_content_type"]
        raw = base64.b64decode(body)
        event["headers"] = {"content-type": content_type}
        event["multiValueHeaders"] = {"content-type": [content_type]}
        event["body"] = body if content_type != "application/json" else raw.decode()
        event["isBase64Encoded"] = content_type != "application/json"
        events.append(event)
    return events


def main(spec_path: str) -> int:
    spec = json.loads(Path(spec_path).read_text())
    started = time.perf_counter()
    module = importlib.import_module(f"handlers.{spec['model']}")
    init_s = time.perf_counter() - started
    after_init_kib = status_kib("VmRSS")
    invoke(module.batch_handler, spec["warmup_messages"], spec["queue_arn"])
    rest_kib = status_kib("VmRSS")
    peak_reset = reset_peak()
    started = time.perf_counter()
    invoke(module.batch_handler, spec["messages"], spec["queue_arn"])
    seconds = time.perf_counter() - started
    peak_kib = status_kib("VmHWM") if peak_reset else None
    http = http_cost(module.handler, http_events(spec), spec["http_instances_per_request"],
                     spec["http_rounds"])
    print(json.dumps({
        "model": spec["model"], "init_s": init_s, "rss_after_init_mib": after_init_kib / 1024,
        "rest_rss_mib": rest_kib / 1024,
        "peak_rss_mib": None if peak_kib is None else peak_kib / 1024,
        "peak_above_rest_mib": None if peak_kib is None else (peak_kib - rest_kib) / 1024,
        "invocation_s": seconds, "http": http}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
