"""Pooled models on the user's machine (issue 19): in a project copy, `featherserve remove
digits` then `featherserve add digits --pooled` and `add breast_cancer --pooled`; `featherserve
layers` packs both live versions into build/layers/pool-models.zip and counts the pool
function; `sls invoke local -f pool` answers both from the project store models/ (no layer
is on the path locally: the empty modelSource falls back to the project's store)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from featherserve.support.events import EVENTS
from featherserve.support.processes import last_json_document, run_cli
from model_store.local import LocalStore
from tests.support.deploy import project_cli, project_env, snapshot_project
from tests.support.stack import SLS

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = snapshot_project(tmp_path_factory.mktemp("pool-local") / "project")
    for name in ("digits", "breast_cancer"):
        project_cli(root, "remove", name)
        project_cli(root, "add", name, "--pooled")
    return root


def test_featherserve_layers_packs_the_pooled_models_live_versions(project):
    built = project_cli(project, "layers", "--skip-runtime")
    assert "pool-models" in built.stdout, built.stdout
    layers = project / "build" / "layers"
    names = zipfile.ZipFile(layers / "pool-models.zip").namelist()
    for name in ("digits", "breast_cancer"):
        version = LocalStore(project / "models").resolve(name, "live")
        assert f"models/{name}/{version}/manifest.json" in names
        assert f"models/{name}/aliases.json" in names
    report = json.loads((layers / "report.json").read_text())
    (pool,) = [f for f in report["functions"] if f["name"] == "pool"]
    assert pool["layers"] == ["runtime", "pool-models"] and pool["ok"], pool
    # Pooled models have no model layer and no function of their own.
    assert not {"digits", "breast_cancer"} & {f["name"] for f in report["functions"]}
    assert not (layers / "model-digits.zip").exists()


@pytest.mark.parametrize(("event", "model"), [("digits_raw_v1", "digits"),
                                              ("digits_predict_v2", "digits"),
                                              ("breast_cancer_predict_v1", "breast_cancer")])
def test_sls_invoke_local_answers_pooled_models_from_the_project_store(project, event, model):
    result = run_cli([SLS, "invoke", "local", "-f", "pool", "--path",
                      str(EVENTS / f"{event}.json")],
                     env=project_env(project), cwd=project, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    response = last_json_document(result.stdout)
    assert response["statusCode"] == 200, response
    body = json.loads(response["body"])
    assert body["model"] == model and body["predictions"]
