"""Models trained from CSV files, served by the real handler: raw rows with text categories
and nulls, regression values, and the manifest/graph check at publish and at init."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from model_runtime import Settings, serve_model
from model_store.graph_check import GraphMismatchError
from model_store.local import LocalStore
from model_store.manifest import Manifest
from tests.support.tiny_models import publish_tiny_tabular, tiny_tabular_manifest
from training.publishing import check_model_file
from training.tabular.build import build_tabular_model
from training.tabular.config import TabularConfig
from training.tabular.synthetic import houses, penguins

QUICK = TabularConfig.quick()


def call(handler, name: str, body: object, method: str = "POST") -> tuple[int, dict]:
    path = f"/models/{name}/predict" if method == "POST" else f"/models/{name}"
    event = {"version": "2.0", "routeKey": f"{method} {path}", "rawPath": path,
             "headers": {"content-type": "application/json"},
             "requestContext": {"http": {"method": method, "path": path}, "requestId": "t"},
             "body": json.dumps(body), "isBase64Encoded": False}
    response = handler(event, None)
    return response["statusCode"], json.loads(response["body"])


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("served")
    penguins(rows=240, seed=3).to_csv(root / "penguins.csv", index=False)
    houses(rows=300, seed=3).to_csv(root / "houses.csv", index=False)
    for name, target in (("penguins", "species"), ("houses", "price_k")):
        build_tabular_model(name, data=root / f"{name}.csv", target=target,
                            store_root=root / "store", config=QUICK,
                            teacher_dir=root / "teachers", report_dir=root / "reports")
    return root / "store"


def test_csv_with_categories_and_missing_values_answers_raw_rows(store):
    manifest = LocalStore(store).manifest("penguins")
    features = {f.name: f for f in manifest.input.features}
    assert manifest.input.layout == "columns"
    assert features["island"].kind == "category"
    assert features["island"].categories == ("Biscoe", "Dream", "Torgersen")
    assert features["sex"].allow_missing and not features["bill_depth_mm"].allow_missing
    handler = serve_model("penguins", settings=Settings(model_source=str(store)))
    row = {"island": "Biscoe", "bill_length_mm": 47.5, "bill_depth_mm": 15.0,
           "flipper_length_mm": None, "body_mass_g": 5100, "sex": None}
    status, body = call(handler, "penguins", {"instances": [
        row, ["Dream", 49.0, 18.5, 196, 3700, "male"],
        {**row, "island": "Torgersen", "bill_length_mm": 38.0, "bill_depth_mm": 18.5,
         "body_mass_g": 3600, "sex": "female"}]})
    assert status == 200, body
    assert [p["label"] for p in body["predictions"]] == ["Gentoo", "Chinstrap", "Adelie"]
    status, body = call(handler, "penguins", {"instances": [{**row, "island": "Atlantis"}]})
    assert (status, body["error"]["code"]) == (422, "unknown_category")
    assert "'Biscoe', 'Dream', 'Torgersen'" in body["error"]["message"]
    status, body = call(handler, "penguins", {"instances": [{**row, "bill_depth_mm": None}]})
    assert (status, body["error"]["code"]) == (422, "invalid_feature_value")
    status, body = call(handler, "penguins", {"instances": [{**row, "island": 3}]})
    assert (status, body["error"]["code"]) == (422, "invalid_feature_value")


def test_regression_csv_is_served_as_values(store):
    handler = serve_model("houses", settings=Settings(model_source=str(store)))
    small = {"district": "suburbs", "area_m2": 45, "rooms": 2, "age_years": 80,
             "garden": None}
    big = {"district": "centre", "area_m2": 200, "rooms": 6, "age_years": None,
           "garden": "yes"}
    status, body = call(handler, "houses", {"instances": [small, big]})
    assert status == 200, body
    values = [p["value"] for p in body["predictions"]]
    assert set(body["predictions"][0]) == {"value"} and values[1] > values[0] + 200
    status, card = call(handler, "houses", None, method="GET")
    assert card["task"] == "tabular-regression" and card["labels"] == []
    metrics = card["metrics"]
    assert metrics["student_r2"] > 0.8 and metrics["baseline_mae"] > metrics["student_mae"]


def test_publish_refuses_a_graph_that_disagrees_with_its_manifest(store, tmp_path):
    good = LocalStore(store)
    manifest = good.manifest("penguins")
    path = good.model_path("penguins")
    check_model_file(manifest, path)  # the real pair agrees
    renamed = replace(manifest.input, features=(
        replace(manifest.input.features[0], name="isle"), *manifest.input.features[1:]))
    with pytest.raises(GraphMismatchError, match=r"manifest input 'isle' string \[N, 1\] is "
                                                 r"not an input of the graph"):
        check_model_file(replace(manifest, input=renamed), path)
    four = replace(manifest, labels=(*manifest.labels, "Emperor"))
    with pytest.raises(GraphMismatchError, match=r"4 labels needs output \[N, 4\]; the "
                                                 r"graph's is 'probabilities' float32 \[N, 3\]"):
        check_model_file(four, path)
    regression = Manifest.from_dict({**manifest.to_dict(), "task": "tabular-regression",
                                     "labels": [], "output": {"name": "probabilities",
                                                              "kind": "values"}})
    with pytest.raises(GraphMismatchError, match="one value per row"):
        check_model_file(regression, path)


def test_handler_answers_503_when_the_graph_disagrees_at_init(tmp_path, capsys, caplog):
    publish_tiny_tabular(tmp_path / "store", "tiny")
    store = LocalStore(tmp_path / "store")
    folder = store.root / "tiny" / "1"
    bad = replace(store.manifest("tiny"), labels=("no", "yes", "maybe"))
    (folder / "manifest.json").write_text(bad.to_json())
    assert tiny_tabular_manifest().labels == ("no", "yes")
    handler = serve_model("tiny", settings=Settings(model_source=str(tmp_path / "store")))
    status, body = call(handler, "tiny", {"instances": [[1.0, 2.0, 3.0]]})
    assert (status, body["error"]["code"]) == (503, "model_unavailable")
    assert "3 labels needs output" not in json.dumps(body)  # no details to the client
    logged = capsys.readouterr().out + caplog.text
    assert "3 labels needs output [N, 3]" in logged  # the cause, in the log
