"""Tabular instances (objects keyed by feature name, or lists in manifest order) → a batch."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from handlers.runtime.errors import UnprocessableInstance, UnsupportedMediaType
from model_store.manifest import TabularSpec

_FLOAT32_MAX = float(np.finfo(np.float32).max)


class TabularInputs:
    """Validates tabular instances against the manifest's ordered feature list."""

    accepts_raw_body = False

    def __init__(self, spec: TabularSpec, model_name: str) -> None:
        self.names = spec.feature_names
        self._known = frozenset(self.names)
        self._hint = f"GET /models/{model_name} lists the {len(self.names)} features in order"

    def from_instances(self, instances: list[Any]) -> np.ndarray:
        rows = [self.row(instance, f"instances[{i}]") for i, instance in enumerate(instances)]
        return np.asarray(rows, dtype=np.float32)

    def from_raw_body(self, body: bytes, media_type: str) -> np.ndarray:
        raise UnsupportedMediaType(
            f"this tabular model takes application/json, not {media_type!r}",
            code="unsupported_media_type")

    def row(self, instance: Any, where: str) -> list[float]:
        """One instance's feature values; errors name it by ``where`` (bulk rows use this)."""
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
            return [self._number(where, name, instance[name]) for name in self.names]
        if isinstance(instance, list):
            if len(instance) != len(self.names):
                raise UnprocessableInstance(
                    f"{where}: a list instance needs exactly {len(self.names)} numbers, "
                    f"got {len(instance)}; {self._hint}", code="wrong_length")
            return [self._number(where, n, v) for n, v in zip(self.names, instance, strict=True)]
        raise UnprocessableInstance(
            f"{where}: must be an object keyed by feature name or a list of numbers, "
            f"not {_json_type(instance)}", code="invalid_instance")

    @staticmethod
    def _number(where: str, name: str, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise UnprocessableInstance(
                f"{where}: feature {name!r} must be a number, not {_json_type(value)}",
                code="invalid_feature_value")
        number = float(value)
        if not math.isfinite(number) or abs(number) > _FLOAT32_MAX:
            raise UnprocessableInstance(
                f"{where}: feature {name!r} must be a finite number, got {value!r}",
                code="non_finite_value")
        return number


def _quote(names: list[str], limit: int = 5) -> str:
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", str: "a string", dict: "an object", list: "a list"}.get(
        type(value), type(value).__name__)
