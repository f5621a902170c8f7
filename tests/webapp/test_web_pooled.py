"""Pooled models in the web app (issue 19): a stage whose pool list (written by the real
codegen, as `featherserve add NAME --pooled` writes it) names two tiny models of a tmp store
beside a dedicated one. The catalog, the demo pages and the OpenAPI document list the
pooled models as they list the dedicated one (same routes, same schemas), marked pooled
where the page shows how a model is served, at the version their pool serves (the store
alias ``live``; the stage's version without one). A demo prediction for a pooled model goes
to the pool function with the event of the pool's ``/models/{name}/predict`` route, answered
here by the REAL pool handler (``serve_pool()``) in process, as the dedicated one's goes to
its own function (``serve_model``); a name the stage does not serve is 404 before anything
is invoked. The web catalog layer carries the pooled manifests, and the app reading only
that layer (as deployed) lists them too."""

from __future__ import annotations

import json
import logging
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from featherserve.codegen.pool_files import write_pooled
from featherserve.layers.web_layer import WEB_CATALOG_LAYER, build_web_catalog_layer
from featherserve.support.processes import ROOT
from model_store import LocalStore
from tests.support.tiny_models import publish_tiny_tabular
from tests.support.web import FORMATS, Context, Handler, request, send
from webapp.app import WebApp
from webapp.demo_proxy import DemoProxy
from webapp.lambda_entry import serve_web
from webapp.settings import WebSettings

PREFIX = "featherserve-dev-"
DEDICATED = "dedicated_one"
LIVE = "churn_eu"  # pooled, versions 1 and 2, live → 1
NO_ALIAS = "churn_us"  # pooled, versions 1 and 2, no live alias: the stage's version (latest)
ROW = {"alpha": 0.5, "beta": -1.0, "gamma": 2.0}
OTHER_WEIGHTS = np.array([[-3.0, 3.0], [1.0, -1.0], [2.0, -2.0]])


@dataclass(frozen=True)
class Stage:
    store: Path
    handlers: Path

    @property
    def pool_list(self) -> Path:
        return self.handlers / "pool_models.json"


@pytest.fixture(scope="module")
def stage(tmp_path_factory) -> Stage:
    root = tmp_path_factory.mktemp("pooled-web")
    store, handlers = root / "store", root / "handlers"
    handlers.mkdir()
    publish_tiny_tabular(store, DEDICATED)
    for name in (LIVE, NO_ALIAS):
        publish_tiny_tabular(store, name)
        publish_tiny_tabular(store, name, weights=OTHER_WEIGHTS)  # version 2
    LocalStore(store).set_alias(LIVE, "live", "1")
    write_pooled(handlers, {LIVE: "tabular", NO_ALIAS: "tabular"})  # the CLI's own writer
    return Stage(store, handlers)


def settings_of(stage: Stage, **extra: Any) -> WebSettings:
    values = {"model_source": str(stage.store), "pool_models_file": str(stage.pool_list),
              **extra}
    return WebSettings(**values)


def articles(html: str) -> dict[str, str]:
    """Each catalog card's model → how it says it is served."""
    return dict(re.findall(r'<article class="model" data-model="([a-z_0-9]+)" '
                           r'data-serving="([a-z]+)"', html))


def card(html: str, name: str) -> str:
    found = re.search(rf'<article class="model" data-model="{name}".*?</article>', html)
    assert found, name
    return found.group(0)


# ---------------------------------------------------------------- catalog and pages
def test_the_catalog_lists_pooled_models_beside_dedicated_ones_marked_pooled(stage):
    web = serve_web(settings_of(stage))
    answer = send(web, request("GET", "/"))
    assert answer.status == 200
    assert articles(answer.body) == {DEDICATED: "dedicated", LIVE: "pooled",
                                     NO_ALIAS: "pooled"}
    # At the version the pool serves: live (v1, not the newest v2); without a live alias,
    # the stage's version (latest: v2).
    assert '<span class="version">v1</span> <span class="badge">pooled</span>' \
        in card(answer.body, LIVE)
    assert '<span class="version">v2</span> <span class="badge">pooled</span>' \
        in card(answer.body, NO_ALIAS)
    dedicated = card(answer.body, DEDICATED)
    assert "badge" not in dedicated and "its own function" in dedicated
    assert "shared pool function" in card(answer.body, LIVE)
    assert "1 by a Lambda function of its own, 2 by the stage" in answer.body


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_pooled_models_demo_page_is_its_own_at_the_live_version(stage, fmt):
    web = serve_web(settings_of(stage))
    page = send(web, request("GET", f"/demo/{LIVE}", fmt))
    assert page.status == 200
    assert f'data-model="{LIVE}" data-version="1" data-kind="tabular"' in page.body
    assert 'data-serving="pooled"' in page.body and "shared pool function" in page.body
    # The browser half loads the very file the pool serves (v1's sha256).
    sha256 = LocalStore(stage.store).manifest(LIVE, "1").sha256
    assert f"/static/models/{LIVE}/{sha256}.onnx" in page.body
    model_file = send(web, request("GET", f"/static/models/{LIVE}/{sha256}.onnx", fmt,
                                   accept="*/*"))
    assert model_file.status == 200
    assert model_file.data == (stage.store / LIVE / "1" / "model.onnx").read_bytes()
    dedicated = send(web, request("GET", f"/demo/{DEDICATED}", fmt))
    assert 'data-serving="dedicated"' in dedicated.body
    assert "shared pool function" not in dedicated.body


def test_openapi_describes_a_pooled_model_exactly_as_a_dedicated_one(stage):
    web = serve_web(settings_of(stage))
    document = send(web, request("GET", "/openapi.json", accept="application/json")).json()
    paths = document["paths"]
    for name in (DEDICATED, LIVE, NO_ALIAS):
        assert {f"/models/{name}/predict", f"/models/{name}"} <= set(paths), name
    # Same manifests but for the name: the same description, byte for byte, once the name
    # (and the schema names made from it) is swapped; clients cannot tell pooled from not.
    def described(name: str) -> str:
        camel = "".join(p.capitalize() for p in name.split("_"))
        text = json.dumps([paths[f"/models/{name}/predict"], paths[f"/models/{name}"],
                           {k: v for k, v in document["components"]["schemas"].items()
                            if k.startswith(camel)}], sort_keys=True)
        # (The version shown in a summary is each model's own: v1 or v2.)
        return re.sub(r"\bv[0-9]+\b", "vN", text.replace(name, "NAME").replace(camel, "Name"))

    assert described(LIVE) == described(DEDICATED)
    assert described(NO_ALIAS) == described(DEDICATED)
    assert {t["name"] for t in document["tags"]} >= {DEDICATED, LIVE, NO_ALIAS}


def test_no_pool_list_means_no_pooled_model(stage, tmp_path):
    web = serve_web(settings_of(stage, pool_models_file=str(tmp_path / "none.json")))
    body = send(web, request("GET", "/")).body
    assert articles(body) == dict.fromkeys((DEDICATED, LIVE, NO_ALIAS), "dedicated")
    assert "each its own Lambda function" in body
    # Not pooled: LIVE is shown at the stage's version, v2.
    assert '<span class="version">v2</span>' in card(body, LIVE)


def test_a_listed_model_without_a_ref_is_shown_at_the_version_its_pool_serves(stage, tmp_path):
    """A list may name no ref for a model: its pool then serves the stage's version
    (FEATHERSERVE_MODEL_VERSION: latest, v2), not the store's live alias (v1)."""
    from model_runtime import Settings
    from model_runtime.pool import PoolSettings, serve_pool
    from tests.support.pool import predict_event

    listed = tmp_path / "pool_models.json"
    listed.write_text(json.dumps({"models": [{"name": LIVE, "kind": "tabular"}]}))
    body = send(serve_web(settings_of(stage, pool_models_file=str(listed))),
                request("GET", "/")).body
    assert articles(body)[LIVE] == "pooled"
    assert '<span class="version">v2</span> <span class="badge">pooled</span>' \
        in card(body, LIVE)
    pool = serve_pool(settings=Settings(model_source=str(stage.store)),
                      pool_settings=PoolSettings.from_env({}, models_file=str(listed)))
    answer = pool(predict_event(LIVE, [ROW]), None)
    assert answer["statusCode"] == 200, answer
    assert json.loads(answer["body"])["version"] == "2"


@pytest.mark.parametrize("text", [
    "{not json", '{"models": {"churn_eu": "tabular"}}', '{"models": [{"name": "Churn EU"}]}',
    '{"models": [{"name": "churn_eu", "kind": "audio"}]}', '["churn_eu"]',
    '{"models": ["churn_eu", "churn_eu"]}', '{"models": [{"name": 7}]}', "\udcff"])
def test_a_malformed_pool_list_is_logged_and_the_pages_still_answer(stage, tmp_path, caplog,
                                                                     text):
    broken = tmp_path / "pool_models.json"
    broken.write_bytes(text.encode("utf-8", "surrogateescape"))
    web = serve_web(settings_of(stage, pool_models_file=str(broken)))
    with caplog.at_level(logging.ERROR, logger="featherserve.web"):
        answer = send(web, request("GET", "/"))
    assert answer.status == 200
    assert articles(answer.body) == dict.fromkeys((DEDICATED, LIVE, NO_ALIAS), "dedicated")
    assert any("the pool list is malformed" in r.getMessage() and str(broken) in r.exc_text
               for r in caplog.records if r.exc_text), caplog.text
    assert send(web, request("GET", "/openapi.json", accept="application/json")).status == 200


def test_the_pool_list_is_found_in_the_task_root_or_where_the_variable_says(tmp_path):
    # Beside the handlers package the zip ships with webapp/ (here: the checkout), whatever
    # LAMBDA_TASK_ROOT says (serverless-offline sets /var/task while running these files).
    default = WebSettings.from_env({"LAMBDA_TASK_ROOT": "/var/task"})
    assert default.pool_models_file == str(ROOT / "handlers" / "pool_models.json")
    assert WebSettings().pool_models_file == default.pool_models_file
    named = WebSettings.from_env({"FEATHERSERVE_POOL_MODELS_FILE": str(tmp_path / "x.json")})
    assert named.pool_models_file == str(tmp_path / "x.json")


# ------------------------------------------------------------------------ demo proxy
class InProcessLambda:
    """Lambda Invoke run in this process by the REAL handlers: the stage's pool function
    (``serve_pool()`` reading the pool list) and each dedicated model's ``serve_model``."""

    def __init__(self, stage: Stage) -> None:
        from model_runtime import Settings, serve_model
        from model_runtime.pool import serve_pool
        from model_runtime.pool.settings import PoolSettings

        settings = Settings(model_source=str(stage.store))
        self.functions = {
            f"{PREFIX}pool": serve_pool(settings=settings, pool_settings=PoolSettings.from_env(
                {}, models_file=str(stage.pool_list))),
            f"{PREFIX}{DEDICATED}": serve_model(DEDICATED, settings=settings),
        }
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    def __call__(self, function: str, qualifier: str, payload: bytes) -> Mapping[str, Any]:
        event = json.loads(payload)
        self.calls.append((function, qualifier, event))
        return self.functions[function](event, Context())


@pytest.fixture()
def proxied(stage) -> tuple[Handler, InProcessLambda]:
    settings = settings_of(stage, demo_function_prefix=PREFIX)
    invoke = InProcessLambda(stage)
    app = WebApp(settings, proxy=DemoProxy(settings, invoker=invoke))
    return serve_web(settings, app=app), invoke


def dedicated_answer(stage: Stage, name: str, version: str) -> dict[str, Any]:
    """What a dedicated function of ``name`` at ``version`` answers for ROW."""
    from model_runtime import Settings, serve_model
    from tests.support.pool import predict_event

    handler = serve_model(name, settings=Settings(model_source=str(stage.store),
                                                  model_version=version))
    answer = handler(predict_event(name, [ROW]), Context())
    assert answer["statusCode"] == 200, answer
    body: dict[str, Any] = json.loads(answer["body"])
    return body


def demo_predict(web: Handler, name: str, fmt: str = "v1") -> Any:
    body = json.dumps({"instances": [ROW]}).encode()
    return send(web, request("POST", f"/demo/{name}/predict", fmt, accept="*/*", body=body,
                             content_type="application/json"))


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_pooled_demo_goes_to_the_pool_function_and_its_answer_is_the_models(
        stage, proxied, fmt):
    web, invoke = proxied
    answer = demo_predict(web, LIVE, fmt)
    assert answer.status == 200, answer
    ((function, qualifier, event),) = invoke.calls
    assert (function, qualifier) == (f"{PREFIX}pool", "live")
    assert event["resource"] == "/models/{name}/predict"
    assert event["requestContext"]["resourcePath"] == "/models/{name}/predict"
    assert event["path"] == f"/models/{LIVE}/predict"
    assert event["pathParameters"] == {"name": LIVE}
    assert event["httpMethod"] == "POST"
    # The pool answered with the model at its live version: what a dedicated function of
    # v1 answers, and not v2's (other weights, another answer).
    body = answer.json()
    assert body == dedicated_answer(stage, LIVE, "1")
    assert body["model"] == LIVE and body["version"] == "1"
    assert body != {**dedicated_answer(stage, LIVE, "2"), "version": "1"}
    assert answer.headers["x-model-version"] == "1"


def test_a_dedicated_demo_still_goes_to_its_own_function(stage, proxied):
    web, invoke = proxied
    answer = demo_predict(web, DEDICATED)
    assert answer.status == 200, answer
    ((function, qualifier, event),) = invoke.calls
    assert (function, qualifier) == (f"{PREFIX}{DEDICATED}", "live")
    assert event["resource"] == f"/models/{DEDICATED}/predict"
    assert event["pathParameters"] is None
    assert answer.json() == dedicated_answer(stage, DEDICATED, "1")


def test_a_pooled_model_without_its_live_alias_is_the_pools_503_for_it_alone(proxied):
    web, invoke = proxied
    refused = demo_predict(web, NO_ALIAS)
    assert refused.status == 503 and refused.json()["error"]["code"] == "model_unavailable"
    assert invoke.calls[-1][0] == f"{PREFIX}pool"
    assert demo_predict(web, LIVE).status == 200  # its neighbour in the pool still answers


@pytest.mark.parametrize("name", ["not_in_this_stage", "pool", "pool_tabular"])
def test_a_name_neither_dedicated_nor_pooled_is_404_before_any_invoke(proxied, name):
    web, invoke = proxied
    answer = demo_predict(web, name)
    assert answer.status == 404 and answer.json()["error"]["code"] == "model_not_found"
    assert invoke.calls == []


# ------------------------------------------------------------ the web catalog layer
def test_the_catalog_layer_carries_the_pooled_manifests_and_the_deployed_app_lists_them(
        stage, tmp_path):
    store = LocalStore(stage.store)
    built = build_web_catalog_layer(tmp_path / "out", [store.manifest(DEDICATED)],
                                    store=store, handlers_dir=stage.handlers,
                                    bench_results=tmp_path / "none.json",
                                    examples_dir=tmp_path / "none")
    assert built.name == WEB_CATALOG_LAYER
    with zipfile.ZipFile(built.zip_path) as archive:
        names = sorted(archive.namelist())
        archive.extractall(tmp_path / "opt")
    assert names == sorted([f"models/{DEDICATED}/1/manifest.json",
                            f"models/{NO_ALIAS}/2/manifest.json",
                            f"models/{LIVE}/1/manifest.json", f"models/{LIVE}/aliases.json"])
    assert not [n for n in names if n.endswith((".onnx", ".ort"))]
    # Deployed: the default store is the layer's /opt/models, the pool list the task root's.
    settings = WebSettings(opt_dir=str(tmp_path / "opt"), pool_models_file=str(stage.pool_list))
    assert settings.model_source == str(tmp_path / "opt" / "models")
    body = send(serve_web(settings), request("GET", "/")).body
    assert articles(body) == {DEDICATED: "dedicated", LIVE: "pooled", NO_ALIAS: "pooled"}
    assert '<span class="version">v1</span>' in card(body, LIVE)
    assert '<span class="version">v2</span>' in card(body, NO_ALIAS)


def test_the_catalog_layer_takes_the_builds_own_pooled_names(stage, tmp_path):
    store = LocalStore(stage.store)
    built = build_web_catalog_layer(tmp_path / "out", [], store=store, pooled=[LIVE],
                                    handlers_dir=tmp_path / "no-handlers")
    with zipfile.ZipFile(built.zip_path) as archive:
        assert sorted(n for n in archive.namelist() if n.startswith("models/")) == [
            f"models/{LIVE}/1/manifest.json", f"models/{LIVE}/aliases.json"]
        aliases = json.loads(archive.read(f"models/{LIVE}/aliases.json"))
    assert aliases["aliases"] == {"live": "1"}


def test_the_catalog_layer_refuses_a_pooled_model_the_store_lacks(stage, tmp_path):
    from featherserve.layers.exceptions import LayerBuildError

    handlers = tmp_path / "handlers"
    handlers.mkdir()
    write_pooled(handlers, {"not_in_the_store": "tabular"})
    with pytest.raises(LayerBuildError, match="pooled model not_in_the_store"):
        build_web_catalog_layer(tmp_path / "out", [], store=LocalStore(stage.store),
                                handlers_dir=handlers)
