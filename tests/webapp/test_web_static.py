"""``featherserve web-static`` against moto in process: a deployed stage's stack (a real
CloudFormation stack in moto, with the static bucket and its output), the real files."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import numpy as np
import pytest

from featherserve.cli import main
from featherserve.support.processes import ROOT
from featherserve.web_static import BUCKET_OUTPUT, ORT_DIST
from model_store import LocalStore
from model_store.base import PROJECT_STORE
from tests.support.fake_s3 import REGION
from tests.support.tiny_models import publish_tiny_tabular
from webapp.static_files import IMMUTABLE, ORT_FILES, ORT_WEB_VERSION, app_version

STACK_TEMPLATE = {
    "Resources": {"WebStaticBucket": {"Type": "AWS::S3::Bucket"}},
    "Outputs": {BUCKET_OUTPUT: {"Value": {"Ref": "WebStaticBucket"}}},
}


@pytest.fixture
def stage(aws) -> str:
    """A deployed stage's stack in moto; its static bucket's name."""
    cloudformation = boto3.client("cloudformation", region_name=REGION)
    cloudformation.create_stack(StackName="featherserve-dev",
                                TemplateBody=json.dumps(STACK_TEMPLATE))
    outputs = cloudformation.describe_stacks(StackName="featherserve-dev")["Stacks"][0]["Outputs"]
    return str(outputs[0]["OutputValue"])


@pytest.fixture
def index(tmp_path) -> Path:
    """The layer build's models.json for the project's models (their latest versions)."""
    store = LocalStore(PROJECT_STORE)
    models = {name: store.manifest(name) for name in store.names()}
    path = tmp_path / "models.json"
    path.write_text(json.dumps({n: {"version": m.version, "sha256": m.sha256}
                                for n, m in models.items()}))
    return path


def objects(bucket: str) -> dict[str, dict[str, str]]:
    s3 = boto3.client("s3", region_name=REGION)
    found = {}
    for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
        head = s3.head_object(Bucket=bucket, Key=item["Key"])
        found[item["Key"]] = {"type": head["ContentType"], "cache": head["CacheControl"]}
    return found


def test_uploads_every_file_the_pages_load_once(stage, index, capsys):
    assert main(["web-static", "--stage", "dev", "--region", REGION,
                 "--index", str(index)]) == 0
    stored = objects(stage)
    version = app_version()
    expected_app = {f"app/{version}/{p.name}" for p in (ROOT / "webapp" / "static").iterdir()}
    assert expected_app <= set(stored)
    assert {f"ort/{ORT_WEB_VERSION}/{name}" for name in ORT_FILES} <= set(stored)
    store = LocalStore(PROJECT_STORE)
    for name in store.names():
        manifest = store.manifest(name)
        key = f"models/{name}/{manifest.sha256}.onnx"
        body = boto3.client("s3", region_name=REGION).get_object(Bucket=stage, Key=key)
        assert body["Body"].read() == store.model_path(name).read_bytes()
    assert len(stored) == len(expected_app) + len(ORT_FILES) + len(store.names())
    assert stored[f"app/{version}/demo.js"]["type"].startswith("text/javascript")
    assert stored[f"ort/{ORT_WEB_VERSION}/ort-wasm-simd-threaded.wasm"]["type"] \
        == "application/wasm"
    assert {o["cache"] for o in stored.values()} == {IMMUTABLE}
    wasm = boto3.client("s3", region_name=REGION).head_object(
        Bucket=stage, Key=f"ort/{ORT_WEB_VERSION}/ort-wasm-simd-threaded.wasm")
    assert wasm["ContentLength"] == (ORT_DIST / "ort-wasm-simd-threaded.wasm").stat().st_size
    assert f"{len(stored)} uploaded" in capsys.readouterr().err
    # Content-addressed: a second run finds everything there and uploads nothing.
    assert main(["web-static", "--stage", "dev", "--region", REGION,
                 "--index", str(index)]) == 0
    assert f"0 uploaded (0.0 MB), {len(stored)} already there" in capsys.readouterr().err


def test_a_model_that_is_not_the_deployed_one_is_refused(stage, tmp_path, capsys):
    index = tmp_path / "models.json"
    index.write_text(json.dumps({"digits": {"version": "1", "sha256": "0" * 64}}))
    assert main(["web-static", "--stage", "dev", "--region", REGION,
                 "--index", str(index)]) == 1
    assert "is not the deployed one" in capsys.readouterr().err


def test_a_stage_that_is_not_deployed_is_named(aws, index, capsys):
    assert main(["web-static", "--stage", "nope", "--region", REGION,
                 "--index", str(index)]) == 1
    err = capsys.readouterr().err
    assert "no deployed stack featherserve-nope" in err and "Traceback" not in err


def test_without_a_layer_build_it_says_what_to_run(stage, tmp_path, capsys):
    assert main(["web-static", "--stage", "dev", "--region", REGION,
                 "--index", str(tmp_path / "none.json")]) == 1
    assert "run `make layers`" in capsys.readouterr().err


def test_pooled_models_files_are_uploaded_at_their_live_version(stage, tmp_path, capsys):
    """A pooled model has no model layer of its own (models.json lists the dedicated ones):
    its file is uploaded at the version its pool serves, the store's `live` alias, which is
    the version the web catalog shows and the page's browser half loads."""
    from featherserve.codegen.pool_files import write_pooled

    store_root = tmp_path / "store"
    first = publish_tiny_tabular(store_root, "churn_eu")
    newer = publish_tiny_tabular(store_root, "churn_eu", weights=np.full((3, 2), 2.0,
                                                                            np.float32))
    assert newer.sha256 != first.sha256
    LocalStore(store_root).set_alias("churn_eu", "live", first.version)
    handlers = tmp_path / "handlers"
    handlers.mkdir()
    empty_index = tmp_path / "models.json"
    empty_index.write_text("{}")
    args = ["web-static", "--stage", "dev", "--region", REGION, "--index", str(empty_index),
            "--store", str(store_root), "--handlers", str(handlers)]
    assert main([*args, "--dry-run"]) == 0
    assert "churn_eu" not in capsys.readouterr().out  # nothing pooled yet: nothing uploaded

    write_pooled(handlers, {"churn_eu": "tabular"})
    assert main(args) == 0
    s3 = boto3.client("s3", region_name=REGION)
    body = s3.get_object(Bucket=stage, Key=f"models/churn_eu/{first.sha256}.onnx")["Body"]
    assert body.read() == LocalStore(store_root).model_path("churn_eu", first.version) \
        .read_bytes()
    assert f"models/churn_eu/{newer.sha256}.onnx" not in objects(stage)

    (handlers / "pool_models.json").write_text("{not json")
    assert main(args) == 1
    assert "pool" in capsys.readouterr().err
