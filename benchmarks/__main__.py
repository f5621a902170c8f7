"""``python -m benchmarks [--quick] [--samples N] [--requests N] [--out DIR]``.

    cold start   fresh process per sample (benchmarks/plan.py): the plain and like-for-like
                 floors, each shipped handler (model layer folder; S3 on a local
                 moto_server), each handler with one change undone, the naive teacher
                 baselines; and the packaged function zip + layers on CPython 3.12 -I
    warm         per handler, many requests in one process; bare student vs teacher
                 inference; before/after pairs for the warm changes
    snapstart    the fidelity runner's SnapStart run: hooks in order, first request after
                 the restore against warm ones
    throughput   requests/s on loopback, same requests: in process, serverless-offline,
                 and Flask + waitress serving the scikit-learn teacher (benchmarks/throughput.py)
    goals        issue 13's goals as ratios with pass/fail (benchmarks/goals.py)
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
from benchmarks.packaged import (
    PackagedFunction,
    PackagedFunctions,
    find_python312,
    function_environment,
    stage_code,
)
from benchmarks.payloads import write_requests
from benchmarks.plan import CodeTrees, plan_scenarios
from benchmarks.report import render_markdown
from benchmarks.results import build_results, write_json
from benchmarks.s3_fixture import S3Fixture, moto_s3
from benchmarks.scenarios import (
    Teachers,
    freeze_models,
    freeze_teachers,
    shipped_model_names,
)
from benchmarks.snapstart_run import baseline_tree, snapstart_runs
from benchmarks.throughput import Load, run_throughput
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
    parser.add_argument("--no-packaged", action="store_true",
                        help="skip the packaged (CPython 3.12) scenarios and the SnapStart run")
    parser.add_argument("--no-throughput", action="store_true",
                        help="skip the serving-throughput comparison")
    parser.add_argument("--no-ablations", action="store_true",
                        help="skip the scenarios that undo one change each (--quick does)")
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
        process_env = function_environment()
        code = CodeTrees(bytecode=stage_code(scratch / "code" / "bytecode", bytecode=True),
                         source=stage_code(scratch / "code" / "source", bytecode=False))
        packaged = ({} if args.no_packaged else
                    packaged_functions(scratch / "packaged", layer_root, list(models), notes))
        s3_context: contextlib.AbstractContextManager[S3Fixture | None] = (
            contextlib.nullcontext() if args.no_s3 else moto_s3(scratch, models))
        if args.no_s3:
            notes.append("S3 scenarios skipped (--no-s3)")
        with s3_context as s3:
            scenarios = plan_scenarios(models, teachers, requests, layer_root, s3, code=code,
                                       process_env=process_env, packaged=packaged,
                                       ablations=not (args.no_ablations or args.quick))
            cold = run_cold_starts(scenarios, samples=size.samples, scratch=scratch)
        before = baseline_tree(scratch / "baseline", notes)
        warm = run_warm(models, requests, teachers, layer_root=layer_root, plan=plan,
                        scratch=scratch, baseline_tree=before,
                        code_env={"PYTHONPATH": os.pathsep.join((str(code.bytecode), str(ROOT))),
                                  **process_env})
        extra: dict[str, Any] = {"errors": {}}
        if not args.no_throughput:
            extra["throughput"] = run_throughput(
                models, {n: r.first for n, r in requests.items()}, teachers, warm.handlers,
                layer_root=layer_root, scratch=scratch / "throughput",
                load=Load(requests=max(100, size.requests // 4)))
        if packaged:
            extra["snapstart"] = snapstart_runs(
                packaged, {n: r.first for n, r in requests.items()}, scratch / "snapstart",
                extra["errors"], runs=2 if args.quick else 5)
    machine["load_average_at_end"] = list(os.getloadavg())
    settings = {"samples": size.samples, "requests": size.requests, "warmup": plan.warmup,
                "store": str(args.store), "teachers": str(args.teachers),
                "scratch": scratch_name, "s3_source": s3.source if s3 else None,
                "moto_server_pid": s3.server_pid if s3 else None,
                "process_env": process_env,
                "python312": next(iter(packaged.values())).python if packaged else None}
    return build_results(
        mode="quick" if args.quick else "full", machine=machine, settings=settings,
        models=models, s3_versions=s3.published if s3 else {}, scenarios=scenarios,
        cold=cold, warm=warm, notes=notes, seconds=time.perf_counter() - started,
        extra=extra)


def packaged_functions(scratch: Path, store: Path, names: list[str], notes: list[str]
                       ) -> dict[str, PackagedFunction]:
    """Each model's function zip + layers unpacked as Lambda would (needs CPython 3.12)."""
    interpreter = find_python312()
    if interpreter is None or not interpreter.can_import_layer:
        notes.append("no CPython 3.12 that can load the layers: packaged scenarios skipped")
        return {}
    functions = PackagedFunctions(scratch, interpreter, store)
    found = {}
    for name in names:
        missing = functions.missing_layers(name)
        if missing:
            notes.append(f"{name}: packaged scenario skipped, missing {', '.join(missing)} "
                         "(make layers)")
            continue
        found[name] = functions.function(name, {})
    return found


if __name__ == "__main__":
    sys.exit(main())
