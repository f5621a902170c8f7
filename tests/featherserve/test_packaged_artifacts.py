"""What `sls package` writes runs as Lambda runs it, and answers as the code does in process.

The real CLI packages a throwaway copy of the service with the layers `make layers` built
(the runtime layer, the function zip, the real model layers); `featherserve verify` then
runs every function of the template on CPython 3.12 through awslambdaric against the
Runtime API stand-in, with every event under tests/events that targets it. The negative
tests break one thing each in a copy of those bytes and check the runner says what.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import zipfile
from pathlib import Path
from typing import Any

import pytest

from featherserve.fidelity import FunctionSpec, ServiceSpec, load_package, verify_service
from featherserve.fidelity.cloudformation import Template
from featherserve.fidelity.model import HttpRoute
from featherserve.fidelity.runner_setup import runner_setup
from featherserve.fidelity.sandbox import OPT_DIR_VARIABLE, Unpacker, remap_opt
from featherserve.fidelity.triggers import NamedEvent, target_of, triggers_by_function
from featherserve.fidelity.verify import (
    PackagedRun,
    RunnerSetup,
    function_environment,
    run_packaged,
)
from featherserve.support.events import EVENTS
from featherserve.support.processes import ROOT, VENV, run_cli, tool_env
from tests.support.deploy import BUILT_LAYERS, built_layers, snapshot_service
from tests.support.stack import SLS

pytestmark = pytest.mark.e2e
# Machines running the suite are shared: a generous init limit, never a timing assertion.
INIT_LIMIT = 60.0


@pytest.fixture(scope="module")
def layers(tmp_path_factory) -> Path:
    """A snapshot of `make layers`' output (built here when the file runs on its own)."""
    built_layers("function.zip", "runtime.zip")
    dest: Path = tmp_path_factory.mktemp("layers")
    for built in [*BUILT_LAYERS.glob("*.zip"), *BUILT_LAYERS.glob("*.json")]:
        shutil.copy2(built, dest / built.name)
    return dest


@pytest.fixture(scope="module")
def package(tmp_path_factory, layers) -> Path:
    """`sls package` of a copy of the service: its .serverless/ folder."""
    service = snapshot_service(tmp_path_factory.mktemp("packaged") / "service", mock_aws=False)
    result = run_cli([SLS, "package", "--stage", "dev", "--region",
                      "us-east-1"], env=tool_env({"FEATHERSERVE_LAYERS_DIR": str(layers)}),
                     cwd=service, timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
    return service / ".serverless"


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> RunnerSetup:
    return runner_setup(tmp_path_factory.mktemp("fidelity"), events_dir=EVENTS,
                        cache_dir=ROOT / "build" / "fidelity", init_limit=INIT_LIMIT)


@pytest.fixture(scope="module")
def service(package) -> ServiceSpec:
    return load_package(package)


def function_named(service: ServiceSpec, name: str) -> FunctionSpec:
    (function,) = [f for f in service.functions if f.name == name]
    return function


def only(service: ServiceSpec, function: FunctionSpec) -> ServiceSpec:
    return dataclasses.replace(service, functions=(function,))


def edited_zip(source: Path, dest: Path, *, drop: tuple[str, ...] = (),
               replace: dict[str, str] | None = None) -> Path:
    """A copy of ``source`` without the modules ``drop`` names (source and bytecode) and
    with ``replace``'s files rewritten (their stale bytecode dropped too)."""
    replace = replace or {}
    gone = {m.replace(".", "/") for m in (*drop, *(Path(p).with_suffix("").as_posix()
                                                   for p in replace))}

    def stale(name: str) -> bool:
        path = Path(name)
        stem = path.name.split(".")[0]
        module = (path.parent.parent / stem if path.parent.name == "__pycache__"
                  else path.with_suffix("")).as_posix()
        return module in gone and path.suffix in (".py", ".pyc")

    with zipfile.ZipFile(source) as original, zipfile.ZipFile(dest, "w") as edited:
        for item in original.infolist():
            if not stale(item.filename):
                edited.writestr(item, original.read(item))
        for name, text in replace.items():
            edited.writestr(name, text)
    return dest


# ----------------------------------------------------------------- the real package
def test_make_verify_runs_every_packaged_function_on_every_event_like_in_process(package):
    result = run_cli([str(VENV / "bin/featherserve"), "verify", str(package), "--json",
                      "--init-limit", str(INIT_LIMIT)], env=tool_env(), timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    reports = {r["function"]: r for r in json.loads(result.stdout)}
    template = json.loads((package / "cloudformation-template-update-stack.json").read_text())
    declared = [r for r in template["Resources"].values()
                if r["Type"] == "AWS::Lambda::Function"]
    assert len(reports) == len(declared) >= 2
    for name, report in reports.items():
        assert report["ok"], report["problems"]
        assert report["init_ms"] > 0
        # Every function is covered by events, and each was answered by the packaged bytes.
        assert report["events"], f"no event under tests/events targets {name}"
        assert all(e["ok"] and e["answer"].startswith("answered") for e in report["events"])


def test_a_runtime_module_missing_from_the_code_zip_fails_naming_it(service, setup, tmp_path):
    function = function_named(service, "breast_cancer")
    broken = edited_zip(function.code, tmp_path / "function.zip", drop=("model_store.manifest",))
    (report,) = verify_service(only(service, dataclasses.replace(function, code=broken)), setup)
    assert not report.ok
    assert report.init is not None and report.init.error_type == "Runtime.ImportModuleError"
    assert "No module named 'model_store.manifest'" in report.init.message
    text = "\n".join(report.problems)
    # The static check names the importer as well, before anything runs.
    assert "breast_cancer: model_store.manifest is not in the code zip (imported by " in text
    assert all(line.startswith("breast_cancer: ") for line in report.problems)


def test_a_handler_importing_tooling_fails_naming_importer_and_module(service, setup, tmp_path):
    function = function_named(service, "breast_cancer")
    handler = ("from model_runtime import serve_model\n\n"
               "handler = serve_model('breast_cancer')\n\n\n"
               "def price():\n    from featherserve.pricing import monthly_cost\n"
               "    return monthly_cost\n")
    broken = edited_zip(function.code, tmp_path / "function.zip",
                        replace={"handlers/breast_cancer.py": handler})
    (report,) = verify_service(only(service, dataclasses.replace(function, code=broken)), setup)
    # The import is lazy (it would fail on Lambda on the request that reaches it): the
    # function starts and answers, but the static check refuses it.
    assert report.init is not None and report.init.ok
    assert not report.ok
    assert report.problems[0] == ("breast_cancer: handlers.breast_cancer imports "
                                  "featherserve.pricing: tooling (featherserve) is never "
                                  "shipped to Lambda")


@pytest.mark.parametrize(("handler", "error_type", "message"), [
    ("handlers/breast_cancer.nope", "Runtime.HandlerNotFound",
     "Handler 'nope' missing on module 'handlers/breast_cancer'"),
    ("handlers/no_such_model.handler", "Runtime.ImportModuleError",
     "Unable to import module 'handlers/no_such_model': No module named "
     "'handlers.no_such_model'"),
    ("handler_without_a_dot", "Runtime.MalformedHandlerName",
     "Bad handler 'handler_without_a_dot': not enough values to unpack"),
])
def test_a_bad_handler_string_fails_as_on_lambda(service, setup, handler, error_type, message):
    function = dataclasses.replace(function_named(service, "breast_cancer"), handler=handler)
    (report,) = verify_service(only(service, function), setup)
    assert report.init is not None and not report.init.ok
    assert report.init.error_type == error_type
    assert report.init.message.startswith(message)
    assert f"breast_cancer: init failed: {error_type}: {message}" in report.problems[-1]


def tiny_function(tmp_path: Path, source: str, **changes: object) -> FunctionSpec:
    code = tmp_path / "tiny.zip"
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("tiny.py", source)
    return FunctionSpec(name="tiny", function_name="svc-dev-tiny", handler="tiny.handler",
                        code=code, **changes)  # type: ignore[arg-type]


def run_tiny(function: FunctionSpec, events: list[dict[str, Any]], setup: RunnerSetup,
             tmp_path: Path) -> PackagedRun:
    sandbox = Unpacker(tmp_path / "zips").unpack(function, tmp_path / "sandbox")
    env = function_environment(function, sandbox, "us-east-1", setup)
    return run_packaged(function, events, sandbox, env, setup, tmp_path)


def test_an_exception_at_init_is_reported_with_its_type_and_message(setup, tmp_path):
    function = tiny_function(tmp_path, "raise RuntimeError('model bytes do not match')\n")
    run = run_tiny(function, [{}], setup, tmp_path)
    assert not run.init.ok
    assert (run.init.error_type, run.init.message) == ("RuntimeError",
                                                       "model bytes do not match")
    assert run.answers == []


def test_a_timeout_ends_the_environment_and_the_next_event_gets_a_fresh_one(setup, tmp_path):
    source = ("import os, time\n\n"
              "def handler(event, context):\n"
              "    time.sleep(event['sleep'])\n"
              "    return {'statusCode': 200, 'body': os.environ['AWS_LAMBDA_FUNCTION_NAME']}\n")
    function = tiny_function(tmp_path, source, timeout=1.0)
    run = run_tiny(function, [{"sleep": 30}, {"sleep": 0}], setup, tmp_path)
    slow, fast = run.answers
    assert slow.error_type == "Sandbox.Timedout"
    assert slow.payload["errorMessage"].endswith("Task timed out after 1.00 seconds")
    assert fast.ok and fast.payload == {"statusCode": 200, "body": "svc-dev-tiny"}
    assert run.restarts == 1


def test_the_runtime_sees_only_task_root_layers_and_lambdas_runtime(setup, tmp_path):
    source = ("import json, os, sys\n\n"
              "def handler(event, context):\n"
              "    return {'path': sys.path, 'cwd': os.getcwd(), 'flags': sys.flags.isolated,\n"
              "            'env': dict(os.environ), 'version': list(sys.version_info[:2]),\n"
              "            'request': context.aws_request_id}\n")
    layer = tmp_path / "layer.zip"
    with zipfile.ZipFile(layer, "w") as archive:
        archive.writestr("models/m/1/manifest.json", "{}")
    function = tiny_function(tmp_path, source, layers=(layer,), memory_mb=512, environment={
        "MODEL_DIR": "/opt/models", "FEATHERSERVE_MODEL_SOURCE": ""})
    (answer,) = run_tiny(function, [{}], setup, tmp_path).answers
    seen = answer.payload
    task, opt = tmp_path / "sandbox" / "task", tmp_path / "sandbox" / "opt"
    assert seen["path"][:4] == [str(task), f"{opt}/python/lib/python3.12/site-packages",
                                f"{opt}/python", str(setup.runtime.path)]
    assert not any("site-packages" in p for p in seen["path"][4:]), seen["path"]
    assert seen["cwd"] == str(task) and seen["flags"] == 1 and seen["version"] == [3, 12]
    env = seen["env"]
    assert env["MODEL_DIR"] == f"{opt}/models" and env[OPT_DIR_VARIABLE] == str(opt)
    assert env["FEATHERSERVE_MODEL_SOURCE"] == ""
    assert (env["_HANDLER"], env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]) == ("tiny.handler", "512")
    assert env["LAMBDA_TASK_ROOT"] == str(task) and env["TZ"] == ":UTC"
    assert "VIRTUAL_ENV" not in env and not any(str(VENV) in p for p in seen["path"])
    assert seen["request"]


# --------------------------------------------------------------- pieces, no processes
def test_an_empty_model_source_serves_the_unpacked_model_layer(tmp_path):
    from model_runtime import constants
    from model_runtime.settings import Settings

    assert constants.OPT_DIR == OPT_DIR_VARIABLE
    (tmp_path / "models").mkdir()
    settings = Settings.from_env({OPT_DIR_VARIABLE: str(tmp_path),
                                  "FEATHERSERVE_MODEL_SOURCE": ""})
    assert settings.model_source == str(tmp_path / "models")
    assert remap_opt("/opt/models", tmp_path) == f"{tmp_path}/models"
    assert remap_opt("/optical", tmp_path) == "/optical"


def test_later_layers_replace_earlier_files_as_on_lambda(tmp_path):
    zips = []
    for index, text in enumerate(("first", "second")):
        path = tmp_path / f"layer{index}.zip"
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("python/shared.txt", text)
            archive.writestr(f"python/only{index}.txt", text)
        zips.append(path)
    function = FunctionSpec(name="f", function_name="f", handler="m.h", code=zips[0],
                            layers=tuple(zips))
    sandbox = Unpacker(tmp_path / "cache").unpack(function, tmp_path / "sandbox")
    assert (sandbox.opt / "python/shared.txt").read_text() == "second"
    assert {p.name for p in (sandbox.opt / "python").iterdir()} == {
        "shared.txt", "only0.txt", "only1.txt"}
    # The zip's bytes under the cache are shared, not rewritten by the later layer.
    assert (sandbox.task / "python/shared.txt").read_text() == "first"


def test_events_go_where_the_template_routes_them():
    template = Template.from_json({"Resources": {
        "ApiFunction": {"Type": "AWS::Lambda::Function",
                        "Properties": {"FunctionName": "svc-dev-api"}},
        "WebFunction": {"Type": "AWS::Lambda::Function",
                        "Properties": {"FunctionName": "svc-dev-web"}},
        "BulkFunction": {"Type": "AWS::Lambda::Function",
                         "Properties": {"FunctionName": "svc-dev-bulk"}},
        "Queue": {"Type": "AWS::SQS::Queue",
                  "Properties": {"QueueName": {"Fn::Sub": "svc-dev-bulk-${AWS::Region}"}}},
        "Mapping": {"Type": "AWS::Lambda::EventSourceMapping", "Properties": {
            "FunctionName": {"Fn::GetAtt": ["BulkFunction", "Arn"]},
            "EventSourceArn": {"Fn::GetAtt": ["Queue", "Arn"]}}},
        "Integration": {"Type": "AWS::ApiGatewayV2::Integration", "Properties": {
            "IntegrationUri": {"Fn::GetAtt": ["WebFunction", "Arn"]}}},
        "Catalog": {"Type": "AWS::ApiGatewayV2::Route", "Properties": {
            "RouteKey": "GET /{proxy+}",
            "Target": {"Fn::Join": ["/", ["integrations", {"Ref": "Integration"}]]}}},
        "Predict": {"Type": "AWS::ApiGatewayV2::Route", "Properties": {
            "RouteKey": "POST /models/{name}/predict",
            "Target": {"Fn::Join": ["/", ["integrations", {"Ref": "ApiIntegration"}]]}}},
        "ApiIntegration": {"Type": "AWS::ApiGatewayV2::Integration", "Properties": {
            "IntegrationUri": {"Fn::GetAtt": ["ApiFunction", "Arn"]}}},
    }}, region="eu-west-1", stack_name="svc-dev")
    triggers = triggers_by_function(template)
    functions = [FunctionSpec(name=n, function_name=n, handler="m.h", code=Path("x.zip"),
                              routes=triggers[n].routes, queues=triggers[n].queues)
                 for n in ("ApiFunction", "WebFunction", "BulkFunction")]

    def target(event: dict[str, Any]) -> str | None:
        found = target_of(event, functions, "dev")
        return found.name if found else None

    def http(method: str, path: str) -> dict[str, Any]:
        return {"version": "2.0", "rawPath": path,
                "requestContext": {"http": {"method": method, "path": path}}}

    assert target(http("POST", "/models/digits/predict")) == "ApiFunction"
    assert target(http("GET", "/models/digits/predict")) == "WebFunction"  # greedy route
    assert target({"httpMethod": "GET", "path": "/demo/digits"}) == "WebFunction"
    assert target(http("POST", "/")) is None
    sqs = {"Records": [{"eventSource": "aws:sqs",
                        "eventSourceARN": "arn:aws:sqs:eu-west-1:1:svc-prod-bulk-eu-west-1"}]}
    assert target(sqs) == "BulkFunction"  # captured on another stage, same queue
    assert target({"Records": [{"eventSource": "aws:sqs",
                                "eventSourceARN": "arn:aws:sqs:eu-west-1:1:other"}]}) is None
    assert HttpRoute("ANY", "/a/{b}").matches("DELETE", "/a/x")
    assert not HttpRoute("GET", "/a/{b}").matches("GET", "/a/x/y")


def test_every_event_file_is_an_event_the_runner_loads():
    from featherserve.fidelity.triggers import load_events

    events = load_events(EVENTS)
    assert all(isinstance(e, NamedEvent) and e.payload for e in events)
    assert len(events) == len(list(EVENTS.rglob("*.json")))
