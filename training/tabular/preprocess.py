"""The preprocessing every tabular model carries inside its ONNX graph.

Numbers: missing → the training median (``SimpleImputer``), then standardised with the
training mean and std. Categories: one-hot over the categories seen in training; a missing
value is the empty string (``MISSING_CATEGORY``), its own category when training had any,
and an unseen value encodes to all zeros. Fitted with scikit-learn, converted by skl2onnx,
so the graph computes exactly what training computed (checked to 1e-5 before export).

Layout: a table of numbers only keeps one float32 matrix input ("input", NaN where missing);
a table with categories gets one input per feature, named after the column (skl2onnx names
inputs after sanitised column names; ``rename_inputs`` gives them back their real names).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from model_store.manifest import MISSING_CATEGORY, Feature, TabularLayout
from training.tabular.table import Table

MATRIX_INPUT = "input"
FEATURES_OUTPUT = "features"


@dataclass(frozen=True)
class Preprocessor:
    """A fitted transformer, the input layout it is exported with, and the table it fits."""

    transformer: Any  # Pipeline (matrix) or ColumnTransformer (columns)
    layout: TabularLayout
    table: Table

    def transform(self, frame: pd.DataFrame) -> npt.NDArray[np.float32]:
        return np.asarray(self.transformer.transform(model_frame(frame, self.layout,
                                                                 self.table)),
                          dtype=np.float32)

    @property
    def width(self) -> int:
        return int(self.transformer.transform(
            model_frame(self.table.frame.head(1), self.layout, self.table)).shape[1])


def model_frame(frame: pd.DataFrame, layout: TabularLayout, table: Table) -> Any:
    """Raw rows → what the transformer (and the ONNX graph) takes: categories as strings
    with missing → MISSING_CATEGORY, numbers as float (NaN where missing)."""
    if layout == "matrix":
        return frame[list(table.numbers)].to_numpy(dtype=np.float64)
    out = frame.copy()
    for column in table.categories:
        out[column] = out[column].map(
            lambda v: v if isinstance(v, str) else MISSING_CATEGORY)
    return out


def onnx_feeds(frame: pd.DataFrame, layout: TabularLayout, table: Table
               ) -> dict[str, npt.NDArray[Any]]:
    """The same rows as the handler feeds them to the graph."""
    if layout == "matrix":
        return {MATRIX_INPUT: frame[list(table.numbers)].to_numpy(dtype=np.float32)}
    prepared = model_frame(frame, layout, table)
    feeds: dict[str, npt.NDArray[Any]] = {}
    for column in table.feature_names:
        values = prepared[column].to_numpy()
        dtype = object if column in table.categories else np.float32
        feeds[column] = values.astype(dtype).reshape(-1, 1)
    return feeds


def fit_preprocessor(table: Table, x_train: pd.DataFrame) -> Preprocessor:
    numbers = Pipeline([("impute", imputer()), ("scale", StandardScaler())])
    layout: TabularLayout = "columns" if table.categories else "matrix"
    transformer = numbers if layout == "matrix" else columns_transformer(table, numbers)
    transformer.fit(model_frame(x_train, layout, table))
    return Preprocessor(transformer=transformer, layout=layout, table=table)


def imputer() -> SimpleImputer:
    return SimpleImputer(strategy="median", keep_empty_features=True)


def columns_transformer(table: Table, numbers: Any) -> ColumnTransformer:
    """Numbers (through ``numbers``, or "passthrough") first, then the one-hot categories."""
    parts: list[tuple[str, Any, list[str]]] = []
    if table.numbers:
        parts.append(("numbers", numbers, list(table.numbers)))
    parts.append(("categories", OneHotEncoder(handle_unknown="ignore",
                                              sparse_output=False, dtype=np.float32),
                  list(table.categories)))
    return ColumnTransformer(parts, remainder="drop")


def manifest_features(table: Table, x_train: pd.DataFrame) -> tuple[Feature, ...]:
    """Each feature as the card shows it: kind, range or categories, missing allowed.

    Missing values are allowed where the training split had some: the graph imputes any
    feature, but only those were seen missing while the model learned.
    """
    features = []
    for name in table.feature_names:
        values = x_train[name]
        missing = bool(values.isna().any())
        if name in table.categories:
            seen = sorted({str(v) for v in values.dropna()})
            features.append(Feature(name=name, dtype="string", kind="category",
                                    categories=tuple(seen), allow_missing=missing))
        else:
            present = values.dropna().to_numpy(dtype=np.float64)
            features.append(Feature(name=name, dtype="float32", kind="number",
                                    min=float(present.min()), max=float(present.max()),
                                    allow_missing=missing))
    return tuple(features)


def preprocessor_onnx(pre: Preprocessor, *, opset: int, ml_opset: int) -> onnx.ModelProto:
    """The fitted preprocessing as ONNX: raw inputs → "features" [N, width] float32."""
    return transformer_onnx(pre.transformer, pre.layout, pre.table, opset=opset,
                            ml_opset=ml_opset)


def transformer_onnx(transformer: Any, layout: TabularLayout, table: Table, *, opset: int,
                     ml_opset: int) -> onnx.ModelProto:
    """A fitted transformer taking ``model_frame``'s input as ONNX: raw inputs → "features"."""
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType

    if layout == "matrix":
        types: list[tuple[str, Any]] = [(MATRIX_INPUT,
                                         FloatTensorType([None, len(table.numbers)]))]
    else:
        types = [(name, StringTensorType([None, 1]) if name in table.categories
                  else FloatTensorType([None, 1])) for name in table.feature_names]
    model: onnx.ModelProto = convert_sklearn(transformer, initial_types=types,
                            target_opset={"": opset, "ai.onnx.ml": ml_opset})
    if layout == "columns":
        rename_inputs(model, [name for name, _ in types])
    output = model.graph.output[0].name
    rename_tensor(model, output, FEATURES_OUTPUT)
    return model


def rename_inputs(model: onnx.ModelProto, names: list[str]) -> None:
    """Give the graph's inputs, in order, the names ``names`` (the real column names)."""
    current = [i.name for i in model.graph.input]
    if len(current) != len(names):
        raise ValueError(f"graph has {len(current)} inputs, expected {len(names)}")
    for old, new in zip(current, names, strict=True):
        if old != new:
            rename_tensor(model, old, new)


def rename_tensor(model: onnx.ModelProto, old: str, new: str) -> None:
    graph = model.graph
    for value in (*graph.input, *graph.output, *graph.value_info):
        if value.name == old:
            value.name = new
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name == old:
                node.input[i] = new
        for i, name in enumerate(node.output):
            if name == old:
                node.output[i] = new
