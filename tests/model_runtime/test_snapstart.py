"""SnapStart: the per-stage switch in the packaged template, and the runtime's hooks.

The template side packages the real service with `sls package` (no AWS): SnapStart on the
functions, the API still invoking each function's `live` alias (what `make rollback`
moves), no alias of the framework's own. The runtime side runs the hooks in Lambda's order
(before-snapshot, then after-restore on two copies of one snapshot's state) and checks what
the copies must not share.
"""

from __future__ import annotations

import json
import random
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from featherserve.support.processes import ROOT, run_cli, tool_env
from tests.support.deploy import (
    MODELS,
    placeholder_runtime_zip,
    snapshot_service,
    tiny_models_with_layers,
)
from tests.support.stack import SLS

FUNCTION = "AWS::Lambda::Function"


@pytest.fixture(scope="module")
def service(tmp_path_factory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("snapstart")
    _, layers = tiny_models_with_layers(root)
    placeholder_runtime_zip(layers / "runtime.zip")
    function_zip = ROOT / "build" / "layers" / "function.zip"
    if function_zip.is_file():
        (layers / "function.zip").write_bytes(function_zip.read_bytes())
    else:
        placeholder_runtime_zip(layers / "function.zip")
    service = snapshot_service(root / "service", mock_aws=False)
    service.joinpath(".layers").symlink_to(layers)
    yield service


def package(service: Path, out: Path, *params: str) -> dict[str, Any]:
    command = [SLS, "package", "--stage", "snap", "--package", str(out),
               *[f"--param={p}" for p in params]]
    result = run_cli(command, cwd=service,
                     env=tool_env({"FEATHERSERVE_LAYERS_DIR": str(service / ".layers")}))
    assert result.returncode == 0, result.stdout + result.stderr
    template: dict[str, Any] = json.loads(
        (out / "cloudformation-template-update-stack.json").read_text())
    return template


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def model_functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    names = {f"featherserve-snap-{m}" for m in MODELS}
    return {k: v for k, v in resources(template, FUNCTION).items()
            if v["Properties"].get("FunctionName") in names}


@pytest.mark.e2e
def test_snapstart_is_a_stage_switch_that_keeps_the_live_alias(service, tmp_path):
    on = package(service, tmp_path / "on", "snapStart=true")
    off = package(service, tmp_path / "off")
    assert len(model_functions(on)) == len(MODELS)
    for logical_id, function in model_functions(on).items():
        properties = function["Properties"]
        assert properties["SnapStart"] == {"ApplyOn": "PublishedVersions"}, logical_id
        assert properties["Environment"]["Variables"]["FEATHERSERVE_SNAPSTART"] \
            == "PublishedVersions"
    for logical_id, function in model_functions(off).items():
        assert "SnapStart" not in function["Properties"], logical_id
    # Every function, either way, runs numpy's BLAS on one thread (no pool at import).
    for function in (*model_functions(on).values(), *model_functions(off).values()):
        variables = function["Properties"]["Environment"]["Variables"]
        assert variables["OPENBLAS_NUM_THREADS"] == "1" and variables["OMP_NUM_THREADS"] == "1"
    # Only `live` aliases, one per function, each on that function's published version.
    aliases = resources(on, "AWS::Lambda::Alias")
    assert {a["Properties"]["Name"] for a in aliases.values()} == {"live"}
    targets = {a["Properties"]["FunctionName"]["Ref"] for a in aliases.values()}
    assert set(model_functions(on)) <= targets
    # Turning SnapStart on publishes new versions (it applies to versions published after).
    versions_on = set(resources(on, "AWS::Lambda::Version"))
    versions_off = set(resources(off, "AWS::Lambda::Version"))
    assert versions_on and not versions_on & versions_off
    # The API still invokes the alias, so `make rollback` (which moves it) still works.
    for method in resources(on, "AWS::ApiGateway::Method").values():
        uri = method["Properties"].get("Integration", {}).get("Uri")
        if uri:
            assert "live" in json.dumps(uri)
    from cfnlint.api import lint

    assert [str(m) for m in lint(json.dumps(on)) if m.rule.id[0] in "EW"] == []


def test_the_runtime_layer_ships_snapshot_restore_py():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert any(d.startswith("snapshot-restore-py") for d in project["dependencies"])


# -- the hooks, in Lambda's order ---------------------------------------------------------


@pytest.fixture
def snap_handler(tmp_path, monkeypatch):
    import snapshot_restore_py

    from model_runtime import Settings, serve_model
    from tests.support.tiny_models import publish_tiny_tabular

    monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", "snap-start")
    monkeypatch.setattr(snapshot_restore_py, "_before_snapshot_registry", [])
    monkeypatch.setattr(snapshot_restore_py, "_after_restore_registry", [])
    publish_tiny_tabular(tmp_path, "tiny")
    handler = serve_model("tiny", settings=Settings(model_source=str(tmp_path)))
    return handler, snapshot_restore_py


def run_hooks(registry: list[Any]) -> None:
    for func, args, kwargs in registry:
        func(*args, **kwargs)


def test_snapstart_init_registers_both_hooks_and_they_run_in_order(snap_handler, capsys):
    handler, hooks = snap_handler
    assert len(hooks.get_before_snapshot()) == 1 and len(hooks.get_after_restore()) == 1
    run_hooks(hooks.get_before_snapshot())
    run_hooks(hooks.get_after_restore())
    capsys.readouterr()
    event = {"version": "2.0", "rawPath": "/models/tiny/predict",
             "requestContext": {"http": {"method": "POST", "path": "/models/tiny/predict"},
                                "requestId": "r1"},
             "headers": {"content-type": "application/json"},
             "body": json.dumps({"instances": [{"alpha": 1.0, "beta": 2.0, "gamma": 3.0}]}),
             "isBase64Encoded": False}
    assert handler(event, None)["statusCode"] == 200
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    emf = [line for line in lines if "_aws" in line]
    # Exactly one metrics line, the request's own: nothing buffered before the snapshot
    # (init, warm-up) leaks into it, and it is the restored copy's cold start.
    assert len(emf) == 1 and emf[0]["cold_start"] is True and "ColdStart" in emf[0]
    assert emf[0]["Instances"] in (1.0, [1.0])  # this one request only


def test_restored_copies_do_not_share_random_state(snap_handler):
    import numpy as np

    _, hooks = snap_handler
    run_hooks(hooks.get_before_snapshot())
    # What a snapshot holds: the generators' state at the moment it is taken.
    snapshot = (random.getstate(), np.random.get_state())

    def restored_copy_draws(restore: bool) -> tuple[float, float]:
        random.setstate(snapshot[0])
        np.random.set_state(snapshot[1])
        if restore:
            run_hooks(hooks.get_after_restore())
        return random.random(), float(np.random.random())

    assert restored_copy_draws(False) == restored_copy_draws(False)  # what the hook prevents
    first, second = restored_copy_draws(True), restored_copy_draws(True)
    assert first[0] != second[0] and first[1] != second[1]
