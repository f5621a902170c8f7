"""Pooled models in the template (issue 19): `featherserve add NAME --pooled` in a project
copy, `sls package --stage prod`, and what the template holds; with no pooled model,
nothing the shipped project generates or packages changes."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from featherserve.codegen.handler_modules import served_models
from featherserve.codegen.pool_files import read_pooled
from featherserve.codegen.service_files import add_model, regenerate, remove_model
from featherserve.project import project_store
from featherserve.stack_costs import FIXED_ZIPS, StackCosts, _placeholder_zip, package
from featherserve.stack_limits import MAX_RESOURCES, MAX_TEMPLATE_BYTES, template_counts
from featherserve.support.processes import ROOT
from model_store import LocalStore
from model_store.stores import open_store
from tests.support.deploy import publish_tiny_models, snapshot_service
from tests.support.pool import model_names
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
    for name in (*FIXED_ZIPS, *(f"model-{m}.zip" for m in served_models(service / "handlers"))):
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
    assert (handlers / "pool_tabular.py").is_file()
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
    resources: dict[str, dict[str, object]] = template["Resources"]  # type: ignore[assignment]
    functions = [key for key, value in resources.items()
                 if value["Type"] == "AWS::Lambda::Function"]
    # The two dedicated models (HTTP + batch), the web app, and ONE tabular pool (+ batch).
    assert sorted(functions) == sorted([
        "BreastUnderscorecancerLambdaFunction",
        "BreastUnderscorecancerDashbatchLambdaFunction",
        "DigitsLambdaFunction", "DigitsDashbatchLambdaFunction", "WebLambdaFunction",
        "PoolDashtabularLambdaFunction", "PoolDashtabularDashbatchLambdaFunction"])
    # One {name} route pair for every pooled model, beside the dedicated literal paths.
    paths = sorted(str(v["Properties"]["PathPart"]) for v in resources.values()  # type: ignore[index]
                   if v["Type"] == "AWS::ApiGateway::Resource")
    assert paths.count("{name}") == 2  # /models/{name} and /demo/{name}
    assert "breast_cancer" in paths and "digits" in paths
    assert not any(name in paths for name in names)
    # One bulk queue for the pool, a notification per pooled model naming it.
    queues = [k for k, v in resources.items() if v["Type"] == "AWS::SQS::Queue"]
    assert len(queues) == 6, queues
    bucket = resources["BulkBucket"]["Properties"]
    configs = bucket["NotificationConfiguration"]["QueueConfigurations"]  # type: ignore[index]
    to_pool = [c for c in configs if c["Queue"]["Fn::GetAtt"][0] == "BulkPoolTabularQueue"]
    assert len(to_pool) == POOLED
    # Adding 200 more models costs nothing but the pool list's lines: same resource count.
    print(f"\n{POOLED} pooled + 2 dedicated models: {counts}")


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
