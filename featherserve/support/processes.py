"""Start real servers and CLIs for end-to-end tests, and always stop their process group."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from featherserve.project import project_root

# The project the command runs in (featherserve/project.py), and the environment running it.
ROOT = project_root()
VENV = Path(sys.prefix) if sys.prefix != sys.base_prefix else ROOT / ".venv"
NODE_BIN = ROOT / "node_modules" / ".bin"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tool_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment the Makefile gives its commands: project venv and pinned CLI first."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") or k == "AWS_CA_BUNDLE"}
    env.update({
        "VIRTUAL_ENV": str(VENV),
        "PATH": os.pathsep.join([str(VENV / "bin"), str(NODE_BIN), env.get("PATH", "")]),
        "AWS_EC2_METADATA_DISABLED": "true",
        "SLS_TELEMETRY_DISABLED": "1",
        "SLS_NOTIFICATIONS_MODE": "off",
    })
    env.update(extra or {})
    return env


def stop_group(process: subprocess.Popen[Any], grace: float = 5.0) -> None:
    """SIGTERM the whole process group, then SIGKILL whatever is left."""
    if process.poll() is not None and not _group_alive(process.pid):
        return
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, grace)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and _group_alive(process.pid):
            time.sleep(0.05)
        if not _group_alive(process.pid):
            break
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace)


def _group_alive(pgid: int) -> bool:
    # Reap the leader first if it has exited: a zombie still counts as a group member.
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pgid, os.WNOHANG)
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def running(command: list[str], *, env: Mapping[str, str], log_path: Path,
            cwd: Path = ROOT) -> Iterator[subprocess.Popen[Any]]:
    """Run ``command`` in its own session; on exit its whole process group is stopped."""
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=cwd, env=dict(env), stdout=log,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True)
        try:
            yield process
        finally:
            stop_group(process)


def run_cli(command: list[str], *, env: Mapping[str, str], timeout: float = 300,
            cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """Run a CLI to completion in its own process group (killed as a group on timeout)."""
    process = subprocess.Popen(command, cwd=cwd, env=dict(env), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                               start_new_session=True)
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop_group(process)
        out, err = process.communicate()
        raise AssertionError(f"{command} timed out after {timeout}s\n{out}\n{err}") from None
    finally:
        stop_group(process)
    return subprocess.CompletedProcess(command, process.returncode, out, err)


def last_json_document(text: str) -> Any:
    """The last top-level JSON document in ``text`` (CLI output mixes logs and results)."""
    decoder = json.JSONDecoder()
    found: Any = None
    index = 0
    while (start := text.find("{", index)) != -1:
        try:
            found, end = decoder.raw_decode(text, start)
            index = end
        except ValueError:
            index = start + 1
    return found


def wait_for_port(port: int, process: subprocess.Popen[Any], log_path: Path,
                  timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited early:\n{log_path.read_text()[-4000:]}")
        with socket.socket() as sock:
            sock.settimeout(0.5)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError(f"port {port} did not open in {timeout}s:\n{log_path.read_text()[-4000:]}")
