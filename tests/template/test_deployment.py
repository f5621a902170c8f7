"""The deploy itself: a private, versioned, pruned deployment bucket, a template cfn-lint
passes, and the mock-AWS plugin that never reaches a real endpoint."""

from __future__ import annotations

import json

import pytest
from cfnlint.api import lint

from featherserve.support.processes import run_cli, tool_env
from tests.support.template import SLS

pytestmark = pytest.mark.e2e


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
