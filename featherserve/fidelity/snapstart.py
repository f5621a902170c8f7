"""SnapStart in the fidelity runner: the hooks in Lambda's order, then the first request.

A function runs on CPython 3.12 through awslambdaric with ``AWS_LAMBDA_INITIALIZATION_TYPE``
set to ``snap-start``: init, the before-snapshot hooks, ``restore/next`` (where Lambda
snapshots and later restores), the after-restore hooks, then requests. The report says
whether the log shows that order and how long the first request after the restore took
inside the function (the ``latency_ms`` of its metrics line) against warm ones.

What it cannot reproduce: a real restore maps the snapshot's memory back lazily, so the
first pages touched after a restore fault in from Lambda's cache; here the process simply
continues. The figure is the upper bound of what the hooks achieve, not a restore's cost.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from featherserve.fidelity.execution import ExecutionEnvironment, InitResult
from featherserve.fidelity.model import FunctionSpec
from featherserve.fidelity.sandbox import Sandbox
from featherserve.fidelity.verify import ACCOUNT_ID, RunnerSetup

SNAP_START_ENV = {"AWS_LAMBDA_INITIALIZATION_TYPE": "snap-start"}
# Log messages of model_runtime (service, snapstart), in the order a SnapStart init
# must write them.
HOOK_ORDER = ("model loaded", "before snapshot: warmed up",
              "after restore: seeds renewed, buffers cleared")


@dataclass(frozen=True)
class SnapStartRun:
    init: InitResult
    snapshot_taken: bool           # the runtime called restore/next before its first poll
    hook_messages: list[str]       # the HOOK_ORDER messages, in the order logged
    statuses: list[int]
    latencies_ms: list[float]      # in-function latency of each request, in order

    @property
    def hooks_in_order(self) -> bool:
        return self.snapshot_taken and self.hook_messages == list(HOOK_ORDER)

    @property
    def first_ms(self) -> float | None:
        return self.latencies_ms[0] if self.latencies_ms else None

    @property
    def warm_median_ms(self) -> float | None:
        warm = self.latencies_ms[len(self.latencies_ms) // 2:]  # the later half: warm
        return statistics.median(warm) if warm else None

    @property
    def first_to_warm(self) -> float | None:
        first, warm = self.first_ms, self.warm_median_ms
        return first / warm if first is not None and warm else None

    def to_dict(self) -> dict[str, Any]:
        return {"init_ok": self.init.ok, "init_ms": self.init.ms,
                "init_error": self.init.describe() if not self.init.ok else "",
                "snapshot_taken": self.snapshot_taken, "hook_messages": self.hook_messages,
                "hooks_in_order": self.hooks_in_order, "statuses": self.statuses,
                "first_ms": self.first_ms, "warm_median_ms": self.warm_median_ms,
                "first_to_warm": self.first_to_warm, "requests": len(self.latencies_ms)}


def run_snapstart(function: FunctionSpec, sandbox: Sandbox, env: Mapping[str, str],
                  setup: RunnerSetup, log_path: Path, event: Any, *, requests: int = 40,
                  region: str = "us-east-1") -> SnapStartRun:
    """Init ``function`` as a SnapStart version, then answer ``event`` ``requests`` times.

    ``env`` is the function's Lambda environment (``verify.function_environment``)."""
    arn = f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{function.function_name}"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with ExecutionEnvironment(python=setup.python, bootstrap=setup.runtime.bootstrap,
                              cwd=sandbox.task, env={**env, **SNAP_START_ENV},
                              function_arn=arn, log_path=log_path) as environment:
        init = environment.init(setup.init_limit)
        api = environment.api
        snapshot_taken = (api.snapshot_at is not None and api.first_poll is not None
                          and api.snapshot_at <= api.first_poll)
        statuses: list[int] = []
        if init.ok:
            for _ in range(requests):
                answer = environment.invoke(event, function.timeout)
                payload = answer.payload if isinstance(answer.payload, dict) else {}
                statuses.append(int(payload.get("statusCode", 0)) if answer.ok else 0)
    lines = _json_lines(log_path)
    messages = [m for m in (line.get("message") for line in lines) if m in HOOK_ORDER]
    latencies = [float(line["latency_ms"]) for line in lines
                 if "_aws" in line and "latency_ms" in line]
    return SnapStartRun(init, snapshot_taken, messages, statuses, latencies)


def _json_lines(path: Path) -> Sequence[dict[str, Any]]:
    found = []
    for raw in path.read_text(errors="replace").splitlines():
        start = raw.find("{")
        if start < 0:
            continue
        try:
            value = json.loads(raw[start:])
        except ValueError:
            continue
        if isinstance(value, dict):
            found.append(value)
    return found
