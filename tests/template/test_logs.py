"""Logs: every function's log group and the API's access log expire; the access log is
one JSON object per request, naming the key's id and never the key."""

from __future__ import annotations

import json

import pytest

from tests.support.template import functions, of_type, stage_description

pytestmark = pytest.mark.e2e
# The API's access log group (serverless_plugins/production.js adds it).
ACCESS_LOG = "ApiGatewayAccessLogGroup"


@pytest.mark.parametrize(("fixture", "days"), [("template", 14), ("stage_template", 30)])
def test_logs_expire(request, fixture, days):
    template = request.getfixturevalue(fixture)
    groups = {k: g for k, g in of_type(template, "AWS::Logs::LogGroup").items()
              if k != "ApiGatewayAccessLogGroup"}  # the access log's own test
    assert len(groups) == len(functions(template))
    assert {g["Properties"]["RetentionInDays"] for g in groups.values()} == {days}


@pytest.mark.parametrize(("fixture", "days"), [("template", 14), ("stage_template", 30)])
def test_the_api_writes_an_access_log_that_expires(request, fixture, days):
    template = request.getfixturevalue(fixture)
    stage = "sec" if fixture == "template" else "secure"
    group = template["Resources"][ACCESS_LOG]["Properties"]
    assert group["LogGroupName"] == f"/aws/api-gateway/featherserve-{stage}-access"
    assert group["RetentionInDays"] == days
    setting = stage_description(template)["AccessLogSetting"]
    assert setting["DestinationArn"] == {"Fn::GetAtt": [ACCESS_LOG, "Arn"]}
    fields = json.loads(setting["Format"])  # one JSON object per request
    assert fields["requestId"] == "$context.requestId"
    assert {"status", "httpMethod", "resourcePath", "apiKeyId", "ip"} <= set(fields)
    assert "$context.identity.apiKey" not in fields.values()  # the id, never the key
    # API Gateway writes logs through the region's CloudWatch role, set before the stage.
    account = template["Resources"]["ApiGatewayAccountSettings"]
    assert account["Type"] == "AWS::ApiGateway::Account"
    role_id = account["Properties"]["CloudWatchRoleArn"]["Fn::GetAtt"][0]
    role = template["Resources"][role_id]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": ["apigateway.amazonaws.com"]}
    assert role["ManagedPolicyArns"] == [{"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/"
                                                     "service-role/AmazonAPIGatewayPushToCloudWatchLogs"}]
    assert "Policies" not in role
    (deployment,) = of_type(template, "AWS::ApiGateway::Deployment").values()
    assert "ApiGatewayAccountSettings" in deployment["DependsOn"]
