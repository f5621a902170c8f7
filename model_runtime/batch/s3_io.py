"""S3 for the bulk path: stream the input object, write the output atomically.

The output is never half-visible: it is buffered up to one part (8 MiB) and written with
one PutObject, or, when it grows past that, as a multipart upload that S3 shows only once
``CompleteMultipartUpload`` succeeds (aborted on any failure; the bucket's lifecycle rule
also clears parts left by a killed invocation). A redelivered message writes the same key
with the same bytes again. boto3 is imported on first use (model_store.s3.client).
"""

from __future__ import annotations

import contextlib
import io
import json
from typing import IO, Any

from model_runtime.batch.exceptions import SourceMissing
from model_runtime.batch.s3_events import CreatedObject
from model_store.s3.client import S3Client, S3ClientConfig, make_s3_client
from model_store.s3.errors import CONFLICT_CODES, MISSING_KEY_CODES, error_code

JSON_LINES = "application/x-ndjson"
# A file is read for minutes: a longer read timeout than a model fetch at init.
CLIENT_CONFIG = S3ClientConfig(connect_timeout=5.0, read_timeout=60.0, max_attempts=5)
_READ_BUFFER = 256 * 1024
_PART_CHECKSUMS = ("ChecksumCRC32", "ChecksumCRC32C", "ChecksumCRC64NVME", "ChecksumSHA1",
                   "ChecksumSHA256")

def s3_client() -> S3Client:
    """A new client, made when first needed (never at import: moto and cold start); the
    batch handler keeps the one it makes for the life of its process."""
    return make_s3_client(CLIENT_CONFIG)


class _Body(io.RawIOBase):
    """botocore's StreamingBody as a raw stream, so io.BufferedReader can serve lines."""

    def __init__(self, body: Any) -> None:
        self._body = body

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._body.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._body.close()
        super().close()


class SourceObject:
    def __init__(self, stream: IO[bytes], size: int, etag: str) -> None:
        self.stream = stream
        self.size = size
        self.etag = etag


def open_object(client: S3Client, obj: CreatedObject) -> SourceObject | None:
    """The object as a buffered stream; None when it was replaced since the notification."""
    from botocore.exceptions import ClientError

    request: dict[str, Any] = {"Bucket": obj.bucket, "Key": obj.key}
    if obj.etag:
        request["IfMatch"] = obj.etag  # a newer upload has its own notification
    try:
        response = client.get_object(**request)
    except ClientError as exc:
        code = error_code(exc)
        if code in MISSING_KEY_CODES:
            raise SourceMissing(f"{obj.uri} does not exist (deleted after the upload?)") from None
        if code in CONFLICT_CODES:
            return None
        raise
    stream = io.BufferedReader(_Body(response["Body"]), buffer_size=_READ_BUFFER)
    return SourceObject(stream, int(response.get("ContentLength") or 0),
                        str(response.get("ETag", "")).strip('"'))


def put_json(client: S3Client, bucket: str, key: str, document: Any) -> None:
    body = (json.dumps(document, indent=2, sort_keys=True) + "\n").encode()
    client.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")


def delete_object(client: S3Client, bucket: str, key: str) -> None:
    client.delete_object(Bucket=bucket, Key=key)


class S3AtomicWriter:
    """Lines → one object at ``bucket/key``, visible only once ``commit`` returns."""

    def __init__(self, client: S3Client, bucket: str, key: str, *, part_bytes: int,
                 content_type: str = JSON_LINES) -> None:
        self._client, self.bucket, self.key = client, bucket, key
        self._part_bytes = part_bytes
        self._content_type = content_type
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []
        self.bytes_written = 0

    def write(self, data: bytes) -> None:
        self._buffer += data
        self.bytes_written += len(data)
        if len(self._buffer) >= self._part_bytes:
            self._upload_part()

    def _upload_part(self) -> None:
        if self._upload_id is None:
            created = self._client.create_multipart_upload(
                Bucket=self.bucket, Key=self.key, ContentType=self._content_type)
            self._upload_id = created["UploadId"]
        number = len(self._parts) + 1
        # The buffer itself, not a copy: the part is the only output held in memory.
        answer = self._client.upload_part(Bucket=self.bucket, Key=self.key, Body=self._buffer,
                                          UploadId=self._upload_id, PartNumber=number)
        self._buffer = bytearray()
        part = {"ETag": answer["ETag"], "PartNumber": number}
        # Newer botocore checksums each part; the completion must then list them.
        part.update({k: answer[k] for k in _PART_CHECKSUMS if answer.get(k)})
        self._parts.append(part)

    def commit(self) -> None:
        if self._upload_id is None:
            self._client.put_object(Bucket=self.bucket, Key=self.key, Body=self._buffer,
                                    ContentType=self._content_type)
            self._buffer = bytearray()
            return
        if self._buffer:
            self._upload_part()
        self._client.complete_multipart_upload(
            Bucket=self.bucket, Key=self.key, UploadId=self._upload_id,
            MultipartUpload={"Parts": self._parts})
        self._upload_id = None

    def abort(self) -> None:
        self._buffer = bytearray()
        if self._upload_id is not None:
            with contextlib.suppress(Exception):  # the lifecycle rule is the backstop
                self._client.abort_multipart_upload(Bucket=self.bucket, Key=self.key,
                                                    UploadId=self._upload_id)
            self._upload_id = None
