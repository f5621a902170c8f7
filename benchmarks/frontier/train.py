"""``featherserve train tabular|image NAME ... --frontier``, run by the frontier benchmark.

``featherserve`` hands the command here as a process (``python -m benchmarks.frontier train
...``, the same arguments): the tooling imports only downwards, and measuring each student
through the handler is benchmark code. The arguments are parsed by featherserve's own
parser, so the options, paths and lineage are the ones ``featherserve train`` uses; the
sweep's report goes to ``REPORTS/NAME/frontier.*``, then the smallest student within
``--max-accuracy-loss`` of the teacher is published and served as ``featherserve train``
would.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from benchmarks.frontier.points import Frontier
from benchmarks.frontier.report import write_frontiers
from benchmarks.frontier.sweep import image_frontier, measure, publish_pick, tabular_frontier
from featherserve.project import NotAProject, resolve_project, use_project


def main(argv: Sequence[str]) -> int:
    """``argv``: ``train KIND NAME ... --frontier``, as ``featherserve`` was given it."""
    try:
        use_project(resolve_project())  # featherserve's project: its paths are train_cli's
    except NotAProject as exc:
        print(f"featherserve: {exc}", file=sys.stderr)
        return 2
    from featherserve.cli import build_parser

    parser = build_parser()
    args = parser.parse_args(list(argv))
    if args.command != "train" or not args.frontier:
        parser.error("python -m benchmarks.frontier train: give `train tabular|image NAME ... "
                     "--frontier`, as to featherserve")
    return run(args)


def run(args: argparse.Namespace) -> int:
    """The sweep, each point measured, the report, then the pick published and served."""
    from featherserve import train_cli
    from training.errors import TrainingError

    out = train_cli.report_dir(args) / args.name
    with tempfile.TemporaryDirectory(prefix="featherserve-frontier-") as work:
        try:
            frontier = measure(sweep(args, Path(work)), samples=1 if args.quick else 3,
                               warm_requests=50 if args.quick else 200)
        except TrainingError as exc:
            return train_cli.refused(exc)
        written = write_frontiers([frontier], out, args.max_accuracy_loss)
        print("frontier: " + ", ".join(str(p) for p in written))
        published = publish_pick(frontier, args.store, args.max_accuracy_loss)
    if published is None:
        return train_cli.refused(ValueError(
            f"no student within {args.max_accuracy_loss:.1%} of the teacher; see {written[1]}"))
    print(f"{published.name} v{published.version}: the smallest student within "
          f"{args.max_accuracy_loss:.1%} of the teacher")
    return train_cli.serve(args, published.name)


def sweep(args: argparse.Namespace, work: Path) -> Frontier:
    from featherserve import train_cli

    command = train_cli.lineage_command()
    if args.kind == "tabular":
        return tabular_frontier(
            args.name, data=args.data, target=args.target, task=args.task, work=work,
            seed=args.seed, config=train_cli.tabular_config(args), command=command,
            quick=args.quick)
    return image_frontier(
        args.name, work=work, folder=args.folder, seed=args.seed,
        config=train_cli.image_build_config(args), rendered_dir=train_cli.RENDERED_DIGITS,
        command=command, quick=args.quick)
