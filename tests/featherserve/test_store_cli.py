"""``featherserve`` store commands on local stores: every command, and the exit codes."""

from __future__ import annotations

import dataclasses
import functools
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

import featherserve.cli as cli
import featherserve.store_cli as store_cli
from featherserve.codegen.handler_modules import write_handler
from featherserve.layers import LambdaLimits, LayersRequest
from model_store import Feature, LocalStore, Manifest, OutputSpec, TabularSpec, stores
from model_store.s3 import S3Store
from tests.support.cli import run
from tests.support.tiny_models import tiny_tabular_manifest, tiny_tabular_onnx


def make_manifest(name: str) -> Manifest:
    return Manifest(name=name, task="tabular-classification",
                    input=TabularSpec(features=(Feature("a"), Feature("b"))),
                    output=OutputSpec(name="probabilities"), labels=("no", "yes"))


# Real ONNX graphs (publish checks each against its manifest): iris v1, iris v2, digits v1.
PAYLOADS = {("iris", "1"): tiny_tabular_onnx(np.full((3, 2), 1.0)),
            ("iris", "2"): tiny_tabular_onnx(np.full((3, 2), 2.0)),
            ("digits", "1"): tiny_tabular_onnx(np.full((3, 2), 3.0))}


def corrupt(path: Path) -> None:
    """One bit flipped: the same size, another sha256."""
    data = path.read_bytes()
    path.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    store = LocalStore(tmp_path / "store")
    for (name, _), payload in PAYLOADS.items():
        source = tmp_path / f"{name}.onnx"
        source.write_bytes(payload)
        store.publish(tiny_tabular_manifest(name), source)
    store.set_alias("iris", "prod", "1")
    return store


def layers_args(store: LocalStore, tmp_path: Path, *extra: str) -> list[str]:
    handlers = tmp_path / "handlers"
    handlers.mkdir(exist_ok=True)
    for name in store.names():
        write_handler(name, "tabular-classification", handlers)
    return ["layers", "--store", str(store.root), "--out", str(tmp_path / "out"),
            "--handlers", str(handlers),
            "--code", str(tmp_path / "store"), "--skip-runtime", *extra]


def test_list_shows_names_versions_and_aliases(store, capsys):
    code, out, _ = run(capsys, "list", "--store", str(store.root))
    assert code == store_cli.EXIT_OK
    digits, iris = out.splitlines()
    assert digits.startswith("digits") and "versions: 1" in digits and "latest=1" in digits
    assert iris.startswith("iris") and "versions: 1, 2" in iris
    assert "latest=2" in iris and "prod=1" in iris


def test_list_json(store, capsys):
    code, out, _ = run(capsys, "list", "--json", "--store", str(store.root))
    models = {m["name"]: m for m in json.loads(out)["models"]}
    assert code == 0 and models["iris"]["versions"] == ["1", "2"]
    assert models["iris"]["aliases"] == {"latest": "2", "prod": "1"}


def test_list_of_an_empty_store_says_so(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    code, out, _ = run(capsys, "list", "--store", str(tmp_path / "empty"))
    assert code == 0 and out.startswith("no models in")


@pytest.mark.parametrize(("ref", "version"), [([], "2"), (["1"], "1"), (["prod"], "1")])
def test_show_prints_the_manifest_json(store, capsys, ref, version):
    code, out, _ = run(capsys, "show", "iris", *ref, "--store", str(store.root))
    assert code == 0
    assert Manifest.from_json(out) == store.manifest("iris", version)


@pytest.mark.parametrize(("argv", "message"), [
    (["show", "nope"], "no model named 'nope'"),
    (["show", "iris", "7"], "has no version 7"),
    (["show", "iris", "staging"], "has no alias 'staging'"),
    (["alias", "iris", "latest", "1"], "'latest' always names the newest"),
    (["alias", "iris", "prod", "9"], "has no version 9"),
])
def test_store_errors_exit_1_with_a_message(store, capsys, argv, message):
    code, out, err = run(capsys, *argv, "--store", str(store.root))
    assert code == store_cli.EXIT_ERROR and out == ""
    assert err.startswith("error: ") and message in err


def test_alias_moves_an_alias(store, capsys):
    code, out, _ = run(capsys, "alias", "iris", "prod", "2", "--store", str(store.root))
    assert code == 0 and out.strip() == "iris: prod -> version 2"
    assert store.resolve("iris", "prod") == "2"


def test_a_missing_store_folder_is_an_error(tmp_path, capsys):
    code, _, err = run(capsys, "list", "--store", str(tmp_path / "typo"))
    assert code == store_cli.EXIT_ERROR and "does not exist" in err


def test_locations_become_stores_through_model_store_stores():
    assert isinstance(stores.open_store("s3://bucket/models"), S3Store)  # no AWS call yet
    assert isinstance(stores.open_store("/somewhere"), LocalStore)


def test_a_bad_s3_location_is_an_error(capsys):
    code, out, err = run(capsys, "list", "--store", "s3://x/models")
    assert code == store_cli.EXIT_ERROR and out == ""
    assert err.startswith("error: ") and "not a valid bucket name" in err


# -- promote, rollback, publish, pull on local stores (S3: test_store_cli_s3.py) -----------


def test_promote_prints_the_old_and_new_version(store, capsys):
    where = ["--store", str(store.root)]
    assert run(capsys, "promote", "iris", "2", *where) == (0, "iris prod: 1 -> 2\n", "")
    assert run(capsys, "promote", "iris", "2", *where) == (
        0, "iris prod: 2 -> 2 (unchanged)\n", "")
    code, out, _ = run(capsys, "promote", "digits", "latest", "--alias", "staging", *where)
    assert code == 0 and out == "digits staging: (unset) -> 1\n"
    assert store.resolve("iris", "prod") == "2" and store.resolve("digits", "staging") == "1"


def test_rollback_walks_the_history_then_says_there_is_none(store, capsys):
    where = ["--store", str(store.root)]
    run(capsys, "promote", "iris", "2", *where)
    assert run(capsys, "rollback", "iris", *where) == (0, "iris prod: 2 -> 1\n", "")
    assert store.resolve("iris", "prod") == "1"
    code, out, err = run(capsys, "rollback", "iris", *where)
    assert code == store_cli.EXIT_ERROR and out == ""
    assert err == ("error: alias 'prod' of model 'iris' names version 1 and has no earlier "
                   "version to roll back to; promote a version explicitly\n")
    code, _, err = run(capsys, "rollback", "iris", "--alias", "canary", *where)
    assert code == store_cli.EXIT_ERROR and "has no alias 'canary' to roll back" in err


def test_publish_copies_a_version_once_per_sha256(store, tmp_path, capsys):
    target = tmp_path / "elsewhere"
    argv = ["publish", "iris", "prod", "--from", str(store.root), "--to", str(target)]
    code, out, _ = run(capsys, *argv)
    # prod names the copied version: it comes along (test_publish_aliases.py: the rest).
    assert code == 0 and out.splitlines()[1:] == [
        f"prod: set to v1 in {target} (as in the source)"]
    assert out.splitlines()[0].endswith("published as version 1")
    code, out, _ = run(capsys, *argv)
    assert code == 0 and "already there (same sha256" in out
    assert out.splitlines()[0].endswith("as version 1")
    code, out, _ = run(capsys, "publish", "iris", "--store", str(store.root),
                       "--to", str(target))  # --store is --from; latest is v2
    assert code == 0 and out.rstrip().endswith("published as version 2")
    assert LocalStore(target).aliases("iris") == {"latest": "2", "prod": "1"}
    copied = LocalStore(target)
    assert copied.manifest("iris", "1").sha256 == store.manifest("iris", "1").sha256
    assert copied.manifest("iris", "2").sha256 == store.manifest("iris", "2").sha256
    assert copied.open("iris", "2").model_bytes == PAYLOADS["iris", "2"]


@pytest.mark.parametrize(("change", "payload", "both_sides"), [
    ({"labels": ("a", "b", "c")}, None,
     ["manifest task tabular-classification with 3 labels needs output [N, 3]",
      "the graph's is 'probabilities' float32 [N, 2]"]),
    ({"input_name": "features"}, None,
     ["manifest input 'features' float32 [N, 3] is not an input of the graph",
      "graph inputs: 'input' float32 [N, 3]"]),
    ({}, b"not an onnx graph",
     ["model.onnx is not an ONNX graph onnxruntime can load"]),
])
def test_publish_refuses_a_graph_its_manifest_does_not_describe(tmp_path, capsys, change,
                                                               payload, both_sides):
    # LocalStore.publish stores what it is given: a source store can hold a mismatch.
    source, target = LocalStore(tmp_path / "source"), tmp_path / "target"
    model = tmp_path / "model.onnx"
    model.write_bytes(payload or tiny_tabular_onnx())
    source.publish(dataclasses.replace(tiny_tabular_manifest("odd"), **change), model)
    code, out, err = run(capsys, "publish", "odd", "--from", str(source.root),
                         "--to", str(target))
    assert code == store_cli.EXIT_ERROR and out == ""
    assert err.startswith("error: odd: ") and err.count("\n") == 1
    for side in both_sides:
        assert side in err
    assert not target.exists() or LocalStore(target).names() == []


def test_pull_copies_a_version_and_its_aliases(store, tmp_path, capsys):
    dest = tmp_path / "pulled"
    code, out, _ = run(capsys, "pull", "iris", "prod", "--from", str(store.root),
                       "--dest", str(dest))
    assert code == 0 and out.strip().endswith(f"{dest / 'iris' / '1'} (aliases here: prod)")
    pulled = LocalStore(dest)
    assert pulled.versions("iris") == ["1"] and pulled.names() == ["iris"]
    assert pulled.aliases("iris") == {"latest": "1", "prod": "1"}
    assert pulled.open("iris", "prod").manifest == store.manifest("iris", "1")


@pytest.mark.parametrize(("argv", "message"), [
    (["promote", "iris", "9"], "has no version 9"),
    (["promote", "nope", "1"], "no model named 'nope'"),
    (["promote", "iris", "1", "--alias", "latest"], "'latest' always names the newest"),
    (["rollback", "nope"], "no model named 'nope'"),
    (["publish", "iris", "7", "--to", "unused"], "has no version 7"),
    (["publish", "nope", "--to", "unused"], "no model named 'nope'"),
    (["pull", "iris", "staging", "--dest", "unused"], "has no alias 'staging'"),
])
def test_new_commands_exit_1_with_a_message(store, tmp_path, capsys, monkeypatch, argv,
                                            message):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, *argv, "--store", str(store.root))
    assert code == store_cli.EXIT_ERROR and out == ""
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert not (tmp_path / "unused").exists()


def test_a_corrupt_source_is_never_published(store, tmp_path, capsys):
    corrupt(store.model_path("digits"))
    code, _, err = run(capsys, "publish", "digits", "--from", str(store.root),
                       "--to", str(tmp_path / "target"))
    assert code == store_cli.EXIT_ERROR and "sha256" in err
    assert LocalStore(tmp_path / "target").names() == []


def test_an_unwritable_destination_is_an_error_not_a_traceback(store, tmp_path, capsys):
    (tmp_path / "a-file").write_text("not a folder")
    code, _, err = run(capsys, "pull", "iris", "--from", str(store.root),
                       "--dest", str(tmp_path / "a-file"))
    assert code == store_cli.EXIT_ERROR and err.startswith("error: ")


@pytest.mark.parametrize("argv", [
    [], ["frobnicate"], ["show"], ["alias", "iris", "prod"], ["promote", "iris"],
    ["rollback"], ["publish", "iris"], ["pull", "iris"], ["list", "--to", "x"],
])
def test_usage_errors_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(argv)
    assert exited.value.code == store_cli.EXIT_USAGE


def test_layers_builds_the_chosen_model_layers_and_a_report(store, tmp_path, capsys):
    code, out, _ = run(capsys, *layers_args(store, tmp_path, "--models", "iris@prod"))
    assert code == store_cli.EXIT_OK
    with zipfile.ZipFile(tmp_path / "out" / "model-iris.zip") as archive:
        assert "models/iris/1/model.onnx" in archive.namelist()
    assert not (tmp_path / "out" / "model-digits.zip").exists()
    assert "model-iris" in out and "no runtime layer" in out
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["ok"] and [f["name"] for f in report["functions"]] == ["iris", "web"]


def test_layers_defaults_to_every_served_model(store, tmp_path, capsys):
    code, _, _ = run(capsys, *layers_args(store, tmp_path))
    assert code == 0
    assert sorted(p.name for p in (tmp_path / "out").glob("model-*.zip")) == [
        "model-digits.zip", "model-iris.zip"]
    index = json.loads((tmp_path / "out" / "models.json").read_text())
    assert index["iris"]["version"] == "2"
    assert index["iris"]["label"] == f"iris v2 sha256:{index['iris']['sha256'][:12]}"


def test_a_layer_for_a_model_with_no_function_is_an_error(store, tmp_path, capsys):
    argv = layers_args(store, tmp_path, "--models", "iris")
    (tmp_path / "handlers" / "iris.py").unlink()
    code, _, err = run(capsys, *argv)
    assert code == store_cli.EXIT_ERROR
    assert "no function serves iris" in err and "featherserve add iris" in err
    assert not list((tmp_path / "out").glob("*.zip"))


def test_layers_over_a_limit_exit_3_naming_the_layer(store, tmp_path, capsys, monkeypatch):
    small = functools.partial(LayersRequest, limits=LambdaLimits(max_zipped_bytes=10))
    monkeypatch.setattr(store_cli, "LayersRequest", small)
    code, out, err = run(capsys, *layers_args(store, tmp_path, "--models", "digits"))
    assert code == store_cli.EXIT_LIMITS
    assert "LIMIT EXCEEDED: layer 'model-digits'" in out and "limit(s) exceeded" in err


@pytest.mark.parametrize(("extra", "message"), [
    (["--models", "nope"], "no function serves nope"),
    (["--models", "iris@"], "NAME@VERSION_OR_ALIAS"),
    (["--code", "/no/such/code"], "does not exist"),
])
def test_layers_errors_exit_1(store, tmp_path, capsys, extra, message):
    code, _, err = run(capsys, *layers_args(store, tmp_path, *extra))
    assert code == store_cli.EXIT_ERROR and message in err


def test_layers_stop_on_a_corrupt_model(store, tmp_path, capsys):
    corrupt(store.model_path("digits"))
    code, _, err = run(capsys, *layers_args(store, tmp_path))
    assert code == store_cli.EXIT_ERROR and "sha256" in err
    assert not list((tmp_path / "out").glob("*.zip"))


def test_the_console_script_lists_the_store_commands():
    featherserve = Path(sys.executable).parent / "featherserve"
    result = subprocess.run([str(featherserve), "--help"], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stderr
    for command in ("list", "show", "alias", "promote", "rollback", "publish", "pull", "layers"):
        assert command in result.stdout


def test_building_some_layers_keeps_the_index_entries_of_the_others(store, tmp_path, capsys):
    assert run(capsys, *layers_args(store, tmp_path))[0] == 0
    before = json.loads((tmp_path / "out" / "models.json").read_text())
    assert run(capsys, *layers_args(store, tmp_path, "--models", "iris@1"))[0] == 0
    after = json.loads((tmp_path / "out" / "models.json").read_text())
    assert after["digits"] == before["digits"]  # not rebuilt, still described
    assert after["iris"]["version"] == "1" != before["iris"]["version"]
    (tmp_path / "out" / "model-digits.zip").unlink()
    assert run(capsys, *layers_args(store, tmp_path, "--models", "iris"))[0] == 0
    assert set(json.loads((tmp_path / "out" / "models.json").read_text())) == {"iris"}
