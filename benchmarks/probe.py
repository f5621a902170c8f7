"""One cold start in a fresh process: ``python -P benchmarks/probe.py '<spec as JSON>'``.

Only the standard library runs before the scenario's own imports, so every scenario (the
floor included) pays the same small overhead. The phases, as ``time.perf_counter()``
checkpoints:

    import          the modules in ``spec["imports"]`` (a handler: ``model_runtime``)
    init            ``spec["init"]``: import the handler module, whose ``serve_model`` loads
                    the model and creates the session; or build a naive teacher handler
    first response  the handler answers ``spec["event"]`` (a real API Gateway event)

Two JSON lines go to the file descriptor ``spec["fd"]``: ``response`` as soon as the first
response exists (the parent stops its clock there), then ``done`` with the peak RSS and,
for S3 scenarios, what the model cache held before and after.

``spec["sys_path"]`` goes first on ``sys.path`` (an isolated ``-I`` interpreter ignores
PYTHONPATH: that is how the packaged function's task root and layers are put in front).
``spec["warm_requests"]``: after ``response``, the same event is answered that many more
times, and ``done`` holds the first request's time against the warm median (in process,
one clock), which is what "no first-request penalty" is judged on.
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()

import importlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
from typing import Any  # noqa: E402


class LambdaContext:
    aws_request_id = "00000000-0000-4000-8000-000000000000"
    function_name = "featherserve-bench"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:featherserve-bench"


def peak_rss_kb() -> int | None:
    """This process's high-water resident set size (VmHWM), in KiB."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def files_under(folder: str | None) -> list[str] | None:
    """Every file below ``folder``, relative to it (None: no folder was asked about)."""
    if not folder:
        return None
    return sorted(os.path.relpath(os.path.join(where, name), folder)
                  for where, _, names in os.walk(folder) for name in names)


def build_handler(init: dict[str, Any]) -> Any:
    target = getattr(importlib.import_module(init["module"]), init["attribute"])
    return target(**init["kwargs"]) if "kwargs" in init else target


def warm_timing(handler: Any, event: Any, first_ms: float, requests: int) -> dict[str, Any]:
    """The same event ``requests`` more times: the first request against the warm median."""
    clock = time.perf_counter_ns
    latencies = []
    for _ in range(requests):
        started = clock()
        handler(event, LambdaContext())
        latencies.append((clock() - started) / 1e6)
    warm = sorted(latencies[len(latencies) // 2:])  # the later half: warm by then
    median = warm[len(warm) // 2] if warm else None
    return {"first_ms": first_ms, "warm_median_ms": median,
            "first_to_warm": first_ms / median if median else None}


def main(argv: list[str]) -> int:
    spec = json.loads(argv[1])
    sys.path[:0] = spec.get("sys_path") or []
    out = os.fdopen(spec["fd"], "w")
    event = None
    if spec.get("event"):
        with open(spec["event"]) as stream:
            event = json.load(stream)
    cache_dir = spec.get("cache_dir")
    cache_before = files_under(cache_dir)

    began_import = time.perf_counter()
    for name in spec["imports"]:
        importlib.import_module(name)
    began_init = time.perf_counter()
    handler = build_handler(spec["init"]) if spec.get("init") else None
    began_request = time.perf_counter()
    response: dict[str, Any] = {}
    if handler is not None and event is not None:
        response = handler(event, LambdaContext())
    answered = time.perf_counter()

    out.write(json.dumps({
        "event": "response", "started": STARTED, "answered": answered,
        "import_ms": (began_init - began_import) * 1000,
        "init_ms": (began_request - began_init) * 1000 if handler is not None else None,
        "first_response_ms": (answered - began_request) * 1000 if response else None,
        "status": response.get("statusCode"),
    }) + "\n")
    out.flush()
    body = str(response.get("body", ""))
    requests = int(spec.get("warm_requests") or 0)
    warm = (warm_timing(handler, event, (answered - began_request) * 1000, requests)
            if requests and response else None)
    init_module = sys.modules.get(spec["init"]["module"]) if spec.get("init") else None
    out.write(json.dumps({
        "warm": warm, "module_file": getattr(init_module, "__file__", None),
        "python": sys.version.split()[0], "isolated": bool(sys.flags.isolated),
        "event": "done", "peak_rss_kb": peak_rss_kb(), "body": body[:300],
        "cache_before": cache_before, "cache_after": files_under(cache_dir),
        "boto3_loaded": "boto3" in sys.modules, "torch_loaded": "torch" in sys.modules,
    }) + "\n")
    out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
