"""Serving throughput, side by side, same requests, same run, on loopback.

    featherserve, in process      the handler called in a loop (the warm run's numbers)
    featherserve, serverless-offline   the real local stack: API Gateway emulation → the
                                  handler, over HTTP with keep-alive
    Flask + waitress (baseline)   what a user would otherwise write: the scikit-learn
                                  teacher loaded with joblib, a production WSGI server

The client keeps ``concurrency`` connections busy for ``requests`` requests in all (bounded
in count and time) and reports requests/s and the latencies it saw. Client and server share
the machine's two cores, the same way for every row.
"""

from __future__ import annotations

import http.client
import json
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.children import ROOT, child_env
from benchmarks.flask_baseline import MANIFEST, TEACHER
from benchmarks.scenarios import ShippedModel, Teachers
from benchmarks.summary import describe
from featherserve.support.processes import NODE_BIN, free_port, running, tool_env, wait_for_port

MODEL = "breast_cancer"  # the model with a scikit-learn teacher: the baseline needs one


@dataclass(frozen=True)
class Load:
    requests: int
    concurrency: int = 4
    warmup: int = 20
    deadline_s: float = 120.0


def drive(port: int, path: str, body: bytes, content_type: str, load: Load) -> dict[str, Any]:
    """``load.requests`` POSTs over ``load.concurrency`` keep-alive connections."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors: list[str] = []
    lock = threading.Lock()
    counter = iter(range(load.requests))
    deadline = time.monotonic() + load.deadline_s

    def worker() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            for _ in range(load.warmup // load.concurrency):
                _post(connection, path, body, content_type)
            barrier.wait()
            while time.monotonic() < deadline:
                with lock:
                    if next(counter, None) is None:
                        return
                started = time.perf_counter()
                status = _post(connection, path, body, content_type)
                elapsed = (time.perf_counter() - started) * 1000
                with lock:
                    latencies.append(elapsed)
                    statuses[status] = statuses.get(status, 0) + 1
        except (OSError, http.client.HTTPException) as exc:
            with lock:
                errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            connection.close()

    barrier = threading.Barrier(load.concurrency + 1)
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(load.concurrency)]
    for thread in threads:
        thread.start()
    barrier.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join(load.deadline_s + 30)
    seconds = time.perf_counter() - began
    ok = statuses.get(200, 0)
    return {"requests": len(latencies), "ok": ok, "statuses": statuses,
            "errors": errors[:5], "seconds": seconds, "concurrency": load.concurrency,
            "requests_per_s": ok / seconds if seconds else None,
            "latency_ms": describe(latencies)}


def _post(connection: http.client.HTTPConnection, path: str, body: bytes,
          content_type: str) -> int:
    connection.request("POST", path, body=body, headers={"Content-Type": content_type})
    response = connection.getresponse()
    response.read()
    return response.status


def run_throughput(models: Mapping[str, ShippedModel], first_events: Mapping[str, Path],
                   teachers: Mapping[str, Teachers], warm: Mapping[str, Any], *,
                   layer_root: Path, scratch: Path, load: Load) -> dict[str, Any]:
    """The throughput table's rows for ``MODEL`` (empty when it is not shipped)."""
    if MODEL not in models:
        return {}
    event = json.loads(first_events[MODEL].read_text())
    body = str(event["body"]).encode()
    path = f"/models/{MODEL}/predict"
    rows: dict[str, Any] = {}
    in_process = (warm.get(MODEL) or {}).get("variants", {}).get("json v2, 2 instances")
    if in_process:
        rows["featherserve handler, in process (1 thread)"] = {
            "requests_per_s": in_process["throughput_rps"],
            "latency_ms": {k: (v / 1000 if isinstance(v, float) else v)
                           for k, v in in_process["summary_us"].items()},
            "requests": in_process["summary_us"]["n"], "concurrency": 1, "errors": []}
    port = free_port()
    offline = [str(NODE_BIN / "sls"), "offline", "start", "--stage", "bench", "--host",
               "127.0.0.1", "--httpPort", str(port), "--lambdaPort", str(free_port()),
               f"--param=modelSource={layer_root}"]
    rows["featherserve, serverless-offline (local API Gateway + Lambda)"] = _serve(
        offline, tool_env(), port, path, body, load, scratch / "offline.log")
    teacher = teachers.get(MODEL, Teachers()).joblib
    if teacher is not None:
        port = free_port()
        waitress = [sys.executable, "-m", "waitress", "--host", "127.0.0.1", "--port",
                    str(port), f"--threads={load.concurrency}", "--call",
                    "benchmarks.flask_baseline:create_app"]
        env = child_env({TEACHER: str(teacher), MANIFEST: str(models[MODEL].manifest_file),
                         "PYTHONPATH": str(ROOT)})
        rows["Flask + waitress, scikit-learn teacher via joblib (baseline)"] = _serve(
            waitress, env, port, path, body, load, scratch / "waitress.log")
    return {"model": MODEL, "request": "POST JSON, 2 instances", "rows": rows}


def _serve(command: list[str], env: Mapping[str, str], port: int, path: str, body: bytes,
           load: Load, log: Path) -> dict[str, Any]:
    print(f"  throughput: {' '.join(command[:3])} ...", file=sys.stderr, flush=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    try:
        with running(command, env=env, log_path=log, cwd=ROOT) as process:
            wait_for_port(port, process, log, timeout=120)
            return drive(port, path, body, "application/json", load)
    except (AssertionError, OSError) as exc:
        return {"requests": 0, "requests_per_s": None, "latency_ms": describe([]),
                "errors": [str(exc)[-500:]], "concurrency": load.concurrency}
