"""The frontier as results: ``frontier.json``, ``frontier.md`` (tables) and ``frontier.png``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from benchmarks.frontier.points import DEFAULT_MAX_LOSS, Frontier, FrontierPoint


def write_frontiers(frontiers: Sequence[Frontier], out: Path,
                    max_loss: float = DEFAULT_MAX_LOSS, machine: str = "") -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "frontier.json", out / "frontier.md", out / "frontier.png"]
    paths[0].write_text(json.dumps({"max_accuracy_loss": max_loss, "machine": machine,
                                    "frontiers": [f.to_dict() for f in frontiers]},
                                   indent=1) + "\n")
    paths[1].write_text((f"Measured on: {machine}.\n\n" if machine else "")
                        + render_markdown(frontiers, max_loss))
    draw_chart(frontiers, paths[2])
    return paths


def render_markdown(frontiers: Sequence[Frontier], max_loss: float = DEFAULT_MAX_LOSS) -> str:
    parts = []
    for frontier in frontiers:
        pick = frontier.pick_smallest(max_loss)
        teacher = next((p.teacher_accuracy for p in frontier.points if p.teacher_accuracy),
                       None)
        lines = [f"### {frontier.model}: student sizes (teacher {_pct(teacher)})", "",
                 f"Students: {frontier.schedule}. ★ = the size the project ships; "
                 f"✓ = the smallest student within {max_loss:.0%} of the teacher (what "
                 "`--frontier` publishes).", "",
                 "| student | params | file | test accuracy | loss vs teacher ↓ | warm (handler) "
                 "| cold start | $ per 1M requests |", "|---|---|---|---|---|---|---|---|"]
        for point in frontier.points:
            marks = ("★ " if point.shipped else "") + ("✓ " if point is pick else "")
            lines.append(
                f"| {marks}{point.label} | {point.parameters or '—'} | {_size(point.file_bytes)}"
                f" | {_pct(point.accuracy)} | {_points(point.accuracy_loss)}"
                f" | {_us(point.warm_us)} | {_ms(point.cold_ms)}"
                f" | {_usd(point.cost_per_million)} |"
                + (f" error: {point.error[:80]}" if point.error else ""))
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"


def draw_chart(frontiers: Sequence[Frontier], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(len(frontiers), 2, figsize=(11, 3.6 * len(frontiers)),
                                squeeze=False)
    for row, frontier in zip(axes, frontiers, strict=True):
        measured = [p for p in frontier.points if p.accuracy is not None]
        for ax, key, label in ((row[0], "file_bytes", "model file (bytes, log)"),
                               (row[1], "warm_us", "warm handler latency (µs)")):
            for point in measured:
                x = getattr(point, key)
                if x is None or point.accuracy is None:
                    continue
                colour = "#c62828" if point.quantization == "none" else "#1565c0"
                ax.scatter([x], [100 * point.accuracy], s=160 if point.shipped else 40,
                           marker="*" if point.shipped else "o", color=colour, zorder=3)
                ax.annotate(point.label.replace("channels ", "").replace("hidden ", ""),
                            (x, 100 * point.accuracy), fontsize=7, xytext=(4, 3),
                            textcoords="offset points")
            teacher = next((p.teacher_accuracy for p in measured if p.teacher_accuracy), None)
            if teacher:
                ax.axhline(100 * teacher, linestyle="--", color="#555555", linewidth=1,
                           label="teacher")
                ax.legend(fontsize=7, loc="lower right")
            if key == "file_bytes":
                ax.set_xscale("log")
            ax.set_xlabel(label, fontsize=8)
            ax.set_ylabel("test accuracy (%)", fontsize=8)
            ax.set_title(f"{frontier.model}: ★ shipped size; blue int8, red fp32", fontsize=9)
            ax.grid(alpha=0.3)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.2f}%"


def _points(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:+.2f} pts"


def _size(value: int) -> str:
    return f"{value / 1024:.1f} KiB" if value >= 1024 else f"{value} B"


def _us(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f} µs"


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f} ms"


def _usd(value: float | None) -> str:
    return "—" if value is None else f"${value:.2f}"


def point_summary(point: FrontierPoint) -> str:
    return f"{point.label}: {_pct(point.accuracy)}, {_size(point.file_bytes)}"
