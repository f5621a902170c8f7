"""The packaged template, as the tests under tests/template read it: the service copied and
packaged by the real CLI (`sls package`, no AWS, no credentials) once per session for each
of three stages, and helpers to find resources in it.

The copy sets every per-stage parameter through a `params` block for its stage `secure`,
the way a real stage would, and a stage `nobulk` without bulk scoring; `sec` keeps the
defaults. tests/template/conftest.py makes the fixtures visible to every test there.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from featherserve.support.processes import NODE_BIN, run_cli, tool_env
from tests.support.deploy import (
    placeholder_runtime_zip,
    snapshot_service,
    tiny_models_with_layers,
)

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


@pytest.fixture(scope="session")
def service(tmp_path_factory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("package")
    _, layers = tiny_models_with_layers(root)
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


@pytest.fixture(scope="session")
def template(service, tmp_path_factory) -> dict[str, Any]:
    return package(service, "sec", tmp_path_factory.mktemp("sec"))


@pytest.fixture(scope="session")
def stage_template(service, tmp_path_factory) -> dict[str, Any]:
    return package(service, "secure", tmp_path_factory.mktemp("secure"))


@pytest.fixture(scope="session")
def no_bulk_template(service, tmp_path_factory) -> dict[str, Any]:
    return package(service, "nobulk", tmp_path_factory.mktemp("nobulk"))


def of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == kind}


def functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Function logical id -> properties."""
    return {k: r["Properties"] for k, r in of_type(template, "AWS::Lambda::Function").items()}


def is_batch(properties: dict[str, Any]) -> bool:
    """A model's bulk function (tests/template/test_queues.py checks its extra rights)."""
    return str(properties["Handler"]).endswith(".batch_handler")


def is_web(properties: dict[str, Any]) -> bool:
    """The web app's function (public pages, its own throttle and role: see test_api_keys,
    test_throttling, test_iam)."""
    return bool(properties["Handler"] == "handlers/web.handler")


def integration_function(method: dict[str, Any]) -> str:
    """The logical id of the function a method's Lambda proxy integration calls."""
    parts = method["Properties"]["Integration"]["Uri"]["Fn::Join"][1]
    (function,) = [p["Fn::GetAtt"][0] for p in parts if isinstance(p, dict) and "Fn::GetAtt" in p]
    return str(function)


def policy_statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    (policy,) = role["Properties"]["Policies"]
    return policy["PolicyDocument"]["Statement"]  # type: ignore[no-any-return]


def log_group_arn(name: str) -> dict[str, str]:
    return {"Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}"
                       f":log-group:/aws/lambda/{name}:*"}


def alarms(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: r["Properties"] for k, r in of_type(template, "AWS::CloudWatch::Alarm").items()}


def stage_description(template: dict[str, Any]) -> dict[str, Any]:
    (deployment,) = of_type(template, "AWS::ApiGateway::Deployment").values()
    return deployment["Properties"]["StageDescription"]  # type: ignore[no-any-return]


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


def dead_letter_ids(template: dict[str, Any]) -> dict[str, str]:
    """Model → the logical id of its queue's dead-letter queue."""
    return {model: template["Resources"][queue_id]["Properties"]["RedrivePolicy"][
        "deadLetterTargetArn"]["Fn::GetAtt"][0]
        for model, queue_id in bulk_queue_ids(template).items()}
