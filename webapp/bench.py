"""The latest benchmark (``bench/results/results.json``) as a few numbers per model.

Only numbers measured on the very model version the catalog shows are used (same sha256):
a benchmark of v1 says nothing about v2.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# AWS's public on-demand prices, us-east-1, x86_64 (USD): the same as the tooling's
# featherserve.pricing (a test keeps them equal).
LAMBDA_GB_SECOND = 0.0000166667
LAMBDA_PER_MILLION = 0.20
API_GATEWAY_PER_MILLION = 3.50
MILLION = 1_000_000


@dataclass(frozen=True)
class BenchNumbers:
    cold_start_ms: float | None
    warm_ms: float | None
    warm_request: str
    cost_per_million: float | None
    measured_at: str
    machine: str


def cost_per_million(memory_mb: int, duration_ms: float) -> float:
    """Lambda compute (billed per started ms) + Lambda requests + API Gateway, per million."""
    billed = max(1, math.ceil(duration_ms))
    compute = MILLION * memory_mb / 1024 * billed / 1000 * LAMBDA_GB_SECOND
    return compute + LAMBDA_PER_MILLION + API_GATEWAY_PER_MILLION


def load_results(path: str | Path) -> Mapping[str, Any] | None:
    """The parsed results, or None when there is no (readable) benchmark."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def numbers_for(results: Mapping[str, Any] | None, name: str, sha256: str,
                memory_mb: int) -> BenchNumbers | None:
    if not results:
        return None
    models = results.get("models") or {}
    measured = models.get(name) if isinstance(models, dict) else None
    if not isinstance(measured, dict) or measured.get("sha256") != sha256:
        return None
    cold = _cold_start_ms(results.get("cold_start") or [], name)
    warm_request, warm_ms = _warm_ms(results.get("warm") or {}, name)
    machine = results.get("machine") or {}
    return BenchNumbers(
        cold_start_ms=cold, warm_ms=warm_ms, warm_request=warm_request,
        cost_per_million=cost_per_million(memory_mb, warm_ms) if warm_ms is not None else None,
        measured_at=str(machine.get("date", "")) if isinstance(machine, dict) else "",
        machine=str(machine.get("cpu_model", "")) if isinstance(machine, dict) else "")


def _cold_start_ms(scenarios: Any, name: str) -> float | None:
    """Median cold start of the model's handler reading its model layer."""
    for scenario in scenarios if isinstance(scenarios, list) else []:
        if not isinstance(scenario, dict):
            continue
        if scenario.get("model") == name and scenario.get("kind") == "layer":
            walls = [float(s["wall_ms"]) for s in scenario.get("samples") or []
                     if isinstance(s, dict) and isinstance(s.get("wall_ms"), int | float)]
            return statistics.median(walls) if walls else None
    return None


def _warm_ms(warm: Any, name: str) -> tuple[str, float | None]:
    """The first warm variant's median latency (the benchmark lists the plainest first)."""
    variants = warm.get(name, {}).get("variants", {}) if isinstance(warm, dict) else {}
    for request, timing in variants.items() if isinstance(variants, dict) else []:
        median = (timing.get("summary_us") or {}).get("median")
        if isinstance(median, int | float):
            return str(request), median / 1000
    return "", None
