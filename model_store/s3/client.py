"""How the S3 store builds its boto3 client: on first use, with short timeouts and bounded retries.

boto3 is imported inside ``make_s3_client`` only, so importing ``model_store`` (or a handler
that serves from a layer) never pays for it, and a client made inside ``moto.mock_aws`` is
intercepted. The endpoint comes from ``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_S3`` unless
``endpoint_url`` says otherwise (boto3 reads those itself), so a ``moto_server`` works.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol


class S3Client(Protocol):
    """The S3 calls the kit makes (the model store, the bulk path). boto3's client offers
    them; there are no stubs at runtime, so answers are plain dicts as boto3 documents."""

    def get_object(self, **kwargs: Any) -> dict[str, Any]: ...

    def put_object(self, **kwargs: Any) -> dict[str, Any]: ...

    def delete_object(self, **kwargs: Any) -> dict[str, Any]: ...

    def get_paginator(self, operation_name: str) -> Any: ...

    def create_multipart_upload(self, **kwargs: Any) -> dict[str, Any]: ...

    def upload_part(self, **kwargs: Any) -> dict[str, Any]: ...

    def complete_multipart_upload(self, **kwargs: Any) -> dict[str, Any]: ...

    def abort_multipart_upload(self, **kwargs: Any) -> dict[str, Any]: ...


@dataclass(frozen=True)
class S3ClientConfig:
    """Client settings; the defaults suit a Lambda init (10 s budget) and a CLI alike."""

    # Seconds to open a connection / to wait for each read of an answer.
    connect_timeout: float = 2.0
    read_timeout: float = 5.0
    # Attempts per call, the first included (botocore's ``total_max_attempts``); 1 = no retry.
    max_attempts: int = 3
    retry_mode: Literal["standard", "adaptive", "legacy"] = "standard"
    region_name: str | None = None
    # None: boto3's own resolution (AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, then AWS).
    endpoint_url: str | None = None
    addressing_style: Literal["auto", "path", "virtual"] = "auto"

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {self.max_attempts}")
        if self.connect_timeout <= 0 or self.read_timeout <= 0:
            raise ValueError("timeouts must be positive")


def make_s3_client(config: S3ClientConfig) -> S3Client:
    """A new S3 client in a session of its own (credentials and endpoint read now)."""
    import boto3
    from botocore.config import Config

    session = boto3.session.Session(region_name=config.region_name)
    client: S3Client = session.client(
        "s3",
        endpoint_url=config.endpoint_url,
        config=Config(
            connect_timeout=config.connect_timeout,
            read_timeout=config.read_timeout,
            retries={"total_max_attempts": config.max_attempts, "mode": config.retry_mode},
            s3={"addressing_style": config.addressing_style},
            user_agent_extra="featherserve",
        ),
    )
    return client
