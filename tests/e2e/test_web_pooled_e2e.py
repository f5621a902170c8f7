"""Pooled models' demo through the real CLI (issue 19).

- A service copy with models pooled by the codegen (`featherserve add NAME --pooled`),
  packaged by `sls package`: the web role may invoke the pool function's ``live`` alias
  beside each dedicated function's, and nothing more (not the pool's batch function).
- A project copy where `featherserve add NAME --pooled` pooled a tiny model, served by
  README's `sls offline start` (what `make serve` runs): the catalog lists the model as
  pooled, and its demo prediction goes through serverless-offline's Lambda endpoint to the
  pool function and comes back as the model's answer, as a dedicated model's does; in
  Chromium, the demo page shows the pool's answer beside the browser's own.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from featherserve.codegen.handler_modules import served_models
from featherserve.codegen.service_files import add_model
from featherserve.layers.code_package import build_function_zip
from featherserve.stack_costs import FIXED_ZIPS, STAGE, _placeholder_zip, package
from featherserve.support.processes import ROOT
from model_store import LocalStore
from tests.support.deploy import (
    project_cli,
    project_env,
    publish_tiny_models,
    snapshot_project,
    snapshot_service,
)
from tests.support.stack import sls_offline
from tests.support.template import functions, is_web, of_type, policy_statements
from tests.support.tiny_models import publish_tiny_tabular

pytestmark = pytest.mark.e2e
POOLED = ("churn_eu", "churn_us")
NAME = POOLED[0]
ROW = {"alpha": 0.5, "beta": -1.0, "gamma": 2.0}
POOL_HANDLER = re.compile(r"^handlers/pool\.handler$")


def invoke_arn(function: str) -> dict[str, str]:
    return {"Fn::Sub": "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:"
                       f"function:{function}:live"}


def web_invoke_statement(template: dict[str, Any]) -> dict[str, Any]:
    (web,) = [p for p in functions(template).values() if is_web(p)]
    role = of_type(template, "AWS::IAM::Role")[web["Role"]["Fn::GetAtt"][0]]
    (invoke,) = [s for s in policy_statements(role) if s["Action"] == ["lambda:InvokeFunction"]]
    return invoke


def packaged_copy(tmp_path: Path, pooled: tuple[str, ...]) -> dict[str, Any]:
    store_root = tmp_path / "store"
    publish_tiny_models(store_root)
    service = snapshot_service(tmp_path / "service", mock_aws=False)
    store = LocalStore(store_root)
    for name in pooled:
        publish_tiny_tabular(store_root, name)
        add_model(name, store, handlers_dir=service / "handlers",
                  out_dir=service / "generated", pooled=True)
    layers = service / ".layers"
    layers.mkdir()
    models = served_models(service / "handlers")
    for zip_name in (*FIXED_ZIPS, "pool-models.zip", *(f"model-{m}.zip" for m in models)):
        _placeholder_zip(layers / zip_name)
    template, _, output = package(service, tmp_path / "out", layers=layers)
    assert template, output
    return template


def test_the_web_role_may_invoke_the_pool_functions_live_alias_and_no_more(tmp_path):
    template = packaged_copy(tmp_path, POOLED)
    lambdas = functions(template)
    pools = [p["FunctionName"] for p in lambdas.values() if POOL_HANDLER.match(p["Handler"])]
    # The stage's one pool function (docs/pool.md), the demo proxy's "<prefix>pool".
    assert pools == [f"featherserve-{STAGE}-pool"], pools
    dedicated = [f"featherserve-{STAGE}-{m}" for m in ("breast_cancer", "digits")]
    invoke = web_invoke_statement(template)
    assert invoke["Effect"] == "Allow"
    assert sorted(invoke["Resource"], key=str) == sorted(
        [invoke_arn(f) for f in (*dedicated, *pools)], key=str)
    # The pool's batch function (and every other function) stays out of the web role's reach.
    names = {p["FunctionName"] for p in lambdas.values()}
    assert f"featherserve-{STAGE}-pool-batch" in names
    assert not [r for r in invoke["Resource"] if "batch" in r["Fn::Sub"]]
    # The web function's environment names the prefix the proxy adds "pool" to.
    (web,) = [p for p in lambdas.values() if is_web(p)]
    assert web["Environment"]["Variables"]["FEATHERSERVE_DEMO_FUNCTION_PREFIX"] \
        == f"featherserve-{STAGE}-"


def test_with_no_pooled_model_the_web_role_invokes_the_dedicated_functions_only(tmp_path):
    template = packaged_copy(tmp_path, ())
    assert not [p for p in functions(template).values() if POOL_HANDLER.match(p["Handler"])]
    assert web_invoke_statement(template)["Resource"] == [
        invoke_arn(f"featherserve-{STAGE}-{m}") for m in ("breast_cancer", "digits")]


def fetch(url: str, body: bytes | None = None) -> tuple[int, str]:
    headers = {"Content-Type": "application/json"} if body is not None else {}
    request = urllib.request.Request(url, data=body, headers=headers,
                                     method="POST" if body is not None else "GET")
    try:
        with urllib.request.urlopen(request, timeout=120) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@dataclass(frozen=True)
class PooledStack:
    url: str
    log: Path
    expected: dict[str, Any]  # the model's own answer to ROW (a dedicated function of live)


@pytest.fixture(scope="module")
def pooled_stack(tmp_path_factory) -> Iterator[PooledStack]:
    """A project copy where `featherserve add NAME --pooled` pooled a tiny model, served by
    README's `sls offline start` (what `make serve` runs), on free ports."""
    from model_runtime import Settings, serve_model
    from tests.support.pool import predict_event
    from tests.support.web import Context

    root = tmp_path_factory.mktemp("pooled-offline")
    project = snapshot_project(root / "project")
    publish_tiny_tabular(project / "models", NAME)
    added = project_cli(project, "add", NAME, "--pooled")
    assert "the pool serves its store alias live (version 1)" in added.stdout, added.stdout
    # `make serve` needs the function zip serverless-offline unpacks (`make layers` part).
    build_function_zip(project / "build" / "layers", None, root=project)
    answer = serve_model(NAME, settings=Settings(model_source=str(project / "models"),
                                                 model_version="live"))(
        predict_event(NAME, [ROW]), Context())
    assert answer["statusCode"] == 200, answer
    log = root / "offline.log"
    with sls_offline(log, cwd=project, env=project_env(project)) as stack:
        yield PooledStack(stack.url, log, json.loads(answer["body"]))


def test_make_serves_demo_of_a_pooled_model_goes_through_the_offline_lambda_endpoint(
        pooled_stack):
    url, log = pooled_stack.url, pooled_stack.log
    status, page = fetch(f"{url}/")
    assert status == 200, page
    assert f'data-model="{NAME}" data-serving="pooled"' in page
    assert 'data-model="breast_cancer" data-serving="dedicated"' in page
    status, text = fetch(f"{url}/demo/{NAME}/predict", json.dumps({"instances": [ROW]}).encode())
    assert status == 200, (text, log.read_text()[-3000:])
    assert json.loads(text) == pooled_stack.expected
    assert "(λ: pool)" in log.read_text()  # the pool function answered it
    # A dedicated model's demo, in the same stack, still reaches its own function.
    status, text = fetch(f"{url}/demo/breast_cancer/predict",
                         (ROOT / "examples" / "breast_cancer.json").read_bytes())
    assert status == 200 and json.loads(text)["model"] == "breast_cancer", text
    status, text = fetch(f"{url}/demo/not_served/predict", b'{"instances": []}')
    assert status == 404 and json.loads(text)["error"]["code"] == "model_not_found"


@pytest.mark.browser
def test_a_pooled_models_demo_page_answers_in_the_browser_and_through_the_pool(pooled_stack):
    """Both halves of the page (Debian's Chromium): the pool's answer beside the browser's
    own onnxruntime-web run of the same file, equal to 1e-4."""
    from tests.support.browser import VIEWPORT, chromium, watch_problems

    with chromium() as browser:
        context = browser.new_context(viewport=VIEWPORT)
        page = context.new_page()
        problems = watch_problems(page)
        page.goto(f"{pooled_stack.url}/demo/{NAME}")
        assert "shared pool function" in page.locator(".serving").inner_text()
        for index, value in enumerate(ROW.values()):
            page.fill(f"#f{index}", str(value))
        page.click("#features button[type=submit]")
        page.wait_for_function("() => window.featherserveDemo && window.featherserveDemo.last"
                               " && window.featherserveDemo.last.done", timeout=60_000)
        answer = page.evaluate("() => window.featherserveDemo.last")
        context.close()
    label = pooled_stack.expected["predictions"][0]["label"]
    assert answer["server"]["label"] == label, answer
    assert answer["browserLabel"] == label, answer
    assert answer["largest"] <= 1e-4, answer
    assert problems == [], problems
