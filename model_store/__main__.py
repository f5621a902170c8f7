"""``python -m model_store``: list, inspect and alias models; package them as Lambda layers.

    python -m model_store list   [--store PATH] [--json]
    python -m model_store show   NAME [REF] [--store PATH]
    python -m model_store alias  NAME ALIAS VERSION [--store PATH]
    python -m model_store layers [--store PATH] [--out DIR] [--models NAME[@REF],...] [--ref REF]
                                 [--skip-runtime] [--rebuild-runtime] [--python312 PATH]
                                 [--code PATH]...

``--store`` defaults to the project's store (models/). ``layers`` builds the runtime layer
and one layer per model (every model in the store unless --models says otherwise), then
checks each function against Lambda's size limits and writes <out>/report.json.

Exit codes: 0 ok, 1 store or build error, 2 usage error, 3 a Lambda size limit is exceeded.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from model_store.base import PROJECT_STORE, ModelStore
from model_store.exceptions import ModelStoreError, StoreUnavailableError
from model_store.layers import (
    DEFAULT_CODE_PATHS,
    DEFAULT_OUT_DIR,
    LayersBuild,
    LayersRequest,
    ModelRef,
    build_layers,
    format_report,
)
from model_store.layers.interpreter import PYTHON312_ENV
from model_store.layers.limits import format_bytes
from model_store.local import LocalStore

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_LIMITS = 0, 1, 2, 3
S3_SCHEME = "s3://"


def open_store(location: str) -> ModelStore:
    """The store at ``location``. The one place a location becomes a store: an S3 store
    (``s3://bucket/prefix``) plugs in here."""
    if location.startswith(S3_SCHEME):
        raise StoreUnavailableError(
            f"{location}: S3 stores are not available in this command yet; use a local folder")
    return LocalStore(Path(location).expanduser())


def _open_from_args(args: argparse.Namespace) -> ModelStore:
    location = args.store or str(PROJECT_STORE)
    if args.store and not location.startswith(S3_SCHEME) and not Path(location).is_dir():
        raise ModelStoreError(f"store folder {location} does not exist")
    return open_store(location)


# -- commands ----------------------------------------------------------------------------
def cmd_list(args: argparse.Namespace) -> int:
    store = _open_from_args(args)
    models: list[dict[str, Any]] = [
        {"name": name, "versions": store.versions(name), "aliases": store.aliases(name)}
        for name in store.names()]
    if args.json:
        print(json.dumps({"store": args.store or str(PROJECT_STORE), "models": models}, indent=2))
        return EXIT_OK
    if not models:
        print(f"no models in {args.store or PROJECT_STORE}")
    for model in models:
        aliases = ", ".join(f"{k}={v}" for k, v in sorted(model["aliases"].items()))
        print(f"{model['name']:<24} versions: {', '.join(model['versions']):<12} "
              f"aliases: {aliases}")
    return EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    sys.stdout.write(_open_from_args(args).manifest(args.name, args.ref).to_json())
    return EXIT_OK


def cmd_alias(args: argparse.Namespace) -> int:
    store = _open_from_args(args)
    store.set_alias(args.name, args.alias, args.version)
    print(f"{args.name}: {args.alias} -> version {store.resolve(args.name, args.alias)}")
    return EXIT_OK


def _print_runtime(build: LayersBuild) -> None:
    runtime = build.runtime
    if runtime is None:
        return
    steps = ", ".join(f"{k} {v} s" for k, v in runtime.seconds.items() if k != "total")
    how = "reused" if runtime.reused else f"built in {runtime.seconds.get('total', 0)} s"
    print(f"runtime layer: {how} ({steps})")
    print(f"  installed: {', '.join(runtime.installed)}")
    after = runtime.bytes_before_trim - runtime.trimmed_bytes
    print(f"  trim: {format_bytes(runtime.bytes_before_trim)} after pip -> "
          f"{format_bytes(after)} (saved {format_bytes(runtime.trimmed_bytes)})")
    for rule in runtime.trim:
        note = f"  [{rule.note}]" if rule.note else ""
        saved = format_bytes(rule.removed_bytes)
        print(f"    {rule.rule:<22} {rule.removed_files:>5} files {saved:>10}{note}")
    if runtime.bytecode.compiled:
        print(f"  bytecode: {runtime.bytecode.note} ({runtime.bytecode.interpreter})")
    else:
        print(f"  bytecode: {runtime.bytecode.note}; set {PYTHON312_ENV} or --python312 "
              "to a CPython 3.12 to compile it")
        for note in runtime.interpreter_notes:
            print(f"    tried {note}")
    print(f"  import check: {runtime.import_check.note}")


def cmd_layers(args: argparse.Namespace) -> int:
    store = _open_from_args(args)
    models = None
    if args.models:
        models = tuple(ModelRef.parse(item, args.ref)
                       for item in args.models.split(",") if item.strip())
    request = LayersRequest(
        out_dir=args.out, models=models, default_ref=args.ref,
        build_runtime=not args.skip_runtime, rebuild_runtime=args.rebuild_runtime,
        python312=args.python312,
        code_paths=tuple(args.code) if args.code else DEFAULT_CODE_PATHS)
    build = build_layers(store, request, log=print)
    _print_runtime(build)
    print()
    print(format_report(build.report))
    print(f"report: {build.report_path} ({build.seconds} s)")
    if not build.report.ok:
        print(f"error: {len(build.report.problems)} Lambda limit(s) exceeded; see above",
              file=sys.stderr)
        return EXIT_LIMITS
    return EXIT_OK


# -- parser ------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m model_store", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--store", default=None, metavar="PATH",
                        help=f"model store location (default: {PROJECT_STORE})")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    listing = commands.add_parser("list", parents=[common], help="models, versions, aliases")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(run=cmd_list)

    show = commands.add_parser("show", parents=[common], help="print a model's manifest JSON")
    show.add_argument("name")
    show.add_argument("ref", nargs="?", default="latest", help="version or alias (latest)")
    show.set_defaults(run=cmd_show)

    alias = commands.add_parser("alias", parents=[common], help="point ALIAS at VERSION")
    alias.add_argument("name")
    alias.add_argument("alias")
    alias.add_argument("version", help="a version number or an existing alias")
    alias.set_defaults(run=cmd_alias)

    layers = commands.add_parser("layers", parents=[common],
                                 help="build the runtime and model layers, check Lambda limits")
    layers.add_argument("--out", type=Path, default=DEFAULT_OUT_DIR, metavar="DIR",
                        help="output folder (default: %(default)s)")
    layers.add_argument("--models", default=None, metavar="NAME[@REF],...",
                        help="only these models (default: every model in the store)")
    layers.add_argument("--ref", default="latest",
                        help="version or alias to package when a model names none (latest)")
    layers.add_argument("--skip-runtime", action="store_true",
                        help="do not build the runtime layer (an existing zip is still measured)")
    layers.add_argument("--rebuild-runtime", action="store_true",
                        help="ignore the cached runtime build and download again")
    layers.add_argument("--python312", default=None, metavar="PATH",
                        help=f"CPython 3.12 for bytecode and the import check "
                             f"(default: ${PYTHON312_ENV}, python3.12 on PATH, pyenv)")
    layers.add_argument("--code", type=Path, action="append", metavar="PATH",
                        help="the function's code package: a zip, or folders (repeatable; "
                             "default: handlers/ and model_store/)")
    layers.set_defaults(run=cmd_layers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except ModelStoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
