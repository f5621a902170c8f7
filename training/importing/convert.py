"""An imported model → one ONNX graph the handler can serve, plus the original's own
predictions for the parity check.

scikit-learn goes through skl2onnx (``sklearn_convert``: without ZipMap, missing text as the
handler sends it), XGBoost, LightGBM and CatBoost through ``boosted`` (trees read from the
model, native categoricals included), an ONNX file is kept as is.
A model whose features include text categories (a Pipeline with a ColumnTransformer) gets
one input per column, named after it; a numbers-only model gets one "input" matrix.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import onnx
import pandas as pd

from model_store.manifest import TabularLayout
from training.errors import DataError, UnsupportedModelError
from training.importing.loaders import ImportedModel
from training.tabular.table import Table

OPSET = {"": 17, "ai.onnx.ml": 3}
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
        from training.importing.sklearn_convert import convert_sklearn_model

        return convert_sklearn_model(imported.model, table, regression)
    if imported.kind in ("xgboost", "lightgbm", "catboost"):
        from training.importing.boosted import convert_boosted

        return convert_boosted(imported, table, regression)
    return _onnx_file(imported.model, table, regression)


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
