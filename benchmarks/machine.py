"""What the numbers were measured on: CPU, cores, load, versions, commit, date."""

from __future__ import annotations

import os
import platform
import subprocess
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

PACKAGES = ("onnxruntime", "numpy", "pillow", "aws-lambda-powertools", "boto3", "moto",
            "torch", "scikit-learn", "joblib")


def machine_info(root: Path) -> dict[str, Any]:
    return {
        "cpu_model": _first_value(Path("/proc/cpuinfo"), "model name") or platform.processor(),
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)),
        "memory_total_kb": _int_or_none(_first_value(Path("/proc/meminfo"), "MemTotal")),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "versions": {name: _version(name) for name in PACKAGES},
        "load_average_at_start": list(os.getloadavg()),
        "date": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "git_commit": _git(root, "rev-parse", "HEAD"),
        "git_dirty": bool(_git(root, "status", "--porcelain", "--untracked-files=no")),
    }


def _first_value(path: Path, key: str) -> str | None:
    try:
        for line in path.read_text().splitlines():
            name, _, value = line.partition(":")
            if name.strip() == key:
                return value.strip()
    except OSError:
        return None
    return None


def _int_or_none(text: str | None) -> int | None:
    if not text:
        return None
    head = text.split()[0]
    return int(head) if head.isdigit() else None


def _version(package: str) -> str | None:
    try:
        return version(package)
    except PackageNotFoundError:
        return None


def _git(root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True,
                              timeout=30, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip()
