"""A file scored against the known answer in one of its columns (``--target``, or
``FEATHERSERVE_BATCH_TARGET`` on a stage): accuracy and per-class recall for a classifier,
R² and MAE for a regressor.

Accumulated a row at a time (nothing grows with the file but a count per class), and
mergeable, so several files scored into one output get one score. A row counts when it has
both a prediction and a target; the others are counted apart (no target, a target that is
not a number for a regressor, a row error), and the document says how many of each.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from model_store.manifest import Manifest

_SHOWN = 10


def is_missing(value: Any) -> bool:
    """An empty cell, JSON null, or a key the line lacks: the row has no known answer."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    return isinstance(value, float) and math.isnan(value)


@dataclass
class _Counts:
    scored: int = 0
    missing_target: int = 0
    row_errors: int = 0  # rows with a target whose prediction failed (their error line says why)

    def merge(self, other: _Counts) -> None:
        self.scored += other.scored
        self.missing_target += other.missing_target
        self.row_errors += other.row_errors

    def document(self) -> dict[str, Any]:
        return {"rows": self.scored, "missing_target": self.missing_target,
                "row_errors": self.row_errors}


@dataclass
class ClassificationScore:
    target: str
    labels: tuple[str, ...]
    counts: _Counts = field(default_factory=_Counts)
    support: Counter[str] = field(default_factory=Counter)
    correct: Counter[str] = field(default_factory=Counter)

    def add(self, prediction: dict[str, Any] | None, truth: Any) -> None:
        if is_missing(truth):
            self.counts.missing_target += 1
            return
        if prediction is None:
            self.counts.row_errors += 1
            return
        label = as_label(truth, self.labels)
        self.counts.scored += 1
        self.support[label] += 1
        if prediction["label"] == label:
            self.correct[label] += 1

    def merge(self, other: ClassificationScore) -> None:
        self.counts.merge(other.counts)
        self.support.update(other.support)
        self.correct.update(other.correct)

    def document(self) -> dict[str, Any]:
        scored = self.counts.scored
        known = [label for label in self.labels if self.support[label]]
        unknown = sorted(label for label in self.support if label not in self.labels)
        per_class = {label: {"support": self.support[label], "correct": self.correct[label],
                             "recall": self.correct[label] / self.support[label]}
                     for label in known + unknown}
        return {"target": self.target, "task": "classification", **self.counts.document(),
                "accuracy": sum(self.correct.values()) / scored if scored else None,
                "per_class": per_class,
                # A typo or another spelling ("Setosa", "1.0"): never counted as right.
                "labels_not_in_model": unknown[:_SHOWN]}

    def line(self) -> str:
        accuracy = self.document()["accuracy"]
        shown = "n/a" if accuracy is None else f"{accuracy:.4f}"
        return f"accuracy {shown}{_rows_said(self.counts)}"


@dataclass
class RegressionScore:
    target: str
    counts: _Counts = field(default_factory=_Counts)
    invalid_target: int = 0  # present but not a number
    mean: float = 0.0  # of the targets (Welford: stable for any scale)
    m2: float = 0.0
    squared_error: float = 0.0
    absolute_error: float = 0.0

    def add(self, prediction: dict[str, Any] | None, truth: Any) -> None:
        if is_missing(truth):
            self.counts.missing_target += 1
            return
        value = as_number(truth)
        if value is None:
            self.invalid_target += 1
            return
        if prediction is None:
            self.counts.row_errors += 1
            return
        self.counts.scored += 1
        delta = value - self.mean
        self.mean += delta / self.counts.scored
        self.m2 += delta * (value - self.mean)
        error = prediction["value"] - value
        self.squared_error += error * error
        self.absolute_error += abs(error)

    def merge(self, other: RegressionScore) -> None:
        n_a, n_b = self.counts.scored, other.counts.scored
        if n_b:
            total = n_a + n_b
            delta = other.mean - self.mean
            self.mean += delta * n_b / total
            self.m2 += other.m2 + delta * delta * n_a * n_b / total
        self.counts.merge(other.counts)
        self.invalid_target += other.invalid_target
        self.squared_error += other.squared_error
        self.absolute_error += other.absolute_error

    def document(self) -> dict[str, Any]:
        n = self.counts.scored
        # R² is undefined for fewer than two targets or targets that are all the same.
        r2 = 1 - self.squared_error / self.m2 if n >= 2 and self.m2 > 0 else None
        return {"target": self.target, "task": "regression", **self.counts.document(),
                "invalid_target": self.invalid_target, "r2": r2,
                "mae": self.absolute_error / n if n else None}

    def line(self) -> str:
        document = self.document()
        r2, mae = document["r2"], document["mae"]
        shown = (f"R² {'n/a' if r2 is None else f'{r2:.4f}'}, "
                 f"MAE {'n/a' if mae is None else f'{mae:.6g}'}")
        extra = f", {self.invalid_target:,} not a number" if self.invalid_target else ""
        return shown + _rows_said(self.counts, extra)


Score = ClassificationScore | RegressionScore


def score_for(manifest: Manifest, target: str) -> Score:
    if manifest.task == "tabular-regression":
        return RegressionScore(target)
    return ClassificationScore(target, tuple(manifest.labels))


def merged(scores: list[Score]) -> Score | None:
    """One score for several files against the same target (None when there are none)."""
    if not scores:
        return None
    total = type(scores[0])(*_fresh_args(scores[0]))
    for score in scores:
        total.merge(score)  # type: ignore[arg-type]
    return total


def _fresh_args(score: Score) -> tuple[Any, ...]:
    if isinstance(score, ClassificationScore):
        return (score.target, score.labels)
    return (score.target,)


def as_label(value: Any, labels: tuple[str, ...]) -> str:
    """The target as a label: text as written (trimmed); a number as the label it spells
    (1, 1.0 and "1.0" are the label "1"); true/false as JSON writes them."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str):
        text = value.strip()
    else:
        text = str(value)
    if text in labels:
        return text
    number = as_number(value)
    if number is not None and number.is_integer() and str(int(number)) in labels:
        return str(int(number))
    return text


def as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _rows_said(counts: _Counts, extra: str = "") -> str:
    left_out = ([f"{counts.missing_target:,} without a target"] if counts.missing_target
                else []) + ([f"{counts.row_errors:,} with a row error"] if counts.row_errors
                            else []) + ([extra.removeprefix(", ")] if extra else [])
    said = f" on {counts.scored:,} rows"
    return said + (f" (not scored: {', '.join(left_out)})" if left_out else "")
