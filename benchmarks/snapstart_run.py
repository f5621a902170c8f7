"""Two inputs of a run that come from outside the working tree's current code.

- ``snapstart_runs``: each packaged function through the fidelity runner as a SnapStart
  version (``featherserve.fidelity.snapstart``): the hooks in snapshot order, then the
  first request after the restore against warm ones.
- ``baseline_tree``: the runtime packages as they were before issue 13 (``git archive`` of
  ``BASELINE_COMMIT``), for the warm before/after pairs.
"""

from __future__ import annotations

import io
import json
import statistics
import subprocess
import sys
import tarfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from benchmarks.children import ROOT
from benchmarks.packaged import PackagedFunction

# The last commit before issue 13's runtime changes.
BASELINE_COMMIT = "27471d9"
BASELINE_PACKAGES = ("preprocessing", "model_store")
FIDELITY_CACHE = ROOT / "build" / "fidelity"
SNAPSTART_REQUESTS = 60
# Each run is one restored environment; the first request after a restore is one sample,
# so a few environments are run and the median taken.
SNAPSTART_RUNS = 5


def snapstart_runs(packaged: Mapping[str, PackagedFunction], events: Mapping[str, Path],
                   scratch: Path, errors: dict[str, str], *,
                   runs: int = SNAPSTART_RUNS) -> dict[str, Any]:
    from featherserve.fidelity.exceptions import FidelityError
    from featherserve.fidelity.runner_setup import runner_setup
    from featherserve.fidelity.sandbox import lambda_environment
    from featherserve.fidelity.snapstart import run_snapstart

    found: dict[str, Any] = {}
    try:
        setup = runner_setup(scratch, events_dir=ROOT / "tests" / "events",
                             cache_dir=FIDELITY_CACHE, python312=next(
                                 iter(packaged.values())).python)
    except FidelityError as exc:
        errors["snapstart"] = f"fidelity runner unavailable: {exc}"
        return found
    for name, function in packaged.items():
        print(f"  snapstart: {name}", file=sys.stderr, flush=True)
        env = lambda_environment(function.spec, function.sandbox, region="us-east-1",
                                 runtime_dir=setup.runtime.path,
                                 python_prefix=Path(setup.python).parents[1])
        event = json.loads(events[name].read_text())
        done = [run_snapstart(function.spec, function.sandbox, env, setup,
                              scratch / f"{name}-{index}.log", event,
                              requests=SNAPSTART_REQUESTS).to_dict()
                for index in range(runs)]
        found[name] = summarise(done)
        for run in done:
            if not run["init_ok"] or any(status != 200 for status in run["statuses"]):
                errors[f"snapstart {name}"] = (f"init {run['init_error'] or 'ok'}, statuses "
                                               f"{sorted(set(run['statuses']))}")
    return found


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The median run's figures (by first ÷ warm), every run's ratio, and the hook order."""
    ratios = sorted(r["first_to_warm"] for r in runs if r["first_to_warm"] is not None)
    middle = statistics.median(ratios) if ratios else None
    chosen = min(runs, key=lambda r: abs((r["first_to_warm"] or 0) - (middle or 0)))
    return {**chosen, "first_to_warm": middle, "runs": len(runs), "first_to_warm_all": ratios,
            "hooks_in_order": all(r["hooks_in_order"] for r in runs),
            "statuses": sorted({s for r in runs for s in r["statuses"]})}


def baseline_tree(dest: Path, notes: list[str]) -> Path | None:
    """``BASELINE_COMMIT``'s preprocessing and model_store in ``dest`` (None without git)."""
    try:
        archive = subprocess.run(["git", "archive", "--format=tar", BASELINE_COMMIT,
                                  *BASELINE_PACKAGES], cwd=ROOT, capture_output=True,
                                 check=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        notes.append(f"no git history with {BASELINE_COMMIT}: warm before/after pairs skipped")
        return None
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(dest, filter="data")
    return dest
