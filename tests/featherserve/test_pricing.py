"""Cost per million requests: Lambda's billing arithmetic, and the table from results.json."""

from __future__ import annotations

import json

import pytest

from featherserve.pricing import (
    Prices,
    billed_ms,
    compute_per_million,
    estimate,
    format_markdown,
    function_memory,
    main,
)
from featherserve.service_config import load_service_config
from featherserve.support.processes import ROOT


@pytest.mark.parametrize(("duration", "billed"), [
    (0.0, 1), (0.2, 1), (1.0, 1), (1.01, 2), (2.5, 3), (17.0, 17), (17.001, 18)])
def test_duration_is_billed_by_the_millisecond_rounded_up(duration, billed):
    assert billed_ms(duration) == billed


@pytest.mark.parametrize("duration", [-1.0, float("nan"), float("inf")])
def test_a_duration_must_be_a_finite_non_negative_number(duration):
    with pytest.raises(ValueError):
        billed_ms(duration)


@pytest.mark.parametrize(("memory", "duration", "dollars"), [
    # 1e6 requests × 1 GB × 0.002 s × $0.0000166667 per GB-s
    (1024, 2.0, 0.0333334),
    (1024, 1.2, 0.0333334),  # billed 2 ms
    (512, 10.0, 0.0833335),
    (1769, 1.0, 1e6 * 1769 / 1024 * 0.001 * 0.0000166667),
])
def test_compute_cost_is_memory_times_billed_duration(memory, duration, dollars):
    assert compute_per_million(memory, duration) == pytest.approx(dollars)


def test_memory_comes_from_the_function_or_the_provider():
    config = {"provider": {"memorySize": 512},
              "functions": {"a": {"memorySize": 2048}, "b": {}}}
    assert function_memory(config) == {"a": 2048, "b": 512}
    assert function_memory({"functions": {"c": {}}}) == {"c": 1024}  # the framework's default
    with pytest.raises(ValueError, match="memorySize"):
        function_memory({"functions": {"d": {"memorySize": "${param:memory}"}}})


def test_the_shipped_functions_have_a_memory_size():
    config = load_service_config(ROOT / "serverless.yml")
    memory = function_memory(config)
    assert set(memory) >= {"breast_cancer", "digits"}
    assert all(128 <= mb <= 10240 for mb in memory.values())


def results(**models: dict[str, tuple[float, float]]) -> dict[str, object]:
    """results.json's shape: warm latency summaries in µs per model and request variant."""
    return {"schema": "featherserve-bench/1", "warm": {
        model: {"variants": {variant: {"summary_us": {"median": median, "p99": p99}}
                             for variant, (median, p99) in variants.items()}}
        for model, variants in models.items()}}


def test_estimate_per_model_and_request_kind():
    measured = results(breast_cancer={"json v2, 2 instances": (412.0, 1830.0)},
                       digits={"json b64": (3100.0, 5200.0), "raw": (2900.0, 4100.0)})
    costs = estimate(measured, {"breast_cancer": 1024, "digits": 2048})
    assert [(c.model, c.request) for c in costs] == [
        ("breast_cancer", "json v2, 2 instances"), ("digits", "json b64"), ("digits", "raw")]
    tabular = costs[0]
    assert tabular.median_ms == pytest.approx(0.412)
    assert tabular.p99_ms == pytest.approx(1.83)
    assert tabular.compute == pytest.approx(1e6 * 1.0 * 0.001 * 0.0000166667)  # billed 1 ms
    assert tabular.compute_p99 == pytest.approx(1e6 * 1.0 * 0.002 * 0.0000166667)
    assert tabular.total == pytest.approx(tabular.compute + 0.20 + 3.50)
    image = costs[1]
    assert image.compute == pytest.approx(1e6 * 2.0 * 0.004 * 0.0000166667)  # 3.1 → 4 ms
    cheaper = estimate(measured, {"breast_cancer": 1024, "digits": 2048},
                       Prices(api_gateway_per_million=1.00))
    assert cheaper[0].total == pytest.approx(tabular.total - 2.50)


def test_a_benchmarked_model_without_a_function_is_an_error():
    with pytest.raises(ValueError, match="no function"):
        estimate(results(other={"v": (1000.0, 2000.0)}), {"breast_cancer": 1024})


def test_markdown_table_has_one_row_per_request_kind():
    costs = estimate(results(breast_cancer={"json": (412.0, 1830.0)}), {"breast_cancer": 1024})
    table = format_markdown(costs)
    rows = table.strip().splitlines()
    assert len(rows) == 3 and rows[0].startswith("| model |")
    assert "| breast_cancer | json | 1024 MB | 0.41 ms (1 ms) | 1.83 ms |" in rows[2]
    assert "**$3.72**" in rows[2]


def test_cli_prints_the_table_from_results_and_serverless_yml(tmp_path, capsys):
    path = tmp_path / "results.json"
    path.write_text(json.dumps(results(breast_cancer={"json": (412.0, 1830.0)},
                                       digits={"raw": (2900.0, 4100.0)})))
    assert main(["--results", str(path), "--serverless", str(ROOT / "serverless.yml")]) == 0
    out = capsys.readouterr().out
    assert "| breast_cancer | json |" in out and "| digits | raw |" in out


def test_cli_explains_missing_results(tmp_path, capsys):
    assert main(["--results", str(tmp_path / "none.json")]) == 1
    assert "python -m benchmarks" in capsys.readouterr().err
