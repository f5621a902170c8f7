"""Everything a run shares, found once: CPython 3.12, the emulated /var/runtime, events."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from featherserve.fidelity.exceptions import FidelityError
from featherserve.fidelity.execution import LAMBDA_INIT_LIMIT
from featherserve.fidelity.imports import TOOLING_PACKAGES
from featherserve.fidelity.lambda_runtime import ensure_runtime_dir
from featherserve.fidelity.triggers import load_events
from featherserve.fidelity.verify import RunnerSetup
from featherserve.layers.exceptions import TargetInterpreterError
from featherserve.layers.interpreter import find_target_interpreter
from featherserve.support.processes import ROOT


def project_packages(root: Path = ROOT) -> frozenset[str]:
    """The project's own top-level packages: a function must ship the ones it imports."""
    return frozenset(p.name for p in root.iterdir() if (p / "__init__.py").is_file())


def runner_setup(workdir: Path, *, events_dir: Path, cache_dir: Path,
                 python312: str | None = None, init_limit: float = LAMBDA_INIT_LIMIT,
                 extra_env: Mapping[str, str] | None = None) -> RunnerSetup:
    try:
        search = find_target_interpreter(python312)
    except TargetInterpreterError as exc:
        raise FidelityError(str(exc)) from exc
    if search.interpreter is None:
        raise FidelityError("no CPython 3.12 found to run the functions on (Lambda's "
                            "python3.12); tried: " + "; ".join(search.tried))
    if not search.interpreter.can_import_layer:
        raise FidelityError(f"{search.interpreter.describe()} cannot load the layers' "
                            "linux/x86_64 extensions")
    if not events_dir.is_dir():
        raise FidelityError(f"events folder {events_dir} not found")
    return RunnerSetup(
        python=search.interpreter.path, runtime=ensure_runtime_dir(cache_dir),
        workdir=workdir.resolve(), events=load_events(events_dir),
        first_party=project_packages() | TOOLING_PACKAGES, init_limit=init_limit,
        extra_env=dict(extra_env or {}))
