"""What an image build measured, and the manifest and summary table made from it."""

from __future__ import annotations

from dataclasses import dataclass, field

from model_store.manifest import (
    ImageSpec,
    Lineage,
    Manifest,
    Metrics,
    OutputSpec,
    Quantization,
)
from training.common import command_line, kit_version, utc_now
from training.image.config import ImageBuildConfig
from training.image.datasets import ImageDataset
from training.image.evaluate import RenderedReport
from training.image.export import OPSET, OUTPUT_NAME
from training.image.glyphs import FontChoice
from training.image.mixture import PreparedSet
from training.image.models import CnnConfig


@dataclass(frozen=True)
class BuildResult:
    dataset: ImageDataset
    spec: ImageSpec
    config: ImageBuildConfig
    seed: int
    fonts: list[FontChoice] | None
    train: PreparedSet
    teacher_accuracy: float
    distilled_accuracy: float       # PyTorch, fp32
    hard_label_accuracy: float      # PyTorch, fp32, same architecture and init
    fp32_accuracy: float            # the distilled student's ONNX fp32 export
    int8_accuracy: float            # the served file
    agreement: float                # int8 vs fp32 top-1 agreement on the test split
    teacher_parameters: int
    student_parameters: int
    teacher_bytes: int              # teacher ONNX fp32
    student_fp32_bytes: int
    student_bytes: int              # the served int8 file
    rendered: RenderedReport | None
    is_int8: bool
    seconds: float
    baseline_accuracy: float = 0.0  # always answering the training split's majority class
    per_class_recall: dict[str, float] = field(default_factory=dict)  # the served file


def describe_cnn(config: CnnConfig, parameters: int, classes: int) -> str:
    head = f"fc {config.hidden} → " if config.hidden else ""
    return (f"CNN: conv3x3-BN-ReLU-maxpool x{len(config.channels)} "
            f"{'/'.join(map(str, config.channels))} → {head}{classes}, "
            f"{parameters} parameters")


def training_data_description(result: BuildResult) -> str:
    sources = ", ".join(f"{count} {name}" for name, count in result.train.sources.items())
    text = f"{result.dataset.description}; training samples: {sources}"
    if result.fonts is not None:
        text += (f"; font digits from {', '.join(f.name for f in result.fonts)}; "
                 "all synthetic and augmented samples: rotation, shear, position, scale, "
                 "stroke width, polarity, contrast, shading, blur, noise, low resolution, JPEG")
    return text + "; every sample preprocessed by prepare_image"


def build_manifest(result: BuildResult, command: str = "") -> Manifest:
    """The unpublished manifest for the served file (the store fills version and sha256)."""
    config = result.config
    training = config.student_training
    extra: dict[str, float] = {
        "accuracy_retention": round(result.int8_accuracy / result.teacher_accuracy, 4)
        if result.teacher_accuracy else 0.0,
        "parameter_ratio": round(result.teacher_parameters / result.student_parameters, 1),
        "distilled_student_torch_accuracy": round(result.distilled_accuracy, 4),
        "student_fp32_bytes": float(result.student_fp32_bytes),
        "training_samples": float(len(result.train.y)),
        "build_seconds": result.seconds,
    }
    if result.rendered is not None:
        extra |= result.rendered.metrics()
    name = result.dataset.name
    classes = len(result.dataset.label_names)
    spec = result.spec
    how = ("Send PNG/JPEG/WebP/BMP/GIF; either polarity; the ink is found, cropped and "
           "centred before classification." if spec.preset == "digits" else
           f"Send PNG/JPEG/WebP/BMP/GIF; the centre square is kept, resized to "
           f"{spec.width}x{spec.height}, {'in colour' if spec.mode == 'RGB' else 'in grey'}.")
    return Manifest(
        name=name, task="image-classification", input=result.spec,
        output=OutputSpec(name=OUTPUT_NAME, kind="probabilities"),
        labels=result.dataset.label_names, opset=OPSET, input_name="input",
        quantization=Quantization(
            method="static-int8-qdq",
            reason="static QDQ: u8 activations, s8 per-channel weights, reduce_range (safe "
                   "on x86 CPUs without VNNI); logits and softmax kept fp32; graph saved at "
                   "ORT_ENABLE_EXTENDED (portable across x86_64, no NCHWc layout)",
            calibration=f"MinMax over {min(config.calibration_images, len(result.train.y))} "
                        f"preprocessed training images (seed {result.seed})"),
        metrics=Metrics(
            split=result.dataset.split, test_samples=len(result.dataset.test_labels),
            teacher_accuracy=round(result.teacher_accuracy, 4),
            student_accuracy=round(result.int8_accuracy, 4),
            hard_label_student_accuracy=round(result.hard_label_accuracy, 4),
            student_fp32_accuracy=round(result.fp32_accuracy, 4),
            student_int8_accuracy=round(result.int8_accuracy, 4),
            int8_fp32_agreement=round(result.agreement, 4),
            teacher_parameters=result.teacher_parameters,
            student_parameters=result.student_parameters,
            teacher_bytes=result.teacher_bytes, student_bytes=result.student_bytes,
            baseline_accuracy=round(result.baseline_accuracy, 4),
            per_class_recall=result.per_class_recall, extra=extra),
        lineage=Lineage(
            dataset=training_data_description(result),
            teacher=describe_cnn(config.teacher, result.teacher_parameters, classes)
            + f", {config.teacher_training.epochs} epochs, hard labels",
            student=describe_cnn(config.student, result.student_parameters, classes)
            + f", {training.epochs} epochs, distilled (Hinton KD)",
            distillation_temperature=training.temperature,
            distillation_weight=training.distill_weight,
            seed=result.seed, kit_version=kit_version(), created_at=utc_now(),
            command=command_line(command)),
        # For users: what it answers and what to send (scores: metrics; how: lineage).
        description=(f"{name}: {classes}-class image classifier, "
                     f"{spec.width}x{spec.height} {spec.mode}. {how}"),
    )


def result_rows(result: BuildResult) -> list[list[str]]:
    rows = [
        ["teacher (torch fp32)", str(result.teacher_parameters), str(result.teacher_bytes),
         f"{result.teacher_accuracy:.2%}"],
        ["student hard labels (torch)", str(result.student_parameters), "",
         f"{result.hard_label_accuracy:.2%}"],
        ["student distilled (torch)", str(result.student_parameters), "",
         f"{result.distilled_accuracy:.2%}"],
        ["student distilled onnx fp32", str(result.student_parameters),
         str(result.student_fp32_bytes), f"{result.fp32_accuracy:.2%}"],
        ["student distilled int8 (served)", str(result.student_parameters),
         str(result.student_bytes), f"{result.int8_accuracy:.2%}"],
        ["int8 vs fp32 agreement", "", "", f"{result.agreement:.2%}"],
    ]
    if result.rendered is not None:
        rows.append(["rendered digits (served)", "", "", f"{result.rendered.accuracy:.2%}"])
    rows.append(["build time", "", "", f"{result.seconds:.0f}s"])
    return rows
