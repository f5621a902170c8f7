"""One fresh process for ``benchmarks.pool``: ``python -P benchmarks/pool_child.py SPEC``.

It reports JSON lines on the pipe ``spec["fd"]`` (benchmarks/children.py); the first line
is sent only after the first request is answered, so the parent's clock from spawn to that
line is the cold start (import + init + first request). Modes:

    cold      import and build a pool handler (``serve_pool``) or a dedicated one
              (``serve_model``), answer one request
    first     a pool: per model, its first request (a load) then its second (loaded)
    memory    a pool: RSS before and after loading ``k`` more models
    traffic   a pool with a count-bounded LRU: a sequence of requests, each timed and
              marked hit (already loaded) or miss
"""

from __future__ import annotations

import gc
import json
import os
import sys
import time
from pathlib import Path
from typing import Any


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def main(spec: dict[str, Any]) -> int:
    out = os.fdopen(spec["fd"], "w", buffering=1)
    events: dict[str, Any] = json.loads(Path(spec["events"]).read_text())
    started = time.perf_counter()
    if spec["mode"] == "cold" and spec["function"] == "dedicated":
        from model_runtime import serve_model

        imported = time.perf_counter()
        handler = serve_model(spec["model"])
    else:
        from model_runtime.pool import serve_pool
        from model_runtime.pool.entry import pool_of

        imported = time.perf_counter()
        handler = serve_pool("tabular")
    initialised = time.perf_counter()

    def ask(name: str) -> float:
        before = time.perf_counter()
        answer = handler(events[name], None)
        elapsed = (time.perf_counter() - before) * 1000
        if answer["statusCode"] != 200:
            raise RuntimeError(f"{name}: {answer}")
        return elapsed

    if spec["mode"] == "cold":
        first = ask(spec["model"])
        out.write(json.dumps({"event": "cold", "import_ms": (imported - started) * 1000,
                              "init_ms": (initialised - imported) * 1000,
                              "first_ms": first}) + "\n")
        return 0
    pool = pool_of(handler)
    assert pool is not None
    ask(spec["warmup"])  # the libraries a first load brings in (boto3 for S3) come in here
    out.write(json.dumps({"event": "ready"}) + "\n")
    if spec["mode"] == "first":
        pairs = [(ask(name), ask(name)) for name in spec["names"]]
        out.write(json.dumps({"event": "first", "miss_ms": [p[0] for p in pairs],
                              "hit_ms": [p[1] for p in pairs]}) + "\n")
    elif spec["mode"] == "memory":
        gc.collect()
        before = rss_kib()
        for name in spec["names"]:
            ask(name)
        gc.collect()
        out.write(json.dumps({"event": "memory", "k": len(spec["names"]),
                              "loaded": len(pool.loaded_names),
                              "charged_bytes": pool.loaded_bytes,
                              "delta_kib": rss_kib() - before}) + "\n")
    elif spec["mode"] == "traffic":
        for name in spec.get("preload", []):
            ask(name)
        latencies, hits = [], []
        for name in spec["names"]:
            hits.append(name in pool.loaded_names)
            latencies.append(ask(name))
        out.write(json.dumps({"event": "traffic", "ms": latencies, "hit": hits}) + "\n")
    else:
        raise ValueError(f"unknown mode {spec['mode']!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main(json.loads(sys.argv[1])))
