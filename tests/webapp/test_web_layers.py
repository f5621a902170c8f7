"""The web function's two layers as `featherserve layers` builds them: its dependencies
(without anything a model function needs) and the catalog (manifests, never a model)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from featherserve.cli import main
from tests.support.tiny_models import publish_tiny_tabular


def names_in(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as archive:
        return archive.namelist()


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("web-layers")
    store, out = root / "store", root / "layers"
    for name in ("breast_cancer", "digits"):
        publish_tiny_tabular(store, name)
    assert main(["layers", "--store", str(store), "--out", str(out), "--skip-runtime"]) == 0
    return store, out


def test_the_web_layer_holds_the_web_extra_and_nothing_a_model_needs(built):
    _, out = built
    names = names_in(out / "web.zip")
    packages = {n.split("/")[1] for n in names if n.startswith("python/") and "/" in n[7:]}
    assert {"werkzeug", "markupsafe"} <= packages
    assert "python/serverless_wsgi.py" in names
    assert not [n for n in names if n.split("/")[1].startswith(("numpy", "onnxruntime",
                                                                 "PIL", "boto"))]
    assert any(n.endswith(".cpython-312.pyc") for n in names)


def test_the_catalog_layer_holds_manifests_never_a_model(built):
    store, out = built
    names = names_in(out / "web-catalog.zip")
    assert sorted(n for n in names if n.startswith("models/")) == [
        "models/breast_cancer/1/manifest.json", "models/digits/1/manifest.json"]
    assert not [n for n in names if n.endswith((".onnx", ".ort"))]
    with zipfile.ZipFile(out / "web-catalog.zip") as archive:
        shipped = json.loads(archive.read("models/digits/1/manifest.json"))
    assert shipped == json.loads((store / "digits" / "1" / "manifest.json").read_text())


def test_rebuilding_one_model_keeps_the_others_in_the_index_and_the_catalog(built):
    store, out = built
    retrained = np.array([[2.0, -1.0], [0.5, 0.5], [-2.0, 2.0]])  # other bytes: version 2
    publish_tiny_tabular(store, "breast_cancer", weights=retrained)
    assert main(["layers", "--store", str(store), "--out", str(out), "--skip-runtime",
                 "--models", "breast_cancer"]) == 0
    index = json.loads((out / "models.json").read_text())
    assert {n: e["version"] for n, e in index.items()} == {"breast_cancer": "2", "digits": "1"}
    assert index["digits"]["label"].startswith("digits v1 sha256:")
    catalog = sorted(n for n in names_in(out / "web-catalog.zip") if n.startswith("models/"))
    assert catalog == ["models/breast_cancer/2/manifest.json", "models/digits/1/manifest.json"]
