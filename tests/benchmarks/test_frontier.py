"""The frontier: a sweep of student sizes, each measured through the real handler, and the
build's choice of the smallest student within a stated accuracy loss of the teacher."""

from __future__ import annotations

import json
import sys

import pytest

from benchmarks.frontier.points import Frontier, FrontierPoint
from featherserve.support.processes import ROOT, run_cli, tool_env


def point(label: str, size: int, accuracy: float, *, teacher: float = 0.95,
          shipped: bool = False) -> FrontierPoint:
    return FrontierPoint(label=label, size_key=size, quantization="none", accuracy=accuracy,
                         teacher_accuracy=teacher, file_bytes=100 * size, parameters=size,
                         store="unused", shipped=shipped)


def test_the_smallest_student_within_the_stated_loss_is_picked():
    frontier = Frontier("m", (point("big", 500, 0.95, shipped=True), point("mid", 200, 0.945),
                              point("tiny", 50, 0.90)), schedule="test")
    assert frontier.pick_smallest(0.01).label == "mid"
    assert frontier.pick_smallest(0.05).label == "tiny"
    assert frontier.pick_smallest(0.0).label == "big"
    assert Frontier("m", (point("tiny", 50, 0.5),), "test").pick_smallest(0.01) is None


@pytest.mark.slow
def test_featherserve_train_frontier_sweeps_measures_and_publishes_the_pick(tmp_path):
    store, reports = tmp_path / "store", tmp_path / "reports"
    command = [sys.executable, "-m", "featherserve", "train", "tabular", "tiny_bc",
               "--data", "sklearn:breast_cancer", "--target", "diagnosis", "--quick",
               "--frontier", "--max-accuracy-loss", "0.02", "--store", str(store),
               "--reports", str(reports), "--no-serve"]
    done = run_cli(command, env=tool_env({"PYTHONPATH": str(ROOT)}), timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    written = json.loads((reports / "tiny_bc" / "frontier.json").read_text())
    points = written["frontiers"][0]["points"]
    assert len(points) >= 3 and sum(p["shipped"] for p in points) == 1
    for entry in points:  # every point measured through the handler, same way
        assert not entry["error"]
        assert entry["warm_us"] > 0 and entry["cold_ms"] > 0 and entry["cost_per_million"] > 3
        assert entry["file_bytes"] > 0 and entry["accuracy"] > 0.5
    chosen = min((p for p in points if p["accuracy_loss"] <= 0.02),
                 key=lambda p: (p["size_key"], p["file_bytes"]))
    published = json.loads((store / "tiny_bc" / "1" / "manifest.json").read_text())
    assert published["metrics"]["student_parameters"] == chosen["parameters"]
    assert (reports / "tiny_bc" / "frontier.png").read_bytes()[:4] == b"\x89PNG"
    assert "★" in (reports / "tiny_bc" / "frontier.md").read_text()
