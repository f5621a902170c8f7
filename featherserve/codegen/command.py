"""``featherserve add|remove|generate``: which models the service serves."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from featherserve.codegen.pool_files import POOL_ALIAS
from featherserve.codegen.service_files import add_model, regenerate, remove_model
from featherserve.project import project_store
from model_store.stores import open_store

PROJECT_STORE = project_store()
EXIT_STALE = 1


def _store(args: argparse.Namespace) -> Any:
    return open_store(args.store or PROJECT_STORE)


def _show(paths: list[Path], verb: str) -> None:
    root = Path.cwd()
    for path in paths:
        try:
            shown = path.relative_to(root)
        except ValueError:
            shown = path
        print(f"{verb} {shown}")


def cmd_add(args: argparse.Namespace) -> int:
    written = add_model(args.name, _store(args), pooled=args.pooled)
    _show(written, "wrote")
    if not written:
        print(f"{args.name} is already served; nothing to write")
    print(f"{args.name} is served: `make serve` answers POST /models/{args.name}/predict; "
          "`make layers` and `make deploy` include it")
    if args.pooled:
        store = _store(args)
        print(f"{args.name} is pooled: the pool serves its store alias {POOL_ALIAS} (version "
              f"{store.resolve(args.name, POOL_ALIAS)}); move it with `featherserve promote "
              f"{args.name} VERSION` or `featherserve rollback {args.name}`")
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    changed = remove_model(args.name, _store(args))
    _show(changed[:1], "deleted")
    _show(changed[1:], "wrote")
    print(f"{args.name} is no longer served (its versions stay in the store)")
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    changed = regenerate(_store(args), check=args.check)
    if args.check:
        for path in changed:
            print(f"stale: {path} (run `featherserve generate`)", file=sys.stderr)
        return EXIT_STALE if changed else 0
    _show(changed, "wrote")
    return 0


def register(commands: Any) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--store", default=None, metavar="LOCATION",
                        help=f"where the model is published (default: {PROJECT_STORE})")
    add = commands.add_parser("add", parents=[common],
                              help="serve a published model: its handler, function and routes")
    add.add_argument("name")
    add.add_argument("--pooled", action="store_true",
                     help="serve it from the stage's one pool function (docs/pool.md)")
    add.set_defaults(run=cmd_add)
    remove = commands.add_parser("remove", parents=[common],
                                 help="stop serving a model (the store keeps its versions)")
    remove.add_argument("name")
    remove.set_defaults(run=cmd_remove)
    generate = commands.add_parser("generate", parents=[common],
                                   help="rewrite generated/*.yml from the served models")
    generate.add_argument("--check", action="store_true",
                          help="change nothing; exit 1 when a generated file is stale")
    generate.set_defaults(run=cmd_generate)
