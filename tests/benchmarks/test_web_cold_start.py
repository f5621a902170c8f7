"""`python -m benchmarks.web_cold_start`, one round: the packaged web function and the model
functions each answer their first request in a fresh CPython 3.12 process, in one run."""

from __future__ import annotations

import json

import pytest

from benchmarks.web_cold_start import RESULT_FILE, main

pytestmark = [pytest.mark.perf, pytest.mark.e2e]


def test_one_round_measures_web_beside_each_model_function(tmp_path, capsys):
    assert main(["--samples", "1", "--out", str(tmp_path)]) == 0
    document = json.loads((tmp_path / RESULT_FILE).read_text())
    scenarios = document["scenarios"]
    assert {"packaged/floor", "packaged/web", "packaged/breast_cancer", "packaged/digits",
            "venv/werkzeug", "venv/flask"} <= set(scenarios)
    assert document["errors"] == {}
    assert all(s["n"] == 1 and s["median_ms"] > 0 for s in scenarios.values())
    # The web function reads manifests only: boto3 stays unloaded on a catalog request.
    assert scenarios["packaged/web"]["boto3_loaded"] is False
    assert "web ÷ breast_cancer" in capsys.readouterr().out
