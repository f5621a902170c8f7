"""S3 for tests: fake credentials, a tiny model in a moto bucket, and two broken endpoints.

The endpoints listen on 127.0.0.1 (free port) in threads of this process and are always
closed when their ``with`` block ends: one accepts and never answers (read timeouts), one
answers every request with S3's 503 ``SlowDown`` (throttling).
"""

from __future__ import annotations

import contextlib
import socket
import tempfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from model_store import Manifest
from model_store.s3 import S3Store
from tests.support.tiny_models import tiny_tabular_manifest, tiny_tabular_onnx

BUCKET = "featherserve-models"
REGION = "us-east-1"
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                    "AWS_SESSION_TOKEN": "testing"}
# Anything that could point boto3 at real AWS, another profile or another endpoint.
AWS_VARIABLES = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL",
                 "AWS_ENDPOINT_URL_S3", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                 "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_WEB_IDENTITY_TOKEN_FILE",
                 "AWS_ROLE_ARN", "AWS_REGION")


def fake_aws_environment(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    """Fake keys, one region, no metadata endpoint, and no config files but empty ones."""
    for name in AWS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    home.mkdir(parents=True, exist_ok=True)
    for name in ("AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE"):
        empty = home / name.lower()
        empty.write_text("")
        monkeypatch.setenv(name, str(empty))
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def remove_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in FAKE_CREDENTIALS:
        monkeypatch.delenv(name, raising=False)


def restore_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(name, value)


def publish_tiny(store: S3Store, name: str = "tiny", scale: float | None = None) -> Manifest:
    """Publish the three-feature test model (``scale`` gives different bytes)."""
    weights = None if scale is None else np.array([[1.0, -1.0], [0.5, 0.5], [-2.0, 2.0]]) * scale
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "model.onnx"
        path.write_bytes(tiny_tabular_onnx(weights))
        return store.publish(tiny_tabular_manifest(name), path)


def listening_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    return sock


@contextlib.contextmanager
def silent_endpoint() -> Iterator[str]:
    """``http://127.0.0.1:<port>``: accepts connections, reads nothing, never answers."""
    server = listening_socket()
    server.settimeout(0.1)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept_forever() -> None:
        while not stop.is_set():
            with contextlib.suppress(OSError):
                accepted.append(server.accept()[0])

    thread = threading.Thread(target=accept_forever, name="silent-endpoint", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=5)
        for connection in accepted:
            connection.close()
        server.close()


SLOW_DOWN = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
             b"<Message>Please reduce your request rate.</Message>"
             b"<RequestId>FAKE</RequestId></Error>")


class _SlowDownHandler(BaseHTTPRequestHandler):
    def _refuse(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.send_response(503, "Slow Down")
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(SLOW_DOWN)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(SLOW_DOWN)

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _refuse

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output quiet


@contextlib.contextmanager
def throttling_endpoint() -> Iterator[str]:
    """``http://127.0.0.1:<port>``: answers every request with 503 SlowDown, like S3 does."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SlowDownHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name="throttling-endpoint", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def closed_endpoint() -> str:
    """``http://127.0.0.1:<port>`` where nothing listens (connections are refused)."""
    with contextlib.closing(listening_socket()) as sock:
        return f"http://127.0.0.1:{sock.getsockname()[1]}"

