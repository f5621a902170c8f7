"""Issue 10's reproductions, in process, on REST (v1), HTTP API (v2) and ALB events; and the
event-level ones (maps of the wrong JSON type, multi-value-only maps, hand-written events)."""

from __future__ import annotations

import base64
import copy
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from featherserve.support.events import load_event, with_body, with_route
from model_runtime import Settings, serve_model
from tests.support.contract import check_answer
from tests.support.reproductions import IMAGE, TABULAR, Reproduction, reproductions

ROOT = Path(__file__).resolve().parents[2]
REPRODUCTIONS = {r.name: r for r in reproductions()}
ELB = {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:eu-west-1:123456789012:"
                                 "targetgroup/featherserve/6d0ecf831eec9f09"}}


class LambdaContext:
    aws_request_id = "0d8c6f5e-4b3a-4291-8f7e-6d5c4b3a2910"


@pytest.fixture(scope="module")
def handlers() -> dict[str, Any]:
    # The deployed body limits (generated/functions.yml): 256 KiB tabular, 4.5 MB images.
    models = str(ROOT / "models")
    return {TABULAR: serve_model(TABULAR, settings=Settings(model_source=models,
                                                            max_body_bytes=262_144)),
            IMAGE: serve_model(IMAGE, settings=Settings(model_source=models,
                                                        max_body_bytes=4_500_000))}


def is_text(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def event_for(shape: str, r: Reproduction) -> dict[str, Any]:
    """The event a gateway makes of ``r``: binary bodies base64-encoded, as HTTP APIs do."""
    if shape == "alb":
        encoded = not is_text(r.body)
        return {"requestContext": ELB, "httpMethod": r.method, "path": r.route,
                "queryStringParameters": {k: v for k, v in
                                          (p.split("=", 1) for p in r.path.partition("?")[2]
                                           .split("&") if "=" in p)},
                "headers": {k.lower(): v for k, v in r.headers.items()},
                "body": base64.b64encode(r.body).decode() if encoded else r.body.decode(),
                "isBase64Encoded": encoded}
    template = "breast_cancer_predict_v1" if shape == "v1" else "breast_cancer_predict_v2"
    event = with_route(load_event(template), r.method, r.route, r.query or None)
    event = with_body(event, r.body or None, content_type=None,
                      base64_encoded=not is_text(r.body))
    event["headers"].update(r.headers)
    return event


@pytest.mark.parametrize("shape", ["v1", "v2", "alb"])
@pytest.mark.parametrize("name", sorted(REPRODUCTIONS))
def test_each_reproduction_gets_the_contracts_answer(handlers, shape, name):
    r = REPRODUCTIONS[name]
    model = r.route.split("/")[2]
    response = handlers[model](event_for(shape, r), LambdaContext())
    body = check_answer(response, method=r.method)
    assert response["statusCode"] == r.expect.status, response["body"][:500]
    if r.expect.code:
        assert body["error"]["code"] == r.expect.code
        assert r.expect.message_has in body["error"]["message"]
    if r.expect.labels:
        assert [p["label"] for p in body["predictions"]] == list(r.expect.labels)


def test_an_undecodable_image_is_described_not_the_decoders_internals(handlers):
    r = REPRODUCTIONS["undecodable image"]
    message = json.loads(handlers[IMAGE](event_for("v2", r), None)["body"])["error"]["message"]
    assert "PNG" in message and "BytesIO" not in message and "0x" not in message


def test_an_image_sent_as_json_is_named_in_the_400_and_valid_json_is_not(handlers):
    # The hint is worked out only once the JSON is refused; it must still be there.
    image = (ROOT / "examples" / "digits.png").read_bytes()
    event = with_route(load_event("digits_predict_v2"), "POST", f"/models/{IMAGE}/predict")
    answer = handlers[IMAGE](with_body(event, image, content_type="application/json",
                                       base64_encoded=True), None)
    error = json.loads(answer["body"])["error"]
    assert (answer["statusCode"], error["code"]) == (400, "malformed_json")
    assert "looks like a PNG file sent as application/json" in error["message"]
    empty = handlers[IMAGE](with_body(event, "", content_type="application/json"), None)
    assert "looks like" not in json.loads(empty["body"])["error"]["message"]


def predict_v1(body: str = '{"instances": [[1, 2]]}') -> dict[str, Any]:
    event = with_route(load_event("breast_cancer_predict_v1"), "POST",
                       f"/models/{TABULAR}/predict")
    return with_body(event, body, content_type="application/json")


WRONG_TYPES = ["a string", ["a", "list"], 42, 4.5, True]


@pytest.mark.parametrize("key", ["headers", "multiValueHeaders", "queryStringParameters",
                                 "multiValueQueryStringParameters", "requestContext"])
@pytest.mark.parametrize("value", WRONG_TYPES, ids=lambda v: type(v).__name__)
def test_maps_of_the_wrong_json_type_are_a_400(handlers, key, value):
    event = predict_v1()
    event[key] = value
    response = handlers[TABULAR](event, LambdaContext())
    body = check_answer(response)
    assert (response["statusCode"], body["error"]["code"]) == (400, "invalid_event")
    assert body["error"]["request_id"] == LambdaContext.aws_request_id


@pytest.mark.parametrize("mutate", [
    lambda e: e.update(headers={"content-type": ["application/json"]}),
    lambda e: e.update(queryStringParameters={"top_k": {"nested": 1}}),
    lambda e: e.update(multiValueHeaders={"content-type": [["nested"]]}),
    lambda e: e.update(body=12),
    lambda e: e.update(httpMethod=["POST"]),
    lambda e: e.update(path={"p": 1}),
], ids=["list-header-value", "object-query-value", "nested-multi-value", "numeric-body",
        "list-method", "object-path"])
def test_values_of_the_wrong_json_type_are_a_400(handlers, mutate):
    event = predict_v1()
    mutate(event)
    response = handlers[TABULAR](event, LambdaContext())
    assert check_answer(response)["error"]["code"] == "invalid_event"


@pytest.mark.parametrize("key", ["requestContext", "headers", "queryStringParameters"])
@pytest.mark.parametrize("value", WRONG_TYPES[:3], ids=lambda v: type(v).__name__)
def test_http_api_maps_of_the_wrong_type_are_a_400(handlers, key, value):
    event = with_body(with_route(load_event("breast_cancer_predict_v2"), "POST",
                                 f"/models/{TABULAR}/predict"), "{}", content_type=None)
    event[key] = value
    response = handlers[TABULAR](event, LambdaContext())
    assert (response["statusCode"], check_answer(response)["error"]["code"]) == (
        400, "invalid_event")


def test_unpaired_surrogates_in_the_event_never_escape(handlers):
    event = predict_v1('{"instances": [["\ud800", 2]]}')  # a lone surrogate in the str
    event["headers"]["x-odd"] = "\udc80"
    event["path"] = "/models/\ud800/predict"
    event["queryStringParameters"] = {"top_k": "\ud800"}
    response = handlers[TABULAR](event, LambdaContext())
    body = check_answer(response)
    assert response["statusCode"] == 404
    assert "\ufffd" in body["error"]["message"]
    event["path"] = f"/models/{TABULAR}/predict"
    response = handlers[TABULAR](event, LambdaContext())
    assert check_answer(response)["error"]["code"] == "invalid_top_k"
    del event["queryStringParameters"]
    response = handlers[TABULAR](event, LambdaContext())
    assert (response["statusCode"], check_answer(response)["error"]["code"]) == (
        400, "malformed_json")


def test_content_type_and_top_k_in_multi_value_maps_only(handlers):
    png = (ROOT / "examples" / "digits.png").read_bytes()
    event = with_body(with_route(load_event("digits_raw_v1"), "POST", f"/models/{IMAGE}/predict"),
                      png, content_type=None, base64_encoded=True)
    event["headers"] = {"Accept": "*/*"}
    event["queryStringParameters"] = None
    event["multiValueHeaders"] = {"Content-Type": ["image/png"], "Accept": ["*/*"]}
    event["multiValueQueryStringParameters"] = {"top_k": ["4"]}
    response = handlers[IMAGE](event, LambdaContext())
    prediction = check_answer(response)["predictions"][0]
    assert (prediction["label"], len(prediction["top"])) == ("7", 4)
    # Repeated: both values count, and a comma is no whole number.
    event["multiValueQueryStringParameters"] = {"top_k": ["2", "3"]}
    assert handlers[IMAGE](event, LambdaContext())["statusCode"] == 400


@pytest.mark.parametrize("event", [
    {"httpMethod": "GET", "path": f"/models/{TABULAR}"},
    {"httpMethod": "get", "path": f"/models/{TABULAR}/"},
    {"httpMethod": "POST", "path": f"/models/{TABULAR}/predict",
     "body": json.loads((ROOT / "examples" / "breast_cancer.json").read_text())},
    {"httpMethod": "POST", "path": f"/models/{TABULAR}/predict",
     "body": (ROOT / "examples" / "breast_cancer.json").read_text()},
    {"version": "2.0", "rawPath": f"/models/{TABULAR}", "requestContext": {
        "http": {"method": "GET"}}},
    {"rawPath": f"/models/{TABULAR}", "requestContext": {"http": {"method": "HEAD"}}},
], ids=["get", "lower-case-method", "object-body", "string-body", "v2", "v2-head"])
def test_hand_written_sls_invoke_local_events(handlers, event):
    response = handlers[TABULAR](copy.deepcopy(event), LambdaContext())
    check_answer(response, method=str(event.get("httpMethod") or
                                      event["requestContext"]["http"]["method"]).upper())
    assert response["statusCode"] == 200


@pytest.mark.parametrize("event", [None, [], "GET /", 7, {}, {"Records": []},
                                   {"hello": "world"}, {"version": "2.0"},
                                   {"requestContext": {"elb": {}}}])
def test_events_that_are_not_http_requests_are_a_400_never_an_exception(handlers, event):
    response = handlers[TABULAR](event, LambdaContext())
    body = check_answer(response)
    assert response["statusCode"] == 400
    assert body["error"]["code"] in ("unsupported_event", "invalid_event")


def test_the_last_resort_answers_500_in_the_contracts_shape(tmp_path, capsys):
    from tests.support.tiny_models import publish_tiny_tabular

    publish_tiny_tabular(tmp_path)
    # A service name of its own: Powertools binds its log handler to this test's stdout.
    handler = serve_model("tiny", settings=Settings(model_source=str(tmp_path), warmup=0,
                                                    service_name=f"test-{uuid.uuid4().hex[:8]}"))

    class Exploding(dict):  # an event whose every read fails in an unforeseen way
        def get(self, *args, **kwargs):
            raise RuntimeError("unforeseen /secret/path")

        def __contains__(self, key):
            raise RuntimeError("unforeseen /secret/path")

    response = handler(Exploding(httpMethod="GET"), LambdaContext())
    body = check_answer(response)
    assert response["statusCode"] == 500
    assert body["error"]["code"] == "internal_error"
    assert body["error"]["request_id"] == LambdaContext.aws_request_id
    assert "secret" not in response["body"]
    assert "unforeseen /secret/path" in capsys.readouterr().out  # the log has it


# -- numbers past float's range reach the row check as Python ints, wherever they come from ---

BEYOND_FLOAT32 = [2 * 10**308, -2 * 10**308, 18 * 10**307, 10**5000, -(10**400), 10**39,
                  float("inf"), float("-inf"), float("nan"), 3.5e38, -1.7976931348623157e308]


def _value_id(value: float) -> str:
    if isinstance(value, int):
        return f"int-{'minus-' if value < 0 else ''}{abs(value).bit_length()}-bits"
    return repr(value)


@pytest.mark.parametrize("value", BEYOND_FLOAT32, ids=_value_id)
@pytest.mark.parametrize("as_list", [False, True], ids=["object", "list"])
def test_a_number_past_float32_is_a_422_naming_the_feature(value, as_list):
    """Whatever the JSON reader made of it (an int of any length, a float), a value float32
    cannot hold is refused with the feature's name, in a message of readable length."""
    from lambda_kit.errors import UnprocessableInstance
    from model_runtime.tabular import TabularInputs
    from model_store import LocalStore

    manifest = LocalStore(ROOT / "models").manifest(TABULAR)
    inputs = TabularInputs(manifest.input, manifest.name)  # type: ignore[arg-type]
    values: list[Any] = [1.0] * len(inputs.names)
    values[3] = value
    instance: Any = values if as_list else dict(zip(inputs.names, values, strict=True))
    with pytest.raises(UnprocessableInstance) as raised:
        inputs.from_instances([instance])
    assert raised.value.code == "non_finite_value"
    assert repr(inputs.names[3]) in raised.value.message
    assert len(raised.value.message) < 300
