"""Pooled models in the template (issue 19): `featherserve add NAME --pooled` in a project
copy, `sls package --stage prod`, and what the template holds; with no pooled model,
nothing the shipped project generates or packages changes."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from featherserve.codegen.handler_modules import served_models
from featherserve.codegen.pool_files import read_pooled
from featherserve.codegen.service_files import add_model, regenerate, remove_model
from featherserve.layers.code_package import build_function_zip
from featherserve.layers.pool_layer import POOL_LAYER_FILE
from featherserve.project import project_store
from featherserve.stack_costs import FIXED_ZIPS, StackCosts, _placeholder_zip, package
from featherserve.stack_limits import MAX_RESOURCES, MAX_TEMPLATE_BYTES, template_counts
from featherserve.support.processes import ROOT, run_cli, tool_env
from model_store import LocalStore
from model_store.exceptions import ModelStoreError
from model_store.stores import open_store
from tests.support.deploy import (
    MOCK_REGION,
    build_model_layers,
    built_layers,
    mock_aws_env,
    mock_client,
    moto_server,
    publish_tiny_models,
    snapshot_service,
)
from tests.support.pool import build_pool_layer, model_names
from tests.support.stack import SLS
from tests.support.tiny_models import publish_tiny_tabular

POOLED = 200


def tree_hashes(*folders: Path) -> dict[str, str]:
    return {f"{folder.name}/{path.relative_to(folder)}":
            hashlib.sha256(path.read_bytes()).hexdigest()
            for folder in folders for path in sorted(folder.rglob("*"))
            if path.is_file() and "__pycache__" not in path.parts}


def service_copy(tmp: Path) -> tuple[Path, LocalStore]:
    store = tmp / "store"
    publish_tiny_models(store)
    service = snapshot_service(tmp / "service", mock_aws=False)
    layers = service / ".layers"
    layers.mkdir()
    for name in (*FIXED_ZIPS, POOL_LAYER_FILE,
                 *(f"model-{m}.zip" for m in served_models(service / "handlers"))):
        _placeholder_zip(layers / name)
    return service, LocalStore(store)


def package_copy(service: Path, out: Path) -> tuple[dict[str, object], int, bytes]:
    template, size, output = package(service, out, layers=service / ".layers")
    assert template, output
    body = (out / "cloudformation-template-update-stack.json").read_bytes()
    # What a package run changes by itself: its artifacts' upload folder and the API's
    # deployment id (both a time), and the order the framework lists the functions' versions.
    body = re.sub(rb'"serverless/featherserve/prod/[^/"]+/', b'"ARTIFACTS/', body)
    body = re.sub(rb"ApiGatewayDeployment\d+", b"ApiGatewayDeploymentTIME", body)
    return template, size, json.dumps(json.loads(body), sort_keys=True).encode()


def package_prod(service: Path, out: Path, *params: str) -> dict[str, Any]:
    """`sls package --stage prod` of a project copy with its placeholder layers (``params``:
    ``--param=...``), and the template it wrote."""
    result = run_cli([SLS, "package", "--stage", "prod", "--package", str(out), *params],
                     cwd=service,
                     env=tool_env({"FEATHERSERVE_LAYERS_DIR": str(service / ".layers")}),
                     timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
    template: dict[str, Any] = json.loads(
        (out / "cloudformation-template-update-stack.json").read_text())
    return template


def test_no_pooled_model_leaves_generated_files_and_template_byte_identical(tmp_path):
    service, store = service_copy(tmp_path)
    handlers, generated = service / "handlers", service / "generated"
    shipped = tree_hashes(handlers, generated)
    assert shipped == tree_hashes(ROOT / "handlers", ROOT / "generated")
    assert read_pooled(handlers) == {}
    # The codegen, run again with no pooled model, writes exactly the committed files.
    assert regenerate(open_store(project_store()), handlers_dir=handlers,
                      out_dir=generated, check=True) == []
    # (The copy's tiny models have other descriptions: the baseline is their files.)
    regenerate(store, handlers_dir=handlers, out_dir=generated)
    shipped = tree_hashes(handlers, generated)
    _, _, before = package_copy(service, tmp_path / "before")
    # A pooled model added then removed leaves every file (and the template) as it was.
    publish_tiny_tabular(tmp_path / "store", "pooled_one")
    written = add_model("pooled_one", store, handlers_dir=handlers, out_dir=generated,
                        pooled=True)
    assert handlers / "pool_models.json" in written
    assert 'serve_pool()' in (handlers / "pool.py").read_text()
    remove_model("pooled_one", store, handlers_dir=handlers, out_dir=generated)
    assert tree_hashes(handlers, generated) == shipped
    _, _, after = package_copy(service, tmp_path / "after")
    assert after == before


def test_two_hundred_pooled_models_package_under_cloudformations_limits(tmp_path):
    service, store = service_copy(tmp_path)
    handlers, generated = service / "handlers", service / "generated"
    names = model_names(POOLED)
    for name in names:
        publish_tiny_tabular(tmp_path / "store", name)
    for name in names:
        add_model(name, store, handlers_dir=handlers, out_dir=generated, pooled=True)
    assert read_pooled(handlers) == dict.fromkeys(names, "tabular")
    assert served_models(handlers) == ["breast_cancer", "digits"]
    pool_list = json.loads((handlers / "pool_models.json").read_text())
    assert [e["name"] for e in pool_list["models"]] == names

    template, size, _ = package_copy(service, tmp_path / "out")
    counts = template_counts(template, size)
    assert counts["resources"] < MAX_RESOURCES, counts
    assert size < MAX_TEMPLATE_BYTES, counts
    resources: dict[str, dict[str, Any]] = template["Resources"]  # type: ignore[assignment]
    functions = [key for key, value in resources.items()
                 if value["Type"] == "AWS::Lambda::Function"]
    # The two dedicated models (HTTP + batch), the web app, and ONE pool (+ batch).
    assert sorted(functions) == sorted([
        "BreastUnderscorecancerLambdaFunction",
        "BreastUnderscorecancerDashbatchLambdaFunction",
        "DigitsLambdaFunction", "DigitsDashbatchLambdaFunction", "WebLambdaFunction",
        "PoolLambdaFunction", "PoolDashbatchLambdaFunction"])
    # Both attach the runtime layer, then the packed pool-models layer; memory is a param.
    for key in ("PoolLambdaFunction", "PoolDashbatchLambdaFunction"):
        props = resources[key]["Properties"]
        assert props["Layers"] == [{"Ref": "RuntimeLambdaLayer"},
                                   {"Ref": "PoolModelsLambdaLayer"}]
    pool = resources["PoolLambdaFunction"]["Properties"]
    assert pool["Handler"] == "handlers/pool.handler" and pool["MemorySize"] == 1024
    assert pool["Environment"]["Variables"]["FEATHERSERVE_MAX_BODY_BYTES"] == "262144"
    assert resources["PoolModelsLambdaLayer"]["Type"] == "AWS::Lambda::LayerVersion"
    # One {name} route pair for every pooled model, beside the dedicated literal paths.
    paths = sorted(str(v["Properties"]["PathPart"]) for v in resources.values()
                   if v["Type"] == "AWS::ApiGateway::Resource")
    assert paths.count("{name}") == 2  # /models/{name} and /demo/{name}
    assert "breast_cancer" in paths and "digits" in paths
    assert not any(name in paths for name in names)
    # One bulk queue for the pool, a notification per pooled model naming it.
    queues = [k for k, v in resources.items() if v["Type"] == "AWS::SQS::Queue"]
    assert len(queues) == 6, queues
    bucket = resources["BulkBucket"]["Properties"]
    configs = bucket["NotificationConfiguration"]["QueueConfigurations"]
    to_pool = [c for c in configs if c["Queue"]["Fn::GetAtt"][0] == "BulkPoolQueue"]
    assert len(to_pool) == POOLED
    # The predict throttle covers the pool's route too: API Gateway throttles a resource
    # path, so the pooled models share one (a {name} route has one path for all of them).
    (deployment,) = [v for v in resources.values() if v["Type"] == "AWS::ApiGateway::Deployment"]
    settings = deployment["Properties"]["StageDescription"]["MethodSettings"]
    assert {"ResourcePath": "/~1models~1{name}~1predict", "HttpMethod": "*",
            "ThrottlingRateLimit": 100, "ThrottlingBurstLimit": 200} in settings
    print(f"\n{POOLED} pooled + 2 dedicated models: {counts}")
    estimate = StackCosts.load().estimate(served_models(handlers), pooled=POOLED)
    assert counts["resources"] == estimate["resources"], (counts, estimate)


def test_stack_costs_estimate_the_pooled_stage_as_packaged(tmp_path):
    # (The 200-model stage above is packaged by the same codegen; here 50 pooled models.)
    service, store = service_copy(tmp_path)
    handlers, generated = service / "handlers", service / "generated"
    names = model_names(50)
    for name in names:
        publish_tiny_tabular(tmp_path / "store", name)
        add_model(name, store, handlers_dir=handlers, out_dir=generated, pooled=True)
    template, size, _ = package_copy(service, tmp_path / "out")
    counts = template_counts(template, size)
    estimate = StackCosts.load().estimate(served_models(handlers), pooled=len(names))
    for key in ("resources", "outputs", "parameters", "mappings"):
        assert counts[key] == estimate[key], (key, counts, estimate)
    assert abs(counts["templateBytes"] - estimate["templateBytes"]) < 0.03 * size


def test_the_mocked_deploy_creates_the_pool_function_route_and_queue(tmp_path):
    """`sls deploy` to moto_server of the 200-pooled-model stage (as test_deploy_mock.py
    deploys the shipped one): the pool function, its {name} route, its bulk queue and a
    notification per pooled model exist."""
    store_root, layers = tmp_path / "store", tmp_path / "layers"
    publish_tiny_models(store_root)
    build_model_layers(store_root, layers)
    shutil.copy2(built_layers("runtime.zip") / "runtime.zip", layers / "runtime.zip")
    names = model_names(POOLED)
    for name in names:
        publish_tiny_tabular(store_root, name)
    service = snapshot_service(tmp_path / "service")
    store = LocalStore(store_root)
    for name in names:
        add_model(name, store, handlers_dir=service / "handlers",
                  out_dir=service / "generated", pooled=True)
    build_pool_layer(store_root, names, layers)  # as `make layers` packs it
    build_function_zip(layers, None, root=service)
    with moto_server(tmp_path / "moto") as server:
        env = mock_aws_env(server.endpoint, layers, tmp_path / "home")
        result = run_cli([SLS, "deploy", "--stage", "mock", "--region", MOCK_REGION],
                         env=env, cwd=service, timeout=400)
        assert result.returncode == 0, result.stdout + result.stderr
        log = server.log.read_text(errors="replace")
        assert "Traceback" not in log, log[log.find("Traceback") - 2000:][:6000]
        lam = mock_client("lambda", server.endpoint)
        config = lam.get_function_configuration(FunctionName="featherserve-mock-pool")
        assert config["Handler"] == "handlers/pool.handler"
        assert lam.get_alias(FunctionName="featherserve-mock-pool", Name="live")
        # The packed layer is published (the mock attaches no layer to a function:
        # tests/support/mock_aws.js; the template's Layers are checked above).
        packed = lam.list_layer_versions(LayerName="featherserve-mock-pool-models")
        assert len(packed["LayerVersions"]) == 1
        sqs = mock_client("sqs", server.endpoint)
        assert sqs.get_queue_url(QueueName="featherserve-mock-pool-bulk")["QueueUrl"]
        api = mock_client("apigateway", server.endpoint)
        (rest,) = api.get_rest_apis()["items"]
        paths = {r["path"] for r in api.get_resources(restApiId=rest["id"], limit=500)["items"]}
        assert {"/models/{name}", "/models/{name}/predict", "/models/breast_cancer",
                "/models/digits/predict"} <= paths
        assert not any(f"/models/{name}" in paths for name in names)
        stack = mock_client("cloudformation", server.endpoint).describe_stacks(
            StackName="featherserve-mock")["Stacks"][0]
        bucket = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}["BulkBucketName"]
        notified = mock_client("s3", server.endpoint).get_bucket_notification_configuration(
            Bucket=bucket)["QueueConfigurations"]
        pool_prefixes = {c["Filter"]["Key"]["FilterRules"][0]["Value"] for c in notified
                         if c["QueueArn"].endswith(":featherserve-mock-pool-bulk")}
        assert pool_prefixes == {f"in/{name}/" for name in names}


def test_a_pool_over_an_s3_store_may_read_any_model_of_that_store_only(tmp_path):
    service, store = service_copy(tmp_path)
    for name in model_names(3):
        publish_tiny_tabular(tmp_path / "store", name)
        add_model(name, store, handlers_dir=service / "handlers",
                  out_dir=service / "generated", pooled=True)
    template = package_prod(service, tmp_path / "out",
                            "--param=modelSource=s3://store-bucket/team/")
    role = template["Resources"]["PoolIamRole"]["Properties"]
    statements = role["Policies"][0]["PolicyDocument"]["Statement"]
    flat = json.dumps(statements)
    assert "arn:${AWS::Partition}:s3:::store-bucket/team/models/*/*" in flat
    assert "arn:${AWS::Partition}:s3:::store-bucket/team/blobs/sha256/*" in flat
    (listing,) = [s for s in statements if s["Action"] == ["s3:ListBucket"]]
    assert listing["Condition"]["StringLike"]["s3:prefix"] == ["team/models/*/*"]
    assert not any("s3:PutObject" in s["Action"] for s in statements)
    # A dedicated model's role still reads its own model only.
    dedicated = json.dumps(template["Resources"]["BreastUnderscorecancerIamRole"])
    assert "team/models/breast_cancer/*" in dedicated and "models/*/" not in dedicated


def test_a_stage_pools_a_tabular_and_an_image_model_in_one_function(tmp_path):
    """One {name} route pair reaches one function (API Gateway's REST API keeps one
    integration per method of /models/{name}): the one pool serves both kinds, with the
    image kind's body limit once an image model is pooled and its own memory param."""
    service, _ = service_copy(tmp_path)
    handlers, generated = service / "handlers", service / "generated"
    tiny = tmp_path / "store"
    publish_tiny_tabular(tiny, "pooled_tab")
    add_model("pooled_tab", LocalStore(tiny), handlers_dir=handlers, out_dir=generated,
              pooled=True)
    # A copy of the project's store: pooling digits sets its `live` alias in the store.
    store = LocalStore(shutil.copytree(project_store(), tmp_path / "project_store"))
    remove_model("digits", store, handlers_dir=handlers, out_dir=generated)
    add_model("digits", store, handlers_dir=handlers, out_dir=generated, pooled=True)
    assert read_pooled(handlers) == {"pooled_tab": "tabular", "digits": "image"}
    assert sorted(p.name for p in handlers.glob("pool*")) == ["pool.py", "pool_models.json"]
    functions = (generated / "functions.yml").read_text()
    assert functions.count("handler: handlers/pool.handler") == 1
    _placeholder_zip(service / ".layers" / "model-digits.zip")
    template = package_prod(service, tmp_path / "out", "--param=poolMemorySize=2048")
    resources = template["Resources"]
    pools = [k for k, v in resources.items() if v["Type"] == "AWS::Lambda::Function"
             and v["Properties"]["Handler"].startswith("handlers/pool")]
    assert sorted(pools) == ["PoolDashbatchLambdaFunction", "PoolLambdaFunction"]
    pool = resources["PoolLambdaFunction"]["Properties"]
    assert pool["Environment"]["Variables"]["FEATHERSERVE_MAX_BODY_BYTES"] == "4500000"
    assert pool["MemorySize"] == 2048
    assert "DigitsLambdaFunction" not in resources
    # digits is reached through the {name} route now, no literal path of its own.
    paths = {str(v["Properties"]["PathPart"]) for v in resources.values()
             if v["Type"] == "AWS::ApiGateway::Resource"}
    assert "digits" not in paths and "breast_cancer" in paths and "{name}" in paths
    # Removing the last pooled model deletes the entry module and the pool list.
    remove_model("digits", store, handlers_dir=handlers, out_dir=generated)
    remove_model("pooled_tab", LocalStore(tiny), handlers_dir=handlers, out_dir=generated)
    assert not list(handlers.glob("pool*"))
    assert "pool" not in (generated / "layers.yml").read_text()


def test_pool_cannot_name_a_model(tmp_path):
    service, store = service_copy(tmp_path)
    publish_tiny_tabular(tmp_path / "store", "pool")
    for pooled in (False, True):
        with pytest.raises(ModelStoreError, match="'pool' cannot name a served model"):
            add_model("pool", store, handlers_dir=service / "handlers",
                      out_dir=service / "generated", pooled=pooled)
