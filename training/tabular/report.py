"""What a tabular build measured, and the manifest and summary table made from it."""

from __future__ import annotations

from dataclasses import dataclass

from model_store.manifest import (
    Feature,
    Lineage,
    Manifest,
    Metrics,
    OutputSpec,
    Quantization,
    TabularSpec,
)
from training.common import command_line, kit_version, utc_now
from training.tabular_config import TabularConfig
from training.tabular_data import TabularSplit
from training.tabular_onnx import INPUT_NAME, OUTPUT_NAME, Int8Trial
from training.tabular_teacher import TreeEnsembleSize


@dataclass(frozen=True)
class TabularResult:
    split: TabularSplit
    config: TabularConfig
    seed: int
    teacher_size: TreeEnsembleSize
    teacher_bytes: int            # joblib pickle
    teacher_accuracy: float
    student_accuracy: float       # the served ONNX file, through onnxruntime
    hard_label_accuracy: float    # same architecture, init and batches; labels only
    student_parameters: int
    student_bytes: int            # the served ONNX file
    int8: Int8Trial
    onnx_gap: float               # max |onnxruntime - torch| over train and test rows
    seconds: float

    @property
    def retention(self) -> float:
        return self.student_accuracy / self.teacher_accuracy


def describe_student(result: TabularResult) -> str:
    c = result.config
    widths = "→".join(str(w) for w in (len(result.split.feature_names), *c.hidden,
                                      len(result.split.labels)))
    return (f"MLP {widths} (ReLU, softmax output), {result.student_parameters} parameters; "
            "standardisation (training mean/std) folded into the first layer, so it takes raw "
            f"feature values; AdamW, one-cycle lr {c.learning_rate:g}, weight decay "
            f"{c.weight_decay:g}, {c.epochs} epochs, batch {c.batch_size}; loss "
            f"{c.distillation_weight:g} × KL to the teacher's log-probabilities (floored at "
            f"{c.probability_floor:g}) at T={c.temperature:g} + "
            f"{1 - c.distillation_weight:g} × cross-entropy on the true labels, over the "
            "training split only. Fully grown ExtraTrees vote unanimously on every training "
            "row, so there the soft term acts as label smoothing; adding jittered rows "
            "labelled by the teacher (Gaussian, 0.3 and 0.5 std) or out-of-fold teacher "
            "probabilities did not help in 5-fold CV, so neither is used")


def describe_teacher(result: TabularResult) -> str:
    s = result.teacher_size
    return (f"sklearn ExtraTreesClassifier, {s.trees} fully grown trees "
            f"(random_state={result.seed}): {s.nodes} nodes, {s.parameters} parameters "
            "(feature index + threshold per split node, class probabilities per leaf), "
            f"{result.teacher_bytes} bytes as a joblib pickle")


def build_manifest(result: TabularResult) -> Manifest:
    """The unpublished manifest for the served file (the store fills version and sha256)."""
    split, config, trial = result.split, result.config, result.int8
    features = tuple(Feature(name=name, dtype="float32", min=float(low), max=float(high))
                     for name, low, high in zip(split.feature_names, split.train_min,
                                                split.train_max, strict=True))
    extra: dict[str, float] = {
        "accuracy_retention": round(result.retention, 4),
        "parameter_ratio": round(result.teacher_size.parameters / result.student_parameters, 1),
        "byte_ratio": round(result.teacher_bytes / result.student_bytes, 1),
        "teacher_trees": result.teacher_size.trees,
        "teacher_nodes": result.teacher_size.nodes,
        "student_fp32_bytes": trial.fp32_bytes,
        "student_int8_bytes": trial.int8_bytes,
        "student_fp32_latency_us": round(trial.fp32_latency_us, 2),
        "student_int8_latency_us": round(trial.int8_latency_us, 2),
        "student_int8_of_folded_graph_accuracy": trial.folded_int8_accuracy,
        "onnx_torch_max_abs_diff": float(f"{result.onnx_gap:.3g}"),
        "train_samples": len(split.y_train),
        "build_seconds": round(result.seconds, 1),
    }
    return Manifest(
        name=split.name,
        task="tabular-classification",
        input=TabularSpec(features=features),
        output=OutputSpec(name=OUTPUT_NAME, kind="probabilities"),
        labels=split.labels,
        opset=config.opset,
        input_name=INPUT_NAME,
        quantization=Quantization(method="dynamic-int8" if trial.worth_it else "none",
                                  reason=trial.reason()),
        metrics=Metrics(
            split=split.description,
            test_samples=len(split.y_test),
            teacher_accuracy=result.teacher_accuracy,
            student_accuracy=result.student_accuracy,
            hard_label_student_accuracy=result.hard_label_accuracy,
            student_fp32_accuracy=trial.fp32_accuracy,
            student_int8_accuracy=trial.int8_accuracy,
            int8_fp32_agreement=trial.agreement,
            teacher_parameters=result.teacher_size.parameters,
            student_parameters=result.student_parameters,
            teacher_bytes=result.teacher_bytes,
            student_bytes=result.student_bytes,
            extra=extra,
        ),
        lineage=Lineage(
            dataset=split.source,
            teacher=describe_teacher(result),
            student=describe_student(result),
            distillation_temperature=config.temperature,
            distillation_weight=config.distillation_weight,
            seed=result.seed,
            kit_version=kit_version(),
            created_at=utc_now(),
            command=command_line(),
        ),
        description=(
            "Breast cancer (Wisconsin diagnostic) classifier: malignant or benign from the 30 "
            "raw cell-nucleus measurements, in the dataset's units. A "
            f"{result.student_parameters}-parameter MLP distilled from a "
            f"{result.teacher_size.trees}-tree ExtraTrees ensemble."),
    )


def summary_rows(result: TabularResult) -> list[list[str]]:
    s = result.teacher_size
    served = "int8" if result.int8.worth_it else "fp32"
    return [
        ["teacher (ExtraTrees, joblib)", f"{result.teacher_accuracy:.4f}", str(s.parameters),
         str(result.teacher_bytes)],
        [f"distilled student (served ONNX {served})", f"{result.student_accuracy:.4f}",
         str(result.student_parameters), str(result.student_bytes)],
        ["hard-label student (same MLP, torch)", f"{result.hard_label_accuracy:.4f}",
         str(result.student_parameters), "-"],
    ]
