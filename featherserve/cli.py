"""``featherserve``: the kit's one command line.

Each group of subcommands lives in its own module with a ``register(commands)`` function;
a subcommand sets ``run`` (returns the exit code). Modules are imported when the parser is
built, after the project is found (featherserve/project.py: their default paths are its
paths), and import their heavy dependencies (training, torch, boto3) only inside ``run``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from featherserve.project import PROJECT_ENV, NotAProject, resolve_project, use_project

# The modules that add subcommands, in the order `featherserve --help` lists them.
COMMAND_MODULES: tuple[str, ...] = (
    "featherserve.train_cli",
    "featherserve.codegen.command",
    "featherserve.store_cli",
    "featherserve.bulk.commands",
    "featherserve.locking",
    "featherserve.fidelity.command",
    "featherserve.web_static",
)


# Subcommands that only read: every other one says which project it acts on.
READ_ONLY = frozenset({"list", "show"})


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="featherserve", description=__doc__.split("\n\n")[0].strip("`: "),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--project", metavar="DIR",
                        help="the project to act on (default: $FEATHERSERVE_PROJECT, else the "
                             "folder at or above the current one with serverless.yml and a "
                             "pyproject.toml named featherserve)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        importlib.import_module(module).register(commands)
    return parser


def _project_option(argv: Sequence[str]) -> str | None:
    """``--project`` as given before the subcommand (read before any module is imported:
    their default paths are the project's)."""
    early = argparse.ArgumentParser(add_help=False)
    early.add_argument("--project")
    early.add_argument("rest", nargs=argparse.REMAINDER)
    known, _ = early.parse_known_args(list(argv))
    return known.project  # type: ignore[no-any-return]


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    wants_help = not argv or argv[0] in ("-h", "--help")
    try:
        root = resolve_project(_project_option(argv))
    except NotAProject as exc:
        if wants_help:
            build_parser().parse_args(argv)
        print(f"featherserve: {exc}", file=sys.stderr)
        return 2
    previous = os.environ.get(PROJECT_ENV)
    use_project(root)
    try:
        args = build_parser().parse_args(argv)
        args.argv = argv  # the command as given (a command may hand itself to another tool)
        if args.command not in READ_ONLY:
            print(f"featherserve: project {root}", file=sys.stderr)
        from featherserve.store_cli import run_guarded

        try:
            return run_guarded(args)
        except KeyboardInterrupt:
            return 130
    finally:
        if previous is None:
            os.environ.pop(PROJECT_ENV, None)
        else:
            os.environ[PROJECT_ENV] = previous


if __name__ == "__main__":
    sys.exit(main())
