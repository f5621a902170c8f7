"""Publishing from training: the graph must agree with its manifest, or nothing is stored.

``publish_checked`` opens the file with onnxruntime (as the handler will), compares its
inputs and outputs with the manifest (``model_store.graph_check``), runs a few real rows to
see the output's actual width, and only then publishes; the same bytes published again
return the existing version.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from model_store.graph_check import GraphMismatchError, check_graph, signature_of
from model_store.local import LocalStore
from model_store.manifest import Manifest
from training.common import log


def check_model_file(manifest: Manifest, model_file: Path,
                     feeds: dict[str, Any] | None = None) -> None:
    """Raise ``GraphMismatchError`` naming both sides when the file and manifest disagree."""
    session = ort.InferenceSession(str(model_file), providers=["CPUExecutionProvider"])
    check_graph(manifest, signature_of(session))
    if feeds is None:
        return
    output = np.asarray(session.run([manifest.output.name], feeds)[0])
    rows = len(next(iter(feeds.values())))
    if manifest.task.endswith("classification"):
        ok = output.shape == (rows, len(manifest.labels))
        want = f"[{rows}, {len(manifest.labels)}] (one score per label)"
    else:
        ok = output.shape in ((rows,), (rows, 1))
        want = f"[{rows}] or [{rows}, 1] (one value per row)"
    if not ok:
        raise GraphMismatchError(
            f"{manifest.name}: manifest task {manifest.task} needs output "
            f"{manifest.output.name!r} {want}; the graph gave {list(output.shape)} for "
            f"{rows} rows")


def publish_checked(manifest: Manifest, model_file: Path, store_root: Path,
                    feeds: dict[str, Any] | None = None) -> Manifest:
    check_model_file(manifest, model_file, feeds)
    store = LocalStore(store_root)
    before = store.versions(manifest.name)
    published = store.publish(manifest, model_file)
    what = "unchanged, already" if published.version in before else "published"
    log(f"[{manifest.name}] {what} {published.name} v{published.version} "
        f"({published.bytes} bytes, sha256 {published.sha256[:12]}…) in {store_root}")
    return published
