"""`sls deploy` for real, against a mocked AWS: moto_server on 127.0.0.1.

The real CLI deploys a snapshot of the service (tests/support/deploy.py) with layers of
tiny stand-in models, then boto3 checks what a user would check. What moto cannot do is
adapted by tests/support/mock_aws.js (loaded only by the suite's copy of the service, and
active only with FEATHERSERVE_MOCK_AWS=1 and a loopback endpoint) and checked in the
packaged template by the other tests of tests/template/.

The tests share one deployment and run in file order: deploy, roll a new model out and
back, remove.
"""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import json
import shutil
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from featherserve.fidelity import verify_service
from featherserve.fidelity.deployed import deployed_service, layers_in_state
from featherserve.fidelity.report import format_reports
from featherserve.fidelity.runner_setup import runner_setup
from featherserve.fidelity.triggers import NamedEvent
from featherserve.service_config import load_service_config
from featherserve.support.events import EVENTS, load_event, with_body, with_route
from featherserve.support.processes import ROOT, VENV, run_cli, tool_env
from tests.support.deploy import (
    MOCK_REGION,
    MODELS,
    build_model_layers,
    built_layers,
    file_sha256,
    lambda_sha256,
    mock_aws_env,
    mock_client,
    moto_server,
    snapshot_service,
    tiny_models_with_layers,
)
from tests.support.stack import SLS
from tests.support.tiny_models import publish_tiny_tabular

pytestmark = pytest.mark.e2e
STAGE = "mock"
STACK = f"featherserve-{STAGE}"
CONFIG = load_service_config(ROOT / "serverless.yml")


@dataclass
class MockDeployment:
    endpoint: str
    service: Path
    store: Path
    layers: Path
    env: dict[str, str]
    moto_log: Path
    uploads: list[str] = field(default_factory=list)  # artifact folders, one per deploy

    def client(self, name: str) -> Any:
        return mock_client(name, self.endpoint)

    def sls(self, *args: str, ok: bool = True) -> str:
        result = run_cli([SLS, *args, "--stage", STAGE, "--region", MOCK_REGION],
                         env=self.env, cwd=self.service, timeout=240)
        output = result.stdout + result.stderr
        if ok:
            assert result.returncode == 0, output
            self.assert_moto_kept_up()
        else:
            assert result.returncode != 0, output
        return output

    def assert_moto_kept_up(self) -> None:
        # A request moto fails on can be retried by the SDK into a "no updates" success;
        # any traceback means some call half-applied, whatever the CLI said.
        log = self.moto_log.read_text(errors="replace")
        assert "Traceback" not in log, log[log.find("Traceback") - 2000:][:6000]

    def deploy(self) -> None:
        self.sls("deploy")
        self.uploads.append(self.latest_upload())

    def outputs(self) -> dict[str, str]:
        stack = self.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]
        return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}

    def bucket(self) -> str:
        return self.outputs()["ServerlessDeploymentBucketName"]

    def bucket_keys(self) -> list[str]:
        pages = self.client("s3").get_paginator("list_objects_v2").paginate(Bucket=self.bucket())
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))

    def latest_upload(self) -> str:
        return max(key.rsplit("/", 1)[0] for key in self.bucket_keys())

    def uploaded(self, folder: str, name: str) -> bytes:
        body = self.client("s3").get_object(Bucket=self.bucket(), Key=f"{folder}/{name}")["Body"]
        return body.read()  # type: ignore[no-any-return]

    def uploaded_names(self, folder: str) -> set[str]:
        return {key.rsplit("/", 1)[1] for key in self.bucket_keys() if key.startswith(f"{folder}/")}

    def uploaded_template(self, folder: str) -> dict[str, Any]:
        template: dict[str, Any] = json.loads(
            self.uploaded(folder, "compiled-cloudformation-template.json"))
        return template


def function_name(model: str) -> str:
    return f"{STACK}-{model}"


def layer_name(layer: str) -> str:
    return f"{STACK}-{layer}"


@pytest.fixture(scope="module")
def deployment(tmp_path_factory) -> Iterator[MockDeployment]:
    root = tmp_path_factory.mktemp("mock-deploy")
    store, layers = tiny_models_with_layers(root)
    # A snapshot of `make layers`' runtime layer: others may rebuild it.
    shutil.copy2(built_layers("runtime.zip") / "runtime.zip", layers / "runtime.zip")
    service = snapshot_service(root / "service")
    with moto_server(root) as server:
        deployment = MockDeployment(endpoint=server.endpoint, service=service, store=store,
                                    layers=layers, moto_log=server.log,
                                    env=mock_aws_env(server.endpoint, layers, root / "home"))
        deployment.deploy()
        yield deployment


def test_deploy_creates_the_stack_functions_layers_api_and_artifacts(deployment):
    cloudformation = deployment.client("cloudformation")
    stack = cloudformation.describe_stacks(StackName=STACK)["Stacks"][0]
    assert stack["StackStatus"] in ("CREATE_COMPLETE", "UPDATE_COMPLETE")

    lam, iam, logs = (deployment.client(n) for n in ("lambda", "iam", "logs"))
    for model in MODELS:
        declared = CONFIG["functions"][model]
        config = lam.get_function_configuration(FunctionName=function_name(model))
        assert config["Runtime"] == CONFIG["provider"]["runtime"] == "python3.12"
        assert config["Architectures"] == [CONFIG["provider"]["architecture"]] == ["x86_64"]
        assert config["Handler"] == f"handlers/{model}.handler"
        assert config["MemorySize"] == declared["memorySize"]
        assert config["Timeout"] == CONFIG["provider"]["timeout"]
        variables = config["Environment"]["Variables"]
        assert variables["POWERTOOLS_SERVICE_NAME"] == "featherserve"
        assert variables["FEATHERSERVE_MAX_BODY_BYTES"] == \
            declared["environment"]["FEATHERSERVE_MAX_BODY_BYTES"]
        manifest = json.loads((deployment.store / model / "1" / "manifest.json").read_text())
        assert variables["FEATHERSERVE_MODEL_LAYER"] == \
            f"{model} v1 sha256:{manifest['sha256'][:12]}"
        # The API calls the `live` alias, which points at the version this deploy published.
        alias = lam.get_alias(FunctionName=function_name(model), Name="live")
        assert alias["FunctionVersion"] == "1"
        # Its own role, allowed to write its own log group only.
        role = iam.get_role(RoleName=config["Role"].rsplit("/", 1)[1])["Role"]
        policies = iam.list_role_policies(RoleName=role["RoleName"])["PolicyNames"]
        assert policies == [f"{function_name(model)}-least-privilege"]
        document = iam.get_role_policy(RoleName=role["RoleName"],
                                       PolicyName=policies[0])["PolicyDocument"]
        statements = policy_document(document)["Statement"]
        assert [s["Action"] for s in statements] == [["logs:CreateLogStream",
                                                      "logs:PutLogEvents"]]
        assert statements[0]["Resource"] == [
            f"arn:aws:logs:{MOCK_REGION}:123456789012:log-group:/aws/lambda/"
            f"{function_name(model)}:*"]
        group = logs.describe_log_groups(
            logGroupNamePrefix=f"/aws/lambda/{function_name(model)}")["logGroups"]
        assert [g.get("retentionInDays") for g in group
                if g["logGroupName"] == f"/aws/lambda/{function_name(model)}"] == [14]

    # Each layer was published from exactly the zip that was built.
    for layer, zip_name in [("runtime", "runtime.zip")] + [
            (f"model-{m}", f"model-{m}.zip") for m in MODELS]:
        versions = lam.list_layer_versions(LayerName=layer_name(layer))["LayerVersions"]
        assert [v["Version"] for v in versions] == [1], layer
        content = lam.get_layer_version(LayerName=layer_name(layer), VersionNumber=1)["Content"]
        assert content["CodeSha256"] == lambda_sha256(deployment.layers / zip_name)

    apigateway = deployment.client("apigateway")
    (api,) = [a for a in apigateway.get_rest_apis()["items"]
              if a["name"] == f"{STAGE}-featherserve"]
    resources = {r["path"]: r for r in apigateway.get_resources(restApiId=api["id"])["items"]}
    for model in MODELS:
        for path in (f"/models/{model}", f"/models/{model}/predict"):
            methods = resources[path]["resourceMethods"]
            assert set(methods) == {"ANY", "OPTIONS"}, path
            method = apigateway.get_method(restApiId=api["id"], resourceId=resources[path]["id"],
                                           httpMethod="ANY")
            assert method["apiKeyRequired"] is True
            uri = method["methodIntegration"]["uri"]
            assert uri.endswith(f"function:{function_name(model)}:live/invocations"), uri
    assert [s["stageName"] for s in apigateway.get_stages(restApiId=api["id"])["item"]] == [STAGE]

    # The artifacts the stack was built from are in the deployment bucket.
    folder = deployment.uploads[0]
    uploaded = deployment.uploaded_names(folder)
    assert uploaded >= {"function.zip", "runtime.zip", "model-breast_cancer.zip",
                        "model-digits.zip", "compiled-cloudformation-template.json"}
    for model in MODELS:
        zip_name = f"model-{model}.zip"
        uploaded_zip = deployment.uploaded(folder, zip_name)
        assert hashlib.sha256(uploaded_zip).hexdigest() == \
            file_sha256(deployment.layers / zip_name)


def test_deploy_creates_the_bulk_bucket_queues_and_mappings(deployment):
    """Bulk scoring: the bucket (encrypted, private), each model's queue with its dead-letter
    queue and policy, S3's notifications for in/<model>/, and Lambda's mapping."""
    s3, sqs, lam, iam = (deployment.client(n) for n in ("s3", "sqs", "lambda", "iam"))
    bucket = deployment.outputs()["BulkBucketName"]
    assert bucket == f"{STACK}-bulk-123456789012-{MOCK_REGION}"
    (encryption,) = s3.get_bucket_encryption(Bucket=bucket)[
        "ServerSideEncryptionConfiguration"]["Rules"]
    assert encryption["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True}
    rules = s3.get_bucket_notification_configuration(Bucket=bucket)["QueueConfigurations"]
    notified = {r["Filter"]["Key"]["FilterRules"][0]["Value"]: r["QueueArn"] for r in rules}
    arn = f"arn:aws:sqs:{MOCK_REGION}:123456789012:{STACK}"
    assert notified == {f"in/{m}/": f"{arn}-{m}-bulk" for m in MODELS}
    assert {e for r in rules for e in r["Events"]} == {"s3:ObjectCreated:*"}
    for model in MODELS:
        url = sqs.get_queue_url(QueueName=f"{STACK}-{model}-bulk")["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        redrive = json.loads(attributes["RedrivePolicy"])
        assert redrive["deadLetterTargetArn"] == f"{arn}-{model}-bulk-dlq"
        assert int(redrive["maxReceiveCount"]) == 3
        dead_letter = sqs.get_queue_url(QueueName=f"{STACK}-{model}-bulk-dlq")["QueueUrl"]
        deny, allow = json.loads(attributes["Policy"])["Statement"]
        # Both queues refuse requests without TLS.
        (dead_letter_deny,) = json.loads(sqs.get_queue_attributes(
            QueueUrl=dead_letter, AttributeNames=["Policy"])["Attributes"]["Policy"])["Statement"]
        for statement in (deny, dead_letter_deny):
            assert (statement["Effect"], statement["Action"]) == ("Deny", "sqs:*")
            assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        assert allow["Principal"] == {"Service": "s3.amazonaws.com"}
        assert allow["Condition"]["ArnEquals"] == {"aws:SourceArn": f"arn:aws:s3:::{bucket}"}
        function = function_name(f"{model}-batch")
        config = lam.get_function_configuration(FunctionName=function)
        assert config["Handler"] == f"handlers/{model}.batch_handler"
        assert int(attributes["VisibilityTimeout"]) > config["Timeout"]
        (mapping,) = lam.list_event_source_mappings(EventSourceArn=attributes["QueueArn"])[
            "EventSourceMappings"]
        assert mapping["FunctionArn"].split(":")[6] == function
        assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert mapping["BatchSize"] == 1  # a crash fails no other file (docs/bulk.md)
        # Only the stage's bucket is served: a message naming another is refused.
        assert config["Environment"]["Variables"]["FEATHERSERVE_BATCH_BUCKET"] == bucket
        role = config["Role"].rsplit("/", 1)[1]
        (policy,) = iam.list_role_policies(RoleName=role)["PolicyNames"]
        statements = policy_document(iam.get_role_policy(
            RoleName=role, PolicyName=policy)["PolicyDocument"])["Statement"]
        resources = {a for s in statements for a in s["Resource"]}
        assert {f"arn:aws:s3:::{bucket}/in/{model}/*", f"arn:aws:s3:::{bucket}/out/{model}/*",
                attributes["QueueArn"]} <= resources


def test_deploy_creates_the_web_function_its_public_routes_and_static_bucket(deployment,
                                                                              tmp_path):
    """The web app: its own layers and role (invoke the models' live aliases, nothing else),
    its routes without a key, its static bucket private; `featherserve web-static` fills it."""
    lam, iam, s3, apigateway = (deployment.client(n)
                                for n in ("lambda", "iam", "s3", "apigateway"))
    config = lam.get_function_configuration(FunctionName=function_name("web"))
    assert config["Handler"] == "handlers/web.handler"
    variables = config["Environment"]["Variables"]
    assert variables["FEATHERSERVE_DEMO_FUNCTION_PREFIX"] == f"{STACK}-"
    assert variables["FEATHERSERVE_DEMO_QUALIFIER"] == "live"
    # The CDN is left out of the mock (moto cannot create it): a placeholder origin.
    assert variables["FEATHERSERVE_STATIC_URL"] == "https://cdn.mock.invalid"
    for layer, zip_name in (("web", "web.zip"), ("web-catalog", "web-catalog.zip")):
        content = lam.get_layer_version(LayerName=layer_name(layer), VersionNumber=1)["Content"]
        assert content["CodeSha256"] == lambda_sha256(deployment.layers / zip_name)
    role = config["Role"].rsplit("/", 1)[1]
    (policy,) = iam.list_role_policies(RoleName=role)["PolicyNames"]
    statements = policy_document(iam.get_role_policy(RoleName=role, PolicyName=policy)[
        "PolicyDocument"])["Statement"]
    assert [s["Action"] for s in statements] == [
        ["logs:CreateLogStream", "logs:PutLogEvents"], ["lambda:InvokeFunction"]]
    assert statements[1]["Resource"] == [
        f"arn:aws:lambda:{MOCK_REGION}:123456789012:function:{function_name(m)}:live"
        for m in MODELS]
    (api,) = [a for a in apigateway.get_rest_apis()["items"]
              if a["name"] == f"{STAGE}-featherserve"]
    resources = {r["path"]: r for r in apigateway.get_resources(restApiId=api["id"])["items"]}
    for path in ("/", "/docs", "/openapi.json", "/demo/{name}", "/demo/{name}/predict",
                 "/static/{proxy+}"):
        method = apigateway.get_method(restApiId=api["id"], resourceId=resources[path]["id"],
                                       httpMethod="ANY")
        assert method["apiKeyRequired"] is False, path
        assert method["methodIntegration"]["uri"].endswith(
            f"function:{function_name('web')}:live/invocations")
    bucket = deployment.outputs()["WebStaticBucketName"]
    assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True}
    (encryption,) = s3.get_bucket_encryption(Bucket=bucket)[
        "ServerSideEncryptionConfiguration"]["Rules"]
    assert encryption["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    # After the deploy, the static files go to that bucket, found from the stack's outputs.
    result = run_cli([str(VENV / "bin/featherserve"), "web-static", "--stage", STAGE,
                      "--region", MOCK_REGION, "--store", str(deployment.store),
                      "--index", str(deployment.layers / "models.json")],
                     env=deployment.env, timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    index = json.loads((deployment.layers / "models.json").read_text())
    assert {f"models/{m}/{index[m]['sha256']}.onnx" for m in MODELS} <= set(keys)
    assert any(k.endswith("/ort-wasm-simd-threaded.wasm") for k in keys)
    assert any(k.startswith("app/") and k.endswith("/demo.js") for k in keys)


def test_the_deployed_bytes_run_as_lambda_runs_them_and_answer(deployment, tmp_path):
    """The code and layer zips read back from the deployment bucket, accepted only with the
    CodeSha256 GetFunction / GetLayerVersion report, run through the Lambda-fidelity runner
    with the deployed configuration: every event answers as the handler does in process."""
    # The mock publishes the layers through the Lambda API and attaches none to the functions
    # (tests/support/mock_aws.js): their layers are the ones the deploy asked for.
    state = json.loads((deployment.service / ".serverless/serverless-state.json").read_text())
    service = deployed_service(deployment.client, STACK, tmp_path / "deployed",
                               region=MOCK_REGION, stage=STAGE,
                               unattached_layers=layers_in_state(state))
    assert {f.name for f in service.functions} >= set(MODELS)
    assert all(f.layers for f in service.functions)
    setup = runner_setup(tmp_path / "run", events_dir=EVENTS,
                         cache_dir=ROOT / "build" / "fidelity", init_limit=60.0)
    # The deployed models are the tiny three-feature stand-ins: ask each for a prediction
    # and its card, besides the recorded events (which they answer with the contract's 4xx).
    template = load_event("breast_cancer_predict_v1")
    rows = json.dumps({"instances": [{"alpha": 1.0, "beta": 0.5, "gamma": -1.0}]})
    asked = [NamedEvent(f"{model}/{kind}", event) for model in MODELS for kind, event in (
        ("predict", with_body(with_route(template, "POST", f"/models/{model}/predict"),
                              rows, content_type="application/json")),
        ("card", with_route(template, "GET", f"/models/{model}")))]
    reports = verify_service(service, dataclasses.replace(setup,
                                                          events=[*setup.events, *asked]))
    assert all(r.ok for r in reports), format_reports(reports)
    for report in (r for r in reports if r.function.name in MODELS):
        model = report.function.name
        assert report.function.environment["FEATHERSERVE_MODEL_LAYER"].startswith(f"{model} v1 ")
        answers = {c.event: c.packaged.payload for c in report.events}
        assert all(isinstance(a.get("statusCode"), int) for a in answers.values()), answers
        prediction = json.loads(answers[f"{model}/predict"]["body"])
        assert (prediction["model"], prediction["version"]) == (model, "1")
        assert prediction["predictions"][0]["label"] in ("no", "yes")
        card = json.loads(answers[f"{model}/card"]["body"])
        assert (card["name"], card["version"]) == (model, "1")


def test_new_model_version_rolls_out_to_its_function_only_and_rolls_back(deployment):
    before = deployment.outputs()
    # A retrained breast_cancer: a new version in the (temporary) store, its layer rebuilt.
    weights = np.array([[2.0, -1.0], [0.5, 0.5], [-2.0, 2.0]])
    manifest = publish_tiny_tabular(deployment.store, "breast_cancer", weights=weights)
    assert manifest.version == "2"
    digits_zip = file_sha256(deployment.layers / "model-digits.zip")
    build_model_layers(deployment.store, deployment.layers, models=("breast_cancer",))
    assert file_sha256(deployment.layers / "model-digits.zip") == digits_zip
    deployment.deploy()
    after = deployment.outputs()
    first, rollout = deployment.uploads

    # Only the changed layer was uploaded again; the framework compared the others' hashes
    # with the deployed stack and kept pointing at their first upload.
    uploaded = deployment.uploaded_names(rollout)
    assert "model-breast_cancer.zip" in uploaded
    assert not uploaded & {"runtime.zip", "model-digits.zip"}
    assert after["BreastCancerModelLambdaLayerHash"] != before["BreastCancerModelLambdaLayerHash"]
    for layer in ("RuntimeLambdaLayer", "DigitsModelLambdaLayer"):
        assert after[f"{layer}Hash"] == before[f"{layer}Hash"]
        assert after[f"{layer}S3Key"] == before[f"{layer}S3Key"]
        assert after[f"{layer}S3Key"].startswith(f"{first}/")

    # A new layer version for that model only (CloudFormation replaces a changed layer
    # version and deletes the old one; functions already using it keep it).
    lam = deployment.client("lambda")
    expected = {"model-breast_cancer": 2, "model-digits": 1, "runtime": 1}
    for layer, version in expected.items():
        listed = lam.list_layer_versions(LayerName=layer_name(layer))["LayerVersions"]
        assert [v["Version"] for v in listed] == [version], layer
    description = lam.get_layer_version(LayerName=layer_name("model-breast_cancer"),
                                        VersionNumber=2)["Description"]
    assert description.startswith(f"breast_cancer v2 sha256:{manifest.sha256[:12]}")

    # What CloudFormation was asked to change: a new AWS::Lambda::Version (hence `live`)
    # for breast_cancer only; digits' function is re-pointed at a byte-identical code zip.
    old, new = (deployment.uploaded_template(folder)["Resources"] for folder in (first, rollout))
    versions = {name: {k for k, r in t.items() if r["Type"] == "AWS::Lambda::Version"}
                for name, t in (("old", old), ("new", new))}
    changed = versions["old"] ^ versions["new"]
    # Its bulk function shares its layer; the web function's catalog layer lists v2 now.
    assert {k.split("LambdaVersion")[0] for k in changed} == {
        "BreastUnderscorecancer", "BreastUnderscorecancerDashbatch", "Web"}
    digits_old, digits_new = (t["DigitsLambdaFunction"]["Properties"] for t in (old, new))
    assert digits_old["Code"]["S3Key"] != digits_new["Code"]["S3Key"]
    assert {**digits_old, "Code": None} == {**digits_new, "Code": None}
    assert deployment.uploaded(first, "function.zip") == \
        deployment.uploaded(rollout, "function.zip")

    label = f"breast_cancer v2 sha256:{manifest.sha256[:12]}"
    assert served_by_live(lam, "breast_cancer") == ("2", label)
    assert served_by_live(lam, "digits")[0] == "1"
    assert version_numbers(lam, "digits") == ["1"]

    # Rollback: one command, the one `make rollback MODEL=... STAGE=... REGION=...` runs.
    make = run_cli(["make", "-n", "rollback", "MODEL=breast_cancer", f"STAGE={STAGE}",
                    f"REGION={MOCK_REGION}"], env=tool_env(), cwd=ROOT, timeout=60)
    assert (f"sls rollback-model --function breast_cancer --stage {STAGE} "
            f"--region {MOCK_REGION}") in make.stdout, make.stdout + make.stderr
    output = deployment.sls("rollback-model", "--function", "breast_cancer")
    assert "live version 2 -> 1" in output, output
    v1_label = lam.get_function_configuration(FunctionName=function_name("breast_cancer"),
                                              Qualifier="1")["Environment"]["Variables"]
    assert served_by_live(lam, "breast_cancer") == ("1", v1_label["FEATHERSERVE_MODEL_LAYER"])
    assert v1_label["FEATHERSERVE_MODEL_LAYER"].startswith("breast_cancer v1 ")
    assert served_by_live(lam, "digits")[0] == "1"
    # Nothing older to go back to: a clear error, and nothing moves.
    refused = deployment.sls("rollback-model", "--function", "breast_cancer", ok=False)
    assert "nothing to roll back to" in refused, refused
    # Roll forward again to a named version.
    deployment.sls("rollback-model", "--function", "breast_cancer", "--to-version", "2")
    assert served_by_live(lam, "breast_cancer") == ("2", label)


def policy_document(raw: Any) -> dict[str, Any]:
    """An inline policy as IAM returns it: URL-encoded JSON (boto3 may decode it already)."""
    if isinstance(raw, dict):
        return raw
    text = urllib.parse.unquote(raw)
    try:
        return json.loads(text)  # type: ignore[no-any-return]
    except ValueError:
        # moto keeps the Python repr of a policy it was given through CloudFormation.
        return ast.literal_eval(text)  # type: ignore[no-any-return]


def served_by_live(lam: Any, model: str) -> tuple[str, str]:
    """The version `live` points at, and the model that version's configuration names."""
    version = lam.get_alias(FunctionName=function_name(model), Name="live")["FunctionVersion"]
    config = lam.get_function_configuration(FunctionName=function_name(model), Qualifier=version)
    return version, config["Environment"]["Variables"]["FEATHERSERVE_MODEL_LAYER"]


def version_numbers(lam: Any, model: str) -> list[str]:
    listed = lam.list_versions_by_function(FunctionName=function_name(model))["Versions"]
    return [v["Version"] for v in listed if v["Version"] != "$LATEST"]


def test_remove_deletes_the_stack_and_what_it_created(deployment):
    deployment.sls("remove")
    stacks = deployment.client("cloudformation").list_stacks()["StackSummaries"]
    assert {s["StackName"]: s["StackStatus"] for s in stacks} == {STACK: "DELETE_COMPLETE"}
    lam = deployment.client("lambda")
    assert lam.list_functions()["Functions"] == []
    assert lam.list_layers()["Layers"] == []
    # The bulk bucket holds users' files: the stack leaves it (DeletionPolicy: Retain).
    assert [b["Name"] for b in deployment.client("s3").list_buckets()["Buckets"]] == [
        f"{STACK}-bulk-123456789012-{MOCK_REGION}"]
    assert deployment.client("logs").describe_log_groups()["logGroups"] == []
    assert deployment.client("iam").list_roles()["Roles"] == []
    # moto 5 cannot delete an AWS::ApiGateway::RestApi through CloudFormation; on AWS the
    # stack deletion removes it with the rest.
    apis = deployment.client("apigateway").get_rest_apis()["items"]
    assert [a["name"] for a in apis] in ([], [f"{STAGE}-featherserve"])
