"""Who may call the API: a key for every model route (never for the web pages or a
CORS preflight), a usage plan per key, and the live alias behind each route."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.deploy import MODELS
from tests.support.template import functions, integration_function, of_type

pytestmark = pytest.mark.e2e
WEB_PATHS = ("/", "/docs", "/openapi.json", "/demo/{name}", "/demo/{name}/predict",
             "/static/{proxy+}")


def resource_paths(template: dict[str, Any]) -> dict[str, str]:
    """REST API resource logical id → its full path ("/" for the root)."""
    resources = of_type(template, "AWS::ApiGateway::Resource")

    def path(logical_id: str) -> str:
        properties = resources[logical_id]["Properties"]
        parent = properties["ParentId"]
        above = path(parent["Ref"]) if "Ref" in parent else ""
        return f"{above}/{properties['PathPart']}"

    return {k: path(k) for k in resources}


def test_no_route_answers_without_an_api_key(template):
    methods = of_type(template, "AWS::ApiGateway::Method")
    # The web pages are public (test_the_web_pages_need_no_key_and_the_api_still_does).
    model_methods = [m["Properties"] for m in methods.values()
                     if m["Properties"]["HttpMethod"] != "OPTIONS"
                     and integration_function(m) != "WebLambdaFunction"]
    assert len(model_methods) == 2 * len(MODELS)
    for method in model_methods:
        assert method["ApiKeyRequired"] is True
        assert method["Integration"]["Type"] == "AWS_PROXY"
    # CORS preflights need no key, and never reach a function.
    for method in methods.values():
        if method["Properties"]["HttpMethod"] == "OPTIONS":
            assert method["Properties"]["Integration"]["Type"] == "MOCK"
            assert not method["Properties"].get("ApiKeyRequired")
    keys = of_type(template, "AWS::ApiGateway::ApiKey")
    assert [k["Properties"]["Enabled"] for k in keys.values()] == [True]
    plan_keys = of_type(template, "AWS::ApiGateway::UsagePlanKey")
    assert [p["Properties"]["KeyId"] for p in plan_keys.values()] == [{"Ref": next(iter(keys))}]


@pytest.mark.parametrize(("fixture", "rate", "burst", "quota"), [
    ("template", 10, 20, 10000),
    ("stage_template", 50, 100, 250000),
])
def test_usage_plan_throttles_and_caps_each_key_per_stage(request, fixture, rate, burst, quota):
    template = request.getfixturevalue(fixture)
    (plan,) = of_type(template, "AWS::ApiGateway::UsagePlan").values()
    properties = plan["Properties"]
    assert properties["Throttle"] == {"RateLimit": rate, "BurstLimit": burst}
    assert properties["Quota"] == {"Limit": quota, "Period": "DAY"}
    assert properties["ApiStages"][0]["ApiId"] == {"Ref": "ApiGatewayRestApi"}
    (plan_key,) = of_type(template, "AWS::ApiGateway::UsagePlanKey").values()
    assert plan_key["Properties"]["UsagePlanId"] == {"Ref": next(iter(
        of_type(template, "AWS::ApiGateway::UsagePlan")))}


def test_the_web_pages_need_no_key_and_the_api_still_does(template):
    paths = resource_paths(template)
    web, api = {}, {}
    for method in of_type(template, "AWS::ApiGateway::Method").values():
        properties = method["Properties"]
        if properties["HttpMethod"] == "OPTIONS":
            continue
        resource = properties["ResourceId"]
        path = paths[resource["Ref"]] if "Ref" in resource else "/"
        (web if integration_function(method) == "WebLambdaFunction" else api)[path] = properties
    assert sorted(web) == sorted(WEB_PATHS)
    assert all(not p.get("ApiKeyRequired") for p in web.values())
    assert sorted(api) == sorted(p for m in MODELS for p in (f"/models/{m}",
                                                             f"/models/{m}/predict"))
    assert all(p["ApiKeyRequired"] is True for p in api.values())


def test_the_api_invokes_each_functions_live_alias(template):
    aliases = of_type(template, "AWS::Lambda::Alias")
    versions = of_type(template, "AWS::Lambda::Version")
    assert len(aliases) == len(versions) == len(functions(template))
    for alias in aliases.values():
        properties = alias["Properties"]
        assert properties["Name"] == "live"
        version_id = properties["FunctionVersion"]["Fn::GetAtt"][0]
        assert versions[version_id]["Properties"]["FunctionName"] == properties["FunctionName"]
    for method in of_type(template, "AWS::ApiGateway::Method").values():
        if method["Properties"]["HttpMethod"] == "ANY":
            parts = method["Properties"]["Integration"]["Uri"]["Fn::Join"][1]
            assert parts[-3:] == [":", "live", "/invocations"]
    for permission in of_type(template, "AWS::Lambda::Permission").values():
        properties = permission["Properties"]
        assert properties["FunctionName"]["Fn::Join"][1][1] == "live"
        assert properties["Principal"] == "apigateway.amazonaws.com"
        assert {"Ref": "ApiGatewayRestApi"} in properties["SourceArn"]["Fn::Join"][1]
