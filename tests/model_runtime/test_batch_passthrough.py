"""Files to score as users have them: ids and other non-feature columns pass through to
their rows, and a target column scores the file, through `featherserve predict` (the CLI's
own entry point) and the bulk path (moto's S3 notifies SQS; the event goes to the real batch
handler). Every score is checked against one computed here from the output lines alone."""

from __future__ import annotations

import base64
import csv
import io
import json
import math
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from featherserve.cli import main
from model_runtime import Settings, serve_model
from model_runtime.batch import serve_batch
from model_runtime.batch.settings import BatchSettings
from tests.support.bulk import Bulk
from tests.support.fake_s3 import fake_aws_environment
from tests.support.tiny_models import (
    TINY_FEATURES,
    TINY_LABELS,
    publish_tiny_regression,
    publish_tiny_tabular,
)

IMAGES = Path(__file__).resolve().parents[1] / "images" / "rendered_digits"
# Ids before, between and after the features, as exports have them.
HEADER = ["customer", "alpha", "order", "beta", "gamma", "label"]
MODELS = {"classification": "tiny", "regression": "tinyreg"}
EXAMPLES = settings(max_examples=12, derandomize=True, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("store")
    publish_tiny_tabular(root, "tiny")
    publish_tiny_regression(root, "tinyreg")
    return root


# ------------------------------------------------------------------------- the tables
# Text ids with commas, quotes, newlines and any script; "" is a missing id.
ids = st.one_of(
    st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\x00"),
            max_size=10),
    st.sampled_from(["A, B", 'say "hi"', "line\nbreak", "中文,ünï", "007", "  ", ""]))
feature_cells = st.one_of(
    st.floats(-5, 5, allow_nan=False).map(lambda v: repr(round(v, 4))),
    st.sampled_from(["n/a", ""]))  # a row error: not a number, or missing


@st.composite
def tables(draw: Any, task: str) -> list[dict[str, Any]]:
    """Rows keyed by HEADER; a duplicated id, a missing target and a row error are common."""
    count = draw(st.integers(1, 30))
    target = (st.sampled_from([*TINY_LABELS, "", " yes ", "Yes"]) if task == "classification" else
              st.one_of(st.floats(-20, 20, allow_nan=False).map(lambda v: repr(round(v, 3))),
                        st.just("")))
    rows = []
    for _ in range(count):
        row = {"customer": draw(ids), "order": str(draw(st.integers(0, 10**12))),
               "label": draw(target)}
        row.update({name: draw(feature_cells) if draw(st.integers(0, 9)) == 0 else repr(
            draw(st.floats(-5, 5, allow_nan=False))) for name in TINY_FEATURES})
        rows.append(row)
    if count > 1:  # the same customer twice: ids are not keys to the scorer
        rows[-1]["customer"] = rows[0]["customer"]
    return rows


def csv_text(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")  # quotes cells with , " or a newline
    writer.writerow(HEADER)
    writer.writerows([row[name] for name in HEADER] for row in rows)
    return out.getvalue()


def jsonl_text(rows: list[dict[str, Any]]) -> str:
    """The same rows as JSON: numeric order ids, null or an absent key for missing."""
    lines = []
    for index, row in enumerate(rows):
        value: dict[str, Any] = {"customer": row["customer"] or None,
                                 "order": int(row["order"])}
        value.update({n: _json_feature(row[n]) for n in TINY_FEATURES})
        if row["label"] or index % 2:  # a missing target: null, or no key at all
            value["label"] = row["label"] or None
        lines.append(json.dumps(value, ensure_ascii=index % 3 == 0))
    return "\n".join(lines) + "\n"


def _json_feature(cell: str) -> Any:
    try:
        return float(cell)
    except ValueError:
        return cell or None


def expected_keep(row: dict[str, Any], *, json_lines: bool) -> dict[str, Any]:
    if json_lines:
        return {"customer": row["customer"] or None, "order": int(row["order"]),
                "label": row["label"] or None}
    return {name: row[name] or None for name in ("customer", "order", "label")}


# --------------------------------------------------------- the score, from the output alone
def score_from_lines(lines: list[dict[str, Any]], task: str) -> dict[str, Any]:
    def missing(value: Any) -> bool:
        return value is None or (isinstance(value, str) and not value.strip())

    with_target = [line for line in lines if not missing(line["keep"]["label"])]
    scored = [line for line in with_target if "prediction" in line]
    counts = {"rows": len(scored), "missing_target": len(lines) - len(with_target),
              "row_errors": len(with_target) - len(scored)}
    if task == "classification":
        truth = [line["keep"]["label"].strip() for line in scored]
        said = [line["prediction"]["label"] for line in scored]
        right = [t == p for t, p in zip(truth, said, strict=True)]
        support = Counter(truth)
        recall = {label: sum(r for t, r in zip(truth, right, strict=True) if t == label) / n
                  for label, n in support.items()}
        return {**counts, "accuracy": sum(right) / len(right) if right else None,
                "recall": recall}
    y = np.array([float(line["keep"]["label"]) for line in scored])
    value = np.array([line["prediction"]["value"] for line in scored])
    spread = float(((y - y.mean()) ** 2).sum()) if len(y) else 0.0
    return {**counts,
            "r2": 1 - float(((value - y) ** 2).sum()) / spread if len(y) > 1 and spread > 0
            else None,
            "mae": float(np.abs(value - y).mean()) if len(y) else None}


def assert_score_matches(reported: dict[str, Any], lines: list[dict[str, Any]],
                         task: str) -> None:
    mine = score_from_lines(lines, task)
    assert reported["target"] == "label" and reported["task"] == task
    for key in ("rows", "missing_target", "row_errors"):
        assert reported[key] == mine[key], (key, reported, mine)
    if task == "classification":
        assert _close(reported["accuracy"], mine["accuracy"])
        assert reported["labels_not_in_model"] == sorted(set(mine["recall"]) - set(TINY_LABELS))
        assert {label: c["recall"] for label, c in reported["per_class"].items()} == \
            pytest.approx(mine["recall"], rel=1e-12)
        return
    assert _close(reported["r2"], mine["r2"], rel=1e-6)  # streaming sums vs numpy's
    assert _close(reported["mae"], mine["mae"])


def _close(a: float | None, b: float | None, rel: float = 1e-9) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and math.isclose(
        a, b, rel_tol=rel, abs_tol=1e-9))


def assert_rows_come_back(lines: list[dict[str, Any]], rows: list[dict[str, Any]], *,
                          json_lines: bool) -> None:
    assert [line["row"] for line in lines] == list(range(1, len(rows) + 1))
    for line, row in zip(lines, rows, strict=True):
        assert line["keep"] == expected_keep(row, json_lines=json_lines), (line, row)
        bad = any(row[n] in ("n/a", "") for n in TINY_FEATURES)
        assert ("error" in line) == bad, (line, row)


# -------------------------------------------------------------- featherserve predict
def predict(store: Path, model: str, source: Path, output: Path, *options: str) -> int:
    return main(["predict", model, "--store", str(store), "--input", str(source),
                 "--output", str(output), "--progress", "never", *options])


@pytest.mark.parametrize("task", ["classification", "regression"])
@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
@EXAMPLES
@given(data=st.data())
def test_predict_keeps_ids_on_their_rows_and_scores_against_the_target(
        store, capsys, task, suffix, data):
    rows = data.draw(tables(task))
    with tempfile.TemporaryDirectory() as scratch:
        source = Path(scratch) / f"to score{suffix}"
        source.write_text(csv_text(rows) if suffix == ".csv" else jsonl_text(rows),
                          encoding="utf-8")
        output = Path(scratch) / "scored.jsonl"
        capsys.readouterr()
        assert predict(store, MODELS[task], source, output, "--target", "label") == 0
        printed, said = capsys.readouterr()
        lines = [json.loads(line) for line in output.read_text().splitlines()]
        beside = json.loads((Path(scratch) / "scored.jsonl.summary.json").read_text())
    assert_rows_come_back(lines, rows, json_lines=suffix == ".jsonl")
    summary = json.loads(printed)
    assert summary == beside
    assert_score_matches(summary["score"], lines, task)
    assert "score against 'label': " in said
    assert f"on {summary['score']['rows']:,} rows" in said
    if summary["score"]["missing_target"]:
        assert f"{summary['score']['missing_target']:,} without a target" in said


@settings(max_examples=4, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_folder_of_files_gets_one_score_for_all_of_them(store, capsys, data):
    parts = [data.draw(tables("regression")) for _ in range(3)]
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "exports"
        folder.mkdir()
        for index, rows in enumerate(parts):
            (folder / f"part {index}.csv").write_text(csv_text(rows), encoding="utf-8")
        output = Path(scratch) / "all.jsonl"
        capsys.readouterr()
        assert predict(store, "tinyreg", folder, output, "--target", "label") == 0
        document = json.loads(capsys.readouterr().out)
        lines = [json.loads(line) for line in output.read_text().splitlines()]
    assert [line["file"] for line in lines] == [f"part {i}.csv" for i, rows in enumerate(parts)
                                                for _ in rows]
    assert_score_matches(document["score"], lines, "regression")  # merged across files
    for index, summary in enumerate(document["summaries"]):
        assert_score_matches(summary["score"], [line for line in lines
                                                if line["file"] == f"part {index}.csv"],
                             "regression")


def test_the_installed_console_script_scores_a_file(store, tmp_path):
    source = tmp_path / "rows.csv"
    source.write_text('id,alpha,beta,gamma,label\n"a, ""1""",1,2,3,yes\n2,0,0,0,\n'
                      "3,-1,0,2,no\n", encoding="utf-8")
    output = tmp_path / "out.jsonl"
    result = subprocess.run(
        [str(Path(sys.executable).with_name("featherserve")), "predict", "tiny", "--store",
         str(store), "--input", str(source), "--output", str(output), "--target", "label"],
        capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in output.read_text().splitlines()]
    assert [line["keep"]["id"] for line in lines] == ['a, "1"', "2", "3"]
    score = json.loads(result.stdout)["score"]
    assert score == json.loads((tmp_path / "out.jsonl.summary.json").read_text())["score"]
    assert_score_matches(score, lines, "classification")
    assert "(not scored: 1 without a target)" in result.stderr


def test_keep_names_the_columns_that_pass_through_and_the_target_joins_them(store, tmp_path):
    source = tmp_path / "orders.csv"
    source.write_text('customer,alpha,order,beta,gamma,label,note\n'
                      '"Doe, J",1,17,2,3,yes,"a, b"\n,0,18,0,0,,x\n', encoding="utf-8")
    output = tmp_path / "out.jsonl"
    assert predict(store, "tiny", source, output, "--keep", "order, customer",
                   "--target", "label") == 0
    lines = [json.loads(line) for line in output.read_text().splitlines()]
    assert [line["keep"] for line in lines] == [
        {"order": "17", "customer": "Doe, J", "label": "yes"},
        {"order": "18", "customer": None, "label": None}]
    # No target, no --keep: every column that is not a feature, in file order, no score.
    assert predict(store, "tiny", source, output) == 0
    first = json.loads(output.read_text().splitlines()[0])
    assert first["keep"] == {"customer": "Doe, J", "order": "17", "label": "yes",
                             "note": "a, b"}
    # JSON Lines: a line may lack a kept key (missing there) if another line has it.
    source = tmp_path / "orders.jsonl"
    source.write_text('{"alpha":1,"beta":2,"gamma":3}\n[0,0,0]\n'
                      '{"alpha":1,"beta":2,"gamma":3,"id":"x,1"}\n')
    assert predict(store, "tiny", source, output, "--keep", "id") == 0
    lines = [json.loads(line) for line in output.read_text().splitlines()]
    assert [line.get("keep") for line in lines] == [{"id": None}, None, {"id": "x,1"}]


@pytest.mark.parametrize(("text", "suffix", "options", "mentions"), [
    ("customer,alpha,beta,gamma\nA,1,2,3\n", ".csv", ["--keep", "order"], "'order' to keep"),
    ("customer,alpha,beta,gamma\nA,1,2,3\n", ".csv", ["--target", "label"],
     "no column 'label' to score against"),
    ('{"alpha":1,"beta":2,"gamma":3}\n{"alpha":1,"beta":2,"gamma":3,"ID":4}\n', ".jsonl",
     ["--keep", "id"], "no key(s) 'id' to keep"),  # on no line at all
    ("id,alpha,beta,gamma,id\n1,1,2,3,1\n", ".csv", [], "names 'id' more than once"),
])
def test_a_named_column_the_file_lacks_is_refused_before_scoring(
        store, tmp_path, capsys, text, suffix, options, mentions):
    source = tmp_path / f"rows{suffix}"
    source.write_text(text)
    output = tmp_path / "out.jsonl"
    assert predict(store, "tiny", source, output, *options) == 1
    printed, said = capsys.readouterr()
    assert mentions in said and mentions in json.loads(printed)["error"]["message"]
    assert not output.exists() and not (tmp_path / "out.jsonl.summary.json").exists()


def test_image_rows_keep_their_ids_and_an_archive_has_no_target_column(tmp_path, capsys):
    image = (IMAGES / "d7_0040px_light_on_dark_stroke.png").read_bytes()
    source = tmp_path / "scans.jsonl"
    source.write_text("\n".join(json.dumps({"b64": base64.b64encode(image).decode(),
                                            "scan": scan, "label": "7"})
                                for scan in ("a,1", "ü2")) + "\n")
    output = tmp_path / "out.jsonl"
    assert main(["predict", "digits", "--input", str(source), "--output", str(output),
                 "--progress", "never", "--target", "label"]) == 0
    lines = [json.loads(line) for line in output.read_text().splitlines()]
    assert [line["keep"] for line in lines] == [{"scan": "a,1", "label": "7"},
                                                {"scan": "ü2", "label": "7"}]
    score = json.loads(capsys.readouterr().out)["score"]
    assert score["accuracy"] == sum(line["prediction"]["label"] == "7" for line in lines) / 2
    # An image file (or tar: its rows carry their member's name) has no columns to score.
    single = tmp_path / "seven.png"
    single.write_bytes(image)
    assert main(["predict", "digits", "--input", str(single), "--output", str(output),
                 "--progress", "never", "--target", "label"]) == 1
    assert "no column 'label' to score against" in capsys.readouterr().err


def test_batch_settings_take_an_argument_over_the_environment(monkeypatch):
    env = {"FEATHERSERVE_BATCH_KEEP": " order , customer,,order", "FEATHERSERVE_BATCH_TARGET":
           "label"}
    from_env = BatchSettings.from_env(env)
    assert (from_env.columns.keep, from_env.columns.target) == (("order", "customer"), "label")
    explicit = BatchSettings.from_env(env, keep="", target="y")
    assert (explicit.columns.keep, explicit.columns.target) == (None, "y")
    assert BatchSettings.from_env({}).columns.named is False


# ------------------------------------------------------------------------ the bulk path
@pytest.fixture
def bulk(monkeypatch, tmp_path):
    fake_aws_environment(monkeypatch, tmp_path / "aws")
    with mock_aws():
        yield Bulk.create(tuple(MODELS.values()))


@pytest.mark.parametrize("task", ["classification", "regression"])
@settings(max_examples=6, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_the_bulk_function_keeps_ids_and_scores_as_the_stage_setting_says(
        store, bulk, monkeypatch, task, data):
    rows = data.draw(tables(task))
    suffix = data.draw(st.sampled_from([".csv", ".jsonl"]))
    model = MODELS[task]
    monkeypatch.setenv("FEATHERSERVE_BATCH_TARGET", "label")  # as the template sets it
    monkeypatch.setenv("FEATHERSERVE_BATCH_KEEP", "")
    http = serve_model(model, settings=Settings(model_source=str(store)))
    handler = serve_batch(http, s3=bulk.s3)
    name = f"day {len(bulk.out_keys())}{suffix}"
    body = csv_text(rows) if suffix == ".csv" else jsonl_text(rows)
    messages = bulk.upload(model, name, body.encode())
    assert bulk.score(handler, model, messages) == {"batchItemFailures": []}
    lines = bulk.lines(model, name)
    assert_rows_come_back(lines, rows, json_lines=suffix == ".jsonl")
    summary = bulk.summary(model, name)
    assert summary["status"] == "scored"
    assert_score_matches(summary["score"], lines, task)


def test_the_bulk_function_refuses_a_file_without_the_stage_s_keep_column(
        store, bulk, monkeypatch):
    monkeypatch.setenv("FEATHERSERVE_BATCH_KEEP", "customer")
    handler = serve_batch(serve_model("tiny", settings=Settings(model_source=str(store))),
                          s3=bulk.s3)
    messages = bulk.upload("tiny", "rows.csv", b"alpha,beta,gamma\n1,2,3\n")
    assert bulk.score(handler, "tiny", messages) == {"batchItemFailures": []}
    summary = bulk.summary("tiny", "rows.csv")
    assert (summary["status"], summary["error"]["code"]) == ("refused", "missing_column")
    assert "FEATHERSERVE_BATCH_KEEP" in summary["error"]["message"]
    assert summary["score"] is None
    assert "out/tiny/rows.csv.predictions.jsonl" not in bulk.out_keys()
