"""The page's static files: the app's own JS/CSS, onnxruntime-web, and model files.

Locally the app serves them under /static; deployed they are uploaded to the static-assets
bucket behind the CDN (``featherserve web-static``), at the same relative paths:

    app/<app_version>/<file>        webapp/static/*, versioned by a hash of their content
    ort/<ORT_WEB_VERSION>/<file>    onnxruntime-web's wasm build (ORT_FILES)
    models/<name>/<sha256>.onnx     a model's file, named by its content

Every path is versioned by content, so the CDN may cache them forever.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

APP_STATIC_DIR = Path(__file__).resolve().parent / "static"
# The npm package's version pinned in package.json (a test keeps them equal).
ORT_WEB_VERSION = "1.30.0"
# The wasm-only ES module build and what it loads: no WebGL/WebGPU code, no workers.
ORT_FILES = ("ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")
CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".wasm": "application/wasm",
    ".onnx": "application/octet-stream",
    ".svg": "image/svg+xml",
}
IMMUTABLE = "public, max-age=31536000, immutable"


def content_type(name: str) -> str:
    return CONTENT_TYPES.get(Path(name).suffix, "application/octet-stream")


@lru_cache(maxsize=1)
def app_files() -> dict[str, Path]:
    """Every file of webapp/static by its relative name (a fixed allowlist to serve)."""
    return {p.relative_to(APP_STATIC_DIR).as_posix(): p
            for p in sorted(APP_STATIC_DIR.rglob("*"))
            if p.is_file() and p.suffix in CONTENT_TYPES}


@lru_cache(maxsize=1)
def app_version() -> str:
    """A short hash of the static files' names and bytes: their URL changes with them."""
    digest = hashlib.sha256()
    for name, path in app_files().items():
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def ort_file(dist: str | Path, name: str) -> Path | None:
    """An allowed onnxruntime-web file from its dist folder (None if not allowed or absent)."""
    if name not in ORT_FILES:
        return None
    path = Path(dist) / name
    return path if path.is_file() else None
