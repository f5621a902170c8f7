"""The secure defaults, read from the CloudFormation template `sls package` writes.

No AWS and no credentials: these are the checks for what the mocked deploy cannot show
(moto has no API keys, usage plans, gateway responses or aliases in CloudFormation, and
does not evaluate IAM policies). A second package sets every per-stage parameter through
a `params` block for its stage, the way a real stage would.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from cfnlint.api import lint

from featherserve.support.processes import NODE_BIN, run_cli, tool_env
from tests.support.deploy import (
    MODELS,
    build_model_layers,
    placeholder_runtime_zip,
    publish_tiny_models,
    snapshot_service,
)

pytestmark = pytest.mark.e2e
SLS = str(NODE_BIN / "sls")
DEFAULT_ORIGIN = "http://localhost:8000"
STAGE_PARAMS = {
    "corsOrigin": "https://demo.example.org",
    "apiRateLimit": 50,
    "apiBurstLimit": 100,
    "apiQuotaPerDay": 250000,
    "logRetentionInDays": 30,
    "modelSource": "s3://featherserve-models/prod",
    "modelVersion": "prod",
    "stageRateLimit": 120,
    "stageBurstLimit": 240,
    "predictRateLimit": 60,
    "predictBurstLimit": 120,
    "reservedConcurrency": 25,
    "alarmTopicArn": "arn:aws:sns:us-east-1:123456789012:featherserve-alarms",
    "alarmDurationMs": 2500,
}
# API Gateway's own errors and the contract's status for each.
GATEWAY_STATUS = {
    "INVALID_API_KEY": "403", "ACCESS_DENIED": "403", "MISSING_AUTHENTICATION_TOKEN": "404",
    "THROTTLED": "429", "QUOTA_EXCEEDED": "429", "REQUEST_TOO_LARGE": "413",
    "UNSUPPORTED_MEDIA_TYPE": "415", "INTEGRATION_TIMEOUT": "504",
    "DEFAULT_4XX": None, "DEFAULT_5XX": None,
}
# Lambda's 6 MB synchronous payload, after API Gateway's base64 (4/3) of binary bodies.
MAX_BODY_LIMIT = 4_500_000


@pytest.fixture(scope="module")
def service(tmp_path_factory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("package")
    store, layers = root / "store", root / "layers"
    publish_tiny_models(store)
    build_model_layers(store, layers)
    placeholder_runtime_zip(layers / "runtime.zip")
    service = snapshot_service(root / "service")
    config = yaml.safe_load((service / "serverless.yml").read_text())
    config["params"]["secure"] = STAGE_PARAMS  # a stage of its own, as a user would add
    config["params"]["nobulk"] = {"batch": False}  # a stage without bulk scoring
    (service / "serverless.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    service.joinpath(".layers").symlink_to(layers)
    yield service


def package(service: Path, stage: str, out: Path, **env: str) -> dict[str, Any]:
    layers = str(service / ".layers")
    result = run_cli([SLS, "package", "--stage", stage, "--package", str(out)], cwd=service,
                     env=tool_env({"FEATHERSERVE_LAYERS_DIR": layers, **env}))
    assert result.returncode == 0, result.stdout + result.stderr
    packaged: dict[str, Any] = json.loads(
        (out / "cloudformation-template-update-stack.json").read_text())
    return packaged


@pytest.fixture(scope="module")
def template(service, tmp_path_factory) -> dict[str, Any]:
    return package(service, "sec", tmp_path_factory.mktemp("sec"))


@pytest.fixture(scope="module")
def stage_template(service, tmp_path_factory) -> dict[str, Any]:
    return package(service, "secure", tmp_path_factory.mktemp("secure"))


@pytest.fixture(scope="module")
def no_bulk_template(service, tmp_path_factory) -> dict[str, Any]:
    return package(service, "nobulk", tmp_path_factory.mktemp("nobulk"))


def of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == kind}


def functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Function logical id -> properties."""
    return {k: r["Properties"] for k, r in of_type(template, "AWS::Lambda::Function").items()}


def is_batch(properties: dict[str, Any]) -> bool:
    """A model's bulk function (the bulk tests at the end check its extra permissions)."""
    return str(properties["Handler"]).endswith(".batch_handler")


def is_web(properties: dict[str, Any]) -> bool:
    """The web app's function (the web tests at the end check what differs for it)."""
    return properties["Handler"] == "handlers/web.handler"


def integration_function(method: dict[str, Any]) -> str:
    """The logical id of the function a method's Lambda proxy integration calls."""
    parts = method["Properties"]["Integration"]["Uri"]["Fn::Join"][1]
    (function,) = [p["Fn::GetAtt"][0] for p in parts if isinstance(p, dict) and "Fn::GetAtt" in p]
    return str(function)


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


@pytest.mark.parametrize(("fixture", "origin"), [
    ("template", DEFAULT_ORIGIN), ("stage_template", STAGE_PARAMS["corsOrigin"])])
def test_cors_allows_the_demo_origin_only(request, fixture, origin):
    template = request.getfixturevalue(fixture)
    assert "'*'" not in json.dumps(template)  # no wildcard origin (or header) anywhere
    preflights = [m["Properties"] for m in of_type(template, "AWS::ApiGateway::Method").values()
                  if m["Properties"]["HttpMethod"] == "OPTIONS"]
    assert len(preflights) == 2 * len(MODELS)
    for method in preflights:
        (response,) = method["Integration"]["IntegrationResponses"]
        headers = response["ResponseParameters"]
        assert headers["method.response.header.Access-Control-Allow-Origin"] == f"'{origin}'"
        assert "X-Api-Key" in headers["method.response.header.Access-Control-Allow-Headers"]
    for gateway_response in of_type(template, "AWS::ApiGateway::GatewayResponse").values():
        parameters = gateway_response["Properties"]["ResponseParameters"]
        assert parameters["gatewayresponse.header.Access-Control-Allow-Origin"] == f"'{origin}'"


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


def policy_statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    (policy,) = role["Properties"]["Policies"]
    return policy["PolicyDocument"]["Statement"]  # type: ignore[no-any-return]


def log_group_arn(name: str) -> dict[str, str]:
    return {"Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}"
                       f":log-group:/aws/lambda/{name}:*"}


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


@pytest.mark.parametrize(("fixture", "days"), [("template", 14), ("stage_template", 30)])
def test_logs_expire(request, fixture, days):
    template = request.getfixturevalue(fixture)
    groups = {k: g for k, g in of_type(template, "AWS::Logs::LogGroup").items()
              if k != "ApiGatewayAccessLogGroup"}  # the access log's own test
    assert len(groups) == len(functions(template))
    assert {g["Properties"]["RetentionInDays"] for g in groups.values()} == {days}


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


@pytest.mark.parametrize("fixture", ["template", "stage_template"])
def test_template_passes_cfn_lint(request, fixture):
    template = request.getfixturevalue(fixture)
    problems = [str(m) for m in lint(json.dumps(template)) if m.rule.id[0] in "EW"]
    assert problems == []


def test_the_mock_aws_plugin_refuses_a_real_endpoint(service, tmp_path):
    result = run_cli([SLS, "package", "--stage", "sec", "--package", str(tmp_path)], cwd=service,
                     env=tool_env({"FEATHERSERVE_MOCK_AWS": "1",
                                   "AWS_ENDPOINT_URL": "https://lambda.example.invalid",
                                   "FEATHERSERVE_LAYERS_DIR": str(service / ".layers")}))
    assert result.returncode != 0
    assert "FEATHERSERVE_MOCK_AWS=1" in result.stdout + result.stderr


# ---------------------------------------------------------------- bulk scoring (S3 → SQS)
BULK_BUCKET = "featherserve-sec-bulk-${AWS::AccountId}-${AWS::Region}"
BULK_ARN = f"arn:${{AWS::Partition}}:s3:::{BULK_BUCKET}"


def bulk_queue_ids(template: dict[str, Any]) -> dict[str, str]:
    """Model → the logical id of the queue its bucket prefix notifies."""
    bucket = template["Resources"]["BulkBucket"]["Properties"]
    rules = bucket["NotificationConfiguration"]["QueueConfigurations"]
    found = {}
    for rule in rules:
        assert rule["Event"] == "s3:ObjectCreated:*"
        (prefix,) = rule["Filter"]["S3Key"]["Rules"]
        assert prefix["Name"] == "prefix"
        model = prefix["Value"].removeprefix("in/").removesuffix("/")
        assert prefix["Value"] == f"in/{model}/"
        found[model] = rule["Queue"]["Fn::GetAtt"][0]
    return found


def test_the_bulk_bucket_is_encrypted_private_and_tls_only(template):
    bucket = template["Resources"]["BulkBucket"]
    properties = bucket["Properties"]
    assert properties["BucketName"] == {"Fn::Sub": BULK_BUCKET}
    (rule,) = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")
    assert properties["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True}
    assert properties["OwnershipControls"] == {"Rules": [{"ObjectOwnership":
                                                           "BucketOwnerEnforced"}]}
    (lifecycle,) = properties["LifecycleConfiguration"]["Rules"]
    assert lifecycle["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}
    # Users' files: removing the stack leaves the bucket.
    assert bucket["DeletionPolicy"] == bucket["UpdateReplacePolicy"] == "Retain"
    (policy,) = [p["Properties"] for p in of_type(template, "AWS::S3::BucketPolicy").values()
                 if p["Properties"]["Bucket"] == {"Ref": "BulkBucket"}]
    (deny,) = policy["PolicyDocument"]["Statement"]
    assert (deny["Effect"], deny["Principal"], deny["Action"]) == ("Deny", "*", "s3:*")
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert deny["Resource"] == [
        {"Fn::GetAtt": ["BulkBucket", "Arn"]},
        {"Fn::Join": ["", [{"Fn::GetAtt": ["BulkBucket", "Arn"]}, "/*"]]}]
    assert template["Outputs"]["BulkBucketName"]["Value"] == {"Ref": "BulkBucket"}


def test_only_each_models_input_prefix_notifies_its_own_queue(template):
    queues = bulk_queue_ids(template)
    assert sorted(queues) == sorted(MODELS)
    assert len(set(queues.values())) == len(MODELS)
    # Nothing watches out/: the function's output can never trigger it again.
    assert "out/" not in json.dumps(template["Resources"]["BulkBucket"])
    # S3 may send to a queue only from this bucket of this account; the bucket waits for
    # the policies (S3 checks them when it saves the notifications).
    policies = {p["Properties"]["Queues"][0]["Ref"]: p["Properties"]["PolicyDocument"]
                for p in of_type(template, "AWS::SQS::QueuePolicy").values()}
    assert set(queues.values()) <= set(policies)
    for queue_id in queues.values():
        document = policies[queue_id]
        # TLS only first (test_every_queue_refuses_requests_without_tls), then S3's right.
        _, statement = document["Statement"]
        assert statement["Effect"] == "Allow"
        assert statement["Principal"] == {"Service": "s3.amazonaws.com"}
        assert statement["Action"] == "sqs:SendMessage"
        assert statement["Resource"] == {"Fn::GetAtt": [queue_id, "Arn"]}
        assert statement["Condition"] == {
            "ArnEquals": {"aws:SourceArn": {"Fn::Sub": BULK_ARN}},
            "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
        assert f"{queue_id}Policy" in template["Resources"]["BulkBucket"]["DependsOn"]


def test_each_queue_has_a_dead_letter_queue_and_outlasts_its_function(template):
    fns = {p["Handler"]: (k, p) for k, p in functions(template).items()}
    mappings = [m["Properties"] for m in
                of_type(template, "AWS::Lambda::EventSourceMapping").values()]
    assert len(mappings) == len(MODELS)
    for model, queue_id in bulk_queue_ids(template).items():
        queue = template["Resources"][queue_id]["Properties"]
        assert queue["QueueName"] == f"featherserve-sec-{model}-bulk"
        assert queue["SqsManagedSseEnabled"] is True
        redrive = queue["RedrivePolicy"]
        assert 2 <= redrive["maxReceiveCount"] <= 5
        dead_letter_id = redrive["deadLetterTargetArn"]["Fn::GetAtt"][0]
        dead_letter = template["Resources"][dead_letter_id]["Properties"]
        assert dead_letter["QueueName"] == f"featherserve-sec-{model}-bulk-dlq"
        assert dead_letter["MessageRetentionPeriod"] >= queue.get("MessageRetentionPeriod",
                                                                  345600)
        function_id, function = fns[f"handlers/{model}.batch_handler"]
        assert queue["VisibilityTimeout"] > function["Timeout"]
        (mapping,) = [m for m in mappings if m["EventSourceArn"] == {
            "Fn::GetAtt": [queue_id, "Arn"]}]
        assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert 1 <= mapping["BatchSize"] <= 10
        assert mapping["ScalingConfig"]["MaximumConcurrency"] >= 2
        # Lambda polls as the function's live alias (rolled back with it).
        target = mapping["FunctionName"]["Fn::Join"][1]
        assert target == [{"Fn::GetAtt": [function_id, "Arn"]}, "live"]


def dead_letter_ids(template: dict[str, Any]) -> dict[str, str]:
    """Model → the logical id of its queue's dead-letter queue."""
    return {model: template["Resources"][queue_id]["Properties"]["RedrivePolicy"][
        "deadLetterTargetArn"]["Fn::GetAtt"][0]
        for model, queue_id in bulk_queue_ids(template).items()}


def test_every_queue_refuses_requests_without_tls(template):
    queues = of_type(template, "AWS::SQS::Queue")
    assert len(queues) == 2 * len(MODELS)  # each model's queue and its dead-letter queue
    covered = set()
    for policy in of_type(template, "AWS::SQS::QueuePolicy").values():
        properties = policy["Properties"]
        ids = [q["Ref"] for q in properties["Queues"]]
        covered.update(ids)
        (deny,) = [s for s in properties["PolicyDocument"]["Statement"]
                   if s["Effect"] == "Deny"]
        assert (deny["Principal"], deny["Action"]) == ("*", "sqs:*")
        assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        assert deny["Resource"] == [{"Fn::GetAtt": [i, "Arn"]} for i in ids]
    assert covered == set(queues)


@pytest.mark.parametrize("fixture", ["template", "stage_template"])
def test_a_message_in_any_dead_letter_queue_raises_an_alarm(request, fixture):
    template = request.getfixturevalue(fixture)
    found = alarms(template)
    dead_letters = dead_letter_ids(template)
    assert len(set(dead_letters.values())) == len(MODELS)
    depth = {k: a for k, a in found.items() if a.get("Namespace") == "AWS/SQS"}
    assert len(depth) == len(MODELS)
    for dead_letter_id in dead_letters.values():
        (alarm,) = [a for a in depth.values() if a["Dimensions"] == [
            {"Name": "QueueName", "Value": {"Fn::GetAtt": [dead_letter_id, "QueueName"]}}]]
        assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
        assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (0, "GreaterThanThreshold")
        assert alarm["Statistic"] == "Maximum"
        if fixture == "stage_template":  # the same topic as every other alarm
            assert alarm["AlarmActions"] == alarm["OKActions"] == [STAGE_PARAMS["alarmTopicArn"]]
        else:
            assert "AlarmActions" not in alarm


def test_without_bulk_scoring_there_is_no_queue_alarm(no_bulk_template):
    assert not [a for a in alarms(no_bulk_template).values() if a.get("Namespace") == "AWS/SQS"]
    assert not of_type(no_bulk_template, "AWS::SQS::QueuePolicy")


def test_each_batch_function_reads_its_input_writes_its_output_and_polls_its_queue(template):
    roles = of_type(template, "AWS::IAM::Role")
    queues = bulk_queue_ids(template)
    batch = {p["Handler"].split("/")[1].split(".")[0]: p
             for p in functions(template).values() if is_batch(p)}
    assert sorted(batch) == sorted(MODELS)
    for model, properties in batch.items():
        variables = properties["Environment"]["Variables"]
        assert int(variables["FEATHERSERVE_BATCH_MAX_OBJECT_BYTES"]) > 0
        # Its stage's bucket only (bulk.js sets it in the compiled template: invoke local
        # cannot resolve a Ref); a message naming another bucket is refused.
        assert variables["FEATHERSERVE_BATCH_BUCKET"] == {"Ref": "BulkBucket"}
        _, read, write, poll = policy_statements(roles[properties["Role"]["Fn::GetAtt"][0]])
        assert read == {"Effect": "Allow", "Action": ["s3:GetObject"],
                        "Resource": [{"Fn::Sub": f"{BULK_ARN}/in/{model}/*"}]}
        assert write == {"Effect": "Allow",
                         "Action": ["s3:PutObject", "s3:AbortMultipartUpload",
                                    "s3:DeleteObject"],
                         "Resource": [{"Fn::Sub": f"{BULK_ARN}/out/{model}/*"}]}
        assert poll == {"Effect": "Allow",
                        "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage",
                                   "sqs:GetQueueAttributes"],
                        "Resource": [{"Fn::GetAtt": [queues[model], "Arn"]}]}


def test_a_stage_can_leave_bulk_scoring_out(no_bulk_template):
    resources = no_bulk_template["Resources"]
    assert not [k for k in resources if k.startswith("Bulk")]
    assert not of_type(no_bulk_template, "AWS::Lambda::EventSourceMapping")
    assert not [p for p in functions(no_bulk_template).values() if is_batch(p)]
    assert len(functions(no_bulk_template)) >= len(MODELS)
    assert "BulkBucketName" not in no_bulk_template.get("Outputs", {})


# ------------------------------------------------------------- production guards (stage)
# serverless_plugins/production.js: what a production stage needs beyond the functions.
ACCESS_LOG = "ApiGatewayAccessLogGroup"
DEFAULT_THROTTLES = {"stageRateLimit": 50, "stageBurstLimit": 100, "predictRateLimit": 25,
                     "predictBurstLimit": 50}


def stage_description(template: dict[str, Any]) -> dict[str, Any]:
    (deployment,) = of_type(template, "AWS::ApiGateway::Deployment").values()
    return deployment["Properties"]["StageDescription"]  # type: ignore[no-any-return]


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


def alarms(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: r["Properties"] for k, r in of_type(template, "AWS::CloudWatch::Alarm").items()}


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


def test_the_deployment_bucket_is_private_versioned_and_pruned(template):
    bucket = template["Resources"]["ServerlessDeploymentBucket"]["Properties"]
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True}
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    (rule,) = bucket["LifecycleConfiguration"]["Rules"]
    assert rule["Status"] == "Enabled" and rule["NoncurrentVersionExpiration"]["NoncurrentDays"]
    # The framework's own policy: TLS only.
    policy = template["Resources"]["ServerlessDeploymentBucketPolicy"]["Properties"]
    (deny,) = policy["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {
        "Bool": {"aws:SecureTransport": False}}


def test_a_stage_with_the_local_cors_origin_is_never_deployed(service):
    # Refused before any AWS call: no credentials, no endpoint, nothing to reach.
    result = run_cli([SLS, "deploy", "--stage", "prod", "--region", "us-east-1"], cwd=service,
                     env=tool_env({"FEATHERSERVE_LAYERS_DIR": str(service / ".layers")}))
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert 'refusing to deploy stage "prod" with corsOrigin http://localhost:8000' in output
    assert "--param=\"corsOrigin=https://your.site\"" in output


@pytest.mark.parametrize(("command", "stage", "origin", "problem"), [
    (["deploy"], "prod", "*", "a wildcard"),
    (["deploy"], "staging", "http://demo.example.org", "not https://"),
    (["deploy"], "prod", "https://*.example.org", "a wildcard"),
    (["deploy"], "prod", "https://demo.example.org/app", "not an origin"),
    # It pushes the function's environment, FEATHERSERVE_CORS_ORIGIN included.
    (["deploy", "function", "-f", "digits"], "prod", "*", "a wildcard"),
])
def test_a_stage_with_a_wildcard_or_plain_http_origin_is_never_deployed(service, command, stage,
                                                                         origin, problem):
    result = run_cli([SLS, *command, "--stage", stage, "--region", "us-east-1",
                      f"--param=corsOrigin={origin}"], cwd=service,
                     env=tool_env({"FEATHERSERVE_LAYERS_DIR": str(service / ".layers")}))
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert f'refusing to deploy stage "{stage}" with corsOrigin {origin}: {problem}' in output


@pytest.mark.parametrize(("stage", "origin", "endpoint", "refused"), [
    ("prod", "http://localhost:8000", "", True),
    ("staging", "http://127.0.0.1:3000", "", True),
    ("prod", "https://demo.example.org", "", False),
    ("prod", "https://demo.example.org:8443", "", False),
    ("prod", "*", "", True),
    ("staging", "http://demo.example.org", "", True),
    ("local", "*", "", True),
    ("prod", "https://demo.example.org/", "", True),
    ("prod", "null", "", True),
    ("prod", "", "", True),
    ("dev", "http://localhost:8000", "", False),
    ("dev", "*", "", False),
    ("mock", "http://localhost:8000", "http://127.0.0.1:5000", False),  # a local mock of AWS
    ("prod", "http://localhost:8000", "https://lambda.us-east-1.amazonaws.com", True),
])
def test_which_deploys_the_cors_guard_refuses(stage, origin, endpoint, refused):
    script = ("const {corsRefusal} = require('./serverless_plugins/production');"
              "const [stage, origin, endpoint] = process.argv.slice(1);"
              "process.stdout.write(JSON.stringify(corsRefusal(stage, origin,"
              " {AWS_ENDPOINT_URL: endpoint})));")
    result = run_cli(["node", "-e", script, stage, origin, endpoint], env=tool_env())
    assert result.returncode == 0, result.stderr
    assert (json.loads(result.stdout) is not None) is refused


# ------------------------------------------------------------------ the web app
WEB_PATHS = ("/", "/docs", "/openapi.json", "/demo/{name}", "/demo/{name}/predict",
             "/static/{proxy+}")
DEMO_PATH = "/~1demo~1{name}~1predict"


def resource_paths(template: dict[str, Any]) -> dict[str, str]:
    """REST API resource logical id → its full path ("/" for the root)."""
    resources = of_type(template, "AWS::ApiGateway::Resource")

    def path(logical_id: str) -> str:
        properties = resources[logical_id]["Properties"]
        parent = properties["ParentId"]
        above = path(parent["Ref"]) if "Ref" in parent else ""
        return f"{above}/{properties['PathPart']}"

    return {k: path(k) for k in resources}


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


def test_the_static_files_bucket_is_private_and_only_cloudfront_reads_it(template):
    resources = template["Resources"]
    bucket = resources["WebStaticBucket"]["Properties"]
    (rule,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True}
    assert bucket["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert "WebsiteConfiguration" not in bucket and "AccessControl" not in bucket
    policy = resources["WebStaticBucketPolicy"]["Properties"]
    assert policy["Bucket"] == {"Ref": "WebStaticBucket"}
    deny, allow = policy["PolicyDocument"]["Statement"]
    assert (deny["Effect"], deny["Principal"], deny["Action"]) == ("Deny", "*", "s3:*")
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert allow["Effect"] == "Allow" and allow["Action"] == "s3:GetObject"
    assert allow["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    source = allow["Condition"]["StringEquals"]["AWS:SourceArn"]["Fn::Join"][1]
    assert {"Ref": "WebStaticDistribution"} in source
    # Origin access control: CloudFront signs every request to the bucket.
    control = resources["WebStaticOriginAccessControl"]["Properties"]["OriginAccessControlConfig"]
    assert (control["OriginAccessControlOriginType"], control["SigningBehavior"],
            control["SigningProtocol"]) == ("s3", "always", "sigv4")
    config = resources["WebStaticDistribution"]["Properties"]["DistributionConfig"]
    (origin,) = config["Origins"]
    assert origin["OriginAccessControlId"] == {"Fn::GetAtt": ["WebStaticOriginAccessControl",
                                                              "Id"]}
    assert origin["DomainName"] == {"Fn::GetAtt": ["WebStaticBucket", "RegionalDomainName"]}
    assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}  # OAC, not the old OAI
    behaviour = config["DefaultCacheBehavior"]
    assert behaviour["ViewerProtocolPolicy"] == "https-only"
    assert behaviour["AllowedMethods"] == ["GET", "HEAD"]
    # Every answer of the CDN: CORS for the pages' module scripts and wasm, and the
    # security headers.
    assert behaviour["ResponseHeadersPolicyId"] == {"Ref": "WebStaticResponseHeadersPolicy"}
    headers = resources["WebStaticResponseHeadersPolicy"]
    assert headers["Type"] == "AWS::CloudFront::ResponseHeadersPolicy"
    policy_config = headers["Properties"]["ResponseHeadersPolicyConfig"]
    security = policy_config["SecurityHeadersConfig"]
    hsts = security["StrictTransportSecurity"]
    assert hsts["AccessControlMaxAgeSec"] >= 31536000 and hsts["IncludeSubdomains"] is True
    assert security["ContentTypeOptions"] == {"Override": True}
    assert security["FrameOptions"] == {"FrameOption": "DENY", "Override": True}
    assert security["ReferrerPolicy"]["ReferrerPolicy"] in (
        "no-referrer", "strict-origin-when-cross-origin", "same-origin")
    assert all(h["Override"] is True for h in security.values())
    cors = policy_config["CorsConfig"]
    assert cors["AccessControlAllowCredentials"] is False
    assert cors["AccessControlAllowMethods"] == {"Items": ["GET", "HEAD"]}
    # The pages load their files from that CDN, and the CSP allows it (webapp/test_web_app.py).
    web = functions(template)["WebLambdaFunction"]["Environment"]["Variables"]
    assert web["FEATHERSERVE_STATIC_URL"] == {"Fn::Join": ["", [
        "https://", {"Fn::GetAtt": ["WebStaticDistribution", "DomainName"]}]]}
    assert {"WebStaticBucketName", "WebStaticUrl"} <= set(template["Outputs"])
