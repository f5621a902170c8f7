"""Scores, trivial baselines and the quality gate, shared by tabular, image and import jobs.

A model is published only when it is *clearly* better than the trivial baseline (the
majority class; the training mean) and, when it is a distilled student, keeps at least
``min_retention`` of its teacher's score. "Clearly": for accuracy, by two binomial standard
errors of the baseline on the test rows (and 2 points at least), so a lucky split of random
labels does not pass; for regression, a mean absolute error 10% below the baseline's and
an R² of at least 0.05.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from training.errors import QualityGateError

FloatArray = npt.NDArray[np.floating]
LabelArray = npt.NDArray[np.int64]

MIN_ACCURACY_MARGIN = 0.02
MIN_MAE_IMPROVEMENT = 0.10
MIN_R2 = 0.05


def accuracy(scores: FloatArray, y: LabelArray) -> float:
    return float((np.asarray(scores).argmax(axis=1) == y).mean())


def majority_baseline(y_train: LabelArray, y_test: LabelArray) -> float:
    """Accuracy of always answering the training split's most common class."""
    majority = int(np.bincount(y_train).argmax())
    return float((y_test == majority).mean())


def per_class_recall(predicted: LabelArray, y: LabelArray,
                     labels: tuple[str, ...]) -> dict[str, float]:
    """Share of each label's test rows predicted as that label (labels absent from the test
    split are left out rather than reported as 0)."""
    recall = {}
    for index, label in enumerate(labels):
        rows = y == index
        if rows.any():
            recall[label] = round(float((predicted[rows] == index).mean()), 4)
    return recall


def confusion(predicted: LabelArray, y: LabelArray, classes: int) -> npt.NDArray[np.int64]:
    """Rows: true label; columns: predicted label."""
    matrix = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(matrix, (y, predicted), 1)
    return matrix


def r2_score(predicted: FloatArray, y: FloatArray) -> float:
    predicted, y = np.asarray(predicted, np.float64).ravel(), np.asarray(y, np.float64).ravel()
    total = float(((y - y.mean()) ** 2).sum())
    return 1.0 - float(((y - predicted) ** 2).sum()) / total if total > 0 else 0.0


def mean_absolute_error(predicted: FloatArray, y: FloatArray) -> float:
    return float(np.abs(np.asarray(predicted, np.float64).ravel()
                        - np.asarray(y, np.float64).ravel()).mean())


@dataclass(frozen=True)
class RegressionScores:
    r2: float
    mae: float

    @classmethod
    def of(cls, predicted: FloatArray, y: FloatArray) -> RegressionScores:
        return cls(r2=r2_score(predicted, y), mae=mean_absolute_error(predicted, y))


def mean_baseline(y_train: FloatArray, y_test: FloatArray) -> RegressionScores:
    """Always answering the training mean."""
    return RegressionScores.of(np.full(len(y_test), float(np.mean(y_train))), y_test)


@dataclass(frozen=True)
class GateInput:
    """What the gate judges: the served model's score, the baseline's, and the teacher's."""

    task: str                        # "classification" or "regression"
    served: float                    # accuracy or R² of the file that would be published
    baseline: float                  # majority accuracy, or the mean's R²
    test_rows: int
    teacher: float | None = None     # None: nothing was distilled (an import)
    served_mae: float | None = None  # regression only
    baseline_mae: float | None = None
    min_retention: float = 0.97

    @property
    def retention(self) -> float | None:
        if self.teacher is None or self.teacher <= 0:
            return None
        return self.served / self.teacher

    def required_accuracy(self) -> float:
        se = math.sqrt(max(self.baseline * (1 - self.baseline), 1e-12) / max(self.test_rows, 1))
        return min(1.0, self.baseline + max(MIN_ACCURACY_MARGIN, 2 * se))


def gate_problems(gate: GateInput) -> list[str]:
    """Why ``gate`` fails (empty when it passes), with the numbers."""
    problems = []
    if gate.task == "classification":
        needed = gate.required_accuracy()
        if gate.served < needed:
            problems.append(
                f"test accuracy {gate.served:.4f} is not clearly better than always answering "
                f"the majority class ({gate.baseline:.4f}); on {gate.test_rows} test rows it "
                f"needs at least {needed:.4f}")
    else:
        mae, base_mae = gate.served_mae, gate.baseline_mae
        if mae is not None and base_mae is not None and mae > (1 - MIN_MAE_IMPROVEMENT) * base_mae:
            problems.append(
                f"mean absolute error {mae:.4g} is not clearly below the training mean's "
                f"({base_mae:.4g}); it must be at least {MIN_MAE_IMPROVEMENT:.0%} lower")
        if gate.served < MIN_R2:
            problems.append(f"R² {gate.served:.4f} is below {MIN_R2} (the training mean "
                            f"scores {gate.baseline:.4f})")
    retention = gate.retention
    if retention is not None and retention < gate.min_retention:
        what = "accuracy" if gate.task == "classification" else "R²"
        problems.append(
            f"the student keeps {retention:.2%} of the teacher's test {what} "
            f"({gate.served:.4f} vs {gate.teacher:.4f}); the bar is {gate.min_retention:.0%}")
    return problems


def enforce_gate(name: str, gate: GateInput, advice: str) -> None:
    """Raise ``QualityGateError`` (nothing gets published) when the gate fails."""
    problems = gate_problems(gate)
    if problems:
        raise QualityGateError(f"{name}: not published: " + "; ".join(problems)
                               + f". What to try: {advice}")
