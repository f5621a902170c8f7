"""A minimal stand-in for Lambda's Runtime API on 127.0.0.1, for one execution environment.

The runtime interface client polls ``GET /2018-06-01/runtime/invocation/next`` for an
event (its first poll ends the init phase), answers with ``.../{id}/response`` or
``.../{id}/error``, and reports a failed init with ``POST .../runtime/init/error``, as on
Lambda. Events are handed in by ``submit``; outcomes are read with ``outcome``.

A SnapStart init (``AWS_LAMBDA_INITIALIZATION_TYPE=snap-start``) runs the before-snapshot
hooks, then ``GET .../runtime/restore/next``: Lambda takes the snapshot there, and answers
when a copy is restored; the after-restore hooks run next (``POST .../restore/error`` if one
fails), then the first poll. Here ``restore/next`` answers at once (``snapshot_at``).
"""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PREFIX = "/2018-06-01/runtime"
ERROR_TYPE_HEADER = "Lambda-Runtime-Function-Error-Type"


@dataclass(frozen=True)
class Outcome:
    """What the runtime posted for one invocation (or for its init)."""

    ok: bool
    payload: Any  # the decoded JSON answer, or Lambda's error document
    error_type: str = ""


class RuntimeApi:
    """The state behind the endpoints: pending events, outcomes, the init milestone."""

    def __init__(self, function_arn: str) -> None:
        self.function_arn = function_arn
        self._events: queue.Queue[tuple[str, bytes, float] | None] = queue.Queue()
        self._outcomes: dict[str, Outcome] = {}
        self._posted = threading.Condition()
        self.first_poll: float | None = None  # monotonic time the init phase ended
        self.init_error: Outcome | None = None
        self.snapshot_at: float | None = None  # SnapStart: before-snapshot hooks done

    def submit(self, event: Any, timeout: float) -> str:
        request_id = str(uuid.uuid4())
        deadline_ms = (time.time() + timeout) * 1000
        self._events.put((request_id, json.dumps(event).encode(), deadline_ms))
        return request_id

    def outcome(self, request_id: str, timeout: float) -> Outcome | None:
        """The posted outcome, or None if nothing was posted within ``timeout`` seconds."""
        with self._posted:
            self._posted.wait_for(lambda: request_id in self._outcomes, timeout)
            return self._outcomes.get(request_id)

    def wait_init(self, timeout: float) -> bool:
        """True once init ended (first poll or init error), False after ``timeout``."""
        with self._posted:
            return self._posted.wait_for(
                lambda: self.first_poll is not None or self.init_error is not None, timeout)

    def close(self) -> None:
        self._events.put(None)  # releases a poll that is waiting

    def _record(self, request_id: str | None, outcome: Outcome) -> None:
        with self._posted:
            if request_id is None:
                self.init_error = outcome
            else:
                self._outcomes[request_id] = outcome
            self._posted.notify_all()

    def _polled(self) -> None:
        with self._posted:
            if self.first_poll is None:
                self.first_poll = time.monotonic()
            self._posted.notify_all()


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: without this, Nagle's algorithm holds the
    # body back for the client's delayed ACK (~40 ms on every invocation).
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        if self.path == f"{PREFIX}/restore/next":
            self.server.api.snapshot_at = time.monotonic()
            return self._reply(200, {})
        if self.path != f"{PREFIX}/invocation/next":
            return self._reply(404, {"errorType": "NotFound", "errorMessage": self.path})
        api = self.server.api
        api._polled()
        item = api._events.get()
        if item is None:  # shutting down: this environment gets no more events
            api._events.put(None)
            return self._reply(500, {"errorType": "ShuttingDown", "errorMessage": "no events"})
        request_id, body, deadline_ms = item
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Lambda-Runtime-Aws-Request-Id", request_id)
        self.send_header("Lambda-Runtime-Deadline-Ms", str(int(deadline_ms)))
        self.send_header("Lambda-Runtime-Invoked-Function-Arn", api.function_arn)
        self.send_header("Lambda-Runtime-Trace-Id",
                         f"Root=1-{int(time.time()):08x}-{request_id.replace('-', '')[:24]}")
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = self.path[len(PREFIX):].strip("/").split("/")
        api = self.server.api
        try:
            payload = json.loads(body) if body else None
        except ValueError:
            payload = body.decode("utf-8", "replace")
        error_type = self.headers.get(ERROR_TYPE_HEADER, "")
        if parts in (["init", "error"], ["restore", "error"]):
            api._record(None, Outcome(False, payload, error_type))
        elif len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
            api._record(parts[1], Outcome(parts[2] == "response", payload, error_type))
        else:
            return self._reply(404, {"errorType": "NotFound", "errorMessage": self.path})
        self._reply(202, {"status": "OK"})

    def _reply(self, status: int, document: dict[str, str]) -> None:
        body = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the runtime's own log is what matters


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, api: RuntimeApi) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.api = api

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a runtime that exits or is stopped drops its connection: not news


@contextmanager
def serving(api: RuntimeApi) -> Iterator[str]:
    """Serve ``api`` on a free 127.0.0.1 port; yields ``host:port`` (AWS_LAMBDA_RUNTIME_API)."""
    server = _Server(api)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name="lambda-runtime-api", daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        api.close()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
