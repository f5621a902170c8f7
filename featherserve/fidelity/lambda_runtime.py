"""The part of Lambda's python3.12 runtime that is not the interpreter: /var/runtime.

On Lambda, ``/var/runtime/bootstrap`` starts CPython 3.12 on ``bootstrap.py``, which puts
the task root, ``/opt/python/lib/python3.12/site-packages`` and ``/opt/python`` first on
``sys.path`` and hands over to awslambdaric, AWS's runtime interface client; the runtime
also provides boto3. This module builds that folder once (pinned wheels for the Lambda
platform, cached under ``build/fidelity/``) with a ``bootstrap.py`` doing the same.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from featherserve.fidelity.exceptions import FidelityError
from featherserve.layers.commands import CommandRunner, run_command

AWSLAMBDARIC_VERSION = "4.2.2"
BOTO3_VERSION = "1.44.8"
# Installed with --no-deps, every package pinned: the folder is the same on every machine.
RUNTIME_PACKAGES = (
    f"awslambdaric=={AWSLAMBDARIC_VERSION}",
    "simplejson==4.3.0",
    "snapshot-restore-py==1.0.0",
    f"boto3=={BOTO3_VERSION}",
    f"botocore=={BOTO3_VERSION}",
    "jmespath==1.1.0",
    "python-dateutil==2.9.0.post0",
    "s3transfer==0.19.3",
    "six==1.17.0",
    "urllib3==2.8.0",
)
# awslambdaric publishes manylinux2014 wheels, which Amazon Linux 2023 runs as well.
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux2014_x86_64")
COMPLETE_MARKER = ".complete"

# Runs as `python3.12 -I -S bootstrap.py`: no site-packages of the machine, no PYTHONPATH.
BOOTSTRAP = '''"""Lambda's /var/runtime/bootstrap.py for python3.12, as featherserve verify runs."""
import os
import sys

runtime_dir = os.path.dirname(os.path.abspath(__file__))
opt = os.environ["FEATHERSERVE_OPT_DIR"]
python = "python%d.%d" % sys.version_info[:2]
# Lambda's order: task root, the layers' site-packages, the layers' python/, then the
# runtime's own libraries (awslambdaric, boto3), then the standard library.
sys.path[:0] = [os.environ["LAMBDA_TASK_ROOT"],
                os.path.join(opt, "python", "lib", python, "site-packages"),
                os.path.join(opt, "python"), runtime_dir]

import awslambdaric.__main__ as runtime_interface_client  # noqa: E402

runtime_interface_client.main([sys.argv[0], os.environ["_HANDLER"]])
'''


@dataclass(frozen=True)
class LambdaRuntimeDir:
    path: Path

    @property
    def bootstrap(self) -> Path:
        return self.path / "bootstrap.py"


def runtime_dir_key() -> str:
    spec = json.dumps([RUNTIME_PACKAGES, PLATFORMS, BOOTSTRAP])
    return hashlib.sha256(spec.encode()).hexdigest()[:12]


def ensure_runtime_dir(cache_root: Path, run: CommandRunner = run_command) -> LambdaRuntimeDir:
    """The emulated /var/runtime under ``cache_root``, installed on first use."""
    cache_root = cache_root.resolve()
    folder = cache_root / f"lambda-runtime-{runtime_dir_key()}"
    if (folder / COMPLETE_MARKER).is_file():
        return LambdaRuntimeDir(folder)
    cache_root.mkdir(parents=True, exist_ok=True)
    partial = cache_root / f"{folder.name}.partial-{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    platforms = [arg for platform in PLATFORMS for arg in ("--platform", platform)]
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-compile",
               "--disable-pip-version-check", "--only-binary=:all:", "--implementation", "cp",
               "--python-version", "3.12", *platforms, "--target", str(partial),
               *RUNTIME_PACKAGES]
    result = run(command, timeout=900)
    if not result.ok:
        shutil.rmtree(partial, ignore_errors=True)
        raise FidelityError("could not install the Lambda runtime's awslambdaric and boto3 "
                            f"({', '.join(RUNTIME_PACKAGES)}):\n{result.output_tail()}")
    (partial / "bootstrap.py").write_text(BOOTSTRAP)
    (partial / COMPLETE_MARKER).write_text("\n".join(RUNTIME_PACKAGES) + "\n")
    with contextlib.suppress(OSError):  # a concurrent run may have finished first
        partial.rename(folder)
    shutil.rmtree(partial, ignore_errors=True)
    return LambdaRuntimeDir(folder)
