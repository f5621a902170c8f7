"""/openapi.json promises no more than the API accepts and says all it must (issue 17,
defect 17): what the schema calls valid the API accepts, and a generated client can name
every served model."""

from __future__ import annotations

import base64
import re
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lambda_kit.base64_text import decode_base64
from model_store import LocalStore
from model_store.base import PROJECT_STORE
from tests.support.web import instance_validator

MODELS = LocalStore(PROJECT_STORE).names()
FLOAT32_MAX = float(np.finfo(np.float32).max)
DATA_URL = r"^\s*data:image/[A-Za-z0-9.+-]+;base64,"


def b64_schema(document: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = document["components"]["schemas"]["DigitsInstance"][
        "properties"]["b64"]
    return schema


def test_an_empty_b64_is_not_schema_valid(openapi):
    validator = instance_validator(openapi, "digits")
    assert not validator.is_valid({"instances": [{"b64": ""}]})
    assert not validator.is_valid({"instances": [{"b64": "  \n"}]})
    assert not validator.is_valid({"instances": [{"b64": "A"}]})  # a truncated quantum
    assert not validator.is_valid({"instances": [{"b64": "ab+_"}]})  # two alphabets
    assert validator.is_valid({"instances": [{"b64": "data:image/png;base64,iVBORw0KGgo="}]})
    assert b64_schema(openapi)["minLength"] == 1


@settings(max_examples=300, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_every_schema_valid_b64_is_base64_the_api_decodes(openapi, data):
    """What the schema allows in "b64" never gets the API's invalid_base64 (400)."""
    pattern = b64_schema(openapi).get("pattern")
    assert pattern, "the schema says nothing of what b64 holds"
    text = data.draw(st.from_regex(pattern, fullmatch=True))
    decode_base64(re.sub(DATA_URL, "", text, count=1))
    assert text.strip()


@settings(max_examples=300, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(min_size=1, max_size=64), urlsafe=st.booleans(), padded=st.booleans(),
       wrap=st.sampled_from([0, 4, 76]))
def test_base64_as_clients_send_it_is_schema_valid(openapi, data, urlsafe, padded, wrap):
    validator = instance_validator(openapi, "digits")
    encoded = (base64.urlsafe_b64encode if urlsafe else base64.b64encode)(data).decode()
    if not padded:
        encoded = encoded.rstrip("=")
    if wrap:
        encoded = "\n".join(encoded[i:i + wrap] for i in range(0, len(encoded), wrap))
    assert validator.is_valid({"instances": [{"b64": encoded}]}), encoded


def test_the_demo_routes_name_every_served_model(openapi):
    (parameter,) = openapi["paths"]["/demo/{name}"]["get"]["parameters"]
    assert parameter["schema"]["enum"] == MODELS
    for name in MODELS:
        demo = openapi["paths"][f"/demo/{name}/predict"]["post"]
        api = openapi["paths"][f"/models/{name}/predict"]["post"]
        assert demo["requestBody"] == api["requestBody"]
        assert demo["parameters"] == api["parameters"]
        assert demo["responses"]["200"] == api["responses"]["200"]
        assert "503" in demo["responses"] and demo["security"] == []
    assert "/demo/{name}/predict" not in openapi["paths"]


@pytest.mark.parametrize("model", [m for m in MODELS
                                   if LocalStore(PROJECT_STORE).manifest(m).task.startswith(
                                       "tabular")])
def test_numbers_are_bounded_as_the_api_reads_them(openapi, model):
    """The model functions refuse numbers beyond float32 (422): the schema says so."""
    validator = instance_validator(openapi, model)
    manifest = LocalStore(PROJECT_STORE).manifest(model)
    row = [0.0] * len(manifest.input.features)
    assert validator.is_valid({"instances": [row]})
    for huge in (FLOAT32_MAX * 1.01, -FLOAT32_MAX * 1.01, 2 * 10**308):
        assert not validator.is_valid({"instances": [[huge, *row[1:]]]}), huge
