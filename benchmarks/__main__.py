"""``python -m benchmarks [--quick] [--samples N] [--requests N] [--out DIR]``.

    cold start   fresh process per sample: floor, each shipped handler (model layer folder,
                 and S3 on a local moto_server), naive teacher baselines
    warm         per handler, many requests in one process; bare student vs teacher inference
    memory       peak RSS of every process
    output       results.json, results.md, chart.png in --out; the Markdown is also printed

``--quick`` (what the test suite runs) takes fewer samples and writes to build/bench-quick,
never over the committed bench/results.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.chart import draw_cold_start_chart
from benchmarks.children import ROOT
from benchmarks.cold_start import run_cold_starts
from benchmarks.machine import machine_info
from benchmarks.payloads import ModelRequests, write_requests
from benchmarks.report import render_markdown
from benchmarks.results import build_results, write_json
from benchmarks.s3_fixture import S3Fixture, moto_s3
from benchmarks.scenarios import (
    Scenario,
    ShippedModel,
    Teachers,
    floor_scenario,
    freeze_models,
    freeze_teachers,
    handler_scenario,
    naive_scenarios,
    shipped_model_names,
)
from benchmarks.warm import WarmPlan, run_warm
from model_store.base import PROJECT_STORE


@dataclass(frozen=True)
class RunSize:
    samples: int
    requests: int
    out: Path


FULL = RunSize(samples=15, requests=2000, out=ROOT / "bench" / "results")
QUICK = RunSize(samples=3, requests=200, out=ROOT / "build" / "bench-quick")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK.samples} samples, {QUICK.requests} warm requests, "
                             "output to build/bench-quick")
    parser.add_argument("--samples", type=int, help="cold-start samples per scenario "
                        f"(default {FULL.samples}, quick {QUICK.samples})")
    parser.add_argument("--requests", type=int, help="warm requests per variant "
                        f"(default {FULL.requests}, quick {QUICK.requests})")
    parser.add_argument("--out", type=Path, help="output folder (default bench/results, "
                        "quick build/bench-quick)")
    parser.add_argument("--store", type=Path, default=PROJECT_STORE,
                        help="model store to take the shipped models from (default %(default)s)")
    parser.add_argument("--teachers", type=Path, default=ROOT / "build" / "teachers",
                        help="folder with <model>_teacher.{joblib,pt,onnx} (default %(default)s)")
    parser.add_argument("--no-s3", action="store_true", help="skip the S3 scenarios")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    defaults = QUICK if args.quick else FULL
    size = RunSize(samples=args.samples or defaults.samples,
                   requests=args.requests or defaults.requests, out=args.out or defaults.out)
    if size.samples < 1 or size.requests < 1:
        raise SystemExit("--samples and --requests must be at least 1")
    names = shipped_model_names(args.store)
    if not names:
        raise SystemExit(f"no model in {args.store} has a handler in handlers/: "
                         "publish one first (make models)")
    results = measure(args, size, names)
    write_json(results, size.out / "results.json")
    markdown = render_markdown(results)
    (size.out / "results.md").write_text(markdown)
    draw_cold_start_chart(results, size.out / "chart.png")
    print(markdown)
    print(f"wrote results.json, results.md, chart.png to {size.out}", file=sys.stderr)
    return 1 if results["errors"] else 0


def measure(args: argparse.Namespace, size: RunSize, names: list[str]) -> dict[str, Any]:
    """Freeze the models and teachers, run every measurement, and return the results."""
    started = time.perf_counter()
    machine = machine_info(ROOT)
    notes: list[str] = []
    plan = WarmPlan(requests=size.requests, warmup=max(20, size.requests // 10))
    print(f"benchmarking {', '.join(names)}: {size.samples} cold starts per scenario, "
          f"{size.requests} warm requests per variant", file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory(prefix="featherserve-bench-") as scratch_name:
        scratch = Path(scratch_name)
        layer_root = scratch / "layer" / "models"
        models = freeze_models(args.store, names, layer_root)
        teachers = freeze_teachers(args.teachers, names, scratch / "teachers")
        requests = {n: write_requests(m, scratch / "events") for n, m in models.items()}
        notes += [f"no teacher artefacts for {n} in {args.teachers}: no naive baseline for it"
                  for n in names if teachers[n] == Teachers()]
        s3_context: contextlib.AbstractContextManager[S3Fixture | None] = (
            contextlib.nullcontext() if args.no_s3 else moto_s3(scratch, models))
        if args.no_s3:
            notes.append("S3 scenarios skipped (--no-s3)")
        with s3_context as s3:
            scenarios = plan_scenarios(models, teachers, requests, layer_root, s3)
            cold = run_cold_starts(scenarios, samples=size.samples, scratch=scratch)
        warm = run_warm(models, requests, teachers, layer_root=layer_root, plan=plan,
                        scratch=scratch)
    machine["load_average_at_end"] = list(os.getloadavg())
    settings = {"samples": size.samples, "requests": size.requests, "warmup": plan.warmup,
                "store": str(args.store), "teachers": str(args.teachers),
                "scratch": scratch_name, "s3_source": s3.source if s3 else None,
                "moto_server_pid": s3.server_pid if s3 else None}
    return build_results(
        mode="quick" if args.quick else "full", machine=machine, settings=settings,
        models=models, s3_versions=s3.published if s3 else {}, scenarios=scenarios,
        cold=cold, warm=warm, notes=notes, seconds=time.perf_counter() - started)


def plan_scenarios(models: dict[str, ShippedModel], teachers: dict[str, Teachers],
                   requests: dict[str, ModelRequests], layer_root: Path,
                   s3: S3Fixture | None) -> list[Scenario]:
    """Floor first, then per model: layer, S3, naive teacher (the order of every round)."""
    scenarios = [floor_scenario()]
    for name, model in models.items():
        event = requests[name].first
        naive = naive_scenarios(model, teachers[name], event)
        baseline = naive[0].id if naive else None
        scenarios.append(handler_scenario(model, event, source=str(layer_root), kind="layer",
                                          env={}, baseline=baseline))
        if s3 is not None:
            scenarios.append(handler_scenario(model, event, source=s3.source, kind="s3",
                                              env=s3.env, baseline=baseline))
        scenarios += naive
    return scenarios


if __name__ == "__main__":
    sys.exit(main())
