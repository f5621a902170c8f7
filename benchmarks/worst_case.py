"""``python -m benchmarks.worst_case [--repeat N] [--out FILE]``: the costliest requests.

Every request here fits the deployed body limit (4.5 MB for an image model, 256 KiB for a
tabular one) and is built to cost as much as possible (``benchmarks.hostile_inputs``).
Each runs in a fresh process: the real handler of a shipped model is initialised and
answers one ordinary request (resting memory is measured then), then the hostile request
is sent ``--repeat`` times. Reported: the status, the best wall time (the machine is
shared: the best run is the one least disturbed), the worst CPU time, and the peak
resident memory above rest during the first hostile request (Linux: the peak is reset
through /proc/self/clear_refs). The bound the runtime promises: 1 s and 200 MiB.
"""

from __future__ import annotations

import argparse
import base64
import gc
import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

from benchmarks import hostile_inputs as hostile
from featherserve.support.events import load_event, with_body, with_route
from model_runtime import Settings, serve_model

ROOT = Path(__file__).resolve().parents[1]
IMAGE_BODY_LIMIT = 4_500_000
TABULAR_BODY_LIMIT = 262_144
MAX_BATCH = 64
TIME_BOUND_S = 1.0
MEMORY_BOUND_MIB = 200.0


@dataclass(frozen=True)
class Case:
    name: str
    model: str
    event: Callable[[], dict[str, Any]]


@dataclass(frozen=True)
class Measured:
    name: str
    model: str
    status: int
    code: str
    body_bytes: int
    seconds: float
    cpu_seconds: float
    peak_above_rest_mib: float

    @property
    def within_bounds(self) -> bool:
        return (min(self.seconds, self.cpu_seconds) <= TIME_BOUND_S
                and self.peak_above_rest_mib <= MEMORY_BOUND_MIB)


def event(model: str, body: bytes | str, content_type: str | None,
          headers: dict[str, str] | None = None) -> dict[str, Any]:
    built = with_route(load_event("breast_cancer_predict_v2"), "POST", f"/models/{model}/predict")
    built = with_body(built, body, content_type=content_type,
                      base64_encoded=isinstance(body, bytes) and content_type != "application/json")
    built["headers"].update(headers or {})
    return built


def as_many_as_fit(image: bytes, limit: int = IMAGE_BODY_LIMIT) -> bytes:
    """``{"instances": [{"b64": image}, ...]}`` with as many copies as the limits allow."""
    item = json.dumps({"b64": base64.b64encode(image).decode()})
    count = max(1, min(MAX_BATCH, (limit - 20) // (len(item) + 1)))
    return ('{"instances":[' + ",".join([item] * count) + "]}").encode()


def batch_event(build: Callable[[], bytes]) -> dict[str, Any]:
    return event("digits", as_many_as_fit(build()), "application/json")


def raw_event(build: Callable[[], bytes], content_type: str, headers: dict[str, str]
              ) -> dict[str, Any]:
    return event("digits", build(), content_type, headers)


def one_char_lines_event() -> dict[str, Any]:
    wrapped = "\n".join(base64.b64encode(hostile.png16_grey()).decode())
    return event("digits", json.dumps({"instances": [{"b64": wrapped}]}), "application/json")


def image_cases() -> list[Case]:
    batches = {
        "64 x 16-bit grey PNG 4096^2 (JSON)": hostile.png16_grey,
        "8-bit grey PNG 4096^2, batch (JSON)": hostile.png8,
        "RGBA PNG 4096^2, batch (JSON)": hostile.png_rgba,
        "16-bit RGBA PNG 4096^2, batch (JSON)": hostile.png_rgba16,
        "interlaced PNG 4096^2, batch (JSON)": hostile.png_interlaced,
        "PNG with 64 x 1 MB zTXt, batch (JSON)": hostile.png_text_bomb,
        "GIF 4096^2, batch (JSON)": hostile.gif,
        "WebP lossless 4096^2, batch (JSON)": hostile.webp_lossless,
        "WebP lossy 4096^2, batch (JSON)": hostile.webp_lossy,
        "RLE8 BMP 4096^2, batch (JSON)": hostile.bmp_rle8,
        "progressive JPEG 4096^2, 64 scans, batch (JSON)":
            lambda: hostile.jpeg_progressive(scans=64),
        "progressive RGB JPEG 4096^2, batch (JSON)":
            lambda: hostile.jpeg_progressive(mode="RGB"),
        "JPEG with 5000 scans (JSON)": lambda: hostile.jpeg_progressive(64, scans=5000),
    }
    cases = [Case(name, "digits", partial(batch_event, build)) for name, build in batches.items()]
    cases.append(Case("64 x 1024^2 JPEG photos, valid (JSON)", "digits",
                      partial(batch_event, partial(hostile.photo_jpeg, 1024))))
    cases.append(Case("448^2 noisy RGB PNGs, as many as fit, valid (JSON)", "digits",
                      partial(batch_event, partial(hostile.photo_png, 448))))
    cases.append(Case("16-bit RGBA PNG 4096^2 (raw body)", "digits",
                      partial(raw_event, hostile.png_rgba16, "image/png", {})))
    cases.append(Case("gzip bomb, 1 GiB inflated (raw body)", "digits",
                      partial(raw_event, hostile.gzip_bomb, "application/octet-stream",
                              {"content-encoding": "gzip"})))
    cases.append(Case("base64 with a line break after every character", "digits",
                      one_char_lines_event))
    cases.append(Case("JSON nested 4.5 MB deep", "digits", lambda: event(
        "digits", hostile.deep_json(IMAGE_BODY_LIMIT), "application/json")))
    return cases


def tabular_cases() -> list[Case]:
    limit = TABULAR_BODY_LIMIT
    return [
        Case("JSON nested 256 KiB deep", "breast_cancer", lambda: event(
            "breast_cancer", hostile.deep_json(limit), "application/json")),
        Case("85k empty lists in one instance", "breast_cancer", lambda: event(
            "breast_cancer", hostile.wide_json(limit), "application/json")),
        Case("a 256k-digit integer feature", "breast_cancer", lambda: event(
            "breast_cancer", hostile.huge_number_json(limit), "application/json")),
        Case("JSON nested 4.5 MB deep, no body limit set", "breast_cancer_unbounded",
             lambda: event("breast_cancer", hostile.deep_json(IMAGE_BODY_LIMIT),
                           "application/json")),
        Case("1.5M empty lists, no body limit set", "breast_cancer_unbounded", lambda: event(
            "breast_cancer", hostile.wide_json(IMAGE_BODY_LIMIT), "application/json")),
    ]


def _status_memory_mib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def measure(case: Case, repeat: int) -> Measured:
    """In this (fresh) process: init the handler, answer one ordinary request, then ``case``."""
    handler = make_handler(case.model)
    model = case.model.removesuffix("_unbounded")
    ordinary = ROOT / "tests" / "events" / f"{model}_predict_v2.json"
    assert handler(json.loads(ordinary.read_text()), None)["statusCode"] == 200
    built = case.event()
    gc.collect()
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM (peak RSS) to the current RSS
    rest = _status_memory_mib("VmRSS")
    times, cpu, peak, response = [], [], 0.0, {}
    for run in range(repeat):
        started, cpu_started = time.perf_counter(), time.process_time()
        response = handler(built, None)
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - cpu_started)
        if run == 0:
            peak = _status_memory_mib("VmHWM")
    body = json.loads(response["body"]) if response["body"] else {}
    return Measured(case.name, case.model, response["statusCode"],
                    body.get("error", {}).get("code", ""), len(built.get("body") or ""),
                    round(min(times), 4), round(max(cpu), 4), round(max(0.0, peak - rest), 1))


def make_handler(model: str) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    limit = TABULAR_BODY_LIMIT if model == "breast_cancer" else IMAGE_BODY_LIMIT
    return serve_model(model.removesuffix("_unbounded"), settings=Settings(
        model_source=str(ROOT / "models"), max_body_bytes=limit))


def all_cases() -> list[Case]:
    return image_cases() + tabular_cases()


def run(repeat: int) -> list[Measured]:
    """Each case in a child process of its own (``--case N``), one after the other."""
    results = []
    for index in range(len(all_cases())):
        child = subprocess.run(
            [sys.executable, "-m", "benchmarks.worst_case", "--case", str(index),
             "--repeat", str(repeat)], cwd=ROOT, capture_output=True, text=True, check=True)
        results.append(Measured(**json.loads(child.stdout.strip().splitlines()[-1])))
    return results


def render(results: list[Measured]) -> str:
    lines = ["| request | status | code | body bytes | wall s (best) | CPU s (worst) | "
             "MiB above rest |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in results:
        flag = "" if r.within_bounds else " **over**"
        lines.append(f"| {r.name} ({r.model}) | {r.status} | {r.code} | {r.body_bytes} | "
                     f"{r.seconds:.3f}{flag} | {r.cpu_seconds:.3f} | "
                     f"{r.peak_above_rest_mib:.1f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.worst_case")
    parser.add_argument("--repeat", type=int, default=3, help="runs per case; the worst counts")
    parser.add_argument("--out", type=Path, help="also write the results as JSON here")
    parser.add_argument("--case", type=int, help=argparse.SUPPRESS)  # the child's one case
    args = parser.parse_args(argv)
    if args.case is not None:
        print(json.dumps(asdict(measure(all_cases()[args.case], args.repeat))))
        return 0
    results = run(args.repeat)
    print(render(results))
    if args.out:
        args.out.write_text(json.dumps([asdict(r) for r in results], indent=2) + "\n")
    return 0 if all(r.within_bounds and r.status < 500 for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
