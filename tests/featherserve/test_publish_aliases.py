"""`featherserve publish` carries aliases across (issue 19): each source alias naming the
copied version is set in the destination when the destination has none for the model, and
an alias the destination has is never moved (promote's job), with one line per alias saying
which. A pooled model published to an S3 store (moto, in process) with its `live` alias is
answered by the real pool handler reading that store; without it, the pool's 503 is what
publish warned about.
"""

from __future__ import annotations

import re
import shlex
import uuid
from pathlib import Path

import numpy as np
import pytest

import featherserve.cli as cli
from featherserve.codegen.pool_files import POOL_ALIAS, POOL_LIST_FILE, write_pooled
from featherserve.support.events import response_json
from featherserve.support.processes import ROOT
from model_runtime import Settings
from model_runtime.pool import PoolList, PoolSettings, serve_pool
from model_store.local import LocalStore
from model_store.manifest import Manifest
from model_store.s3 import S3Store
from tests.support.fake_s3 import BUCKET
from tests.support.pool import ManualClock, predict_event, row
from tests.support.tiny_models import publish_tiny_tabular

pytestmark = pytest.mark.filterwarnings("ignore:Dimension .model. has already been added")

S3_URL = f"s3://{BUCKET}/stage"
TTL = 60


def publish(root: Path, name: str, seed: int) -> Manifest:
    """A new version of ``name`` (other weights: the same bytes would be the same version)."""
    return publish_tiny_tabular(root, name, np.random.default_rng(seed).normal(size=(3, 2)))


@pytest.fixture
def handlers(tmp_path: Path) -> Path:
    """A project's handlers folder whose pool list pools ``churn_eu`` (not ``churn_us``)."""
    folder = tmp_path / "handlers"
    folder.mkdir()
    write_pooled(folder, {"churn_eu": "tabular"})
    return folder


def run(capsys: pytest.CaptureFixture[str], handlers: Path, *argv: str) -> tuple[int, str]:
    capsys.readouterr()
    code = cli.main(["--project", str(ROOT), *argv, "--handlers", str(handlers)])
    out, err = capsys.readouterr()
    said = [line for line in err.splitlines() if not line.startswith("featherserve: project ")]
    assert said == [], err
    return code, out


def publish_cli(capsys: pytest.CaptureFixture[str], handlers: Path, source: Path | str,
                name: str,
                *ref: str, to: str = S3_URL) -> list[str]:
    code, out = run(capsys, handlers, "publish", name, *ref, "--from", str(source), "--to", to)
    assert code == 0, out
    return out.splitlines()


def pool_on(handlers: Path, tmp_path: Path, clock: ManualClock):
    """The real tabular pool over the S3 store, with the project's pool list (ref live)."""
    models = PoolList.read(handlers / POOL_LIST_FILE, default_source=S3_URL)
    assert models.entries["churn_eu"].ref == POOL_ALIAS
    settings = Settings(model_source=S3_URL, model_cache=str(tmp_path / "cache"), warmup=0,
                        service_name=f"test-{uuid.uuid4().hex[:8]}")
    return serve_pool("tabular", settings=settings, models=models,
                      pool_settings=PoolSettings(models_file="unused", memory_bytes=1 << 30,
                                                 alias_ttl_s=TTL),
                      clock=clock)


def answer(handler, name: str) -> tuple[int, dict]:
    response = handler(predict_event(name, [row([0.5, -1.0, 2.0])]), None)
    return response["statusCode"], response_json(response)


def test_a_pooled_model_published_with_its_live_alias_is_served_from_s3(
        aws, handlers, tmp_path, capsys):
    source = tmp_path / "models"
    for seed in (1, 2, 3):
        publish(source, "churn_eu", seed)
    local = LocalStore(source)
    local.set_alias("churn_eu", "prod", "1")
    local.set_alias("churn_eu", POOL_ALIAS, "3")
    local.set_alias("churn_eu", "staging", "3")

    # v1 first: prod names it and comes along; no live alias names v1, and publish says what
    # that means for the pool reading the store.
    lines = publish_cli(capsys, handlers, source, "churn_eu", "1")
    assert lines == [
        f"churn_eu v1 ({source}) -> {S3_URL}: published as version 1",
        f"prod: set to v1 in {S3_URL} (as in the source)",
        f"live: not set in {S3_URL} (no live alias names v1 in {source}); a pool reading "
        f"{S3_URL} answers 503 for churn_eu until `featherserve promote churn_eu 1 --store "
        f"{S3_URL}`"]
    s3 = S3Store(S3_URL)
    assert s3.aliases("churn_eu") == {"latest": "1", "prod": "1"}
    clock = ManualClock()
    handler = pool_on(handlers, tmp_path, clock)
    status, body = answer(handler, "churn_eu")
    assert (status, body["error"]["code"]) == (503, "model_unavailable")

    # The version live names (v3 here, v2 there): live and staging are set, prod stays.
    lines = publish_cli(capsys, handlers, source, "churn_eu", POOL_ALIAS)
    assert lines == [f"churn_eu v3 ({source}) -> {S3_URL}: published as version 2",
                     f"live: set to v2 in {S3_URL} (v3 in {source})",
                     f"staging: set to v2 in {S3_URL} (v3 in {source})"]
    assert s3.aliases("churn_eu") == {"latest": "2", "prod": "1", POOL_ALIAS: "2",
                                      "staging": "2"}
    assert s3.manifest("churn_eu", POOL_ALIAS).sha256 == local.manifest("churn_eu", "3").sha256
    # A failed model is tried again after the alias TTL: then it answers, at live.
    clock.advance(TTL)
    status, body = answer(handler, "churn_eu")
    assert (status, body["model"], str(body["version"])) == (200, "churn_eu", "2")
    # The same prediction as the source's v3 served by a fresh pool over the local store.
    local_pool = serve_pool(
        "tabular", settings=Settings(model_source=str(source), warmup=0,
                                     service_name=f"test-{uuid.uuid4().hex[:8]}"),
        models=PoolList.read(handlers / POOL_LIST_FILE, default_source=str(source)),
        pool_settings=PoolSettings(models_file="unused", memory_bytes=1 << 30))
    status, there = answer(local_pool, "churn_eu")
    assert status == 200 and str(there["version"]) == "3"
    assert there["predictions"] == body["predictions"]


def test_a_version_no_alias_names_sets_nothing(aws, handlers, tmp_path, capsys):
    source = tmp_path / "models"
    publish(source, "churn_us", 1)
    publish(source, "churn_us", 2)
    LocalStore(source).set_alias("churn_us", "prod", "1")
    # latest (v2) is named by no stored alias: nothing but the copy, and churn_us is not
    # pooled, so nothing is said about live either.
    assert publish_cli(capsys, handlers, source, "churn_us") == [
        f"churn_us v2 ({source}) -> {S3_URL}: published as version 1"]
    assert S3Store(S3_URL).aliases("churn_us") == {"latest": "1"}
    assert S3Store(S3_URL).alias_table("churn_us").targets == {}


def test_a_missing_live_is_set_even_when_the_bytes_are_already_there(
        aws, handlers, tmp_path, capsys):
    source = tmp_path / "models"
    publish(source, "churn_eu", 1)
    publish_cli(capsys, handlers, source, "churn_eu")  # no alias yet: copied without one
    assert POOL_ALIAS not in S3Store(S3_URL).aliases("churn_eu")
    LocalStore(source).set_alias("churn_eu", POOL_ALIAS, "1")  # `featherserve add --pooled`
    lines = publish_cli(capsys, handlers, source, "churn_eu")
    assert lines[0].endswith("already there (same sha256 "
                             f"{LocalStore(source).manifest('churn_eu').sha256[:12]}…) "
                             "as version 1")
    assert lines[1:] == [f"live: set to v1 in {S3_URL} (as in the source)"]
    assert S3Store(S3_URL).aliases("churn_eu") == {"latest": "1", POOL_ALIAS: "1"}
    # Again: nothing to set, nothing moved.
    assert publish_cli(capsys, handlers, source, "churn_eu")[1:] == [
        f"live: already at v1 in {S3_URL}"]
    assert S3Store(S3_URL).alias_table("churn_eu").history == {}


def test_an_existing_destination_alias_is_never_moved(aws, handlers, tmp_path, capsys):
    source = tmp_path / "models"
    for name in ("churn_eu", "churn_us"):
        publish(source, name, 1)
        LocalStore(source).set_alias(name, POOL_ALIAS, "1")
        LocalStore(source).set_alias(name, "staging", "1")
        publish_cli(capsys, handlers, source, name)
        publish(source, name, 2)  # retrained; live and staging move to it in the source
        LocalStore(source).set_alias(name, POOL_ALIAS, "2")
        LocalStore(source).set_alias(name, "staging", "2")
    s3 = S3Store(S3_URL)

    # Pooled: `featherserve promote churn_eu 2` moves live (its default alias).
    lines = publish_cli(capsys, handlers, source, "churn_eu")
    assert lines[1:] == [
        f"live: kept at v1 in {S3_URL} (publish never moves an alias); `featherserve promote "
        f"churn_eu 2 --store {S3_URL}` to serve v2",
        f"staging: kept at v1 in {S3_URL} (publish never moves an alias); `featherserve "
        f"promote churn_eu 2 --alias staging --store {S3_URL}` to point it at v2"]
    assert s3.aliases("churn_eu") == {"latest": "2", POOL_ALIAS: "1", "staging": "1"}
    # Dedicated: promote would move prod unasked, so live is named.
    lines = publish_cli(capsys, handlers, source, "churn_us")
    assert f"`featherserve promote churn_us 2 --alias live --store {S3_URL}` to point it at " \
           "v2" in lines[1]
    assert s3.aliases("churn_us") == {"latest": "2", POOL_ALIAS: "1", "staging": "1"}

    # The command publish printed does what it says, and only that.
    printed = re.findall(r"`(featherserve [^`]+)`", lines[1])
    assert len(printed) == 1
    argv = shlex.split(printed[0])[1:]
    assert run(capsys, handlers, *argv) == (0, "churn_us live: 1 -> 2\n")
    assert s3.aliases("churn_us") == {"latest": "2", POOL_ALIAS: "2", "staging": "1"}


def test_aliases_come_along_from_s3_into_a_folder(aws, handlers, tmp_path, capsys):
    source = tmp_path / "models"
    publish(source, "churn_eu", 1)
    LocalStore(source).set_alias("churn_eu", POOL_ALIAS, "1")
    publish_cli(capsys, handlers, source, "churn_eu")
    copy = tmp_path / "copy"
    lines = publish_cli(capsys, handlers, S3_URL, "churn_eu", to=str(copy))
    assert lines[1:] == [f"live: set to v1 in {copy} (as in the source)"]
    assert LocalStore(copy).aliases("churn_eu") == {"latest": "1", POOL_ALIAS: "1"}
