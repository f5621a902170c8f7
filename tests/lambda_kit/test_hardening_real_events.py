"""Every served model's real handler against real-shaped events of every kind we accept.

tests/events/real/ holds events written from AWS's documented shapes (REST API v1 with and
without multi-value maps, the console's test event, HTTP API v2, Function URLs, ALB in
single- and multi-value mode, and what people hand-write for `sls invoke local`). Each
handler answers each of them in the contract's shape; the table says what the model the
event is addressed to must answer.
"""

from __future__ import annotations

import copy
import importlib
import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.support.contract import check_answer, response_headers

REAL = Path(__file__).resolve().parents[1] / "events" / "real"
FIXTURES = sorted(p.stem for p in REAL.glob("*.json"))
HANDLERS_DIR = Path(__file__).resolve().parents[2] / "handlers"
SERVE = re.compile(r'serve_model\("([a-z][a-z0-9_]*)"\)')
MALIGNANT = ["malignant", "malignant"]  # the events send dataset row 0, as object and list
# fixture → (status, predicted labels or None, top-k length or None)
EXPECTED: dict[str, tuple[int, list[str] | None, int | None]] = {
    "alb_health_check": (200, None, None),
    "alb_multi_value_image": (200, ["7"], 4),
    "alb_single_value_json": (200, MALIGNANT, 2),
    "function_url_get_card": (200, None, None),
    "function_url_gzip_json": (200, MALIGNANT, None),
    "function_url_head_card": (200, None, None),
    "function_url_raw_image_no_content_type": (200, ["7"], None),
    "function_url_top_k_repeated": (400, None, None),
    "http_api_v2_base64_json": (200, MALIGNANT, None),
    "http_api_v2_duplicate_content_type": (200, MALIGNANT, None),
    "http_api_v2_json_unpadded_b64": (200, ["7"], 3),
    "http_api_v2_preflight": (204, None, None),
    "rest_v1_binary_png_wrapped_base64": (200, ["7"], 2),
    "rest_v1_console_test_card": (200, None, None),
    "rest_v1_head_card": (200, None, None),
    "rest_v1_multi_value_only": (200, ["7"], 3),
    "rest_v1_predict_json": (200, MALIGNANT, 1),
    "sls_invoke_local_minimal": (200, None, None),
    "sls_invoke_local_object_body": (200, MALIGNANT, None),
    "sls_invoke_local_v2_minimal": (200, None, None),
}


class LambdaContext:
    aws_request_id = "3f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"


def served_models() -> list[str]:
    found = [SERVE.search(p.read_text()) for p in sorted(HANDLERS_DIR.glob("*.py"))]
    return [m.group(1) for m in found if m]


@pytest.fixture(scope="module")
def handlers() -> dict[str, Any]:
    return {name: importlib.import_module(f"handlers.{name}").handler for name in served_models()}


def load(name: str) -> dict[str, Any]:
    return json.loads((REAL / f"{name}.json").read_text())  # type: ignore[no-any-return]


def addressed_model(event: dict[str, Any]) -> str:
    match = re.search(r"/models/([a-z0-9_]+)", str(event.get("path") or event.get("rawPath")))
    assert match, event
    return match.group(1)


def method_of(event: dict[str, Any]) -> str:
    return str(event.get("httpMethod") or event["requestContext"]["http"]["method"])


def test_the_table_covers_every_fixture_and_both_input_kinds():
    assert sorted(EXPECTED) == FIXTURES
    assert {"breast_cancer", "digits"} <= set(served_models())
    kinds = {name.split("_")[0] for name in FIXTURES}
    assert kinds == {"alb", "function", "http", "rest", "sls"}


@pytest.mark.parametrize("fixture", FIXTURES)
def test_every_handler_answers_every_real_event_in_the_contracts_shape(handlers, fixture):
    event = load(fixture)
    target = addressed_model(event)
    for model, handler in handlers.items():
        response = handler(copy.deepcopy(event), LambdaContext())
        body = check_answer(response, method=method_of(event))
        if model != target:
            assert response["statusCode"] == 404, (model, fixture)
            assert method_of(event) == "HEAD" or body["error"]["code"] == "model_not_found"


@pytest.mark.parametrize("fixture", FIXTURES)
def test_the_addressed_model_answers_as_expected(handlers, fixture):
    event = load(fixture)
    status, labels, top_k = EXPECTED[fixture]
    response = handlers[addressed_model(event)](event, LambdaContext())
    body = check_answer(response, method=method_of(event))
    assert response["statusCode"] == status, response["body"]
    if labels is not None:
        assert [p["label"] for p in body["predictions"]] == labels
    if top_k is not None:
        assert {len(p["top"]) for p in body["predictions"]} == {top_k}
    if "error" in body:
        assert body["error"]["request_id"]  # the event's, or the Lambda context's


def test_alb_answers_in_the_mode_it_was_asked_in(handlers):
    multi = handlers["digits"](load("alb_multi_value_image"), LambdaContext())
    single = handlers["breast_cancer"](load("alb_single_value_json"), LambdaContext())
    assert "multiValueHeaders" in multi and "headers" not in multi
    assert "headers" in single and "multiValueHeaders" not in single
    assert multi["statusDescription"] == single["statusDescription"] == "200 OK"
    # ALB events carry no request id: the Lambda context's is used.
    error = handlers["digits"](load("alb_health_check") | {"httpMethod": "DELETE"},
                               LambdaContext())
    assert json.loads(error["body"])["error"]["request_id"] == LambdaContext.aws_request_id


def test_head_has_the_get_answers_headers_and_no_body(handlers):
    get = load("rest_v1_head_card") | {"httpMethod": "GET"}
    head = handlers["digits"](load("rest_v1_head_card"), LambdaContext())
    full = handlers["digits"](get, LambdaContext())
    assert head["statusCode"] == full["statusCode"] == 200
    assert head["body"] == "" and json.loads(full["body"])["name"] == "digits"
    assert head["headers"] == full["headers"]


def test_a_preflight_gets_the_stages_cors_answer(monkeypatch):
    from model_runtime import Settings, serve_model

    handler = serve_model("digits", settings=Settings(
        model_source=str(HANDLERS_DIR.parent / "models"), cors_origin="https://demo.example.org",
        warmup=0))
    response = handler(load("http_api_v2_preflight"), LambdaContext())
    assert response["statusCode"] == 204 and response["body"] == ""
    headers = response_headers(response)
    assert headers["Access-Control-Allow-Origin"] == "https://demo.example.org"
    assert headers["Access-Control-Allow-Methods"] == "POST,OPTIONS"
    assert set(headers["Access-Control-Allow-Headers"].lower().split(",")) >= {
        "content-type", "x-api-key"}
    assert int(headers["Access-Control-Max-Age"]) > 0
