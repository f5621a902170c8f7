"""Publishing from training: the graph must agree with its manifest, or nothing is stored.

``publish_checked`` opens the file with onnxruntime (as the handler will), compares its
inputs and outputs with the manifest (``model_store.graph_check``), runs a few real rows to
see the output's actual width, and only then publishes; the same bytes published again
return the existing version. The description must read as one for users
(``description_problem``): no scores, no build notes.
"""

from __future__ import annotations

import re
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


# A model card's description is for the people calling the model: what it predicts and what
# to send. How it was built and how well it scores are the card's lineage and metrics.
MAX_DESCRIPTION_CHARS = 400
ENGINEERING_WORDS = re.compile(
    r"re-?measur|\bmeasured\b|working image|accura|%|\bparameters?\b|-parameter|"
    r"\bepochs?\b|\bteacher|distil|\bint8\b|quantiz|sha256|\bseed\b|\bunchanged\b|\bloss\b|\bf1\b|\bauc\b|"
    r"\br2\b|\bbenchmark|\bTODO\b|\bFIXME\b", re.IGNORECASE)


class DescriptionError(ValueError):
    """A description that carries engineering notes or is not one short paragraph."""


def description_problem(text: str) -> str | None:
    """Why ``text`` is not a user description (None when it is one)."""
    if not text.strip():
        return "it is empty: say what the model predicts and what to send"
    if "\n" in text or len(text) > MAX_DESCRIPTION_CHARS:
        return (f"it is not one short paragraph (at most {MAX_DESCRIPTION_CHARS} characters, "
                f"no line breaks; this one has {len(text)})")
    found = ENGINEERING_WORDS.search(text)
    if found:
        return (f"it carries an engineering note ({found.group(0)!r}): scores belong in the "
                "card's metrics, how the model was built in its lineage")
    return None


def check_description(manifest: Manifest) -> None:
    problem = description_problem(manifest.description)
    if problem:
        raise DescriptionError(f"{manifest.name}: the description is for users, and {problem}: "
                               f"{manifest.description!r}")


def publish_checked(manifest: Manifest, model_file: Path, store_root: Path,
                    feeds: dict[str, Any] | None = None) -> Manifest:
    check_description(manifest)
    check_model_file(manifest, model_file, feeds)
    store = LocalStore(store_root)
    before = store.versions(manifest.name)
    published = store.publish(manifest, model_file)
    what = "unchanged, already" if published.version in before else "published"
    log(f"[{manifest.name}] {what} {published.name} v{published.version} "
        f"({published.bytes} bytes, sha256 {published.sha256[:12]}…) in {store_root}")
    return published
