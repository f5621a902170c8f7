"""A pooled model keeps its `live` alias, promote and rollback without a redeploy (issue 19):
`featherserve add NAME --pooled` (the codegen) sets the store's `live` alias when there is
none and never moves one; the pool list names `live`; `featherserve promote NAME VERSION`
and `featherserve rollback NAME` move a pooled model's `live` by default (a dedicated
model's `prod`, as before), and the pool (real ONNX sessions over a LocalStore, a clock the
test moves) serves the new version once the alias TTL has passed; a `live` alias missing
from the store is a 503 for that model alone, with a log line saying how to set it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import featherserve.cli as cli
from featherserve.codegen.pool_files import POOL_ALIAS, POOL_LIST_FILE
from featherserve.codegen.service_files import add_model
from featherserve.support.events import response_json
from featherserve.support.processes import ROOT
from model_runtime import Settings
from model_runtime.pool import PoolList, PoolSettings, serve_pool
from model_store.local import LocalStore
from model_store.manifest import Manifest
from tests.support.pool import ManualClock, predict_event, row
from tests.support.tiny_models import publish_tiny_tabular

pytestmark = pytest.mark.filterwarnings("ignore:Dimension .model. has already been added")

TTL = 60


def publish(root: Path, name: str, seed: int) -> Manifest:
    """A new version of ``name`` (other weights: the same bytes would be the same version)."""
    return publish_tiny_tabular(root, name, np.random.default_rng(seed).normal(size=(3, 2)))


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, Path, Path]:
    store, handlers, generated = tmp_path / "store", tmp_path / "handlers", tmp_path / "gen"
    handlers.mkdir()
    generated.mkdir()
    return store, handlers, generated


def add(name: str, project: tuple[Path, Path, Path], *, pooled: bool) -> None:
    store, handlers, generated = project
    add_model(name, LocalStore(store), handlers_dir=handlers, out_dir=generated, pooled=pooled)


def run(capsys: pytest.CaptureFixture[str], handlers: Path, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = cli.main(["--project", str(ROOT), *argv, "--handlers", str(handlers)])
    out, err = capsys.readouterr()
    said = err.splitlines(keepends=True)  # the line naming the project (a writing command)
    if said and said[0].startswith("featherserve: project "):
        err = "".join(said[1:])
    return code, out, err


def pool_handler(store: Path, handlers: Path, clock: ManualClock, tmp: Path):
    models = PoolList.read(handlers / POOL_LIST_FILE, default_source=str(store))
    settings = Settings(model_source=str(store), warmup=0, model_cache=str(tmp / "cache"))
    return serve_pool("tabular", settings=settings, models=models,
                      pool_settings=PoolSettings(models_file="unused", memory_bytes=1 << 30,
                                                 alias_ttl_s=TTL),
                      clock=clock)


def served(handler, name: str) -> str:
    response = handler(predict_event(name, [row([0.5, -1.0, 2.0])]), None)
    assert response["statusCode"] == 200, response
    body_version = str(response_json(response)["version"])
    assert response["headers"]["X-Model-Version"] == body_version
    return body_version


def test_add_pooled_sets_live_once_and_the_pool_list_names_it(project):
    store_root, handlers, _ = project
    publish(store_root, "churn_eu", 1)
    add("churn_eu", project, pooled=True)
    store = LocalStore(store_root)
    assert store.aliases("churn_eu") == {"latest": "1", POOL_ALIAS: "1"}
    listed = json.loads((handlers / POOL_LIST_FILE).read_text())
    assert listed == {"models": [{"name": "churn_eu", "kind": "tabular", "ref": POOL_ALIAS}]}
    assert PoolList.read(handlers / POOL_LIST_FILE, str(store_root)).entries[
        "churn_eu"].ref == POOL_ALIAS
    # A new version, the model added again: `live` stays where it is (promote moves it).
    publish(store_root, "churn_eu", 2)
    add("churn_eu", project, pooled=True)
    assert store.aliases("churn_eu")[POOL_ALIAS] == "1"
    # A model whose `live` exists before it is pooled keeps it, even behind latest.
    for seed in (3, 4, 5):
        publish(store_root, "churn_us", seed)
    store.set_alias("churn_us", POOL_ALIAS, "2")
    add("churn_us", project, pooled=True)
    assert store.aliases("churn_us") == {"latest": "3", POOL_ALIAS: "2"}


def test_promote_and_rollback_move_live_and_the_pool_follows_after_the_ttl(
        project, capsys, tmp_path):
    store_root, handlers, _ = project
    publish(store_root, "breast_x", 1)
    add("breast_x", project, pooled=True)
    publish(store_root, "breast_x", 2)  # latest is 2; the pool serves live, still 1
    clock = ManualClock()
    handler = pool_handler(store_root, handlers, clock, tmp_path)
    assert served(handler, "breast_x") == "1"

    code, out, err = run(capsys, handlers, "promote", "breast_x", "2", "--store",
                         str(store_root))
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "breast_x live: 1 -> 2",
        "breast_x: live → v2; the pool serves it within FEATHERSERVE_POOL_ALIAS_TTL_S "
        "(60 s by default), no redeploy"]
    assert "prod" not in LocalStore(store_root).aliases("breast_x")
    clock.advance(TTL - 1)
    assert served(handler, "breast_x") == "1"  # within the TTL
    clock.advance(1)
    assert served(handler, "breast_x") == "2"

    code, out, err = run(capsys, handlers, "rollback", "breast_x", "--store", str(store_root))
    assert (code, err) == (0, "")
    assert out.splitlines()[0] == "breast_x live: 2 -> 1"
    assert "live → v1" in out
    assert served(handler, "breast_x") == "2"
    clock.advance(TTL)
    assert served(handler, "breast_x") == "1"

    # --alias still chooses another alias: prod moves, live (what the pool serves) does not.
    code, out, _ = run(capsys, handlers, "promote", "breast_x", "2", "--alias", "prod",
                       "--store", str(store_root))
    assert (code, out) == (0, "breast_x prod: (unset) -> 2\n")
    clock.advance(TTL)
    assert served(handler, "breast_x") == "1"
    assert LocalStore(store_root).aliases("breast_x")[POOL_ALIAS] == "1"


def test_a_dedicated_models_promote_and_rollback_still_move_prod(project, capsys):
    store_root, handlers, _ = project
    publish(store_root, "churn_de", 1)
    publish(store_root, "churn_de", 2)
    add("churn_de", project, pooled=False)
    assert POOL_ALIAS not in LocalStore(store_root).aliases("churn_de")
    where = ("--store", str(store_root))
    assert run(capsys, handlers, "promote", "churn_de", "1", *where) == (
        0, "churn_de prod: (unset) -> 1\n", "")
    assert run(capsys, handlers, "promote", "churn_de", "2", *where) == (
        0, "churn_de prod: 1 -> 2\n", "")
    assert run(capsys, handlers, "rollback", "churn_de", *where) == (
        0, "churn_de prod: 2 -> 1\n", "")
    assert LocalStore(store_root).aliases("churn_de") == {"latest": "2", "prod": "1"}


def test_a_missing_live_alias_is_503_for_that_model_alone_and_says_how_to_set_it(
        project, capsys, caplog, tmp_path):
    store_root, handlers, _ = project
    publish(store_root, "good_one", 1)
    publish(store_root, "no_alias", 2)
    add("good_one", project, pooled=True)
    add("no_alias", project, pooled=True)
    # As a store the pooled version was published to without its alias (S3: publish --to).
    (store_root / "no_alias" / "aliases.json").unlink()
    assert POOL_ALIAS not in LocalStore(store_root).aliases("no_alias")
    clock = ManualClock()
    handler = pool_handler(store_root, handlers, clock, tmp_path)
    caplog.clear()
    response = handler(predict_event("no_alias", [row([0.0, 1.0, 2.0])]), None)
    assert response["statusCode"] == 503, response
    assert response_json(response)["error"]["code"] == "model_unavailable"
    assert any("run `featherserve promote no_alias VERSION" in r.getMessage()
               for r in caplog.records), [r.getMessage() for r in caplog.records]
    assert served(handler, "good_one") == "1"  # its neighbour answers
    # Set as the log says: served after the TTL, no redeploy.
    code, _, _ = run(capsys, handlers, "promote", "no_alias", "1", "--store", str(store_root))
    assert code == 0
    clock.advance(TTL)
    assert served(handler, "no_alias") == "1"
