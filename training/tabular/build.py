"""Distil a tabular classifier and publish it: ``python -m training tabular breast_cancer``.

Pipeline, top to bottom: fixed stratified split → large tree-ensemble teacher (saved with
joblib as the naive baseline) → two MLP students from the same init and batches, one
distilled from the teacher's softened probabilities and one on hard labels alone → the
distilled one exported to ONNX with standardisation folded in, checked against torch →
dynamic-int8 trial, kept only if it wins on size, accuracy and speed → the 99% retention
bar → ``LocalStore.publish`` (same bytes, same version).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from model_store.base import PROJECT_STORE
from model_store.local import LocalStore
from model_store.manifest import Manifest
from training.common import format_table, log, seed_everything
from training.tabular_config import TabularConfig
from training.tabular_data import TabularSplit, load_split
from training.tabular_onnx import (
    accuracy,
    check_matches_torch,
    export_student,
    onnx_probabilities,
    open_session,
    try_int8,
)
from training.tabular_report import TabularResult, build_manifest, summary_rows
from training.tabular_student import (
    count_parameters,
    explicit_standardisation,
    fold_standardisation,
    predict_probabilities,
    train_student,
)
from training.tabular_teacher import (
    ensemble_size,
    fit_teacher,
    save_teacher,
    teacher_logits,
)

__all__ = ["StudentTooWeakError", "TabularConfig", "TabularSplit", "build_tabular_model",
           "load_split"]

# Where the pickled teachers go; the benchmarks serve them as the naive baseline.
TEACHER_DIR = PROJECT_STORE.parent / "build" / "teachers"


class StudentTooWeakError(RuntimeError):
    """The served student fell below the accuracy-retention bar; nothing was published."""


def build_tabular_model(dataset: str, *, store_root: Path, seed: int = 0,
                        teacher_dir: Path | None = None,
                        config: TabularConfig | None = None) -> Manifest:
    """Train, distil, export, check and publish ``dataset``; return the published manifest.

    Raises ``StudentTooWeakError`` (and publishes nothing) if the served student keeps less
    than ``config.min_retention`` of the teacher's test accuracy.
    """
    config = config or TabularConfig()
    split = load_split(dataset, config)
    # One thread, always: the model is tiny (a second thread made training 10x slower on a
    # busy 2-core box), and the bytes depend on it: 1 and 2 threads each rebuild the same
    # file every time, but not the same file as each other.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with tempfile.TemporaryDirectory(prefix="featherserve-tabular-") as work:
            result, served_path = _train_and_measure(split, config, seed,
                                                     teacher_dir or TEACHER_DIR, Path(work))
            _check_retention(result)
            return _publish(result, served_path, store_root)
    finally:
        torch.set_num_threads(threads)


def _train_and_measure(split: TabularSplit, config: TabularConfig, seed: int,
                       teacher_dir: Path, work: Path) -> tuple[TabularResult, Path]:
    started = time.perf_counter()
    seed_everything(seed)
    tag = f"[{split.name}]"
    log(f"{tag} {split.description}")

    log(f"{tag} teacher: ExtraTrees, {config.teacher_trees} trees")
    teacher = fit_teacher(split.x_train, split.y_train, trees=config.teacher_trees, seed=seed)
    size = ensemble_size(teacher)
    teacher_accuracy = accuracy(teacher.predict_proba(split.x_test), split.y_test)
    teacher_path = teacher_dir / f"{split.name}_teacher.joblib"
    teacher_bytes = save_teacher(teacher, teacher_path)
    log(f"{tag} teacher: {size.nodes} nodes, {size.parameters} parameters, "
        f"{teacher_bytes} bytes → {teacher_path}")

    mean = split.x_train.astype(np.float64).mean(axis=0)
    std = split.x_train.astype(np.float64).std(axis=0)
    x_standard = ((split.x_train - mean) / std).astype(np.float32)
    soft = teacher_logits(teacher, split.x_train, floor=config.probability_floor)
    distilled = train_student(x_standard, split.y_train, soft, config=config, seed=seed,
                              label="distilled student epochs")
    hard = train_student(x_standard, split.y_train, None, config=config, seed=seed,
                         label="hard-label student epochs")
    served = fold_standardisation(distilled, mean, std)
    hard_accuracy = accuracy(
        predict_probabilities(fold_standardisation(hard, mean, std), split.x_test),
        split.y_test)

    fp32_path = export_student(served, work / "student.fp32.onnx",
                               n_features=len(split.feature_names), opset=config.opset)
    gap = check_matches_torch(fp32_path, served, np.concatenate([split.x_test, split.x_train]))
    log(f"{tag} ONNX reproduces torch (max gap {gap:.1e}); trying dynamic int8")
    standardised = explicit_standardisation(distilled, mean, std)
    standardised_path = export_student(standardised, work / "student.standardised.onnx",
                                       n_features=len(split.feature_names), opset=config.opset)
    check_matches_torch(standardised_path, standardised, split.x_test, atol=1e-5)
    trial, int8_path = try_int8(fp32_path, standardised_path, work, split.x_test,
                                split.y_test, batch=config.latency_batch,
                                rounds=config.latency_rounds,
                                runs_per_round=config.latency_runs_per_round)
    log(f"{tag} {trial.reason()}")
    served_path = int8_path if trial.worth_it else fp32_path
    student_accuracy = accuracy(
        onnx_probabilities(open_session(served_path), split.x_test), split.y_test)
    result = TabularResult(
        split=split, config=config, seed=seed, teacher_size=size,
        teacher_bytes=teacher_bytes, teacher_accuracy=teacher_accuracy,
        student_accuracy=student_accuracy, hard_label_accuracy=hard_accuracy,
        student_parameters=count_parameters(distilled),
        student_bytes=served_path.stat().st_size, int8=trial, onnx_gap=gap,
        seconds=time.perf_counter() - started)
    log(format_table(["model", "test accuracy", "parameters", "bytes"], summary_rows(result)))
    log(f"{tag} retention {result.retention:.2%} of the teacher's test accuracy "
        f"(bar {config.min_retention:.0%}); built in {result.seconds:.1f}s")
    return result, served_path


def _check_retention(result: TabularResult) -> None:
    bar = result.config.min_retention
    if result.retention < bar:
        raise StudentTooWeakError(
            f"{result.split.name}: the served student keeps {result.retention:.2%} of the "
            f"teacher's test accuracy ({result.student_accuracy:.4f} vs "
            f"{result.teacher_accuracy:.4f}), below the {bar:.0%} bar; nothing was published. "
            "Try another --seed, more epochs or a wider student (TabularConfig).")


def _publish(result: TabularResult, served_path: Path, store_root: Path) -> Manifest:
    store = LocalStore(store_root)
    name = result.split.name
    before = store.versions(name)
    published = store.publish(build_manifest(result), served_path)
    what = "unchanged, already" if published.version in before else "published"
    log(f"[{name}] {what} {published.name} v{published.version} ({published.bytes} bytes, "
        f"sha256 {published.sha256[:12]}…) in {store_root}")
    return published
