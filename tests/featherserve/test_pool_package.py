"""The PACKAGED pool function answers for pooled models (issue 19): a project copy with 200
pooled tiny tabular models and the digits image model (`featherserve add NAME --pooled`
through the codegen), its function zip and packed pool-models layer built as `make layers`
builds them (the pool list ships in the zip, the models' live versions in the layer),
`sls package`, then the fidelity runner runs the packaged ``pool`` function on CPython 3.12
through awslambdaric with the stage's default (empty) modelSource, so the models come from
the layer under /opt/models: a prediction and a card for 20 of the pooled models, digits
from JSON base64 and from a raw image body, a 404 for a name the stage does not serve."""

from __future__ import annotations

import json
import random
import shutil

import pytest

from featherserve.codegen.service_files import add_model, remove_model
from featherserve.fidelity import load_package
from featherserve.fidelity.runner_setup import runner_setup
from featherserve.fidelity.sandbox import Unpacker
from featherserve.fidelity.verify import function_environment, run_packaged
from featherserve.layers.code_package import build_function_zip
from featherserve.stack_costs import _placeholder_zip
from featherserve.support.events import EVENTS, load_event
from featherserve.support.processes import ROOT, run_cli, tool_env
from model_store import LocalStore
from tests.support.deploy import (
    BUILT_LAYERS,
    built_layers,
    project_cli,
    publish_tiny_models,
    snapshot_project,
    snapshot_service,
)
from tests.support.pool import build_pool_layer, card_event, model_names, predict_event, row
from tests.support.stack import SLS
from tests.support.tiny_models import publish_tiny_tabular

pytestmark = [pytest.mark.e2e, pytest.mark.filterwarnings(
    "ignore:Dimension .model. has already been added")]
IMAGE_EVENTS = ("digits_predict_v1", "digits_raw_v1", "digits_raw_v2")
POOLED = 200
SAMPLE = 20


def test_the_packaged_pool_function_answers_pooled_models_and_404s_others(tmp_path):
    built_layers("runtime.zip")
    store_root = tmp_path / "store"
    publish_tiny_models(store_root)
    names = model_names(POOLED)
    for name in names:
        publish_tiny_tabular(store_root, name)
    # The shipped digits (an image model) replaces its tiny stand-in: pooled beside them.
    shutil.rmtree(store_root / "digits")
    shutil.copytree(ROOT / "models" / "digits", store_root / "digits")
    store = LocalStore(store_root)
    service = snapshot_service(tmp_path / "service", mock_aws=False)
    handlers, generated = service / "handlers", service / "generated"
    remove_model("digits", store, handlers_dir=handlers, out_dir=generated)
    for name in [*names, "digits"]:
        add_model(name, store, handlers_dir=handlers, out_dir=generated, pooled=True)
    layers = tmp_path / "layers"
    layers.mkdir()
    shutil.copy2(BUILT_LAYERS / "runtime.zip", layers / "runtime.zip")
    for zip_name in ("web.zip", "web-catalog.zip", "model-breast_cancer.zip"):
        _placeholder_zip(layers / zip_name)
    build_pool_layer(store_root, [*names, "digits"], layers)
    build_function_zip(layers, None, root=service)
    result = run_cli([SLS, "package", "--stage", "dev", "--region", "us-east-1"],
                     env=tool_env({"FEATHERSERVE_LAYERS_DIR": str(layers)}), cwd=service,
                     timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr

    packaged = load_package(service / ".serverless")
    (pool,) = [f for f in packaged.functions if f.name == "pool"]
    # The stage's default: no modelSource, so the pool reads the packed layer's /opt/models.
    assert pool.environment["FEATHERSERVE_MODEL_SOURCE"] == ""
    assert [layer.name for layer in pool.layers] == ["runtime.zip", "pool-models.zip"]
    assert pool.environment["FEATHERSERVE_MAX_BODY_BYTES"] == "4500000"
    sample = random.Random(19).sample(names, SAMPLE)
    events = [event for name in sample
              for event in (predict_event(name, [row([0.5, -1.0, 2.0])]), card_event(name))]
    events += [load_event(name) for name in IMAGE_EVENTS]
    events.append(predict_event("not_in_this_stage", [row([0.0, 0.0, 0.0])]))
    setup = runner_setup(tmp_path / "fidelity", events_dir=EVENTS,
                         cache_dir=ROOT / "build" / "fidelity", init_limit=60.0)
    sandbox = Unpacker(tmp_path / "zips").unpack(pool, tmp_path / "sandbox")
    env = function_environment(pool, sandbox, "us-east-1", setup)
    run = run_packaged(pool, events, sandbox, env, setup, tmp_path)
    assert run.init.ok, run.init
    answers = [answer.payload for answer in run.answers]
    assert len(answers) == len(events)
    for i, name in enumerate(sample):
        predicted, card = answers[2 * i], answers[2 * i + 1]
        assert predicted["statusCode"] == 200, predicted
        body = json.loads(predicted["body"])
        assert body["model"] == name, body
        assert len(body["predictions"]) == 1
        assert card["statusCode"] == 200, card
        assert json.loads(card["body"])["name"] == name
    for answer in answers[2 * SAMPLE:-1]:  # digits: JSON base64, raw image (v1 and v2)
        assert answer["statusCode"] == 200, answer
        assert answer["headers"]["Content-Type"].startswith("application/json")
        body = json.loads(answer["body"])
        assert body["model"] == "digits" and body["predictions"][0]["label"]
    unknown = answers[-1]
    assert unknown["statusCode"] == 404, unknown
    assert json.loads(unknown["body"])["error"]["code"] == "model_not_found"


def test_featherserve_add_pooled_and_remove_in_a_project_copy(tmp_path):
    """The CLI as a user runs it: `featherserve add NAME --pooled` writes the pool list and
    the pool entry, not a handler of its own; `featherserve remove NAME` takes both back."""
    project = snapshot_project(tmp_path / "project")
    store = tmp_path / "store"
    publish_tiny_models(store)
    publish_tiny_tabular(store, "churn_eu")
    before = {p.name: p.read_bytes() for p in (project / "generated").iterdir()}
    added = project_cli(project, "add", "churn_eu", "--pooled", "--store", str(store))
    assert "wrote handlers/pool_models.json" in added.stdout, added.stdout
    assert not (project / "handlers" / "churn_eu.py").exists()
    assert json.loads((project / "handlers" / "pool_models.json").read_text()) == {
        "models": [{"name": "churn_eu", "kind": "tabular", "ref": "live"}]}
    # The pool serves the store's `live` alias, set by add --pooled (test_pool_promote.py).
    assert "the pool serves its store alias live (version 1)" in added.stdout, added.stdout
    assert LocalStore(store).aliases("churn_eu")["live"] == "1"
    assert "serve_pool()" in (project / "handlers" / "pool.py").read_text()
    functions = (project / "generated" / "functions.yml").read_text()
    assert "\npool:" in functions and 'path: "/models/{name}/predict"' in functions
    assert "poolModels:" in (project / "generated" / "layers.yml").read_text()
    project_cli(project, "remove", "churn_eu", "--store", str(store))
    assert not (project / "handlers" / "pool_models.json").exists()
    assert not (project / "handlers" / "pool.py").exists()
    # (the copy's generated files were written from the real models; the tiny store's
    # descriptions differ, so compare the pool parts only)
    after = (project / "generated" / "functions.yml").read_text()
    assert "handlers/pool" not in after and "BulkPoolQueue" not in (
        project / "generated" / "bulk.yml").read_text()
    assert set(before) == {p.name for p in (project / "generated").iterdir()}
    for command in (["import", "--help"], ["train", "tabular", "--help"]):
        assert "--pooled" in project_cli(project, *command).stdout
