"""``chart.png``: cold-start medians with min–max whiskers, the floor marked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

COLOURS = {"floor": "#9e9e9e", "layer": "#2e7d32", "s3": "#1565c0", "naive": "#c62828"}
KIND_LABELS = {"floor": "floor (onnxruntime + numpy)", "layer": "handler, model layer",
               "s3": "handler, model from S3", "naive": "naive teacher baseline"}


def draw_cold_start_chart(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    rows = [r for r in results["cold_start"] if r["summary"]["wall_ms"]["n"]]
    labels = [r["label"] for r in rows]
    medians = [r["summary"]["wall_ms"]["median"] for r in rows]
    lows = [m - r["summary"]["wall_ms"]["min"] for m, r in zip(medians, rows, strict=True)]
    highs = [r["summary"]["wall_ms"]["max"] - m for m, r in zip(medians, rows, strict=True)]
    figure, axes = plt.subplots(figsize=(9, 0.55 * len(rows) + 1.8))
    positions = list(range(len(rows)))[::-1]
    axes.barh(positions, medians, xerr=[lows, highs], capsize=4,
              color=[COLOURS.get(r["kind"], "#555555") for r in rows], height=0.6,
              error_kw={"elinewidth": 1, "ecolor": "#333333"})
    for y, row, median, high in zip(positions, rows, medians, highs, strict=True):
        floor_ratio = row.get("ratio_to_floor")
        text = f" {median:.0f} ms" + (f"  ({floor_ratio:.1f}× floor)" if floor_ratio else "")
        axes.text(median + high, y, text, va="center", fontsize=8)
    kinds = [k for k in COLOURS if any(r["kind"] == k for r in rows)]
    handles: list[Any] = [Rectangle((0, 0), 1, 1, color=COLOURS[k]) for k in kinds]
    names = [KIND_LABELS[k] for k in kinds]
    floor = next((r for r in rows if r["kind"] == "floor"), None)
    if floor is not None:
        handles.append(axes.axvline(floor["summary"]["wall_ms"]["median"], linestyle="--",
                                    color=COLOURS["floor"], linewidth=1))
        names.append("floor median")
    axes.set_yticks(positions, labels, fontsize=9)
    axes.set_xlabel("cold start: spawn → first response (ms), median with min–max")
    axes.set_xlim(0, max(m + h for m, h in zip(medians, highs, strict=True)) * 1.3)
    machine = results["machine"]
    axes.set_title(f"featherserve cold start, {results['settings']['samples']} fresh processes "
                   f"per scenario\n{machine['cpu_model']}, {machine['usable_cores']} cores, "
                   f"{machine['date'][:10]}", fontsize=10)
    axes.legend(handles, names, fontsize=8, loc="upper right")
    axes.grid(axis="x", alpha=0.3)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=130)
    plt.close(figure)
