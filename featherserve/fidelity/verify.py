"""Run every function of a service as Lambda would and check each event's answer.

Per function: the static import check of its code zip, then its code and layers unpacked
into a sandbox, CPython 3.12 running awslambdaric there against the Runtime API stand-in
(init, then every event that targets the function), and the same events answered in
process; the answers must be the same.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from featherserve.fidelity.compare import difference
from featherserve.fidelity.execution import (
    LAMBDA_INIT_LIMIT,
    ExecutionEnvironment,
    InitResult,
    Invocation,
    lambda_error,
)
from featherserve.fidelity.imports import ImportProblem, check_code_imports, summarize
from featherserve.fidelity.lambda_runtime import LambdaRuntimeDir
from featherserve.fidelity.model import FunctionSpec, ServiceSpec
from featherserve.fidelity.reference import InProcessFunction
from featherserve.fidelity.sandbox import Sandbox, Unpacker, lambda_environment
from featherserve.fidelity.triggers import NamedEvent, target_of

ACCOUNT_ID = "123456789012"


@dataclass(frozen=True)
class EventCheck:
    event: str
    packaged: Invocation
    reference: Invocation | None
    diff: str = ""

    @property
    def ok(self) -> bool:
        return self.reference is not None and not self.diff


@dataclass
class FunctionReport:
    function: FunctionSpec
    import_problems: list[ImportProblem] = field(default_factory=list)
    init: InitResult | None = None
    reference_init: InitResult | None = None
    events: list[EventCheck] = field(default_factory=list)
    restarts: int = 0  # execution environments replaced after a timeout or a crash

    @property
    def problems(self) -> list[str]:
        name = self.function.name
        found = [f"{name}: {line}" for line in summarize(self.import_problems)]
        if self.init is not None and not self.init.ok:
            found.append(f"{name}: init failed: {self.init.describe()}")
        elif self.reference_init is not None and not self.reference_init.ok:
            found.append(f"{name}: the in-process reference did not load: "
                         f"{self.reference_init.describe()}")
        for check in self.events:
            if not check.ok:
                found.append(f"{name}: event {check.event}: packaged answer "
                             f"({check.packaged.describe()}) differs from in process"
                             + (f"\n{check.diff}" if check.diff else ""))
        return found

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class RunnerSetup:
    """What every function's run shares: the interpreter, /var/runtime, folders, events."""

    python: str
    runtime: LambdaRuntimeDir
    workdir: Path
    events: Sequence[NamedEvent]
    first_party: frozenset[str] = frozenset()
    init_limit: float = LAMBDA_INIT_LIMIT
    extra_env: Mapping[str, str] = field(default_factory=dict)


def verify_service(service: ServiceSpec, setup: RunnerSetup) -> list[FunctionReport]:
    unpacker = Unpacker(setup.workdir / "zips")
    reports = []
    for function in service.functions:
        events = [e for e in setup.events
                  if target_of(e.payload, service.functions, service.stage) is function]
        reports.append(verify_function(function, events, service.region, setup, unpacker))
    return reports


def verify_function(function: FunctionSpec, events: Sequence[NamedEvent], region: str,
                    setup: RunnerSetup, unpacker: Unpacker) -> FunctionReport:
    folder = setup.workdir / _safe(function.name)
    sandbox = unpacker.unpack(function, folder / "sandbox")
    report = FunctionReport(function)
    report.import_problems = check_code_imports(sandbox.task, function.handler,
                                                setup.first_party)
    env = function_environment(function, sandbox, region, setup)
    packaged = run_packaged(function, [e.payload for e in events], sandbox, env, setup, folder,
                            region=region)
    report.init, report.restarts = packaged.init, packaged.restarts
    if not packaged.init.ok or not events:
        return report
    reference = InProcessFunction(function.handler, env, function.timeout)
    report.reference_init = reference.init()
    for event, answer in zip(events, packaged.answers, strict=True):
        if not report.reference_init.ok:
            report.events.append(EventCheck(event.name, answer, None))
            continue
        expected = reference.invoke(event.payload)
        report.events.append(EventCheck(event.name, answer, expected,
                                        difference(answer, expected)))
    return report


def function_environment(function: FunctionSpec, sandbox: Sandbox, region: str,
                         setup: RunnerSetup) -> dict[str, str]:
    return lambda_environment(function, sandbox, region=region, runtime_dir=setup.runtime.path,
                              python_prefix=Path(setup.python).parents[1],
                              extra=setup.extra_env)


@dataclass(frozen=True)
class PackagedRun:
    init: InitResult  # the first execution environment's
    answers: list[Invocation]  # one per event (none when that init failed)
    restarts: int  # environments replaced after a timeout or a crash


def run_packaged(function: FunctionSpec, events: Sequence[Any], sandbox: Sandbox,
                 env: dict[str, str], setup: RunnerSetup, folder: Path, *,
                 region: str = "us-east-1") -> PackagedRun:
    """Each event's answer from the packaged function; a fresh execution environment
    replaces one that timed out or exited, as Lambda does."""
    arn = f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{function.function_name}"
    answers: list[Invocation] = []
    first: InitResult | None = None
    restarts = 0
    with contextlib.ExitStack() as stack:
        environment: ExecutionEnvironment | None = None
        while environment is None or len(answers) < len(events):
            if environment is None or not environment.alive:
                stack.close()
                log = folder / f"runtime-{restarts + (first is not None)}.log"
                environment = stack.enter_context(ExecutionEnvironment(
                    python=setup.python, bootstrap=setup.runtime.bootstrap, cwd=sandbox.task,
                    env=env, function_arn=arn, log_path=log))
                init = environment.init(setup.init_limit)
                if first is None:
                    first = init
                    if not init.ok:
                        break
                else:
                    restarts += 1
                    if not init.ok:  # a later init failing fails the events left
                        answers += [Invocation(False, lambda_error(init.error_type, init.message),
                                               init.ms, init.error_type)
                                    for _ in events[len(answers):]]
                        break
            if len(answers) < len(events):
                answers.append(environment.invoke(events[len(answers)], function.timeout))
    assert first is not None
    return PackagedRun(first, answers, restarts)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)
