"""``featherserve verify``: run what `sls package` wrote as Lambda would, event by event.

    featherserve verify [PACKAGE_DIR] [--events DIR] [--python312 PATH] [--init-limit S]
                        [--workdir DIR] [--json]

PACKAGE_DIR is the `.serverless/` folder (default: ./.serverless). Every function in its
CloudFormation template is unpacked (code zip as the task root, layers under an opt folder),
started on CPython 3.12 through awslambdaric against a local Runtime API, sent every event
under the events folder (default tests/events) that AWS would route to it, and its answers
compared with the same handler answering in this process. A static check first reads the
code zip's imports: what the handler imports must be in it, and no tooling may be.

Exit codes: 0 every function ok, 1 a function failed, 2 the package or setup is unusable.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from featherserve.fidelity.exceptions import FidelityError
from featherserve.support.processes import ROOT

EXIT_OK, EXIT_FAILED, EXIT_UNUSABLE = 0, 1, 2
DEFAULT_EVENTS = ROOT / "tests" / "events"
DEFAULT_CACHE = ROOT / "build" / "fidelity"


def register(commands: Any) -> None:
    verify = commands.add_parser(
        "verify", help="run the packaged functions as Lambda does and check their answers",
        description=__doc__.split("\n\n", 1)[0].strip("`: "))
    verify.add_argument("package", nargs="?", type=Path, default=Path(".serverless"),
                        help="the .serverless/ folder `sls package` wrote (default: %(default)s)")
    verify.add_argument("--events", type=Path, default=DEFAULT_EVENTS,
                        help="folder of event JSON files, searched recursively")
    verify.add_argument("--python312", help="the CPython 3.12 to run functions on")
    verify.add_argument("--init-limit", type=float, default=None,
                        help="seconds an init may take (default: Lambda's 10)")
    verify.add_argument("--workdir", type=Path,
                        help="keep the sandboxes and runtime logs here (default: a temporary "
                             "folder, removed)")
    verify.add_argument("--json", action="store_true", help="print the findings as JSON")
    verify.set_defaults(run=run_verify)


def run_verify(args: argparse.Namespace) -> int:
    try:
        if args.workdir is not None:
            args.workdir.mkdir(parents=True, exist_ok=True)
            return _verify(args, args.workdir)
        with tempfile.TemporaryDirectory(prefix="featherserve-verify-") as scratch:
            return _verify(args, Path(scratch))
    except FidelityError as exc:
        print(f"featherserve verify: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE


def _verify(args: argparse.Namespace, workdir: Path) -> int:
    from featherserve.fidelity.execution import LAMBDA_INIT_LIMIT
    from featherserve.fidelity.package import load_package
    from featherserve.fidelity.report import format_reports, reports_json
    from featherserve.fidelity.runner_setup import runner_setup
    from featherserve.fidelity.verify import verify_service

    service = load_package(args.package)
    setup = runner_setup(workdir, events_dir=args.events, python312=args.python312,
                         cache_dir=DEFAULT_CACHE, init_limit=args.init_limit or LAMBDA_INIT_LIMIT)
    if not args.json:
        print(f"verifying {len(service.functions)} functions of {service.source} "
              f"(stage {service.stage}) on {setup.python}, {len(setup.events)} events")
    reports = verify_service(service, setup)
    if args.json:
        print(json.dumps(reports_json(reports), indent=2))
    else:
        print(format_reports(reports))
    return EXIT_OK if all(r.ok for r in reports) else EXIT_FAILED
