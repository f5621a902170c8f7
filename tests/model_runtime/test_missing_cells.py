"""A CSV cell pandas reads as missing (``NA``, ``n/a``, ``nan``, ``NULL``, ``None``, empty,
...) is missing when the file is scored too: a file that trained (training and
`featherserve import` read it with pandas) is scored without error rows, the same as a JSON
client sending ``null`` in those cells. A model not trained with missing values still
refuses such a cell, naming the column. JSON Lines has its own ``null``: ``"NA"`` is text.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pandas._libs.parsers import STR_NA_VALUES
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from featherserve import cli
from model_runtime import Settings, serve_model
from model_runtime.batch.missing import MISSING_CELLS, is_missing_cell
from model_runtime.batch.rows import csv_rows, jsonl_rows
from model_store import Feature
from tests.support.bulk import http_answer
from tests.support.import_cases_sklearn import docs_preprocessor
from tests.support.tiny_models import TINY_FEATURES, publish_tiny_tabular

# Every spelling pandas reads as missing, and near misses it reads as text.
NA_SPELLINGS = sorted(STR_NA_VALUES)
NEAR_MISSES = ["na", "Na", "NAN", "nil", "NONE", "Null", " NA", "NA ", "n / a", "#N/A  N/A",
               "<na>", "-", "?", "0", "none", "N.A."]
NUMBERS = ("size", "weight")
TEXTS = ("color", "shape")
HEADER = ["order", *NUMBERS, *TEXTS, "label"]


def test_the_runtime_s_missing_cells_are_pandas_default_ones():
    assert frozenset(STR_NA_VALUES) == MISSING_CELLS
    assert all(is_missing_cell(cell) for cell in STR_NA_VALUES)
    assert not any(is_missing_cell(cell) for cell in NEAR_MISSES)


# ------------------------------------------------------- the reader agrees with pandas
category_cells = st.one_of(
    st.sampled_from(NEAR_MISSES),
    st.text(st.sampled_from("abcNAnul/#<>.-1 \"',é中"), min_size=1, max_size=8)
    .filter(lambda s: bool(s.strip())))  # a cell of spaces only: see missing.py
number_cells = st.one_of(
    st.floats(-1e6, 1e6, allow_nan=False).map(repr), st.integers(-999, 999).map(str))
cells = st.one_of(st.sampled_from(NA_SPELLINGS), number_cells, category_cells)


@settings(max_examples=150, derandomize=True, deadline=None)
@given(rows=st.lists(st.tuples(cells, cells), min_size=1, max_size=12))
def test_the_csv_reader_finds_missing_the_cells_pandas_reads_as_missing(rows):
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["id", "amount", "kind"])
    writer.writerows([str(i), amount, kind] for i, (amount, kind) in enumerate(rows))
    text = out.getvalue()
    features = [Feature("amount"), Feature("kind", dtype="string", kind="category")]
    read = list(csv_rows(io.BytesIO(text.encode()), features, "m", max_line_chars=10_000))
    frame = pd.read_csv(io.StringIO(text))
    assert len(read) == len(frame) == len(rows)
    for row, (_, expected) in zip(read, frame.iterrows(), strict=True):
        assert row.error is None
        missing = [value is None for value in row.instance]
        assert missing == [bool(pd.isna(expected["amount"])), bool(pd.isna(expected["kind"]))], (
            row.instance, expected.tolist())
        for value, cell in zip(row.instance, rows[row.number - 1], strict=True):
            # Not missing: the cell as the file has it ("NAN" reads as text to pandas, and as
            # a NaN the contract refuses here: no model was trained on it as a missing value).
            assert value is None or value == cell or value == pytest.approx(float(cell),
                                                                             nan_ok=True)


def test_json_lines_null_is_missing_and_the_string_na_is_text():
    lines = b'{"amount": null, "kind": "NA"}\n["nan", null]\n'
    read = [row.instance for row in jsonl_rows(io.BytesIO(lines), max_row_bytes=1000)]
    assert read == [{"amount": None, "kind": "NA"}, ["nan", None]]


# --------------------------------------------- a model trained on the file scores it
def shapes_table(rows: int = 240, seed: int = 16, *, ids: bool = True
                 ) -> tuple[str, list[dict[str, Any]]]:
    """A CSV with NA spellings in every feature column (and an order id to pass through, or
    not: import's data file holds only features and the label), and the rows as a JSON
    client would send them (null for those cells)."""
    rng = np.random.default_rng(seed)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER[0 if ids else 1:])
    instances = []
    for i in range(rows):
        color, shape = rng.choice(["red", "green", "blue"]), rng.choice(["round", "square"])
        size, weight = rng.normal(5, 2), rng.normal(10, 3)
        label = "big" if size + (color == "red") * 2 + (shape == "round") > 6 else "small"
        cells = {"size": f"{size:.3f}", "weight": f"{weight:.3f}", "color": str(color),
                 "shape": str(shape)}
        instance: dict[str, Any] = {"size": float(cells["size"]),
                                    "weight": float(cells["weight"]), "color": str(color),
                                    "shape": str(shape)}
        for column in cells:
            if rng.random() < 0.15:  # every spelling, in number and text columns alike
                cells[column] = NA_SPELLINGS[int(rng.integers(len(NA_SPELLINGS)))]
                instance[column] = None
        writer.writerow([*([f"o-{i}"] if ids else []), cells["size"], cells["weight"],
                         cells["color"], cells["shape"], label])
        instances.append(instance)
    return out.getvalue(), instances


@pytest.fixture(scope="module")
def imported(tmp_path_factory) -> tuple[Path, Path, list[dict[str, Any]], list[str]]:
    base = tmp_path_factory.mktemp("missing-cells")
    text, instances = shapes_table(ids=False)
    data = base / "shapes.csv"
    data.write_text(text, encoding="utf-8")
    to_score = base / "to score.csv"  # the same rows, with an order id to join them back
    to_score.write_text(shapes_table()[0], encoding="utf-8")
    frame = pd.read_csv(data)
    for column in NUMBERS + TEXTS:  # pandas read every spelling as missing, in each column
        assert frame[column].isna().sum() == sum(i[column] is None for i in instances) > 0
    features = frame[[*NUMBERS, *TEXTS]]
    model = Pipeline([("preprocessor", docs_preprocessor()),
                      ("model", LogisticRegression(max_iter=1000))]).fit(features, frame["label"])
    joblib.dump(model, base / "model.joblib")
    store = base / "store"
    code = cli.main(["import", "shapes", str(base / "model.joblib"), "--data", str(data),
                     "--target", "label", "--store", str(store), "--no-serve",
                     "--reports", str(base / "reports")])
    assert code == 0
    return store, to_score, instances, [str(v) for v in model.predict(features)]


def test_predict_scores_the_file_the_model_was_trained_on_as_json_null_would(
        imported, tmp_path, capsys):
    store, data, instances, sklearn_labels = imported
    output = tmp_path / "scored.jsonl"
    assert cli.main(["predict", "shapes", "--store", str(store), "--input", str(data),
                     "--output", str(output), "--progress", "never",
                     "--target", "label"]) == 0
    lines = [json.loads(line) for line in output.read_text().splitlines()]
    assert [line["row"] for line in lines] == list(range(1, len(instances) + 1))
    assert [line for line in lines if "error" in line] == []
    summary = json.loads(capsys.readouterr().out)
    assert summary["score"]["rows"] == len(instances)  # no target read as missing

    handler = serve_model("shapes", settings=Settings(model_source=str(store)))
    for line, instance, expected in zip(lines, instances, sklearn_labels, strict=True):
        status, body = http_answer(handler, "shapes", instance)
        assert status == 200, body
        said = body["predictions"][0]
        # One row at a time vs the file in chunks: float32 sums may differ in the last digit.
        assert line["prediction"]["label"] == said["label"]
        assert_close(line["prediction"], said)
        assert line["prediction"]["label"] == expected
        assert line["keep"]["order"] == f"o-{line['row'] - 1}"


def test_a_model_not_trained_with_missing_values_refuses_the_cell_naming_its_column(
        tmp_path):
    publish_tiny_tabular(tmp_path / "store", "tiny")
    source = tmp_path / "rows.csv"
    spellings = ["NA", "nan", "", "NULL", "1.5"]
    source.write_text("alpha,beta,gamma\n" + "".join(
        f"0.5,{cell},1\n" for cell in spellings), encoding="utf-8")
    output = tmp_path / "scored.jsonl"
    cli.main(["predict", "tiny", "--store", str(tmp_path / "store"), "--input", str(source),
              "--output", str(output), "--progress", "never"])
    lines = [json.loads(line) for line in output.read_text().splitlines()]
    assert "prediction" in lines[-1]
    for line in lines[:-1]:
        error = line["error"]
        assert error["code"] == "invalid_feature_value", line
        assert f"row {line['row']}: feature {TINY_FEATURES[1]!r} is missing" in error["message"]


def assert_close(got: Any, want: Any) -> None:
    """The same JSON, numbers within 1e-5."""
    if isinstance(want, dict):
        assert isinstance(got, dict) and got.keys() == want.keys(), (got, want)
        for key in want:
            assert_close(got[key], want[key])
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), (got, want)
        for a, b in zip(got, want, strict=True):
            assert_close(a, b)
    elif isinstance(want, float):
        assert got == pytest.approx(want, abs=1e-5)
    else:
        assert got == want
