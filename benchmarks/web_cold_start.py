"""Cold start of the ``web`` function beside the model functions, in the same run.

    python -m benchmarks.web_cold_start [--samples 15] [--out bench/results]

What ships is what runs: ``sls package`` of the service (layers from ``make layers``), the
template's functions read back by the fidelity runner's ``load_package``, each unpacked
into a task root and an opt folder with Lambda's environment, and started as a fresh
CPython 3.12 ``-I -B`` process per sample that answers one real-shaped event
(tests/events): the web function its catalog (REST v1), each model function a prediction.
Samples are interleaved round-robin with ``benchmarks.cold_start`` (a shifted start each
round), after one unmeasured run each. A bare ``python -I`` floor runs in the same rounds.

Two import-only scenarios on the virtualenv's interpreter back the choice of plain
werkzeug over Flask for the web app (Flask is not in the web layer, so it is measured where
it is installed; both in the same rounds).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.children import ROOT
from benchmarks.cold_start import run_cold_starts
from benchmarks.scenarios import Scenario
from featherserve.fidelity import FunctionSpec, load_package
from featherserve.fidelity.sandbox import Unpacker, lambda_environment
from featherserve.layers.exceptions import TargetInterpreterError
from featherserve.layers.interpreter import find_target_interpreter
from featherserve.support.processes import NODE_BIN, tool_env

EVENTS = ROOT / "tests" / "events"
LAYERS = ROOT / "build" / "layers"
WEB = "web"
# The first request each function answers, and what it imports before its handler module.
FIRST_REQUEST = {WEB: ("web_catalog_v1", ("webapp",)),
                 "breast_cancer": ("breast_cancer_predict_v1", ("model_runtime",)),
                 "digits": ("digits_predict_v1", ("model_runtime",))}
RESULT_FILE = "web_cold_start.json"


def package_service(out: Path) -> list[FunctionSpec]:
    """``sls package`` into ``out`` (layers by absolute path, so load_package finds them)."""
    command = [str(NODE_BIN / "sls"), "package", "--stage", "dev", "--region", "us-east-1",
               "--package", str(out)]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600,
                            env=tool_env({"FEATHERSERVE_LAYERS_DIR": str(LAYERS.resolve())}))
    if result.returncode != 0:
        raise SystemExit(f"sls package failed:\n{result.stdout}\n{result.stderr}")
    return list(load_package(out).functions)


def packaged_scenarios(functions: Sequence[FunctionSpec], scratch: Path, python: str
                       ) -> list[Scenario]:
    """The web function and each model function, as Lambda would start them."""
    unpacker = Unpacker(scratch / "zips")
    prefix = Path(python).resolve().parents[1]
    command = (python, "-I", "-B")  # -B: Lambda's task root is read-only
    found = []
    for function in functions:
        if function.name not in FIRST_REQUEST:
            continue  # the bulk functions answer SQS batches: not a first request
        sandbox = unpacker.unpack(function, scratch / "sandboxes" / function.name)
        env = lambda_environment(function, sandbox, region="us-east-1",
                                 runtime_dir=scratch / "no-runtime-dir", python_prefix=prefix)
        event, imports = FIRST_REQUEST[function.name]
        opt = sandbox.opt / "python"
        module = function.handler.rsplit(".", 1)[0].replace("/", ".")
        found.append(Scenario(
            id=f"packaged/{function.name}", kind="layer", where="packaged",
            model=function.name,
            label=f"{function.name}: {module}, packaged (CPython 3.12 -I, task root + layers)",
            imports=imports, init={"module": module, "attribute": "handler"},
            event=EVENTS / f"{event}.json", env=env, clean_env=True, command=command,
            sys_path=(str(sandbox.task), str(opt / "lib" / "python3.12" / "site-packages"),
                      str(opt))))
    if found:
        first = found[0]
        found.insert(0, Scenario(id="packaged/floor", kind="floor", where="packaged",
                                 label="floor: CPython 3.12 -I, nothing imported",
                                 env=first.env, clean_env=True, command=command,
                                 sys_path=first.sys_path))
    return found


def framework_scenarios() -> list[Scenario]:
    """Importing the web app's framework: werkzeug + serverless-wsgi (shipped) vs Flask."""
    return [Scenario(id="venv/werkzeug", kind="extra", label="import werkzeug routing, "
                     "wrappers + serverless_wsgi (virtualenv)",
                     imports=("werkzeug.routing", "werkzeug.wrappers", "serverless_wsgi")),
            Scenario(id="venv/flask", kind="extra", label="import flask + serverless_wsgi "
                     "(virtualenv)", imports=("flask", "serverless_wsgi"))]


def summarise(samples: list[dict[str, Any]]) -> dict[str, Any]:
    walls = sorted(s["wall_ms"] for s in samples)
    quartiles = statistics.quantiles(walls, n=4) if len(walls) >= 2 else [walls[0]] * 3
    return {"n": len(walls), "median_ms": statistics.median(walls), "min_ms": walls[0],
            "max_ms": walls[-1], "p25_ms": quartiles[0], "p75_ms": quartiles[2],
            "iqr_ms": quartiles[2] - quartiles[0],
            "median_init_ms": statistics.median(s["init_ms"] or 0.0 for s in samples),
            "median_peak_rss_mb": statistics.median(s["peak_rss_kb"] for s in samples) / 1024,
            "boto3_loaded": any(s["boto3_loaded"] for s in samples)}


def report(summaries: dict[str, dict[str, Any]], labels: dict[str, str]) -> str:
    lines = [f"{'scenario':<26}{'n':>3}{'median':>9}{'IQR':>8}{'min':>8}{'max':>8}"
             f"{'init':>8}{'RSS MB':>8}  what"]
    for key, s in summaries.items():
        lines.append(f"{key:<26}{s['n']:>3}{s['median_ms']:>9.1f}{s['iqr_ms']:>8.1f}"
                     f"{s['min_ms']:>8.1f}{s['max_ms']:>8.1f}{s['median_init_ms']:>8.1f}"
                     f"{s['median_peak_rss_mb']:>8.1f}  {labels[key]}")
    web = summaries.get(f"packaged/{WEB}")
    for key, s in summaries.items():
        if web and key.startswith("packaged/") and key not in ("packaged/floor",
                                                                f"packaged/{WEB}"):
            lines.append(f"web ÷ {key.removeprefix('packaged/')}: "
                         f"{web['median_ms'] / s['median_ms']:.2f} (median wall, same run)")
    flask, werkzeug = summaries.get("venv/flask"), summaries.get("venv/werkzeug")
    if flask and werkzeug:
        lines.append(f"flask − werkzeug import: {flask['median_ms'] - werkzeug['median_ms']:.1f}"
                     " ms (median wall, same run)")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=15)
    parser.add_argument("--out", type=Path, default=None,
                        help=f"folder for {RESULT_FILE} (default: print only)")
    args = parser.parse_args(argv)
    try:
        interpreter = find_target_interpreter().interpreter
    except TargetInterpreterError as exc:
        raise SystemExit(f"no CPython 3.12 for the packaged functions: {exc}") from None
    if interpreter is None or not interpreter.can_import_layer:
        raise SystemExit("no CPython 3.12 that can load the layers (linux/x86_64)")
    python = interpreter.path
    with tempfile.TemporaryDirectory(prefix="web-cold-") as folder:
        scratch = Path(folder)
        functions = package_service(scratch / "package")
        scenarios = packaged_scenarios(functions, scratch, python)
        scenarios += framework_scenarios()
        result = run_cold_starts(scenarios, samples=args.samples, scratch=scratch)
    if result.errors:
        print(json.dumps(result.errors, indent=2), file=sys.stderr)
    summaries = {s.id: summarise(result.samples[s.id]) for s in scenarios
                 if result.samples[s.id]}
    labels = {s.id: s.label for s in scenarios}
    print(report(summaries, labels))
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        document = {"samples_per_scenario": args.samples, "python": python,
                    "scenarios": {k: {"label": labels[k], **v} for k, v in summaries.items()},
                    "errors": result.errors}
        (args.out / RESULT_FILE).write_text(json.dumps(document, indent=2) + "\n")
    return 1 if result.errors else 0


if __name__ == "__main__":
    sys.exit(main())
