"""What a tabular build measured: scores, the printed report with its picture, the manifest."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from model_store.manifest import (
    Feature,
    Lineage,
    Manifest,
    Metrics,
    OutputSpec,
    Quantization,
    TabularLayout,
    TabularSpec,
)
from training.common import command_line, format_table, kit_version, log, utc_now
from training.evaluation import (
    RegressionScores,
    accuracy,
    majority_baseline,
    mean_baseline,
    per_class_recall,
)
from training.plots import write_confusion_matrix, write_residual_plot
from training.tabular.config import TabularConfig
from training.tabular.data import TabularSplit
from training.tabular.fold import FoldCheck
from training.tabular.graph import PROBABILITIES, VALUE, Int8Trial
from training.tabular.preprocess import MATRIX_INPUT
from training.tabular.teacher import TeacherModel


@dataclass(frozen=True)
class Scores:
    """Accuracy (classification) or R² (regression) on the test split, and the rest."""

    score: float
    mae: float | None = None
    recall: dict[str, float] = field(default_factory=dict)


def scores_of(outputs: npt.NDArray[np.floating] | None, split: TabularSplit) -> Scores:
    """Scores of ``outputs`` (probabilities or values per test row); None: the baseline."""
    if split.task == "regression":
        y_train = split.y_train.astype(np.float64)
        y_test = split.y_test.astype(np.float64)
        found = (mean_baseline(y_train, y_test) if outputs is None
                 else RegressionScores.of(np.asarray(outputs).reshape(len(y_test), -1)[:, 0],
                                          y_test))
        return Scores(score=found.r2, mae=found.mae)
    y = split.y_test.astype(np.int64)
    if outputs is None:
        return Scores(score=majority_baseline(split.y_train.astype(np.int64), y))
    predicted = np.asarray(outputs).argmax(axis=1)
    return Scores(score=accuracy(outputs, y),
                  recall=per_class_recall(predicted, y, split.labels))


@dataclass(frozen=True)
class TabularResult:
    name: str
    split: TabularSplit
    config: TabularConfig
    seed: int
    layout: TabularLayout
    features: tuple[Feature, ...]
    model_width: int                  # preprocessed features the MLP sees
    teacher: TeacherModel
    teacher_scores: Scores
    served: Scores                    # the served ONNX file, through onnxruntime
    served_output: npt.NDArray[np.float32]
    hard_label: Scores                # same MLP, init and batches; true targets only
    baseline: Scores                  # majority class / training mean
    student_parameters: int
    student_bytes: int
    int8: Int8Trial
    graph_gap: float                  # max |served fp32 graph - (scikit-learn + torch)|
    fold: FoldCheck                   # the standardisation folded vs not
    preprocessing: str                # what the served graph does before the MLP
    seconds: float

    @property
    def retention(self) -> float:
        teacher = self.teacher_scores.score
        return self.served.score / teacher if teacher > 0 else 0.0


def summary_rows(result: TabularResult) -> list[list[str]]:
    served = "int8" if result.int8.worth_it else "fp32"
    regression = result.split.task == "regression"

    def row(name: str, scores: Scores, parameters: str, size: str) -> list[str]:
        cells = [name, f"{scores.score:.4f}"]
        if regression:
            cells.append(f"{scores.mae:.4g}")
        return [*cells, parameters, size]

    teacher = result.teacher
    return [
        row(f"teacher ({teacher.kind})", result.teacher_scores,
            str(teacher.parameters or "-"), str(teacher.bytes)),
        row(f"distilled student (served ONNX {served})", result.served,
            str(result.student_parameters), str(result.student_bytes)),
        row("hard-label student (same MLP, torch)", result.hard_label,
            str(result.student_parameters), "-"),
        row("baseline (" + ("training mean" if regression else "majority class") + ")",
            result.baseline, "1" if regression else "0", "-"),
    ]


def report_text(result: TabularResult) -> str:
    regression = result.split.task == "regression"
    headers = ["model", "test R²" if regression else "test accuracy",
               *(["test MAE"] if regression else []), "parameters", "bytes"]
    lines = [f"{result.name}: {result.split.task} on {result.split.description}",
             format_table(headers, summary_rows(result)),
             f"retention: the served student keeps {result.retention:.2%} of the teacher's "
             f"test {'R²' if regression else 'accuracy'} (bar {result.config.min_retention:.0%})"]
    if result.served.recall:
        recall = ", ".join(f"{k} {v:.3f}" for k, v in result.served.recall.items())
        lines.append(f"per-class recall (served): {recall}")
    lines.append(f"{result.fold.summary()}"
                 + ("" if result.fold.ok else "; the unfolded graph is served"))
    lines.append(f"built in {result.seconds:.1f}s")
    return "\n".join(lines)


def write_report(result: TabularResult, folder: Path) -> Path:
    """Print the report, write it beside its picture in ``folder``; return the picture."""
    text = report_text(result)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.txt").write_text(text + "\n")
    title = f"{result.name}: served model, test split"
    split = result.split
    if split.task == "regression":
        picture = write_residual_plot(folder / "residuals.png", result.served_output,
                                      split.y_test.astype(np.float64), title)
    else:
        picture = write_confusion_matrix(folder / "confusion_matrix.png",
                                         result.served_output.argmax(axis=1),
                                         split.y_test.astype(np.int64), split.labels, title)
    log(text)
    log(f"[{result.name}] report: {folder / 'report.txt'}; picture: {picture}")
    return picture


def describe_student(result: TabularResult) -> str:
    c = result.config
    regression = result.split.task == "regression"
    outputs = 1 if regression else len(result.split.labels)
    widths = "→".join(str(w) for w in (result.model_width, *c.hidden, outputs))
    head = ("linear output, scaled back to the target's units" if regression
            else "softmax output")
    loss = (f"{c.distillation_weight:g} × squared error to the teacher's predictions + "
            f"{1 - c.distillation_weight:g} × squared error to the true values, on the "
            f"training rows and {c.regression_synthetic_copies} jittered copies of each "
            f"(numbers moved by {c.jitter:g} std) labelled by the teacher"
            if regression else
            f"{c.distillation_weight:g} × KL to the teacher's log-probabilities (floored at "
            f"{c.probability_floor:g}) at T={c.temperature:g} + "
            f"{1 - c.distillation_weight:g} × cross-entropy on the true labels, over the "
            "training split")
    return (f"MLP {widths} (ReLU, {head}), {result.student_parameters} parameters, after the "
            f"preprocessing in the same graph ({result.preprocessing}); AdamW, one-cycle lr "
            f"{c.learning_rate:g}, weight decay {c.weight_decay:g}, {c.epochs} epochs, batch "
            f"{c.batch_size}; loss {loss}")


def build_manifest(result: TabularResult, description: str = "", command: str = "") -> Manifest:
    """The unpublished manifest for the served file (the store fills version and sha256)."""
    split, config, trial = result.split, result.config, result.int8
    regression = split.task == "regression"
    teacher = result.teacher
    extra: dict[str, float] = {
        "score_retention": round(result.retention, 4),
        "min_retention": config.min_retention,
        "student_fp32_bytes": trial.fp32_bytes,
        "student_int8_bytes": trial.int8_bytes,
        "student_fp32_latency_us": round(trial.fp32_latency_us, 2),
        "student_int8_latency_us": round(trial.int8_latency_us, 2),
        "onnx_reference_max_abs_diff": float(f"{result.graph_gap:.3g}"),
        "unfolded_fp32_bytes": result.fold.unfolded_bytes,
        "train_samples": len(split.y_train),
        "build_seconds": round(result.seconds, 1),
    }
    if np.isfinite(result.fold.max_gap):  # inf: a NaN where the unfolded graph had none
        extra["fold_max_abs_diff"] = float(f"{result.fold.max_gap:.3g}")
    if teacher.parameters:
        extra["parameter_ratio"] = round(teacher.parameters / result.student_parameters, 1)
    if teacher.bytes:
        extra["byte_ratio"] = round(teacher.bytes / result.student_bytes, 1)
    if teacher.size is not None:
        extra |= {"teacher_trees": teacher.size.trees, "teacher_nodes": teacher.size.nodes}
    metrics = Metrics(
        split=split.description, test_samples=len(split.y_test),
        teacher_parameters=teacher.parameters, student_parameters=result.student_parameters,
        teacher_bytes=teacher.bytes, student_bytes=result.student_bytes,
        extra=extra, **_task_metrics(result))
    kind = "regression model" if regression else f"{len(split.labels)}-class classifier"
    return Manifest(
        name=result.name,
        task="tabular-regression" if regression else "tabular-classification",
        input=TabularSpec(features=result.features, layout=result.layout),
        output=OutputSpec(name=VALUE if regression else PROBABILITIES,
                          kind="values" if regression else "probabilities"),
        labels=() if regression else split.labels,
        opset=config.opset,
        input_name=MATRIX_INPUT,
        quantization=Quantization(method="dynamic-int8" if trial.worth_it else "none",
                                  reason=trial.reason()),
        metrics=metrics,
        lineage=Lineage(
            dataset=split.source, teacher=teacher.description,
            student=describe_student(result),
            distillation_temperature=None if regression else config.temperature,
            distillation_weight=config.distillation_weight, seed=result.seed,
            kit_version=kit_version(), created_at=utc_now(), command=command_line(command)),
        description=description or (
            f"{result.name}: {kind} predicting {split.table.target_name!r} from "
            f"{len(result.features)} raw columns of {split.source} (send the row as in the "
            f"CSV: numbers, category strings, null where missing is allowed)."),
    )


def _task_metrics(result: TabularResult) -> dict[str, Any]:
    if result.split.task == "regression":
        return {"teacher_r2": result.teacher_scores.score, "student_r2": result.served.score,
                "hard_label_student_r2": result.hard_label.score,
                "baseline_r2": result.baseline.score, "teacher_mae": result.teacher_scores.mae,
                "student_mae": result.served.mae, "hard_label_student_mae": result.hard_label.mae,
                "baseline_mae": result.baseline.mae,
                "student_fp32_accuracy": None}
    trial = result.int8
    return {"teacher_accuracy": result.teacher_scores.score,
            "student_accuracy": result.served.score,
            "hard_label_student_accuracy": result.hard_label.score,
            "student_fp32_accuracy": trial.fp32_score,
            "student_int8_accuracy": trial.int8_score,
            "int8_fp32_agreement": trial.agreement,
            "baseline_accuracy": result.baseline.score,
            "per_class_recall": result.served.recall}
