"""One frontier point measured like the benchmark measures a handler: fresh processes.

Each sample is ``benchmarks/probe.py`` serving the point's store through the real handler
(``serve_model``) with the functions' process settings: cold start = spawn → first
response; then the same request a few hundred times in that process for the warm median.
Cost per million requests is ``featherserve.pricing`` at that warm median (1024 MB).
"""

from __future__ import annotations

import json
import statistics
import tempfile
from pathlib import Path
from typing import Any

from featherserve.pricing import Prices, compute_per_million

MEMORY_MB = 1024


def request_event(store: Path, model: str) -> dict[str, Any]:
    """A 224×224 JPEG for image models (as the benchmark sends), mid-range rows otherwise."""
    from benchmarks.payloads import digit_jpeg, image_json_event
    from model_runtime.warmup import sample_events
    from model_store.local import LocalStore
    from model_store.manifest import ImageSpec

    manifest = LocalStore(store).manifest(model)
    if isinstance(manifest.input, ImageSpec):
        return image_json_event(model, digit_jpeg())
    return sample_events(manifest)[-1]


def measure_point(model: str, store: Path, *, samples: int = 3,
                  warm_requests: int = 200) -> dict[str, Any]:
    from benchmarks.children import ChildFailed, child_env, run_child, script_command
    from benchmarks.packaged import function_environment

    env = child_env({"FEATHERSERVE_MODEL_SOURCE": str(store), **function_environment()})
    cold: list[float] = []
    warm: list[float] = []
    with tempfile.TemporaryDirectory(prefix="featherserve-frontier-probe-") as scratch:
        event = Path(scratch) / "event.json"
        event.write_text(json.dumps(request_event(store, model)))
        spec = {"imports": ["model_runtime"], "event": str(event),
                "init": {"module": "model_runtime", "attribute": "serve_model",
                         "kwargs": {"name": model}}, "warm_requests": warm_requests}
        for _ in range(samples + 1):  # the first one warms the page cache, unmeasured
            try:
                run = run_child(script_command("probe.py"), spec, env=env,
                                log_path=Path(scratch) / "probe.log", timeout=180)
            except ChildFailed as exc:
                return {"error": str(exc)[-500:]}
            if run.report("response")["status"] != 200:
                return {"error": f"answered {run.report('response')['status']}"}
            cold.append(run.wall_ms)
            warm.append(run.report("done")["warm"]["warm_median_ms"])
    cold, warm = cold[1:], warm[1:]
    warm_ms = statistics.median(warm)
    prices = Prices()
    cost = (compute_per_million(MEMORY_MB, warm_ms, prices) + prices.lambda_per_million
            + prices.api_gateway_per_million)
    return {"warm_us": warm_ms * 1000, "cold_ms": statistics.median(cold),
            "cost_per_million": cost}
