"""CORS: the demo origin only, and the deploys the origin guard refuses
(serverless_plugins/production.js), before any AWS call."""

from __future__ import annotations

import json

import pytest

from featherserve.support.processes import run_cli, tool_env
from tests.support.deploy import MODELS
from tests.support.template import DEFAULT_ORIGIN, SLS, STAGE_PARAMS, of_type

pytestmark = pytest.mark.e2e


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
