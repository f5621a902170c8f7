"""`python -m benchmarks.pool --quick` with tiny counts, the pool benchmark `make bench` and
`make bench-pool` run at full size: it runs end to end (fresh processes, a real moto_server),
its report has every part, and every ratio is finite and positive. No absolute times."""

from __future__ import annotations

import json
import math

import pytest

from benchmarks.pool import main

pytestmark = pytest.mark.perf

COUNTS = ["--models", "12", "--samples", "2", "--first", "3", "--capacity", "1",
          "--requests", "40"]


def finite_positive(value: object) -> bool:
    return isinstance(value, int | float) and math.isfinite(value) and value > 0


def test_the_pool_benchmark_reports_every_part_as_finite_positive_ratios(tmp_path, capsys):
    assert main(["--quick", "--out", str(tmp_path), *COUNTS]) == 0
    results = json.loads((tmp_path / "pool.json").read_text())
    markdown = (tmp_path / "pool.md").read_text()
    assert markdown in capsys.readouterr().out
    assert results["quick"] is True and "--quick" in markdown
    assert results["size"] == {"models": 12, "samples": 2, "first": 3, "capacity": 1,
                               "requests": 40}

    cold = results["cold_start"]
    assert cold["pool_listed_models"] == 12
    assert finite_positive(cold["ratio"])
    for function in ("pool", "dedicated"):
        assert cold[function]["wall_ms"]["n"] == 2
    # The dedicated function loads at init, the pool on its first request.
    assert cold["pool"]["first_ms"]["median"] > cold["pool"]["init_ms"]["median"]

    assert [row["source"].split()[0] for row in results["first_use"]] == ["folder", "S3"]
    for row in results["first_use"]:
        assert row["miss_ms"]["n"] == row["hit_ms"]["n"] == 3
        assert finite_positive(row["ratio"])
        assert finite_positive(row["ratio_to_dedicated_cold_start"])

    assert [m["k"] for m in results["memory"]] == [1, 2, 11]
    for m in results["memory"]:
        assert finite_positive(m["charged_bytes_per_model"])
        assert m["ratio_to_charge"] is not None and math.isfinite(m["ratio_to_charge"])
    assert finite_positive(results["memory"][-1]["ratio_to_charge"])

    traffic = results["traffic"]
    assert traffic["capacity"] == 1
    runs = traffic["runs"]
    assert set(runs) == {"all hits", "uniform", "zipf"}
    assert runs["all hits"]["hit_rate"] == 1.0 and runs["all hits"]["working_set"] == 1
    for label in ("uniform", "zipf"):
        assert runs[label]["working_set"] == 10 and runs[label]["requests"] == 40
        assert 0 <= runs[label]["hit_rate"] < 1
        assert finite_positive(runs[label]["median_ratio"])
        assert finite_positive(runs[label]["p95_ratio"])
    # Skewed traffic keeps its hot models loaded more often than uniform traffic does.
    assert runs["zipf"]["hit_rate"] >= runs["uniform"]["hit_rate"]
    for heading in ("## Cold start", "## First request", "## Memory per loaded model",
                    "## Traffic"):
        assert heading in markdown


def test_counts_that_cannot_hold_the_working_set_are_refused(tmp_path):
    with pytest.raises(SystemExit, match="ten times"):
        main(["--quick", "--out", str(tmp_path), "--models", "5", "--capacity", "1"])
