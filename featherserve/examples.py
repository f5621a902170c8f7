"""Print ready-to-paste ``curl`` commands for every served model (used by `make serve`).

    python -m featherserve.examples --base-url http://127.0.0.1:3000

A model with an example body (``examples/<name>.json``, or an image ``examples/<name>.png``
...) gets a curl with it; a tabular model without one gets a row built from its manifest
(each number at the middle of its training range, each category at its first value).
"""

from __future__ import annotations

import argparse
import json
import shlex
from pathlib import Path
from typing import Any

from featherserve.codegen.handler_modules import HANDLERS_DIR, served_models
from featherserve.project import project_store
from model_store.local import LocalStore
from model_store.manifest import ImageSpec, TabularSpec

PROJECT_STORE = project_store()
EXAMPLES = PROJECT_STORE.parent / "examples"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif")


def example_row(spec: TabularSpec) -> dict[str, Any]:
    """A plausible raw row from the manifest alone (no training data needed)."""
    row: dict[str, Any] = {}
    for feature in spec.features:
        categories = getattr(feature, "categories", None)
        if categories:
            row[feature.name] = categories[0]
        elif feature.min is not None and feature.max is not None:
            row[feature.name] = round((feature.min + feature.max) / 2, 4)
        else:
            row[feature.name] = 0.0
    return row


def curl_examples(store: LocalStore, base_url: str, examples: Path = EXAMPLES,
                  names: list[str] | None = None) -> list[str]:
    lines: list[str] = []
    for name in names if names is not None else store.names():
        manifest = store.manifest(name)
        predict = f"{base_url}/models/{name}/predict"
        lines.append(f"# {name} v{manifest.version} ({manifest.task})")
        lines.append(f"curl -s {base_url}/models/{name}")
        body_file = examples / f"{name}.json"
        if isinstance(manifest.input, ImageSpec):
            image = next((examples / f"{name}{s}" for s in IMAGE_SUFFIXES
                          if (examples / f"{name}{s}").is_file()), None)
            if image is not None:
                # serverless-offline base64-encodes only octet-stream and multipart bodies;
                # on AWS any image/* type works too.
                lines.append(f"curl -s -X POST '{predict}?top_k=3' "
                             f"-H 'Content-Type: application/octet-stream' "
                             f"--data-binary @{_relative(image)}")
        if body_file.is_file():
            lines.append(f"curl -s -X POST {predict} -H 'Content-Type: application/json' "
                         f"-d @{_relative(body_file)}")
        elif isinstance(manifest.input, TabularSpec):
            body = json.dumps({"instances": [example_row(manifest.input)]})
            lines.append(f"curl -s -X POST {predict} -H 'Content-Type: application/json' "
                         f"-d {shlex.quote(body)}")
        lines.append("")
    return lines


def _relative(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m featherserve.examples")
    parser.add_argument("--base-url", default="http://127.0.0.1:3000")
    parser.add_argument("--store", type=Path, default=PROJECT_STORE)
    args = parser.parse_args(argv)
    names = served_models(HANDLERS_DIR)
    print(f"Serving {', '.join(names) or 'no models'} from {args.store} at {args.base_url}. "
          "Try:\n")
    print("\n".join(curl_examples(LocalStore(args.store), args.base_url, names=names)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
