"""The standardisation folded into the tabular student's first layer: the folded graph
computes what the unfolded one does (onnxruntime on real rows, every label identical), runs
fewer operators, keeps imputation wherever a number can be missing, and is not served when
float32 rounding would make it differ."""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import numpy as np
import onnx
import pandas as pd
import pytest

from model_store.local import LocalStore
from training.tabular.build import build_tabular_model
from training.tabular.bundled import write_bundled_csv
from training.tabular.config import TabularConfig
from training.tabular.data import TabularSplit, load_split, split_table
from training.tabular.fold import compare_graphs, folded_graph, needs_imputation, split_affine
from training.tabular.graph import combine, open_session, run, student_onnx
from training.tabular.preprocess import (
    Preprocessor,
    fit_preprocessor,
    onnx_feeds,
    preprocessor_onnx,
)
from training.tabular.student import (
    ServedStudent,
    predict,
    train_regression_student,
    train_student,
)
from training.tabular.synthetic import houses, penguins
from training.tabular.table import read_table

QUICK = TabularConfig.quick()
# float32 arithmetic on probabilities in [0, 1]: measured gaps are ~5e-7.
FLOAT32_TOLERANCE = 1e-5
MLP_ONLY = ["MatMul", "Add", "Relu", "MatMul", "Add", "Softmax"]


@dataclass(frozen=True)
class Graphs:
    split: TabularSplit
    pre: Preprocessor
    folded: Path
    unfolded: Path
    reference: np.ndarray  # scikit-learn preprocessing + torch student on the test split

    def outputs(self, path: Path, frame: pd.DataFrame | None = None) -> np.ndarray:
        rows = self.split.x_test if frame is None else frame
        return run(open_session(path), onnx_feeds(rows, self.pre.layout, self.split.table))

    def ops(self, path: Path) -> list[str]:
        return [node.op_type for node in onnx.load(str(path)).graph.node]


def _graphs(split: TabularSplit, work: Path) -> Graphs:
    """A quickly trained student exported both ways, as the build does."""
    pre = fit_preprocessor(split.table, split.x_train)
    x_train = pre.transform(split.x_train)
    if split.task == "classification":
        model = train_student(x_train, split.y_train.astype(np.int64), None, config=QUICK,
                              seed=0, label="student", classes=len(split.labels))
        student = partial(ServedStudent, model)
    else:
        y = split.y_train.astype(np.float64)
        mean, std = float(y.mean()), float(y.std())
        model = train_regression_student(
            x_train, ((y - mean) / std).astype(np.float32).reshape(-1, 1), None,
            config=QUICK, seed=0, label="student")
        student = partial(ServedStudent, model, regression=True, scale=std, offset=mean)
    unfolded = combine(preprocessor_onnx(pre, opset=QUICK.opset, ml_opset=QUICK.ml_opset),
                       student_onnx(student(), width=pre.width, opset=QUICK.opset),
                       work / "unfolded.onnx")
    affine = split_affine(pre, split.x_train, imputes=needs_imputation(split.table))
    folded = folded_graph(affine, student, pre, work / "folded.onnx", opset=QUICK.opset,
                          ml_opset=QUICK.ml_opset)
    return Graphs(split=split, pre=pre, folded=folded, unfolded=unfolded,
                  reference=predict(student(), pre.transform(split.x_test)))


def _assert_same_function(graphs: Graphs, tolerance: float = FLOAT32_TOLERANCE,
                          frame: pd.DataFrame | None = None) -> None:
    folded = graphs.outputs(graphs.folded, frame)
    unfolded = graphs.outputs(graphs.unfolded, frame)
    assert np.isfinite(folded).all()
    np.testing.assert_allclose(folded, unfolded, rtol=0, atol=tolerance)
    if graphs.split.task == "classification":
        assert (folded.argmax(axis=1) == unfolded.argmax(axis=1)).all()


def test_numbers_only_fold_to_the_bare_mlp_with_the_same_outputs(tmp_path):
    split = load_split("sklearn:breast_cancer", "diagnosis", config=QUICK)
    graphs = _graphs(split, tmp_path)
    assert graphs.ops(graphs.unfolded) == ["Imputer", "Scaler", *MLP_ONLY]
    assert graphs.ops(graphs.folded) == MLP_ONLY  # no imputer: nothing is ever missing
    assert [i.name for i in onnx.load(str(graphs.folded)).graph.input] == ["input"]
    assert graphs.folded.stat().st_size < graphs.unfolded.stat().st_size
    _assert_same_function(graphs)
    np.testing.assert_allclose(graphs.outputs(graphs.folded), graphs.reference, rtol=0,
                               atol=FLOAT32_TOLERANCE)
    check = compare_graphs(graphs.folded, graphs.unfolded,
                           onnx_feeds(split.x_test, "matrix", split.table),
                           classifier=True, tolerance=FLOAT32_TOLERANCE)
    assert check.ok and check.rows == len(split.y_test) and check.label_changes == 0


def test_numbers_with_missing_cells_keep_the_imputer_in_front_of_the_bare_mlp(tmp_path):
    frame = pd.read_csv(write_bundled_csv("breast_cancer", tmp_path / "bc.csv"))
    rng = np.random.default_rng(0)
    holes = rng.random(frame.shape) < 0.03
    holes[:, list(frame.columns).index("diagnosis")] = False
    frame.mask(holes).to_csv(tmp_path / "holes.csv", index=False)
    split = split_table(read_table(tmp_path / "holes.csv", "diagnosis"), "classification",
                        QUICK)
    graphs = _graphs(split, tmp_path)
    assert graphs.ops(graphs.folded) == ["Imputer", *MLP_ONLY]
    assert split.x_test.isna().any().any()
    _assert_same_function(graphs)


def test_categories_and_missing_numbers_keep_imputation_before_the_folded_layer(tmp_path):
    frame = penguins(rows=240, seed=3)
    frame.to_csv(tmp_path / "penguins.csv", index=False)
    split = split_table(read_table(tmp_path / "penguins.csv", "species"), "classification",
                        QUICK)
    graphs = _graphs(split, tmp_path)
    ops = graphs.ops(graphs.folded)
    assert "Scaler" in graphs.ops(graphs.unfolded) and "Scaler" not in ops
    assert "Imputer" in ops and "OneHotEncoder" in ops
    assert ops.index("Imputer") < ops.index("MatMul")
    assert split.x_test.isna().any().any()  # the test split itself has missing cells
    _assert_same_function(graphs)
    # Every number missing at once: imputed to the training medians, then the folded layer.
    empty = split.x_test.copy()
    empty[list(split.table.numbers)] = np.nan
    _assert_same_function(graphs, frame=empty)


def test_regression_with_categories_and_no_missing_number_folds_through_the_concat(tmp_path):
    houses(rows=300, seed=3, missing=0.0).to_csv(tmp_path / "houses.csv", index=False)
    split = split_table(read_table(tmp_path / "houses.csv", "price_k"), "regression", QUICK)
    graphs = _graphs(split, tmp_path)
    ops = graphs.ops(graphs.folded)
    assert "Scaler" not in ops and "Imputer" not in ops and "OneHotEncoder" in ops
    spread = float(np.abs(split.y_train).max())  # values in the target's units (k)
    _assert_same_function(graphs, tolerance=FLOAT32_TOLERANCE * spread)


def test_a_fold_beyond_its_tolerance_is_not_served(tmp_path):
    """Folding only rounds differently, so no real table makes it differ by 1e-4 without
    the unfolded graph failing its own check against float64 first; a tolerance of 1e-12
    (below float32's rounding) makes the build refuse the fold and serve the unfolded."""
    strict = replace(QUICK, fold_tolerance=1e-12)
    manifest = build_tabular_model("strict", data="sklearn:breast_cancer", target="diagnosis",
                                   store_root=tmp_path / "store", config=strict,
                                   teacher_dir=tmp_path / "teachers",
                                   report_dir=tmp_path / "reports")
    served = onnx.load(str(LocalStore(tmp_path / "store").model_path("strict")))
    assert [node.op_type for node in served.graph.node] == ["Imputer", "Scaler", *MLP_ONLY]
    assert "standardisation folded" not in manifest.lineage.student
    assert manifest.metrics.student_bytes == manifest.metrics.extra["unfolded_fp32_bytes"]
    report = (tmp_path / "reports" / "strict" / "report.txt").read_text()
    assert "the unfolded graph is served" in report


def test_the_fold_is_refused_for_a_first_layer_of_another_width():
    from torch import nn

    with pytest.raises(ValueError, match="cannot feed a layer taking 3"):
        ServedStudent(nn.Sequential(nn.Linear(3, 2)), input_affine=(np.ones(4), np.zeros(4)))
