"""Tabular instances (objects keyed by feature name, or lists in manifest order) → a batch.

Clients send the raw row as it appears in the training CSV: numbers for numeric features,
strings for categorical ones, ``null`` where the model was trained with missing values. No
encoding happens here: imputation, one-hot encoding and scaling are inside the ONNX graph,
so serving cannot drift from training. This module only checks each value against the
manifest and lays the row out as the graph's inputs (one matrix, or one tensor per feature).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from lambda_kit.errors import UnprocessableInstance, UnsupportedMediaType
from model_store.manifest import MISSING_CATEGORY, Feature, TabularSpec

_FLOAT32_MAX = float(np.finfo(np.float32).max)
_NUMBER_TYPES = frozenset((int, float))
_SHOWN_CATEGORIES = 10
_SHOWN_DIGITS = 20

Value = float | str


class TabularInputs:
    """Validates tabular instances against the manifest's ordered feature list."""

    accepts_raw_body = False

    def __init__(self, spec: TabularSpec, model_name: str, input_name: str = "input") -> None:
        self.features = spec.features
        self.names = spec.feature_names
        self.layout = spec.layout
        self.input_name = input_name
        self._known = frozenset(self.names)
        self._categories = {f.name: frozenset(f.categories) for f in spec.features}
        self._hint = f"GET /models/{model_name} lists the {len(self.names)} features in order"
        # The common case checked in bulk: one matrix of plain numbers (see _plain_numbers).
        self._numbers_only = self.layout == "matrix" and all(
            f.kind == "number" for f in spec.features)

    def from_instances(self, instances: list[Any]) -> np.ndarray | dict[str, np.ndarray]:
        if self._numbers_only:
            batch = self._plain_numbers(instances)
            if batch is not None:
                return batch
        return self.batch_of([self.row(instance, f"instances[{i}]")
                              for i, instance in enumerate(instances)])

    def _plain_numbers(self, instances: list[Any]) -> np.ndarray | None:
        """The batch when every instance is complete and every value a finite JSON number
        within float32's range, checked a row (not a value) at a time; None sends anything
        else through ``row``, which finds and names the problem."""
        names, width = self.names, len(self.names)
        rows = []
        for instance in instances:
            if type(instance) is dict and len(instance) == width:
                try:
                    values = [instance[name] for name in names]
                except KeyError:
                    return None
            elif type(instance) is list and len(instance) == width:
                values = instance
            else:
                return None
            if not _NUMBER_TYPES.issuperset(map(type, values)):  # no bool, None, str
                return None
            rows.append(values)
        try:
            matrix = np.array(rows, dtype=np.float64)
        except (OverflowError, ValueError):  # an integer beyond float64
            return None
        if not np.isfinite(matrix).all() or np.abs(matrix).max(initial=0.0) > _FLOAT32_MAX:
            return None
        return matrix.astype(np.float32)

    def batch_of(self, rows: list[list[Value]]) -> np.ndarray | dict[str, np.ndarray]:
        """Checked rows (from ``row``) → the graph's inputs: one matrix, or one per feature."""
        if self.layout == "matrix":
            return np.asarray(rows, dtype=np.float32)
        batch: dict[str, np.ndarray] = {}
        for column, feature in enumerate(self.features):
            values = [row[column] for row in rows]
            dtype = object if feature.kind == "category" else np.float32
            batch[feature.name] = np.asarray(values, dtype=dtype).reshape(len(rows), 1)
        return batch

    def from_raw_body(self, body: bytes, media_type: str) -> np.ndarray:
        raise UnsupportedMediaType(
            f"this tabular model takes application/json, not {media_type!r}",
            code="unsupported_media_type")

    def row(self, instance: Any, where: str) -> list[Value]:
        """One instance's checked values; errors name it by ``where`` (bulk rows use this)."""
        if isinstance(instance, dict):
            missing = [n for n in self.names if n not in instance]
            extra = sorted(k for k in instance if k not in self._known)
            if missing:
                raise UnprocessableInstance(
                    f"{where}: missing feature(s) {_quote(missing)}; {self._hint}",
                    code="missing_feature")
            if extra:
                raise UnprocessableInstance(
                    f"{where}: unknown feature(s) {_quote(extra)}; {self._hint}",
                    code="unknown_feature")
            return [self._value(where, f, instance[f.name]) for f in self.features]
        if isinstance(instance, list):
            if len(instance) != len(self.names):
                raise UnprocessableInstance(
                    f"{where}: a list instance needs exactly {len(self.names)} values, "
                    f"got {len(instance)}; {self._hint}", code="wrong_length")
            return [self._value(where, f, v) for f, v in zip(self.features, instance,
                                                             strict=True)]
        raise UnprocessableInstance(
            f"{where}: must be an object keyed by feature name or a list of values, "
            f"not {_json_type(instance)}", code="invalid_instance")

    def _value(self, where: str, feature: Feature, value: Any) -> Value:
        if value is None:
            if not feature.allow_missing:
                raise UnprocessableInstance(
                    f"{where}: feature {feature.name!r} is missing (null), but this model was not "
                    f"trained with missing values for it; send a "
                    f"{'number' if feature.kind == 'number' else 'string'}",
                    code="invalid_feature_value")
            return math.nan if feature.kind == "number" else MISSING_CATEGORY
        if feature.kind == "category":
            return self._category(where, feature, value)
        return self._number(where, feature.name, value)

    def _category(self, where: str, feature: Feature, value: Any) -> str:
        if not isinstance(value, str):
            raise UnprocessableInstance(
                f"{where}: feature {feature.name!r} is a category: send one of its values "
                f"as a string, not {_json_type(value)}", code="invalid_feature_value")
        if value not in self._categories[feature.name]:
            raise UnprocessableInstance(
                f"{where}: feature {feature.name!r} has no category {value[:80]!r}; known: "
                f"{_quote(list(feature.categories), _SHOWN_CATEGORIES)}",
                code="unknown_category")
        return value

    @staticmethod
    def _number(where: str, name: str, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise UnprocessableInstance(
                f"{where}: feature {name!r} must be a number, not {_json_type(value)}",
                code="invalid_feature_value")
        try:
            number = float(value)
        except OverflowError:  # an int beyond float's range (2 and 308 zeros)
            number = math.inf
        if not math.isfinite(number) or abs(number) > _FLOAT32_MAX:
            raise UnprocessableInstance(
                f"{where}: feature {name!r} must be a finite number within ±{_FLOAT32_MAX:.4g}"
                f" (float32), got {_shown_number(value)}", code="non_finite_value")
        return number


def _quote(names: list[str], limit: int = 5) -> str:
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _shown_number(value: int | float) -> str:
    """A number as the client wrote it, but a 300-digit integer as its size only."""
    if isinstance(value, int) and abs(value) >= 10**_SHOWN_DIGITS:
        # The length from its bits: str() of an int past 4,300 digits raises ValueError.
        digits = int(abs(value).bit_length() * 0.30103) + 1
        return f"{'a negative' if value < 0 else 'an'} integer of about {digits} digits"
    if isinstance(value, float) and math.isinf(value):  # Infinity, 1e400, 2 and 308 zeros
        return f"{'-' if value < 0 else ''}Infinity or a number beyond float's range"
    return repr(value)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", str: "a string", dict: "an object", list: "a list"}.get(
        type(value), type(value).__name__)
