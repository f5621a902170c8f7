"""The model manifest: everything a handler needs to serve a model, and nothing it must guess.

A manifest is a frozen, validated value. ``Manifest.from_dict(m.to_dict()) == m`` for every
valid manifest; ``from_dict`` rejects anything malformed with a ``ManifestError`` that names
the offending field. The store fills ``version``, ``sha256`` and ``bytes`` on publish.

This module holds the model's identity, task, output, metrics and lineage; the input specs
(``Feature``, ``TabularSpec``, ``ImageSpec``) live in ``model_store.specs`` and are
re-exported here, so ``from model_store.manifest import ImageSpec`` keeps working.
"""

from __future__ import annotations

import builtins
import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Literal, TypeAlias

from model_store.exceptions import ManifestError
from model_store.specs import (
    IMAGE_PRESETS,
    MISSING_CATEGORY,
    Feature,
    FeatureKind,
    ImageMode,
    ImagePreset,
    ImageSpec,
    InputSpec,
    InvertPolicy,
    ResizePolicy,
    TabularLayout,
    TabularSpec,
    input_spec_from_dict,
    validate_image,
    validate_tabular,
)
from model_store.validation import as_mapping, build, jsonable, require

__all__ = [
    "IMAGE_PRESETS", "MISSING_CATEGORY", "MODEL_FILE_PATTERN", "NAME_PATTERN",
    "OUTPUT_KINDS", "SCHEMA_VERSION", "SHA256_PATTERN", "TASKS", "VERSION_PATTERN",
    "Feature", "FeatureKind", "ImageMode", "ImagePreset", "ImageSpec", "InputSpec",
    "InvertPolicy", "JsonDict", "Lineage", "Manifest", "Metrics", "OutputKind", "OutputSpec",
    "Quantization", "QuantizationMethod", "ResizePolicy", "TabularLayout", "TabularSpec",
    "Task",
]

SCHEMA_VERSION = 1

Task = Literal["image-classification", "tabular-classification", "tabular-regression"]
TASKS: tuple[str, ...] = ("image-classification", "tabular-classification", "tabular-regression")
OutputKind = Literal["probabilities", "logits", "values"]
OUTPUT_KINDS: tuple[str, ...] = ("probabilities", "logits", "values")
QuantizationMethod = Literal["none", "static-int8-qdq", "dynamic-int8"]

# Checked with fullmatch; "\Z" too, because "$" also matches before a final newline
# ("digits\n"), in case a caller uses match.
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,62}\Z")
VERSION_PATTERN = re.compile(r"^[1-9][0-9]{0,8}\Z")
SHA256_PATTERN = re.compile(r"^[0-9a-f]{64}\Z")
MODEL_FILE_PATTERN = re.compile(r"^[A-Za-z0-9_.-]+\.(onnx|ort)\Z")

JsonDict: TypeAlias = dict[str, Any]


@dataclass(frozen=True)
class OutputSpec:
    name: str
    kind: OutputKind = "probabilities"


@dataclass(frozen=True)
class Quantization:
    """What was done to the weights, and why (or why not)."""

    method: QuantizationMethod = "none"
    reason: str = ""
    calibration: str | None = None


@dataclass(frozen=True)
class Metrics:
    """Held-out evaluation. ``student_accuracy`` is measured on the file the handler serves."""

    split: str = ""
    test_samples: int = 0
    teacher_accuracy: float | None = None
    student_accuracy: float | None = None
    hard_label_student_accuracy: float | None = None
    student_fp32_accuracy: float | None = None
    student_int8_accuracy: float | None = None
    int8_fp32_agreement: float | None = None
    teacher_parameters: int | None = None
    student_parameters: int | None = None
    teacher_bytes: int | None = None
    student_bytes: int | None = None
    # The trivial model's score on the same rows (majority class / training mean).
    baseline_accuracy: float | None = None
    # Recall of the served model per label, on the test split.
    per_class_recall: Mapping[str, float] = field(default_factory=dict)
    # Regression (tabular-regression): R² and mean absolute error on the test split.
    teacher_r2: float | None = None
    student_r2: float | None = None
    hard_label_student_r2: float | None = None
    baseline_r2: float | None = None
    teacher_mae: float | None = None
    student_mae: float | None = None
    hard_label_student_mae: float | None = None
    baseline_mae: float | None = None
    extra: Mapping[str, float] = field(default_factory=dict)

    @property
    def accuracy_retention(self) -> float | None:
        """Student accuracy as a fraction of the teacher's (the 99% bar)."""
        if not self.teacher_accuracy or self.student_accuracy is None:
            return None
        return self.student_accuracy / self.teacher_accuracy

    @property
    def r2_retention(self) -> float | None:
        """Student R² as a fraction of the teacher's (regression)."""
        if not self.teacher_r2 or self.teacher_r2 <= 0 or self.student_r2 is None:
            return None
        return self.student_r2 / self.teacher_r2


@dataclass(frozen=True)
class Lineage:
    dataset: str = ""
    teacher: str = ""
    student: str = ""
    distillation_temperature: float | None = None
    distillation_weight: float | None = None
    seed: int | None = None
    kit_version: str = ""
    created_at: str = ""
    command: str = ""


@dataclass(frozen=True)
class Manifest:
    name: str
    task: Task
    input: InputSpec
    output: OutputSpec
    labels: tuple[str, ...]
    version: str = ""
    file: str = "model.onnx"
    sha256: str = ""
    bytes: int = 0
    opset: int = 0
    input_name: str = "input"
    quantization: Quantization = field(default_factory=Quantization)
    metrics: Metrics = field(default_factory=Metrics)
    lineage: Lineage = field(default_factory=Lineage)
    description: str = ""
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        self._validate()

    def published(self, *, version: str, sha256: str, size: int) -> Manifest:
        """The same manifest as the store records it, with its identity filled in."""
        return replace(self, version=version, sha256=sha256, bytes=size)

    # -- validation --------------------------------------------------------------------
    def _validate(self) -> None:
        require(self.schema_version == SCHEMA_VERSION, "schema_version",
                f"unsupported {self.schema_version}, this kit reads {SCHEMA_VERSION}")
        require(bool(NAME_PATTERN.fullmatch(self.name)), "name",
                f"{self.name!r} must be lower-case letters, digits and '_' (max 63)")
        require(self.task in TASKS, "task", f"{self.task!r} is not one of {TASKS}")
        require(not self.version or bool(VERSION_PATTERN.fullmatch(self.version)), "version",
                f"{self.version!r} must be a positive integer")
        require(not self.sha256 or bool(SHA256_PATTERN.fullmatch(self.sha256)), "sha256",
                "must be 64 lower-case hex digits")
        require(bool(self.version) == bool(self.sha256), "version",
                "version and sha256 are set together, by the store")
        require(self.bytes >= 0 and (not self.sha256 or self.bytes > 0), "bytes",
                "must be positive once published")
        require(bool(MODEL_FILE_PATTERN.fullmatch(self.file)), "file",
                f"{self.file!r} must be a plain .onnx or .ort file name")
        require(self.output.kind in OUTPUT_KINDS, "output.kind", f"{self.output.kind!r}")
        require(bool(self.input_name) and bool(self.output.name), "input_name",
                "input and output tensor names are required")
        if self.task.endswith("classification"):
            require(len(self.labels) >= 2, "labels", "a classifier needs at least two labels")
            require(len(set(self.labels)) == len(self.labels), "labels", "must be unique")
            require(self.output.kind != "values", "output.kind",
                    "a classifier outputs probabilities or logits, not values")
        else:
            require(not self.labels, "labels", "a regression model has no labels")
            require(self.output.kind == "values", "output.kind",
                    "a regression model outputs values")
        if self.task.startswith("tabular"):
            require(isinstance(self.input, TabularSpec), "input",
                    "a tabular task needs a tabular input spec")
            validate_tabular(self.input)  # type: ignore[arg-type]
        else:
            require(isinstance(self.input, ImageSpec), "input",
                    "an image task needs an image input spec")
            validate_image(self.input)  # type: ignore[arg-type]

    # -- JSON round-trip ---------------------------------------------------------------
    def to_dict(self) -> JsonDict:
        data = asdict(self)
        data["labels"] = list(self.labels)
        return jsonable(data)  # type: ignore[no-any-return]

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True, allow_nan=False) + "\n"

    @classmethod
    def from_json(cls, text: str | builtins.bytes) -> Manifest:
        try:
            data = json.loads(text)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ManifestError(f"manifest is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise ManifestError("manifest must be a JSON object")
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Manifest:
        try:
            raw = dict(data)
            spec = input_spec_from_dict(raw.pop("input"))
            output = build(OutputSpec, as_mapping(raw.pop("output"), "output"), "output")
            quantization = build(Quantization, raw.pop("quantization", {}), "quantization")
            metrics = build(Metrics, raw.pop("metrics", {}), "metrics")
            lineage = build(Lineage, raw.pop("lineage", {}), "lineage")
            labels = tuple(str(label) for label in raw.pop("labels", ()))
        except KeyError as exc:
            raise ManifestError(f"missing field {exc.args[0]!r}") from exc
        unknown = set(raw) - {f.name for f in fields(cls)}
        if unknown:
            raise ManifestError(f"unknown fields {sorted(unknown)}")
        try:
            return cls(input=spec, output=output, quantization=quantization, metrics=metrics,
                       lineage=lineage, labels=labels, **raw)
        except TypeError as exc:
            raise ManifestError(f"manifest fields: {exc}") from exc
