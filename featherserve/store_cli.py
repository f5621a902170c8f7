"""``featherserve`` store commands: list, inspect, alias, copy and pull models; build layers.

    featherserve list     [--store LOCATION] [--json]
    featherserve show     NAME [REF] [--store LOCATION]
    featherserve alias    NAME ALIAS VERSION [--store LOCATION]
    featherserve promote  NAME VERSION [--alias ALIAS] [--store LOCATION]
    featherserve rollback NAME [--alias ALIAS] [--store LOCATION]
    featherserve publish  NAME [REF] --to LOCATION [--from LOCATION] [--handlers DIR]
    featherserve pull     NAME [REF] --dest DIR [--from LOCATION]
    featherserve layers   [--store LOCATION] [--out DIR] [--models NAME[@REF],...]
                             [--ref REF] [--skip-runtime] [--rebuild-runtime]
                             [--python312 PATH] [--code PATH]...

A LOCATION is a store folder or ``s3://bucket/prefix``; it defaults to the project's store
(models/). ``--from`` is another name for ``--store``: the store a command reads from.

``publish`` copies one version (REF: a version or alias, default latest) into the store
``--to`` names, usually S3; the bytes are checked against their sha256 on the way, and
bytes the destination already holds are not uploaded again: it reports that version.
Before anything is copied, the ONNX graph is checked against its manifest as a handler
does at init (input names, dtypes, shapes; output against the labels and task): a
mismatch is refused with both sides named, and nothing is published.
The aliases naming the copied version come along where the destination has none for the
model (a pooled model's ``live``: its pool answers as soon as the copy is there); an alias
the destination already has is never moved (promote's job), and publish says so, with the
promote command that would move it.
Version numbers belong to each store, so v3 here may be v1 there. ``promote`` points an
alias at a version and ``rollback`` points it back at the one it named before: by default
``prod``, or for a pooled model (handlers/pool_models.json) ``live``, the alias its pool
serves, read again within FEATHERSERVE_POOL_ALIAS_TTL_S (docs/pool.md).
``pull`` writes one version, and the aliases naming it, to DIR as a store folder, so
``--store DIR`` (or a handler's FEATHERSERVE_MODEL_SOURCE) works offline.

``layers`` builds the runtime layer and one layer per model (every model in the store
unless --models says otherwise), then checks each function against Lambda's size limits
and writes <out>/report.json. It reads models from an S3 store as well as from a folder.

S3 needs boto3 (``pip install featherserve[s3]``) and AWS credentials; AWS_ENDPOINT_URL
points it at another endpoint (a moto server, say).

Exit codes: 0 ok, 1 store or build error, 2 usage error, 3 a Lambda size limit is exceeded.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from featherserve.codegen.handler_modules import HANDLERS_DIR, served_models
from featherserve.codegen.pool_files import POOL_ALIAS, read_pooled
from featherserve.layers import (
    DEFAULT_CODE_PATHS,
    DEFAULT_OUT_DIR,
    LayersBuild,
    LayersRequest,
    ModelRef,
    build_layers,
    format_report,
)
from featherserve.layers.interpreter import PYTHON312_ENV
from featherserve.layers.limits import format_bytes
from featherserve.project import project_store
from model_runtime.constants import DEFAULT_POOL_ALIAS_TTL_S, POOL_ALIAS_TTL_S
from model_store.aliases import PROD
from model_store.base import LATEST, ModelStore
from model_store.exceptions import ModelStoreError
from model_store.graph_check import GraphMismatchError, check_graph, signature_of
from model_store.local import LocalStore
from model_store.manifest import Manifest
from model_store.s3.cache import install_version, version_folder
from model_store.s3.layout import S3_SCHEME
from model_store.stores import open_store

__all__ = ["CarriedAlias", "carry_aliases", "open_store", "pull_version", "register",
           "run_guarded"]

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_LIMITS = 0, 1, 2, 3
PROJECT_STORE = project_store()
_BOTO_MODULES = ("boto3", "botocore")


def _location(args: argparse.Namespace) -> str:
    return str(args.store or PROJECT_STORE)


def _open(location: str, *, must_exist: bool) -> ModelStore:
    """The store at ``location``; a folder named on the command line must exist if asked."""
    if must_exist and not location.startswith(S3_SCHEME) and not Path(location).is_dir():
        raise ModelStoreError(f"store folder {location} does not exist")
    return open_store(location)


def _open_from_args(args: argparse.Namespace) -> ModelStore:
    # The default store may not exist yet: it then holds no models, which is what `list` says.
    return _open(_location(args), must_exist=args.store is not None)


def _alias_target(store: ModelStore, name: str, alias: str) -> str | None:
    return store.aliases(name).get(alias) if alias != LATEST else None


def pull_version(store: ModelStore, name: str, ref: str, dest_root: Path) -> Path:
    """Write ``name`` at ``ref`` to ``dest_root`` as a ``LocalStore`` layout; its folder.

    An S3 store streams through ``S3Store.pull``; any other store is read (and its sha256
    checked) and written the same way. The aliases naming the version come along.
    """
    from model_store.s3 import S3Store  # no boto3 import: the client is made on first use

    if isinstance(store, S3Store):
        return store.pull(name, ref, dest_root)
    opened = store.open(name, ref)
    manifest = opened.manifest
    install_version(dest_root, manifest, [opened.model_bytes],
                    f"{dest_root / name / manifest.version / manifest.file}")
    local = LocalStore(dest_root)
    for alias, target in sorted(store.aliases(name).items()):
        if alias != LATEST and target == manifest.version:
            local.promote(name, manifest.version, alias)
    return version_folder(dest_root, manifest)


# -- commands ----------------------------------------------------------------------------
def cmd_list(args: argparse.Namespace) -> int:
    store = _open_from_args(args)
    models: list[dict[str, Any]] = [
        {"name": name, "versions": store.versions(name), "aliases": store.aliases(name)}
        for name in store.names()]
    if args.json:
        print(json.dumps({"store": _location(args), "models": models}, indent=2))
        return EXIT_OK
    if not models:
        print(f"no models in {_location(args)}")
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


def _print_move(name: str, alias: str, old: str | None, new: str) -> None:
    note = " (unchanged)" if old == new else ""
    print(f"{name} {alias}: {old or '(unset)'} -> {new}{note}")


def _moved_alias(args: argparse.Namespace) -> tuple[str, bool]:
    """The alias promote/rollback moves, and whether NAME is pooled: ``--alias`` when given,
    else a pooled model's ``live`` (what its pool serves), else ``prod``."""
    pooled = args.name in read_pooled(args.handlers)
    if args.alias is not None:
        return args.alias, pooled
    return (POOL_ALIAS if pooled else PROD), pooled


def _print_pool_note(name: str, alias: str, pooled: bool, new: str) -> None:
    if pooled and alias == POOL_ALIAS:
        print(f"{name}: {POOL_ALIAS} → v{new}; the pool serves it within "
              f"{POOL_ALIAS_TTL_S} ({DEFAULT_POOL_ALIAS_TTL_S} s by default), no redeploy")


def cmd_promote(args: argparse.Namespace) -> int:
    store = _open_from_args(args)
    alias, pooled = _moved_alias(args)
    old = _alias_target(store, args.name, alias)
    new = store.promote(args.name, args.version, alias)
    _print_move(args.name, alias, old, new)
    _print_pool_note(args.name, alias, pooled, new)
    return EXIT_OK


def cmd_rollback(args: argparse.Namespace) -> int:
    store = _open_from_args(args)
    alias, pooled = _moved_alias(args)
    old = _alias_target(store, args.name, alias)
    new = store.rollback(args.name, alias)
    _print_move(args.name, alias, old, new)
    _print_pool_note(args.name, alias, pooled, new)
    return EXIT_OK


def check_published_graph(manifest: Manifest, model_bytes: bytes) -> None:
    """The handler's init check, before a byte is copied: the ONNX graph takes and gives
    what the manifest says (``GraphMismatchError`` naming both sides), or nothing is
    published where a function would load it and answer 503."""
    import onnxruntime as ort

    try:
        session = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime's own error types: a file it cannot load
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise GraphMismatchError(f"{manifest.name}: {manifest.file} is not an ONNX graph "
                                 f"onnxruntime can load ({first})") from exc
    check_graph(manifest, signature_of(session))


@dataclass(frozen=True)
class CarriedAlias:
    """What publish did with one source alias naming the copied version."""

    alias: str
    source_version: str  # the version it names in the source store
    version: str         # the copied version's number in the destination
    before: str | None   # what it named in the destination before (None: unset)

    @property
    def was_set(self) -> bool:
        return self.before is None


def carry_aliases(source: ModelStore, target: ModelStore, name: str, source_version: str,
                  version: str) -> list[CarriedAlias]:
    """Set in ``target`` each alias that names ``source_version`` in ``source`` and that
    ``target`` does not have for ``name``, pointing it at ``version`` (the same bytes there);
    an alias ``target`` has is left where it is. One entry per such alias, sorted."""
    present = target.aliases(name)
    carried: list[CarriedAlias] = []
    for alias, named in sorted(source.aliases(name).items()):
        if alias == LATEST or named != source_version:
            continue
        before = present.get(alias)
        if before is None:
            target.set_alias(name, alias, version)
        carried.append(CarriedAlias(alias, source_version, version, before))
    return carried


def _alias_lines(name: str, carried: list[CarriedAlias], *, source: str, to: str,
                 pooled: bool) -> list[str]:
    default = POOL_ALIAS if pooled else PROD  # what `featherserve promote` moves unasked
    lines: list[str] = []
    for item in carried:
        if item.was_set:
            where = ("as in the source" if item.source_version == item.version else
                     f"v{item.source_version} in {source}")
            lines.append(f"{item.alias}: set to v{item.version} in {to} ({where})")
        elif item.before == item.version:
            lines.append(f"{item.alias}: already at v{item.version} in {to}")
        else:
            option = "" if item.alias == default else f" --alias {item.alias}"
            goal = (f"serve v{item.version}" if pooled and item.alias == POOL_ALIAS
                    else f"point it at v{item.version}")
            lines.append(f"{item.alias}: kept at v{item.before} in {to} (publish never moves "
                         f"an alias); `featherserve promote {name} {item.version}{option} "
                         f"--store {to}` to {goal}")
    return lines


def cmd_publish(args: argparse.Namespace) -> int:
    source = _open_from_args(args)
    pooled = args.name in read_pooled(args.handlers)  # before anything is copied
    opened = source.open(args.name, args.ref)  # checks the bytes against their sha256
    manifest = opened.manifest
    check_published_graph(manifest, opened.model_bytes)
    # A new folder is a new store; a destination bucket must already exist.
    target = _open(args.to, must_exist=False)
    before = set(target.versions(manifest.name))
    with tempfile.TemporaryDirectory(prefix="featherserve-publish-") as scratch:
        model_file = Path(scratch) / manifest.file
        model_file.write_bytes(opened.model_bytes)
        published = target.publish(manifest, model_file)
    what = f"{manifest.name} v{manifest.version} ({_location(args)}) -> {args.to}"
    if published.version in before:
        print(f"{what}: already there (same sha256 {manifest.sha256[:12]}…) "
              f"as version {published.version}")
    else:
        print(f"{what}: published as version {published.version}")
    carried = carry_aliases(source, target, manifest.name, manifest.version, published.version)
    for line in _alias_lines(manifest.name, carried, source=_location(args), to=args.to,
                             pooled=pooled):
        print(line)
    if pooled and POOL_ALIAS not in target.aliases(manifest.name):
        print(f"{POOL_ALIAS}: not set in {args.to} (no {POOL_ALIAS} alias names "
              f"v{manifest.version} in {_location(args)}); a pool reading {args.to} answers "
              f"503 for {manifest.name} until `featherserve promote {manifest.name} "
              f"{published.version} --store {args.to}`")
    return EXIT_OK


def cmd_pull(args: argparse.Namespace) -> int:
    store = _open_from_args(args)
    folder = pull_version(store, args.name, args.ref, args.dest)
    manifest = LocalStore(args.dest).manifest(args.name, folder.name)
    aliases = sorted(alias for alias, version in LocalStore(args.dest).aliases(args.name).items()
                     if version == manifest.version and alias != LATEST)
    named = f" (aliases here: {', '.join(aliases)})" if aliases else ""
    print(f"{manifest.name} v{manifest.version} ({_location(args)}) -> {folder}{named}")
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
    from featherserve.stack_costs import refuse_over_limits

    served = served_models(args.handlers)
    # The pool list beside these handlers (not the project's when --handlers is another).
    pooled = tuple(sorted(read_pooled(Path(args.handlers))))
    refuse_over_limits(served, "`featherserve layers`", pooled)  # before building anything
    request = LayersRequest(
        out_dir=args.out, models=models, default_ref=args.ref,
        served=tuple(served), pooled=pooled,
        build_runtime=not args.skip_runtime, rebuild_runtime=args.rebuild_runtime,
        python312=args.python312,
        code_paths=tuple(args.code) if args.code else DEFAULT_CODE_PATHS, web=True)
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
def register(commands: Any) -> None:
    """Add the store and layer commands to the ``featherserve`` parser's subcommands."""
    where = f"a folder or s3://bucket/prefix (default: {PROJECT_STORE})"
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--store", default=None, metavar="LOCATION",
                        help=f"the model store: {where}")
    source = argparse.ArgumentParser(add_help=False)
    source.add_argument("--from", "--store", dest="store", default=None, metavar="LOCATION",
                        help=f"the store to read from: {where}")

    listing = commands.add_parser("list", parents=[common], help="models, versions, aliases")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(run=cmd_list)

    show = commands.add_parser("show", parents=[common], help="print a model's manifest JSON")
    show.add_argument("name")
    show.add_argument("ref", nargs="?", default=LATEST, help="version or alias (latest)")
    show.set_defaults(run=cmd_show)

    alias = commands.add_parser("alias", parents=[common], help="point ALIAS at VERSION")
    alias.add_argument("name")
    alias.add_argument("alias")
    alias.add_argument("version", help="a version number or an existing alias")
    alias.set_defaults(run=cmd_alias)

    # promote, rollback and publish treat a pooled model's `live` alias apart.
    pool_aware = argparse.ArgumentParser(add_help=False)
    pool_aware.add_argument("--handlers", type=Path, default=HANDLERS_DIR, metavar="DIR",
                            help="where the pool list says which models are pooled "
                                 "(default: %(default)s)")
    promote = commands.add_parser("promote", parents=[common, pool_aware],
                                  help="point an alias (prod) at a version")
    promote.add_argument("name")
    promote.add_argument("version", help="a version number or an existing alias")
    promote.add_argument("--alias", default=None,
                         help=f"the alias to move (default: {POOL_ALIAS} for a pooled model, "
                              f"{PROD} otherwise)")
    promote.set_defaults(run=cmd_promote)

    rollback = commands.add_parser("rollback", parents=[common, pool_aware],
                                   help="point an alias (prod) back at its previous version")
    rollback.add_argument("name")
    rollback.add_argument("--alias", default=None,
                          help=f"the alias to move back (default: {POOL_ALIAS} for a pooled "
                               f"model, {PROD} otherwise)")
    rollback.set_defaults(run=cmd_rollback)

    publish = commands.add_parser("publish", parents=[source, pool_aware],
                                  help="copy a version to another store (S3), once per "
                                       "sha256, with the aliases naming it that store lacks")
    publish.add_argument("name")
    publish.add_argument("ref", nargs="?", default=LATEST, help="version or alias (latest)")
    publish.add_argument("--to", required=True, metavar="LOCATION",
                         help="the destination store: s3://bucket/prefix or a folder")
    publish.set_defaults(run=cmd_publish)

    pull = commands.add_parser("pull", parents=[source],
                               help="copy a version into a local store folder")
    pull.add_argument("name")
    pull.add_argument("ref", nargs="?", default=LATEST, help="version or alias (latest)")
    pull.add_argument("--dest", type=Path, required=True, metavar="DIR",
                      help="the store folder to write (created if missing)")
    pull.set_defaults(run=cmd_pull)

    layers = commands.add_parser("layers", parents=[common],
                                 help="build the runtime and model layers, check Lambda limits")
    layers.add_argument("--out", type=Path, default=DEFAULT_OUT_DIR, metavar="DIR",
                        help="output folder (default: %(default)s)")
    layers.add_argument("--models", default=None, metavar="NAME[@REF],...",
                        help="only these models (default: every model in the store)")
    layers.add_argument("--ref", default=LATEST,
                        help="version or alias to package when a model names none (latest)")
    layers.add_argument("--skip-runtime", action="store_true",
                        help="do not build the runtime layer (an existing zip is still measured)")
    layers.add_argument("--rebuild-runtime", action="store_true",
                        help="ignore the cached runtime build and download again")
    layers.add_argument("--python312", default=None, metavar="PATH",
                        help=f"CPython 3.12 for bytecode and the import check "
                             f"(default: ${PYTHON312_ENV}, python3.12 on PATH, pyenv)")
    layers.add_argument("--code", type=Path, action="append", metavar="PATH",
                        help="measure this code package (a zip, or folders; repeatable) "
                             "instead of building the function zip")
    layers.add_argument("--handlers", type=Path, default=HANDLERS_DIR, metavar="DIR",
                        help="the served models' handler modules (default: %(default)s)")
    layers.set_defaults(run=cmd_layers)


def run_guarded(args: argparse.Namespace) -> int:
    """Run a store command, turning store, S3 and file errors into one line and exit 1."""
    try:
        code: int = args.run(args)
    except ModelStoreError as exc:
        return _error(exc)
    except ModuleNotFoundError as exc:
        if exc.name not in _BOTO_MODULES:
            raise
        return _error(f"S3 stores need boto3 ({exc}); pip install 'featherserve[s3]'")
    except OSError as exc:  # a destination folder that cannot be written, a full disk, ...
        return _error(exc)
    return code


def _error(message: object) -> int:
    print("error: " + " ".join(str(message).split()), file=sys.stderr)
    return EXIT_ERROR
