"""The tabular build: reading tables, the whole quick build into a temporary store, the
quality gate, and the shipped breast-cancer model in ``models/``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pandas as pd
import pytest

from featherserve import cli
from model_store.base import PROJECT_STORE
from model_store.local import LocalStore
from model_store.manifest import Manifest, TabularSpec
from training.errors import DataError, QualityGateError
from training.evaluation import GateInput, gate_problems
from training.tabular.build import build_tabular_model
from training.tabular.bundled import write_bundled_csv
from training.tabular.config import TabularConfig
from training.tabular.data import load_split
from training.tabular.graph import Int8Trial
from training.tabular.preprocess import onnx_feeds
from training.tabular.synthetic import penguins
from training.tabular.table import infer_task, read_table

QUICK = TabularConfig.quick()


@pytest.fixture(scope="module")
def penguins_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "penguins.csv"
    penguins(rows=240, seed=1).to_csv(path, index=False)
    return path


# -- reading a table ------------------------------------------------------------------------
def test_kinds_missing_values_and_task_come_from_the_csv(penguins_csv):
    table = read_table(penguins_csv, "species")
    assert table.categories == ("island", "sex")
    assert table.numbers == ("bill_length_mm", "bill_depth_mm", "flipper_length_mm",
                             "body_mass_g")
    assert table.frame["sex"].isna().any() and table.frame["body_mass_g"].isna().any()
    assert infer_task(table.target)[0] == "classification"
    assert infer_task(pd.Series([1.5, 2.25, 3.0] * 10, name="y"))[0] == "regression"
    assert infer_task(pd.Series([0, 1, 2] * 10, name="y"))[0] == "classification"


@pytest.mark.parametrize(("target", "ignore", "message"), [
    ("nope", (), "no column 'nope' to predict"),
    ("species", ("nope",), "--ignore names no column"),
])
def test_bad_table_arguments_are_named(penguins_csv, target, ignore, message):
    with pytest.raises(DataError, match=message):
        read_table(penguins_csv, target, ignore=ignore)


def test_free_text_column_is_refused_with_the_fix(tmp_path):
    frame = pd.DataFrame({"id": [f"row-{i}" for i in range(150)],
                          "x": np.arange(150.0), "y": ["a", "b"] * 75})
    frame.to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(DataError, match="--ignore 'id'"):
        read_table(tmp_path / "t.csv", "y")
    assert read_table(tmp_path / "t.csv", "y", ignore=["id"]).numbers == ("x",)


def test_bundled_csv_reads_back_like_the_bundled_split(tmp_path):
    path = write_bundled_csv("breast_cancer", tmp_path / "bc.csv")
    from_csv = read_table(path, "diagnosis")
    bundled = read_table("sklearn:breast_cancer", "diagnosis")
    assert from_csv.numbers == bundled.numbers and len(bundled.numbers) == 30
    np.testing.assert_array_equal(from_csv.frame.to_numpy(), bundled.frame.to_numpy())
    assert list(from_csv.target) == list(bundled.target)
    split = load_split("sklearn:breast_cancer", "diagnosis")
    assert split.labels == ("malignant", "benign")  # scikit-learn's own order
    assert (len(split.y_train), len(split.y_test)) == (455, 114)
    assert load_split(str(path), "diagnosis").labels == ("benign", "malignant")  # sorted


# -- the quality gate ------------------------------------------------------------------------
@pytest.mark.parametrize(("gate", "words"), [
    (GateInput("classification", served=0.62, baseline=0.55, test_rows=100, teacher=0.63),
     ["not clearly better", "needs at least 0.6495"]),
    (GateInput("classification", served=0.90, baseline=0.55, test_rows=100, teacher=0.95),
     ["keeps 94.74%", "bar is 97%"]),
    (GateInput("regression", served=0.02, baseline=-0.01, test_rows=80, teacher=0.03,
               served_mae=9.5, baseline_mae=10.0), ["not clearly below", "below 0.05"]),
    (GateInput("classification", served=0.97, baseline=0.63, test_rows=114, teacher=0.95), []),
])
def test_gate_names_every_reason_with_numbers(gate, words):
    problems = " ".join(gate_problems(gate))
    assert all(word in problems for word in words)
    assert bool(problems) == bool(words)


def test_int8_is_applied_only_when_it_wins_on_all_three():
    def trial(**change: float) -> Int8Trial:
        values = {"fp32_bytes": 1000, "int8_bytes": 900, "fp32_score": 0.97,
                  "int8_score": 0.97, "agreement": 1.0, "fp32_latency_us": 6.0,
                  "int8_latency_us": 5.0, "batch": 8} | change
        return Int8Trial(**values)  # type: ignore[arg-type]

    assert trial().worth_it
    assert "not smaller" in trial(int8_bytes=1100).reason()
    assert "worse on accuracy" in trial(int8_score=0.96).reason()
    assert "slower" in trial(int8_latency_us=6.5).reason()


# -- a whole build ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("tabular")
    manifest = build_tabular_model("breast_cancer", data="sklearn:breast_cancer",
                                   target="diagnosis", store_root=root / "store",
                                   config=QUICK, teacher_dir=root / "teachers",
                                   report_dir=root / "reports")
    return manifest, root


def test_build_publishes_a_manifest_that_round_trips(built):
    manifest, root = built
    store = LocalStore(root / "store")
    assert store.versions("breast_cancer") == ["1"]
    assert store.open("breast_cancer").manifest == manifest  # sha256 checked on open
    assert Manifest.from_json(manifest.to_json()) == manifest
    assert manifest.task == "tabular-classification"
    assert manifest.labels == ("malignant", "benign")
    assert isinstance(manifest.input, TabularSpec) and manifest.input.layout == "matrix"
    assert all(f.kind == "number" and f.min is not None and not f.allow_missing
               for f in manifest.input.features)
    metrics = manifest.metrics
    assert metrics.baseline_accuracy == pytest.approx(0.6316, abs=1e-4)
    assert set(metrics.per_class_recall) == {"malignant", "benign"}
    assert metrics.student_accuracy is not None and metrics.student_accuracy > 0.9
    assert metrics.teacher_parameters and metrics.student_parameters
    assert metrics.teacher_parameters >= 20 * metrics.student_parameters
    # Numbers only, none missing: the standardisation is folded, the graph is the bare MLP.
    assert "standardisation folded into the first layer" in manifest.lineage.student
    assert metrics.student_bytes < metrics.extra["unfolded_fp32_bytes"]
    assert metrics.extra["fold_max_abs_diff"] <= QUICK.fold_tolerance
    assert (root / "teachers" / "breast_cancer_teacher.joblib").stat().st_size == \
        metrics.teacher_bytes
    report = root / "reports" / "breast_cancer"
    assert "hard-label student" in (report / "report.txt").read_text()
    assert (report / "confusion_matrix.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_rebuild_with_the_same_seed_publishes_no_new_version(built):
    manifest, root = built
    again = build_tabular_model("breast_cancer", data="sklearn:breast_cancer",
                                target="diagnosis", store_root=root / "store", config=QUICK,
                                teacher_dir=root / "teachers", report_dir=root / "reports")
    assert (again.version, again.sha256) == (manifest.version, manifest.sha256)


def test_random_labels_are_refused_by_the_gate_and_nothing_is_published(tmp_path, capsys):
    rng = np.random.default_rng(5)
    frame = pd.DataFrame(rng.normal(size=(300, 4)), columns=["a", "b", "c", "d"])
    frame["colour"] = rng.choice(["red", "green"], size=300)
    frame["label"] = rng.choice(["yes", "no"], size=300)
    frame.to_csv(tmp_path / "random.csv", index=False)
    store = tmp_path / "store"
    code = cli.main(["train", "tabular", "noise", "--data", str(tmp_path / "random.csv"),
                     "--target", "label", "--store", str(store), "--quick",
                     "--reports", str(tmp_path / "reports")])
    err = capsys.readouterr().err
    assert code != 0
    assert "noise: not published" in err and "majority class" in err
    assert "What to try" in err
    assert LocalStore(store).versions("noise") == []
    with pytest.raises(QualityGateError):
        build_tabular_model("noise", data=str(tmp_path / "random.csv"), target="label",
                            store_root=store, config=QUICK, report_dir=tmp_path / "reports")


# -- the shipped model ------------------------------------------------------------------------
def test_shipped_model_predicts_the_test_split_as_its_manifest_claims():
    store = LocalStore(PROJECT_STORE)
    manifest = store.open("breast_cancer").manifest  # checks the sha256
    split = load_split("sklearn:breast_cancer", "diagnosis")
    assert manifest.metrics.test_samples == len(split.y_test)
    session = ort.InferenceSession(str(store.model_path("breast_cancer")),
                                   providers=["CPUExecutionProvider"])
    feeds = onnx_feeds(split.x_test, "matrix", split.table)
    probabilities = session.run([manifest.output.name], feeds)[0]
    accuracy = float((probabilities.argmax(axis=1) == split.y_test).mean())
    assert accuracy == pytest.approx(manifest.metrics.student_accuracy, abs=1e-9)
    assert accuracy >= 0.9736  # never below what v1 shipped with
    assert manifest.metrics.accuracy_retention is not None
    assert manifest.metrics.accuracy_retention >= 0.99
