"""The HTTP contract of DESIGN.md, row by row, on REST (v1) and HTTP API (v2) events."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from featherserve.support.events import load_event, response_json, with_body, with_route
from model_runtime import Settings, serve_model

GOOD = {"alpha": 1.0, "beta": 2.0, "gamma": 3.0}
FORMATS = ["v1", "v2"]


def predict_event(fmt: str, body: bytes | str | None, content_type: str | None = "application/json",
                  *, base64_encoded: bool | None = None, query: dict[str, str] | None = None
                  ) -> dict[str, Any]:
    event = with_route(load_event(f"breast_cancer_predict_{fmt}"), "POST",
                       "/models/tiny/predict", query)
    return with_body(event, body, content_type=content_type, base64_encoded=base64_encoded)


def instances(*items: Any) -> str:
    return json.dumps({"instances": list(items)})


@pytest.mark.parametrize("fmt", FORMATS)
def test_predicts_objects_and_lists_in_order(tiny_handler, fmt):
    response = tiny_handler(predict_event(fmt, instances(GOOD, [0, 0, 0])), None)
    assert response["statusCode"] == 200
    assert response["headers"]["Content-Type"] == "application/json"
    body = response_json(response)
    assert (body["model"], body["version"]) == ("tiny", "1")
    first, second = body["predictions"]
    assert (first["label"], first["index"]) == ("yes", 1)
    assert (second["label"], second["index"]) == ("no", 0)
    for prediction in body["predictions"]:
        scores = [t["score"] for t in prediction["top"]]
        assert scores == sorted(scores, reverse=True)
        assert prediction["score"] == scores[0]
        assert sum(scores) == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("fmt", FORMATS)
def test_top_k_query_limits_the_ranking(tiny_handler, fmt):
    response = tiny_handler(predict_event(fmt, instances(GOOD), query={"top_k": "1"}), None)
    assert [len(p["top"]) for p in response_json(response)["predictions"]] == [1]


@pytest.mark.parametrize("fmt", FORMATS)
def test_base64_encoded_json_body_is_decoded(tiny_handler, fmt):
    event = predict_event(fmt, instances(GOOD).encode(), base64_encoded=True)
    assert tiny_handler(event, None)["statusCode"] == 200


@pytest.mark.parametrize("fmt", FORMATS)
def test_model_card_is_the_manifest(tiny_handler, fmt):
    event = with_route(load_event(f"breast_cancer_card_{fmt}"), "GET", "/models/tiny")
    response = tiny_handler(event, None)
    card = response_json(response)
    assert response["statusCode"] == 200
    assert card["name"] == "tiny" and card["version"] == "1"
    assert [f["name"] for f in card["input"]["features"]] == ["alpha", "beta", "gamma"]
    assert len(card["sha256"]) == 64 and card["bytes"] > 0


ERROR_ROWS = [
    # (id, body, content type, status, code)
    ("malformed-json", "{not json", "application/json", 400, "malformed_json"),
    ("empty-body", "", "application/json", 400, "malformed_json"),
    ("json-not-object", "[1, 2]", "application/json", 422, "missing_instances"),
    ("no-instances", '{"inputs": []}', "application/json", 422, "missing_instances"),
    ("instances-not-list", '{"instances": {"alpha": 1}}', "application/json", 422,
     "missing_instances"),
    ("unknown-top-level", '{"instances": [[1,2,3]], "x": 1}', "application/json", 422,
     "unknown_field"),
    ("empty-batch", instances(), "application/json", 422, "empty_batch"),
    ("oversized-batch", instances(*[[1, 2, 3]] * 65), "application/json", 413, "batch_too_large"),
    ("missing-feature", instances({"alpha": 1, "beta": 2}), "application/json", 422,
     "missing_feature"),
    ("extra-feature", instances({**GOOD, "delta": 4}), "application/json", 422,
     "unknown_feature"),
    ("string-value", instances({**GOOD, "beta": "2"}), "application/json", 422,
     "invalid_feature_value"),
    ("null-value", instances({**GOOD, "beta": None}), "application/json", 422,
     "invalid_feature_value"),
    ("boolean-value", instances([1, True, 3]), "application/json", 422, "invalid_feature_value"),
    ("nan", '{"instances": [[1, NaN, 3]]}', "application/json", 422, "non_finite_value"),
    ("infinity", '{"instances": [[1, Infinity, 3]]}', "application/json", 422,
     "non_finite_value"),
    ("minus-infinity", '{"instances": [[1, -Infinity, 3]]}', "application/json", 422,
     "non_finite_value"),
    ("overflows-float32", instances([1, 1e39, 3]), "application/json", 422, "non_finite_value"),
    # Integers just past float's range (309 digits) once overflowed float() into a 500.
    ("int-2e308", '{"instances": [[1, 2' + "0" * 308 + ', 3]]}', "application/json", 422,
     "non_finite_value"),
    ("int-minus-2e308", '{"instances": [{"alpha": 1, "beta": -2' + "0" * 308 + ', "gamma": 3}]}',
     "application/json", 422, "non_finite_value"),
    ("int-1.8e308", '{"instances": [[18' + "0" * 307 + ', 2, 3]]}', "application/json", 422,
     "non_finite_value"),
    ("int-max-float", '{"instances": [[1, 2, ' + str(int(1.7976931348623157e308)) + "]]}",
     "application/json", 422, "non_finite_value"),
    ("int-10e400", '{"instances": [[1, 1' + "0" * 400 + ', 3]]}', "application/json", 422,
     "non_finite_value"),
    ("list-too-short", instances([1, 2]), "application/json", 422, "wrong_length"),
    ("list-too-long", instances([1, 2, 3, 4]), "application/json", 422, "wrong_length"),
    ("instance-is-number", instances(5), "application/json", 422, "invalid_instance"),
    ("image-to-tabular", b"\x89PNG\r\n\x1a\n", "image/png", 415, "unsupported_media_type"),
    ("form-encoded", "instances=1", "application/x-www-form-urlencoded", 415,
     "unsupported_media_type"),
    ("text-plain", instances(GOOD), "text/plain", 415, "unsupported_media_type"),
]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(("body", "content_type", "status", "code"),
                         [row[1:] for row in ERROR_ROWS], ids=[row[0] for row in ERROR_ROWS])
def test_error_table(tiny_handler, fmt, body, content_type, status, code):
    response = tiny_handler(predict_event(fmt, body, content_type), None)
    assert response["statusCode"] == status
    error = response_json(response)["error"]
    assert error["code"] == code
    assert error["message"] and "Traceback" not in error["message"]
    assert error["request_id"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_body_over_the_limit_is_413(tiny_store, fmt):
    handler = serve_model("tiny", settings=Settings(model_source=str(tiny_store),
                                                    max_body_bytes=100))
    response = handler(predict_event(fmt, instances(*[GOOD] * 5)), None)
    assert response["statusCode"] == 413
    assert response_json(response)["error"]["code"] == "body_too_large"


@pytest.mark.parametrize("fmt", FORMATS)
def test_invalid_base64_is_400(tiny_handler, fmt):
    event = predict_event(fmt, "not base64!!", base64_encoded=False)
    event["isBase64Encoded"] = True
    response = tiny_handler(event, None)
    assert (response["statusCode"], response_json(response)["error"]["code"]) == (
        400, "invalid_base64")


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("top_k", ["0", "3", "-1", "two", ""])
def test_invalid_top_k_is_400(tiny_handler, fmt, top_k):
    response = tiny_handler(predict_event(fmt, instances(GOOD), query={"top_k": top_k}), None)
    assert (response["statusCode"], response_json(response)["error"]["code"]) == (
        400, "invalid_top_k")


ROUTE_ROWS = [
    ("GET", "/models/tiny/predict", 405, "method_not_allowed"),
    ("PUT", "/models/tiny/predict", 405, "method_not_allowed"),
    ("POST", "/models/tiny", 405, "method_not_allowed"),
    ("DELETE", "/models/tiny", 405, "method_not_allowed"),
    ("POST", "/models/other/predict", 404, "model_not_found"),
    ("GET", "/models/other", 404, "model_not_found"),
    ("GET", "/", 404, "route_not_found"),
    ("POST", "/predict", 404, "route_not_found"),
    ("GET", "/models/tiny/predict/extra", 404, "route_not_found"),
]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(("method", "path", "status", "code"), ROUTE_ROWS)
def test_routes(tiny_handler, fmt, method, path, status, code):
    event = with_route(predict_event(fmt, instances(GOOD)), method, path)
    response = tiny_handler(event, None)
    assert response["statusCode"] == status
    assert response_json(response)["error"]["code"] == code
    if status == 405:
        assert response["headers"]["Allow"] in ("GET, HEAD, OPTIONS", "POST, OPTIONS")


@pytest.mark.parametrize("fmt", FORMATS)
def test_stage_prefixed_paths_route_normally(tiny_handler, fmt):
    event = with_route(predict_event(fmt, instances(GOOD)), "POST", "/dev/models/tiny/predict")
    assert tiny_handler(event, None)["statusCode"] == 200


def test_non_http_event_is_a_clear_400(tiny_handler):
    response = tiny_handler({"hello": "world"}, None)
    assert response["statusCode"] == 400
    assert response_json(response)["error"]["code"] == "unsupported_event"


def fresh_log_settings(store) -> Settings:
    """A service name of its own, so Powertools binds a log handler to this test's stdout."""
    return Settings(model_source=str(store), service_name=f"test-{uuid.uuid4().hex[:8]}")


class ExplodingPredictor:
    def predict(self, batch):
        raise RuntimeError("secret internal detail /opt/models/x")


def test_internal_error_is_a_generic_500(tiny_store, capsys):
    from model_runtime.model_loading import load_model

    def loader(name, settings):
        loaded = load_model(name, settings)
        return type(loaded)(loaded.manifest, ExplodingPredictor(), loaded.source)

    handler = serve_model("tiny", settings=fresh_log_settings(tiny_store), loader=loader)
    response = handler(predict_event("v2", instances(GOOD)), None)
    assert response["statusCode"] == 500
    error = response_json(response)["error"]
    assert error["code"] == "internal_error"
    assert "secret" not in response["body"]
    assert "secret internal detail" in capsys.readouterr().out  # the log has it


def test_missing_model_is_503_and_recovers_when_it_appears(tmp_path):
    from tests.support.tiny_models import publish_tiny_tabular

    handler = serve_model("tiny", settings=Settings(model_source=str(tmp_path)))
    response = handler(predict_event("v1", instances(GOOD)), None)
    assert response["statusCode"] == 503
    assert response_json(response)["error"]["code"] == "model_unavailable"
    assert str(tmp_path) not in response["body"]
    publish_tiny_tabular(tmp_path)
    assert handler(predict_event("v1", instances(GOOD)), None)["statusCode"] == 200


def test_corrupted_model_file_is_refused(tiny_store):
    model = next(tiny_store.glob("tiny/1/model.onnx"))
    model.write_bytes(model.read_bytes() + b"tampered")
    handler = serve_model("tiny", settings=Settings(model_source=str(tiny_store)))
    response = handler(predict_event("v2", instances(GOOD)), None)
    assert response["statusCode"] == 503


def test_logs_are_structured_with_model_version_and_cold_start(tiny_store, capsys):
    tiny_handler = serve_model("tiny", settings=fresh_log_settings(tiny_store))
    capsys.readouterr()
    tiny_handler(predict_event("v2", instances(GOOD)), None)
    tiny_handler(predict_event("v2", instances(GOOD)), None)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    # One line per request: the EMF metrics line, carrying the access log as metadata.
    emf = [line for line in lines if "_aws" in line]
    assert [r["cold_start"] for r in emf] == [True, False]
    assert all(r["model"] == "tiny" and r["model_version"] == "1" for r in emf)
    assert all(r["status"] == 200 and r["path"].endswith("/predict") for r in emf)
    assert "ColdStart" in emf[0] and "ColdStart" not in emf[1]
    assert all("Latency" in m for m in emf)
    assert not [line for line in lines if line.get("message") == "request"]  # DEBUG only


@pytest.mark.parametrize("fmt", FORMATS)
def test_cors_origin_is_set_on_answers_and_errors(tiny_store, fmt):
    settings = Settings(model_source=str(tiny_store), cors_origin="https://demo.example.org")
    handler = serve_model("tiny", settings=settings)
    for event in (predict_event(fmt, instances(GOOD)), predict_event(fmt, "{bad")):
        headers = handler(event, None)["headers"]
        assert headers["Access-Control-Allow-Origin"] == "https://demo.example.org"


def test_no_cors_header_without_an_origin(tiny_handler):
    assert "Access-Control-Allow-Origin" not in tiny_handler(
        predict_event("v2", instances(GOOD)), None)["headers"]
