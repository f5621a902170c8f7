"""Start the local stack exactly as README.md says a user does, and nothing more.

Two ways, both documented in README "Quick start": ``make serve PORT=N LAMBDA_PORT=M``, and
``sls offline start --stage S --httpPort N --lambdaPort M`` (plus ``--httpsProtocol DIR``
and ``--param="name=value"``, also documented there). The environment is the one the
Makefile gives its commands (``tool_env``: the project's virtualenv and the pinned CLI
first, no AWS credentials); tests add no variable of their own, so the demo proxy, the
ports and everything else work because the README's command makes them work. Free ports
are chosen only through the documented options. A project copy (tests/support/deploy.py)
passes ``env`` with its own PYTHONPATH, the one thing a copy needs that a checkout does not.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from featherserve.support.processes import (
    NODE_BIN,
    ROOT,
    free_port,
    running,
    tool_env,
    wait_for_port,
)

SLS = str(NODE_BIN / "sls")


@dataclass(frozen=True)
class Stack:
    """A running stack: its API's base URL, its two ports, the process group's leader."""

    url: str
    port: int
    lambda_port: int
    process: subprocess.Popen[Any]
    log: Path

    @property
    def lambda_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.lambda_port}"


def offline_command(port: int, lambda_port: int, *, stage: str = "dev",
                    https: Path | None = None, params: Sequence[str] = ()) -> list[str]:
    """README's `sls offline start` with the options it documents."""
    command = [SLS, "offline", "start", "--stage", stage, "--httpPort", str(port),
               "--lambdaPort", str(lambda_port)]
    if https is not None:
        command += ["--httpsProtocol", str(https)]
    return command + [f"--param={p}" for p in params]


def make_serve_command(port: int, lambda_port: int) -> list[str]:
    """README's `make serve`, on other ports (PORT and LAMBDA_PORT, documented there)."""
    return ["make", "--no-print-directory", "serve", f"PORT={port}",
            f"LAMBDA_PORT={lambda_port}"]


@contextlib.contextmanager
def _started(command: list[str], port: int, lambda_port: int, log: Path, *, https: bool,
             cwd: Path, env: Mapping[str, str] | None) -> Iterator[Stack]:
    with running(command, env=dict(env) if env is not None else tool_env(), log_path=log,
                 cwd=cwd) as process:
        wait_for_port(port, process, log, timeout=180)
        wait_for_port(lambda_port, process, log, timeout=60)
        scheme = "https" if https else "http"
        yield Stack(f"{scheme}://127.0.0.1:{port}", port, lambda_port, process, log)


@contextlib.contextmanager
def sls_offline(log: Path, *, stage: str = "dev", https: Path | None = None,
                params: Sequence[str] = (), cwd: Path = ROOT,
                env: Mapping[str, str] | None = None) -> Iterator[Stack]:
    """`sls offline start` on free ports; stopped (whole process group) on exit."""
    port, lambda_port = free_port(), free_port()
    command = offline_command(port, lambda_port, stage=stage, https=https, params=params)
    with _started(command, port, lambda_port, log, https=https is not None, cwd=cwd,
                  env=env) as stack:
        yield stack


@contextlib.contextmanager
def make_serve(log: Path, *, cwd: Path = ROOT,
               env: Mapping[str, str] | None = None) -> Iterator[Stack]:
    """`make serve` on free ports; stopped (whole process group) on exit."""
    port, lambda_port = free_port(), free_port()
    with _started(make_serve_command(port, lambda_port), port, lambda_port, log, https=False,
                  cwd=cwd, env=env) as stack:
        yield stack


def post(url: str, body: bytes, headers: Mapping[str, str], *,
         timeout: float = 60) -> tuple[int, Any]:
    """POST to a running stack: the status and the JSON answer (the raw text when it is not
    JSON), an error status included."""
    request = urllib.request.Request(url, data=body, method="POST", headers=dict(headers))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")
