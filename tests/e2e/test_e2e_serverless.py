"""The real Serverless Framework CLI: `sls package`, `sls invoke local`, serverless-offline."""

from __future__ import annotations

import base64
import json
import os
import ssl
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

import pytest

from featherserve.codegen import served_models
from featherserve.layers.code_package import RUNTIME_PACKAGES
from featherserve.support.processes import (
    NODE_BIN,
    ROOT,
    last_json_document,
    run_cli,
    tool_env,
)
from tests.support import deploy
from tests.support.certificates import write_self_signed
from tests.support.stack import SLS, sls_offline

pytestmark = pytest.mark.e2e
LAYERS = deploy.BUILT_LAYERS


@pytest.fixture(scope="module")
def built_layers() -> Path:
    return deploy.built_layers("runtime.zip", "function.zip", "models.json",
                               "model-breast_cancer.zip")


def test_sls_package_works_without_credentials(built_layers, tmp_path):
    out = tmp_path / "package"
    result = run_cli([SLS, "package", "--stage", "e2e", "--package", str(out)], env=tool_env())
    assert result.returncode == 0, result.stdout + result.stderr
    template = json.loads((out / "cloudformation-template-update-stack.json").read_text())
    resources = template["Resources"]
    functions = {r["Properties"]["FunctionName"]: r["Properties"] for r in resources.values()
                 if r["Type"] == "AWS::Lambda::Function"}
    function = functions["featherserve-e2e-breast_cancer"]
    assert (function["Runtime"], function["Architectures"]) == ("python3.12", ["x86_64"])
    assert function["Handler"] == "handlers/breast_cancer.handler"
    assert {"Ref": "RuntimeLambdaLayer"} in function["Layers"]
    assert {"Ref": "BreastCancerModelLambdaLayer"} in function["Layers"]
    layers = [r for r in resources.values() if r["Type"] == "AWS::Lambda::LayerVersion"]
    names = sorted(r["Properties"]["LayerName"] for r in layers)
    assert names == sorted([f"featherserve-e2e-{n}" for n in ("runtime", "web", "web-catalog")]
                           + [f"featherserve-e2e-model-{m}" for m in served_models()])
    # The local Lambda endpoint is serverless-offline's alone: never in a deployed template.
    web = functions["featherserve-e2e-web"]["Environment"]["Variables"]
    assert "FEATHERSERVE_DEMO_LAMBDA_ENDPOINT" not in web and "IS_OFFLINE" not in web
    label = function["Environment"]["Variables"]["FEATHERSERVE_MODEL_LAYER"]
    assert label == json.loads((LAYERS / "models.json").read_text())["breast_cancer"]["label"]
    # The function zip is the runtime packages, whole, with bytecode: no training code,
    # tooling, tests or models.
    state = json.loads((out / "serverless-state.json").read_text())
    assert state["package"]["artifact"] == "function.zip"
    names = zipfile.ZipFile(LAYERS / "function.zip").namelist()
    for package in RUNTIME_PACKAGES:
        assert f"{package}/__init__.py" in names
    assert "handlers/breast_cancer.py" in names and "model_store/aliases.py" in names
    assert any(n.endswith(".cpython-312.pyc") for n in names)
    assert not [n for n in names if n.startswith(("training/", "tests/", "models/",
                                                  "featherserve/", "benchmarks/"))]


def invoke_local(event_file: str, function: str = "breast_cancer") -> dict[str, Any]:
    result = run_cli([SLS, "invoke", "local", "-f", function, "--path", event_file],
                     env=tool_env())
    assert result.returncode == 0, result.stdout + result.stderr
    response = last_json_document(result.stdout)
    assert isinstance(response, dict) and "statusCode" in response, result.stdout
    return response


@pytest.mark.parametrize("fmt", ["v1", "v2"])
def test_sls_invoke_local_predicts(fmt):
    response = invoke_local(f"tests/events/breast_cancer_predict_{fmt}.json")
    assert response["statusCode"] == 200, response
    body = json.loads(response["body"])
    assert body["model"] == "breast_cancer"
    # The events carry a malignant sample (dataset row 0) and a benign one (row 19).
    assert [p["label"] for p in body["predictions"]] == ["malignant", "benign"]


@pytest.mark.parametrize("event", ["digits_predict_v1", "digits_raw_v2"])
def test_sls_invoke_local_reads_an_image(event):
    response = invoke_local(f"tests/events/{event}.json", function="digits")
    assert response["statusCode"] == 200, response
    assert json.loads(response["body"])["predictions"][0]["label"] == "7"


def test_sls_invoke_local_model_card():
    response = invoke_local("tests/events/breast_cancer_card_v2.json")
    card = json.loads(response["body"])
    assert response["statusCode"] == 200 and card["name"] == "breast_cancer"


def http(method: str, url: str, body: bytes | None = None, content_type: str | None = None,
         tls: ssl.SSLContext | None = None) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, data=body, method=method)
    if content_type:
        request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=60, context=tls) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture(scope="module")
def offline(tmp_path_factory) -> Any:
    """README's `sls offline start --stage e2e --httpPort N --lambdaPort M`."""
    log = tmp_path_factory.mktemp("offline") / "offline.log"
    with sls_offline(log, stage="e2e") as stack:
        yield stack.url


def test_offline_serves_https_with_a_local_certificate(tmp_path):
    certificates = write_self_signed(tmp_path / "tls")
    with sls_offline(tmp_path / "offline-https.log", stage="e2e", https=certificates) as stack:
        tls = ssl.create_default_context(cafile=str(certificates / "cert.pem"))
        body = (ROOT / "examples/breast_cancer.json").read_bytes()
        status, payload = http("POST", f"{stack.url}/models/breast_cancer/predict",
                               body, "application/json", tls)
        process = stack.process
    assert status == 200, payload
    assert payload["predictions"][0]["label"] == "malignant"
    assert process.poll() is not None  # stopped with its process group


def test_offline_serves_predictions_over_http(offline):
    body = (ROOT / "tests/events/breast_cancer_predict_v1.json").read_text()
    instances = json.loads(json.loads(body)["body"])
    status, payload = http("POST", f"{offline}/models/breast_cancer/predict?top_k=1",
                           json.dumps(instances).encode(), "application/json")
    assert status == 200, payload
    assert [p["label"] for p in payload["predictions"]] == ["malignant", "benign"]
    assert all(len(p["top"]) == 1 for p in payload["predictions"])


def test_offline_accepts_an_uploaded_image_file(offline):
    # serverless-offline base64-encodes application/octet-stream bodies (not image/*).
    image = (ROOT / "examples/digits.jpg").read_bytes()
    status, payload = http("POST", f"{offline}/models/digits/predict?top_k=3", image,
                           "application/octet-stream")
    assert status == 200, payload
    assert payload["predictions"][0]["label"] == "7"
    assert len(payload["predictions"][0]["top"]) == 3


def test_offline_accepts_base64_image_instances(offline):
    image = base64.b64encode((ROOT / "examples/digits.png").read_bytes()).decode()
    body = json.dumps({"instances": [{"b64": image}, {"b64": image}]}).encode()
    status, payload = http("POST", f"{offline}/models/digits/predict", body, "application/json")
    assert status == 200, payload
    assert [p["label"] for p in payload["predictions"]] == ["7", "7"]


def test_offline_rejects_a_bad_upload_with_the_contract(offline):
    status, payload = http("POST", f"{offline}/models/digits/predict", b"GIF89a-broken",
                           "application/octet-stream")
    assert status == 422 and payload["error"]["code"] == "undecodable_image"


def test_offline_serves_the_model_card(offline):
    status, card = http("GET", f"{offline}/models/breast_cancer")
    assert status == 200
    assert card["metrics"]["teacher_accuracy"] > 0.9
    assert card["metrics"]["accuracy_retention"] >= 0.99


@pytest.mark.parametrize(("method", "path", "body", "content_type", "status", "code"), [
    ("POST", "/models/breast_cancer/predict", b"{oops", "application/json", 400,
     "malformed_json"),
    ("POST", "/models/breast_cancer/predict", b'{"instances": [[1, 2]]}', "application/json",
     422, "wrong_length"),
    ("POST", "/models/breast_cancer/predict", b"a,b", "text/csv", 415,
     "unsupported_media_type"),
    ("GET", "/models/breast_cancer/predict", None, None, 405, "method_not_allowed"),
    ("POST", "/models/breast_cancer", b"{}", "application/json", 405, "method_not_allowed"),
])
def test_offline_errors_follow_the_contract(offline, method, path, body, content_type, status,
                                             code):
    got_status, payload = http(method, offline + path, body, content_type)
    assert (got_status, payload["error"]["code"]) == (status, code)


def test_sls_invoke_local_on_the_target_interpreter_with_the_runtime_layer(built_layers,
                                                                          tmp_path):
    """The documented high-fidelity run: CPython 3.12 as `python3`, the layer as /opt/python."""
    from featherserve.layers.interpreter import find_target_interpreter

    search = find_target_interpreter()
    if search.interpreter is None:
        pytest.skip("no CPython 3.12 on this machine: " + "; ".join(search.tried))
    shim = tmp_path / "bin"
    shim.mkdir()
    (shim / "python3").symlink_to(search.interpreter.path)
    env = tool_env({"VIRTUAL_ENV": "", "PYTHONPATH": str(built_layers / "runtime" / "python")})
    env["PATH"] = os.pathsep.join([str(shim), str(NODE_BIN), os.environ.get("PATH", "")])
    probe = ("import sys, json, handlers.digits, numpy; print(json.dumps("
             "[sys.version_info[:2], numpy.__file__]))")
    check = run_cli(["python3", "-c", probe], env=env)
    version, numpy_file = json.loads(check.stdout.splitlines()[-1])
    assert version == [3, 12] and numpy_file.startswith(str(built_layers)), check.stderr
    result = run_cli([SLS, "invoke", "local", "-f", "digits", "--path",
                      "tests/events/digits_raw_v1.json"], env=env)
    response = last_json_document(result.stdout)
    assert response["statusCode"] == 200, result.stdout + result.stderr
    assert json.loads(response["body"])["predictions"][0]["label"] == "7"
