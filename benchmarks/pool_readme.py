"""The README's "Many models" numbers, rendered from the pool benchmark's results.

    python -m benchmarks.pool_readme           # rewrite the table between the README's markers
    python -m benchmarks.pool_readme --check   # exit 1 when the README's table is stale

The numbers come from ``bench/results/pool.json`` (what ``make bench-pool`` writes) and the
template costs from ``featherserve.stack_costs`` (measured on a real packaged template):
nothing here measures, and nothing in the table is typed by hand.
tests/benchmarks/test_pool_readme.py fails when the README disagrees with them; after
``make bench-pool`` (or a new ``python -m featherserve.stack_costs --write``), run this.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import textwrap
from pathlib import Path
from typing import Any

from featherserve.stack_costs import MEASURE_COMMAND, StackCosts, synthetic_models
from featherserve.stack_limits import LIMITS, check_counts

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
RESULTS = ROOT / "bench" / "results" / "pool.json"
COMMAND = "python -m benchmarks.pool_readme"
TABLE_START = f"<!-- pool-numbers: start ({COMMAND}) -->"
TABLE_END = "<!-- pool-numbers: end -->"
# The shipped stage's dedicated models, beside the pooled ones in the template line.
SHIPPED_DEDICATED = 2
# The README's prose width (the table rows are one line each).
WIDTH = 92
# Far past any stage: the search for the most dedicated models stops here.
SEARCH_LIMIT = 10_000


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    return None


def _ms(value: Any) -> str:
    number = _number(value)
    if number is None:
        return "n/a"
    digits = 2 if number < 10 else 1 if number < 100 else 0
    return f"{number:.{digits}f} ms"


def _x(value: Any) -> str:
    number = _number(value)
    if number is None:
        return "n/a"
    if number < 0.1:
        return f"{number:.2g}×"
    digits = 2 if number < 10 else 1 if number < 100 else 0
    return f"{number:.{digits}f}×"


def _kib(value: Any) -> str:
    number = _number(value)
    return "n/a" if number is None else f"{number / 1024:.0f} KiB"


def _wrap(text: str) -> str:
    return textwrap.fill(text, WIDTH, break_long_words=False, break_on_hyphens=False)


def _row(what: str, pooled: str, baseline: str, ratio: str) -> str:
    return f"| {what} | {pooled} | {baseline} | {ratio} |"


def most_dedicated(costs: StackCosts) -> tuple[int, str]:
    """The most dedicated models a stage's template holds, and the limit the next breaks."""
    names = [m.name for m in synthetic_models(SEARCH_LIMIT)]
    for count in range(SEARCH_LIMIT):
        problems = check_counts(costs.estimate(names[:count + 1]))
        if problems:
            first = problems[0]
            return count, f"{first.limit:,} {LIMITS[first.key][1]}"
    raise ValueError(f"no CloudFormation limit reached by {SEARCH_LIMIT} dedicated models")


def template_line(costs: StackCosts, pooled: int) -> str:
    """What a dedicated and a pooled model cost the template, from the measured costs."""
    def resources(dedicated: int, pooled_models: int) -> int:
        names = [m.name for m in synthetic_models(dedicated)]
        return costs.estimate(names, pooled_models)["resources"]

    most, limit = most_dedicated(costs)
    pool = resources(0, 1) - resources(0, 0)
    per_pooled = resources(0, 2) - resources(0, 1)
    return (f"Template (`{MEASURE_COMMAND}`, bulk scoring on): a dedicated model adds "
            f"{costs.per_model['resources']} resources to {costs.shared['resources']} shared, "
            f"so a stage holds at most {most} (CloudFormation: {limit}); a pooled model adds "
            f"{per_pooled} resources, its pool {pool} once: {SHIPPED_DEDICATED} dedicated + "
            f"{pooled} pooled models are {resources(SHIPPED_DEDICATED, pooled)} resources.")


def render_table(results: dict[str, Any], costs: StackCosts) -> str:
    """The README's numbers: the benchmark's ratios, then the template's costs."""
    size, machine = results["size"], results["machine"]
    cold = results["cold_start"]
    first = {row["source"].split()[0].lower(): row for row in results["first_use"]}
    memory = max(results["memory"], key=lambda m: m["k"])
    traffic = results["traffic"]
    runs = traffic["runs"]
    hits = runs["all hits"]
    quick = " (a `--quick` run: fewer models and samples than the full one)" \
        if results.get("quick") else ""
    lines = [
        _wrap(f"`make bench-pool`{quick}: {size['models']} tiny tabular models, "
        f"{machine['cores']} cores, {str(machine['date'])[:10]} (commit "
        f"{str(machine.get('git_commit') or 'unknown')[:7]}); medians, each against a "
        "baseline of the same run ([`bench/results/pool.md`](bench/results/pool.md) has "
        "the samples)."), "",
        "| measured | pooled | baseline | ratio |",
        "|---|---:|---:|---:|",
        _row(f"cold start: a pool listing {cold['pool_listed_models']} models ÷ a dedicated "
             "function", _ms(cold["pool"]["wall_ms"]["median"]),
             _ms(cold["dedicated"]["wall_ms"]["median"]), _x(cold["ratio"]))]
    for key, where in (("folder", "a folder (layer)"), ("s3", "S3")):
        row = first[key]
        lines.append(_row(f"first request, model in {where} ÷ a loaded model",
                          _ms(row["miss_ms"]["median"]), _ms(row["hit_ms"]["median"]),
                          _x(row["ratio"])))
    lines.append(_row(f"memory per loaded model ({memory['k']} loaded) ÷ the LRU's charge",
                      _kib(memory["bytes_per_model"]), _kib(memory["charged_bytes_per_model"]),
                      _x(memory["ratio_to_charge"])))
    for label, shape in (("uniform", "uniform"), ("zipf", f"Zipf (s = {traffic['zipf_s']})")):
        run = runs[label]
        lines.append(_row(
            f"p95, {shape} traffic over {run['working_set']} models, LRU of "
            f"{traffic['capacity']} (hit rate {run['hit_rate'] * 100:.1f}%) ÷ all hits",
            _ms(run["p95_ms"]), _ms(hits["p95_ms"]), _x(run["p95_ratio"])))
    lines += ["", _wrap(template_line(costs, size["models"]))]
    return "\n".join(lines) + "\n"


def readme_with_table(readme: str, table: str) -> str:
    """The README with the text between the markers replaced by ``table``."""
    try:
        start = readme.index(TABLE_START) + len(TABLE_START)
        end = readme.index(TABLE_END, start)
    except ValueError:
        raise ValueError(f"the README has no {TABLE_START} ... {TABLE_END} markers") from None
    return readme[:start] + "\n" + table + readme[end:]


def expected_readme(readme_path: Path = README, results_path: Path = RESULTS) -> str:
    results = json.loads(results_path.read_text(encoding="utf-8"))
    table = render_table(results, StackCosts.load())
    return readme_with_table(readme_path.read_text(encoding="utf-8"), table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=RESULTS,
                        help="the pool benchmark's JSON (default: %(default)s)")
    parser.add_argument("--readme", type=Path, default=README,
                        help="the README to rewrite (default: %(default)s)")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 when the README's table is stale")
    args = parser.parse_args(argv)
    try:
        expected = expected_readme(args.readme, args.results)
    except (OSError, ValueError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    current = args.readme.read_text(encoding="utf-8")
    if args.check:
        if expected != current:
            print(f"{args.readme}: the pool numbers differ from {args.results}; run `{COMMAND}`",
                  file=sys.stderr)
            return 1
        print(f"{args.readme}: the pool numbers are {args.results}'s")
        return 0
    if expected != current:
        args.readme.write_text(expected, encoding="utf-8")
    print(f"{args.readme}: pool numbers written from {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
