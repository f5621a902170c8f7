"""The code as it ships, for the benchmark: staged for the venv, and packaged for Lambda.

- ``stage_code``: the runtime packages copied whole into a folder, with bytecode compiled
  by the running interpreter (``unchecked-hash``, as the function zip has) or without it:
  what the virtualenv scenarios import, so that "bytecode present" is a choice, not an
  accident of whatever ``__pycache__`` the working tree holds.
- ``PackagedFunctions``: the function zip and the model layers (of the models frozen for
  this run) built now by the layer build's own code (CPython 3.12 bytecode), with
  ``build/layers/runtime.zip``, unpacked by the fidelity runner's ``Unpacker`` into a task
  root and an opt folder, with Lambda's environment.
- ``function_environment``: the variables every function gets from serverless.yml's
  ``provider.environment`` that change how the process runs (BLAS threads): the like-for-
  like floor gets the same.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from benchmarks.children import ROOT
from featherserve.fidelity.model import FunctionSpec
from featherserve.fidelity.sandbox import Sandbox, Unpacker, lambda_environment
from featherserve.layers.code_package import RUNTIME_PACKAGES, build_function_zip, stage_packages
from featherserve.layers.exceptions import TargetInterpreterError
from featherserve.layers.interpreter import TargetInterpreter, find_target_interpreter
from featherserve.layers.model_layer import ModelRef, build_model_layers, model_layer_zip
from model_store.local import LocalStore

LAYERS_DIR = ROOT / "build" / "layers"
# Process-wide settings read by native libraries at load time, not by featherserve.
PROCESS_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def function_environment(config: Path = ROOT / "serverless.yml") -> dict[str, str]:
    """``provider.environment``'s thread settings, as every function gets them."""
    text = config.read_text()
    data = yaml.load(text, Loader=_IgnoreTags)  # a SafeLoader that skips tags
    environment = ((data or {}).get("provider") or {}).get("environment") or {}
    return {k: str(v) for k, v in environment.items() if k in PROCESS_VARIABLES}


class _IgnoreTags(yaml.SafeLoader):  # type: ignore[misc]
    """serverless.yml may hold CloudFormation tags (!Ref); none matter here."""


_IgnoreTags.add_multi_constructor("!", lambda loader, suffix, node: None)


def stage_code(dest: Path, *, bytecode: bool) -> Path:
    """The runtime packages in ``dest``, compiled by this interpreter when ``bytecode``."""
    dest.mkdir(parents=True, exist_ok=True)
    packages = [p for p in RUNTIME_PACKAGES if (ROOT / p / "__init__.py").is_file()]
    stage_packages(ROOT, packages, dest)
    if bytecode:
        subprocess.run([sys.executable, "-m", "compileall", "-q", "--invalidation-mode",
                        "unchecked-hash", str(dest)], check=True, timeout=600)
    return dest


def find_python312() -> TargetInterpreter | None:
    try:
        return find_target_interpreter().interpreter
    except TargetInterpreterError:
        return None


@dataclass(frozen=True)
class PackagedFunction:
    name: str
    sandbox: Sandbox
    env: dict[str, str]
    python: str
    spec: FunctionSpec

    @property
    def sys_path(self) -> list[str]:
        """What Lambda's bootstrap puts first: the task root, then the layers' python dirs."""
        opt = self.sandbox.opt / "python"
        return [str(self.sandbox.task), str(opt / "lib" / "python3.12" / "site-packages"),
                str(opt)]


class PackagedFunctions:
    """Each model's function as Lambda would unpack it, under ``scratch``."""

    def __init__(self, scratch: Path, interpreter: TargetInterpreter, store: Path,
                 layers_dir: Path = LAYERS_DIR) -> None:
        self.scratch, self.interpreter, self.layers_dir = scratch, interpreter, layers_dir
        self.store = store
        self.code = build_function_zip(scratch / "function", interpreter).layer.zip_path
        self.unpacker = Unpacker(scratch / "zips")

    def missing_layers(self, name: str) -> list[str]:
        runtime = self.layers_dir / "runtime.zip"
        return [] if runtime.is_file() else [str(runtime)]

    def function(self, name: str, extra_env: dict[str, str]) -> PackagedFunction:
        spec = FunctionSpec(name=name, function_name=f"featherserve-bench-{name}",
                            handler=f"handlers/{name}.handler", code=self.code,
                            layers=self._layers(name), memory_mb=1024, timeout=10.0,
                            environment={**function_environment(), **extra_env})
        sandbox = self.unpacker.unpack(spec, self.scratch / "sandboxes" / name)
        python = Path(self.interpreter.path).resolve()
        env = lambda_environment(spec, sandbox, region="us-east-1",
                                 runtime_dir=self.scratch / "no-runtime-dir",
                                 python_prefix=python.parents[1])
        return PackagedFunction(name, sandbox, env, str(python), spec)

    def _layers(self, name: str) -> tuple[Path, ...]:
        models = self.scratch / "model-layers"
        build_model_layers(LocalStore(self.store), [ModelRef(name)], models)
        return (self.layers_dir / "runtime.zip", model_layer_zip(models, name))
