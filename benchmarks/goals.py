"""Issue 13's goals, judged on one run's numbers; and each change's gain, from the ablations.

Every goal is a ratio or a median of this run, with its limit and pass/fail. A goal whose
measurement is missing (a scenario failed, no CPython 3.12 for the packaged run) is listed
with ``met: None``: never silently dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

# Cold start (fresh process → first response) against the floors, medians of this run.
PLAIN_FLOOR_LIMIT = 1.0
LIKE_FOR_LIKE_LIMIT = 1.15
# The first request after init (or after a SnapStart restore) against a warm one.
FIRST_REQUEST_LIMIT = 1.5
# Warm medians in process, µs: a 224×224 JPEG through the image handler, and a
# 2-instance tabular request.
WARM_LIMITS_US = {"json b64 JPEG 224×224": 300.0, "json v2, 2 instances": 100.0}
WHERE = {"venv": "virtualenv", "packaged": "packaged, CPython 3.12 -I"}


def goal(goal_id: str, text: str, value: float | None, limit: float, unit: str
         ) -> dict[str, Any]:
    return {"id": goal_id, "goal": text, "value": value, "limit": limit, "unit": unit,
            "met": None if value is None else value <= limit}


def evaluate_goals(cold_rows: Iterable[dict[str, Any]],
                   warm: Mapping[str, dict[str, Any]], models: Mapping[str, Any],
                   snapstart: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    goals: list[dict[str, Any]] = []
    for row in cold_rows:
        if row["kind"] != "layer":
            continue
        model, where = row["model"], WHERE[row["where"]]
        goals += [
            goal(f"cold/{row['id']}/plain", f"{model} cold start ÷ plain floor ({where})",
                 row["ratio_to_floor"], PLAIN_FLOOR_LIMIT, "×"),
            goal(f"cold/{row['id']}/l4l", f"{model} cold start ÷ like-for-like floor "
                 f"({where})", row["ratio_to_l4l"], LIKE_FOR_LIKE_LIMIT, "×"),
            goal(f"first/{row['id']}", f"{model} first request after init ÷ warm, in the "
                 f"same process ({where})", row["first_to_warm"]["median"],
                 FIRST_REQUEST_LIMIT, "×")]
    for name, entry in warm.items():
        for variant, timing in entry["variants"].items():
            if variant in WARM_LIMITS_US:
                goals.append(goal(f"warm/{name}/{variant}", f"{name} warm median, {variant}, "
                                  "in process", timing["summary_us"]["median"],
                                  WARM_LIMITS_US[variant], "µs"))
    for name in models:
        run = (snapstart or {}).get(name) or {}
        first = run.get("first_to_warm")
        goals.append(goal(f"snapstart/{name}", f"{name} first request after a SnapStart "
                          "restore ÷ warm (fidelity runner, hooks in snapshot order)",
                          first if run.get("hooks_in_order") else None,
                          FIRST_REQUEST_LIMIT, "×"))
    return goals


def change_gains(cold_rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per ablation: cold start with the change undone against with it, same run."""
    rows = list(cold_rows)
    by_id = {row["id"]: row for row in rows}
    gains = []
    for row in rows:
        if row["kind"] != "ablation":
            continue
        base = by_id.get(f"{row['model']}/layer")
        if base is None:
            continue
        without = row["summary"]["wall_ms"]["median"]
        with_it = base["summary"]["wall_ms"]["median"]
        gains.append({
            "model": row["model"], "change": row["change"], "label": row["label"],
            "cold_without_ms": without, "cold_with_ms": with_it,
            "gain_ms": None if without is None or with_it is None else without - with_it,
            "without_over_with": (without / with_it) if without and with_it else None,
            "first_to_warm_without": row["first_to_warm"]["median"],
            "first_to_warm_with": base["first_to_warm"]["median"]})
    return gains
