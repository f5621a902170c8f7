"""``python -m benchmarks.bulk [--quick] [--out DIR]``: bulk scoring, measured.

For each shipped model, files go into a moto_server bucket whose in/<model>/ prefix
notifies an SQS queue; the notifications are handed, as one SQS event, to the batch
handler of a fresh process (benchmarks/bulk_child.py), which reads and writes the bucket
over loopback as the function reads and writes S3:

    tabular   a 100,000-row CSV, and a 300,000-row one (memory must not grow with the file)
    images    200 images (the rendered digits) in one invocation: as one tar object, and as
              200 objects (each then costs an S3 GET and two PUTs)

Reported: rows (images) per second, the process's peak RSS during the invocation above
its resting RSS (a warm batch function), the HTTP handler's warm cost per instance in the
same process, and what a million rows cost either way at Lambda's public prices. Written
to DIR/bulk.json and DIR/bulk.md (also printed).
"""

from __future__ import annotations

import argparse
import base64
import csv
import io
import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import boto3
import numpy as np

from featherserve.pricing import Prices
from featherserve.support.archives import tar_of
from featherserve.support.events import EVENTS
from featherserve.support.processes import ROOT, VENV, free_port, running, tool_env, wait_for_port
from model_store import LocalStore
from model_store.base import LATEST, PROJECT_STORE

BUCKET = "featherserve-bench-bulk"
IMAGES = ROOT / "tests" / "images" / "rendered_digits"
BATCH_MEMORY_MB = 1769  # params.batchMemorySize
HTTP_MEMORY_MB = 1024  # the models' HTTP functions (featherserve/codegen)
BATCH_TIMEOUT_S, DEADLINE_MARGIN_S, BATCH_SIZE = 900, 15, 1  # serverless.yml params
# Per request, us-east-1: S3 GET $0.0004/1k, PUT $0.005/1k; SQS $0.40/million.
S3_GET, S3_PUT, SQS_REQUEST = 0.0004 / 1000, 0.005 / 1000, 0.40 / 1_000_000
HTTP_BATCH = 64  # the contract's max_batch: the cheapest way to send rows over HTTP


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bulk", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="6,000 and 1,500 rows, 24 images (the test suite's size)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--store", type=Path, default=PROJECT_STORE)
    return parser


def csv_rows(model: str, store: Path, rows: int, seed: int = 0) -> bytes:
    spec = LocalStore(store).manifest(model, LATEST).input
    rng = np.random.default_rng(seed)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(spec.feature_names)  # type: ignore[union-attr]
    features = spec.features  # type: ignore[union-attr]
    low = np.array([f.min if f.min is not None else 0.0 for f in features])
    high = np.array([f.max if f.max is not None else 1.0 for f in features])
    for values in rng.uniform(low, high, size=(rows, len(features))):
        writer.writerow([f"{v:.6g}" for v in values])
    return out.getvalue().encode()


class Bench:
    """A moto_server bucket + queue per model, and the notifications S3 queues for files."""

    def __init__(self, endpoint: str, models: list[str]) -> None:
        session = dict(endpoint_url=endpoint, region_name="us-east-1",
                       aws_access_key_id="bench", aws_secret_access_key="bench")
        self.s3, self.sqs = boto3.client("s3", **session), boto3.client("sqs", **session)
        self.s3.create_bucket(Bucket=BUCKET)
        self.queues: dict[str, tuple[str, str]] = {}
        rules = []
        for model in models:
            url = self.sqs.create_queue(QueueName=f"bench-{model}-bulk")["QueueUrl"]
            arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
                "Attributes"]["QueueArn"]
            self.queues[model] = (url, arn)
            rules.append({"QueueArn": arn, "Events": ["s3:ObjectCreated:*"], "Filter": {
                "Key": {"FilterRules": [{"Name": "prefix", "Value": f"in/{model}/"}]}}})
        self.s3.put_bucket_notification_configuration(
            Bucket=BUCKET, NotificationConfiguration={"QueueConfigurations": rules})
        for model in models:
            self.drain(model)  # S3's s3:TestEvent

    def drain(self, model: str) -> list[dict[str, Any]]:
        url = self.queues[model][0]
        found: list[dict[str, Any]] = []
        while batch := self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                                VisibilityTimeout=3600).get("Messages", []):
            found += batch
        return found

    def put(self, model: str, files: dict[str, bytes]) -> list[dict[str, Any]]:
        for name, data in files.items():
            self.s3.put_object(Bucket=BUCKET, Key=f"in/{model}/{name}", Body=data)
        messages = self.drain(model)
        assert len(messages) == len(files), (len(messages), len(files))
        return messages


def run_child(spec: dict[str, Any], scratch: Path, endpoint: str, store: Path
              ) -> dict[str, Any]:
    path = scratch / f"spec-{spec['model']}-{len(spec['messages'])}.json"
    path.write_text(json.dumps(spec))
    env = tool_env({"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "bench",
                    "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1",
                    "FEATHERSERVE_MODEL_SOURCE": str(store), "FEATHERSERVE_WARMUP": "0",
                    "POWERTOOLS_LOG_LEVEL": "WARNING", "POWERTOOLS_METRICS_DISABLED": "true",
                    "PYTHONPATH": str(ROOT), **spec.pop("env", {})})
    result = subprocess.run([str(VENV / "bin/python"), "-m", "benchmarks.bulk_child",
                             str(path)], env=env, cwd=ROOT, capture_output=True, text=True,
                            timeout=1800)
    if result.returncode != 0:
        raise RuntimeError(f"bulk child failed:\n{result.stderr[-3000:]}")
    measured: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return measured


def tabular_run(bench: Bench, model: str, store: Path, rows: int, scratch: Path,
                endpoint: str) -> dict[str, Any]:
    data = csv_rows(model, store, rows)
    messages = bench.put(model, {f"bench/{rows}.csv": data})
    warmup = bench.put(model, {"bench/warmup.csv": csv_rows(model, store, 1, seed=9)})
    header, *lines = data.decode().splitlines()
    names = header.split(",")
    bodies = []
    for start in range(0, min(len(lines), 64 * HTTP_BATCH), HTTP_BATCH):
        instances = [dict(zip(names, map(float, line.split(",")), strict=True))
                     for line in lines[start:start + HTTP_BATCH]]
        bodies.append(base64.b64encode(json.dumps({"instances": instances}).encode()).decode())
    spec = {"model": model, "queue_arn": bench.queues[model][1], "messages": messages,
            "warmup_messages": warmup, "http_event": str(EVENTS / "breast_cancer_predict_v1.json"),
            "http_bodies": bodies, "http_content_type": "application/json",
            "http_instances_per_request": HTTP_BATCH, "http_rounds": 5,
            "env": {"FEATHERSERVE_MAX_BODY_BYTES": "262144"}}
    measured = run_child(spec, scratch, endpoint, store)
    measured.update(kind="tabular", rows=rows, input_bytes=len(data),
                    rows_per_s=rows / measured["invocation_s"],
                    input_mb_per_s=len(data) / 1e6 / measured["invocation_s"])
    return measured


def image_run(bench: Bench, model: str, store: Path, count: int, scratch: Path,
              endpoint: str, *, archive: bool) -> dict[str, Any]:
    """``count`` images in one invocation: one tar object, or one object per image."""
    sources = sorted(p for p in IMAGES.iterdir() if p.suffix in (".png", ".jpg"))
    files = {f"bench/{i:04d}-{sources[i % len(sources)].name}":
             sources[i % len(sources)].read_bytes() for i in range(count)}
    objects = {"bench/photos.tar": tar_of(files)} if archive else files
    messages = bench.put(model, objects)
    warmup = bench.put(model, {"bench/warmup.png": sources[0].read_bytes()})
    bodies = [base64.b64encode(p.read_bytes()).decode() for p in sources]
    spec = {"model": model, "queue_arn": bench.queues[model][1], "messages": messages,
            "warmup_messages": warmup, "http_event": str(EVENTS / "digits_raw_v1.json"),
            "http_bodies": bodies, "http_content_type": "application/octet-stream",
            "http_instances_per_request": 1, "http_rounds": max(1, count // len(sources)),
            "env": {"FEATHERSERVE_MAX_BODY_BYTES": "4500000"}}
    measured = run_child(spec, scratch, endpoint, store)
    size = sum(map(len, objects.values()))
    measured.update(kind="images, one tar" if archive else "images, one object each",
                    rows=count, objects=len(objects), input_bytes=size,
                    rows_per_s=count / measured["invocation_s"],
                    input_mb_per_s=size / 1e6 / measured["invocation_s"])
    return measured


def costs(run: dict[str, Any], prices: Prices) -> dict[str, float]:
    """USD per million rows (images): bulk in files of this size vs HTTP in full batches."""
    per_row_s = run["invocation_s"] / run["rows"]
    files = 1_000_000 * run.get("objects", 1) / run["rows"]
    bulk = (1_000_000 * per_row_s * BATCH_MEMORY_MB / 1024 * prices.lambda_gb_second
            + files / BATCH_SIZE * prices.lambda_per_million / 1_000_000
            + files * (S3_GET + 2 * S3_PUT + 3 * SQS_REQUEST))
    http = run["http"]
    requests = 1_000_000 / http["instances_per_request"]
    billed_ms = math.ceil(http["ms_per_request"])  # Lambda bills whole milliseconds
    lambda_http = (requests * billed_ms / 1000 * HTTP_MEMORY_MB / 1024 * prices.lambda_gb_second
                   + requests * prices.lambda_per_million / 1_000_000)
    gateway = requests * prices.api_gateway_per_million / 1_000_000
    return {"bulk": bulk, "http_lambda": lambda_http, "http_with_api_gateway": lambda_http
            + gateway}


def measured_limit(run: dict[str, Any]) -> int:
    """The input one invocation can finish: half this machine's rate (Lambda's vCPU is no
    faster than this one), over the timeout less the margin, shared by a full batch."""
    rate = run["input_bytes"] / run["invocation_s"]
    return int(rate * 0.5 * (BATCH_TIMEOUT_S - DEADLINE_MARGIN_S) / BATCH_SIZE)


def render(results: dict[str, Any]) -> str:
    lines = ["# Bulk scoring", "",
             f"{results['machine']}; one fresh process per run; S3 on a local moto_server "
             "(loopback); HTTP cost measured warm in the same process.", "",
             "| run | rows | rows/s | input MB/s | rest RSS | peak above rest | HTTP µs/instance"
             " | $/M rows bulk | $/M HTTP (Lambda) | $/M HTTP + API GW |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for run in results["runs"]:
        cost = run["cost_per_million"]
        above = run["peak_above_rest_mib"]
        lines.append(
            f"| {run['model']} ({run['kind']}) | {run['rows']:,} | {run['rows_per_s']:,.0f} | "
            f"{run['input_mb_per_s']:.1f} | {run['rest_rss_mib']:.0f} MiB | "
            f"{'n/a' if above is None else f'{above:.1f} MiB'} | "
            f"{run['http']['us_per_instance']:.0f} | ${cost['bulk']:.3f} | "
            f"${cost['http_lambda']:.3f} | ${cost['http_with_api_gateway']:.2f} |")
    lines += ["", f"Largest tabular file accepted (batchMaxObjectBytes, measured): "
              f"{results['measured_limit_bytes']:,} bytes (half this machine's rate, "
              f"{BATCH_TIMEOUT_S - DEADLINE_MARGIN_S} s, shared by {BATCH_SIZE} files)."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Two sizes whose output takes several 8 MiB parts (the quick ones: one PUT each).
    rows = (6_000, 1_500) if args.quick else (100_000, 300_000)
    images = 24 if args.quick else 200
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="featherserve-bulk-") as scratch_name:
        runs = measure(args, rows, images, Path(scratch_name))
    prices = Prices()
    for run in runs:
        run["cost_per_million"] = costs(run, prices)
    results = {"machine": f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}",
               "runs": runs, "measured_limit_bytes": measured_limit(runs[0]),
               "quick": args.quick}
    (args.out / "bulk.json").write_text(json.dumps(results, indent=2) + "\n")
    markdown = render(results)
    (args.out / "bulk.md").write_text(markdown)
    print(markdown)
    return 0


def measure(args: argparse.Namespace, rows: tuple[int, ...], images: int,
            scratch: Path) -> list[dict[str, Any]]:
    port = free_port()
    log = scratch / "moto.log"
    with running([str(VENV / "bin/moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                 env=tool_env(), log_path=log, cwd=scratch) as server:
        wait_for_port(port, server, log)
        endpoint = f"http://127.0.0.1:{port}"
        bench = Bench(endpoint, ["breast_cancer", "digits"])
        runs = [tabular_run(bench, "breast_cancer", args.store, n, scratch, endpoint)
                for n in rows]
        runs += [image_run(bench, "digits", args.store, images, scratch, endpoint,
                           archive=archive) for archive in (True, False)]
    return runs


if __name__ == "__main__":
    sys.exit(main())
