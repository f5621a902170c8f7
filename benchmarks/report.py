"""``results.md``: the run's Markdown tables, drawn from ``results.json`` alone."""

from __future__ import annotations

from typing import Any


def render_markdown(results: dict[str, Any]) -> str:
    parts = [_heading(results), goals_table(results), cold_start_table(results),
             changes_table(results), warm_table(results), throughput_table(results),
             snapstart_table(results),
             inference_table(results), _footer(results)]
    return "\n\n".join(p for p in parts if p) + "\n"


def cold_start_table(results: dict[str, Any]) -> str:
    rows = results["cold_start"]
    samples = results["settings"]["samples"]
    lines = [
        f"### Cold start: a fresh process per sample, {samples} samples per scenario, "
        "interleaved round-robin",
        "",
        "| scenario | cold start median [min–max] | spread | × floor | × like-for-like floor "
        "| ÷ naive teacher | startup | import | init | first response | first ÷ warm "
        "| peak RSS |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        summary = row["summary"]
        wall = summary["wall_ms"]
        if not wall["n"]:
            lines.append(f"| {row['label']} | failed: see errors | | | | | | | | | | |")
            continue
        lines.append(
            f"| {row['label']} | {_ms(wall['median'])} [{_num(wall['min'])}–{_num(wall['max'])}]"
            f" | {_percent(wall['spread'])} | {_times(row['ratio_to_floor'])}"
            f" | {_times(row.get('ratio_to_l4l'))} | {_times(row['ratio_to_baseline'])}"
            f" | {_ms(summary['startup_ms']['median'])} | {_ms(summary['import_ms']['median'])}"
            f" | {_ms(summary['init_ms']['median'])}"
            f" | {_ms(summary['first_response_ms']['median'])}"
            f" | {_times((row.get('first_to_warm') or {}).get('median'))}"
            f" | {_mib(summary['peak_rss_kb']['median'])} |")
    lines += ["", "Cold start = parent's spawn → first response line from the child (medians "
              "of each phase shown; phases do not add up exactly to the median total). "
              "startup = interpreter start-up before the probe's first line; import = "
              "module-level imports (`model_runtime` for a handler: powertools, numpy, "
              "featherserve); init = building the handler (featherserve: `serve_model` — "
              "onnxruntime import, model read and sha256 check or S3 download, session; "
              "naive: `joblib.load` / `torch.load` + module); first response = the first "
              "API Gateway event answered. × floor and ÷ naive teacher compare medians of "
              "this run. Peak RSS = VmHWM of the child."]
    return "\n".join(lines)


def goals_table(results: dict[str, Any]) -> str:
    goals = results.get("goals") or []
    if not goals:
        return ""
    met = sum(1 for g in goals if g["met"])
    lines = [f"### Goals (issue 13), judged on this run: {met} of {len(goals)} met", "",
             "| goal | measured | limit | result |", "|---|---|---|---|"]
    for entry in goals:
        value, unit = entry["value"], entry["unit"]
        shown = "—" if value is None else (f"{value:.2f}×" if unit == "×" else f"{value:.0f} µs")
        limit = f"{entry['limit']:.2f}×" if unit == "×" else f"{entry['limit']:.0f} µs"
        result = {True: "PASS", False: "FAIL", None: "NOT MEASURED"}[entry["met"]]
        lines.append(f"| {entry['goal']} | {shown} | ≤ {limit} | {result} |")
    return "\n".join(lines)


def changes_table(results: dict[str, Any]) -> str:
    changes = results.get("changes") or []
    warm = results.get("warm_changes") or {}
    if not changes and not warm:
        return ""
    lines = ["### Each change on its own, same run: the handler with that one change undone",
             "", "| model | change | cold start without it | with it (all changes) | gain "
             "| first ÷ warm without / with |", "|---|---|---|---|---|---|"]
    for entry in changes:
        lines.append(
            f"| {entry['model']} | {entry['label'].split('without: ', 1)[-1]}"
            f" | {_ms(entry['cold_without_ms'])} | {_ms(entry['cold_with_ms'])}"
            f" | {_signed_ms(entry['gain_ms'])}"
            f" | {_times(entry['first_to_warm_without'])}"
            f" / {_times(entry['first_to_warm_with'])} |")
    if warm:
        lines += ["", "| warm change | before (median) | after (median) | × faster |",
                  "|---|---|---|---|"]
        for what, pair in warm.items():
            before, after = (pair.get(k, {}).get("median") for k in ("before", "after"))
            speedup = before / after if before and after else None
            lines.append(f"| {what} | {_us(before)} | {_us(after)} | {_times(speedup)} |")
    return "\n".join(lines)


def throughput_table(results: dict[str, Any]) -> str:
    throughput = results.get("throughput") or {}
    rows = throughput.get("rows") or {}
    if not rows:
        return ""
    lines = [f"### Serving throughput: {throughput['model']}, {throughput['request']}, "
             "same requests, same run, loopback", "",
             "| server | requests/s | average latency | p50 | p99 | concurrency | errors |",
             "|---|---|---|---|---|---|---|"]
    for name, row in rows.items():
        latency = row["latency_ms"]
        errors = "; ".join(row.get("errors") or []) or "0"
        lines.append(f"| {name} | {_rps(row['requests_per_s'])} | {_ms(latency['mean'])}"
                     f" | {_ms(latency['median'])} | {_ms(latency['p99'])}"
                     f" | {row.get('concurrency', '—')} | {errors[:120]} |")
    lines += ["", "The client (Python threads, keep-alive) runs on the same two cores as the "
              "server, for every row alike."]
    return "\n".join(lines)


def snapstart_table(results: dict[str, Any]) -> str:
    runs = results.get("snapstart") or {}
    if not runs:
        return ""
    lines = ["### SnapStart in the fidelity runner (packaged, CPython 3.12, awslambdaric): "
             "hooks in snapshot order, then requests", "",
             "| model | hooks in order | first request after restore | warm median "
             "| first ÷ warm (median of runs) | every run |", "|---|---|---|---|---|---|"]
    for name, run in runs.items():
        lines.append(f"| {name} | {'yes' if run.get('hooks_in_order') else 'NO'}"
                     f" | {_ms(run.get('first_ms'))} | {_ms(run.get('warm_median_ms'))}"
                     f" | {_times(run.get('first_to_warm'))}"
                     f" | {', '.join(_times(r) for r in run.get('first_to_warm_all') or [])} |")
    lines += ["", "In-function latency (the metrics line's `latency_ms`). A real restore "
              "also faults the snapshot's memory back in, which a local process cannot show."]
    return "\n".join(lines)


def _signed_ms(value: float | None) -> str:
    return "—" if value is None else f"{value:+.1f} ms"


def warm_table(results: dict[str, Any]) -> str:
    warm = results["warm"]
    if not warm:
        return ""
    lines = [f"### Warm latency: one long-lived process per handler, "
             f"{results['settings']['requests']} requests per variant after "
             f"{results['settings']['warmup']} warm-up, single-threaded",
             "",
             "| handler | request | median | p90 | p99 | throughput | peak RSS |",
             "|---|---|---|---|---|---|---|"]
    for name, entry in warm.items():
        for variant, timing in entry["variants"].items():
            summary = timing["summary_us"]
            lines.append(f"| {name} | {variant} | {_us(summary['median'])} | {_us(summary['p90'])}"
                         f" | {_us(summary['p99'])} | {_rps(timing['throughput_rps'])}"
                         f" | {_mib(entry['peak_rss_kb'])} |")
    return "\n".join(lines)


def inference_table(results: dict[str, Any]) -> str:
    inference = results["inference"]
    if not inference:
        return ""
    lines = ["### Bare inference on the same input: served student vs teacher, one thread",
             "",
             "| model | engine | file size | median | p90 | p99 | × student |",
             "|---|---|---|---|---|---|---|"]
    for name, entry in inference.items():
        variants = entry["variants"]
        student = next(iter(variants.values()))["summary_us"]["median"]
        for engine, timing in variants.items():
            summary = timing["summary_us"]
            times = summary["median"] / student if student else None
            lines.append(f"| {name} (batch {tuple(entry['batch_shape'])}) | {engine}"
                         f" | {_size(timing.get('file_bytes'))} | {_us(summary['median'])}"
                         f" | {_us(summary['p90'])} | {_us(summary['p99'])} | {_times(times)} |")
    return "\n".join(lines)


def _heading(results: dict[str, Any]) -> str:
    machine = results["machine"]
    versions = machine["versions"]
    load = ", ".join(f"{x:.1f}" for x in machine["load_average_at_start"])
    load_end = ", ".join(f"{x:.1f}" for x in machine.get("load_average_at_end", []))
    models = ", ".join(f"{n} v{m['version']} ({_size(m['bytes'])}, {m['quantization']})"
                       for n, m in results["models"].items()) or "none"
    return "\n".join([
        f"## featherserve benchmark ({results['mode']} run, {machine['date']})",
        "",
        f"- machine: {machine['cpu_model']}, {machine['usable_cores']} usable of "
        f"{machine['cores']} cores; load average {load} at start, {load_end} at the end; "
        f"Linux {machine['kernel']}",
        f"- Python {machine['python']}, onnxruntime {versions['onnxruntime']}, "
        f"numpy {versions['numpy']}, torch {versions['torch']}, "
        f"scikit-learn {versions['scikit-learn']}",
        f"- models: {models}; commit {str(machine['git_commit'])[:12]}"
        f"{' (dirty tree)' if machine['git_dirty'] else ''}",
        f"- whole run: {results['duration_s']:.0f} s. Absolute times depend on the machine "
        "and its load; compare the ratios.",
    ])


def _footer(results: dict[str, Any]) -> str:
    lines = [f"- note: {note}" for note in results["notes"]]
    lines += [f"- ERROR {what}: {str(error).splitlines()[0] if error else ''}"
              for what, error in results["errors"].items()]
    return "\n".join(lines)


def _num(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.1f}" if value < 10 else f"{value:.0f}"


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{_num(value)} ms"


def _us(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.0f} µs" if value < 1000 else f"{value / 1000:.2f} ms"


def _times(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}×"


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def _rps(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f} req/s"


def _ms_small(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f} ms"


def _mib(kib: float | None) -> str:
    return "—" if kib is None else f"{kib / 1024:.0f} MiB"


def _size(size: float | None) -> str:
    if size is None:
        return "—"
    if size < 1024:
        return f"{size:.0f} B"
    return f"{size / 1024:.0f} KiB" if size < 1 << 20 else f"{size / (1 << 20):.1f} MiB"
