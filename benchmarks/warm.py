"""Warm latency per handler, and bare model inference: student vs teacher, same run.

One long-lived child per handler serves every request variant of its model from the
frozen layer folder; one more child per model times the bare models on the same input.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.children import ROOT, ChildFailed, child_env, run_child, script_command
from benchmarks.payloads import ModelRequests
from benchmarks.scenarios import ShippedModel, Teachers
from benchmarks.summary import describe

BLOCK = 50


@dataclass(frozen=True)
class WarmPlan:
    requests: int
    warmup: int
    timeout: float = 600.0


@dataclass
class WarmResults:
    handlers: dict[str, dict[str, Any]] = field(default_factory=dict)
    inference: dict[str, dict[str, Any]] = field(default_factory=dict)
    # A change's warm effect: the same work before and after it, same run.
    changes: dict[str, dict[str, Any]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def run_warm(models: Mapping[str, ShippedModel], requests: Mapping[str, ModelRequests],
             teachers: Mapping[str, Teachers], *, layer_root: Path, plan: WarmPlan,
             scratch: Path, code_env: Mapping[str, str] | None = None,
             baseline_tree: Path | None = None) -> WarmResults:
    """``code_env``: PYTHONPATH and process settings of the handler scenarios;
    ``baseline_tree``: the runtime packages before issue 13, for the before/after pairs."""
    results = WarmResults()
    env = child_env({"FEATHERSERVE_MODEL_SOURCE": str(layer_root), **(code_env or {})})
    timing = {"requests": plan.requests, "warmup": plan.warmup, "block": BLOCK}
    for name, model in models.items():
        spec = {"mode": "handler", "module": model.handler_module,
                "variants": {v: str(p) for v, p in requests[name].warm.items()}, **timing}
        _collect(results, results.handlers, name, spec, env, scratch, plan)
        engines = inference_engines(model, teachers.get(name, Teachers()))
        if len(engines) > 1:
            spec = {"mode": "inference", "manifest": str(model.manifest_file),
                    "request": str(requests[name].first), "engines": engines, **timing}
            _collect(results, results.inference, name, spec, env, scratch, plan)
            for engine in engines if name in results.inference else ():
                results.inference[name]["variants"][engine["name"]]["file_bytes"] = \
                    Path(engine["path"]).stat().st_size
        if model.is_image and baseline_tree is not None:
            image = requests[name].image
            spec = {"mode": "preprocess", "manifest": str(model.manifest_file),
                    "image": str(image), **timing}
            pair = {}
            for when, tree in (("before", str(baseline_tree)), ("after", env["PYTHONPATH"])):
                into: dict[str, dict[str, Any]] = {}
                path = os.pathsep.join((tree, str(ROOT)))
                _collect(results, into, f"{name}-{when}", spec, {**env, "PYTHONPATH": path},
                         scratch, plan)
                if into:
                    pair[when] = into[f"{name}-{when}"]["variants"]["preprocess"]["summary_us"]
            results.changes[f"image preprocessing ({name}, 224×224 JPEG → input tensor)"] = pair
    observability: dict[str, dict[str, Any]] = {}
    _collect(results, observability, "powertools", {"mode": "observability", **timing}, env,
             scratch, plan)
    if observability:
        variants = observability["powertools"]["variants"]
        results.changes["Powertools per request: one JSON line (metrics + access metadata)"
                        " instead of a log line and a metrics line"] = {
            "before": variants["log line + metrics line"]["summary_us"],
            "after": variants["one metrics line with metadata"]["summary_us"]}
        results.changes["not done, measured: that line written directly instead of through "
                        "Powertools Metrics"] = {
            "before": variants["one metrics line with metadata"]["summary_us"],
            "after": variants["the same line written directly (no Powertools Metrics)"][
                "summary_us"]}
    return results


def inference_engines(model: ShippedModel, teachers: Teachers) -> list[dict[str, str]]:
    """The served student first (the ratios' denominator), then whichever teachers exist."""
    engines = [{"name": "int8 student, onnxruntime" if model.manifest.quantization.method
                != "none" else "student, onnxruntime", "kind": "onnx",
                "path": str(model.model_file)}]
    if teachers.onnx is not None:
        engines.append({"name": "teacher ONNX, onnxruntime", "kind": "onnx",
                        "path": str(teachers.onnx)})
    if teachers.torch is not None and model.is_image:
        engines.append({"name": "teacher, PyTorch eager", "kind": "torch",
                        "path": str(teachers.torch)})
    if teachers.joblib is not None and not model.is_image:
        engines.append({"name": "teacher, scikit-learn (joblib)", "kind": "joblib",
                        "path": str(teachers.joblib)})
    return engines


def _collect(results: WarmResults, into: dict[str, dict[str, Any]], name: str,
             spec: dict[str, Any], env: dict[str, str], scratch: Path, plan: WarmPlan) -> None:
    what = f"{name} {spec['mode']}"
    print(f"  warm: {what} ({plan.requests} requests per variant)", file=sys.stderr, flush=True)
    try:
        run = run_child(script_command("warm_probe.py"), spec, env=env,
                        log_path=scratch / "logs" / f"warm-{name}-{spec['mode']}.log",
                        timeout=plan.timeout)
        report = run.report("warm")
    except ChildFailed as exc:
        results.errors[what] = str(exc)
        print(f"  {what} failed:\n{exc}", file=sys.stderr)
        return
    variants = {}
    for variant, timing in report["variants"].items():
        latencies = timing["latencies_us"]
        variants[variant] = {
            "summary_us": describe(latencies),
            "throughput_rps": len(latencies) / timing["seconds"] if timing["seconds"] else None,
            "latencies_us": latencies}
    into[name] = {"variants": variants, "peak_rss_kb": report["peak_rss_kb"],
                  **{k: report[k] for k in ("top_index", "batch_shape") if k in report}}
