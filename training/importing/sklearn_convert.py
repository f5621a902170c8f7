"""A fitted scikit-learn model (estimator or Pipeline) → ONNX through skl2onnx.

Classifiers are converted without ZipMap, so the graph outputs a plain probability matrix. A
model whose features include text (a Pipeline with a ColumnTransformer) gets one input per
column, named after it; a numbers-only model one "input" matrix. Missing text reaches the
graph as ``MISSING_CATEGORY``; the graph is converted from ``served_copy`` (see
``sklearn_missing``), and the original is shown the user's own missing values.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from training.common import log
from training.errors import DataError, UnsupportedModelError
from training.importing.boosted_sklearn import register_boosted_converters
from training.importing.convert import OPSET, Converted
from training.importing.sklearn_converters import conversion_copy, kit_converters
from training.importing.sklearn_missing import (
    boolean_columns,
    missing_markers,
    original_frame,
    served_copy,
)
from training.importing.sklearn_support import check_supported
from training.tabular.preprocess import MATRIX_INPUT, rename_inputs
from training.tabular.table import Table


def convert_sklearn_model(model: Any, table: Table, regression: bool) -> Converted:
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType

    features = _features(model, table)
    register_boosted_converters()  # an XGBoost/LightGBM wrapper as the Pipeline's last step
    check_supported(model)
    text = {f for f in features if f in table.categories}
    named = getattr(model, "feature_names_in_", None) is not None
    columns = bool(text) or (named and _has_column_transformer(model))
    structural = conversion_copy(model)
    markers = missing_markers(structural, list(features), text)
    booleans = boolean_columns(structural, list(features), text)
    served = served_copy(structural, list(features), text, markers)
    types: list[tuple[str, Any]]
    if columns:
        types = [(f, StringTensorType([None, 1]) if f in text else FloatTensorType([None, 1]))
                 for f in features]
    else:
        types = [(MATRIX_INPUT, FloatTensorType([None, len(features)]))]
    options = {} if regression else {id(_final(served)): {"zipmap": False}}
    try:
        with kit_converters():
            graph = convert_sklearn(served, initial_types=types, target_opset=OPSET,
                                    options=options)
    except Exception as exc:
        raise UnsupportedModelError(
            f"skl2onnx could not convert {type(model).__name__} (steps: "
            f"{_outline(model)}): {str(exc).splitlines()[0][:300]}; refit without the step "
            "it names, or export to ONNX yourself and import the .onnx file") from exc
    if columns:
        rename_inputs(graph, list(features))
    output = "variable" if regression else "probabilities"

    def predict(frame: pd.DataFrame, served_numbers: bool) -> npt.NDArray[np.float64]:
        rows: Any = original_frame(frame, features, text, markers, booleans,
                                   served_numbers=served_numbers)
        if not columns and not named:
            rows = rows.to_numpy(dtype=np.float64)
        if regression:
            return np.asarray(model.predict(rows), dtype=np.float64)
        return np.asarray(model.predict_proba(rows), dtype=np.float64)

    def original(frame: pd.DataFrame) -> npt.NDArray[np.float64]:
        """The model on the user's rows, each row as written or with its numbers as float32
        (the number type requests carry), whichever the graph is nearer: the two differ only
        where a value sits on a split point, and the graph cannot tell them apart."""
        exact = predict(frame, served_numbers=False)
        rounded = predict(frame, served_numbers=True)
        moved = (np.abs(exact - rounded) > 1e-6 * (1 + np.abs(exact))).reshape(
            len(frame), -1).any(axis=1)
        if not moved.any():
            return exact
        graph_out = _graph_outputs(graph, frame, features, text, columns, output, regression)
        gap_exact = np.abs(exact - graph_out).reshape(len(frame), -1).max(axis=1)
        gap_rounded = np.abs(rounded - graph_out).reshape(len(frame), -1).max(axis=1)
        use_rounded = moved & (gap_rounded < gap_exact)
        if use_rounded.any():
            log(f"  {int(use_rounded.sum())} of {len(frame)} rows hold a number on one of "
                f"{type(model).__name__}'s split points: its answer for the value as written "
                "and for it as float32 differ; the served model answers as for the float32 "
                "value")
        chosen = np.where(use_rounded.reshape((-1,) + (1,) * (exact.ndim - 1)), rounded, exact)
        return np.asarray(chosen, dtype=np.float64)

    classes = None if regression else tuple(str(c) for c in _final(model).classes_)
    return Converted(graph, "columns" if columns else "matrix", features, output, classes,
                     original, regression)


def _graph_outputs(graph: Any, frame: pd.DataFrame, features: tuple[str, ...],
                   text: set[str], columns: bool, output: str,
                   regression: bool) -> npt.NDArray[np.float64]:
    """The converted graph on the rows as the handler feeds them."""
    import onnxruntime as ort

    from model_store.manifest import MISSING_CATEGORY

    session = ort.InferenceSession(graph.SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    if columns:
        feeds = {f: (np.asarray([v if isinstance(v, str) else MISSING_CATEGORY
                                 for v in frame[f]], dtype=object) if f in text
                     else frame[f].to_numpy(dtype=np.float32)).reshape(-1, 1)
                 for f in features}
    else:
        feeds = {MATRIX_INPUT: frame[list(features)].to_numpy(dtype=np.float32)}
    (out,) = session.run([output], feeds)
    out = np.asarray(out, dtype=np.float64)
    return out.reshape(len(frame)) if regression else out


def _features(model: Any, table: Table) -> tuple[str, ...]:
    names = getattr(model, "feature_names_in_", None)
    if names is None:
        return table.feature_names
    missing = [str(n) for n in names if str(n) not in table.frame.columns]
    if missing:
        raise DataError(f"the model was trained on column(s) {missing} that the data file "
                        "lacks; --data must hold every column the model takes")
    return tuple(str(n) for n in names)


def _final(model: Any) -> Any:
    steps = getattr(model, "steps", None)
    return _final(steps[-1][1]) if steps else model


def _has_column_transformer(model: Any) -> bool:
    from sklearn.compose import ColumnTransformer

    if isinstance(model, ColumnTransformer):
        return True
    return any(_has_column_transformer(s) for _, s in getattr(model, "steps", []))


def _outline(model: Any) -> str:
    from training.importing.loaders import describe_estimator

    return describe_estimator(model)
