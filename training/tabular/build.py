"""Train a tabular model on a table and publish it:
``featherserve train tabular NAME --data FILE.csv --target COLUMN``.

Pipeline, top to bottom: read the CSV (kinds, task) → fixed split → preprocessing fitted on
the training rows → large tree-ensemble teacher on the preprocessed features (pickled with
its preprocessing: the benchmarks' naive baseline) → two MLP students from the same init and
batches, one distilled from the teacher and one on the true targets alone → preprocessing +
distilled student exported as ONE ONNX graph (raw row in, prediction out), checked against
scikit-learn + torch → the same with the standardisation folded into the student's first
layer, served when it matches the unfolded graph → dynamic-int8 trial, kept only if it wins
on size, score and speed → report and picture → the quality gate → publish (graph checked
against its manifest).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.pipeline import Pipeline

from model_store.manifest import Manifest
from training.common import build_folder, log, seed_everything
from training.evaluation import GateInput, enforce_gate
from training.publishing import publish_checked
from training.tabular.config import TabularConfig
from training.tabular.data import TabularSplit, split_table
from training.tabular.fold import (
    compare_graphs,
    describe_preprocessing,
    folded_graph,
    needs_imputation,
    split_affine,
)
from training.tabular.graph import (
    GRAPH_TOLERANCE,
    check_graph_matches,
    combine,
    open_session,
    run,
    student_onnx,
    try_int8,
)
from training.tabular.preprocess import (
    fit_preprocessor,
    manifest_features,
    model_frame,
    onnx_feeds,
    preprocessor_onnx,
)
from training.tabular.report import (
    TabularResult,
    build_manifest,
    scores_of,
    write_report,
)
from training.tabular.student import (
    ServedStudent,
    count_parameters,
    predict,
    train_regression_student,
    train_student,
)
from training.tabular.table import Task, infer_task, read_table
from training.tabular.teacher import (
    TeacherModel,
    builtin_teacher,
    fit_regression_teacher,
    fit_teacher,
)

TeacherFactory = Callable[[TabularSplit], TeacherModel]
# The folded graph is checked against the unfolded one on the test rows and these many
# training rows (TabularConfig.fold_tolerance).
FOLD_CHECK_TRAIN_ROWS = 1000


def build_tabular_model(name: str, *, data: str | Path, target: str, task: Task | None = None,
                        store_root: Path, seed: int = 0,
                        config: TabularConfig | None = None, teacher_dir: Path | None = None,
                        report_dir: Path | None = None, ignore: tuple[str, ...] = (),
                        teacher: TeacherFactory | None = None,
                        description: str = "", command: str = "") -> Manifest:
    """Train, distil, export, check, gate and publish; return the published manifest.

    Paths come from the caller: ``store_root`` (published to), ``teacher_dir`` (the pickled
    teacher: the benchmarks serve the project's as the naive baseline) and ``report_dir``
    (default: ``teachers/`` and ``reports/`` in ``build_folder(store_root)``). ``command``
    is the lineage's (default: this process's command line).

    Raises ``QualityGateError`` (and publishes nothing) when the served student is not
    clearly better than the trivial baseline or keeps less than ``config.min_retention``
    of its teacher's score. ``teacher`` replaces the built-in ensemble (``--distil``).
    """
    config = config or TabularConfig()
    table = read_table(data, target, ignore=ignore)
    inferred, why = infer_task(table.target)
    if task is None:
        task = inferred
        log(f"[{name}] task: {task} (inferred: {why}; --task overrides)")
    split = split_table(table, task, config)
    # One thread, always: the model is tiny (a second thread made training 10x slower on a
    # busy 2-core box), and the bytes depend on it: 1 and 2 threads each rebuild the same
    # file every time, but not the same file as each other.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with tempfile.TemporaryDirectory(prefix="featherserve-tabular-") as work:
            result, served_path = train_and_measure(
                name, split, config, seed, Path(work),
                teacher_dir or build_folder(store_root) / "teachers", teacher)
            write_report(result, (report_dir or build_folder(store_root) / "reports") / name)
            enforce_gate(name, gate_input(result), advice=_advice(result))
            manifest = build_manifest(result, description, command)
            return publish_checked(manifest, served_path, store_root, feeds=onnx_feeds(
                split.x_test.head(8), result.layout, split.table))
    finally:
        torch.set_num_threads(threads)


def gate_input(result: TabularResult) -> GateInput:
    regression = result.split.task == "regression"
    return GateInput(
        task=result.split.task, served=result.served.score, baseline=result.baseline.score,
        test_rows=len(result.split.y_test), teacher=result.teacher_scores.score,
        served_mae=result.served.mae if regression else None,
        baseline_mae=result.baseline.mae if regression else None,
        min_retention=result.config.min_retention)


def _advice(result: TabularResult) -> str:
    return ("check that --target names the column to predict and that the features carry "
            "information about it (a baseline this close means they may not); with little "
            "data, more rows help most; a student far below its teacher: another --seed, "
            "more epochs or a wider student (TabularConfig.hidden)")


def train_and_measure(name: str, split: TabularSplit, config: TabularConfig, seed: int,
                      work: Path, teacher_dir: Path, teacher_factory: TeacherFactory | None
                      ) -> tuple[TabularResult, Path]:
    started = time.perf_counter()
    seed_everything(seed)
    tag = f"[{name}]"
    regression = split.task == "regression"
    table = split.table
    log(f"{tag} {split.description}; {len(table.numbers)} numeric and "
        f"{len(table.categories)} categorical features")

    pre = fit_preprocessor(table, split.x_train)
    x_train = pre.transform(split.x_train)
    x_test = pre.transform(split.x_test)
    log(f"{tag} preprocessing: {pre.layout} inputs → {x_train.shape[1]} model features")

    if teacher_factory is not None:
        teacher = teacher_factory(split)
    else:
        log(f"{tag} teacher: ExtraTrees, {config.teacher_trees} trees")
        ensemble = (fit_regression_teacher(x_train, split.y_train.astype(np.float64),
                                           trees=config.teacher_trees, seed=seed)
                    if regression else
                    fit_teacher(x_train, split.y_train.astype(np.int64),
                                trees=config.teacher_trees, seed=seed))
        pipeline = Pipeline([("preprocess", pre.transformer), ("teacher", ensemble)])
        teacher = builtin_teacher(pipeline, lambda f: model_frame(f, pre.layout, table),
                                  teacher_dir / f"{name}_teacher.joblib", seed)
    log(f"{tag} teacher: {teacher.description}")

    distilled, hard, student, target_scale = _students(split, pre, x_train, teacher, config,
                                                       seed)
    served_module = student()
    hard_output = predict(hard, x_test)

    width = x_train.shape[1]
    tolerance = GRAPH_TOLERANCE * max(1.0, target_scale)
    unfolded_path = combine(
        preprocessor_onnx(pre, opset=config.opset, ml_opset=config.ml_opset),
        student_onnx(served_module, width=width, opset=config.opset),
        work / "student.unfolded.onnx")
    feeds = onnx_feeds(split.x_test, pre.layout, table)
    reference = predict(served_module, x_test)
    gap = check_graph_matches(unfolded_path, feeds, reference, atol=tolerance)
    log(f"{tag} ONNX graph (preprocessing + student) reproduces scikit-learn + torch "
        f"(max gap {gap:.1e})")

    affine = split_affine(pre, split.x_train, imputes=needs_imputation(table))
    folded_path = folded_graph(affine, student, pre, work / "student.fp32.onnx",
                               opset=config.opset, ml_opset=config.ml_opset)
    rows = pd.concat([split.x_test, split.x_train.head(FOLD_CHECK_TRAIN_ROWS)],
                     ignore_index=True)
    fold = compare_graphs(folded_path, unfolded_path, onnx_feeds(rows, pre.layout, table),
                          classifier=not regression,
                          tolerance=config.fold_tolerance * max(1.0, target_scale))
    fp32_path = folded_path if fold.ok else unfolded_path
    log(f"{tag} {fold.summary()}: "
        + ("served folded" if fold.ok else "served unfolded (the fold rounds too much)"))
    # What the card records: the served fp32 graph's own gap to scikit-learn + torch.
    gap = float(np.abs(run(open_session(fp32_path), feeds).reshape(reference.shape)
                       - reference).max())

    def score(outputs: np.ndarray) -> float:
        return scores_of(outputs, split).score

    trial, int8_path = try_int8(
        fp32_path, work, feeds, score, _agreement(regression),
        batch=config.latency_batch, rounds=config.latency_rounds,
        runs_per_round=config.latency_runs_per_round,
        score_name="R²" if regression else "accuracy",
        quantize_from=unfolded_path if fold.ok else None,
        quantized="the graph with the standardisation unfolded" if fold.ok else "")
    log(f"{tag} {trial.reason()}")
    served_path = int8_path if trial.worth_it else fp32_path
    served_output = run(open_session(served_path), feeds)
    result = TabularResult(
        name=name, split=split, config=config, seed=seed, layout=pre.layout,
        features=manifest_features(table, split.x_train), model_width=width,
        teacher=teacher, teacher_scores=scores_of(teacher.predict(split.x_test), split),
        served=scores_of(served_output, split), served_output=served_output,
        hard_label=scores_of(hard_output, split),
        baseline=scores_of(None, split),
        student_parameters=count_parameters(distilled),
        student_bytes=served_path.stat().st_size, int8=trial, graph_gap=gap, fold=fold,
        # int8 is quantized from the unfolded graph, which keeps the whole preprocessing.
        preprocessing=describe_preprocessing(
            affine if fold.ok and not trial.worth_it else None, table,
            folded=fold.ok and not trial.worth_it),
        seconds=time.perf_counter() - started)
    return result, served_path


def _students(split: TabularSplit, pre, x_train: np.ndarray,  # type: ignore[no-untyped-def]
              teacher: TeacherModel, config: TabularConfig, seed: int):
    """The distilled and hard-label students, the served module's factory (it takes
    ``input_affine`` to fold the standardisation), and the target's scale."""
    if split.task == "classification":
        y = split.y_train.astype(np.int64)
        probabilities = np.clip(teacher.predict(split.x_train), config.probability_floor, 1.0)
        soft = np.log(probabilities).astype(np.float32)
        classes = len(split.labels)
        distilled = train_student(x_train, y, soft, config=config, seed=seed,
                                  label="distilled student epochs", classes=classes)
        hard = train_student(x_train, y, None, config=config, seed=seed,
                             label="hard-label student epochs", classes=classes)
        return distilled, ServedStudent(hard), partial(ServedStudent, distilled), 1.0
    y = split.y_train.astype(np.float64)
    mean, std = float(y.mean()), float(y.std()) or 1.0
    frames = [split.x_train] + [_jittered(split.x_train, split, config.jitter, seed + k)
                                for k in range(1, config.regression_synthetic_copies + 1)]
    augmented = pd.concat(frames, ignore_index=True)
    x_all = pre.transform(augmented)
    taught = ((teacher.predict(augmented) - mean) / std).astype(np.float32).reshape(-1, 1)
    # Real rows keep their true value as the hard target; synthetic ones have only the teacher's.
    truth = np.concatenate([(y - mean) / std, taught[len(y):, 0]]).astype(np.float32)
    distilled = train_regression_student(x_all, truth.reshape(-1, 1), taught, config=config,
                                         seed=seed, label="distilled student epochs")
    hard = train_regression_student(x_train, ((y - mean) / std).astype(np.float32)
                                    .reshape(-1, 1), None, config=config, seed=seed,
                                    label="hard-label student epochs")
    return (distilled, ServedStudent(hard, regression=True, scale=std, offset=mean),
            partial(ServedStudent, distilled, regression=True, scale=std, offset=mean),
            abs(mean) + std)


def _jittered(frame: pd.DataFrame, split: TabularSplit, jitter: float,
              seed: int) -> pd.DataFrame:
    """``frame`` with each number moved by N(0, jitter × its training std); categories kept."""
    rng = np.random.default_rng(seed)
    out = frame.copy()
    for column in split.table.numbers:
        values = out[column].to_numpy(dtype=np.float64)
        std = float(np.nanstd(split.x_train[column].to_numpy(dtype=np.float64))) or 1.0
        out[column] = values + rng.normal(0.0, jitter * std, len(values))
    return out


def _agreement(regression: bool) -> Callable[[np.ndarray, np.ndarray], float]:
    if regression:
        def close(a: np.ndarray, b: np.ndarray) -> float:
            spread = float(np.abs(a).max()) or 1.0
            return 1.0 - float(np.abs(a - b).max()) / spread
        return close
    return lambda a, b: float((a.argmax(axis=1) == b.argmax(axis=1)).mean())
