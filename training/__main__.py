"""``python -m training <kind> <dataset>``: rebuild a model and publish it to the store.

    python -m training tabular breast_cancer
    python -m training image digits
    python -m training image my_model --folder ./images   (a <root>/<label>/*.png folder)
"""

from __future__ import annotations

import argparse
from pathlib import Path

from model_store.base import PROJECT_STORE


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", type=Path, default=PROJECT_STORE,
                        help="local model store to publish to (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0)
    kinds = parser.add_subparsers(dest="kind", required=True)

    tabular = kinds.add_parser("tabular", help="distil a tabular classifier")
    tabular.add_argument("dataset", choices=["breast_cancer"])

    image = kinds.add_parser("image", help="distil and int8-quantize an image classifier")
    image.add_argument("dataset", help="'digits', or the model name to give a --folder dataset")
    image.add_argument("--folder", type=Path, default=None,
                       help="train on <folder>/<label>/*.{png,jpg,jpeg,webp,bmp}")
    image.add_argument("--quick", action="store_true",
                       help="tiny epochs, for tests and smoke runs")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.kind == "tabular":
        from training.tabular import build_tabular_model

        build_tabular_model(args.dataset, store_root=args.store, seed=args.seed)
        return 0
    from training.image.build import build_image_model

    build_image_model(args.dataset, folder=args.folder, store_root=args.store, seed=args.seed,
                      quick=args.quick)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
