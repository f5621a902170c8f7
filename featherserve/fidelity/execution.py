"""One Lambda execution environment: CPython 3.12 running awslambdaric on the sandbox,
talking to a Runtime API stand-in, with Lambda's init and invocation time limits."""

from __future__ import annotations

import contextlib
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from featherserve.fidelity.runtime_api import Outcome, RuntimeApi, serving
from featherserve.support.processes import running

# Lambda ends an init phase that runs longer than this (on-demand functions).
LAMBDA_INIT_LIMIT = 10.0
_POLL = 0.05


@dataclass(frozen=True)
class InitResult:
    ok: bool
    ms: float
    error_type: str = ""
    message: str = ""  # Lambda's errorMessage, or what happened instead

    def describe(self) -> str:
        return f"{self.error_type}: {self.message}" if self.error_type else self.message


@dataclass(frozen=True)
class Invocation:
    ok: bool  # the function returned an answer (whatever its statusCode)
    payload: Any  # the answer, or Lambda's error document
    ms: float
    error_type: str = ""

    def describe(self) -> str:
        if self.ok:
            status = self.payload.get("statusCode") if isinstance(self.payload, dict) else None
            return f"answered {status}" if status is not None else "answered"
        message = self.payload.get("errorMessage", "") if isinstance(self.payload, dict) else ""
        return f"{self.error_type}: {message}"


def lambda_error(error_type: str, message: str) -> dict[str, Any]:
    return {"errorType": error_type, "errorMessage": message}


class ExecutionEnvironment:
    """``python3.12 -I -S bootstrap.py`` in the task root, as Lambda starts the runtime."""

    def __init__(self, *, python: str, bootstrap: Path, cwd: Path, env: dict[str, str],
                 function_arn: str, log_path: Path) -> None:
        self.api = RuntimeApi(function_arn)
        self.command = [python, "-I", "-S", str(bootstrap)]
        self.cwd, self.env, self.log_path = cwd, env, log_path
        self.alive = False
        self._stack = contextlib.ExitStack()
        self._process: subprocess.Popen[Any] | None = None
        self._started = 0.0

    def __enter__(self) -> ExecutionEnvironment:
        address = self._stack.enter_context(serving(self.api))
        env = {**self.env, "AWS_LAMBDA_RUNTIME_API": address}
        self._started = time.monotonic()
        self._process = self._stack.enter_context(
            running(self.command, env=env, log_path=self.log_path, cwd=self.cwd))
        self.alive = True
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.alive = False
        self._stack.close()

    def log_tail(self, lines: int = 20) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def init(self, limit: float = LAMBDA_INIT_LIMIT) -> InitResult:
        """Wait for the runtime's first poll (init done) or its init error."""
        deadline = self._started + limit
        while not self.api.wait_init(_POLL):
            if self._exited() or time.monotonic() > deadline:
                break
        elapsed = (time.monotonic() - self._started) * 1000
        if self.api.first_poll is not None:
            return InitResult(True, (self.api.first_poll - self._started) * 1000)
        self.alive = False
        if self.api.init_error is not None:
            error = self.api.init_error.payload
            message = error.get("errorMessage", "") if isinstance(error, dict) else str(error)
            error_type = self.api.init_error.error_type or (
                error.get("errorType", "") if isinstance(error, dict) else "")
            return InitResult(False, elapsed, error_type, message)
        if self._exited():
            return InitResult(False, elapsed, "Runtime.ExitError",
                              f"the runtime exited with status {self._returncode()} during "
                              f"init:\n{self.log_tail()}")
        return InitResult(False, elapsed, "Sandbox.Timedout",
                          f"init did not finish within {limit:.0f} s:\n{self.log_tail()}")

    def invoke(self, event: Any, timeout: float) -> Invocation:
        """Send ``event``; Lambda's timeout ends the environment, as does the runtime exiting."""
        started = time.monotonic()
        request_id = self.api.submit(event, timeout)
        outcome: Outcome | None = None
        while outcome is None:
            outcome = self.api.outcome(request_id, _POLL)
            if outcome is not None:
                break
            elapsed = time.monotonic() - started
            if self._exited():
                self.alive = False
                return Invocation(False, lambda_error(
                    "Runtime.ExitError", f"RequestId: {request_id} Error: Runtime exited with "
                    f"status {self._returncode()}"), elapsed * 1000, "Runtime.ExitError")
            if elapsed > timeout:
                self.alive = False
                return Invocation(False, lambda_error(
                    "Sandbox.Timedout", f"RequestId: {request_id} Error: Task timed out after "
                    f"{timeout:.2f} seconds"), elapsed * 1000, "Sandbox.Timedout")
        ms = (time.monotonic() - started) * 1000
        if outcome.ok:
            return Invocation(True, outcome.payload, ms)
        error_type = outcome.error_type or (
            outcome.payload.get("errorType", "") if isinstance(outcome.payload, dict) else "")
        return Invocation(False, outcome.payload, ms, error_type)

    def _exited(self) -> bool:
        return self._process is None or self._process.poll() is not None

    def _returncode(self) -> int | None:
        return None if self._process is None else self._process.returncode
