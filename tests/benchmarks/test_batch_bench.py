"""`python -m benchmarks.bulk --quick`, the bulk benchmark `make bench` runs at full size:
it runs end to end, and what it claims holds in its own numbers."""

from __future__ import annotations

import json

import pytest

from benchmarks.bulk import main

pytestmark = pytest.mark.perf


def test_the_bulk_benchmark_runs_and_memory_does_not_grow_with_the_file(tmp_path, capsys):
    assert main(["--quick", "--out", str(tmp_path)]) == 0
    results = json.loads((tmp_path / "bulk.json").read_text())
    assert (tmp_path / "bulk.md").read_text() in capsys.readouterr().out
    large, small, tar, objects = results["runs"]
    assert (large["rows"], small["rows"]) == (6_000, 1_500)
    for run in results["runs"]:
        assert run["rows_per_s"] > 0 and run["http"]["us_per_instance"] > 0
        assert run["cost_per_million"]["bulk"] > 0
    # The output part buffer (8 MiB) and one chunk of rows are all a file adds to a warm
    # function: five times the rows, the same few MiB (ratios and sizes, not times).
    if large["peak_above_rest_mib"] is not None:
        assert large["peak_above_rest_mib"] < 32
        assert large["peak_above_rest_mib"] - small["peak_above_rest_mib"] < 16
    # A folder of images as one tar: one GET and two PUTs instead of three requests a photo.
    assert tar["rows_per_s"] > 2 * objects["rows_per_s"]
    assert tar["cost_per_million"]["bulk"] < objects["cost_per_million"]["bulk"]
    assert results["measured_limit_bytes"] > 10 * large["input_bytes"]
