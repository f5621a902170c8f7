"""``featherserve batch submit``: put a file in a deployed stage's input prefix, and wait for
the function's summary of exactly that upload (same ETag, written after it)."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from model_runtime.batch.settings import INPUT_PREFIX, output_keys

# The stack output serverless.yml declares for the stage's bulk bucket.
BUCKET_OUTPUT = "BulkBucketName"


class SubmitError(Exception):
    """The stage, its bucket, or the result cannot be found (the message says which)."""


def stage_bucket(stage: str, region: str | None, service: str = "featherserve") -> str:
    """The bulk bucket of a deployed stage, from its CloudFormation outputs."""
    import boto3
    from botocore.exceptions import ClientError

    stack = f"{service}-{stage}"
    client = boto3.client("cloudformation", region_name=region)
    try:
        described = client.describe_stacks(StackName=stack)["Stacks"][0]
    except ClientError as exc:
        raise SubmitError(f"no deployed stack {stack} ({exc}); deploy the stage first, or "
                          "name the bucket with --bucket") from None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
    if BUCKET_OUTPUT not in outputs:
        raise SubmitError(f"stack {stack} has no bulk bucket: deploy it with the batch "
                          "param on (params: batch: true)")
    return str(outputs[BUCKET_OUTPUT])


@dataclass(frozen=True)
class Submission:
    bucket: str
    key: str
    etag: str
    uploaded_at: Any  # datetime, S3's clock

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def upload(client: Any, model: str, file: Path, bucket: str, key: str | None) -> Submission:
    name = (key or file.name).lstrip("/")
    full_key = f"{INPUT_PREFIX}{model}/{name}"
    client.upload_file(str(file), bucket, full_key)  # multipart for large files
    head = client.head_object(Bucket=bucket, Key=full_key)
    return Submission(bucket, full_key, head["ETag"].strip('"'), head["LastModified"])


def wait_for_summary(client: Any, model: str, submission: Submission, *, timeout_s: float,
                     poll_s: float = 2.0, out: TextIO | None = None) -> dict[str, Any]:
    """The summary the function wrote for this upload; SubmitError after ``timeout_s``."""
    from botocore.exceptions import ClientError

    keys = output_keys(model, submission.key)
    assert keys is not None
    out = out or sys.stderr
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            answer = client.get_object(Bucket=submission.bucket, Key=keys[1])
            summary: dict[str, Any] = json.loads(answer["Body"].read())
            if (summary.get("input", {}).get("etag") == submission.etag
                    and answer["LastModified"] >= submission.uploaded_at):
                return summary
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("NoSuchKey", "404"):
                raise
        if time.monotonic() >= deadline:
            raise SubmitError(
                f"no result for {submission.uri} after {timeout_s:.0f} s: the function's log "
                f"and its dead-letter queue say why (featherserve-<stage>-{model}-bulk-dlq)")
        out.write(".")
        out.flush()
        time.sleep(poll_s)


def download_predictions(client: Any, model: str, submission: Submission, dest: Path) -> Path:
    keys = output_keys(model, submission.key)
    assert keys is not None
    dest.parent.mkdir(parents=True, exist_ok=True)
    client.download_file(submission.bucket, keys[0], str(dest))
    return dest
