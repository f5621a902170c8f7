"""README "Serve your own model", followed as a new user would, in a throwaway project.

The commands are read from the README itself (so the section cannot drift from what works)
and run in a copy of the whole project (``snapshot_project``): the generated CSV, the one
`featherserve train tabular` command (plus ``--quick``, so the test takes seconds), then
the new model answers `sls invoke local`, serverless-offline (the README's curl, and the
curl `make serve`'s banner prints), and the Lambda-fidelity runner on what `featherserve
layers` + `sls package` wrote; `featherserve remove` takes it all back out.
"""

from __future__ import annotations

import csv
import json
import re
import shlex
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from featherserve.support.events import load_event, with_body
from featherserve.support.processes import (
    ROOT,
    VENV,
    last_json_document,
    run_cli,
)
from tests.support.deploy import project_cli, project_env, snapshot_project
from tests.support.stack import SLS, post, sls_offline

pytestmark = pytest.mark.e2e
SECTION = "## Serve your own model"
# The packaged run is on a shared machine: a generous init limit, never a timing assertion.
INIT_LIMIT = "60"
FUNCTION_ZIP = "build/layers/function.zip"


# ------------------------------------------------------------------- the README's commands
def readme_commands() -> list[list[str]]:
    """The first bash block of the section, one argv per command, read as the shell does
    (a backslash continues a line; a quoted string may span lines)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.DOTALL)
    assert block, f"README {SECTION!r} has no bash block"
    commands, pending = [], ""
    for line in block.group(1).replace("\\\n", " ").splitlines():
        pending += line + "\n"
        try:
            argv = shlex.split(pending, comments=True)
        except ValueError:  # inside a quoted string: the command goes on
            continue
        if argv:
            commands.append(argv)
        pending = ""
    assert not pending, f"README {SECTION!r}: unterminated command {pending!r}"
    return commands


def find(commands: list[list[str]], *head: str) -> list[str]:
    found = [c for c in commands if c[:len(head)] == list(head)
             or (c and Path(c[0]).name == head[0] and c[1:len(head)] == list(head[1:]))]
    assert len(found) == 1, f"README {SECTION!r}: expected one {' '.join(head)!r} in {commands}"
    return found[0]


def local_argv(argv: list[str]) -> list[str]:
    """``.venv/bin/...`` as written, run from the project's virtualenv."""
    if argv[0].startswith(".venv/"):
        return [str(VENV / Path(argv[0]).relative_to(".venv")), *argv[1:]]
    return argv


def option(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


COMMANDS = readme_commands()
MAKE_DATA = find(COMMANDS, "python", "-m", "training.tabular.synthetic")
TRAIN = find(COMMANDS, "featherserve", "train", "tabular")
CURL = find(COMMANDS, "curl")
NAME = TRAIN[3]
ROW = json.loads(option(CURL, "-d"))["instances"][0]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the project in which the README's first two commands have run."""
    root = snapshot_project(tmp_path_factory.mktemp("byo") / "project")
    env = project_env(root)
    data = run_cli(local_argv(MAKE_DATA), env=env, cwd=root, timeout=120)
    assert data.returncode == 0, data.stdout + data.stderr
    train = run_cli([*local_argv(TRAIN), "--quick"], env=env, cwd=root, timeout=300)
    assert train.returncode == 0, train.stdout + train.stderr
    (root / "train.log").write_text(train.stdout + train.stderr)
    return root


def events_for(folder: Path) -> Path:
    """The README's row as API Gateway REST (v1) and HTTP API (v2) events, and a card GET."""
    folder.mkdir(parents=True, exist_ok=True)
    body = json.dumps({"instances": [ROW]})
    for shipped in ("breast_cancer_predict_v1", "breast_cancer_predict_v2",
                    "breast_cancer_card_v2"):
        event = json.loads(json.dumps(load_event(shipped)).replace("breast_cancer", NAME))
        if "predict" in shipped:
            event = with_body(event, body, content_type="application/json")
        (folder / f"{shipped.replace('breast_cancer', NAME)}.json").write_text(json.dumps(event))
    return folder


# ------------------------------------------------------------------------------- the tests
def test_the_csv_has_text_categories_and_missing_values(project):
    path = project / option(TRAIN, "--data")
    assert MAKE_DATA[-1] == option(TRAIN, "--data")  # the README trains on what it generated
    with path.open(newline="") as stream:
        rows = list(csv.DictReader(stream))
    target = option(TRAIN, "--target")
    assert len(rows) > 100 and target in rows[0]
    assert any(value == "" for row in rows for value in row.values()), "no missing cells"
    text = [column for column in rows[0] if column != target
            and not all(_is_number(row[column]) for row in rows)]
    assert text, "no text category column"


def _is_number(cell: str) -> bool:
    try:
        float(cell or "0")
    except ValueError:
        return False
    return True


def test_train_published_and_wrote_the_handler_and_generated_entries(project):
    log = (project / "train.log").read_text()
    assert f"wrote handlers/{NAME}.py" in log and "wrote generated/functions.yml" in log, log
    assert f"published {NAME} v1" in log
    handler = (project / "handlers" / f"{NAME}.py").read_text()
    assert f'handler = serve_model("{NAME}")' in handler
    functions = (project / "generated" / "functions.yml").read_text()
    assert f"\n{NAME}:\n  handler: handlers/{NAME}.handler" in functions
    assert f"path: /models/{NAME}/predict" in functions
    layers = (project / "generated" / "layers.yml").read_text()
    assert f"artifact: ${{self:custom.layersDir}}/model-{NAME}.zip" in layers
    manifest = json.loads((project / "models" / NAME / "1" / "manifest.json").read_text())
    kinds = {f["name"]: f["kind"] for f in manifest["input"]["features"]}
    assert set(kinds) == set(ROW) and "category" in kinds.values()
    # The project the tests run from is untouched.
    assert not (ROOT / "handlers" / f"{NAME}.py").exists()


def test_sls_invoke_local_answers_a_raw_row(project, tmp_path):
    event = events_for(tmp_path) / f"{NAME}_predict_v2.json"
    result = run_cli([SLS, "invoke", "local", "-f", NAME, "--path", str(event)],
                     env=project_env(project), cwd=project, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    response = last_json_document(result.stdout)
    assert response["statusCode"] == 200, response
    body = json.loads(response["body"])
    assert body["model"] == NAME and body["version"] == "1"
    assert body["predictions"][0]["label"] == "Gentoo"  # Biscoe, 217 mm flippers, 15 mm bill


def curl_request(argv: list[str], port: int) -> tuple[str, bytes, dict[str, str]]:
    """A curl command's URL (on ``port``), body and headers."""
    url = next(a for a in argv if a.startswith("http://"))
    parts = urllib.parse.urlsplit(url)
    assert parts.hostname == "127.0.0.1", url
    headers = dict(h.split(": ", 1) for h in (argv[i + 1] for i, a in enumerate(argv)
                                                if a == "-H"))
    return (parts._replace(netloc=f"127.0.0.1:{port}").geturl(),
            option(argv, "-d").encode(), headers)


def test_serverless_offline_answers_the_readme_curl_and_the_banner_curl(project, tmp_path):
    assert ["make", "serve"] in COMMANDS
    env = project_env(project)
    # What `make serve` does, on free ports: build the layers when serverless-offline's
    # artifact (the function zip) is missing, then start serverless-offline.
    serve = (ROOT / "Makefile").read_text().split("\nserve:", 1)[1].split("\n\n", 1)[0]
    assert serve.split("##")[0].split() == ["setup", FUNCTION_ZIP] and "sls offline start" in serve
    if not (project / FUNCTION_ZIP).is_file():
        project_cli(project, "layers", env=env, timeout=600)
    log = tmp_path / "offline.log"
    # README's `sls offline start --stage dev --httpPort N --lambdaPort M`, in the copy.
    with sls_offline(log, cwd=project, env=env) as stack:
        port, process = stack.port, stack.process
        status, body = post(*curl_request(CURL, port))
        assert status == 200, (status, body, log.read_text()[-3000:])
        assert body["model"] == NAME and body["predictions"][0]["label"] == "Gentoo"
        # `make serve` prints a curl per served model, the new one included.
        banner = run_cli([str(VENV / "bin/python"), "-m", "featherserve.examples",
                          "--base-url", f"http://127.0.0.1:{port}"], env=env, cwd=project)
        assert banner.returncode == 0, banner.stderr
        lines = [shlex.split(line) for line in banner.stdout.splitlines()
                 if line.startswith("curl") and f"/models/{NAME}/predict" in line]
        assert len(lines) == 1, banner.stdout
        status, body = post(*curl_request(lines[0], port))
        assert status == 200 and body["predictions"][0]["label"], body
    assert process.poll() is not None  # stopped with its process group


def test_packaged_artifacts_answer_the_new_model(project, tmp_path):
    env = project_env(project)
    project_cli(project, "layers", env=env, timeout=600)
    built = json.loads((project / "build/layers/models.json").read_text())
    assert built[NAME]["version"] == "1"
    package = run_cli([SLS, "package", "--stage", "dev", "--region", "us-east-1"],
                      env=env, cwd=project, timeout=240)
    assert package.returncode == 0, package.stdout + package.stderr
    verify = run_cli([str(VENV / "bin/featherserve"), "verify", ".serverless", "--json",
                      "--events", str(events_for(tmp_path / "events")),
                      "--init-limit", INIT_LIMIT], env=env, cwd=project, timeout=600)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    reports = {r["function"]: r for r in json.loads(verify.stdout)}
    report = reports[NAME]
    assert report["ok"], report
    answered = {e["event"]: e for e in report["events"]}
    assert set(answered) == {f"{NAME}_predict_v1", f"{NAME}_predict_v2", f"{NAME}_card_v2"}
    for name, event in answered.items():
        # ok: the packaged answer equals the handler's in process (status, headers, body).
        assert event["answer"] == "answered 200" and event["ok"], (name, event)


def test_remove_unserves_and_layers_refuse_it(project):
    env = project_env(project)
    featherserve = str(VENV / "bin/featherserve")
    removed = run_cli([featherserve, "remove", NAME], env=env, cwd=project)
    assert removed.returncode == 0, removed.stdout + removed.stderr
    assert f"deleted handlers/{NAME}.py" in removed.stdout
    assert not (project / "handlers" / f"{NAME}.py").exists()
    for generated in (project / "generated").glob("*.yml"):
        assert NAME not in generated.read_text(), generated
    refused = run_cli([featherserve, "layers", "--skip-runtime", "--models", NAME],
                      env=env, cwd=project)
    assert refused.returncode == 1
    # The copy is the project it acted on (test_project_discovery.py), then the error.
    said, error = refused.stderr.split("\n", 1)
    assert said == f"featherserve: project {project.resolve()}"
    assert error.startswith(f"error: no function serves {NAME}"), refused.stderr
    assert f"featherserve add {NAME}" in refused.stderr and "Traceback" not in refused.stderr
    # `make layers` (every served model) no longer builds or lists it.
    rebuilt = run_cli([featherserve, "layers", "--skip-runtime"], env=env, cwd=project)
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    assert NAME not in json.loads((project / "build/layers/models.json").read_text())
    assert NAME not in {f["name"] for f in json.loads(
        (project / "build/layers/report.json").read_text())["functions"]}
    # The store keeps it: one `featherserve add` serves it again (other tests may follow).
    added = run_cli([featherserve, "add", NAME], env=env, cwd=project)
    assert added.returncode == 0 and f"wrote handlers/{NAME}.py" in added.stdout, added.stdout
