"""``python -m benchmarks.pool [--quick] [--out DIR]``: pooled models against dedicated ones.

One run generates N tiny tabular models (tests/support/tiny_models.py, each its own
weights), publishes them to a folder store (a packed layer, as Lambda's /opt holds it) and
to a real ``moto_server`` on 127.0.0.1 (the S3 store), and measures, each in fresh
processes (benchmarks/pool_child.py):

    cold start   a pool function listing the N models (import + init + its first request)
                 against a dedicated function of one of them (``serve_model``), interleaved
    first use    a model's first request (load: resolve, read, sha256, session) against its
                 second (loaded), from the folder and from S3 (a fresh /tmp cache)
    memory       RSS grown by loading k more models, over k, for several k; against the
                 pool's own charge per model (model_runtime/pool/memory.py)
    traffic      an LRU of C models under a working set of 10 C: uniform and Zipf (s=1.1)
                 traffic, hit rate, median and p95 latency, against all hits (C models)

Ratios are against a baseline measured in the same run. Written to DIR/pool.json and
DIR/pool.md (also printed); ``--quick`` runs fewer models and samples and says so there.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.children import ROOT, ChildRun, child_env, run_child, script_command
from benchmarks.machine import machine_info
from benchmarks.summary import describe, percentile, ratio
from featherserve.support.processes import free_port, running, wait_for_port
from model_store import LocalStore
from tests.support.pool import model_names, predict_event, row, write_pool_list
from tests.support.tiny_models import tiny_tabular_manifest, tiny_tabular_onnx

BUCKET = "featherserve-bench-pool"
REGION = "us-east-1"
ZIPF_S = 1.1
TIMEOUT_S = 600.0
QUICK_NOTE = " (**--quick**: fewer models and samples than the full run)"
ROWS = [[1.0, 2.0, 3.0], [-4.0, 0.5, 2.5]]


@dataclass(frozen=True)
class Size:
    models: int      # N models in the pool list
    samples: int     # cold-start samples per function (interleaved)
    first: int       # models whose first and second requests are timed, per source
    capacity: int    # the LRU's capacity in models; the working set is ten times it
    requests: int    # requests per traffic run

    @property
    def rounds(self) -> int:
        """Traffic runs per plan (fresh processes, interleaved): more with more samples."""
        return max(1, self.samples // 5)

    def check(self) -> None:
        if min(self.models, self.samples, self.first, self.capacity, self.requests) < 1:
            raise SystemExit("every count must be at least 1")
        if self.models < 10 * self.capacity or self.models <= self.first:
            raise SystemExit(f"--models ({self.models}) must hold ten times --capacity "
                             f"({self.capacity}) and more than --first ({self.first})")

    @property
    def memory_ks(self) -> list[int]:
        top = self.models - 1  # one model is loaded before the measurement
        return sorted({max(1, top // 10), max(1, top // 4), top})


FULL = Size(models=200, samples=15, first=40, capacity=20, requests=2000)
QUICK = Size(models=40, samples=5, first=10, capacity=4, requests=400)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pool", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK} (the tests' size)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    for name, help_text in (("models", "models in the pool list"),
                            ("samples", "cold-start samples per function"),
                            ("first", "models timed on first use, per source"),
                            ("capacity", "the LRU's capacity (working set: ten times it)"),
                            ("requests", "requests per traffic run")):
        parser.add_argument(f"--{name}", type=int, help=f"{help_text} (overrides the size)")
    return parser


@dataclass(frozen=True)
class Stores:
    local: Path
    files: Path      # <name>.onnx, what was published
    names: list[str]
    model_bytes: int
    events: Path


def generate(scratch: Path, count: int) -> Stores:
    """``count`` tiny models in a folder store, and a predict event for each."""
    root = scratch / "layer" / "models"
    rng = np.random.default_rng(0)
    names = model_names(count)
    files = scratch / "files"
    files.mkdir(parents=True)
    sizes = []
    for name in names:
        path = files / f"{name}.onnx"
        path.write_bytes(tiny_tabular_onnx(rng.normal(size=(3, 2))))
        sizes.append(path.stat().st_size)
        LocalStore(root).publish(tiny_tabular_manifest(name), path)
    events = scratch / "events.json"
    instances = [row(r) for r in ROWS]
    events.write_text(json.dumps({n: predict_event(n, instances) for n in names}))
    return Stores(local=root, files=files, names=names, model_bytes=int(np.median(sizes)),
                  events=events)


@dataclass(frozen=True)
class S3:
    source: str
    env: Mapping[str, str]


@contextlib.contextmanager
def moto_store(scratch: Path, stores: Stores) -> Iterator[S3]:
    """A moto_server on a free loopback port holding the same models; stopped at exit."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    env = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
           "AWS_DEFAULT_REGION": REGION, "AWS_ENDPOINT_URL": endpoint}
    for variable in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        empty = scratch / variable.lower()
        empty.write_text("")
        env[variable] = str(empty)
    log = scratch / "moto_server.log"
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    with running(command, env=child_env(), log_path=log, cwd=scratch) as server:
        wait_for_port(port, server, log, timeout=60)
        import boto3

        from model_store.s3 import S3Store

        client = boto3.session.Session(aws_access_key_id="bench", aws_secret_access_key="bench",
                                       region_name=REGION).client("s3", endpoint_url=endpoint)
        client.create_bucket(Bucket=BUCKET)
        source = f"s3://{BUCKET}/models"
        store = S3Store(source, client=client)
        for name in stores.names:
            store.publish(tiny_tabular_manifest(name), stores.files / f"{name}.onnx")
        yield S3(source=source, env=env)


class Runner:
    """Spawns the measured children, each with its own pool list and /tmp cache."""

    def __init__(self, scratch: Path, stores: Stores) -> None:
        self.scratch, self.stores, self.count = scratch, stores, 0

    def run(self, spec: dict[str, Any], *, source: str, names: list[str] | None = None,
            extra: Mapping[str, str] | None = None) -> ChildRun:
        self.count += 1
        pool_list = write_pool_list(self.scratch / f"pool-{self.count}.json",
                                    names or self.stores.names, source)
        env = child_env({"FEATHERSERVE_MODEL_SOURCE": source,
                         "FEATHERSERVE_POOL_MODELS_FILE": str(pool_list),
                         "FEATHERSERVE_MODEL_CACHE": str(self.scratch / f"cache-{self.count}"),
                         **(extra or {})})
        return run_child(script_command("pool_child.py"),
                         {**spec, "events": str(self.stores.events)}, env=env,
                         log_path=self.scratch / "children.log", timeout=TIMEOUT_S)


def cold_starts(runner: Runner, size: Size) -> dict[str, Any]:
    """(a) pool vs dedicated, same model, alternating so drift hits both alike."""
    model = runner.stores.names[0]
    source = str(runner.stores.local)
    walls: dict[str, list[float]] = {"pool": [], "dedicated": []}
    parts: dict[str, list[dict[str, Any]]] = {"pool": [], "dedicated": []}
    for sample in range(size.samples):
        order = ("pool", "dedicated") if sample % 2 == 0 else ("dedicated", "pool")
        for function in order:
            done = runner.run({"mode": "cold", "function": function, "model": model},
                              source=source)
            walls[function].append(done.wall_ms)
            parts[function].append(done.report("cold"))
    result: dict[str, Any] = {}
    for function in walls:
        result[function] = {"wall_ms": describe(walls[function]),
                            **{key: describe(p[key] for p in parts[function])
                               for key in ("import_ms", "init_ms", "first_ms")}}
    result["pool_listed_models"] = size.models
    result["ratio"] = ratio(result["pool"]["wall_ms"]["median"],
                            result["dedicated"]["wall_ms"]["median"])
    return result


def first_use(runner: Runner, size: Size, source: str, label: str,
              extra: Mapping[str, str] | None = None) -> dict[str, Any]:
    """(b) first request (a load) against the second (loaded), one fresh process."""
    names = runner.stores.names
    done = runner.run({"mode": "first", "warmup": names[0], "names": names[1:1 + size.first]},
                      source=source, extra=extra)
    report = done.report("first")
    miss, hit = describe(report["miss_ms"]), describe(report["hit_ms"])
    return {"source": label, "miss_ms": miss, "hit_ms": hit,
            "ratio": ratio(miss["median"], hit["median"])}


def memory(runner: Runner, size: Size) -> list[dict[str, Any]]:
    """(c) RSS delta over k loaded models / k, a fresh process per k."""
    names = runner.stores.names
    rows = []
    for k in size.memory_ks:
        done = runner.run({"mode": "memory", "warmup": names[0], "names": names[1:1 + k]},
                          source=str(runner.stores.local),
                          extra={"FEATHERSERVE_POOL_MEMORY_BYTES": str(1 << 40)})
        report = done.report("memory")
        if report["loaded"] != k + 1:
            raise RuntimeError(f"expected {k + 1} loaded models, got {report['loaded']}")
        per_model = report["delta_kib"] * 1024 / k
        charged = report["charged_bytes"] / (k + 1)
        rows.append({"k": k, "rss_delta_kib": report["delta_kib"],
                     "bytes_per_model": per_model, "charged_bytes_per_model": charged,
                     "ratio_to_charge": ratio(per_model, charged)})
    return rows


def traffic_names(names: list[str], count: int, shape: str, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    if shape == "zipf":
        weights = 1.0 / np.arange(1, len(names) + 1) ** ZIPF_S
        picks = rng.choice(len(names), size=count, p=weights / weights.sum())
    else:
        picks = rng.integers(0, len(names), size=count)
    return [names[int(i)] for i in picks]


def traffic(runner: Runner, size: Size) -> dict[str, Any]:
    """(d) hit rate and latency, working set 10 × capacity, against all hits."""
    capacity = size.capacity
    working = runner.stores.names[:10 * capacity]
    extra = {"FEATHERSERVE_POOL_MAX_MODELS": str(capacity),
             "FEATHERSERVE_POOL_MEMORY_BYTES": str(1 << 40)}
    plans = {"all hits": (working[:capacity], "uniform", working[:capacity]),
             "uniform": (working, "uniform", []), "zipf": (working, "zipf", [])}
    measured: dict[str, tuple[list[float], list[bool]]] = {label: ([], []) for label in plans}
    for round_ in range(size.rounds):  # interleaved: load drift hits every plan alike
        for seed, (label, (pick_from, shape, preload)) in enumerate(plans.items()):
            sequence = traffic_names(pick_from, size.requests, shape, 10 * round_ + seed)
            done = runner.run({"mode": "traffic", "warmup": working[0], "preload": preload,
                               "names": sequence}, source=str(runner.stores.local),
                               extra=extra)
            report = done.report("traffic")
            measured[label][0].extend(report["ms"])
            measured[label][1].extend(report["hit"])
    runs: dict[str, Any] = {}
    for label, (ms, hits) in measured.items():
        runs[label] = {"working_set": len(plans[label][0]), "requests": len(ms),
                       "hit_rate": sum(hits) / len(hits),
                       "median_ms": percentile(ms, 50), "p95_ms": percentile(ms, 95),
                       "miss_median_ms": percentile([m for m, h in zip(ms, hits, strict=True)
                                                     if not h], 50),
                       "hit_median_ms": percentile([m for m, h in zip(ms, hits, strict=True)
                                                    if h], 50)}
    base = runs["all hits"]
    for run in runs.values():
        run["median_ratio"] = ratio(run["median_ms"], base["median_ms"])
        run["p95_ratio"] = ratio(run["p95_ms"], base["p95_ms"])
    return {"capacity": capacity, "zipf_s": ZIPF_S, "rounds": size.rounds, "runs": runs}


def measure(size: Size, scratch: Path) -> dict[str, Any]:
    stores = generate(scratch, size.models)
    runner = Runner(scratch, stores)
    cold = cold_starts(runner, size)
    first = [first_use(runner, size, str(stores.local), "folder (packed layer, /opt)")]
    with moto_store(scratch, stores) as s3:
        first.append(first_use(runner, size, s3.source, "S3 (moto_server, loopback)",
                                extra=s3.env))
    for row_ in first:  # a rarely used model: a load in a warm pool, or a whole cold start
        row_["ratio_to_dedicated_cold_start"] = ratio(row_["miss_ms"]["median"],
                                                      cold["dedicated"]["wall_ms"]["median"])
    return {"cold_start": cold, "first_use": first, "memory": memory(runner, size),
            "traffic": traffic(runner, size), "model_bytes": stores.model_bytes}


def _ms(value: float | None) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.2f} ms"


def _x(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "n/a"
    return f"{value:.2f}×" if abs(value) >= 0.1 else f"{value:.2g}×"


def render(results: dict[str, Any]) -> str:
    size, cold = results["size"], results["cold_start"]
    machine = results["machine"]
    lines = [
        "# Pooled models against dedicated ones", "",
        f"`{results['command']}`{QUICK_NOTE if results['quick'] else ' (full size)'}"
        f"; {machine['cores']} cores ({machine['cpu_model']}), load "
        f"{machine['load_average_at_start'][0]:.1f} at start, {machine['date']}, commit "
        f"{(machine['git_commit'] or 'unknown')[:10]}. "
        f"{size['models']} tiny tabular models ({results['model_bytes']} bytes each); "
        "every process fresh; medians, [min–max] where samples vary; ratios against a baseline "
        "measured in the same run.", "",
        f"## Cold start: a pool listing {cold['pool_listed_models']} models vs a dedicated "
        f"function ({size['samples']} samples each, interleaved)", "",
        "| function | cold start median [min–max] | spread | import | init | first request |",
        "|---|---|---|---|---|---|"]
    for function in ("dedicated", "pool"):
        part = cold[function]
        wall = part["wall_ms"]
        lines.append(f"| {function} | {_ms(wall['median'])} [{wall['min']:.0f}–{wall['max']:.0f}]"
                     f" | {wall['spread'] * 100:.0f}% | {_ms(part['import_ms']['median'])} | "
                     f"{_ms(part['init_ms']['median'])} | {_ms(part['first_ms']['median'])} |")
    lines += ["", f"**Pool ÷ dedicated: {_x(cold['ratio'])}** (the dedicated function loads "
              "its model at init, the pool on the first request).", "",
              f"## First request for a model not loaded vs one loaded ({size['first']} models "
              "per source, one process)", "",
              "| source | first request (load) median [min–max] | loaded median | p90 loaded "
              "| first ÷ loaded | first ÷ dedicated cold start |", "|---|---|---|---|---|---|"]
    for row_ in results["first_use"]:
        miss, hit = row_["miss_ms"], row_["hit_ms"]
        lines.append(f"| {row_['source']} | {_ms(miss['median'])} [{miss['min']:.2f}–"
                     f"{miss['max']:.2f}] | {_ms(hit['median'])} | {_ms(hit['p90'])} | "
                     f"{_x(row_['ratio'])} | {_x(row_['ratio_to_dedicated_cold_start'])} |")
    lines += ["", "## Memory per loaded model (a fresh process per k; RSS after k more loads "
              "less before, over k)", "",
              "| k | RSS grown | per model | the pool's charge per model | measured ÷ charge |",
              "|---:|---:|---:|---:|---:|"]
    for m in results["memory"]:
        lines.append(f"| {m['k']} | {m['rss_delta_kib']:,} KiB | "
                     f"{m['bytes_per_model'] / 1024:.0f} KiB | "
                     f"{m['charged_bytes_per_model'] / 1024:.0f} KiB | "
                     f"{_x(m['ratio_to_charge'])} |")
    t = results["traffic"]
    lines += ["", f"## Traffic: LRU of {t['capacity']} models, working set ten times it "
              f"({t['rounds']} × {size['requests']} requests per traffic, fresh processes "
              f"interleaved; Zipf s={t['zipf_s']})", "",
              "| traffic | working set | hit rate | median | p95 | median ÷ all hits | "
              "p95 ÷ all hits | miss median | hit median |",
              "|---|---:|---:|---|---|---|---|---|---|"]
    for label, run in t["runs"].items():
        lines.append(f"| {label} | {run['working_set']} | {run['hit_rate'] * 100:.1f}% | "
                     f"{_ms(run['median_ms'])} | {_ms(run['p95_ms'])} | "
                     f"{_x(run['median_ratio'])} | {_x(run['p95_ratio'])} | "
                     f"{_ms(run['miss_median_ms'])} | {_ms(run['hit_median_ms'])} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    base = QUICK if args.quick else FULL
    size = Size(**{field: getattr(args, field) or getattr(base, field)
                   for field in ("models", "samples", "first", "capacity", "requests")})
    size.check()
    with tempfile.TemporaryDirectory(prefix="featherserve-pool-bench-") as scratch:
        measured = measure(size, Path(scratch))
    command = " ".join(["python -m benchmarks.pool", *(argv if argv is not None
                                                         else sys.argv[1:])])
    results = {"command": command, "quick": args.quick, "size": size.__dict__,
               "machine": machine_info(ROOT), **measured}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "pool.json").write_text(json.dumps(results, indent=2) + "\n")
    markdown = render(results)
    (args.out / "pool.md").write_text(markdown)
    print(markdown)
    print(f"wrote pool.json, pool.md to {args.out} ({os.cpu_count()} CPUs)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
