"""A function's filesystem and environment as Lambda gives them, in a local folder.

The code zip becomes the task root (Lambda's /var/task); the layers are unpacked one after
the other into one opt folder (Lambda's /opt, a later layer's files replacing an earlier
one's). The environment is the function's own variables, with /opt paths pointed at that
folder, plus the variables Lambda itself sets.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from featherserve.fidelity.model import FunctionSpec

# model_runtime.constants.OPT_DIR (not imported: that would load the whole runtime here).
OPT_DIR_VARIABLE = "FEATHERSERVE_OPT_DIR"
_OPT_PATH = re.compile(r"(?:(?<=^)|(?<=:))/opt(?=/|:|$)")


@dataclass(frozen=True)
class Sandbox:
    task: Path
    opt: Path


class Unpacker:
    """Unpacks each distinct zip once under ``cache`` and hard-links it where it is needed
    (the runtime layer, ~100 MB unpacked, is shared by every function)."""

    def __init__(self, cache: Path) -> None:
        self.cache = cache

    def unpack(self, function: FunctionSpec, dest: Path) -> Sandbox:
        if dest.exists():
            shutil.rmtree(dest)
        sandbox = Sandbox(task=dest / "task", opt=dest / "opt")
        self._link_tree(self._extracted(function.code), sandbox.task)
        sandbox.opt.mkdir(parents=True)
        for layer in function.layers:
            self._link_tree(self._extracted(layer), sandbox.opt)
        return sandbox

    def _extracted(self, archive: Path) -> Path:
        digest = hashlib.sha256(archive.read_bytes()).hexdigest()[:24]
        folder = self.cache / digest
        if not folder.is_dir():
            partial = self.cache / f"{digest}.partial-{os.getpid()}"
            with zipfile.ZipFile(archive) as opened:
                opened.extractall(partial)
            with contextlib.suppress(OSError):  # another run may have finished it first
                partial.rename(folder)
            shutil.rmtree(partial, ignore_errors=True)
        return folder

    @staticmethod
    def _link_tree(source: Path, dest: Path) -> None:
        def link(src: str, dst: str) -> None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(dst)
            os.link(src, dst)

        shutil.copytree(source, dest, copy_function=link, dirs_exist_ok=True)


def remap_opt(value: str, opt: Path) -> str:
    """``/opt``, ``/opt/...`` (also inside a ``:``-separated list) → the local opt folder."""
    return _OPT_PATH.sub(str(opt).replace("\\", "\\\\"), value)


def lambda_environment(function: FunctionSpec, sandbox: Sandbox, *, region: str,
                       runtime_dir: Path, python_prefix: Path,
                       extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The function's variables, then what Lambda sets (its reserved names win)."""
    env = {name: remap_opt(value, sandbox.opt) for name, value in function.environment.items()}
    task, opt = sandbox.task, sandbox.opt
    env.update({
        "LAMBDA_TASK_ROOT": str(task),
        "LAMBDA_RUNTIME_DIR": str(runtime_dir),
        "_HANDLER": function.handler,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{function.runtime}",
        "AWS_LAMBDA_FUNCTION_NAME": function.function_name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function.function_name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "featherserve-verify",
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "TZ": ":UTC",
        "LANG": "en_US.UTF-8",
        # Lambda: /var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin
        "PATH": f"{python_prefix / 'bin'}:/usr/local/bin:/usr/bin:/bin:{opt / 'bin'}",
        # Lambda: /var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:
        # /var/task/lib:/opt/lib
        "LD_LIBRARY_PATH": ":".join(str(p) for p in (
            python_prefix / "lib", runtime_dir, runtime_dir / "lib", task, task / "lib",
            opt / "lib")),
        OPT_DIR_VARIABLE: str(opt),
        # Not Lambda's: off Lambda, an SDK looking for credentials must not probe the EC2
        # metadata address.
        "AWS_EC2_METADATA_DISABLED": "true",
    })
    env.update(extra or {})
    return env
