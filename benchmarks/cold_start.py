"""Cold starts: a fresh process per sample, scenarios interleaved round-robin.

Each round runs every scenario once, starting one scenario later than the round before,
so slow drift on a shared machine (a training job, a page cache filling up) is spread over
all scenarios instead of landing on whichever ran last. One unmeasured run per scenario
goes first: it warms the page cache and turns a broken scenario into a clear error early.
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.children import BENCH_DIR, ChildFailed, child_env, run_child, script_command
from benchmarks.s3_fixture import cache_env
from benchmarks.scenarios import Scenario

MODEL_SUFFIXES = (".onnx", ".ort")


@dataclass
class ColdStarts:
    samples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def run_cold_starts(scenarios: list[Scenario], *, samples: int, scratch: Path,
                    timeout: float = 180.0) -> ColdStarts:
    result = ColdStarts(samples={s.id: [] for s in scenarios})
    for scenario in scenarios:
        _attempt(result, scenario, "warm-up", scratch, timeout, keep=False)
    for round_index in range(samples):
        active = [s for s in scenarios if s.id not in result.errors]
        if not active:
            break
        shift = round_index % len(active)
        for scenario in active[shift:] + active[:shift]:
            _attempt(result, scenario, str(round_index), scratch, timeout, keep=True)
        walls = ", ".join(f"{s.id} {result.samples[s.id][-1]['wall_ms']:.0f}"
                          for s in active if s.id not in result.errors)
        print(f"  cold start round {round_index + 1}/{samples} (ms): {walls}", file=sys.stderr,
              flush=True)
    return result


def _attempt(result: ColdStarts, scenario: Scenario, tag: str, scratch: Path, timeout: float,
             *, keep: bool) -> None:
    if scenario.id in result.errors:
        return
    try:
        sample = run_sample(scenario, tag, scratch, timeout)
    except ChildFailed as exc:
        result.errors[scenario.id] = f"{tag}: {exc}"
        print(f"  {scenario.id} failed ({tag}); dropped from this run:\n{exc}", file=sys.stderr)
        return
    if keep:
        result.samples[scenario.id].append(sample)


def run_sample(scenario: Scenario, tag: str, scratch: Path, timeout: float) -> dict[str, Any]:
    """One fresh process answering one first request; raises ChildFailed on any failure."""
    slug = scenario.id.replace("/", "-")
    spec = scenario.spec()
    env = dict(scenario.env) if scenario.clean_env else child_env(scenario.env)
    cache_dir = scratch / "s3-cache" / f"{slug}-{tag}" if scenario.kind == "s3" else None
    if cache_dir is not None:
        if cache_dir.exists():
            raise ChildFailed(f"{cache_dir} already exists; the cache must start empty")
        env.update(cache_env(cache_dir))
        spec["cache_dir"] = str(cache_dir)
    try:
        command = ([*scenario.command, str(BENCH_DIR / "probe.py")] if scenario.command
                   else script_command("probe.py"))
        run = run_child(command, spec, env=env,
                        log_path=scratch / "logs" / f"{slug}.log", timeout=timeout)
        response, done = run.report("response"), run.report("done")
        if scenario.event is not None and response["status"] != 200:
            raise ChildFailed(f"answered {response['status']}: {done['body']}")
        startup_ms = (response["started"] - run.spawned) * 1000
        sample: dict[str, Any] = {
            "round": tag, "wall_ms": run.wall_ms,
            # Both clocks are CLOCK_MONOTONIC on Linux; anything else is reported as unknown.
            "startup_ms": startup_ms if 0 <= startup_ms <= run.wall_ms else None,
            "import_ms": response["import_ms"], "init_ms": response["init_ms"],
            "first_response_ms": response["first_response_ms"],
            "peak_rss_kb": done["peak_rss_kb"], "status": response["status"],
            "boto3_loaded": done["boto3_loaded"], "torch_loaded": done["torch_loaded"],
            "warm": done.get("warm"), "module_file": done.get("module_file"),
            "python": done.get("python"), "isolated": done.get("isolated")}
        if cache_dir is not None:
            sample["cache"] = _cache_evidence(done, cache_dir)
        return sample
    finally:
        if cache_dir is not None:
            shutil.rmtree(cache_dir, ignore_errors=True)


def _cache_evidence(done: dict[str, Any], cache_dir: Path) -> dict[str, Any]:
    before = done["cache_before"] or []
    after = done["cache_after"] or []
    downloaded = not before and any(f.endswith(MODEL_SUFFIXES) for f in after)
    if not downloaded:
        raise ChildFailed(f"no cold download into {cache_dir}: before {before}, after {after} "
                          "(does the runtime still read FEATHERSERVE_MODEL_CACHE?)")
    return {"before": before, "after": after, "downloaded": downloaded,
            "leftover_parts": [f for f in after if f.endswith(".part")]}
