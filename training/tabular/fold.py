"""The standardisation folded into the student's first layer, so the graph does not run it.

The preprocessing ends the numbers with a per-feature affine step, ``(x - mean) / std``
(StandardScaler), whose output (alone, or concatenated with the one-hot categories, which
the step leaves alone) is the input of the student's first linear layer. So
``((x - m) / s) @ W + b = x @ (W / s) + (b - (m / s) @ W)``: the served graph keeps only
what is not affine (median imputation, one-hot encoding) and the first layer carries the
step, computed in float64 and rounded once. For a table of numbers only, the graph is the
MLP alone, as breast_cancer v1 was (its old build folded the same way).

Imputation stays in the graph, before the folded layer, whenever a number is missing
anywhere in the table (training or test rows); a table with no missing number gets no
imputer (the handler refuses ``null`` for every feature the manifest does not mark
``allow_missing``, and marks one only when training rows had it missing).

The folded graph is compared with the unfolded one on real rows: when float32 rounding
makes them differ by more than ``TabularConfig.fold_tolerance``, or any row's class changes
(a feature whose mean is many stds from zero cancels digits in the folded bias; though the
unfolded graph's own float32 offsets then already lose about as much), the unfolded graph is
served instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.pipeline import Pipeline

from training.tabular.graph import Feeds, combine, open_session, run, student_onnx, write_graph
from training.tabular.preprocess import (
    MATRIX_INPUT,
    Preprocessor,
    columns_transformer,
    imputer,
    model_frame,
    transformer_onnx,
)
from training.tabular.student import ServedStudent
from training.tabular.table import Table

Float64Array = npt.NDArray[np.float64]
# Builds the served student; ``input_affine=(a, c)`` folds ``x * a + c`` into it.
StudentFactory = Callable[..., ServedStudent]


def needs_imputation(table: Table) -> bool:
    """True when some number is missing anywhere in the table (training or test rows)."""
    return bool(table.numbers) and bool(table.frame[list(table.numbers)].isna().any().any())


@dataclass(frozen=True)
class AffineSplit:
    """``pre.transform(x) == inner(x) * scale + offset``, column by column.

    ``inner`` is the fitted transformer the graph keeps (None: the raw matrix itself).
    """

    inner: Any | None
    scale: Float64Array
    offset: Float64Array
    imputes: bool

    def inner_features(self, frame: Any) -> Float64Array:
        if self.inner is None:
            return np.asarray(frame, dtype=np.float64)
        return np.asarray(self.inner.transform(frame), dtype=np.float64)


def split_affine(pre: Preprocessor, x_train: pd.DataFrame, *, imputes: bool) -> AffineSplit:
    """Take the standardisation out of ``pre``; checked to reproduce it on ``x_train``."""
    table = pre.table
    scaler = _scaler(pre)
    numbers = len(table.numbers)
    width = pre.width
    scale, offset = np.ones(width), np.zeros(width)
    if scaler is not None:  # the numbers come first (see columns_transformer)
        scale[:numbers] = 1.0 / scaler.scale_
        offset[:numbers] = -scaler.mean_ / scaler.scale_
    frame = model_frame(x_train, pre.layout, table)
    inner: Any | None
    if pre.layout == "matrix":
        inner = Pipeline([("impute", imputer())]).fit(frame) if imputes else None
    else:
        inner = columns_transformer(
            table, Pipeline([("impute", imputer())]) if imputes else "passthrough").fit(frame)
    split = AffineSplit(inner=inner, scale=scale, offset=offset, imputes=imputes)
    expected = np.asarray(pre.transformer.transform(frame), dtype=np.float64)
    rebuilt = split.inner_features(frame) * scale + offset
    if rebuilt.shape != expected.shape or not np.allclose(rebuilt, expected, rtol=1e-9,
                                                          atol=1e-9):
        raise RuntimeError("the preprocessing without its standardisation, standardised "
                           "again, does not reproduce the fitted preprocessing")
    return split


def _scaler(pre: Preprocessor) -> Any | None:
    if pre.layout == "matrix":
        return pre.transformer.named_steps["scale"]
    numbers = pre.transformer.named_transformers_.get("numbers")
    return None if numbers is None else numbers.named_steps["scale"]


@dataclass(frozen=True)
class FoldCheck:
    """The folded graph against the unfolded one, through onnxruntime on the same rows."""

    rows: int
    max_gap: float            # largest |folded - unfolded| output
    label_changes: int        # rows whose class differs (0 for regression)
    tolerance: float
    folded_bytes: int
    unfolded_bytes: int

    @property
    def ok(self) -> bool:
        return self.max_gap <= self.tolerance and self.label_changes == 0

    def summary(self) -> str:
        labels = (f"same class on all {self.rows} rows" if self.label_changes == 0
                  else f"class changed on {self.label_changes} of {self.rows} rows")
        return (f"standardisation folded into the first layer: {self.folded_bytes} vs "
                f"{self.unfolded_bytes} bytes; max gap to the unfolded graph "
                f"{self.max_gap:.1e} (tolerance {self.tolerance:.0e}), {labels}")


def compare_graphs(folded: Path, unfolded: Path, feeds: Feeds, *, classifier: bool,
                   tolerance: float) -> FoldCheck:
    a, b = run(open_session(folded), feeds), run(open_session(unfolded), feeds)
    # NaN where the other has a number (a missing value no longer imputed) is no match.
    gap = (float("inf") if (np.isnan(a) != np.isnan(b)).any()
           else float(np.nanmax(np.abs(a - b), initial=0.0)))
    changes = int((a.argmax(axis=1) != b.argmax(axis=1)).sum()) if classifier else 0
    return FoldCheck(rows=len(a), max_gap=gap, label_changes=changes, tolerance=tolerance,
                     folded_bytes=folded.stat().st_size,
                     unfolded_bytes=unfolded.stat().st_size)


def folded_graph(split: AffineSplit, student: StudentFactory, pre: Preprocessor, path: Path,
                 *, opset: int, ml_opset: int) -> Path:
    """The served graph with the standardisation folded: [imputer / one-hot →] the MLP."""
    module = student(input_affine=(split.scale, split.offset))
    if split.inner is None:  # nothing left before the MLP: it takes the raw matrix
        return write_graph(student_onnx(module, width=pre.width, opset=opset,
                                        input_name=MATRIX_INPUT), path)
    front = transformer_onnx(split.inner, pre.layout, pre.table, opset=opset,
                             ml_opset=ml_opset)
    return combine(front, student_onnx(module, width=pre.width, opset=opset), path)


def describe_preprocessing(split: AffineSplit | None, table: Table, *, folded: bool) -> str:
    """What the served graph does before the MLP, for the card's lineage."""
    numbers = []
    if split is None or split.imputes:
        numbers.append("median imputation")
    numbers.append("standardisation folded into the first layer's weights and bias"
                   if folded else "standardisation")
    parts = [f"numbers: {' and '.join(numbers)}"] if table.numbers else []
    if table.categories:
        parts.append("categories: one-hot, missing as its own category")
    return "; ".join(parts)
