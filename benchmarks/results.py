"""One run's results as plain JSON: raw samples, summaries and ratios, and the machine.

``results.json`` holds everything ``report.py`` and ``chart.py`` draw from, so both can be
regenerated from the file alone.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from benchmarks.cold_start import ColdStarts
from benchmarks.goals import change_gains, evaluate_goals
from benchmarks.scenarios import FLOOR, Scenario, ShippedModel
from benchmarks.summary import describe, ratio
from benchmarks.warm import WarmResults

SCHEMA = "featherserve-bench/1"
PHASES = ("wall_ms", "startup_ms", "import_ms", "init_ms", "first_response_ms", "peak_rss_kb")


def cold_start_results(scenarios: list[Scenario], cold: ColdStarts) -> list[dict[str, Any]]:
    """Per scenario, in run order: samples, per-phase summaries, ratios to floor and baseline."""
    rows: list[dict[str, Any]] = []
    for scenario in scenarios:
        samples = cold.samples.get(scenario.id, [])
        rows.append({
            "id": scenario.id, "label": scenario.label, "kind": scenario.kind,
            "model": scenario.model, "baseline": scenario.baseline,
            "where": scenario.where, "change": scenario.change,
            "error": cold.errors.get(scenario.id),
            "samples": samples,
            "summary": {phase: describe(s.get(phase) for s in samples) for phase in PHASES}})
    medians = {row["id"]: row["summary"]["wall_ms"]["median"] for row in rows}
    for row in rows:
        prefix = "" if row["where"] == "venv" else "packaged/"
        row["ratio_to_floor"] = ratio(medians[row["id"]], medians.get(f"{prefix}{FLOOR}"))
        row["ratio_to_l4l"] = ratio(medians[row["id"]], medians.get(f"{prefix}{FLOOR}-l4l"))
        row["ratio_to_baseline"] = ratio(medians[row["id"]], medians.get(row["baseline"] or ""))
        firsts = [s["warm"]["first_to_warm"] for s in samples_of(row) if s.get("warm")]
        row["first_to_warm"] = describe(firsts)
    return rows


def samples_of(row: dict[str, Any]) -> list[dict[str, Any]]:
    samples: list[dict[str, Any]] = row["samples"]
    return samples


def build_results(*, mode: str, machine: dict[str, Any], settings: dict[str, Any],
                  models: Mapping[str, ShippedModel], s3_versions: Mapping[str, str],
                  scenarios: list[Scenario], cold: ColdStarts, warm: WarmResults,
                  notes: list[str], seconds: float,
                  extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    cold_rows = cold_start_results(scenarios, cold)
    extra = dict(extra or {})
    return {
        "schema": SCHEMA,
        "mode": mode,
        "machine": machine,
        "settings": settings,
        "models": {name: {"version": m.manifest.version, "sha256": m.manifest.sha256,
                          "bytes": m.manifest.bytes, "task": m.manifest.task,
                          "quantization": m.manifest.quantization.method,
                          "handler": m.handler_module, "s3_version": s3_versions.get(name)}
                   for name, m in models.items()},
        "cold_start": cold_rows,
        "warm": warm.handlers,
        "inference": warm.inference,
        "warm_changes": warm.changes,
        **extra,
        "changes": change_gains(cold_rows),
        "goals": evaluate_goals(cold_rows, warm.handlers, models, extra.get("snapstart")),
        "errors": {**cold.errors, **warm.errors, **extra.get("errors", {})},
        "notes": notes,
        "duration_s": round(seconds, 1),
    }


def write_json(results: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1, sort_keys=False, allow_nan=False) + "\n")
