"""Warm latency in one long-lived process: ``python -P benchmarks/warm_probe.py '<spec>'``.

``mode: "handler"``   import a handler once, then time every request variant
``mode: "inference"`` time bare model calls on the same input: the served int8 student
                      (onnxruntime, as the handler configures it), the teacher's ONNX,
                      the PyTorch teacher, or a scikit-learn teacher
``mode: "preprocess"`` time ``image_bytes_to_array`` on one image file (whichever
                      ``preprocessing`` is first on the path: before/after pairs)
``mode: "observability"`` time one request's Powertools work, the old way (an INFO log
                      line and a metrics line) against the new (one metrics line carrying
                      the access log as metadata)

Variants (or engines) are timed in interleaved blocks after a warm-up, each request on its
own ``perf_counter_ns`` clock, one thread. One JSON report goes to ``spec["fd"]``.
"""

from __future__ import annotations

import base64
import importlib
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


class LambdaContext:
    aws_request_id = "00000000-0000-4000-8000-000000000001"
    function_name = "featherserve-bench"


def interleaved(calls: dict[str, Callable[[], object]], *, requests: int, warmup: int,
                block: int) -> dict[str, dict[str, Any]]:
    """Per call: every latency (µs) and the busy seconds of its back-to-back requests."""
    for call in calls.values():
        for _ in range(warmup):
            call()
    latencies: dict[str, list[float]] = {name: [] for name in calls}
    busy = dict.fromkeys(calls, 0)
    clock = time.perf_counter_ns
    done = 0
    while done < requests:
        count = min(block, requests - done)
        for name, call in calls.items():
            timings = latencies[name]
            began = clock()
            for _ in range(count):
                started = clock()
                call()
                timings.append((clock() - started) / 1000)
            busy[name] += clock() - began
        done += count
    return {name: {"latencies_us": [round(t, 2) for t in latencies[name]],
                   "seconds": busy[name] / 1e9} for name in calls}


def handler_calls(spec: dict[str, Any]) -> dict[str, Callable[[], object]]:
    handler = importlib.import_module(spec["module"]).handler
    calls: dict[str, Callable[[], object]] = {}
    for variant, path in spec["variants"].items():
        event = json.loads(Path(path).read_text())

        def call(event: dict[str, Any] = event) -> object:
            response = handler(event, LambdaContext())
            if response["statusCode"] != 200:
                raise RuntimeError(f"answered {response['statusCode']}: {response['body']}")
            return response

        call()
        calls[variant] = call
    return calls


def preprocess_calls(spec: dict[str, Any]) -> dict[str, Callable[[], object]]:
    import dataclasses

    from model_store.manifest import ImageSpec
    from preprocessing.imaging import image_bytes_to_array

    # The input spec alone, read by whichever model_store is on the path (the baseline's
    # Manifest predates fields the current manifests carry).
    given = json.loads(Path(spec["manifest"]).read_text())["input"]
    known = {f.name for f in dataclasses.fields(ImageSpec)}
    image_spec = ImageSpec(**{k: tuple(v) if isinstance(v, list) else v  # type: ignore[arg-type]
                              for k, v in given.items() if k in known})
    data = Path(spec["image"]).read_bytes()
    return {"preprocess": lambda: image_bytes_to_array(data, image_spec)}


def observability_calls() -> dict[str, Callable[[], object]]:
    from model_runtime.observability import MetricUnit, build_logger, build_metrics
    from model_runtime.settings import Settings

    settings = Settings(model_source="unused")
    logger, metrics = build_logger(settings, "bench"), build_metrics(settings, "bench")
    access = {"method": "POST", "path": "/models/bench/predict", "status": 200,
              "request_id": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef", "latency_ms": 0.25,
              "body_bytes": 1071}

    def both(line: bool) -> None:
        logger.append_keys(cold_start=False, function_request_id="bench")
        metrics.add_metric(name="InferenceLatency", unit=MetricUnit.Milliseconds, value=0.03)
        metrics.add_metric(name="Instances", unit=MetricUnit.Count, value=2)
        metrics.add_metric(name="Latency", unit=MetricUnit.Milliseconds, value=0.25)
        if line:
            logger.info("request", extra=access)
        else:
            for key, value in access.items():
                metrics.add_metadata(key=key, value=value)
            logger.debug("request", extra=access)
        metrics.flush_metrics()

    # What the same line costs written directly (not what the runtime does: measured so the
    # README can say what replacing Powertools Metrics at request time would gain).
    namespace, service = settings.metrics_namespace, settings.service_name
    definition = {"Namespace": namespace, "Dimensions": [["model", "service"]],
                  "Metrics": [{"Name": "InferenceLatency", "Unit": "Milliseconds"},
                              {"Name": "Instances", "Unit": "Count"},
                              {"Name": "Latency", "Unit": "Milliseconds"}]}

    def direct() -> None:
        logger.append_keys(cold_start=False, function_request_id="bench")
        line = {"_aws": {"Timestamp": int(time.time() * 1000),
                         "CloudWatchMetrics": [definition]},
                "model": "bench", "service": service, "InferenceLatency": [0.03],
                "Instances": [2.0], "Latency": [0.25], **access}
        sys.stdout.write(json.dumps(line, separators=(",", ":")) + "\n")

    return {"log line + metrics line": lambda: both(True),
            "one metrics line with metadata": lambda: both(False),
            "the same line written directly (no Powertools Metrics)": direct}


def model_input(manifest: Any, event_path: str) -> np.ndarray:
    """The batch the handler would build from the request (image: via prepare_image)."""
    event = json.loads(Path(event_path).read_text())
    from model_store.manifest import ImageSpec

    instances = json.loads(event["body"])["instances"]
    if isinstance(manifest.input, ImageSpec):
        from preprocessing.imaging import image_bytes_to_array

        return np.stack([image_bytes_to_array(base64.b64decode(i["b64"]), manifest.input)
                         for i in instances])
    names = manifest.input.feature_names
    rows = [[row[n] for n in names] if isinstance(row, dict) else row for row in instances]
    return np.asarray(rows, dtype=np.float32)


def engine_call(engine: dict[str, Any], manifest: Any,
                batch: np.ndarray) -> Callable[[], np.ndarray]:
    kind, path = engine["kind"], engine["path"]
    if kind == "onnx":
        import onnxruntime as ort

        from model_runtime.inference import OnnxPredictor

        data = Path(path).read_bytes()
        names = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
        predictor = OnnxPredictor(data, input_name=names.get_inputs()[0].name,
                                  output_name=names.get_outputs()[0].name, threads=1)
        return lambda: predictor.predict(batch)
    if kind == "torch":
        import torch

        from training.image.models import load_teacher_checkpoint

        torch.set_num_threads(1)
        model, _ = load_teacher_checkpoint(Path(path))
        tensor = torch.from_numpy(batch)

        def run_torch() -> np.ndarray:
            with torch.inference_mode():
                return model(tensor).numpy()  # type: ignore[no-any-return]

        return run_torch
    if kind == "joblib":
        import joblib

        from benchmarks.naive import find_estimator

        estimator = find_estimator(joblib.load(path))
        rows = batch.astype(np.float64)
        return lambda: np.asarray(estimator.predict_proba(rows))
    raise ValueError(f"unknown engine kind {kind!r}")


def peak_rss_kb() -> int | None:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return None


def main(argv: list[str]) -> int:
    spec = json.loads(argv[1])
    timing = {"requests": spec["requests"], "warmup": spec["warmup"], "block": spec["block"]}
    report: dict[str, Any] = {"event": "warm"}
    if spec["mode"] == "handler":
        report["variants"] = interleaved(handler_calls(spec), **timing)
    elif spec["mode"] == "preprocess":
        report["variants"] = interleaved(preprocess_calls(spec), **timing)
    elif spec["mode"] == "observability":
        report["variants"] = interleaved(observability_calls(), **timing)
    else:
        from model_store.manifest import Manifest

        manifest = Manifest.from_json(Path(spec["manifest"]).read_bytes())
        batch = model_input(manifest, spec["request"])
        calls: dict[str, Callable[[], object]] = {
            e["name"]: engine_call(e, manifest, batch) for e in spec["engines"]}
        report["top_index"] = {name: np.asarray(call()).argmax(axis=1).tolist()
                               for name, call in calls.items()}
        report["batch_shape"] = list(batch.shape)
        report["variants"] = interleaved(calls, **timing)
    report["peak_rss_kb"] = peak_rss_kb()
    with os.fdopen(spec["fd"], "w") as out:
        out.write(json.dumps(report) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
