"""``featherserve``: the kit's one command line.

Each group of subcommands lives in its own module with a ``register(commands)`` function;
a subcommand sets ``run`` (returns the exit code). Modules are imported when the parser is
built, and import their heavy dependencies (training, torch, boto3) only inside ``run``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="featherserve", description=__doc__.split("\n\n")[0].strip("`: "),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        importlib.import_module(module).register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from featherserve.store_cli import run_guarded

    try:
        return run_guarded(args)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
