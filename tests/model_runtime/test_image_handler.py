"""The digits handler over the HTTP contract: JSON b64 instances, raw bodies, bad images."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from featherserve.support.events import load_event, response_json, with_body
from model_runtime import Settings, serve_model
from tests.support.images import animated_gif, decompression_bomb_png, digit_image, encode

FORMATS = ["v1", "v2"]


@pytest.fixture(scope="module")
def digits():
    return serve_model("digits")


def json_event(fmt: str, *images: bytes) -> dict[str, Any]:
    body = json.dumps({"instances": [{"b64": base64.b64encode(i).decode()} for i in images]})
    return with_body(load_event(f"digits_predict_{fmt}"), body, content_type="application/json")


def raw_event(fmt: str, data: bytes, content_type: str = "application/octet-stream"
              ) -> dict[str, Any]:
    return with_body(load_event(f"digits_predict_{fmt}"), data, content_type=content_type,
                     base64_encoded=True)


@pytest.mark.parametrize("name", ["digits_predict_v1", "digits_predict_v2", "digits_raw_v1",
                                  "digits_raw_v2"])
def test_shipped_events_read_the_seven(digits, name):
    response = digits(load_event(name), None)
    assert response["statusCode"] == 200, response["body"]
    prediction = response_json(response)["predictions"][0]
    assert prediction["label"] == "7"
    assert len(prediction["top"]) == 3  # the events ask for ?top_k=3


@pytest.mark.parametrize("fmt", FORMATS)
def test_batch_of_formats_and_polarities(digits, fmt):
    images = [encode(digit_image(224), "JPEG", quality=85),
              encode(digit_image(64, dark_on_light=False), "PNG"),
              encode(digit_image(512, "RGB"), "WEBP"),
              encode(digit_image(96), "BMP"),
              animated_gif()]  # the first frame is the digit
    response = digits(json_event(fmt, *images), None)
    assert response["statusCode"] == 200, response["body"]
    assert [p["label"] for p in response_json(response)["predictions"]] == ["7"] * len(images)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("content_type", ["image/png", "image/jpeg", "application/octet-stream"])
def test_raw_body_any_image_type(digits, fmt, content_type):
    data = encode(digit_image(300), "PNG")
    response = digits(raw_event(fmt, data, content_type), None)
    assert response["statusCode"] == 200
    assert response_json(response)["predictions"][0]["label"] == "7"


def truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]


BAD_RAW_IMAGES = [
    ("random-bytes", b"\x13\x37" * 200, 422, "undecodable_image"),
    ("truncated-png", truncated(encode(digit_image(128), "PNG")), 422, "undecodable_image"),
    ("truncated-jpeg", truncated(encode(digit_image(128), "JPEG")), 422, "undecodable_image"),
    ("tiff", encode(digit_image(64), "TIFF"), 415, "unsupported_image_format"),
    ("decompression-bomb", decompression_bomb_png(), 413, "image_too_large"),
    ("too-small", encode(digit_image(64).resize((4, 4)), "PNG"), 422, None),
]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(("data", "status", "code"), [r[1:] for r in BAD_RAW_IMAGES],
                         ids=[r[0] for r in BAD_RAW_IMAGES])
def test_bad_images_get_contract_errors(digits, fmt, data, status, code):
    for event in (raw_event(fmt, data), json_event(fmt, data)):
        response = digits(event, None)
        error = response_json(response)["error"]
        assert response["statusCode"] == status, error
        if code:
            assert error["code"] == code
        assert error["message"]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(("body", "content_type", "status", "code"), [
    ("", "application/octet-stream", 422, "empty_image"),
    ('{"instances": [{"b64": "%%%"}]}', "application/json", 400, "invalid_base64"),
    ('{"instances": [{"image": "abc"}]}', "application/json", 422, "invalid_instance"),
    ('{"instances": ["abc"]}', "application/json", 422, "invalid_instance"),
    ('{"instances": [{"b64": ""}]}', "application/json", 422, "empty_image"),
    ("hello", "text/plain", 415, "unsupported_media_type"),
])
def test_request_errors(digits, fmt, body, content_type, status, code):
    event = with_body(load_event(f"digits_predict_{fmt}"), body, content_type=content_type)
    response = digits(event, None)
    assert (response["statusCode"], response_json(response)["error"]["code"]) == (status, code)


def test_error_names_the_instance(digits):
    good = encode(digit_image(64), "PNG")
    response = digits(json_event("v2", good, b"not an image at all"), None)
    assert response_json(response)["error"]["message"].startswith("instances[1]:")


def test_oversized_body_is_413_before_decoding(tmp_path):
    handler = serve_model("digits", settings=Settings.from_env(max_body_bytes=10_000))
    big = encode(digit_image(1024, "RGB"), "PNG", compress_level=0)
    response = handler(raw_event("v1", big), None)
    assert (response["statusCode"], response_json(response)["error"]["code"]) == (
        413, "body_too_large")


def test_data_url_instances_are_accepted(digits):
    data_url = "data:image/png;base64," + base64.b64encode(
        encode(digit_image(128), "PNG")).decode()
    body = json.dumps({"instances": [{"b64": data_url}]})
    event = with_body(load_event("digits_predict_v2"), body, content_type="application/json")
    response = digits(event, None)
    assert response["statusCode"] == 200
