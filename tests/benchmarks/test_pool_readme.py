"""The README's "Many models" numbers are bench/results/pool.json's (issue 19): the table
between the README's markers is what `python -m benchmarks.pool_readme` renders from the
committed results and the measured template costs (featherserve/stack_costs_table.py), so
a new `make bench-pool` run without regenerating the README fails here."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from benchmarks.pool_readme import (
    COMMAND,
    README,
    RESULTS,
    TABLE_END,
    TABLE_START,
    expected_readme,
    main,
)
from featherserve.stack_costs import StackCosts
from featherserve.stack_limits import MAX_RESOURCES


def section(readme: str) -> str:
    return readme[readme.index(TABLE_START):readme.index(TABLE_END)]


def results() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(RESULTS.read_text(encoding="utf-8"))
    return data


def copies(tmp_path: Path) -> tuple[Path, Path, dict[str, Any]]:
    readme, data = tmp_path / "README.md", results()
    readme.write_text(README.read_text(encoding="utf-8"), encoding="utf-8")
    return readme, tmp_path / "pool.json", data


def test_the_readme_shows_the_committed_pool_results() -> None:
    assert expected_readme() == README.read_text(encoding="utf-8"), (
        f"the README's pool numbers differ from {RESULTS.relative_to(README.parent)}; "
        f"regenerate them with `{COMMAND}`")


def test_the_table_holds_each_ratio_the_benchmark_measured() -> None:
    table, data = section(README.read_text(encoding="utf-8")), results()
    rows = [line for line in table.splitlines() if line.startswith("| ") and "÷" in line]
    assert len(rows) == 6

    def ratio(value: float) -> float:
        assert math.isfinite(value) and value > 0
        return value

    shown = [float(row.rstrip(" |").rsplit("| ", 1)[1].rstrip("×")) for row in rows]
    measured = [ratio(data["cold_start"]["ratio"]),
                *(ratio(row["ratio"]) for row in data["first_use"]),
                ratio(max(data["memory"], key=lambda m: m["k"])["ratio_to_charge"]),
                ratio(data["traffic"]["runs"]["uniform"]["p95_ratio"]),
                ratio(data["traffic"]["runs"]["zipf"]["p95_ratio"])]
    for got, want in zip(shown, measured, strict=True):
        assert math.isclose(got, want, rel_tol=0.01), (got, want)
    for label in ("uniform", "zipf"):
        assert f"hit rate {data['traffic']['runs'][label]['hit_rate'] * 100:.1f}%" in table


def test_the_template_line_is_the_measured_costs() -> None:
    costs, table = StackCosts.load(), section(README.read_text(encoding="utf-8"))
    most = (MAX_RESOURCES - costs.shared["resources"]) // costs.per_model["resources"]
    flat = " ".join(table.split())
    assert (f"a dedicated model adds {costs.per_model['resources']} resources to "
            f"{costs.shared['resources']} shared, so a stage holds at most {most} "
            f"(CloudFormation: {MAX_RESOURCES} resources)") in flat
    pooled = results()["size"]["models"]
    stage = costs.estimate(["breast_cancer", "digits"], pooled)["resources"]
    assert f"2 dedicated + {pooled} pooled models are {stage} resources" in flat
    assert costs.estimate([], pooled)["resources"] == costs.estimate([], 1)["resources"]


def test_a_new_run_makes_the_check_fail_until_the_readme_is_regenerated(tmp_path,
                                                                       capsys) -> None:
    readme, pool_json, data = copies(tmp_path)
    data["cold_start"]["ratio"] = 3.25
    data["traffic"]["runs"]["zipf"]["hit_rate"] = 0.611
    data["quick"] = True
    pool_json.write_text(json.dumps(data), encoding="utf-8")
    where = ["--readme", str(readme), "--results", str(pool_json)]
    before = readme.read_text(encoding="utf-8")

    assert main(["--check", *where]) == 1
    assert f"run `{COMMAND}`" in capsys.readouterr().err
    assert readme.read_text(encoding="utf-8") == before  # --check writes nothing

    assert main(where) == 0
    after = readme.read_text(encoding="utf-8")
    table = section(after)
    assert "| 3.25× |" in table and "hit rate 61.1%" in table and "`--quick` run" in table
    # Only the text between the markers changed.
    start, end = before.index(TABLE_START), before.index(TABLE_END)
    assert after[:start] == before[:start]
    assert after[after.index(TABLE_END):] == before[end:]
    assert main(["--check", *where]) == 0


def test_a_readme_without_the_markers_is_an_error(tmp_path, capsys) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# a README\n", encoding="utf-8")
    assert main(["--check", "--readme", str(readme)]) == 2
    assert "has no <!-- pool-numbers: start" in capsys.readouterr().err
