"""``featherserve`` store commands against S3 (moto, in process): a release round trip, errors.

Every command runs through ``cli.main`` with real boto3 clients; nothing leaves the machine
(moto intercepts, or the endpoint is a closed port on 127.0.0.1).
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import boto3
import numpy as np
import pytest

import featherserve.store_cli as store_cli
from featherserve.codegen.handler_modules import write_handler
from model_store import LocalStore, Manifest
from model_store.base import PROJECT_STORE, ModelStore
from model_store.integrity import sha256_file
from model_store.s3 import S3Store
from model_store.s3.client import S3ClientConfig
from model_store.stores import open_store
from tests.support.cli import run
from tests.support.fake_s3 import (
    BUCKET,
    REGION,
    closed_endpoint,
    fake_aws_environment,
    remove_credentials,
)
from tests.support.tiny_models import publish_tiny_tabular

S3_URL = f"s3://{BUCKET}/team"
MISSING_BUCKET_URL = "s3://no-such-bucket/team"
# One attempt and short timeouts: a failure shows at once, never after retries and sleeps.
NO_RETRY = S3ClientConfig(max_attempts=1, connect_timeout=1.0, read_timeout=1.0)


def assert_one_line_error(code: int, out: str, err: str, message: str) -> None:
    assert code == store_cli.EXIT_ERROR and out == ""
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert message in err, err
    assert "Traceback" not in err


def blob_keys() -> list[str]:
    listing = boto3.client("s3", region_name=REGION).list_objects_v2(
        Bucket=BUCKET, Prefix="team/blobs/")
    return sorted(entry["Key"] for entry in listing.get("Contents", ()))


@pytest.fixture
def source(tmp_path) -> LocalStore:
    """A local store holding one version of the tiny test model."""
    publish_tiny_tabular(tmp_path / "source")
    return LocalStore(tmp_path / "source")


@pytest.fixture
def published(aws, source: LocalStore, capsys) -> LocalStore:
    """``tiny`` v1 published to S3_URL through the CLI."""
    assert run(capsys, "publish", "tiny", "--from", str(source.root), "--to", S3_URL)[0] == 0
    return source


# -- the release round trip -------------------------------------------------------------


def test_publish_promote_rollback_pull_round_trip(aws, source, tmp_path, capsys):
    first = source.manifest("tiny")
    publish = ["publish", "tiny", "--from", str(source.root), "--to", S3_URL]
    code, out, err = run(capsys, *publish)
    assert (code, err) == (0, "")
    assert out == f"tiny v1 ({source.root}) -> {S3_URL}: published as version 1\n"
    # The same bytes again: nothing uploaded, the existing version reported.
    code, out, _ = run(capsys, *publish)
    assert code == 0 and out.rstrip().endswith(
        f"already there (same sha256 {first.sha256[:12]}…) as version 1")
    assert blob_keys() == [f"team/blobs/sha256/{first.sha256}"]

    code, out, _ = run(capsys, "list", "--store", S3_URL)
    assert code == 0 and out.split() == ["tiny", "versions:", "1", "aliases:", "latest=1"]
    code, out, _ = run(capsys, "show", "tiny", "--store", S3_URL)
    shown = Manifest.from_json(out)
    assert code == 0 and shown.sha256 == first.sha256 and shown.version == "1"
    assert shown.input == first.input and shown.labels == first.labels

    assert run(capsys, "promote", "tiny", "1", "--store", S3_URL) == (
        0, "tiny prod: (unset) -> 1\n", "")

    # A retrained model: new bytes, the next version in S3.
    second = publish_tiny_tabular(source.root, weights=np.full((3, 2), 0.25))
    assert second.version == "2" and second.sha256 != first.sha256
    code, out, _ = run(capsys, *publish)
    assert code == 0 and out.rstrip().endswith("published as version 2")
    assert len(blob_keys()) == 2
    assert run(capsys, "promote", "tiny", "2", "--store", S3_URL) == (
        0, "tiny prod: 1 -> 2\n", "")
    code, out, _ = run(capsys, "list", "--json", "--store", S3_URL)
    listed = json.loads(out)
    assert code == 0 and listed["store"] == S3_URL
    assert listed["models"] == [{"name": "tiny", "versions": ["1", "2"],
                                 "aliases": {"latest": "2", "prod": "2"}}]

    assert run(capsys, "rollback", "tiny", "--store", S3_URL) == (0, "tiny prod: 2 -> 1\n", "")
    assert S3Store(S3_URL).resolve("tiny", "prod") == "1"
    assert_one_line_error(*run(capsys, "rollback", "tiny", "--store", S3_URL),
                          "has no earlier version to roll back to")

    dest = tmp_path / "pulled"
    code, out, _ = run(capsys, "pull", "tiny", "prod", "--from", S3_URL, "--dest", str(dest))
    assert code == 0
    assert out == f"tiny v1 ({S3_URL}) -> {dest / 'tiny' / '1'} (aliases here: prod)\n"
    pulled = LocalStore(dest)
    assert pulled.aliases("tiny") == {"latest": "1", "prod": "1"}
    opened = pulled.open("tiny", "prod")  # verifies the sha256 itself
    assert opened.manifest.sha256 == first.sha256
    assert sha256_file(pulled.model_path("tiny", "prod")) == first.sha256
    assert opened.model_bytes == source.open("tiny", "1").model_bytes
    # And latest, into the same folder: both versions are there now.
    assert run(capsys, "pull", "tiny", "--store", S3_URL, "--dest", str(dest))[0] == 0
    assert pulled.versions("tiny") == ["1", "2"]
    assert sha256_file(pulled.model_path("tiny", "2")) == second.sha256


def test_publish_defaults_to_the_project_store(aws, tmp_path, capsys, monkeypatch):
    """The shipped models if the project has any; otherwise a tiny one stands in for them."""
    project = LocalStore(PROJECT_STORE)
    if not project.names():
        publish_tiny_tabular(tmp_path / "project")
        monkeypatch.setattr(store_cli, "PROJECT_STORE", tmp_path / "project")
        project = LocalStore(tmp_path / "project")
    name = project.names()[0]
    expected = project.manifest(name)
    code, out, err = run(capsys, "publish", name, "--to", S3_URL)
    assert (code, err) == (0, ""), err
    assert out.startswith(f"{name} v{expected.version} ({project.root}) -> {S3_URL}: ")
    in_s3 = S3Store(S3_URL).manifest(name)
    assert in_s3.sha256 == expected.sha256 and in_s3.bytes == expected.bytes
    assert S3Store(S3_URL).open(name).model_bytes == project.open(name).model_bytes


def test_publish_from_s3_to_a_folder_and_alias_commands(published, tmp_path, capsys):
    target = tmp_path / "copy"
    code, out, _ = run(capsys, "publish", "tiny", "--from", S3_URL, "--to", str(target))
    assert code == 0 and out.rstrip().endswith("published as version 1")
    assert LocalStore(target).manifest("tiny").sha256 == published.manifest("tiny").sha256
    code, out, _ = run(capsys, "alias", "tiny", "canary", "1", "--store", S3_URL)
    assert code == 0 and out == "tiny: canary -> version 1\n"
    code, out, _ = run(capsys, "promote", "tiny", "canary", "--alias", "staging",
                       "--store", S3_URL)
    assert code == 0 and out == "tiny staging: (unset) -> 1\n"


def test_layers_read_models_straight_from_s3(published, tmp_path, capsys):
    run(capsys, "promote", "tiny", "1", "--store", S3_URL)
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "handler.py").write_text("def handler(event, context): ...\n")
    (tmp_path / "handlers").mkdir()
    write_handler("tiny", "tabular-classification", tmp_path / "handlers")
    code, out, _ = run(capsys, "layers", "--store", S3_URL, "--out", str(tmp_path / "out"),
                       "--code", str(tmp_path / "code"), "--skip-runtime",
                       "--handlers", str(tmp_path / "handlers"), "--models", "tiny@prod")
    assert code == store_cli.EXIT_OK, out
    with zipfile.ZipFile(tmp_path / "out" / "model-tiny.zip") as archive:
        names = archive.namelist()
        assert "models/tiny/1/model.onnx" in names and "models/tiny/aliases.json" in names
        model = archive.read("models/tiny/1/model.onnx")
    assert model == published.open("tiny", "1").model_bytes


# -- errors: one line on stderr, exit 1 ------------------------------------------------------


@pytest.mark.parametrize("argv", [
    ["list", "--store", MISSING_BUCKET_URL],
    ["show", "tiny", "--store", MISSING_BUCKET_URL],
    ["promote", "tiny", "1", "--store", MISSING_BUCKET_URL],
    ["rollback", "tiny", "--store", MISSING_BUCKET_URL],
    ["pull", "tiny", "--from", MISSING_BUCKET_URL, "--dest", "pulled"],
    ["publish", "tiny", "--from", "SOURCE", "--to", MISSING_BUCKET_URL],
])
def test_a_missing_bucket_is_named(aws, source, capsys, monkeypatch, tmp_path, argv):
    monkeypatch.chdir(tmp_path)
    argv = [str(source.root) if item == "SOURCE" else item for item in argv]
    assert_one_line_error(*run(capsys, *argv),
                          "bucket 'no-such-bucket' does not exist (or is in another account)")
    assert not (tmp_path / "pulled").exists()


@pytest.mark.parametrize("argv", [
    ["show", "nope", "--store", S3_URL],
    ["promote", "nope", "1", "--store", S3_URL],
    ["rollback", "nope", "--store", S3_URL],
    ["pull", "nope", "--from", S3_URL, "--dest", "pulled"],
    ["publish", "nope", "--from", S3_URL, "--to", "copy"],
])
def test_a_missing_model_lists_the_models_there(published, capsys, monkeypatch, tmp_path,
                                                argv):
    monkeypatch.chdir(tmp_path)
    assert_one_line_error(*run(capsys, *argv),
                          f"no model named 'nope' in {S3_URL} (models here: tiny)")
    assert not (tmp_path / "pulled").exists() and not (tmp_path / "copy").exists()


@pytest.mark.parametrize(("argv", "message"), [
    (["show", "tiny", "9", "--store", S3_URL], "model 'tiny' has no version 9; versions: 1"),
    (["promote", "tiny", "9", "--store", S3_URL], "has no version 9; versions: 1"),
    (["pull", "tiny", "9", "--from", S3_URL, "--dest", "pulled"], "has no version 9"),
    (["publish", "tiny", "9", "--from", S3_URL, "--to", "copy"], "has no version 9"),
    (["show", "tiny", "prod", "--store", S3_URL], "has no alias 'prod'; aliases: latest"),
    (["rollback", "tiny", "--store", S3_URL], "has no alias 'prod' to roll back"),
])
def test_a_missing_version_lists_the_versions(published, capsys, monkeypatch, tmp_path, argv,
                                              message):
    monkeypatch.chdir(tmp_path)
    assert_one_line_error(*run(capsys, *argv), message)
    assert not (tmp_path / "pulled").exists() and not (tmp_path / "copy").exists()


@pytest.fixture
def no_credentials(monkeypatch, tmp_path) -> None:
    """No keys anywhere, no mock_aws, and an endpoint on a closed local port: if a request
    were ever sent it would be refused at once, never reach AWS."""
    fake_aws_environment(monkeypatch, tmp_path / "aws")  # empty config files, no metadata
    remove_credentials(monkeypatch)
    monkeypatch.setenv("AWS_ENDPOINT_URL", closed_endpoint())

    def short_timeouts(location: str | Path) -> ModelStore:
        text = str(location)
        return S3Store(text, config=NO_RETRY) if text.startswith("s3://") else open_store(text)

    monkeypatch.setattr(store_cli, "open_store", short_timeouts)


@pytest.mark.parametrize("argv", [
    ["list", "--store", S3_URL],
    ["show", "tiny", "--store", S3_URL],
    ["promote", "tiny", "1", "--store", S3_URL],
    ["pull", "tiny", "--from", S3_URL, "--dest", "pulled"],
    ["publish", "tiny", "--from", "SOURCE", "--to", S3_URL],
])
def test_no_credentials_says_how_to_provide_them(no_credentials, source, capsys, monkeypatch,
                                                 tmp_path, argv):
    monkeypatch.chdir(tmp_path)
    argv = [str(source.root) if item == "SOURCE" else item for item in argv]
    code, out, err = run(capsys, *argv)
    assert_one_line_error(code, out, err, "no usable AWS credentials")
    assert "AWS_ACCESS_KEY_ID" in err and "AWS_PROFILE" in err
    assert not (tmp_path / "pulled").exists()


def test_an_unreachable_endpoint_is_one_line(aws, monkeypatch, capsys):
    monkeypatch.setenv("AWS_ENDPOINT_URL", closed_endpoint())
    monkeypatch.setattr(store_cli, "open_store",
                        lambda location: S3Store(location, config=NO_RETRY))
    assert_one_line_error(*run(capsys, "list", "--store", S3_URL), "cannot reach S3")
