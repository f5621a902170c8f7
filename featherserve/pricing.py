"""What one million requests to a model's endpoint cost, from its measured warm latency.

    python -m featherserve.pricing [--results bench/results/results.json]
                                  [--serverless serverless.yml]

Per million warm requests, at AWS's public on-demand prices (us-east-1, x86_64, no free
tier, no data transfer)::

    Lambda compute  = 1e6 × memory_GB × ceil(duration_ms) / 1000 × $0.0000166667 per GB-s
    Lambda requests = $0.20
    API Gateway     = $3.50 (REST API, first 333 million requests a month)

Lambda bills the handler's duration rounded up to the next millisecond; ``duration_ms`` is
the warm handler latency the benchmark measured (``python -m benchmarks``), and
``memory_GB`` the function's ``memorySize`` in serverless.yml over 1024. The benchmark
machine is not a Lambda: at 1024 MB a function gets about 0.58 of a vCPU, so durations
there can be longer; at single-digit milliseconds the request charges dominate anyway.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from featherserve.project import project_root

__all__ = ["Prices", "RequestCost", "billed_ms", "estimate", "format_markdown",
           "function_memory", "main", "warm_latencies"]

ROOT = project_root()
DEFAULT_RESULTS = ROOT / "bench" / "results" / "results.json"
DEFAULT_SERVERLESS = ROOT / "serverless.yml"
# The Serverless Framework's memorySize when neither the function nor the provider sets one.
FRAMEWORK_DEFAULT_MEMORY_MB = 1024
MILLION = 1_000_000


@dataclass(frozen=True)
class Prices:
    """Public on-demand prices, us-east-1, x86_64 (USD)."""

    lambda_gb_second: float = 0.0000166667
    lambda_per_million: float = 0.20
    # REST API (what serverless.yml deploys: API keys and usage plans need it).
    api_gateway_per_million: float = 3.50
    billing_step_ms: float = 1.0


@dataclass(frozen=True)
class RequestCost:
    """One model and request kind: its warm latency and what a million such requests cost."""

    model: str
    request: str
    memory_mb: int
    median_ms: float
    p99_ms: float
    compute: float  # Lambda duration charge per million, at the median latency
    compute_p99: float  # the same at the p99 latency
    lambda_requests: float
    api_gateway: float

    @property
    def total(self) -> float:
        return self.compute + self.lambda_requests + self.api_gateway

    @property
    def total_p99(self) -> float:
        return self.compute_p99 + self.lambda_requests + self.api_gateway


def billed_ms(duration_ms: float, step_ms: float = 1.0) -> float:
    """Lambda's billed duration: rounded up to the next step (1 ms), never less than one."""
    if duration_ms < 0 or not math.isfinite(duration_ms):
        raise ValueError(f"a duration must be a finite number of ms >= 0, got {duration_ms}")
    return max(1, math.ceil(duration_ms / step_ms)) * step_ms


def compute_per_million(memory_mb: int, duration_ms: float, prices: Prices = Prices()) -> float:
    """Lambda's duration charge for a million requests of ``duration_ms`` at ``memory_mb``."""
    gb_seconds = memory_mb / 1024 * billed_ms(duration_ms, prices.billing_step_ms) / 1000
    return MILLION * gb_seconds * prices.lambda_gb_second


_PARAM = re.compile(r"\$\{param:([A-Za-z0-9_]+)\}")


def function_memory(config: Mapping[str, Any]) -> dict[str, int]:
    """Each function's memorySize (MB) in a parsed serverless.yml: its own, or the provider's."""
    default = config.get("provider", {}).get("memorySize", FRAMEWORK_DEFAULT_MEMORY_MB)
    params = (config.get("params") or {}).get("default") or {}
    memory = {}
    for name, function in (config.get("functions") or {}).items():
        value = function.get("memorySize", default)
        param = _PARAM.fullmatch(value) if isinstance(value, str) else None
        if param is not None:  # a per-stage setting: its default stage's value
            value = params.get(param.group(1), value)
        if not isinstance(value, int):
            raise ValueError(f"functions.{name}.memorySize is {value!r}: set a number of MB "
                             "to estimate costs")
        memory[name] = value
    return memory


def warm_latencies(results: Mapping[str, Any]) -> Iterator[tuple[str, str, float, float]]:
    """(model, request kind, median ms, p99 ms) for each handler variant in results.json."""
    for model, measured in sorted((results.get("warm") or {}).items()):
        for variant, timing in measured.get("variants", {}).items():
            summary = timing.get("summary_us") or {}
            if summary.get("median") is None:
                continue
            yield model, variant, summary["median"] / 1000, summary["p99"] / 1000


def estimate(results: Mapping[str, Any], memory: Mapping[str, int],
             prices: Prices = Prices()) -> list[RequestCost]:
    costs = []
    for model, request, median_ms, p99_ms in warm_latencies(results):
        if model not in memory:
            raise ValueError(f"benchmarked model {model!r} has no function in serverless.yml")
        costs.append(RequestCost(
            model=model, request=request, memory_mb=memory[model], median_ms=median_ms,
            p99_ms=p99_ms, compute=compute_per_million(memory[model], median_ms, prices),
            compute_p99=compute_per_million(memory[model], p99_ms, prices),
            lambda_requests=prices.lambda_per_million,
            api_gateway=prices.api_gateway_per_million))
    return costs


def _usd(value: float) -> str:
    return f"${value:.4f}" if value < 0.1 else f"${value:.2f}"


def format_markdown(costs: Sequence[RequestCost], prices: Prices = Prices()) -> str:
    header = ("| model | request | memory | warm median (billed) | warm p99 | Lambda compute "
              "| Lambda requests | API Gateway | **total per 1M** | total at p99 |")
    lines = [header, "|" + "---|" * 10]
    for cost in costs:
        billed = billed_ms(cost.median_ms, prices.billing_step_ms)
        lines.append(
            f"| {cost.model} | {cost.request} | {cost.memory_mb} MB | "
            f"{cost.median_ms:.2f} ms ({billed:g} ms) | {cost.p99_ms:.2f} ms | "
            f"{_usd(cost.compute)} | {_usd(cost.lambda_requests)} | {_usd(cost.api_gateway)} | "
            f"**{_usd(cost.total)}** | {_usd(cost.total_p99)} |")
    return "\n".join(lines) + "\n"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m featherserve.pricing", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS,
                        help="the benchmark's results.json (default: %(default)s)")
    parser.add_argument("--serverless", type=Path, default=DEFAULT_SERVERLESS,
                        help="where each function's memorySize comes from (default: %(default)s)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.results.is_file():
        print(f"error: no benchmark results at {args.results}; run `python -m benchmarks` "
              "first", file=sys.stderr)
        return 1
    from featherserve.service_config import load_service_config

    memory = function_memory(load_service_config(args.serverless))
    try:
        costs = estimate(json.loads(args.results.read_text()), memory)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if not costs:
        print(f"error: {args.results} holds no warm latencies", file=sys.stderr)
        return 1
    sys.stdout.write(format_markdown(costs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
