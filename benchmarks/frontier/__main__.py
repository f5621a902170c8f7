"""``python -m benchmarks.frontier`` (``make frontier``): the shipped models' frontiers.

    python -m benchmarks.frontier [--models breast_cancer,digits] [--quick] [--out DIR]
    python -m benchmarks.frontier train tabular|image NAME ... --frontier   (train.py)

Each shipped model is swept over student sizes (``sweep.py``), every point measured through
the real handler (``measure.py``), beside the file the project ships; the results go to
``DIR/frontier.{json,md,png}`` (``report.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from benchmarks.frontier.points import Frontier
from benchmarks.frontier.report import write_frontiers
from benchmarks.frontier.sweep import image_frontier, measure, point_of, tabular_frontier
from featherserve.project import project_root
from model_store.local import LocalStore


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["train"]:
        from benchmarks.frontier.train import main as train

        return train(argv)
    parser = argparse.ArgumentParser(prog="python -m benchmarks.frontier", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="breast_cancer,digits")
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    parser.add_argument("--quick", action="store_true", help="tiny builds: a smoke run")
    parser.add_argument("--samples", type=int, default=3, help="cold starts per point")
    args = parser.parse_args(argv)

    root = project_root()
    load_before = os.getloadavg()
    frontiers = []
    with tempfile.TemporaryDirectory(prefix="featherserve-frontier-") as scratch:
        for name in args.models.split(","):
            frontiers.append(measure(shipped_frontier(name, Path(scratch) / name, args.quick,
                                                      root=root),
                                     samples=args.samples))
        machine = (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
                   f"load average {load_before[0]:.1f} at start and {os.getloadavg()[0]:.1f} at "
                   "the end: warm and cold-start columns are as noisy as that load")
        write_frontiers(frontiers, args.out, machine=machine)
    print(json.dumps({f.model: [p.label for p in f.points] for f in frontiers}))
    return 0


def shipped_frontier(name: str, work: Path, quick: bool, *, root: Path) -> Frontier:
    """The sweep for one of the project's own models, plus the file the project ships."""
    frontier = _shipped_sweep(name, work, quick, root)
    source = LocalStore(root / "models")
    if name not in source.names():
        return frontier
    store = work / "shipped"
    manifest = LocalStore(store).publish(source.manifest(name), source.model_path(name))
    shipped = point_of(manifest, store,
                       f"the shipped model v{source.resolve(name)} (full build)", shipped=False)
    return replace(frontier, points=(*frontier.points, shipped))


def _shipped_sweep(name: str, work: Path, quick: bool, root: Path) -> Frontier:
    if name == "breast_cancer":
        from training.tabular.config import TabularConfig

        config = TabularConfig.quick() if quick else TabularConfig()
        return tabular_frontier(name, data="sklearn:breast_cancer", target="diagnosis",
                                work=work, config=config, quick=quick)
    if name == "digits":
        from training.image.config import image_config

        return image_frontier(name, work=work,
                              config=image_config(preset="digits", quick=quick), quick=quick,
                              rendered_dir=root / "tests" / "images" / "rendered_digits")
    raise SystemExit(f"{name}: not one of the shipped models; use `featherserve train ... "
                     "--frontier` for your own")


if __name__ == "__main__":
    sys.exit(main())
