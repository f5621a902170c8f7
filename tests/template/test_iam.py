"""IAM: a role per function, each allowed its own logs and, from S3, its own model only;
the web role may invoke only the models' live aliases."""

from __future__ import annotations

import json

import pytest

from tests.support.deploy import MODELS
from tests.support.template import (
    STAGE_PARAMS,
    functions,
    is_batch,
    is_web,
    log_group_arn,
    of_type,
    policy_statements,
)

pytestmark = pytest.mark.e2e


def test_each_function_may_write_its_own_logs_and_nothing_else(template):
    roles = {k: r for k, r in of_type(template, "AWS::IAM::Role").items()
             if k != "ApiGatewayCloudWatchRole"}  # API Gateway's: the access log's test
    fns = functions(template)
    assert len(roles) == len(fns)  # no shared role
    assert len([p for p in fns.values() if not is_batch(p) and not is_web(p)]) == len(MODELS)
    for properties in fns.values():
        (role_id, attribute) = properties["Role"]["Fn::GetAtt"]
        assert attribute == "Arn"
        role = roles[role_id]
        trust = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        assert [s["Principal"] for s in trust] == [{"Service": ["lambda.amazonaws.com"]}]
        logs = {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": [log_group_arn(properties["FunctionName"])]}
        statements = policy_statements(role)
        assert statements[0] == logs
        if not is_batch(properties) and not is_web(properties):
            assert statements == [logs]
        assert "ManagedPolicyArns" not in role["Properties"]
    assert '"*"' not in json.dumps(roles)


def test_with_an_s3_model_source_each_function_reads_only_its_own_model(stage_template):
    roles = of_type(stage_template, "AWS::IAM::Role")
    bucket = "arn:${AWS::Partition}:s3:::featherserve-models"
    for properties in functions(stage_template).values():
        if is_web(properties):  # manifests only: test_the_web_role_may_invoke_only_live_aliases
            continue
        model = properties["FunctionName"].removeprefix("featherserve-secure-")
        model = model.removesuffix("-batch")  # a batch function reads its model's keys too
        variables = properties["Environment"]["Variables"]
        assert variables["FEATHERSERVE_MODEL_SOURCE"] == STAGE_PARAMS["modelSource"]
        assert variables["FEATHERSERVE_MODEL_VERSION"] == "prod"
        statements = policy_statements(roles[properties["Role"]["Fn::GetAtt"][0]])
        logs, read, listing = statements[:3]
        assert len(statements) == (6 if is_batch(properties) else 3)
        assert logs["Resource"] == [log_group_arn(properties["FunctionName"])]
        assert read["Action"] == ["s3:GetObject"]
        assert read["Resource"] == [{"Fn::Sub": f"{bucket}/prod/models/{model}/*"},
                                    {"Fn::Sub": f"{bucket}/prod/blobs/sha256/*"}]
        assert listing["Action"] == ["s3:ListBucket"]
        assert listing["Resource"] == [{"Fn::Sub": bucket}]
        assert listing["Condition"] == {"StringLike": {"s3:prefix": [f"prod/models/{model}/*"]}}


def test_without_an_s3_model_source_functions_serve_from_layers(template):
    for properties in functions(template).values():
        variables = properties["Environment"]["Variables"]
        assert variables["FEATHERSERVE_MODEL_SOURCE"] == ""  # empty: /opt/models
        if is_web(properties):  # its own layers: the model functions' cold start is theirs
            assert properties["Layers"] == [{"Ref": "WebLambdaLayer"},
                                            {"Ref": "WebCatalogLambdaLayer"}]
            continue
        assert {"Ref": "RuntimeLambdaLayer"} in properties["Layers"]


@pytest.mark.parametrize("fixture", ["template", "stage_template"])
def test_the_web_role_may_invoke_only_the_models_live_aliases(request, fixture):
    template = request.getfixturevalue(fixture)
    stage = "sec" if fixture == "template" else "secure"
    web = functions(template)["WebLambdaFunction"]
    variables = web["Environment"]["Variables"]
    assert variables["FEATHERSERVE_DEMO_FUNCTION_PREFIX"] == f"featherserve-{stage}-"
    assert variables["FEATHERSERVE_DEMO_QUALIFIER"] == "live"
    role = of_type(template, "AWS::IAM::Role")[web["Role"]["Fn::GetAtt"][0]]
    logs, invoke, *rest = policy_statements(role)
    assert logs["Resource"] == [log_group_arn(web["FunctionName"])]
    assert invoke == {"Effect": "Allow", "Action": ["lambda:InvokeFunction"], "Resource": [
        {"Fn::Sub": "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:"
                    f"featherserve-{stage}-{m}:live"} for m in MODELS]}
    if fixture == "template":
        assert rest == []  # the manifests come from its catalog layer
        return
    # With an S3 store: the manifests and alias tables, never a model's bytes.
    read, listing = rest
    bucket = "arn:${AWS::Partition}:s3:::featherserve-models"
    assert read["Action"] == ["s3:GetObject"]
    assert read["Resource"] == [{"Fn::Sub": f"{bucket}/prod/models/*/*/manifest.json"},
                                {"Fn::Sub": f"{bucket}/prod/models/*/aliases.json"}]
    assert listing["Action"] == ["s3:ListBucket"]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["prod/models/*"]}}
