"""The runner's findings as text (one block per function) and as JSON."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from featherserve.fidelity.imports import summarize
from featherserve.fidelity.verify import FunctionReport


def format_reports(reports: Sequence[FunctionReport]) -> str:
    lines = []
    for report in reports:
        function = report.function
        init = report.init
        head = f"{function.name} ({function.handler})"
        if init is not None and init.ok:
            head += f": init {init.ms:.0f} ms, {len(report.events)} events"
        lines.append(f"{head}: {'ok' if report.ok else 'FAILED'}")
        lines += [f"  note: {note}" for note in function.notes]
        lines += [f"  import: {line}" for line in summarize(report.import_problems)]
        if init is not None and not init.ok:
            lines.append(f"  init: {init.describe()}")
        if report.reference_init is not None and not report.reference_init.ok:
            lines.append(f"  in process: {report.reference_init.describe()}")
        if report.restarts:
            lines.append(f"  {report.restarts} fresh execution environment(s) after a timeout "
                         "or a crash")
        for check in report.events:
            verdict = "same" if check.ok else "DIFFERENT"
            lines.append(f"  {check.event}: {check.packaged.describe()} in "
                         f"{check.packaged.ms:.1f} ms, {verdict} in process")
            if check.diff:
                lines += [f"    {line}" for line in check.diff.splitlines()]
        if init is not None and init.ok and not report.events:
            lines.append("  no event under the events folder targets this function: only its "
                         "init was checked")
    failed = [r.function.name for r in reports if not r.ok]
    lines.append(f"{len(reports) - len(failed)} of {len(reports)} functions ok"
                 + (f"; failed: {', '.join(failed)}" if failed else ""))
    return "\n".join(lines)


def reports_json(reports: Sequence[FunctionReport]) -> list[dict[str, Any]]:
    return [{
        "function": r.function.name,
        "function_name": r.function.function_name,
        "handler": r.function.handler,
        "ok": r.ok,
        "init_ms": round(r.init.ms, 1) if r.init is not None else None,
        "init_error": r.init.describe() if r.init is not None and not r.init.ok else None,
        "import_problems": summarize(r.import_problems),
        "restarts": r.restarts,
        "notes": list(r.function.notes),
        "events": [{"event": c.event, "ok": c.ok, "answer": c.packaged.describe(),
                    "ms": round(c.packaged.ms, 1), "diff": c.diff} for c in r.events],
        "problems": r.problems,
    } for r in reports]
