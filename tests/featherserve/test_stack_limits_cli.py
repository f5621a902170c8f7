"""`featherserve add`, `import` and `layers` refuse a stage that would be over
CloudFormation's limits before writing anything: no handler, no generated file, no store
version, no layer. Run as a user runs them, in a copy of the project whose stage already
serves the most dedicated models its template holds (featherserve/stack_costs_table.py).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from featherserve.codegen.handler_modules import served_models, write_handler
from featherserve.codegen.service_files import regenerate
from featherserve.stack_costs import MEASURE_COMMAND, StackCosts
from featherserve.stack_limits import MAX_RESOURCES
from featherserve.support.processes import run_cli
from model_store import LocalStore
from tests.support.deploy import FEATHERSERVE, project_env, snapshot_project
from tests.support.tiny_models import publish_tiny_tabular, tiny_tabular_onnx

COSTS = StackCosts.load()
MOST = (MAX_RESOURCES - COSTS.shared["resources"]) // COSTS.per_model["resources"]


def tree(root: Path) -> dict[str, str]:
    """Every file under ``root`` (links not followed) and its sha256: a before/after compare."""
    return {str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(root.rglob("*"))
            if path.is_file() and not path.is_symlink()
            and "node_modules" not in path.parts and "__pycache__" not in path.parts}


def full_project(tmp: Path) -> Path:
    """A project copy serving MOST models: the shipped ones, then tiny m000…, written by the
    kit's codegen; m900 is published but not served."""
    project = snapshot_project(tmp / "project")
    store, handlers = LocalStore(project / "models"), project / "handlers"
    for i in range(MOST - len(served_models(handlers))):
        publish_tiny_tabular(project / "models", f"m{i:03d}")
        write_handler(f"m{i:03d}", "tabular-classification", handlers)
    publish_tiny_tabular(project / "models", "m900")
    regenerate(store, handlers_dir=handlers, out_dir=project / "generated")
    assert len(served_models(handlers)) == MOST
    return project


def refused(project: Path, *args: str) -> str:
    result = run_cli([FEATHERSERVE, *args], env=project_env(project), cwd=project, timeout=300)
    assert result.returncode == 1, result.stdout + result.stderr
    message = " ".join(result.stderr.split())
    over = COSTS.estimate([*served_models(project / "handlers"), "m900"])
    assert over["resources"] > MAX_RESOURCES
    assert f"resources: {over['resources']:,} > limit {MAX_RESOURCES}" in message, message
    assert f"with {MOST + 1} dedicated models" in message
    assert "featherserve add NAME --pooled" in message and "Nothing was written" in message
    assert MEASURE_COMMAND in message
    return message


def test_add_import_and_layers_past_the_limit_write_nothing(tmp_path):
    project = full_project(tmp_path)
    before = tree(project)

    refused(project, "add", "m900")
    assert tree(project) == before

    # import: refused before the model file is even read, so the store gets no version.
    model = tmp_path / "m901.onnx"
    model.write_bytes(tiny_tabular_onnx())
    data = tmp_path / "rows.csv"
    data.write_text("alpha,beta,gamma,label\n" + "".join(
        f"{i},{i % 3},{-i},{'yes' if i % 2 else 'no'}\n" for i in range(40)))
    message = refused(project, "import", "m900", str(model), "--data", str(data),
                      "--target", "label")
    assert "adding m900" in message
    assert tree(project) == before

    # A model already served is no change: `add` of one of them is still allowed.
    ok = run_cli([FEATHERSERVE, "add", "m000"], env=project_env(project), cwd=project)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert tree(project) == before

    # A handler added by hand: `featherserve layers` refuses before building anything.
    write_handler("m900", "tabular-classification", project / "handlers")
    before = tree(project)
    out = tmp_path / "layers"
    result = run_cli([FEATHERSERVE, "layers", "--out", str(out), "--skip-runtime"],
                     env=project_env(project), cwd=project)
    assert result.returncode == 1, result.stdout + result.stderr
    message = " ".join(result.stderr.split())
    assert f"with {MOST + 1} dedicated models" in message and "--pooled" in message
    assert not out.exists()
    assert tree(project) == before
