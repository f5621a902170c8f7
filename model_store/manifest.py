"""The model manifest: everything a handler needs to serve a model, and nothing it must guess.

A manifest is a frozen, validated value. ``Manifest.from_dict(m.to_dict()) == m`` for every
valid manifest; ``from_dict`` rejects anything malformed with a ``ManifestError`` that names
the offending field. The store fills ``version``, ``sha256`` and ``bytes`` on publish.
"""

from __future__ import annotations

import builtins
import json
import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Literal, TypeAlias

from model_store.exceptions import ManifestError

SCHEMA_VERSION = 1

Task = Literal["image-classification", "tabular-classification", "tabular-regression"]
TASKS: tuple[str, ...] = ("image-classification", "tabular-classification", "tabular-regression")
OutputKind = Literal["probabilities", "logits", "values"]
OUTPUT_KINDS: tuple[str, ...] = ("probabilities", "logits", "values")
ImageMode = Literal["L", "RGB"]
InvertPolicy = Literal["never", "always", "auto"]
ResizePolicy = Literal["stretch", "fit-pad", "center-crop", "ink-box"]
# Named image preprocessing: "digits" (ink found, cropped and centred, either polarity),
# "photo" (colour kept, no inversion), "custom" (whatever the fields say).
ImagePreset = Literal["custom", "digits", "photo"]
IMAGE_PRESETS: tuple[str, ...] = ("custom", "digits", "photo")
FeatureKind = Literal["number", "category"]
# "matrix": one float32 input [N, features] (numbers only; NaN where a value is missing).
# "columns": one input per feature, named after it, [N, 1]: float32 numbers (NaN where
# missing) or strings (MISSING_CATEGORY where missing); the graph itself imputes and encodes.
TabularLayout = Literal["matrix", "columns"]
# What a missing categorical value becomes in a string tensor, in training and in serving.
MISSING_CATEGORY = ""
QuantizationMethod = Literal["none", "static-int8-qdq", "dynamic-int8"]

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
VERSION_PATTERN = re.compile(r"^[1-9][0-9]{0,8}$")
SHA256_PATTERN = re.compile(r"^[0-9a-f]{64}$")
MODEL_FILE_PATTERN = re.compile(r"^[A-Za-z0-9_.-]+\.(onnx|ort)$")

JsonDict: TypeAlias = dict[str, Any]


def _require(condition: bool, where: str, message: str) -> None:
    if not condition:
        raise ManifestError(f"{where}: {message}")


@dataclass(frozen=True)
class Feature:
    """One tabular input column, in the order the model expects it.

    A number (``min``/``max`` seen in training, for the card) or a category (one of
    ``categories``, sent as a string); ``allow_missing``: the client may send ``null``.
    """

    name: str
    dtype: Literal["float32", "string"] = "float32"
    min: float | None = None
    max: float | None = None
    kind: FeatureKind = "number"
    categories: tuple[str, ...] = ()
    allow_missing: bool = False


@dataclass(frozen=True)
class TabularSpec:
    features: tuple[Feature, ...]
    kind: Literal["tabular"] = "tabular"
    layout: TabularLayout = "matrix"

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.features)


@dataclass(frozen=True)
class ImageSpec:
    """How raw image bytes become the model's input tensor (shared by training and serving)."""

    height: int
    width: int
    mode: ImageMode = "L"
    # Per-channel normalisation after scaling pixels to [0, 1]: (x - mean) / std.
    mean: tuple[float, ...] = (0.0,)
    std: tuple[float, ...] = (1.0,)
    # The model was trained on light ink on a dark background; "auto" flips an image whose
    # border is brighter than its centre, so dark-on-light photos of paper work too.
    invert: InvertPolicy = "auto"
    resize: ResizePolicy = "ink-box"
    # Fraction of the canvas kept empty around the content for the "ink-box" policy.
    padding: float = 0.15
    layout: Literal["NCHW"] = "NCHW"
    kind: Literal["image"] = "image"
    preset: ImagePreset = "custom"

    @property
    def channels(self) -> int:
        return 1 if self.mode == "L" else 3


InputSpec: TypeAlias = TabularSpec | ImageSpec


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
        _require(self.schema_version == SCHEMA_VERSION, "schema_version",
                 f"unsupported {self.schema_version}, this kit reads {SCHEMA_VERSION}")
        _require(bool(NAME_PATTERN.match(self.name)), "name",
                 f"{self.name!r} must be lower-case letters, digits and '_' (max 63)")
        _require(self.task in TASKS, "task", f"{self.task!r} is not one of {TASKS}")
        _require(not self.version or bool(VERSION_PATTERN.match(self.version)), "version",
                 f"{self.version!r} must be a positive integer")
        _require(not self.sha256 or bool(SHA256_PATTERN.match(self.sha256)), "sha256",
                 "must be 64 lower-case hex digits")
        _require(bool(self.version) == bool(self.sha256), "version",
                 "version and sha256 are set together, by the store")
        _require(self.bytes >= 0 and (not self.sha256 or self.bytes > 0), "bytes",
                 "must be positive once published")
        _require(bool(MODEL_FILE_PATTERN.match(self.file)), "file",
                 f"{self.file!r} must be a plain .onnx or .ort file name")
        _require(self.output.kind in OUTPUT_KINDS, "output.kind", f"{self.output.kind!r}")
        _require(bool(self.input_name) and bool(self.output.name), "input_name",
                 "input and output tensor names are required")
        if self.task.endswith("classification"):
            _require(len(self.labels) >= 2, "labels", "a classifier needs at least two labels")
            _require(len(set(self.labels)) == len(self.labels), "labels", "must be unique")
            _require(self.output.kind != "values", "output.kind",
                     "a classifier outputs probabilities or logits, not values")
        else:
            _require(not self.labels, "labels", "a regression model has no labels")
            _require(self.output.kind == "values", "output.kind",
                     "a regression model outputs values")
        if self.task.startswith("tabular"):
            _require(isinstance(self.input, TabularSpec), "input",
                     "a tabular task needs a tabular input spec")
            self._validate_tabular(self.input)  # type: ignore[arg-type]
        else:
            _require(isinstance(self.input, ImageSpec), "input",
                     "an image task needs an image input spec")
            self._validate_image(self.input)  # type: ignore[arg-type]

    @staticmethod
    def _validate_tabular(spec: TabularSpec) -> None:
        names = spec.feature_names
        _require(len(names) > 0, "input.features", "at least one feature is required")
        _require(len(set(names)) == len(names), "input.features", "feature names must be unique")
        _require(spec.layout in ("matrix", "columns"), "input.layout",
                 f"{spec.layout!r} must be matrix or columns")
        for feature in spec.features:
            where = f"input.features[{feature.name}]"
            _require(bool(feature.name.strip()), "input.features", "empty feature name")
            _require(feature.kind in ("number", "category"), where,
                     f"kind {feature.kind!r} must be number or category")
            low, high = feature.min, feature.max
            if low is not None and high is not None:
                _require(low <= high, where, "min > max")
            if feature.kind == "number":
                _require(feature.dtype == "float32" and not feature.categories, where,
                         "a number is float32 and has no categories")
                continue
            _require(feature.dtype == "string" and low is None and high is None, where,
                     "a category is a string and has no min/max")
            _require(len(feature.categories) >= 1, where, "a category lists its categories")
            _require(len(set(feature.categories)) == len(feature.categories), where,
                     "categories must be unique")
            _require(MISSING_CATEGORY not in feature.categories, where,
                     f"{MISSING_CATEGORY!r} stands for a missing value, not a category")
            _require(spec.layout == "columns", where,
                     "categories need the columns layout (one string input per feature)")

    @staticmethod
    def _validate_image(spec: ImageSpec) -> None:
        _require(4 <= spec.height <= 1024 and 4 <= spec.width <= 1024, "input.size",
                 "height and width must be within 4..1024")
        _require(spec.mode in ("L", "RGB"), "input.mode", f"{spec.mode!r} must be L or RGB")
        _require(len(spec.mean) == spec.channels and len(spec.std) == spec.channels,
                 "input.mean", "mean and std need one value per channel")
        _require(all(s > 0 for s in spec.std), "input.std", "must be positive")
        _require(spec.invert in ("never", "always", "auto"), "input.invert", spec.invert)
        _require(spec.resize in ("stretch", "fit-pad", "center-crop", "ink-box"),
                 "input.resize", spec.resize)
        _require(0.0 <= spec.padding < 0.5, "input.padding", "must be within [0, 0.5)")
        _require(spec.preset in IMAGE_PRESETS, "input.preset",
                 f"{spec.preset!r} must be one of {IMAGE_PRESETS}")
        if spec.preset == "digits":
            _require(spec.mode == "L" and spec.resize == "ink-box" and spec.invert == "auto",
                     "input.preset", "digits means L, ink-box and auto-invert")
        elif spec.preset == "photo":
            _require(spec.resize != "ink-box" and spec.invert == "never", "input.preset",
                     "photo means no ink-box and no inversion")

    # -- JSON round-trip ---------------------------------------------------------------
    def to_dict(self) -> JsonDict:
        data = asdict(self)
        data["labels"] = list(self.labels)
        return _jsonable(data)  # type: ignore[no-any-return]

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
            raw_input = _as_mapping(raw.pop("input"), "input")
            spec: InputSpec
            if raw_input.get("kind") == "image":
                spec = _build(ImageSpec, _with_preset(raw_input), "input",
                              tuples=("mean", "std"))
            elif raw_input.get("kind") == "tabular":
                features = tuple(
                    _build(Feature, _as_mapping(f, "input.features"), "input.features",
                           tuples=("categories",))
                    for f in raw_input.get("features", ())
                )
                spec = TabularSpec(features=features,
                                   layout=raw_input.get("layout", "matrix"))
            else:
                raise ManifestError(f"input.kind: {raw_input.get('kind')!r} is not image/tabular")
            output = _build(OutputSpec, _as_mapping(raw.pop("output"), "output"), "output")
            quantization = _build(Quantization, raw.pop("quantization", {}), "quantization")
            metrics = _build(Metrics, raw.pop("metrics", {}), "metrics")
            lineage = _build(Lineage, raw.pop("lineage", {}), "lineage")
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


def _with_preset(raw: Mapping[str, Any]) -> Mapping[str, Any]:
    """Manifests written before presets existed: name the preset their fields match."""
    if "preset" in raw:
        return raw
    digits = (raw.get("mode") == "L" and raw.get("resize") == "ink-box"
              and raw.get("invert") == "auto")
    return {**raw, "preset": "digits" if digits else "custom"}


def _as_mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ManifestError(f"{where}: must be an object")
    return value


def _build(cls: type[Any], data: Mapping[str, Any], where: str,
           tuples: tuple[str, ...] = ()) -> Any:
    data = _as_mapping(data, where)
    known = {f.name for f in fields(cls)}
    unknown = set(data) - known
    if unknown:
        raise ManifestError(f"{where}: unknown fields {sorted(unknown)}")
    values = {k: (tuple(v) if k in tuples else v) for k, v in data.items()}
    try:
        return cls(**values)
    except TypeError as exc:
        raise ManifestError(f"{where}: {exc}") from exc


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        raise ManifestError("manifest values must be finite numbers")
    return value
