"""The tabular build (breast cancer): pieces, the whole build into a temporary store, and the
shipped model in ``models/``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import ExtraTreesClassifier

from model_store.base import PROJECT_STORE
from model_store.local import LocalStore
from model_store.manifest import Manifest, TabularSpec
from training.tabular import StudentTooWeakError, build_tabular_model
from training.tabular_config import TabularConfig
from training.tabular_data import load_split
from training.tabular_onnx import (
    INPUT_NAME,
    OUTPUT_NAME,
    Int8Trial,
    check_matches_torch,
    export_student,
)
from training.tabular_student import (
    explicit_standardisation,
    fold_standardisation,
    predict_probabilities,
    train_student,
)
from training.tabular_teacher import ensemble_size

NAME = "breast_cancer"


def _predict(path: Path, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    probabilities: np.ndarray = session.run([OUTPUT_NAME], {INPUT_NAME: x})[0]
    return probabilities


# -- pieces ---------------------------------------------------------------------------------
def test_split_is_fixed_stratified_and_named_like_the_dataset():
    split, again = load_split(NAME), load_split(NAME)
    bunch = load_breast_cancer()
    assert split.feature_names == tuple(bunch.feature_names) and len(split.feature_names) == 30
    assert split.labels == ("malignant", "benign")
    assert (len(split.y_train), len(split.y_test)) == (455, 114)
    assert np.array_equal(split.x_test, again.x_test) and split.x_test.dtype == np.float32
    assert abs(split.y_test.mean() - bunch.target.mean()) < 0.01
    with pytest.raises(ValueError, match="unknown tabular dataset"):
        load_split("iris")


def test_ensemble_size_counts_what_prediction_needs():
    x, y = load_breast_cancer(return_X_y=True)
    forest = ExtraTreesClassifier(n_estimators=3, max_depth=2, random_state=0).fit(x, y)
    size = ensemble_size(forest)
    nodes = sum(t.tree_.node_count for t in forest.estimators_)
    leaves = sum(int((t.tree_.children_left == -1).sum()) for t in forest.estimators_)
    assert (size.trees, size.nodes, size.leaves) == (3, nodes, leaves)
    assert size.parameters == 2 * (nodes - leaves) + 2 * leaves


@pytest.fixture(scope="module")
def small_student():
    split = load_split(NAME)
    mean = split.x_train.astype(np.float64).mean(axis=0)
    std = split.x_train.astype(np.float64).std(axis=0)
    x = ((split.x_train - mean) / std).astype(np.float32)
    model = train_student(x, split.y_train, None, config=TabularConfig(epochs=3), seed=0,
                          label="test epochs")
    return split, model, mean, std


def test_standardisation_folded_or_explicit_is_the_same_function(small_student):
    split, model, mean, std = small_student
    with torch.no_grad():
        trained = torch.softmax(
            model(torch.from_numpy(((split.x_test - mean) / std).astype(np.float32))), dim=1)
    folded = predict_probabilities(fold_standardisation(model, mean, std), split.x_test)
    explicit = predict_probabilities(explicit_standardisation(model, mean, std), split.x_test)
    np.testing.assert_allclose(folded, trained.numpy(), atol=1e-5)
    np.testing.assert_allclose(explicit, trained.numpy(), atol=1e-6)


def test_onnx_export_equals_torch_and_takes_any_batch(small_student, tmp_path):
    split, model, mean, std = small_student
    served = fold_standardisation(model, mean, std)
    path = export_student(served, tmp_path / "a.onnx", n_features=30, opset=17)
    assert check_matches_torch(path, served, split.x_test) <= 1e-6
    for rows in (1, 7, 114):
        out = _predict(path, split.x_test[:rows])
        np.testing.assert_allclose(out, predict_probabilities(served, split.x_test[:rows]),
                                   atol=1e-6)
        assert out.shape == (rows, 2)
    again = export_student(served, tmp_path / "b.onnx", n_features=30, opset=17)
    assert path.read_bytes() == again.read_bytes()  # export is deterministic


@pytest.mark.parametrize(("int8_bytes", "int8_accuracy", "int8_us", "worth_it", "words"), [
    (900, 0.97, 5.0, True, ["applied"]),
    (1100, 0.97, 5.0, False, ["not smaller"]),
    (900, 0.96, 5.0, False, ["less accurate"]),
    (900, 0.97, 6.5, False, ["slower"]),
    (1100, 0.96, 6.5, False, ["not smaller", "less accurate", "slower"]),
])
def test_int8_is_applied_only_when_it_wins_on_all_three(int8_bytes, int8_accuracy, int8_us,
                                                        worth_it, words):
    trial = Int8Trial(fp32_bytes=1000, int8_bytes=int8_bytes, fp32_accuracy=0.97,
                      int8_accuracy=int8_accuracy, folded_int8_accuracy=0.6, agreement=0.99,
                      fp32_latency_us=6.0, int8_latency_us=int8_us, batch=8)
    assert trial.worth_it is worth_it
    reason = trial.reason()
    assert all(word in reason for word in words)
    assert f"{int8_bytes} vs 1000 bytes" in reason and f"{int8_us:.1f} vs 6.0 us" in reason


# -- the whole build into a temporary store ---------------------------------------------------
@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("tabular")
    manifest = build_tabular_model(NAME, store_root=root / "store", seed=0,
                                   teacher_dir=root / "teachers")
    return manifest, root


@pytest.mark.slow
def test_build_publishes_a_manifest_that_round_trips(built):
    manifest, root = built
    store = LocalStore(root / "store")
    assert store.versions(NAME) == ["1"]
    assert store.open(NAME).manifest == manifest  # sha256 checked on open
    assert Manifest.from_json(manifest.to_json()) == manifest
    assert manifest.task == "tabular-classification" and manifest.labels == ("malignant",
                                                                             "benign")
    assert isinstance(manifest.input, TabularSpec)
    assert manifest.input.feature_names == tuple(load_breast_cancer().feature_names)
    assert all(f.min is not None and f.max is not None and f.min <= f.max
               for f in manifest.input.features)
    assert (manifest.input_name, manifest.output.name) == (INPUT_NAME, OUTPUT_NAME)
    assert manifest.opset >= 17 and manifest.output.kind == "probabilities"
    assert manifest.quantization.method in ("none", "dynamic-int8")
    assert "bytes" in manifest.quantization.reason and "us per call" in manifest.quantization.reason
    lineage = manifest.lineage
    assert lineage.dataset == "sklearn.datasets.load_breast_cancer" and lineage.seed == 0
    assert lineage.distillation_temperature and lineage.distillation_weight
    teacher = root / "teachers" / f"{NAME}_teacher.joblib"
    assert teacher.stat().st_size == manifest.metrics.teacher_bytes


@pytest.mark.slow
def test_build_keeps_the_teacher_accuracy_with_a_far_smaller_model(built):
    manifest, _ = built
    metrics = manifest.metrics
    assert metrics.accuracy_retention is not None and metrics.accuracy_retention >= 0.99
    assert metrics.hard_label_student_accuracy is not None
    assert metrics.teacher_parameters and metrics.student_parameters
    assert metrics.teacher_parameters >= 100 * metrics.student_parameters
    assert metrics.teacher_bytes and metrics.student_bytes == manifest.bytes
    assert metrics.teacher_bytes >= 100 * metrics.student_bytes


@pytest.mark.slow
def test_rebuild_with_the_same_seed_publishes_no_new_version(built):
    manifest, root = built
    again = build_tabular_model(NAME, store_root=root / "store", seed=0,
                                teacher_dir=root / "teachers")
    assert (again.version, again.sha256) == (manifest.version, manifest.sha256)
    assert LocalStore(root / "store").versions(NAME) == ["1"]


@pytest.mark.slow
def test_student_below_the_bar_raises_and_publishes_nothing(tmp_path):
    config = TabularConfig(teacher_trees=10, epochs=2, min_retention=1.5)
    with pytest.raises(StudentTooWeakError, match="below the 150% bar"):
        build_tabular_model(NAME, store_root=tmp_path / "store", teacher_dir=tmp_path,
                            config=config)
    assert LocalStore(tmp_path / "store").versions(NAME) == []


# -- the shipped model ------------------------------------------------------------------------
def test_shipped_model_predicts_the_test_split_as_its_manifest_claims():
    store = LocalStore(PROJECT_STORE)
    assert NAME in store.names(), "build it: python -m training tabular breast_cancer"
    manifest = store.open(NAME).manifest  # checks the sha256
    split = load_split(NAME)
    assert manifest.metrics.test_samples == len(split.y_test)
    probabilities = _predict(store.model_path(NAME), split.x_test)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    accuracy = float((probabilities.argmax(axis=1) == split.y_test).mean())
    assert accuracy == manifest.metrics.student_accuracy
    assert manifest.metrics.accuracy_retention is not None
    assert manifest.metrics.accuracy_retention >= 0.99
