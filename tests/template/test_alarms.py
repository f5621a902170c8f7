"""Alarms on API Gateway 5xx and on each function's errors, throttles and p99 duration,
notifying the stage's topic when it has one."""

from __future__ import annotations

import pytest

from tests.support.template import STAGE_PARAMS, alarms, functions, of_type

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("fixture", ["template", "stage_template"])
def test_alarms_watch_5xx_errors_throttles_and_duration(request, fixture):
    template = request.getfixturevalue(fixture)
    stage = "sec" if fixture == "template" else "secure"
    found = alarms(template)
    api = found["ApiGateway5xxAlarm"]
    assert (api["Namespace"], api["MetricName"]) == ("AWS/ApiGateway", "5XXError")
    assert api["Dimensions"] == [{"Name": "ApiName", "Value": f"{stage}-featherserve"},
                                 {"Name": "Stage", "Value": stage}]
    (rest_api,) = of_type(template, "AWS::ApiGateway::RestApi").values()
    assert rest_api["Properties"]["Name"] == f"{stage}-featherserve"
    duration_ms = STAGE_PARAMS["alarmDurationMs"] if fixture == "stage_template" else 3000
    for function_id in functions(template):
        base = function_id.removesuffix("LambdaFunction")
        for kind, metric in (("Errors", "Errors"), ("Throttles", "Throttles"),
                             ("Duration", "Duration")):
            alarm = found[f"{base}{kind}Alarm"]
            assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/Lambda", metric)
            assert alarm["Dimensions"] == [{"Name": "FunctionName",
                                            "Value": {"Ref": function_id}}]
            assert alarm["TreatMissingData"] == "notBreaching"
        assert found[f"{base}DurationAlarm"]["Threshold"] == duration_ms
        assert found[f"{base}DurationAlarm"]["ExtendedStatistic"] == "p99"
    topic = STAGE_PARAMS["alarmTopicArn"]
    for alarm in found.values():
        if fixture == "stage_template":
            assert alarm["AlarmActions"] == alarm["OKActions"] == [topic]
        else:  # no topic: the alarms exist and notify no one
            assert "AlarmActions" not in alarm and "OKActions" not in alarm


def test_a_stage_that_pools_no_model_has_no_per_model_alarms(template):
    # The pooled models' alarms (Metrics Insights queries grouped by model, a constant few
    # per stage) and the pool's own service name come with a pool function only:
    # tests/template/test_pool_alarms.py.
    assert not [k for k, alarm in alarms(template).items() if "Metrics" in alarm]
    assert {p["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"]
            for p in functions(template).values()} == {"featherserve"}
