"""One pool function for every kind (issue 19): ``serve_pool()`` answers tabular and image
models side by side, each as its dedicated function does (JSON rows; an image as base64 in
JSON or as the raw body), and each model's load failure is a ``PoolLoadFailures`` metric
carrying its ``model`` dimension."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from featherserve.support.events import load_event, response_json, with_body
from featherserve.support.processes import ROOT
from model_runtime import Settings, serve_model
from model_runtime.pool import PoolList, PoolSettings, serve_pool
from model_runtime.pool.entry import pool_of
from model_store.local import LocalStore
from tests.support.pool import card_event, model_names, predict_event, publish_many, row

pytestmark = pytest.mark.filterwarnings("ignore:Dimension .model. has already been added")

BIG = 1 << 30
# Lambda's 6 MB payload after base64: the image kind's body limit, the pool's when it
# pools an image model (featherserve/codegen/service_files.py SIZING).
IMAGE_BODY_LIMIT = 4_500_000
IMAGE_EVENTS = ("digits_predict_v1", "digits_predict_v2", "digits_raw_v1", "digits_raw_v2")


@pytest.fixture(scope="module")
def store_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tiny tabular models and the shipped digits (image) model in one store."""
    root = tmp_path_factory.mktemp("mixed") / "store"
    publish_many(root, 3, seed=3)
    shutil.copytree(ROOT / "models" / "digits", root / "digits")
    return root


def settings_for(root: Path) -> Settings:
    return Settings(model_source=str(root), warmup=0, model_cache=str(root.parent / "cache"),
                    max_body_bytes=IMAGE_BODY_LIMIT)


def mixed_list(root: Path) -> PoolList:
    return PoolList.from_document(
        {"source": str(root), "models": [*({"name": n, "kind": "tabular"}
                                           for n in model_names(3)),
                                         {"name": "digits", "kind": "image"}]}, "test")


@pytest.fixture(scope="module")
def pool(store_root: Path):
    return serve_pool(settings=settings_for(store_root), models=mixed_list(store_root),
                      pool_settings=PoolSettings(models_file="unused", memory_bytes=BIG))


def answer(handler, event) -> tuple[int, dict[str, str], str]:
    response = handler(event, None)
    headers = {k: v for k, v in response.get("headers", {}).items() if k != "Server-Timing"}
    return response["statusCode"], headers, response["body"]


def test_one_pool_answers_tabular_and_image_models_as_their_dedicated_functions(
        store_root, pool):
    settings = settings_for(store_root)
    digits = serve_model("digits", settings=settings)
    for name in IMAGE_EVENTS:  # base64 in JSON, and the raw image body; REST and HTTP API
        event = load_event(name)
        status, headers, body = answer(pool, event)
        assert (status, headers, body) == answer(digits, event)
        assert status == 200 and headers["Content-Type"].startswith("application/json")
        assert json.loads(body)["model"] == "digits"
    for name in model_names(3):
        tabular = serve_model(name, settings=settings)
        for event in (predict_event(name, [row([0.5, -1.0, 2.0]), [1, 2, 3]]),
                      card_event(name), card_event(name, "v2", "HEAD")):
            assert answer(pool, event) == answer(tabular, event)
        predicted = response_json(pool(predict_event(name, [[1, 2, 3]]), None))
        assert predicted["model"] == name and len(predicted["predictions"]) == 1
    assert sorted(pool_of(pool).loaded_names) == sorted(["digits", *model_names(3)])


def test_each_model_keeps_its_own_kinds_inputs_in_a_mixed_pool(store_root, pool):
    # A raw image sent to a tabular model: the contract's 415, as its own function answers.
    raw = load_event("digits_raw_v1")
    raw = {**raw, "path": "/models/pooled_000/predict",
           "resource": "/models/{name}/predict", "pathParameters": {"name": "pooled_000"},
           "queryStringParameters": None, "multiValueQueryStringParameters": None}
    status, _, body = answer(pool, raw)
    dedicated = serve_model("pooled_000", settings=settings_for(store_root))
    assert (status, body) == answer(dedicated, raw)[::2]
    assert status == 415 and json.loads(body)["error"]["code"]
    # Tabular rows sent to the image model: 422, not a 500.
    rows = predict_event("digits", [row([0.5, -1.0, 2.0])])
    status, _, body = answer(pool, rows)
    assert status == 422 and json.loads(body)["error"]["code"]
    # A kind filter still serves that kind's entries only.
    images = serve_pool("image", settings=settings_for(store_root),
                        models=mixed_list(store_root),
                        pool_settings=PoolSettings(models_file="unused", memory_bytes=BIG))
    assert images(card_event("pooled_000"), None)["statusCode"] == 404
    assert images(card_event("digits"), None)["statusCode"] == 200


def emf_lines(out: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.splitlines()
            if line.startswith("{") and '"_aws"' in line]


def dimensions(line: dict[str, object]) -> list[str]:
    return line["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0]  # type: ignore[index]


def test_a_load_failure_is_a_pool_load_failures_metric_with_its_model(tmp_path, capsys):
    root = tmp_path / "store"
    publish_many(root, 2)
    broken = "pooled_001"
    folder = root / broken / LocalStore(root).resolve(broken)
    model = next(folder.glob("*.onnx"))
    model.write_bytes(model.read_bytes()[::-1])  # fails its sha256
    listed = PoolList.from_document({"source": str(root), "kind": "tabular",
                                     "models": model_names(2)}, "t")
    handler = serve_pool(settings=Settings(model_source=str(root), warmup=0,
                                           model_cache=str(tmp_path / "cache")),
                         models=listed,
                         pool_settings=PoolSettings(models_file="unused", memory_bytes=BIG))
    capsys.readouterr()
    assert handler(predict_event(broken, [[1, 2, 3]]), None)["statusCode"] == 503
    assert handler(predict_event("pooled_000", [[1, 2, 3]]), None)["statusCode"] == 200
    failed, good = emf_lines(capsys.readouterr().out)
    # The request's own metrics line: flushed at its end, with service and model.
    assert failed["model"] == broken and failed["service"] == "featherserve"
    assert failed["PoolLoadFailures"] == [1.0]
    assert {"service", "model"} <= set(dimensions(failed))
    assert "PoolLoadFailures" in {m["Name"] for m in  # type: ignore[index]
                                  failed["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert good["model"] == "pooled_000" and "PoolLoadFailures" not in good
    # Retried after the TTL, not per request: no second failure counted meanwhile.
    handler(predict_event(broken, [[1, 2, 3]]), None)
    (again,) = emf_lines(capsys.readouterr().out)
    assert "PoolLoadFailures" not in again and again["model"] == broken


def test_a_failure_outside_its_models_request_gets_a_line_of_its_own(tmp_path, capsys):
    """The warm set at init and a bulk message load a model with no request for it: the
    failure is its own metrics line with its model, never booked to another model."""
    root = tmp_path / "store"
    publish_many(root, 2)
    folder = root / "pooled_001" / LocalStore(root).resolve("pooled_001")
    next(folder.glob("*.onnx")).unlink()
    listed = PoolList.from_document({"source": str(root), "kind": "tabular",
                                     "models": model_names(2)}, "t")
    capsys.readouterr()
    handler = serve_pool(settings=Settings(model_source=str(root), warmup=0,
                                           model_cache=str(tmp_path / "cache")),
                         models=listed,
                         pool_settings=PoolSettings(models_file="unused", memory_bytes=BIG,
                                                    warm="pooled_000,pooled_001"))
    (init,) = emf_lines(capsys.readouterr().out)
    assert init["model"] == "pooled_001" and init["PoolLoadFailures"] == [1.0]
    assert set(dimensions(init)) == {"service", "model"} and init["service"] == "featherserve"
    assert pool_of(handler).loaded_names == ["pooled_000"]
    response = handler(predict_event("pooled_000", [[1, 2, 3]]), None)
    assert response["statusCode"] == 200
    (request,) = emf_lines(capsys.readouterr().out)
    assert request["model"] == "pooled_000" and "PoolLoadFailures" not in request


def test_a_raw_body_over_the_pools_limit_is_413(store_root, pool):
    big = with_body(load_event("digits_raw_v1"), b"\x89PNG" + b"\0" * IMAGE_BODY_LIMIT,
                    content_type="image/png")
    response = pool(big, None)
    assert response["statusCode"] == 413
    assert response_json(response)["error"]["code"]
