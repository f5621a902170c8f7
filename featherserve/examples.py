"""Print ready-to-paste ``curl`` commands for every model in the store (used by `make serve`).

    python -m featherserve.examples --base-url http://127.0.0.1:3000
"""

from __future__ import annotations

import argparse
from pathlib import Path

from model_store.base import PROJECT_STORE
from model_store.local import LocalStore
from model_store.manifest import ImageSpec

EXAMPLES = PROJECT_STORE.parent / "examples"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif")


def curl_examples(store: LocalStore, base_url: str, examples: Path = EXAMPLES) -> list[str]:
    lines: list[str] = []
    for name in store.names():
        manifest = store.manifest(name)
        predict = f"{base_url}/models/{name}/predict"
        lines.append(f"# {name} v{manifest.version} ({manifest.task})")
        lines.append(f"curl -s {base_url}/models/{name}")
        body = _relative(examples / f"{name}.json")
        if isinstance(manifest.input, ImageSpec):
            image = next((examples / f"{name}{s}" for s in IMAGE_SUFFIXES
                          if (examples / f"{name}{s}").is_file()), None)
            if image is not None:
                # serverless-offline base64-encodes only octet-stream and multipart bodies;
                # on AWS any image/* type works too.
                lines.append(f"curl -s -X POST '{predict}?top_k=3' "
                             f"-H 'Content-Type: application/octet-stream' "
                             f"--data-binary @{_relative(image)}")
        if (examples / f"{name}.json").is_file():
            lines.append(f"curl -s -X POST {predict} -H 'Content-Type: application/json' "
                         f"-d @{body}")
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
    print(f"Serving the models in {args.store} at {args.base_url}. Try:\n")
    print("\n".join(curl_examples(LocalStore(args.store), args.base_url)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
