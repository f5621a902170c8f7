"""``featherserve train tabular|image`` and ``featherserve import``: from a user's data or an
already-trained model to a published, served model.

    featherserve train tabular NAME --data FILE.csv --target COLUMN [--task ...]
    featherserve train image NAME --folder DIR [--size N] [--color rgb|gray] [--preset digits]
    featherserve import NAME MODEL_FILE --data FILE.csv --target COLUMN [--distil]

After a model is published to the project's store, the command serves it (its handler
module, function, layer and routes; ``featherserve add NAME``) and prints what it wrote.
Training, torch and scikit-learn are imported only when a command runs.

Training never looks for a project: this module passes it every path (the store, the build
folder for teachers and work, the reports, the rendered-digit set; all from the project
``featherserve/project.py`` found) and the lineage's command, as the user typed it.
``--frontier`` hands the whole command to ``python -m benchmarks.frontier train ...`` (a
benchmark: it measures each student through the handler), in a process of its own.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from featherserve.project import project_root

if TYPE_CHECKING:
    from training.image.config import ImageBuildConfig
    from training.tabular.config import TabularConfig

PROJECT_ROOT = project_root()
PROJECT_STORE = PROJECT_ROOT / "models"
PROJECT_BUILD = PROJECT_ROOT / "build"      # teachers (the benchmarks' naive baseline), work
RENDERED_DIGITS = PROJECT_ROOT / "tests" / "images" / "rendered_digits"
EXIT_REFUSED = 1


def register(commands: Any) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--store", type=Path, default=PROJECT_STORE,
                        help="local model store to publish to (default: %(default)s)")
    common.add_argument("--seed", type=int, default=0)
    common.add_argument("--quick", action="store_true",
                        help="small teacher, few epochs: for tests and smoke runs")
    common.add_argument("--min-retention", type=float, default=None, metavar="SHARE",
                        help="the least share of the teacher's score a student must keep "
                             "(default 0.97; 0.99 for images)")
    common.add_argument("--no-serve", action="store_true",
                        help="publish only; do not write the model's handler and function")
    common.add_argument("--pooled", action="store_true",
                        help="serve it from the stage's shared pool function, as "
                             "`featherserve add NAME --pooled` (docs/pool.md)")
    common.add_argument("--frontier", action="store_true",
                        help="sweep student sizes (benchmarks/frontier/): accuracy, latency, "
                             "cold start, size and cost of each in DIR/frontier.*, then "
                             "publish the smallest within --max-accuracy-loss of the teacher")
    common.add_argument("--max-accuracy-loss", type=float, default=0.01, metavar="SHARE",
                        help="with --frontier: the accuracy a student may lose against the "
                             "teacher (default 0.01, one point)")
    common.add_argument("--reports", type=Path, default=None, metavar="DIR",
                        help="where the report and its picture go (default build/reports)")

    train = commands.add_parser("train", help="train a model on your table or image folder, "
                                              "publish and serve it")
    kinds = train.add_subparsers(dest="kind", required=True, metavar="KIND")
    tabular = kinds.add_parser("tabular", parents=[common],
                               help="a classifier or regression model from a CSV file")
    tabular.add_argument("name", help="the model's name (lower-case letters, digits, _)")
    _table_arguments(tabular)
    tabular.add_argument("--ignore", nargs="+", default=[], metavar="COLUMN",
                         help="columns to leave out (identifiers, free text)")
    tabular.set_defaults(run=run_train_tabular)

    image = kinds.add_parser("image", parents=[common],
                             help="an image classifier from <folder>/<label>/*.png|jpg")
    image.add_argument("name", help="the model's name (lower-case letters, digits, _)")
    image.add_argument("--folder", type=Path, default=None,
                       help="one sub-folder of images per label (omit for --preset digits: "
                            "scikit-learn's bundled digits)")
    image.add_argument("--size", type=int, default=None, metavar="N",
                       help="model input side in pixels (default 64 for photos, 28 for digits)")
    image.add_argument("--color", choices=["rgb", "gray"], default=None,
                       help="colour mode (default rgb for photos, gray for digits)")
    image.add_argument("--preset", choices=["photo", "digits"], default="photo",
                       help="preprocessing: photo (centre crop, colour kept) or digits (ink "
                            "found, cropped and centred, either polarity)")
    image.set_defaults(run=run_train_image)

    imported = commands.add_parser(
        "import", parents=[common],
        help="convert a model trained elsewhere (scikit-learn, XGBoost, LightGBM, CatBoost, "
             "ONNX), "
             "check parity on your data, publish and serve it")
    imported.add_argument("name", help="the model's name (lower-case letters, digits, _)")
    imported.add_argument("model_file", type=Path,
                          help=".joblib/.pkl (scikit-learn, or a pickled XGBoost/LightGBM/"
                               "CatBoost model), .json/.ubj (XGBoost), .txt (LightGBM), "
                               ".cbm (CatBoost) or .onnx")
    _table_arguments(imported)
    imported.add_argument("--distil", action="store_true",
                          help="use the imported model as the teacher of a small student")
    imported.set_defaults(run=run_import)


def _table_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, metavar="FILE.csv",
                        help="the table (a CSV file with a header row; sklearn:NAME for a "
                             "bundled one: breast_cancer, wine, iris, diabetes)")
    parser.add_argument("--target", required=True, metavar="COLUMN",
                        help="the column to predict")
    parser.add_argument("--task", choices=["classification", "regression"], default=None,
                        help="inferred from the target when omitted")


def lineage_command() -> str:
    """The lineage's ``command``: this command as the user typed it."""
    return "featherserve " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def report_dir(args: argparse.Namespace) -> Path:
    return Path(args.reports) if args.reports else PROJECT_BUILD / "reports"


def tabular_config(args: argparse.Namespace) -> TabularConfig:
    from dataclasses import replace

    from training.tabular.config import TabularConfig

    config = TabularConfig.quick() if args.quick else TabularConfig()
    if args.min_retention is not None:
        config = replace(config, min_retention=args.min_retention)
    return config


def image_build_config(args: argparse.Namespace) -> ImageBuildConfig:
    from training.image.config import image_config

    return image_config(preset=args.preset, size=args.size, color=args.color,
                        quick=args.quick, min_retention=args.min_retention)


def run_train_tabular(args: argparse.Namespace) -> int:
    if (code := refused_over_limits(args)) is not None:
        return code
    if args.frontier:
        return _frontier(args)
    from training.errors import TrainingError
    from training.tabular.build import build_tabular_model

    try:
        manifest = build_tabular_model(args.name, data=args.data, target=args.target,
                                       task=args.task, store_root=args.store, seed=args.seed,
                                       config=tabular_config(args), ignore=tuple(args.ignore),
                                       teacher_dir=PROJECT_BUILD / "teachers",
                                       report_dir=report_dir(args), command=lineage_command())
    except TrainingError as exc:
        return refused(exc)
    return serve(args, manifest.name)


def run_train_image(args: argparse.Namespace) -> int:
    from training.errors import TrainingError
    from training.image.build import build_image_model

    try:
        config = image_build_config(args)
        if args.frontier:
            return _frontier(args)
        # A smoke run keeps its teacher artifacts apart from the real build's.
        work = PROJECT_BUILD / "quick" if args.quick else PROJECT_BUILD
        if args.quick and Path(args.store).resolve() == PROJECT_STORE.resolve():
            # A smoke-run model must never become the project's "latest".
            args.store = work / "store"
            print(f"  quick run: publishing to {args.store}, not the project store",
                  file=sys.stderr)
        if (code := refused_over_limits(args)) is not None:
            return code
        manifest = build_image_model(args.name, folder=args.folder, store_root=args.store,
                                     seed=args.seed, quick=args.quick, config=config,
                                     work_dir=work, report_dir=report_dir(args),
                                     rendered_dir=RENDERED_DIGITS, command=lineage_command())
    except TrainingError as exc:
        return refused(exc)
    return serve(args, manifest.name)


def run_import(args: argparse.Namespace) -> int:
    from training.errors import TrainingError
    from training.importing.build import import_model

    if (code := refused_over_limits(args)) is not None:
        return code
    try:
        manifest = import_model(args.name, args.model_file, data=args.data, target=args.target,
                                task=args.task, store_root=args.store, seed=args.seed,
                                distil=args.distil, quick=args.quick,
                                min_retention=args.min_retention, report_dir=report_dir(args),
                                teacher_dir=PROJECT_BUILD / "teachers",
                                command=lineage_command())
    except TrainingError as exc:
        return refused(exc)
    return serve(args, manifest.name)


def _frontier(args: argparse.Namespace) -> int:
    """``--frontier``: the same command, run by the frontier benchmark (sweep, measure through
    the handler, report, publish the pick, serve it): ``python -m benchmarks.frontier train``.
    A process, not an import: the tooling imports only downwards (benchmarks > featherserve).
    """
    argv: list[str] = list(getattr(args, "argv", None) or sys.argv[1:])
    handed = argv[argv.index("train"):] if "train" in argv else argv
    path = os.pathsep.join(p for p in (str(PROJECT_ROOT), os.environ.get("PYTHONPATH")) if p)
    return subprocess.call([sys.executable, "-m", "benchmarks.frontier", *handed],
                           env={**os.environ, "PYTHONPATH": path})


def will_serve(args: argparse.Namespace) -> bool:
    """Whether ``serve`` will add the model to the project (its handler and generated files)."""
    return not args.no_serve and Path(args.store).resolve() == PROJECT_STORE.resolve()


def refused_over_limits(args: argparse.Namespace) -> int | None:
    """Before training or publishing: refuse a model whose serving would take the stage over
    CloudFormation's limits (featherserve/stack_costs.py), so nothing is half-written."""
    if not will_serve(args):
        return None
    from featherserve.stack_costs import refuse_pooling, refuse_serving
    from featherserve.stack_limits import StackLimitError

    try:
        if getattr(args, "pooled", False):
            # (train image has --folder; train tabular and import are tabular models)
            refuse_pooling(args.name, "image" if hasattr(args, "folder") else "tabular")
        else:
            refuse_serving(args.name)
    except StackLimitError as exc:
        return refused(exc)
    return None


def refused(error: Exception) -> int:
    print("error: " + str(error), file=sys.stderr)
    return EXIT_REFUSED


def serve(args: argparse.Namespace, name: str) -> int:
    """Write the model's handler, function, layer and routes; say what was written."""
    if not will_serve(args):
        # Only the project's store is what `make layers` packs; another store is served by
        # pointing FEATHERSERVE_MODEL_SOURCE at it.
        print(f"{name}: published to {args.store}; serve it with `featherserve add {name}`"
              + ("" if args.no_serve else " once it is in the project's store"))
        return 0
    from featherserve.codegen import add_model
    from model_store.local import LocalStore

    written = add_model(name, LocalStore(args.store), pooled=getattr(args, "pooled", False))
    root = Path.cwd()
    for path in written:
        try:
            shown: Path = path.relative_to(root)
        except ValueError:
            shown = path
        print(f"wrote {shown}")
    if getattr(args, "pooled", False):
        live = LocalStore(args.store).resolve(name, "live")
        print(f"{name} is pooled: the pool serves its store alias live (version {live}); "
              f"serve another version with `featherserve promote {name} VERSION`")
    elif not written:
        print(f"{name} was already served; its function now serves the new version")
    print(f"{name} is served: `make serve`, then POST /models/{name}/predict "
          f"(GET /models/{name} shows its inputs)")
    return 0
