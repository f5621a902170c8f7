"""What API Gateway answers itself, in the contract's error shape and status, and the
body size let through to a function."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.support.template import functions, is_web, of_type

pytestmark = pytest.mark.e2e
# API Gateway's own errors and the contract's status for each.
GATEWAY_STATUS = {
    "INVALID_API_KEY": "403", "ACCESS_DENIED": "403", "MISSING_AUTHENTICATION_TOKEN": "404",
    "THROTTLED": "429", "QUOTA_EXCEEDED": "429", "REQUEST_TOO_LARGE": "413",
    "UNSUPPORTED_MEDIA_TYPE": "415", "INTEGRATION_TIMEOUT": "504",
    "DEFAULT_4XX": None, "DEFAULT_5XX": None,
}
# Lambda's 6 MB synchronous payload, after API Gateway's base64 (4/3) of binary bodies.
MAX_BODY_LIMIT = 4_500_000


def render(body_template: str) -> Any:
    """What API Gateway would send: its context variables filled in."""
    return json.loads(body_template.replace("$context.requestId", "c0ffee")
                      .replace("$context.error.messageString", '"Forbidden"'))


def test_api_gateway_errors_use_the_contract_shape_and_status(template):
    responses = {r["Properties"]["ResponseType"]: r for r in
                 of_type(template, "AWS::ApiGateway::GatewayResponse").values()}
    assert set(responses) == set(GATEWAY_STATUS)
    for kind, status in GATEWAY_STATUS.items():
        properties = responses[kind]["Properties"]
        assert properties.get("StatusCode") == status, kind
        body = render(properties["ResponseTemplates"]["application/json"])
        assert set(body) == {"error"} and set(body["error"]) == {"code", "message",
                                                                  "request_id"}, kind
        assert re.fullmatch(r"[a-z]+(_[a-z]+)*", body["error"]["code"]), kind
        assert body["error"]["request_id"] == "c0ffee"
        assert body["error"]["message"], kind
    assert render(responses["MISSING_AUTHENTICATION_TOKEN"]["Properties"]["ResponseTemplates"][
        "application/json"])["error"]["code"] == "not_found"
    # Deployed in the same deploy as the API that serves them.
    (deployment,) = of_type(template, "AWS::ApiGateway::Deployment").values()
    responses_ids = set(of_type(template, "AWS::ApiGateway::GatewayResponse"))
    assert set(deployment["DependsOn"]) >= responses_ids


def test_request_bodies_are_capped_before_the_model_runs(template):
    for properties in functions(template).values():
        variables = properties["Environment"]["Variables"]
        if is_web(properties):  # it proxies a demo body base64-encoded in an event: ≤ 6 MB
            assert 0 < int(variables["FEATHERSERVE_DEMO_MAX_BODY_BYTES"]) <= 3_000_000
            continue
        limit = int(variables["FEATHERSERVE_MAX_BODY_BYTES"])
        assert 0 < limit <= MAX_BODY_LIMIT
    tabular = functions(template)["BreastUnderscorecancerLambdaFunction"]
    assert int(tabular["Environment"]["Variables"]["FEATHERSERVE_MAX_BODY_BYTES"]) <= 262144
