"""A model store whose manifests carry markup where names and labels go: the web pages must
show it as text and run none of it."""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

from model_store import Feature, LocalStore, Manifest, OutputSpec, TabularSpec
from tests.support.tiny_models import tiny_tabular_onnx

# Each payload would run (or break out of its attribute or element) if it were not escaped.
HOSTILE_FEATURES = (
    '<script>window.pwned = "feature"</script>',
    '"><img src=x onerror="window.pwned=\'attribute\'">',
    "' onfocus='window.pwned=1' autofocus x='",
)
HOSTILE_LABELS = (
    "<img src=x onerror=\"window.pwned='label'\">",
    "</script><script>window.pwned = 'label 2'</script>",
)
HOSTILE_DESCRIPTION = '<b onclick="window.pwned=1">bold</b> & "quoted" <!-- comment'
HOSTILE_CATEGORIES = ("<svg onload=\"window.pwned='category'\">", 'a"b', "x</option><script>")


def hostile_manifest(name: str) -> Manifest:
    """The tiny three-feature linear model, its names and labels replaced by payloads."""
    features = tuple(Feature(n, min=-1.5, max=2.5) for n in HOSTILE_FEATURES)
    return Manifest(name=name, task="tabular-classification",
                    input=TabularSpec(features=features), output=OutputSpec("probabilities"),
                    labels=HOSTILE_LABELS, opset=17, description=HOSTILE_DESCRIPTION)


def with_hostile_categories(manifest: Manifest) -> Manifest:
    """The same manifest, its last feature a category one (for pages only: the tiny graph
    takes numbers, so this variant is never run)."""
    assert isinstance(manifest.input, TabularSpec)
    *numbers, last = manifest.input.features
    category = dataclasses.replace(last, dtype="string", kind="category", min=None, max=None,
                                   categories=HOSTILE_CATEGORIES, allow_missing=True)
    return dataclasses.replace(manifest, input=TabularSpec(features=(*numbers, category),
                                                           layout="columns"))


def publish_hostile(store_root: Path, manifest: Manifest) -> Manifest:
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "model.onnx"
        path.write_bytes(tiny_tabular_onnx())
        return LocalStore(store_root).publish(manifest, path)
