"""Throttles and reserved concurrency: the stage, each predict route, the public demo
(lower than any model route), every function."""

from __future__ import annotations

import pytest

from tests.support.deploy import MODELS
from tests.support.template import STAGE_PARAMS, functions, stage_description

pytestmark = pytest.mark.e2e
DEFAULT_THROTTLES = {"stageRateLimit": 50, "stageBurstLimit": 100, "predictRateLimit": 25,
                     "predictBurstLimit": 50}
DEMO_PATH = "/~1demo~1{name}~1predict"


@pytest.mark.parametrize(("fixture", "limits"), [
    ("template", DEFAULT_THROTTLES),
    ("stage_template", {k: STAGE_PARAMS[k] for k in DEFAULT_THROTTLES}),
])
def test_the_stage_and_each_predict_method_are_throttled(request, fixture, limits):
    template = request.getfixturevalue(fixture)
    description = stage_description(template)
    # The whole stage, every key together: API Gateway's default method setting.
    assert description["ThrottlingRateLimit"] == limits["stageRateLimit"]
    assert description["ThrottlingBurstLimit"] == limits["stageBurstLimit"]
    predict = {s["ResourcePath"]: s for s in description["MethodSettings"]
               if s["ResourcePath"].startswith("/~1models~1")}
    assert sorted(predict) == sorted(f"/~1models~1{m}~1predict" for m in MODELS)
    for setting in predict.values():
        assert setting["HttpMethod"] == "*"
        assert setting["ThrottlingRateLimit"] == limits["predictRateLimit"]
        assert setting["ThrottlingBurstLimit"] == limits["predictBurstLimit"]
        assert setting["ThrottlingRateLimit"] <= description["ThrottlingRateLimit"]


@pytest.mark.parametrize(("fixture", "reserved"), [
    ("template", 10), ("stage_template", STAGE_PARAMS["reservedConcurrency"])])
def test_every_function_has_reserved_concurrency(request, fixture, reserved):
    template = request.getfixturevalue(fixture)
    fns = functions(template)
    assert fns
    for properties in fns.values():
        assert isinstance(properties["ReservedConcurrentExecutions"], int)
        assert properties["ReservedConcurrentExecutions"] >= 1
    models = [p for p in fns.values() if p["Handler"] in
              {f"handlers/{m}.handler" for m in MODELS}]
    assert len(models) == len(MODELS)
    assert {p["ReservedConcurrentExecutions"] for p in models} == {reserved}


@pytest.mark.parametrize(("fixture", "api_rate"), [
    ("template", 10), ("stage_template", STAGE_PARAMS["apiRateLimit"])])
def test_the_public_demo_has_its_own_lower_throttle_and_concurrency(request, fixture, api_rate):
    template = request.getfixturevalue(fixture)
    description = stage_description(template)
    (demo,) = [s for s in description["MethodSettings"] if s["ResourcePath"] == DEMO_PATH]
    assert (demo["HttpMethod"], demo["ThrottlingRateLimit"], demo["ThrottlingBurstLimit"]) \
        == ("*", 2, 5)
    predict = [s for s in description["MethodSettings"]
               if s["ResourcePath"].startswith("/~1models~1")]
    assert predict and all(demo["ThrottlingRateLimit"] < s["ThrottlingRateLimit"]
                           and demo["ThrottlingBurstLimit"] < s["ThrottlingBurstLimit"]
                           for s in predict)
    assert demo["ThrottlingRateLimit"] < api_rate
    fns = functions(template)
    web = fns["WebLambdaFunction"]
    assert web["ReservedConcurrentExecutions"] == 5
    assert all(web["ReservedConcurrentExecutions"] < p["ReservedConcurrentExecutions"]
               for k, p in fns.items() if k != "WebLambdaFunction")
