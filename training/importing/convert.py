"""An imported model → one ONNX graph the handler can serve, plus the original's own
predictions for the parity check.

scikit-learn goes through skl2onnx (classifiers without ZipMap, so the graph outputs a plain
probability matrix), XGBoost and LightGBM through onnxmltools, an ONNX file is kept as is.
A model whose features include text categories (a Pipeline with a ColumnTransformer) gets
one input per column, named after it; a numbers-only model gets one "input" matrix.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
import pandas as pd

from model_store.manifest import MISSING_CATEGORY, TabularLayout
from training.errors import DataError, UnsupportedModelError
from training.importing.loaders import ImportedModel
from training.tabular.preprocess import MATRIX_INPUT, rename_inputs
from training.tabular.table import Table

OPSET = {"": 17, "ai.onnx.ml": 3}
# onnxmltools' XGBoost and LightGBM converters go up to opset 15.
BOOSTED_OPSET = 15
Predict = Callable[[pd.DataFrame], npt.NDArray[np.float64]]


@dataclass(frozen=True)
class Converted:
    model: onnx.ModelProto | bytes
    layout: TabularLayout
    features: tuple[str, ...]       # in the model's order
    output_name: str
    classes: tuple[str, ...] | None  # probability columns, as strings; None: regression
    original: Predict | None         # the source model's predictions; None for ONNX
    regression: bool


def convert(imported: ImportedModel, table: Table, regression: bool) -> Converted:
    if imported.kind == "sklearn":
        return _sklearn(imported.model, table, regression)
    if imported.kind in ("xgboost", "lightgbm"):
        return _boosted(imported, table, regression)
    return _onnx_file(imported.model, table, regression)


def _features(model: Any, table: Table) -> tuple[str, ...]:
    names = getattr(model, "feature_names_in_", None)
    if names is None:
        return table.feature_names
    missing = [str(n) for n in names if str(n) not in table.frame.columns]
    if missing:
        raise DataError(f"the model was trained on column(s) {missing} that the data file "
                        "lacks; --data must hold every column the model takes")
    return tuple(str(n) for n in names)


def sklearn_frame(frame: pd.DataFrame, features: tuple[str, ...],
                  categories: tuple[str, ...]) -> pd.DataFrame:
    """Rows for the original model: a missing number is NaN, a missing category the empty
    string, exactly as the served graph receives them (ONNX string tensors have no NaN)."""
    rows = frame[list(features)].copy()
    for column in features:
        if column in categories:
            rows[column] = rows[column].map(
                lambda v: v if isinstance(v, str) else MISSING_CATEGORY)
        else:
            rows[column] = rows[column].astype(np.float64)
    return rows


def _sklearn(model: Any, table: Table, regression: bool) -> Converted:
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType

    features = _features(model, table)
    _check_supported(model)
    text = [f for f in features if f in table.categories]
    named = getattr(model, "feature_names_in_", None) is not None
    layout: TabularLayout = "columns" if text or (named and _has_column_transformer(model)) \
        else "matrix"
    types: list[tuple[str, Any]]
    if layout == "matrix":
        types = [(MATRIX_INPUT, FloatTensorType([None, len(features)]))]
    else:
        types = [(f, StringTensorType([None, 1]) if f in text else FloatTensorType([None, 1]))
                 for f in features]
    options = {} if regression else {id(_final(model)): {"zipmap": False}}
    try:
        graph = convert_sklearn(model, initial_types=types, target_opset=OPSET,
                                options=options)
    except Exception as exc:
        raise UnsupportedModelError(f"skl2onnx could not convert {type(model).__name__}: "
                                    f"{str(exc).splitlines()[0][:300]}") from exc
    if layout == "columns":
        rename_inputs(graph, list(features))
    output = "variable" if regression else "probabilities"

    def original(frame: pd.DataFrame) -> npt.NDArray[np.float64]:
        rows: Any = sklearn_frame(frame, features, table.categories)
        if layout == "matrix" and not named:
            rows = rows.to_numpy(dtype=np.float64)
        elif layout == "matrix":
            rows = rows.astype(np.float64)
        if regression:
            return np.asarray(model.predict(rows), dtype=np.float64)
        return np.asarray(model.predict_proba(rows), dtype=np.float64)

    classes = None if regression else tuple(str(c) for c in _final(model).classes_)
    return Converted(graph, layout, features, output, classes, original, regression)


def _final(model: Any) -> Any:
    steps = getattr(model, "steps", None)
    return _final(steps[-1][1]) if steps else model


def _has_column_transformer(model: Any) -> bool:
    from sklearn.compose import ColumnTransformer

    if isinstance(model, ColumnTransformer):
        return True
    return any(_has_column_transformer(s) for _, s in getattr(model, "steps", []))


def _check_supported(model: Any) -> None:
    """Name every step skl2onnx has no converter for, before it fails on the first one."""
    from skl2onnx._supported_operators import sklearn_operator_name_map

    unknown = sorted({type(s).__name__ for s in _steps(model)
                      if type(s) not in sklearn_operator_name_map})
    if unknown:
        raise UnsupportedModelError(
            f"cannot import: no ONNX converter for {', '.join(unknown)}. Supported include "
            "Pipeline, ColumnTransformer, OneHotEncoder, StandardScaler, SimpleImputer, "
            "RandomForest*, ExtraTrees*, GradientBoosting*, HistGradientBoosting*, "
            "LogisticRegression, LinearRegression, Ridge (skl2onnx lists them all); refit with "
            "one of them, or export to ONNX yourself and import the .onnx file")


def _steps(model: Any) -> list[Any]:
    found = [model]
    for _, step in getattr(model, "steps", []):
        found += _steps(step)
    for _, part, _columns in getattr(model, "transformers_", getattr(model, "transformers", [])):
        if not isinstance(part, str):
            found += _steps(part)
    return found


def _boosted(imported: ImportedModel, table: Table, regression: bool) -> Converted:
    import onnxmltools
    from onnxmltools.convert.common.data_types import FloatTensorType

    features = table.feature_names
    text = [f for f in features if f in table.categories]
    if text:
        raise DataError(f"{imported.name} takes numbers only, but {text} hold text; leave "
                        "them out of the data file (the model was trained without them)")
    types = [(MATRIX_INPUT, FloatTensorType([None, len(features)]))]
    try:
        if imported.kind == "xgboost":
            graph = onnxmltools.convert_xgboost(imported.model, initial_types=types,
                                                target_opset=BOOSTED_OPSET)
        else:
            graph = onnxmltools.convert_lightgbm(imported.model, initial_types=types,
                                                 target_opset=BOOSTED_OPSET, zipmap=False)
    except Exception as exc:
        raise UnsupportedModelError(f"onnxmltools could not convert {imported.name}: "
                                    f"{str(exc).splitlines()[0][:300]}") from exc
    outputs = [o.name for o in graph.graph.output]
    output = outputs[-1] if regression else next(o for o in outputs if "prob" in o)
    model = imported.model

    def original(frame: pd.DataFrame) -> npt.NDArray[np.float64]:
        x = frame[list(features)].to_numpy(dtype=np.float64)
        if imported.kind == "xgboost":
            out = model.predict(x) if regression else model.predict_proba(x)
        else:
            out = model.predict(x)
            if not regression and np.ndim(out) == 1:
                out = np.stack([1.0 - out, out], axis=1)
        return np.asarray(out, dtype=np.float64)

    classes = None
    if not regression:
        count = len(np.asarray(original(table.frame.head(1)))[0])
        classes = tuple(str(i) for i in range(count))
    return Converted(graph, "matrix", features, output, classes, original, regression)


def _onnx_file(data: bytes, table: Table, regression: bool) -> Converted:
    """An ONNX file keeps its graph; its inputs must be a matrix or the data's columns."""
    import onnxruntime as ort

    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    inputs = session.get_inputs()
    names = [i.name for i in inputs]
    layout: TabularLayout
    if len(inputs) == 1 and inputs[0].name not in table.frame.columns:
        layout, features = "matrix", table.feature_names
        width = inputs[0].shape[-1] if inputs[0].shape else None
        if isinstance(width, int) and width != len(features):
            raise DataError(f"the ONNX input {names[0]!r} takes {width} numbers; the data "
                            f"file has {len(features)} feature columns {list(features)}")
    else:
        missing = [n for n in names if n not in table.frame.columns]
        if missing:
            raise DataError(f"the ONNX inputs {missing} are not columns of the data file")
        layout, features = "columns", tuple(names)
    floats = [o for o in session.get_outputs() if o.type == "tensor(float)"]
    if not floats:
        raise UnsupportedModelError("the ONNX graph has no float tensor output to serve (a "
                                    "ZipMap output? convert with zipmap disabled)")
    output = floats[-1].name
    return Converted(data, layout, features, output, None, None, regression)
